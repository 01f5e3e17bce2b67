"""Measure CRAFT's int8 activation ranges (``kseg.detect.int8``) and write ``models/craft-int8.json``.

The frames are the synthetic training split's (``kseg synth --split train``), never bench/real's
or the eval split's: the ranges must not be fitted to what they are scored on. Every other frame
is read at the video profile's size (384 px), the rest at the still profile's (1024 px, small
frames enlarged), so the ranges cover both. The command behind the shipped file:

    kseg synth -o data/craft-cal -n 40 --seed 7 --split train -q
    python tools/calibrate_craft.py data/craft-cal models/craft-int8.json
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("frames", type=Path, help="a `kseg synth --split train` folder")
    ap.add_argument("out", type=Path, help="the ranges file to write (models/craft-int8.json)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from kseg.detect import Detector, int8

    files = sorted(f for f in a.frames.glob("train_*.png") if f.stem.count(".") == 0)
    if not files:
        raise SystemExit(f"no train_*.png frames in {a.frames}")
    video = Detector(dtype="float32", profile="video")
    still = video.with_profile("still")

    def inputs():
        for i, f in enumerate(files):
            img = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            yield (video if i % 2 == 0 else still).network_input(img)
            print(f"{i + 1}/{len(files)} {f.name}", flush=True)

    t = time.perf_counter()
    from kseg.detect import _load_craft

    # the network as Detector(dtype="int8") quantizes it: BatchNorms not folded yet
    ranges = int8.calibrate(_load_craft(video.weights, "cpu", torch.float32, fold=False), inputs())
    int8.save_ranges(a.out, ranges, {"frames": len(files), "source": str(a.frames),
                                     "sizes": "alternately video (384) and still (1024) profile"})
    print(f"{len(ranges)} activation ranges from {len(files)} frames in {time.perf_counter() - t:.0f} s -> {a.out}")


if __name__ == "__main__":
    main()
