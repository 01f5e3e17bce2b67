"""Style measurement accuracy on held-out synthetic frames, beside a naive baseline.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_style.py [--data data/eval] [--n 200] [--sam]

For every caption line of the frames, measure_style runs on (a) the true footprint of that
line (line_ids == k) and, with --sam, (b) the mask text-SAM gives for the true box. The
baseline takes the mask's mean colour as fill and its 1-px border's mean as outline
(no layer split), the box height as text height.

Ground truth comes from the renderer's meta. The degradations rescale down and back up to
the same frame size, so meta pixels are frame pixels. A gradient runs over the line's whole
render canvas, so its true ends are taken at the fill ink's 3rd/97th percentile rows of
the re-rendered layers (what measure_style reports). Text height truth is the extent of
the true fill label (label == 3) along the line's down direction.
Issue targets: fill and outline CIEDE2000 <= 10, outline width within 1 px.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from skimage.color import deltaE_ciede2000, rgb2lab  # noqa: E402

from kseg.style import _axes, _extent, measure_style  # noqa: E402
from kseg.synth import FontFace, _text_layers, list_frames, read_frame  # noqa: E402
from kseg.types import TextLine  # noqa: E402


def de2000(a, b) -> float:
    la = rgb2lab(np.asarray(a, np.float64).reshape(1, 1, 3) / 255.0)
    lb = rgb2lab(np.asarray(b, np.float64).reshape(1, 1, 3) / 255.0)
    return float(deltaE_ciede2000(la, lb)[0, 0])


def true_fill(lm: dict) -> tuple[tuple, tuple | None]:
    st = lm["style"]
    if not st["gradient"]:
        return tuple(st["fill"]), None
    f = lm["font"]
    layers, _ = _text_layers(FontFace(f["path"], f["index"], f["family"], f["style"]), lm["text"], st)
    hh = layers["fill"].shape[0]
    rows = np.nonzero(layers["fill"] > 0.5)[0]
    lo, hi = np.percentile(rows, [3, 97])
    c1, c2 = np.asarray(st["fill"], float), np.asarray(st["gradient"], float)
    at = lambda r: tuple(c1 * (1 - r / (hh - 1)) + c2 * (r / (hh - 1)))  # noqa: E731
    return at(lo), at(hi)


def baseline(image, mask, line):
    px = image[mask]
    border = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    poly = np.asarray(line.polygon, float)
    return px.mean(0), image[border].mean(0) if border.any() else px.mean(0), float(np.linalg.norm(poly[3] - poly[0]))


def line_of(lm: dict) -> TextLine:
    return TextLine(box=tuple(lm["box"]), polygon=[tuple(p) for p in lm["polygon"]], score=1.0,
                    angle=float(lm["angle"]))


def evaluate(frames, data: Path, segmenter=None):
    rows = []  # one dict per line
    for stem in frames:
        fr = read_frame(data, stem)
        lines = [line_of(lm) for lm in fr.meta["lines"]]
        if not lines:
            continue
        sam = segmenter.segment(fr.image, lines) if segmenter else None
        for k, (lm, line) in enumerate(zip(fr.meta["lines"], lines)):
            st = lm["style"]
            true_mask = fr.line_ids == k + 1
            if true_mask.sum() < 12:
                continue
            masks = {"true": true_mask}
            if sam is not None:
                masks["sam"] = sam[k].mask
            down, _ = _axes(line)
            fill_gt = (fr.label == 3) & true_mask
            yy, xx = np.nonzero(fill_gt)
            th_true = _extent(xx * down[0] + yy * down[1]) if len(yy) else float("nan")
            f_top, f_bot = true_fill(lm)
            for src, m in masks.items():
                if m.sum() < 12:
                    continue
                t0 = time.perf_counter()
                s = measure_style(fr.image, line, m)
                dt = time.perf_counter() - t0
                bf, bo, bh = baseline(fr.image, m, line)
                r = {"kind": st["kind"], "src": src, "sec": dt,
                     "fill_de": de2000(s.fill, f_top), "base_fill_de": de2000(bf, f_top),
                     "th_err": abs(s.text_height - th_true), "base_th_err": abs(bh - th_true),
                     "grad_true": f_bot is not None, "grad_found": s.fill2 is not None,
                     "o2_true": st["outline2"] is not None, "o2_found": s.outline2 is not None,
                     "sh_true": st["shadow"] is not None, "sh_found": s.shadow is not None,
                     "ban_true": st["banner"] is not None, "ban_found": s.banner is not None,
                     "ol_true": bool(st["outline_w"]), "ol_found": s.outline is not None}
                if f_bot is not None and s.fill2 is not None:
                    r["fill2_de"] = de2000(s.fill2, f_bot)
                if st["outline_w"]:
                    r["base_out_de"] = de2000(bo, st["outline"])
                    r["base_w_err"] = float(st["outline_w"])
                    if s.outline is not None:
                        r["out_de"] = de2000(s.outline, st["outline"])
                        r["w_err"] = abs(s.outline_width - st["outline_w"])
                    else:
                        r["w_err"] = float(st["outline_w"])
                if st["banner"] is not None and s.banner is not None:
                    r["op_true"], r["op_found"] = float(st["banner"]["opacity"]), float(s.banner.opacity)
                if st["shadow"] is not None and s.shadow is not None:
                    r["sh_off_err"] = float(np.hypot(s.shadow.dx - st["shadow"]["dx"],
                                                     s.shadow.dy - st["shadow"]["dy"]))
                rows.append(r)
    return rows


def pct(vals, q):
    v = [x for x in vals if x == x]
    return float(np.percentile(v, q)) if v else float("nan")


def rate(rows, true_key, found_key):
    t = [r for r in rows if r[true_key]]
    f = [r for r in rows if not r[true_key]]
    tp = sum(r[found_key] for r in t) / len(t) if t else float("nan")
    fp = sum(r[found_key] for r in f) / len(f) if f else float("nan")
    return f"{100 * tp:.0f}% / {100 * fp:.0f}%"


def report(rows, console: Console, src: str) -> None:
    table = Table(title=f"style on {src} masks: median [p90] (baseline median); detection true-pos / false-pos")
    for col in ("kind", "lines", "fill ΔE00", "≤10", "fill2 ΔE00", "outline ΔE00", "≤10",
                "width err px", "≤1", "height err px", "outline", "outline2", "shadow", "shadow off px",
                "banner", "gradient", "ms/line"):
        table.add_column(col, justify="right")
    verdicts = []
    for kind in ("drama", "variety", "news", "all"):
        rs = [r for r in rows if r["src"] == src and (kind == "all" or r["kind"] == kind)]
        if not rs:
            continue
        g = lambda k: [r[k] for r in rs if k in r]  # noqa: E731
        fill, out, w = g("fill_de"), g("out_de"), g("w_err")
        table.add_row(
            kind, str(len(rs)),
            f"{pct(fill, 50):.1f} [{pct(fill, 90):.1f}] ({pct(g('base_fill_de'), 50):.1f})",
            f"{100 * np.mean(np.array(fill) <= 10):.0f}%",
            f"{pct(g('fill2_de'), 50):.1f}",
            f"{pct(out, 50):.1f} [{pct(out, 90):.1f}] ({pct(g('base_out_de'), 50):.1f})",
            f"{100 * np.mean(np.array(out) <= 10):.0f}%" if out else "-",
            f"{pct(w, 50):.2f} [{pct(w, 90):.2f}] ({pct(g('base_w_err'), 50):.1f})",
            f"{100 * np.mean(np.array(w) <= 1):.0f}%" if w else "-",
            f"{pct(g('th_err'), 50):.1f} ({pct(g('base_th_err'), 50):.1f})",
            rate(rs, "ol_true", "ol_found"), rate(rs, "o2_true", "o2_found"),
            rate(rs, "sh_true", "sh_found"), f"{pct(g('sh_off_err'), 50):.1f}",
            rate(rs, "ban_true", "ban_found"), rate(rs, "grad_true", "grad_found"),
            f"{1000 * pct(g('sec'), 50):.1f}",
        )
        if kind == "all":
            verdicts = [
                ("fill ΔE00 ≤ 10 (median)", pct(fill, 50) <= 10, f"{pct(fill, 50):.1f}"),
                ("outline ΔE00 ≤ 10 (median)", pct(out, 50) <= 10, f"{pct(out, 50):.1f}"),
                ("outline width within 1 px (median)", pct(w, 50) <= 1, f"{pct(w, 50):.2f}"),
            ]
    console.print(table)
    ops = [(r["op_true"], r["op_found"]) for r in rows if r["src"] == src and "op_true" in r]
    if ops:
        t, f = np.array(ops).T
        console.print(f"  plates found: opaque (>= 0.9) / translucent told right {int(np.sum((t >= 0.9) == (f >= 0.9)))} "
                      f"of {len(ops)}; opacity error median {np.median(np.abs(t - f)):.2f}")
    for name, ok, val in verdicts:
        console.print(f"  target {name}: {val} -> {'PASS' if ok else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/eval"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sam", action="store_true", help="also measure on text-SAM masks of the true boxes")
    ap.add_argument("--model", default=None, help="SAM model for --sam (default text-SAM)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    frames = list_frames(args.data)[:args.n]
    seg = None
    if args.sam:
        from kseg.segment import TextSegmenter

        seg = TextSegmenter(model=args.model, device="cpu")
    rows = evaluate(frames, args.data, seg)
    console = Console(width=240)
    console.print(f"{len(frames)} frames from {args.data}")
    report(rows, console, "true")
    if seg is not None:
        report(rows, console, "sam")


if __name__ == "__main__":
    main()
