"""detect -> segment -> recognise for one frame, and the files ``kseg segment`` writes.

``SegmentPipeline`` loads every model once (in ``__init__``) so a batch of frames pays
for loading once; ``process`` is pure computation and ``write_outputs`` the only I/O.
The stages are taken from their packages lazily, and can be passed in ready-made
(tests, benchmarks, a caller that already holds a model).
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kseg.imageio import write_json, write_png
from kseg.types import FrameResult, LineMask, Recognition, Region, TextLine


MIN_INK = 0.02  # least fraction of its box a line's mask must cover to count as a caption


def _box_area(box) -> int:
    return max(1, (box[2] - box[0]) * (box[3] - box[1]))


class SegmentPipeline:
    """The ``kseg segment`` stages; see issue 2 for the contract of each."""

    def __init__(
        self,
        model: str | None = None,
        recognizer: str = "auto",
        device: str = "auto",
        detector_options: dict[str, Any] | None = None,
        *,
        detector: Any = None,
        segmenter: Any = None,
        recognizer_impl: Any = None,
    ):
        # Most likely to fail first (a missing model file), so the user is not kept waiting.
        if segmenter is None:
            from kseg.segment import TextSegmenter

            segmenter = TextSegmenter(model=model, device=device)
        if recognizer_impl is None:
            from kseg.recognize import get_recognizer

            recognizer_impl = get_recognizer(recognizer, device)
        if detector is None:
            from kseg.detect import Detector

            detector = Detector(device=device, **(detector_options or {}))
        self.detector = detector
        self.segmenter = segmenter
        self.recognizer = recognizer_impl

    @property
    def model_name(self) -> str:
        return str(getattr(self.segmenter, "name", type(self.segmenter).__name__))

    def process(self, image: np.ndarray, name: str) -> FrameResult:
        """Run the stages on one RGB uint8 frame; ``name`` is recorded as ``"image"``."""
        h, w = image.shape[:2]
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        lines: list[TextLine] = list(self.detector.detect(image))
        t1 = time.perf_counter()
        seconds["detect"] = t1 - t0

        masks: list[LineMask] = list(self.segmenter.segment(image, lines))
        t2 = time.perf_counter()
        if len(masks) != len(lines):
            raise RuntimeError(f"segmenter returned {len(masks)} masks for {len(lines)} lines")
        # A box where SAM finds (almost) no caption ink is a detector false alarm (a texture,
        # a logo edge): dropping it keeps a caption-free frame at "regions": [].
        keep = [i for i, (ln, m) in enumerate(zip(lines, masks)) if m.area >= MIN_INK * _box_area(ln.box)]
        lines, masks = [lines[i] for i in keep], [masks[i] for i in keep]
        # TextSegmenter splits its time ({"encode": .., "decode": ..}); others get one figure.
        split = getattr(self.segmenter, "timings", None)
        if isinstance(split, dict) and split:
            seconds.update({k: float(v) for k, v in split.items()})
        else:
            seconds["segment"] = t2 - t1

        texts: list[Recognition] = [
            self.recognizer.recognize(image, line, m.mask) for line, m in zip(lines, masks)
        ]
        t3 = time.perf_counter()
        seconds["recognize"] = t3 - t2

        full = np.zeros((h, w), np.uint8)
        for m in masks:
            if m.mask.shape != (h, w):
                raise RuntimeError(f"mask shape {m.mask.shape} != frame {(h, w)}")
            full[m.mask] = 255
        seconds["total"] = time.perf_counter() - t0
        regions = [Region(line=l, mask=m, text=t) for l, m, t in zip(lines, masks, texts)]
        return FrameResult(image=name, width=w, height=h, model=self.model_name,
                           regions=regions, mask=full, seconds=seconds)


_PALETTE = [(255, 64, 64), (64, 160, 255), (255, 200, 0), (200, 64, 255), (0, 220, 120)]


def overlay(image: np.ndarray, result: FrameResult, alpha: float = 0.5) -> np.ndarray:
    """The frame with each region's mask tinted and its box and polygon drawn (for people)."""
    out = image.copy()
    thick = max(1, round(min(result.width, result.height) / 360))
    for i, r in enumerate(result.regions):
        color = np.array(_PALETTE[i % len(_PALETTE)], np.float32)
        m = r.mask.mask
        out[m] = (out[m] * (1 - alpha) + color * alpha).astype(np.uint8)
    for i, r in enumerate(result.regions):
        color = _PALETTE[i % len(_PALETTE)]
        x0, y0, x1, y1 = (int(v) for v in r.line.box)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), color, thick)
        if len(r.line.polygon) >= 3 and r.line.angle:
            pts = np.array(r.line.polygon, np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, (255, 255, 255), max(1, thick // 2))
    return out


def output_paths(out_dir: str | os.PathLike[str], stem: str) -> dict[str, Path]:
    d = Path(out_dir)
    return {"mask": d / f"{stem}.mask.png", "overlay": d / f"{stem}.overlay.png",
            "json": d / f"{stem}.json"}


def write_outputs(result: FrameResult, image: np.ndarray, out_dir: str | os.PathLike[str],
                  stem: str) -> dict[str, Path]:
    """Write mask, overlay and JSON atomically; JSON last, so its presence means "complete"."""
    paths = output_paths(out_dir, stem)
    write_png(paths["mask"], result.mask)
    write_png(paths["overlay"], overlay(image, result))
    write_json(paths["json"], result.to_json())
    return paths


def output_stems(paths: Sequence[str | os.PathLike[str]],
                 out_dir: str | os.PathLike[str] | None = None,
                 taken: Iterable[str] = ()) -> list[str]:
    """``NAME`` for each ``NAME.ext``; a later input whose NAME is already used gets
    ``NAME-2``, ``NAME-3``... (ep1/f.png and ep2/f.png must not overwrite each other,
    and refusing would fail half of a typical multi-folder batch). Compared case-folded
    so outputs do not collide on case-insensitive file systems either. With ``out_dir``,
    a stem whose output would land on one of the inputs (``a.png`` next to an input
    ``a.mask.png``) is bumped too: inputs are never modified."""
    used = {t.casefold() for t in taken}
    inputs = {os.path.realpath(p) for p in paths} if out_dir is not None else set()

    def clashes(stem: str) -> bool:
        if stem.casefold() in used:
            return True
        return out_dir is not None and any(
            os.path.realpath(q) in inputs for q in output_paths(out_dir, stem).values())

    stems = []
    for p in paths:
        base = Path(p).stem or "image"
        stem, n = base, 1
        while clashes(stem):
            n += 1
            stem = f"{base}-{n}"
        used.add(stem.casefold())
        stems.append(stem)
    return stems
