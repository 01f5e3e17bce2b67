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
    # the mask scorer's predicted IoU of refined outputs 1 and 2, where it ranked them (a model
    # with a scorer, and the IoU head chose a non-empty output); None elsewhere
    scorer_iou: list[float] | None = None

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
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        d = {
            "box": [int(v) for v in self.line.box],
            "polygon": [[int(x), int(y)] for x, y in self.line.polygon],
            "text": self.text.text,
            "recognizer": self.text.recognizer,
            "ocr_score": round(float(self.line.score), 4),
            "text_score": round(float(self.text.score), 4),
            "iou_predictions": [round(float(v), 4) for v in self.mask.iou_predictions],
            "chosen": int(self.mask.chosen),
            "scorer_iou": None if self.mask.scorer_iou is None else [round(float(v), 4) for v in self.mask.scorer_iou],
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
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. "captions" from translate
    # boxes of text found and left out because it has no Korean (a logo, a clock); not in the JSON
    left_out: list[Box] = field(default_factory=list)
    # text in a top corner (a logo, a programme bar: kseg.pipeline.corner_overlay) or repeated
    # near the top of a collage's tiles (kseg.detect.panels.repeated_in_tiles), read and left
    # alone; in the JSON as "overlays" (box and text), so a script sees what was skipped
    overlays: list[Region] = field(default_factory=list)
    # the frame's screenshots if it is a collage (``kseg.detect.panels``: tiles, then tiles split
    # again), as the still detector found them; None where they were not looked for. Not in the JSON
    panels: tuple[list[Box], list[Box]] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        return {
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "regions": [r.to_json() for r in self.regions],
            "overlays": [{"box": [int(v) for v in r.line.box], "text": r.text.text} for r in self.overlays],
            **self.extra,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        }


# ------------------------------------------------------------------ issue 5: style / captions

RGB = tuple[int, int, int]


def _rgb(v: Any) -> RGB | None:
    return None if v is None else tuple(int(x) for x in v)  # type: ignore[return-value]


@dataclass
class Shadow:
    color: RGB
    dx: float  # offset of the shadow from the glyphs, pixels (right/down positive)
    dy: float

    def to_json(self) -> dict[str, Any]:
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        return {"color": list(self.color), "dx": round(self.dx, 2), "dy": round(self.dy, 2)}


def _rgb_json(c) -> list[int] | None:
    return None if c is None else [int(v) for v in c]


@dataclass
class ColourRun:
    """A stretch of a line whose letters have one colour (lines in two or more colours)."""

    start: float  # share of the line's ink width where the run begins (0 = left end)
    end: float
    fill: RGB
    fill2: RGB | None = None  # bottom end of a vertical gradient

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "fill": _rgb_json(self.fill), "fill2": _rgb_json(self.fill2)}


@dataclass
class Banner:
    box: Box  # the opaque/translucent plate behind the text, full-frame pixels
    color: RGB
    opacity: float  # 0..1; 1 = opaque plate
    # px of the plate's border band (a rim round its box, in a colour of its own) on its left,
    # top, right and bottom: covered too when an opaque plate is drawn again, larger
    rim: tuple[int, int, int, int] = (0, 0, 0, 0)

    def to_json(self) -> dict[str, Any]:
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        return {"box": [int(v) for v in self.box], "color": list(self.color),
                "opacity": round(self.opacity, 3), "rim": [int(v) for v in self.rim]}


