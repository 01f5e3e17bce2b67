"""Render docs/translate.png: input frames beside `kseg erase` and `kseg translate` output.

    .venv/bin/python docs/make_translate_figure.py [--image examples/drama.png ...]

Runs the real pipeline with the bundled translation memory (examples/examples.tm.tsv), and
stacks, per frame: input | erased | English, side by side, each downscaled to --width.
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
from kseg.pipeline import CaptionPipeline, SegmentPipeline  # noqa: E402
from kseg.translate import get_translator  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, action="append",
                    help="input frame(s) (default: examples/drama.png, variety.png, news.png)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "translate.png")
    ap.add_argument("--width", type=int, default=480, help="width of each panel")
    args = ap.parse_args()
    images = args.image or [ROOT / "examples" / f"{n}.png" for n in ("drama", "variety", "news")]
    tr = get_translator(f"tm:{ROOT / 'examples' / 'examples.tm.tsv'}", no_cache=True)
    pipe = CaptionPipeline(SegmentPipeline(device="cpu"), tr)
    rows = []
    for path in images:
        img = load_image(path)
        _, erased = pipe.erase(img, str(path))
        res, english, problems = pipe.translate(img, str(path))
        h = round(img.shape[0] * args.width / img.shape[1])
        panels = [cv2.resize(p, (args.width, h), interpolation=cv2.INTER_AREA) for p in (img, erased, english)]
        rows.append(np.concatenate([np.pad(p, ((3, 3), (3, 3), (0, 0)), constant_values=255) for p in panels], axis=1))
        print(f"{path}: " + " | ".join(f"{c['text']} -> {c['translation']}" for c in res.extra["captions"]),
              problems)
    write_png(args.out, np.concatenate(rows, axis=0))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
