"""Milliseconds per line to turn refined logits into the frame mask, with and without hysteresis.

    .venv/bin/python bench/bench_mask.py [--runs 20] [--sizes 720p,1080p]

`TextSegmenter.frame_mask` thresholds a line's refined logits; with hysteresis (the default,
``kseg.segment.CORE``) it also labels the mask's connected pieces (OpenCV) and drops those
without a pixel above the core level. The baseline column is the plain threshold
(``core=None``). The lines are CRAFT's on the captioned frames of examples/, scaled to each size;
each line's refined logits are computed once, then only the mask step is timed (median of
``--runs``, summed over the lines, divided by their number). Compare rows of one run only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.bench_segment import SIZES, example_frames, scaled  # noqa: E402
from kseg.detect import Detector  # noqa: E402
from kseg.segment import CORE, TextSegmenter  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--sizes", default="720p,1080p")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    err = Console(stderr=True)
    det, seg = Detector(device="cpu"), TextSegmenter(None, "cpu")
    if seg.core is None:
        sys.exit("the model has no edge refiner, so no hysteresis to time")
    table = Table(title=f"frame mask from refined logits, ms per line (median of {args.runs})")
    for col in ("size", "lines", "threshold only (baseline)", f"hysteresis, core {CORE:g}", "ratio", "pixels dropped"):
        table.add_column(col, justify="right")
    for size in args.sizes.split(","):
        work = []  # (shape, vals, rect) of every line's chosen refined logits
        for _, image in example_frames(ROOT / "examples"):
            img = scaled(image, SIZES[size])
            lines = det.detect(img)
            if not lines:
                continue
            tl, logits, *_, idx = seg._run(img, lines)
            for i, t in enumerate(tl):
                k = int(idx[i])
                vals, rect = seg._memo.get((i, k)) or seg.pasted_logits(img, logits[i, k], t)
                work.append((img.shape, vals, rect))
        times, dropped = {}, 0
        for core in (None, CORE):
            seg.core = core
            runs = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                masks = [seg.frame_mask(*w) for w in work]
                runs.append(time.perf_counter() - t0)
            times[core] = 1000 * statistics.median(runs) / max(1, len(work))
            n = sum(int(m.sum()) for m in masks)
            dropped = n if core is None else dropped - n
        err.print(f"{size}: {len(work)} lines")
        table.add_row(size, str(len(work)), f"{times[None]:.2f}", f"{times[CORE]:.2f}",
                      f"{times[CORE] / times[None]:.2f}×", str(dropped))
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
