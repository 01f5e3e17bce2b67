"""Render the example caption frames in examples/ with kseg's own data engine.

    .venv/bin/python examples/make_examples.py [--out examples] [--mask-dir DIR] [NAME...]

For each example NAME it writes NAME.png (the frame) and NAME.truth.json (what is really
in it: each line's text, box, polygon, angle and caption style, as kseg.synth drew them).
The frames come from the *eval* split of ``kseg.synth``: fonts and backgrounds that text-SAM
never sees in training, so the demo is not a test on training data. ``--mask-dir DIR`` also writes
DIR/NAME.mask.png, the true caption mask (255 on every pixel that must be erased), to
compare with ``kseg segment``'s NAME.mask.png (kept out of examples/, where every *.png
is a demo input).

A frame is a pure function of (seed, index, split, size, kinds) *and of the Korean fonts
installed* (fontconfig decides the font list); with other fonts the same seeds give other
frames, which this script reports. The committed PNGs are the reference.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from kseg.imageio import write_json, write_png  # noqa: E402
from kseg.synth import render_frame  # noqa: E402

SEED, SPLIT = 7, "eval"

# name -> render_frame arguments, and the texts they gave with the fonts of the reference
# machine (Debian: fonts-nanum fonts-nanum-extra fonts-noto-cjk fonts-unfonts-core fonts-baekmuk)
EXAMPLES: dict[str, dict] = {
    "drama": dict(index=40, size=(1280, 720), kinds=["drama"],
                  about="drama subtitle, two lines, white on a photo, bottom centre",
                  expect=["괜찮아? 많이 놀랐지?", "내일 아침 9시까지 보고서 올려"]),
    "variety": dict(index=5, size=(1920, 1080), kinds=["variety", "variety", "variety"],
                    about="variety show: three big coloured captions with outlines, 1080p",
                    expect=["지금 몇 시예요?", "아무도 예상 못 한 결과", "웃음 폭발ㅋㅋㅋ"]),
    "news": dict(index=5, size=(1280, 720), kinds=["news"],
                 about="news lower-third: light text on a dark banner (the banner is not ink)",
                 expect=["인터뷰 김민수 (28)"]),
    "no_caption": dict(index=6, size=(1280, 720), kinds=["drama"],
                       about="a frame without any caption: expect an empty mask and regions []",
                       expect=[]),
}


def truth(name: str, spec: dict, meta: dict, label: np.ndarray) -> dict:
    return {
        "image": f"{name}.png",
        "about": spec["about"],
        "width": meta["width"],
        "height": meta["height"],
        "render": {"seed": SEED, "index": spec["index"], "split": SPLIT,
                   "size": list(spec["size"]), "kinds": spec["kinds"]},
        "background": meta["background"],
        "banners": meta["banners"],
        "caption_pixels": int((label >= 1).sum()),  # everything that must be erased
        "lines": [{"text": ln["text"], "box": ln["box"], "polygon": ln["polygon"],
                   "angle": ln["angle"], "kind": ln["style"]["kind"],
                   "font_px": ln["style"]["size"], "font": ln["font"]["family"],
                   "caption": ln["caption"]} for ln in meta["lines"]],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--mask-dir", type=Path, help="also write the true masks DIR/NAME.mask.png")
    ap.add_argument("names", nargs="*", help=f"only these ({', '.join(EXAMPLES)})")
    args = ap.parse_args()
    unknown = set(args.names) - set(EXAMPLES)
    if unknown:
        ap.error(f"unknown example(s): {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    differs = 0
    for name, spec in EXAMPLES.items():
        if args.names and name not in args.names:
            continue
        fr = render_frame(SEED, spec["index"], SPLIT, size=spec["size"], kinds=spec["kinds"])
        texts = [ln["text"] for ln in fr.meta["lines"]]
        if texts != spec["expect"]:
            differs += 1
            print(f"warning: {name}: got lines {texts}, the reference fonts give {spec['expect']} "
                  "(different Korean fonts installed?)", file=sys.stderr)
        write_png(args.out / f"{name}.png", fr.image)
        write_json(args.out / f"{name}.truth.json", truth(name, spec, fr.meta, fr.label))
        if args.mask_dir:
            args.mask_dir.mkdir(parents=True, exist_ok=True)
            write_png(args.mask_dir / f"{name}.mask.png", (fr.label >= 1).astype(np.uint8) * 255)
        print(f"{args.out / name}.png  {fr.image.shape[1]}x{fr.image.shape[0]}  "
              f"{len(texts)} line(s): {' / '.join(texts) or '-'}")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
