"""Erase quality and speed on held-out synth frames, whose clean backgrounds are known.

    .venv/bin/python bench/bench_erase.py [--frames 60] [--methods auto,harmonic,telea,ns]
                                          [--masks true,sam] [--runs 3] [--json FILE]
    .venv/bin/python bench/bench_erase.py --engine broadcast [--frames 120] ...

Frames: the first --frames captioned frames of data/eval (``kseg synth`` eval split; rendered
with ``render_frame(1, i, "eval")`` when data/eval is missing), 480p to 1080p, every kind.

With ``--engine broadcast`` the lines of the broadcast data engine's held-out split are used
instead (``kseg.synth.broadcast.broadcast_scene(1, i, "eval", clean=True)``: display faces held
out from training, thick multi-layer outlines, 3D extrusions, soft and hard drop shadows, two
colours, plates, bright vlog footage, through the episode's scaling and codec), each on its own
piece of footage; kinds drama, vlog, variety, news. There the caption area is every pixel
within AREA_REACH (12) px of the line's true footprint (shadow and extrusion included), so that
a method that erases more than the footprint is judged on all it changes; a plate stays in the
clean footage (it is not the caption).

Caption area (where quality is measured): the union over the frame's caption lines of each
line's ink box (meta ``box``) padded on every side by round(0.10 x box height), clipped to
the frame. Every erasure below changes pixels only inside it.

Rows:
* box baseline: what box-based removers do, ``cv2.inpaint`` Telea (radius 3) on that whole
  padded-box area.
* kseg METHOD / true: ``erase(image, label >= 1, method=METHOD)`` (the exact footprint).
* kseg METHOD / sam: ``erase(image, mask, method=METHOD)`` with the union of the masks that
  ``TextSegmenter().segment(image, lines)`` returns for the frame's true lines (TextLine from
  meta box / polygon / angle), i.e. what the real pipeline hands to erase.

PSNR is computed over the caption-area pixels against the clean frame (all channels), capped
at 60 dB (flat banners can be restored exactly: infinite PSNR), then averaged over frames;
SSIM (skimage, grey, 7x7) is averaged over the same pixels. Gain = mean PSNR minus the box
baseline's. Time: median of --runs calls per frame, averaged over the 720p frames, one
thread (cv2.setNumThreads(1)). Target (issue): kseg auto on SAM masks >= 3 dB above the box
baseline.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402

from kseg.erase import METHODS, erase  # noqa: E402
from kseg.synth import SynthFrame, list_frames, read_frame, render_frame  # noqa: E402

KINDS = ("drama", "variety", "news")
BROADCAST_KINDS = ("drama", "vlog", "variety", "news")
AREA_REACH = 12  # px around the true footprint: the broadcast set's caption area
PAD = 0.10
PSNR_CAP = 60.0
TARGET_DB = 3.0


def caption_area(meta: dict, h: int, w: int) -> np.ndarray:
    """Union of the line boxes, each padded by round(PAD x its height) on every side."""
    area = np.zeros((h, w), bool)
    for ln in meta["lines"]:
        x0, y0, x1, y1 = ln["box"]
        p = int(round(PAD * (y1 - y0)))
        area[max(0, y0 - p):min(h, y1 + p), max(0, x0 - p):min(w, x1 + p)] = True
    return area


def psnr(out: np.ndarray, clean: np.ndarray, area: np.ndarray) -> float:
    err = float(((out[area].astype(np.float64) - clean[area]) ** 2).mean())
    return PSNR_CAP if err <= 0 else min(PSNR_CAP, 10 * np.log10(255.0 ** 2 / err))


def ssim(out: np.ndarray, clean: np.ndarray, area: np.ndarray) -> float:
    ys, xs = np.nonzero(area)
    y0, y1, x0, x1 = max(0, ys.min() - 4), ys.max() + 5, max(0, xs.min() - 4), xs.max() + 5
    g = lambda a: cv2.cvtColor(np.ascontiguousarray(a[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)  # noqa: E731
    _, smap = structural_similarity(g(out), g(clean), win_size=7, data_range=255, full=True)
    return float(smap[area[y0:y1, x0:x1]].mean())


def box_baseline(image: np.ndarray, area: np.ndarray) -> np.ndarray:
    return cv2.inpaint(image, area.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def load_frames(n: int, say) -> list[tuple[str, SynthFrame]]:
    data = ROOT / "data" / "eval"
    out = []
    if data.exists():
        for stem in list_frames(data):
            fr = read_frame(data, stem)
            if fr.meta["lines"]:
                out.append((stem, fr))
            if len(out) == n:
                break
    else:
        say("data/eval missing: rendering eval frames with render_frame(1, i, 'eval')")
        i = 0
        while len(out) < n and i < 10 * n:
            fr = render_frame(1, i, "eval")
            if fr.meta["lines"]:
                out.append((f"eval_{i:06d}", fr))
            i += 1
    return out


def load_broadcast(n: int, say) -> list[tuple[str, SimpleNamespace]]:
    """The first ``n`` lines of the broadcast engine's eval split with their clean footage."""
    from kseg.synth.broadcast import broadcast_scene

    say(f"drawing {n} held-out broadcast lines")
    out = []
    for i in range(n):
        sc = broadcast_scene(1, i, "eval", clean=True)
        x0, y0, x1, y1 = sc.ink_box
        line = {"box": [x0, y0, x1, y1], "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "angle": 0.0,
                "style": {"kind": sc.kind}}
        near = cv2.distanceTransform((~sc.foot).view(np.uint8), cv2.DIST_L2, 5) <= AREA_REACH
        out.append((f"broadcast_{i:04d}", SimpleNamespace(image=sc.image, clean=sc.clean, label=sc.foot.astype(np.uint8),
                                                          meta={"lines": [line]}, area=near)))
    return out