@dataclass
class Style:
    """How one caption line looks, measured from its masks (``kseg.style``).

    Everything the renderer needs to draw English that passes for the original:
    colours from the pixels, widths from distance transforms of the masks.
    """

    fill: RGB  # robust fill colour (top end of a gradient)
    text_height: float  # ink height of the line, pixels (upright)
    stroke_width: float  # typical fill stroke width, pixels
    fill2: RGB | None = None  # bottom end of a vertical gradient, None if flat
    outline: RGB | None = None
    outline_width: float = 0.0  # pixels, ring between fill and footprint
    outline2: RGB | None = None  # second (outer) outline
    outline2_width: float = 0.0
    shadow: Shadow | None = None
    banner: Banner | None = None
    angle: float = 0.0  # degrees, counter-clockwise
    align: str = "center"  # left | center | right, within the caption block
    # letters in several colours: the runs left to right (``fill`` is the colour of most
    # letters); None for a line in one colour
    runs: list[ColourRun] | None = None
    # the colour just outside the footprint (what the letters were measured against): an
    # outline or shadow of that colour cannot be seen there, so its absence says nothing
    backdrop: RGB | None = None

    @property
    def weight(self) -> float:
        """Stroke width relative to text height (bold captions ~0.15+, regular ~0.08)."""
        return self.stroke_width / self.text_height if self.text_height > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        rgb = _rgb_json
        return {
            "fill": rgb(self.fill), "fill2": rgb(self.fill2),
            "outline": rgb(self.outline), "outline_width": round(self.outline_width, 2),
            "outline2": rgb(self.outline2), "outline2_width": round(self.outline2_width, 2),
            "shadow": self.shadow.to_json() if self.shadow else None,
            "banner": self.banner.to_json() if self.banner else None,
            "text_height": round(self.text_height, 2), "stroke_width": round(self.stroke_width, 2),
            "weight": round(self.weight, 4), "angle": round(self.angle, 2), "align": self.align,
            "runs": [r.to_json() for r in self.runs] if self.runs else None,
            "backdrop": rgb(self.backdrop),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Style":
        """The inverse of ``to_json`` (``weight`` is derived, so it is not read back)."""
        sh, bn = d.get("shadow"), d.get("banner")
        return cls(fill=_rgb(d["fill"]), text_height=float(d["text_height"]),
                   stroke_width=float(d["stroke_width"]), fill2=_rgb(d.get("fill2")),
                   outline=_rgb(d.get("outline")), outline_width=float(d.get("outline_width", 0)),
                   outline2=_rgb(d.get("outline2")), outline2_width=float(d.get("outline2_width", 0)),
                   shadow=Shadow(_rgb(sh["color"]), float(sh["dx"]), float(sh["dy"])) if sh else None,
                   banner=Banner(tuple(bn["box"]), _rgb(bn["color"]), float(bn["opacity"]),
                                 tuple(int(v) for v in bn.get("rim", (0, 0, 0, 0)))) if bn else None,
                   angle=float(d.get("angle", 0.0)), align=d.get("align", "center"),
                   runs=[ColourRun(float(r["start"]), float(r["end"]), _rgb(r["fill"]), _rgb(r.get("fill2")))
                         for r in d["runs"]] if d.get("runs") else None,
                   backdrop=_rgb(d.get("backdrop")))


@dataclass
class Caption:
    """A caption block: the lines shown together (a two-line subtitle, one variety bubble).

    The unit of translation and of re-rendering: a sentence split over two lines is
    translated as one sentence and wrapped again in English.
    """

    regions: list[int]  # indices into FrameResult.regions, in reading order
    box: Box  # union of the lines' boxes
    text: str  # the lines' Korean joined with spaces
    style: Style  # the block's style (its first line's, which sets the look)
    translation: str | None = None  # None until translated, or when the translator had none
    # rows of text: pieces of one line the detector cut at a word space count once
    # (0: one row per region, as for a block of whole lines)
    rows: int = 0

    @property
    def n_rows(self) -> int:
        """The Korean's number of lines, which the English keeps to first."""
        return self.rows or len(self.regions)

    def to_json(self) -> dict[str, Any]:
        """The JSON record (plain types only), as written to NAME.json / JSON Lines."""
        return {"regions": list(self.regions), "box": [int(v) for v in self.box],
                "text": self.text, "translation": self.translation, "rows": self.n_rows,
                "style": self.style.to_json()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Caption":
        """Back from ``to_json``'s record (a saved run, a resumed video job)."""
        return cls(regions=list(d["regions"]), box=tuple(int(v) for v in d["box"]), text=d["text"],
                   style=Style.from_json(d["style"]), translation=d.get("translation"), rows=int(d.get("rows", 0)))


@dataclass
class TranslationRequest:
    """One caption to translate, with its neighbours for consistent names and tone."""

    text: str
    before: list[str] = field(default_factory=list)  # earlier captions (nearest last)
    after: list[str] = field(default_factory=list)  # later captions (nearest first)
