"""Detection speed vs recall per CRAFT input height, on rendered caption frames.

    .venv/bin/python bench/bench_detect.py [--heights 288 352 448 544] [--runs 5]
                                           [--dtype int8 bfloat16] [--profile video|still]

The heights sweep the video profile's input size (translate-video); ``--profile still`` keeps
that profile's thresholds and enlargement instead (``kseg segment`` on images). With several
``--dtype`` values the last is the baseline: each row's "speed-up" is its wall time against
the baseline's at the same height and frame size.

Wall time depends on what else runs on the CPU, so the CPU-seconds column (process
time, all threads) is printed too; compare rows of one run only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kseg.detect import Detector  # noqa: E402
from kseg.detect.synthetic import poly_iou, subtitle_frame  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
# (lines, size as fraction of frame height, angle, variety caption): small captions
# (3% of frame height) are the ones that vanish first when the input shrinks.
CASES = [
    (("오늘 밤에 같이 갈래요?", "진짜 괜찮아?"), 0.055, 0.0, True),
    (("작은 자막도 찾아야 합니다", "두 번째 줄입니다"), 0.03, 0.0, False),
    (("정말 미안해 내가 잘못했어",), 0.045, 7.0, False),
    (("그게 무슨 말이야?", "나도 몰라"), 0.035, 0.0, True),
]


def recall(det: Detector, w: int, h: int) -> tuple[int, int]:
    found = total = 0
    for seed, (lines, frac, angle, extra) in enumerate(CASES):
        img, gt = subtitle_frame(w, h, lines, seed=seed, size_frac=frac, angle=angle, extra=extra)
        polys = [np.array(l.polygon, np.float32) for l in det.detect(img)]
        found += sum(max((poly_iou(g, p) for p in polys), default=0.0) >= 0.5 for g in gt)
        total += len(gt)
    return found, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heights", type=int, nargs="+", default=[288, 352, 384, 448])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dtype", nargs="+", default=["int8", "bfloat16"],
                    choices=["auto", "int8", "float32", "bfloat16"])
    ap.add_argument("--profile", default="video", choices=["video", "still"])
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    table = Table(title=f"CRAFT detection, median of {args.runs} runs, {args.threads} threads")
    for col in ("frame", "detect_height", "CRAFT input", "dtype", "wall s", "CPU s", "speed-up", "recall"):
        table.add_column(col, justify="right")
    rows: dict[tuple[int, str, str], tuple[float, float, str, str]] = {}
    shapes: dict[tuple[int, str], str] = {}
    for hgt in args.heights:
        for dtype in args.dtype:
            det = Detector(detect_height=hgt, dtype=dtype, profile=args.profile)
            name_of = "int8" if det.int8 else str(det.dtype).removeprefix("torch.")
            for name, (w, h) in SIZES.items():
                img, _ = subtitle_frame(w, h, CASES[0][0], extra=True)
                det.detect(img)  # warm-up: oneDNN builds kernels per input shape
                wall, cpu = [], []
                for _ in range(args.runs):
                    t, c = time.perf_counter(), time.process_time()
                    det.detect(img)
                    wall.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                found, total = recall(det, w, h)
                th, tw = det._input_size(h, w)
                shapes[(hgt, name)] = f"{tw}x{th}"
                rows[(hgt, name, dtype)] = (statistics.median(wall), statistics.median(cpu),
                                            f"{found}/{total}", name_of)
    base = args.dtype[-1]
    for hgt in args.heights:
        for name, (w, h) in SIZES.items():
            for dtype in args.dtype:
                wall, cpu, rec, name_of = rows[(hgt, name, dtype)]
                ratio = rows[(hgt, name, base)][0] / wall
                table.add_row(name, str(hgt), shapes[(hgt, name)], name_of, f"{wall:.3f}", f"{cpu:.3f}",
                              f"{ratio:.2f}x", rec)
    Console().print(table)
    print(f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