def sam_masks(frames, say) -> dict[str, np.ndarray]:
    import torch

    from kseg.segment import TextSegmenter
    from kseg.types import TextLine

    torch.set_num_threads(1)
    seg = TextSegmenter(device="cpu")
    say(f"segmenting {len(frames)} frames with {seg.name}")
    masks = {}
    for stem, fr in frames:
        lines = [TextLine(tuple(ln["box"]), [tuple(p) for p in ln["polygon"]], 1.0, ln["angle"])
                 for ln in fr.meta["lines"]]
        m = np.zeros(fr.label.shape, bool)
        for lm in seg.segment(fr.image, lines):
            m |= lm.mask
        masks[stem] = m
    return masks


def timed(fn, runs: int) -> tuple[np.ndarray, float]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="captioned eval frames to use")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    ap.add_argument("--masks", default="true,sam", help="mask sources: true (label >= 1), sam")
    ap.add_argument("--runs", type=int, default=3, help="timed calls per frame (median)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--engine", choices=("synth", "broadcast"), default="synth",
                    help="synth: data/eval's frames; broadcast: the broadcast engine's held-out lines")
    args = ap.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    sources = [s.strip() for s in args.masks.split(",") if s.strip()]
    if any(m not in METHODS for m in methods) or any(s not in ("true", "sam") for s in sources) \
            or args.frames < 1 or args.runs < 1:
        ap.error(f"--methods from {', '.join(METHODS)}; --masks from true, sam; --frames, --runs >= 1")
    cv2.setNumThreads(1)
    err = Console(stderr=True, highlight=False)
    say = lambda m: err.print(f"bench: {m}", markup=False)  # noqa: E731
    load0 = os.getloadavg()[0]

    broadcast = args.engine == "broadcast"
    frames = load_broadcast(args.frames, say) if broadcast else load_frames(args.frames, say)
    kinds = BROADCAST_KINDS if broadcast else KINDS
    per = "line" if broadcast else "720p frame"  # what the times are measured on: every line, or 720p frames
    masks = {"true": {s: fr.label >= 1 for s, fr in frames}}
    if "sam" in sources:
        masks["sam"] = sam_masks(frames, say)

    # rows: (name, source) -> {"psnr": {kind: [..]}, "ssim": [..], "ms": [..] (one per timed frame)}
    rows: dict[tuple[str, str], dict] = {}

    def record(key, kind, fr, area, out, sec):
        r = rows.setdefault(key, {"psnr": {k: [] for k in kinds}, "ssim": [], "ms": []})
        r["psnr"][kind].append(psnr(out, fr.clean, area))
        r["ssim"].append(ssim(out, fr.clean, area))
        if broadcast or fr.image.shape[0] == 720:
            r["ms"].append(1000 * sec)

    for i, (stem, fr) in enumerate(frames):
        h, w = fr.label.shape
        area = fr.area if broadcast else caption_area(fr.meta, h, w)
        kind = fr.meta["lines"][0]["style"]["kind"]
        out, sec = timed(lambda: box_baseline(fr.image, area), args.runs)
        record(("box baseline (Telea on padded boxes)", "-"), kind, fr, area, out, sec)
        for src in sources:
            m = masks[src][stem]
            for me in methods:
                out, sec = timed(lambda: erase(fr.image, m, method=me), args.runs)
                record((f"kseg {me}", src), kind, fr, area, out, sec)
        if (i + 1) % 10 == 0:
            say(f"{i + 1}/{len(frames)} frames")

    def mean_all(r):
        return float(np.mean(sum(r["psnr"].values(), [])))

    base = mean_all(next(iter(rows.values())))
    counts = {k: len(v) for k, v in next(iter(rows.values()))["psnr"].items()}
    n_timed = len(next(iter(rows.values()))["ms"])
    what = "broadcast lines" if broadcast else "synth frames"
    per_kind = ", ".join(f"{k} {counts[k]}" for k in kinds)
    table = Table(title=f"erase on {len(frames)} held-out {what}: PSNR (dB) in the caption area vs the clean "
                        f"frame; mean over frames ({per_kind}); ms = median of {args.runs} runs, mean over the "
                        f"{n_timed} {per}s, one thread")
    for col in ("method", "mask", "all", *kinds, "SSIM", "gain vs box", f"ms / {per}"):
        table.add_column(col, justify="left" if col in ("method", "mask") else "right")
    result = {}
    for (name, src), r in rows.items():
        allp = mean_all(r)
        by_kind = {k: float(np.mean(v)) if v else float("nan") for k, v in r["psnr"].items()}
        ms = float(np.mean(r["ms"])) if r["ms"] else float("nan")
        result[f"{name} / {src}"] = {"psnr": allp, **{f"psnr_{k}": v for k, v in by_kind.items()},
                                     "ssim": float(np.mean(r["ssim"])), "gain_db": allp - base,
                                     "ms_line" if broadcast else "ms_720p": ms}
        table.add_row(name, src, f"{allp:.2f}", *(f"{by_kind[k]:.2f}" for k in kinds),
                      f"{np.mean(r['ssim']):.4f}", f"{allp - base:+.2f} dB", f"{ms:.1f}")
    Console(highlight=False, width=200).print(table)
    verdicts = []
    for src in sources:
        key = f"kseg auto / {src}"
        if key in result:
            g = result[key]["gain_db"]
            verdicts.append(f"auto on {src} masks: {g:+.2f} dB vs box baseline -> "
                            f"{'PASS' if g >= TARGET_DB else 'FAIL'} (target >= {TARGET_DB:.0f} dB)")
    for v in verdicts:
        print(v)
    print(f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f} (shared CPU: compare rows of one run)")
    if args.json:
        from kseg.imageio import write_json

        write_json(args.json, {"frames": len(frames), "runs": args.runs, "rows": result,
                               "verdicts": verdicts})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
