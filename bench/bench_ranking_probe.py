"""Can a quality head that sees the *refined* masks rank text-SAM's outputs better than output 2?

The IoU head ranks the decoder's outputs from its IoU token, before the edge refiner runs; on
the held-out sets it ties the best fixed index (output 2), although an oracle choosing the
better of outputs 1 and 2 per line would gain 0.007-0.013 (`kseg eval` prints it). This probe
measures whether what a Mask-Scoring-style head could see after refinement predicts that
choice: per line and output, the refined mask's area over the box, its uncertain band, its mean
|logit| there, the image gradient on its boundary, the decoder's predicted IoU and stability,
and the overlap of the two masks. A small classifier (which output is better, weighted by how
much) is fitted on *training* lines only (training fonts, half the boxes jittered like a
detector's, as `--stage iou-head` collects them) and scored on held-out sets.

    .venv/bin/python bench/bench_ranking_probe.py --train data/train --limit 1464 \
        --sets data/dev data/dev2 data/eval --threads 2

Output 0 (the empty "no caption" answer) is left out: this asks only how to rank the two masks.
It is an analysis, not a shipped stage: no model file changes.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kseg.evaluate import line_truth, oracle_fgiou  # noqa: E402
from kseg.segment import TextSegmenter  # noqa: E402
from kseg.synth import list_frames, read_frame  # noqa: E402
from kseg.train import detector_like_lines  # noqa: E402

J = 0.9  # the fgIoU level at which a pixel of intersection trades against a pixel of union


def collect(seg: TextSegmenter, data: Path, limit: int | None, jitter: float, seed: int = 0):
    """(lines, 13) features and (lines, 2, 2) intersection/union of refined outputs 1 and 2."""
    rng = random.Random(seed)
    feats, ius = [], []
    with torch.inference_mode():
        for stem in list_frames(data)[:limit]:
            fr = read_frame(data, stem)
            metas = fr.meta["lines"]
            if not metas:
                continue
            H, W = fr.label.shape
            lines = detector_like_lines(metas, rng, W, H, jitter)
            tl, logits, iou, stab, _idx = seg._run(fr.image, lines)
            gray = cv2.cvtColor(fr.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
            grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
            for i, (lm, t, ln) in enumerate(zip(metas, tl, lines)):
                win, gt, others = line_truth(fr, i, lm["box"])
                x0, y0, x1, y1 = [int(round(v)) for v in ln.box]
                barea = max(1, (x1 - x0) * (y1 - y0))
                f, row, masks = [], [], []
                for k in (1, 2):
                    vals, (rx0, ry0, rx1, ry1) = seg.pasted_logits(fr.image, logits[i, k], t)
                    m = vals > 0
                    band = np.abs(vals) < 3
                    edge = m ^ cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
                    g = grad[ry0:ry1, rx0:rx1]
                    f += [m.sum() / barea, band.sum() / max(1, m.sum()),
                          float(np.abs(vals[band]).mean()) if band.any() else 3.0,
                          float(g[edge].mean()) / 100 if edge.any() else 0.0, float(iou[i, k]), float(stab[i, k])]
                    full = np.zeros((H, W), bool)
                    full[ry0:ry1, rx0:rx1] = m
                    masks.append(full)
                    p = full[win] & ~others
                    row.append([float((p & gt).sum()), float((p | gt).sum())])
                f.append((masks[0] & masks[1]).sum() / max(1, (masks[0] | masks[1]).sum()))
                feats.append(f)
                ius.append(row)
    f = torch.tensor(feats, dtype=torch.float32)
    return torch.cat([f, f[:, :6] - f[:, 6:12]], 1), torch.tensor(ius, dtype=torch.float64)


def acc(iu: torch.Tensor, pick: torch.Tensor) -> float:
    p = iu.gather(1, pick[:, None, None].expand(-1, 1, 2))[:, 0]
    return float(p[:, 0].sum() / p[:, 1].sum())


def fit(x: torch.Tensor, iu: torch.Tensor, hidden: int = 16, wd: float = 1e-2, steps: int = 500, seed: int = 0):
    gain = (iu[:, 0, 0] - J * iu[:, 0, 1]) - (iu[:, 1, 0] - J * iu[:, 1, 1])  # > 0: output 1 is better
    # (J linearises the accumulated score for the classifier's weights; the oracle column is exact)
    w = (gain.abs() / gain.abs().mean()).float()
    y = (gain > 0).float()
    mu, sd = x.mean(0), x.std(0) + 1e-6
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=wd)
    for _ in range(steps):
        z = net((x - mu) / sd)[:, 0]
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none") * w).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return lambda z: torch.where(net((z - mu) / sd)[:, 0] > 0, 0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="text-SAM file (default: the embedded one)")
    ap.add_argument("--train", type=Path, default=Path("data/train"))
    ap.add_argument("--limit", type=int, default=1464, help="training frames to collect lines from")
    ap.add_argument("--sets", type=Path, nargs="+", default=[Path("data/dev"), Path("data/dev2"), Path("data/eval")])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seg = TextSegmenter(a.model, "cpu")
    err = Console(stderr=True)
    err.print(f"collecting training lines from {a.train} ...")
    xt, it = collect(seg, a.train, a.limit, jitter=0.5)
    pick_fn = fit(xt, it)
    t = Table(title=f"ranking probe fitted on {len(xt)} training lines ({a.train}, first {a.limit} frames)")
    for c in ("set", "lines", "output 2", "probe's pick", "probe - output 2", "oracle (1 or 2)", "lines switched"):
        t.add_column(c)
    for d in [a.train, *a.sets]:
        if d == a.train:
            x, iu = xt, it
        else:
            err.print(f"collecting {d} ...")
            x, iu = collect(seg, d, None, jitter=0.0)
        with torch.no_grad():
            pick = pick_fn(x)
        fixed = acc(iu, torch.ones(len(iu), dtype=torch.long))
        got = acc(iu, pick)
        oracle = oracle_fgiou(iu.numpy())
        t.add_row(str(d) + (" (fit)" if d == a.train else ""), str(len(iu)), f"{fixed:.4f}", f"{got:.4f}",
                  f"{got - fixed:+.4f}", f"{oracle:.4f}", str(int((pick == 0).sum())))
    Console(width=150).print(t)


if __name__ == "__main__":
    main()
