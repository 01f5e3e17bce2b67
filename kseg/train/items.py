"""Training items for text-SAM: each line of a `kseg synth` frame cut out with its context,
from a synth folder or from an items pack (the same items in one small file, `kseg.train.pack`)."""
from __future__ import annotations

import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..synth import list_frames, read_frame

@dataclass
class Item:
    """A line (or merged lines) cut out of a frame with generous context, kept in RAM."""

    image: np.ndarray  # patch RGB
    target: np.ndarray  # uint8 footprint of this item's line(s) in the patch
    fill: np.ndarray  # uint8 fill mask of the line(s) in the patch (for point prompts)
    box: tuple[float, float, float, float]  # ink box in patch coordinates (empty item: a random box)


def _patch(fr, box, lids, ctx: float = 1.2):
    H, W = fr.label.shape
    x0, y0, x1, y1 = box
    h = y1 - y0
    px0, py0 = max(0, int(x0 - ctx * h)), max(0, int(y0 - ctx * h))
    px1, py1 = min(W, int(x1 + ctx * h)), min(H, int(y1 + ctx * h))
    own = np.isin(fr.line_ids[py0:py1, px0:px1], lids) & (fr.label[py0:py1, px0:px1] >= 1)
    fill = own & (fr.label[py0:py1, px0:px1] >= 3)
    return Item(np.ascontiguousarray(fr.image[py0:py1, px0:px1]), own.astype(np.uint8), fill.astype(np.uint8),
                (x0 - px0, y0 - py0, x1 - px0, y1 - py0))


def load_items(data_dir: Path, limit: int | None = None, rng: random.Random | None = None,
               ctx: float = 1.2) -> list[Item]:
    """Every line of the first ``limit`` frames of a `kseg synth` folder, plus merged pairs and an
    empty box per frame; or, for an items pack file (`kseg.train.pack`), its first ``limit`` items."""
    if Path(data_dir).is_file():
        return read_pack(Path(data_dir), limit)
    rng = rng or random.Random(0)
    items: list[Item] = []
    for stem in list_frames(data_dir)[:limit]:
        fr = read_frame(data_dir, stem)
        lines = fr.meta["lines"]
        for i, ln in enumerate(lines):
            items.append(_patch(fr, ln["box"], [i + 1], ctx))
        # merged neighbours: what a detector gives when it joins two subtitle lines
        for i in range(len(lines) - 1):
            a, b = lines[i], lines[i + 1]
            if a["caption"] == b["caption"]:
                box = [min(a["box"][0], b["box"][0]), a["box"][1], max(a["box"][2], b["box"][2]), b["box"][3]]
                items.append(_patch(fr, box, [i + 1, i + 2], ctx))
        # a caption-sized box on background only: the answer is "nothing"
        H, W = fr.label.shape
        bh = int(H * rng.uniform(0.04, 0.08))
        bw = int(bh * rng.uniform(2, 10))
        if bw < W - 2:
            x, y = rng.randrange(0, W - bw), rng.randrange(0, H - bh)
            if not fr.label[max(0, y - bh):y + 2 * bh, max(0, x - bh):x + bw + bh].any():
                items.append(_patch(fr, (x, y, x + bw, y + bh), [255], ctx))
    return items


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
