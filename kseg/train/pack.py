"""Items packs: the training lines of a `kseg synth` folder in one small file.

Why: a lent GPU machine gets a 64 MiB working tree and has none of the fonts that render the
frames; 1,464 frames are 2.9 GB of PNGs, but SAM training only reads each line's patch. A pack
keeps those patches (WebP, lossy: the frames' own JPEG-like degradation already dominates) with
their masks (PNG, lossless) and boxes, and `kseg train PACK.npz` trains on it as on the folder.

    python -m kseg.train.pack data/train -o runs/train-items.npz --limit 2000

The file is a plain ``.npz`` of byte buffers and offsets, read without pickle.
"""
from __future__ import annotations

import argparse
import os
import random
import zipfile
from pathlib import Path

import cv2
import numpy as np

from . import Item, load_items

SUFFIX = ".npz"


def write_pack(items: list[Item], dest: Path, quality: int = 90) -> Path:
    """Encode the items into ``dest`` atomically; returns ``dest``."""
    blobs, offsets, boxes, shapes = [], [0], [], []
    for it in items:
        img = cv2.imencode(".webp", np.ascontiguousarray(it.image[..., ::-1]), [cv2.IMWRITE_WEBP_QUALITY, quality])[1]
        masks = cv2.imencode(".png", (it.target > 0).astype(np.uint8) | ((it.fill > 0).astype(np.uint8) << 1))[1]
        for b in (img, masks):
            blobs.append(b.tobytes())
            offsets.append(offsets[-1] + len(blobs[-1]))
        boxes.append(it.box)
        shapes.append(it.target.shape)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp.npz")
    np.savez(tmp, blob=np.frombuffer(b"".join(blobs), np.uint8), offsets=np.array(offsets, np.int64),
             boxes=np.array(boxes, np.float32).reshape(-1, 4), shapes=np.array(shapes, np.int32).reshape(-1, 2),
             version=np.array([1], np.int32))
    os.replace(tmp, dest)
    return dest


def read_pack(path: Path, limit: int | None = None) -> list[Item]:
    """The items of a pack (the first ``limit`` of them when given)."""
    bad = f"{path}: not a kseg items pack (write one with python -m kseg.train.pack)"
    try:
        with np.load(path, allow_pickle=False) as z:
            if not {"blob", "offsets", "boxes", "shapes"} <= set(z.files):
                raise ValueError(bad)
            blob, off, boxes, shapes = z["blob"], z["offsets"], z["boxes"], z["shapes"]
    except (OSError, EOFError, zipfile.BadZipFile, ValueError):
        raise ValueError(bad) from None
    items = []
    for i in range(len(boxes) if limit is None else min(limit, len(boxes))):
        img = cv2.imdecode(blob[off[2 * i]:off[2 * i + 1]], cv2.IMREAD_COLOR)
        masks = cv2.imdecode(blob[off[2 * i + 1]:off[2 * i + 2]], cv2.IMREAD_UNCHANGED)
        if img is None or masks is None or masks.shape != tuple(shapes[i]) or img.shape[:2] != masks.shape:
            raise ValueError(f"{path}: item {i} is corrupt")
        items.append(Item(np.ascontiguousarray(img[..., ::-1]), masks & 1, (masks >> 1) & 1,
                          tuple(float(v) for v in boxes[i])))
    return items


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m kseg.train.pack", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="a `kseg synth` folder")
    ap.add_argument("-o", "--out", type=Path, required=True, help="the pack to write (.npz)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N frames")
    ap.add_argument("--quality", type=int, default=90, help="WebP quality of the patches (1-100)")
    ap.add_argument("--context", type=float, default=1.2, help="context around each line, in line heights "
                    "(1.2 covers the loosest box jitter; less makes a smaller file)")
    ap.add_argument("--seed", type=int, default=0, help="as kseg train's --seed (places the empty boxes)")
    a = ap.parse_args(argv)
    if a.out.suffix != SUFFIX:
        ap.error(f"--out must end in {SUFFIX}")
    if not a.data.is_dir():
        ap.error(f"{a.data}: not a folder")
    items = load_items(a.data, a.limit, random.Random(a.seed), ctx=a.context)
    write_pack(items, a.out, a.quality)
    print(f"{a.out}: {len(items)} items, {a.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
