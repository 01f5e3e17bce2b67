"""Render speed: layout once (prepare) vs blending per video frame (Sprite.draw).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_render.py [--runs 30]

Baselines beside each number: ``draw`` against a plain numpy float32 alpha blend of the
same sprite (what draw would cost without OpenCV's blendLinear), and prepare-once + draw
against calling ``render_caption`` on every frame (layout repeated each frame).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kseg.render import Sprite, prepare, render_caption  # noqa: E402
from kseg.types import Caption, Shadow, Style  # noqa: E402

W, H = 1280, 720
CASES = {
    "720p drama subtitle": (
        Caption([0], (470, 610, 810, 648), "선배, 저 할 말 있어요",
                Style(fill=(255, 255, 255), text_height=34.0, stroke_width=2.7, outline=(0, 0, 0),
                      outline_width=2.0, shadow=Shadow((0, 0, 0), 2.0, 2.0))),
        "Senior, there's something I need to tell you"),
    "720p variety caption": (
        Caption([0], (700, 180, 1020, 250), "역대급 먹방 시작",
                Style(fill=(255, 230, 40), fill2=(255, 120, 20), text_height=56.0, stroke_width=7.5,
                      outline=(60, 20, 0), outline_width=5.0, outline2=(255, 255, 255),
                      outline2_width=4.0, shadow=Shadow((20, 10, 0), 4.0, 5.0), angle=-5.0)),
        "The legendary mukbang begins!"),
}


def timed(fn, runs: int) -> float:
    fn()  # warm-up: font loading, caches
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def numpy_draw(s: Sprite, canvas: np.ndarray) -> None:
    """The baseline: the textbook float blend, clipped the same way."""
    h, w = s.rgba.shape[:2]
    x0, y0 = max(0, s.x), max(0, s.y)
    x1, y1 = min(canvas.shape[1], s.x + w), min(canvas.shape[0], s.y + h)
    src = s.rgba[y0 - s.y:y1 - s.y, x0 - s.x:x1 - s.x].astype(np.float32)
    a = src[..., 3:] / 255.0
    dst = canvas[y0:y1, x0:x1]
    dst[:] = (src[..., :3] * a + dst * (1.0 - a) + 0.5).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)

    table = Table(title=f"render, {W}x{H}, median of {args.runs} runs (ms)")
    for col in ("caption", "sprite", "prepare", "draw", "numpy draw", "draw speed-up",
                "render_caption/frame", "per-frame speed-up"):
        table.add_column(col, justify="right")
    for name, (cap, text) in CASES.items():
        s = prepare(cap, text, frame.shape)
        c = frame.copy()
        t_prep = timed(lambda: prepare(cap, text, frame.shape), args.runs)
        t_draw = timed(lambda: s.draw(c), args.runs * 10)
        t_np = timed(lambda: numpy_draw(s, c), args.runs * 10)
        t_full = timed(lambda: render_caption(c, cap, text), args.runs)
        h, w = s.rgba.shape[:2]
        table.add_row(name, f"{w}x{h}, {len(s.info.lines)} line(s)", f"{t_prep:.2f}", f"{t_draw:.3f}",
                      f"{t_np:.3f}", f"{t_np / t_draw:.1f}x", f"{t_full:.2f}", f"{t_full / t_draw:.0f}x")
    Console(width=160).print(table)
    print(f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
