"""Render docs/example.png: an input frame beside what `kseg segment` made of it.

    .venv/bin/python docs/make_figure.py [--model M] [--image examples/drama.png]

Runs the real pipeline (the embedded model unless --model), then stacks
input | overlay | mask, cropped to the caption band so the strokes are visible.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kseg.imageio import load_image, write_png  # noqa: E402
from kseg.pipeline import SegmentPipeline, overlay  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, action="append",
                    help="input frame(s) (default: examples/drama.png and examples/variety.png)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "example.png")
    ap.add_argument("--width", type=int, default=1280, help="width of each panel row")
    args = ap.parse_args()
    images = args.image or [ROOT / "examples" / "drama.png", ROOT / "examples" / "variety.png"]
    pipe = SegmentPipeline(model=args.model, recognizer="auto", device="cpu")
    rows = []
    for path in images:
        img = load_image(path)
        res = pipe.process(img, str(path))
        ov = overlay(img, res)
        mask = cv2.cvtColor(res.mask, cv2.COLOR_GRAY2RGB)
        if res.regions:  # crop to the caption band (with context) so strokes are visible
            y0 = max(0, min(r.line.box[1] for r in res.regions) - 40)
            y1 = min(img.shape[0], max(r.line.box[3] for r in res.regions) + 40)
        else:
            y0, y1 = 0, img.shape[0]
        panels = [p[y0:y1] for p in (img, ov, mask)]
        row = np.concatenate([np.pad(p, ((4, 4), (4, 4), (0, 0)), constant_values=255) for p in panels], axis=0)
        scale = args.width / row.shape[1]
        rows.append(cv2.resize(row, (args.width, int(row.shape[0] * scale)), interpolation=cv2.INTER_AREA))
        texts = " | ".join(r.text.text for r in res.regions)
        print(f"{path}: {len(res.regions)} regions: {texts}")
    write_png(args.out, np.concatenate(rows, axis=0))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
