"""Seconds per frame of each `kseg segment` stage: embedded text-SAM vs official vit_b.

    .venv/bin/python bench/bench_segment.py [--runs 5] [--threads 2] [--sizes 720p,1080p]
                                            [--skip-vit | --compare MODEL] [--recognizer auto] [--json FILE]

Runs the real pipeline (``SegmentPipeline.process``: CRAFT detect -> SAM encoder ->
multimask decoder per line -> edge refiner, where the model has one -> recognise) on the captioned frames of examples/, each
scaled to every size, once as a warm-up and then ``--runs`` times; a stage's figure is
the median over runs, averaged over the frames. Both models share one detector and one
recogniser, so only the SAM columns should differ.

The embedded model is models/text-sam.safetensors when present, else a text-SAM with
random weights (same architecture and cost, made by ``kseg.segment.save_random``); vit_b
is Meta's ViT-B architecture with random weights (``sam_model_registry['vit_b']``),
saved as a plain .pth state dict and loaded through ``TextSegmenter(model=path)``, the
same path a downloaded checkpoint takes. Random weights time the same as trained ones,
but the number of lines (and so decoder and recogniser work) comes from the frames.

``--compare MODEL`` times another model file (an earlier text-SAM, say) in vit_b's place,
so a new version's cost stands beside its predecessor's measured in the same run.

Wall time depends on whatever else runs on the CPU: compare rows of one run only; the
load average is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kseg.imageio import load_image  # noqa: E402
from kseg.pipeline import SegmentPipeline  # noqa: E402

SIZES = {"480p": (854, 480), "540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080),
         "1440p": (2560, 1440), "2160p": (3840, 2160)}
STAGES = [("detect", "detect (CRAFT)"), ("encode", "SAM encoder"), ("decode", "SAM decoder"),
          ("refine", "edge refiner"), ("score", "mask scorer"), ("recognize", "recognise"), ("total", "total")]
SAM_STAGES = ("encode", "decode", "refine", "score")  # what issue 3's per-line budget covers


def example_frames(folder: Path) -> list[tuple[str, np.ndarray]]:
    """The examples that have captions (a frame without text costs no SAM time)."""
    frames = []
    for png in sorted(folder.glob("*.png")):
        truth = png.with_name(png.stem + ".truth.json")
        if truth.exists() and not json.loads(truth.read_text(encoding="utf-8")).get("lines"):
            continue
        frames.append((png.stem, load_image(png)))
    if not frames:
        sys.exit(f"no example frames in {folder} (make examples)")
    return frames


def scaled(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    if image.shape[:2] == (h, w):
        return image
    interp = cv2.INTER_AREA if w < image.shape[1] else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(image, (w, h), interpolation=interp))


def time_model(pipe: SegmentPipeline, frames, sizes, runs: int, say) -> dict[str, dict[str, float]]:
    """{size: {stage: seconds per frame}} (median over runs, mean over frames)."""
    out: dict[str, dict[str, float]] = {}
    for size_name in sizes:
        per_frame: list[dict[str, float]] = []
        lines = 0
        for name, image in frames:
            img = scaled(image, SIZES[size_name])
            res = pipe.process(img, name)  # warm-up: oneDNN builds kernels per input shape
            lines += len(res.regions)
            samples: dict[str, list[float]] = {k: [] for k, _ in STAGES}
            for _ in range(runs):
                sec = pipe.process(img, name).seconds
                for k, _ in STAGES:
                    samples[k].append(sec.get(k, 0.0))
            per_frame.append({k: statistics.median(v) for k, v in samples.items()})
        out[size_name] = {k: statistics.fmean(f[k] for f in per_frame) for k, _ in STAGES}
        out[size_name]["lines"] = lines / len(frames)
        say(f"{pipe.model_name} {size_name}: {out[size_name]['total']:.3f} s/frame")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per frame (after a warm-up)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="torch CPU threads")
    ap.add_argument("--sizes", default="720p,1080p", help=f"comma list of {', '.join(SIZES)}")
    ap.add_argument("--skip-vit", action="store_true", help="time the embedded model only")
    ap.add_argument("--compare", type=Path, help="time this model file instead of vit_b as the second column")
    ap.add_argument("--recognizer", default="auto",
                    help="recogniser for the recognise stage (auto, kseg, easyocr, tesseract, none)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--examples", type=Path, default=ROOT / "examples")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s not in SIZES]
    if bad or not sizes or args.runs < 1:
        ap.error(f"--sizes takes {', '.join(SIZES)}; --runs >= 1")
    torch.set_num_threads(args.threads)
    err = Console(stderr=True, highlight=False)
    say = lambda m: err.print(f"bench: {m}", markup=False)  # noqa: E731
    load0 = os.getloadavg()[0]

    from kseg.detect import Detector
    from kseg.recognize import get_recognizer
    from kseg.segment import TextSegmenter, save_random
    from kseg.segment.registry import embedded_path

    frames = example_frames(args.examples)
    say(f"{len(frames)} frames ({', '.join(n for n, _ in frames)}), sizes {', '.join(sizes)}, "
        f"{args.runs} runs, {args.threads} threads")
    detector = Detector(device=args.device)
    recognizer = get_recognizer(args.recognizer, args.device)
    rec_name = getattr(recognizer, "name", type(recognizer).__name__)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kseg-bench-") as tmp:
        if embedded_path().exists():
            ep = embedded_path()
            emb_label = f"embedded text-SAM ({ep.relative_to(ROOT) if ep.is_relative_to(ROOT) else ep})"
            seg = TextSegmenter(model=None, device=args.device)
        else:
            emb_label = "text-SAM, random weights (models/text-sam.safetensors not present)"
            seg = TextSegmenter(model=str(save_random(Path(tmp) / "text-sam-random.safetensors")),
                                device=args.device)
        say(f"timing {emb_label}")
        pipe = SegmentPipeline(detector=detector, segmenter=seg, recognizer_impl=recognizer)
        results["embedded"] = time_model(pipe, frames, sizes, args.runs, say)
        del pipe, seg

        if args.compare:
            say(f"timing {args.compare}")
            seg = TextSegmenter(model=str(args.compare), device=args.device)
            pipe = SegmentPipeline(detector=detector, segmenter=seg, recognizer_impl=recognizer)
            results["other"] = time_model(pipe, frames, sizes, args.runs, say)
            del pipe, seg
        elif not args.skip_vit:
            from segment_anything import sam_model_registry

            torch.manual_seed(0)
            vit = sam_model_registry["vit_b"](checkpoint=None)
            path = Path(tmp) / "sam_vit_b_random.pth"
            torch.save(vit.state_dict(), path)
            del vit
            say("timing vit_b (random weights)")
            seg = TextSegmenter(model=str(path), device=args.device)
            pipe = SegmentPipeline(detector=detector, segmenter=seg, recognizer_impl=recognizer)
            results["other"] = time_model(pipe, frames, sizes, args.runs, say)
            del pipe, seg

    load1 = os.getloadavg()[0]
    out = Console(highlight=False, width=120)
    other = str(args.compare) if args.compare else None if args.skip_vit else "vit_b"
    out.print(f"kseg segment, seconds per frame: {emb_label}"
              + ("" if other is None else f" vs {args.compare or 'vit_b (random weights)'}"), markup=False)
    out.print(f"median of {args.runs} runs after a warm-up, mean over {len(frames)} example frames; "
              f"{args.threads} torch threads, {args.device}, recogniser {rec_name}", markup=False)
    table = Table()
    name = "other" if args.compare else "vit_b"
    for col in ("size", "stage", "embedded s", *(() if other is None else (f"{name} s", f"{name} / embedded"))):
        table.add_column(col, justify="left" if col in ("size", "stage") else "right")
    for s in sizes:
        for k, label in STAGES:
            e = results["embedded"][s][k]
            row = [s, label, f"{e:.3f}"]
            if other is not None:
                v = results["other"][s][k]
                row += [f"{v:.3f}", f"{v / e:.1f}x" if e > 1e-6 else "-"]
            table.add_row(*row, end_section=(k == "total"))
    out.print(table)
    per = ", ".join(f"{s} {results['embedded'][s]['lines']:.1f}" for s in sizes)
    sam_ms = ", ".join(f"{s} {1000 * sum(results['embedded'][s][k] for k in SAM_STAGES) / max(1e-9, results['embedded'][s]['lines']):.1f} ms"
                       for s in sizes)
    print(f"embedded SAM (encoder + decoder + refiner + scorer) per caption line: {sam_ms}")
    if args.compare:
        oth = ", ".join(f"{s} {1000 * sum(results['other'][s][k] for k in SAM_STAGES) / max(1e-9, results['other'][s]['lines']):.1f} ms"
                        for s in sizes)
        print(f"{args.compare} (encoder + decoder + refiner + scorer) per caption line: {oth}")
    print(f"lines found per frame: {per}; "
          f"load average {load0:.2f} at start, {load1:.2f} at end, on {os.cpu_count()} CPUs; "
          f"torch {torch.__version__}")
    if args.json:
        args.json.write_text(json.dumps({"embedded_model": emb_label, "other": other, "runs": args.runs,
                                         "threads": args.threads, "device": args.device,
                                         "recognizer": rec_name, "load_average": [load0, load1],
                                         "results": results}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
