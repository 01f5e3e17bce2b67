"""The small typed records that connect the pipeline stages.

detect -> TextLine; segment -> LineMask; recognise -> Recognition; the pipeline
bundles them per line into a Region and per frame into a FrameResult, whose
``to_json()`` is the output contract of ``kseg segment`` (see README).
Later stages (style, erase, translate, render, video) add fields to Region
rather than inventing parallel structures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-frame pixels, x1/y1 exclusive


@dataclass
class TextLine:
    """One caption line found by the detector."""

    box: Box
    polygon: list[tuple[int, int]]  # 4+ points, clockwise; rotated text keeps its shape
    score: float  # detector confidence in [0, 1]
    angle: float = 0.0  # degrees, counter-clockwise; 0 for horizontal text


@dataclass
class LineMask:
    """SAM's answer for one box prompt: the chosen mask and what it was chosen from."""

    mask: np.ndarray  # bool, full frame H x W
    iou_predictions: list[float]  # SAM's predicted IoU of each multimask output
    stability: list[float]  # stability score of each output
    chosen: int  # index of the kept output (highest predicted IoU, stability breaks ties)

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class Recognition:
    text: str
    recognizer: str  # which recogniser produced it ("kseg", "easyocr", "tesseract", "none")
    score: float = 0.0


@dataclass
class Region:
    """Everything kseg knows about one caption line."""

    line: TextLine
    mask: LineMask
    text: Recognition
    extra: dict[str, Any] = field(default_factory=dict)  # style/translation added by later stages

    def to_json(self) -> dict[str, Any]:
        d = {
            "box": [int(v) for v in self.line.box],
            "polygon": [[int(x), int(y)] for x, y in self.line.polygon],
            "text": self.text.text,
            "recognizer": self.text.recognizer,
            "ocr_score": round(float(self.line.score), 4),
            "text_score": round(float(self.text.score), 4),
            "iou_predictions": [round(float(v), 4) for v in self.mask.iou_predictions],
            "chosen": int(self.mask.chosen),
            "stability": round(float(self.mask.stability[self.mask.chosen]), 4)
            if self.mask.stability
            else 0.0,
            "stability_scores": [round(float(v), 4) for v in self.mask.stability],
            "mask_area": self.mask.area,
        }
        d.update(self.extra)
        return d


@dataclass
class FrameResult:
    image: str  # the input path as given
    width: int
    height: int
    model: str  # which SAM model produced the masks
    regions: list[Region]
    mask: np.ndarray  # uint8 H x W, 255 on caption pixels
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "regions": [r.to_json() for r in self.regions],
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        }
