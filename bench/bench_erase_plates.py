"""Erasing captions on plates: the row fill (``kseg.erase.erase_plate``) beside the membrane fill.

    .venv/bin/python bench/bench_erase_plates.py [--n 40] [--seed 0] [--json]

Real broadcast plates are shaded top to bottom: a silver bar with a bright middle between dark
rims, a news bar in two tones, a plain flat plate, a slow gradient; some have round ends and a
coloured rim (the plate's box then holds footage in its corners); some are translucent over
footage. This bench draws such plates (their vertical profiles are made up to look like the
plates of bench/real, nothing is fitted to it) with a Korean line on each (NanumGothic, dark
or white letters, with or without an outline), puts both the captioned and the clean frame
through the same JPEG round trip, and erases the caption inside the plate's box the way
``kseg translate`` does (the exact footprint, kseg's default grow):

* membrane: ``erase(crop, mask)`` (kseg's default fill, harmonic);
* rows: ``erase_plate(crop, mask)``, or the membrane fill where it declines (the plate has
  texture along its rows).

PSNR over the erased pixels against the clean frame (capped at 60 dB), median per plate kind,
with the share of plates the row fill took and how many came out more than 1 dB worse than the
membrane fill. Baseline: the membrane fill.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kseg.detect.synthetic import FONT, Caption, background, draw_captions  # noqa: E402
from kseg.erase import default_grow, erase, erase_plate, erase_region  # noqa: E402

KINDS = ("flat", "gradient", "silver", "two-tone", "drift", "rounded", "translucent")
TEXTS = ("오늘 밤에 같이 갈래요?", "사실 뭔지도 모르고 그냥 한겁니다", "중부 대설주의보", "댁에서 뭐하고 계셨어요?",
         "10년 후에도 계속 했으면 좋겠다", "속초 월드킹!")


def plate(kind: str, rng: np.random.Generator, h: int, w: int):
    """(h x w x 3 float plate colours, opacity: a number, or h x w x 1 where the plate is)."""
    y = np.linspace(0.0, 1.0, h)[:, None, None]
    a = rng.uniform(30, 240, 3)
    b = np.clip(a + rng.uniform(-90, 90, 3), 0, 255)
    if kind == "flat":
        p = np.broadcast_to(a, (h, 1, 3))
    elif kind == "gradient":
        p = a + (b - a) * y
    elif kind == "silver":  # bright middle, darker towards the rims, a dark rim line
        base = rng.uniform(150, 235)
        p = np.broadcast_to(base - rng.uniform(40, 90) * (1 - np.sin(np.pi * y)) ** 1.5, (h, 1, 3)).copy()
        p = p + rng.uniform(-8, 8, 3)
        r = max(1, h // 20)
        p[:r] = p[-r:] = rng.uniform(20, 70)
    elif kind == "two-tone":
        t = 1 / (1 + np.exp(-(y - rng.uniform(0.4, 0.7)) * 40))
        p = a + (b - a) * t
    elif kind == "drift":
        x = np.linspace(0.0, 1.0, w)[None, :, None]
        p = a + (b - a) * (0.3 * y + 0.7 * x) * 0.5
    elif kind == "rounded":  # a light plate with round ends and a coloured rim: the box's corners are footage
        p = np.broadcast_to(np.clip(a + 120, 0, 255), (h, w, 3)).astype(np.float32).copy()
        shape = np.zeros((h, w), np.uint8)
        r = h // 2
        cv2.rectangle(shape, (r, 0), (w - 1 - r, h - 1), 1, -1)
        cv2.circle(shape, (r, r), r, 1, -1)
        cv2.circle(shape, (w - 1 - r, r), r, 1, -1)
        rim = shape.astype(bool) & ~cv2.erode(shape, np.ones((5, 5), np.uint8)).astype(bool)
        p[rim] = b * 0.5
        return p, shape.astype(np.float32)[..., None]
    else:  # translucent: flat colour over the footage
        return np.broadcast_to(a, (h, w, 3)).astype(np.float32), float(rng.uniform(0.4, 0.75))
    return np.broadcast_to(p, (h, w, 3)).astype(np.float32), 1.0


def scene(i: int, kind: str, seed: int):
    rng = np.random.default_rng([seed, i, KINDS.index(kind)])
    W, H = 1280, 720
    bg = background(W, H, seed=int(rng.integers(1 << 30))).astype(np.float32)
    size = int(rng.integers(28, 57))
    text = TEXTS[int(rng.integers(len(TEXTS)))]
    dark = bool(rng.random() < 0.5)
    fill = (int(rng.integers(0, 50)),) * 3 if dark else (255, 255, 255)
    stroke_w = int(rng.choice([0, 0, 2, 3]))
    cap = Caption(text=text, center=(W // 2, 560), size=size, font=FONT, fill=fill,
                  stroke=(0, 0, 0) if not dark else (255, 255, 255), stroke_width=stroke_w)
    probe = np.zeros((H, W, 3), np.uint8)
    masks: list[np.ndarray] = []
    draw_captions(probe, [cap], masks)
    ys, xs = np.nonzero(masks[0])
    th = ys.max() - ys.min() + 1
    px, py = int(rng.uniform(0.2, 0.9) * th), int(rng.uniform(0.1, 0.35) * th)
    L, T, R, B = xs.min() - px, ys.min() - py, xs.max() + 1 + px, ys.max() + 1 + py
    colours, alpha = plate(kind, rng, B - T, R - L)
    clean = bg.copy()
    clean[T:B, L:R] = alpha * colours + (1 - alpha) * clean[T:B, L:R]
    clean = np.clip(clean + 0.5, 0, 255).astype(np.uint8)
    img = clean.copy()
    draw_captions(img, [cap])
    q = int(rng.integers(75, 93))

    def jpeg(a: np.ndarray) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, q])
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)

    return jpeg(img), jpeg(clean), masks[0], (L, T, R, B)


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    d = (a[where].astype(np.float64) - b[where].astype(np.float64)) ** 2
    mse = float(d.mean()) if d.size else 0.0
    return 60.0 if mse <= 1e-6 else min(60.0, 10 * np.log10(255.0 ** 2 / mse))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="plates per kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON object with the rows to stdout")
    args = ap.parse_args()
    rows = {}
    for kind in KINDS:
        mem, row, took = [], [], 0
        for i in range(args.n):
            img, clean, mask, (L, T, R, B) = scene(i, kind, args.seed)
            crop, cm, cc = img[T:B, L:R].copy(), mask[T:B, L:R], clean[T:B, L:R]
            grow = default_grow(mask)
            region = erase_region(crop, cm, grow)
            a = erase(crop, cm, grow=grow)
            b = erase_plate(crop, cm, grow=grow)
            took += b is not None
            b = a if b is None else b
            mem.append(psnr(a, cc, region))
            row.append(psnr(b, cc, region))
        rows[kind] = {"plates": args.n, "membrane_db": float(np.median(mem)), "rows_db": float(np.median(row)),
                      "gain_db": float(np.median(row) - np.median(mem)), "row_fill_share": took / args.n,
                      "worse_1db": int(np.sum(np.array(row) < np.array(mem) - 1.0))}
    if args.json:
        print(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"erase inside a plate: PSNR (dB) over the erased pixels, median of {args.n} plates per kind")
    for c in ("plate", "membrane (baseline)", "rows", "gain", "row fill taken", "plates > 1 dB worse"):
        t.add_column(c)
    for k, r in rows.items():
        t.add_row(k, f"{r['membrane_db']:.2f}", f"{r['rows_db']:.2f}", f"{r['gain_db']:+.2f}",
                  f"{r['row_fill_share']:.0%}", str(r["worse_1db"]))
    Console().print(t)


if __name__ == "__main__":
    main()
