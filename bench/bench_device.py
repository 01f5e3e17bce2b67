"""text-SAM on each device: milliseconds per caption line, and whether the masks agree.

    python bench/bench_device.py [--devices cpu,cuda] [--runs 10] [--threads 2] [--sizes 720p,1080p]

Times ``TextSegmenter.segment`` (encoder, decoder, edge refiner, mask scorer: everything
`kseg segment` does after detection) on the captioned frames of examples/, prompted with their
true line boxes, so neither CRAFT nor a recogniser is needed (a lent GPU machine has neither).
Each frame is scaled to every size, segmented once to warm up, then ``--runs`` times; the
figure is the median, per line, averaged over frames. The first device is the baseline: the
table gives each other device's ratio to it, and the fgIoU of its masks against the
baseline's (1.0: the same pixels).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_segment import SIZES, scaled as scaled_image  # noqa: E402  (bench/ is the script's folder)


def frames(folder: Path):
    """(name, image, [TextLine]) for every example with captions, boxes from its truth file."""
    from kseg.types import TextLine

    out = []
    for truth in sorted(folder.glob("*.truth.json")):
        meta = json.loads(truth.read_text(encoding="utf-8"))
        png = folder / f"{truth.name[:-len('.truth.json')]}.png"
        if not meta.get("lines") or not png.exists():
            continue
        image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        lines = [TextLine(tuple(ln["box"]), [tuple(p) for p in ln["polygon"]], 1.0, ln.get("angle", 0.0))
                 for ln in meta["lines"]]
        out.append((png.stem, image, lines))
    return out


def scaled(image, lines, size):
    """The frame at ``size`` (as bench_segment scales it) and its boxes scaled with it."""
    from kseg.types import TextLine

    img = scaled_image(image, size)
    sx, sy = img.shape[1] / image.shape[1], img.shape[0] / image.shape[0]
    return img, [TextLine((ln.box[0] * sx, ln.box[1] * sy, ln.box[2] * sx, ln.box[3] * sy),
                          [(x * sx, y * sy) for x, y in ln.polygon], 1.0, ln.angle) for ln in lines]


def run(device: str, data, sizes, runs: int):
    """{size: (ms per line, [union mask per frame])}"""
    from kseg.segment import TextSegmenter

    seg = TextSegmenter(model=None, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    out = {}
    for size in sizes:
        per_line, masks = [], []
        for _, image, lines in data:
            img, lns = scaled(image, lines, SIZES[size])
            res = seg.segment(img, lns)  # warm-up
            masks.append(np.any([m.mask for m in res], axis=0))
            t = []
            for _ in range(runs):
                sync()
                t0 = time.perf_counter()
                seg.segment(img, lns)
                sync()
                t.append(time.perf_counter() - t0)
            per_line.append(1000 * statistics.median(t) / len(lns))
        out[size] = (statistics.fmean(per_line), masks)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="cpu,cuda", help="comma list; the first is the baseline")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch CPU threads")
    ap.add_argument("--sizes", default="720p,1080p", help=f"comma list of {', '.join(SIZES)}")
    ap.add_argument("--examples", type=Path, default=ROOT / "examples")
    a = ap.parse_args()
    devices = [d.strip() for d in a.devices.split(",") if d.strip()]
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    if any(s not in SIZES for s in sizes) or not devices or a.runs < 1:
        ap.error(f"--sizes takes {', '.join(SIZES)}; --runs >= 1")
    if any(d.startswith("cuda") for d in devices) and not torch.cuda.is_available():
        ap.error("cuda asked for, but torch sees no GPU")
    torch.set_num_threads(a.threads)
    data = frames(a.examples)
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    print(f"{len(data)} frames, {sum(len(d[2]) for d in data)} lines; {a.runs} runs; {a.threads} CPU threads; "
          f"{os.cpu_count()} cores; GPU: {name}; torch {torch.__version__}")
    res = {d: run(d, data, sizes, a.runs) for d in devices}
    base = devices[0]
    print(f"| size | device | ms per line | vs {base} | mask fgIoU vs {base} |")
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        b_ms, b_masks = res[base][size]
        for d in devices:
            ms, masks = res[d][size]
            inter = sum(int((m & bm).sum()) for m, bm in zip(masks, b_masks))
            union = sum(int((m | bm).sum()) for m, bm in zip(masks, b_masks))
            print(f"| {size} | {d} | {ms:.1f} | {b_ms / ms:.2f}x faster | {inter / max(1, union):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
