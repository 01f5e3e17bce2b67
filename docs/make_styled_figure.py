"""Render docs/styled.png: broadcast-styled captions before and after `kseg erase` / `kseg translate`.

    .venv/bin/python docs/make_styled_figure.py [--out docs/styled.png]

bench/real's broadcast frames may not be redistributed, so the figure draws captions the way
real variety and vlog episodes do (the broadcast data engine's layers: a 3D extrusion under a
double outline, a two-colour line, white letters with only a soft shadow over bright footage),
in display faces held out from training, over photos of the engine's evaluation split, through
a libx264 round trip at a broadcast bitrate. Each row: input | erased | English, cropped to the
caption. Needs the display faces (`make fonts`); prints what kseg read and drew.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kseg  # noqa: E402
from kseg.imageio import write_png  # noqa: E402
from kseg.pipeline import SegmentPipeline  # noqa: E402
from kseg.synth import make_background  # noqa: E402
from kseg.synth import broadcast as B  # noqa: E402
from kseg.synth import _text_layers  # noqa: E402

W, H = 1280, 720
# (Korean, English, face family, photo seed, style): what real episodes draw, spelled out
CAPTIONS = [
    ("이게 진짜 말이 돼?!", "Does this even make sense?!", "BM HANNA 11yrs old", 3,
     {"kind": "variety", "size": 74, "fill": (255, 226, 40), "outline": (40, 20, 10), "outline_w": 6,
      "outline2": {"color": (255, 255, 255), "w": 5}, "extrude": {"color": (90, 40, 10), "n": 7, "dx": 1, "dy": 1},
      "shadow": None, "gradient": None, "fill2": None, "banner": None, "angle": 0.0}),
    ("오늘은 바다 보러 왔어요", "Today we came to see the sea", "gaegu", 11,
     {"kind": "vlog", "size": 52, "fill": (255, 255, 255), "outline": (0, 0, 0), "outline_w": 0, "outline2": None,
      "extrude": None, "shadow": {"color": (60, 60, 60), "dx": 2, "dy": 3, "blur": 3.5, "opacity": 0.8},
      "gradient": None, "fill2": None, "banner": None, "angle": 0.0, "bright": True}),
    ("대박 사건 발생!!", "Huge news!!", "BM YEONSUNG", 5,
     {"kind": "variety", "size": 80, "fill": (255, 120, 170), "outline": (255, 255, 255), "outline_w": 7,
      "outline2": {"color": (200, 30, 90), "w": 6}, "extrude": None,
      "shadow": {"color": (40, 10, 30), "dx": 4, "dy": 6, "blur": 1.0, "opacity": 0.9},
      "gradient": None, "fill2": (255, 240, 90), "banner": None, "angle": 0.0}),
]


def frame(korean: str, family: str, seed: int, style: dict) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    faces = [f for f in B.broadcast_faces("display") if f.family == family]
    if not faces:
        raise SystemExit(f"display face {family!r} not installed: run `make fonts`")
    rng = np.random.default_rng(seed)
    bg, _ = make_background(rng, H, W, "eval")
    canvas = bg.astype(np.float32)
    if style.get("bright"):  # the hard case of real vlogs: white letters over bright footage
        canvas = np.clip(canvas * 0.5 + 120, 0, 255)
    layers, ib = _text_layers(faces[0], korean, style)
    if style.get("extrude"):
        layers["extrude"] = B._extrude_layer(layers, style["extrude"])
    split_x = B._word_gap(faces[0], korean, style["size"], layers["fill"], ib) if style.get("fill2") else None
    lh, lw = layers["fill"].shape
    x, y = (W - (ib[2] - ib[0])) // 2 - ib[0], H - 70 - ib[3]
    B._paint(canvas, layers, style, x, y, split_x)
    img = B.x264_round_trip(np.clip(canvas, 0, 255).astype(np.uint8), 23, rng)
    return img, (x + ib[0], y + ib[1], x + ib[2], y + ib[3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "styled.png")
    ap.add_argument("--width", type=int, default=360, help="width of each panel")
    args = ap.parse_args()
    random.seed(0)
    pipe = SegmentPipeline(device="cpu")
    table = {k: e for k, e, *_ in CAPTIONS}

    def memory(text: str) -> str | None:
        """The figure's translation memory, matched fuzzily as a memory tool would: a misread
        character still finds its entry (what was read is printed)."""
        from rapidfuzz import fuzz, process

        hit = process.extractOne(text, list(table), scorer=fuzz.ratio, score_cutoff=60)
        return table[hit[0]] if hit else None
    rows = []
    for korean, _, family, seed, style in CAPTIONS:
        img, (x0, y0, x1, y1) = frame(korean, family, seed, style)
        res = kseg.segment(img, pipeline_obj=pipe)
        erased = kseg.erase(img, res.mask)
        english, res2 = kseg.translate(img, memory, pipeline_obj=pipe)
        read = [r.text.text for r in res.regions]
        print(f"{korean!r}: read {read}; " + "; ".join(f"{c['text']} -> {c['translation']} ({c.get('status')})"
                                                    for c in res2.extra["captions"]))
        # the caption and the English drawn for it, with a margin of half a line
        ys, xs = np.nonzero(np.any(english != erased, axis=2))
        if len(xs):
            x0, y0, x1, y1 = min(x0, xs.min()), min(y0, ys.min()), max(x1, xs.max() + 1), max(y1, ys.max() + 1)
        m = (y1 - y0) // 4
        cy0, cy1, cx0, cx1 = max(0, y0 - m), min(H, y1 + m), max(0, x0 - m), min(W, x1 + m)
        panels = []
        for p in (img, erased, english):
            c = p[cy0:cy1, cx0:cx1]
            h = round(c.shape[0] * args.width / c.shape[1])
            panels.append(np.pad(cv2.resize(c, (args.width, h), interpolation=cv2.INTER_AREA),
                                 ((3, 3), (3, 3), (0, 0)), constant_values=255))
        rows.append(np.concatenate(panels, axis=1))
    width = max(r.shape[1] for r in rows)
    write_png(args.out, np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                        for r in rows], axis=0))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
