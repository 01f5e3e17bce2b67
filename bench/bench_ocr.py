"""Reading speed per caption line: kseg's recogniser with the Kiwi language model against greedy CTC.

    python bench/bench_ocr.py [--lines 200] [--runs 5] [--threads 2] [--model M] [--real DIR]

Lines are rendered once (the broadcast engine's held-out display split, the hardest synthetic
lines, so the beam search and the extra framings run as often as they will on real footage),
or taken from bench/real's annotated caption boxes with ``--real DIR``. Each run reads every
line with each setting; the table gives the median over runs of the mean ms per line, the
greedy baseline beside it and the ratio. The whole ``recognize`` call is timed (strip cut,
network, framings, decoding), as the pipeline calls it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def lines_synthetic(n: int):
    from kseg.synth.broadcast import render_any

    out = []
    for i in range(n):
        s = render_any(900, i, "display", "broadcast")
        out.append((s.image, s.line, s.mask, s.text))
    return out


def lines_real(folder: Path):
    import cv2

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_real import _line, load_annotations

    out = []
    for fr in load_annotations(folder):
        img = cv2.imread(str(fr["image"]))
        if img is None:
            continue
        rgb = np.ascontiguousarray(img[..., ::-1])
        out += [(rgb, _line(ln["box"]), None, ln["text"]) for ln in fr["lines"] if ln["kind"] == "caption"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "kseg-ocr.safetensors")
    ap.add_argument("--real", type=Path, help="bench/real frames folder (extract.py's output)")
    a = ap.parse_args()
    import torch
    from rich.console import Console
    from rich.table import Table

    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    torch.set_num_threads(a.threads)
    items = lines_real(a.real) if a.real else lines_synthetic(a.lines)
    if not items:
        print("bench_ocr: no lines", file=sys.stderr)
        return 2
    recs = {"greedy (--lm none)": KsegOCRRecognizer(a.model, lm="none"),
            "Kiwi beam (--lm kiwi)": KsegOCRRecognizer(a.model, lm="kiwi")}
    times: dict[str, list[float]] = {k: [] for k in recs}
    for _ in range(a.runs):
        for k, rec in recs.items():  # alternate settings within a run: drift hits both alike
            t0 = time.perf_counter()
            for img, line, mask, _ in items:
                rec.recognize(img, line, mask)
            times[k].append(1000 * (time.perf_counter() - t0) / len(items))
    base = statistics.median(times["greedy (--lm none)"])
    t = Table(title=f"ms per line, {len(items)} {'real' if a.real else 'display-split'} lines, "
                    f"median of {a.runs} runs, {a.threads} torch threads")
    for c in ("setting", "median ms/line", "runs", "baseline (greedy)", "ratio"):
        t.add_column(c, justify="left" if c == "setting" else "right")
    for k, v in times.items():
        m = statistics.median(v)
        t.add_row(k, f"{m:.1f}", " ".join(f"{x:.1f}" for x in v), f"{base:.1f}", f"{m / base:.2f}")
    Console(highlight=False, emoji=False, width=140).print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
