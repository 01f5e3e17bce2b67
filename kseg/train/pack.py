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
import random
from pathlib import Path


from .items import SUFFIX, Item, load_items, read_pack, write_pack  # noqa: F401 - the pack format lives in items

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
