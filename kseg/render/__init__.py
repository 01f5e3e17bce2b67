"""Render stage: draw the English translation of a caption in the style of the Korean.

``prepare`` does the layout once (face, size, line breaks, position, the layered sprite)
and ``Sprite.draw`` only alpha-blends the sprite into a frame, so a caption shown for
200 video frames is laid out once and blended 200 times.

Decisions (issue: render):

* **Face.** The bundled Noto Sans (``kseg/data/fonts``, OFL) unless ``font`` names a file.
  Bold is used when the Korean is heavy: ``Style.weight`` (stroke width / ink height)
  > ``BOLD_WEIGHT`` = 0.097, the gap between the clusters measured on 5 regular and 7
  bold/extra-bold Nanum faces at 24-80 px with stroke = fill area / skeleton length
  (regular 0.058-0.100, bold 0.093-0.147; 4 of 120 on the wrong side). A user font
  without a bold sibling is emboldened by stroking it in the fill colour. Characters the
  face lacks (♪ ♥ ★ →: captions' marks, kept in translation) are drawn with the bundled
  DejaVu Sans (``Face``), not as FreeType's empty box.
* **Size.** Hangul ink height (~0.92 em) is matched to the Latin *ascender* height
  (``dhlk``, 0.766 em in Noto Sans): the x-height then sits at ~0.7 of the Korean, as
  broadcast English subtitles look next to Hangul. Outline, shadow and faux-bold widths
  scale with the size when the text is shrunk.
* **Width.** A drama-like subtitle (centre-aligned, upright, no banner, horizontally
  centred in the lower 40 % of the frame) may use 90 % of the frame width, since English
  runs longer than Korean; other captions may use 1.3x the Korean width (at least 4 em,
  so a one-word reply is not shrunk), never more than the frame less a 2 % margin.
* **Fitting.** One line at full size, else the fewest balanced lines (minimum of the
  longest line) up to ``max_lines`` (2 for subtitles and bannered captions, whose plate
  would otherwise balloon; 3 for free-floating captions), else shrink down to
  ``min_scale``; if it still does not fit it is drawn at ``min_scale``, clipped to the
  frame, with ``RenderInfo.fitted = False`` for the caller to report. On a banner, and for
  free-floating captions, shrinking comes before wrapping to more lines than the Korean had. Whitespace in the
  translation (line breaks included) is collapsed: the block is wrapped afresh.
* **Anchor.** The Korean caption box (ink + outline) is matched to the English block's
  ascender-to-last-baseline box (+ outline). Horizontally: ``align`` keeps the box's left
  edge, centre or right edge. Vertically the block grows away from the nearer frame edge:
  bottom edge kept in the lower half (subtitles grow upward), top edge in the upper half,
  centre for rotated or bannered captions. The block is then shifted inside the frame
  when it fits. Rotation by ``Style.angle`` (counter-clockwise) about the block centre.
* **Banner.** Erasing removed only the ink, so the plate is still in the frame. When the
  English block with the original margins is larger than ``Banner.box``, the bounding
  rectangle of both is drawn, in the banner's colour and opacity, *outside* the old box
  only (inside it the plate is already there, and a translucent plate must not double).
* **Shadow.** ``Shadow`` has no blur or opacity: a Gaussian blur of ``SHADOW_BLUR`` em
  (0.6-4 px) and opacity ``SHADOW_OPACITY`` 0.85, the middle of what broadcasters use.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kseg.errors import InputError
from kseg.style import EDGE_BAND
from kseg.types import Box, Caption, Style

FONT_DIR = Path(__file__).resolve().parents[1] / "data" / "fonts"
BUNDLED_REGULAR = FONT_DIR / "NotoSans-Regular.ttf"
BUNDLED_BOLD = FONT_DIR / "NotoSans-Bold.ttf"
# the characters a face lacks (Noto Sans has no ♪ ♥ ★ → ■: captions' marks, which translations
# keep) are drawn with DejaVu Sans, whose symbols cover them, instead of FreeType's empty box
SYMBOLS_REGULAR = FONT_DIR / "DejaVuSans.ttf"
SYMBOLS_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

BOLD_WEIGHT = 0.097
SUBTITLE_WIDTH = 0.90  # of the frame width
OTHER_WIDTH = 1.30  # of the Korean caption's width
FREE_SHRINK = 0.8  # free-floating captions shrink this far before taking more lines
MIN_WIDTH_EM = 4.0
MARGIN = 0.02  # of the frame width, kept clear left and right
SHADOW_BLUR = 0.035  # em, Gaussian sigma
SHADOW_OPACITY = 0.85
FAUX_BOLD = 0.03  # em of stroke in the fill colour when the font has no bold face
LINE_GAP = 0.10  # em between one line's descender and the next line's ascender
PLATE_PAD = 1.0  # text heights of the old plate's margin kept round the English, at most
CARD = 2.0  # a plate this many times its caption's height holds other lines too (a card)

FontArg = str | os.PathLike[str] | None


# ------------------------------------------------------------------------------ fonts

@lru_cache(maxsize=256)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


@lru_cache(maxsize=32)
def _coverage(path: str, index: int) -> frozenset[int] | None:
    """The code points a face has glyphs for (its cmap, read with fontTools: Pillow cannot say
    whether a glyph is missing, it draws the face's empty box). None where fontTools cannot
    read the file (FreeType may still draw it): no fallback then."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(path, fontNumber=index, lazy=True) as f:
            return frozenset(f.getBestCmap() or ())
    except Exception:  # noqa: BLE001 - any unreadable table means "unknown", not an error
        return None


def missing_warning(chars: str) -> str:
    """What stills and video say after the English when it has characters no face draws."""
    return f"has characters no font kseg draws with has ({chars}); drawn as empty boxes (--font a face that has them)"


class Face:
    """One face at one size, with a fallback face for the characters it lacks: Pillow has no
    font fallback. Measures and draws a string run by run (``runs``); a string the face
    covers is one run, measured and drawn exactly as the face alone would."""

    def __init__(self, main: ImageFont.FreeTypeFont, has: frozenset[int] | None,
                 fallback: ImageFont.FreeTypeFont | None = None, fallback_has: frozenset[int] = frozenset()):
        self.main, self.has, self.fallback, self.fallback_has = main, has, fallback, fallback_has
        self.size = main.size

    def runs(self, s: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
        """``s`` cut where the face that draws it changes (spaces stay with the main face)."""
        has = self.has
        if has is None or self.fallback is None or all(ord(c) in has for c in s):
            return [(self.main, s)]
        out: list[tuple[ImageFont.FreeTypeFont, str]] = []
        for c in s:
            f = self.fallback if (ord(c) not in has and not c.isspace() and ord(c) in self.fallback_has) else self.main
            if out and out[-1][0] is f:
                out[-1] = (f, out[-1][1] + c)
            else:
                out.append((f, c))
        return out

    def missing(self, s: str) -> str:
        """The characters of ``s`` neither face has (drawn as the main face's empty box), once
        each; empty where the coverage is unknown."""
        if self.has is None:
            return ""
        out = []
        for c in s:
            o = ord(c)
            if o not in self.has and o not in self.fallback_has and c.isprintable() and not c.isspace() \
                    and c not in out:
                out.append(c)
        return "".join(out)

    def getlength(self, s: str) -> float:
        return sum(f.getlength(r) for f, r in self.runs(s))

    def getbbox(self, s: str, anchor: str = "ls", stroke_width: float = 0) -> tuple[float, float, float, float]:
        runs = self.runs(s)
        if len(runs) == 1:
            return runs[0][0].getbbox(s, anchor=anchor, stroke_width=stroke_width)
        x, box = 0.0, None
        for f, r in runs:
            l, t, rr, b = f.getbbox(r, anchor=anchor, stroke_width=stroke_width)
            cur = (x + l, t, x + rr, b)
            box = cur if box is None else (min(box[0], cur[0]), min(box[1], cur[1]), max(box[2], cur[2]),
                                           max(box[3], cur[3]))
            x += f.getlength(r)
        return box

    def draw(self, d: ImageDraw.ImageDraw, xy: tuple[float, float], s: str, **kw: Any) -> None:
        """``ImageDraw.text`` at the left end of the baseline (anchor "ls"), run by run."""
        x, y = xy
        for f, r in self.runs(s):
            d.text((x, y), r, font=f, anchor="ls", **kw)
            x += f.getlength(r)


def load_font(path: str | os.PathLike[str], size: int = 20, index: int = 0) -> ImageFont.FreeTypeFont:
    """Open a .ttf/.otf/.ttc face, or raise InputError with one line naming the file."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"font {p}: no such file")
    if not p.is_file():
        raise InputError(f"font {p}: not a file")
    try:
        return _font(str(p.resolve()), index, max(1, int(size)))
    except (OSError, ValueError) as e:
        raise InputError(f"font {p}: not a font file FreeType can read ({e})") from None


@dataclass(frozen=True)
class FontFamily:
    """The regular and bold faces to draw with; ``faux_bold`` when no bold face exists."""

    regular: tuple[str, int]  # path, face index
    bold: tuple[str, int]
    faux_bold: bool = False

    def face(self, bold: bool, size: int) -> Face:
        path, index = self.bold if bold else self.regular
        sym = str(SYMBOLS_BOLD if bold and not self.faux_bold else SYMBOLS_REGULAR)
        return _face(path, index, max(1, int(size)), sym)


@lru_cache(maxsize=256)
def _face(path: str, index: int, size: int, sym: str) -> Face:
    """A face with ``sym`` (a DejaVu Sans file) as its fallback, made once per size: the layout
    asks for the same face at each size it tries, and the coverage and path checks cost more
    than measuring a word."""
    has = _coverage(path, index)
    if has is None or os.path.realpath(path) == os.path.realpath(sym):
        return Face(_font(path, index, size), None)
    return Face(_font(path, index, size), has, _font(sym, 0, size), _coverage(sym, 0) or frozenset())


def _bold_sibling(p: Path) -> Path | None:
    """Bold file of the family by the usual naming (Foo-Regular -> Foo-Bold, FooR -> FooB)."""
    stem, ext = p.stem, p.suffix
    cands = []
    for reg, bold in (("Regular", "Bold"), ("regular", "bold"), ("-R", "-B"), ("_R", "_B")):
        if reg in stem:
            cands.append(stem.replace(reg, bold))
    if stem.endswith("R"):
        cands.append(stem[:-1] + "B")
    cands += [stem + "-Bold", stem + "Bold", stem + "_Bold", stem + "-bold", stem + "bd"]
    for c in cands:
        q = p.with_name(c + ext)
        if q != p and q.is_file():
            return q
    return None


@lru_cache(maxsize=16)
def _family(path: str | None) -> FontFamily:
    if path is None:
        load_font(BUNDLED_REGULAR)
        load_font(BUNDLED_BOLD)
        return FontFamily((str(BUNDLED_REGULAR), 0), (str(BUNDLED_BOLD), 0))
    p = Path(path)
    reg = load_font(p)
    rp = str(p.resolve())
    if p.suffix.lower() in (".ttc", ".otc"):  # a collection may hold the bold face itself
        fam = reg.getname()[0]
        for i in range(1, 64):
            try:
                f = _font(rp, i, 20)
            except OSError:
                break
            if f.getname()[0] == fam and f.getname()[1].lower() == "bold":
                return FontFamily((rp, 0), (rp, i))
    if reg.getname()[1].lower() in ("bold", "heavy", "black", "extrabold"):
        return FontFamily((rp, 0), (rp, 0))  # a bold file given: draw everything with it
    sib = _bold_sibling(p)
    if sib is not None:
        try:
            load_font(sib)
            return FontFamily((rp, 0), (str(sib.resolve()), 0))
        except InputError:
            pass  # a broken sibling is not the user's file: fall back to faux bold
    return FontFamily((rp, 0), (rp, 0), faux_bold=True)


def load_family(font: FontArg = None) -> FontFamily:
    """The family for ``--font PATH`` (None: bundled Noto Sans); InputError if unreadable."""
    return _family(None if font is None else os.fspath(font))


@lru_cache(maxsize=64)
def _metrics(path: str, index: int) -> tuple[float, float]:
    """Ascender and descender ink heights of a face, in em (from 'dhlk' and 'gjpqy')."""
    f = _font(path, index, 200)
    asc = -f.getbbox("dhlkb", anchor="ls")[1] / 200
    desc = f.getbbox("gjpqy", anchor="ls")[3] / 200
    if asc <= 0:  # a symbol or non-Latin face: fall back to the font's own metrics
        a, d = f.getmetrics()
        asc, desc = a / 200 * 0.75, d / 200
    return max(asc, 0.05), max(desc, 0.0)


# ----------------------------------------------------------------------------- results

@dataclass
class RenderInfo:
    """Where and how the English landed: for the JSON and for reporting unfitted text."""

    box: Box  # English block (ink + outline, no shadow/plate), frame pixels, not clipped
    font_size: int  # pixel size of the face
    lines: list[str]
    fitted: bool  # False: did not fit even at min_scale (drawn anyway, clipped)
    scale: float  # font size relative to the size matched to the Korean (1.0 = not shrunk)
    missing: str = ""  # characters no face has (Hangul left in the English): drawn as empty boxes

    def to_json(self) -> dict[str, Any]:
        return {"box": [int(v) for v in self.box], "font_size": int(self.font_size),
                "lines": list(self.lines), "fitted": bool(self.fitted),
                "scale": round(float(self.scale), 3), "missing": self.missing}


@dataclass
class Sprite:
    """A laid-out caption: straight (not premultiplied) RGBA, placed at (x, y) in the frame.

    The sprite may lie partly outside the frame; ``draw`` clips. The blend weights are
    kept in float32 so ``draw`` is one OpenCV call on the overlapping rectangle.
    """

    rgba: np.ndarray  # uint8 H x W x 4, straight alpha
    x: int
    y: int
    info: RenderInfo
    bold: bool = False
    font: str = ""  # the face file used
    plated: bool = False  # drawn on its plate (the plate grown where the English needs it)
    _rgb: np.ndarray = field(init=False, repr=False)
    _w1: np.ndarray = field(init=False, repr=False)
    _w0: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rgb = np.ascontiguousarray(self.rgba[..., :3])
        self._w1 = self.rgba[..., 3].astype(np.float32) / 255.0
        self._w0 = 1.0 - self._w1

    def draw(self, canvas: np.ndarray) -> None:
        """Alpha-blend into ``canvas`` (uint8 H x W x 3, RGB) in place, clipped to it."""
        if canvas.dtype != np.uint8 or canvas.ndim != 3 or canvas.shape[2] != 3:
            raise ValueError(f"canvas must be uint8 HxWx3, got {canvas.dtype} {canvas.shape}")
        h, w = self.rgba.shape[:2]
        H, W = canvas.shape[:2]
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(W, self.x + w), min(H, self.y + h)
        if x0 >= x1 or y0 >= y1:
            return
        sy, sx = slice(y0 - self.y, y1 - self.y), slice(x0 - self.x, x1 - self.x)
        # blendLinear: (src1*w1 + src2*w0) / (w1 + w0), rounded and saturated, in C++.
        canvas[y0:y1, x0:x1] = cv2.blendLinear(self._rgb[sy, sx], canvas[y0:y1, x0:x1],
                                               self._w1[sy, sx], self._w0[sy, sx])


# ----------------------------------------------------------------------------- layout

def _is_subtitle(caption: Caption, W: int, H: int) -> bool:
    s = caption.style
    x0, y0, x1, y1 = caption.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (s.align == "center" and abs(s.angle) < 1.0 and s.banner is None
            and abs(cx - W / 2) < 0.08 * W and cy > 0.6 * H)


def _upright_size(box: Box, angle: float) -> tuple[float, float]:
    """Width and height of the upright block whose rotation has ``box`` as bounding box."""
    w, h = box[2] - box[0], box[3] - box[1]
    a = math.radians(abs(angle))
    c, s = math.cos(a), math.sin(a)
    den = c * c - s * s
    if abs(angle) < 0.5 or den < 0.3:
        return float(w), float(h)
    uw, uh = (w * c - h * s) / den, (h * c - w * s) / den
    return (float(uw), float(uh)) if uw > 0 and uh > 0 else (float(w), float(h))


def _split(widths: list[float], space: float, n: int) -> tuple[float, list[int]]:
    """Break words into exactly n lines: shortest longest line, then the most even lines.

    Balanced lines are the subtitle convention; a greedy fill would leave a long first
    line over a stub. The second pass (least sum of squared widths among the splits
    whose longest line is that short) avoids a stub in the middle of three lines.
    Returns (longest width, start index of each line). Small DPs: a caption has tens of
    words and n <= 3.
    """
    k = len(widths)
    pre = [0.0]
    for w in widths:
        pre.append(pre[-1] + w)

    def line(i: int, j: int) -> float:  # words i..j-1
        return pre[j] - pre[i] + space * (j - i - 1)

    def dp(cost, combine) -> tuple[float, list[int]]:
        INF = float("inf")
        best = [[INF] * (k + 1) for _ in range(n + 1)]
        arg = [[0] * (k + 1) for _ in range(n + 1)]
        best[0][0] = 0.0
        for m in range(1, n + 1):
            for j in range(m, k + 1):
                for i in range(m - 1, j):
                    v = combine(best[m - 1][i], cost(i, j))
                    if v < best[m][j] - 1e-9:
                        best[m][j], arg[m][j] = v, i
        starts, j = [], k
        for m in range(n, 0, -1):
            starts.append(arg[m][j])
            j = arg[m][j]
        return best[n][k], starts[::-1]

    longest, _ = dp(line, max)
    cap = longest + 1e-6
    _, starts = dp(lambda i, j: line(i, j) ** 2 if line(i, j) <= cap else float("inf"),
                   lambda a, b: a + b)
    return longest, starts


@dataclass
class _Strokes:
    faux: float  # emboldening stroke (fill colour)
    outline: float  # ring width of the first outline
    outline2: float  # ring width of the second outline

    @property
    def outer(self) -> float:
        return self.faux + self.outline + self.outline2


def _strokes(style: Style, fam: FontFamily, bold: bool, size: float, scale: float) -> _Strokes:
    return _Strokes(
        faux=FAUX_BOLD * size if bold and fam.faux_bold else 0.0,
        outline=max(0.0, style.outline_width) * scale if style.outline is not None else 0.0,
        outline2=max(0.0, style.outline2_width) * scale if style.outline2 is not None else 0.0,
    )


def _lines_at(font: Face, words: list[str], n: int,
              stroke: float) -> tuple[float, list[str]]:
    """Best n-line break at this size and its real widest line (kerning included)."""
    space = font.getlength(" ")
    _, starts = _split([font.getlength(w) for w in words], space, n)
    ends = starts[1:] + [len(words)]
    lines = [" ".join(words[a:b]) for a, b in zip(starts, ends)]
    return max(font.getlength(s) for s in lines) + 2 * stroke, lines


def _layout(words: list[str], fam: FontFamily, bold: bool, style: Style, base: float,
            max_w: float, max_lines: int, min_scale: float,
            plate: tuple | None = None, target: float | None = None) -> tuple[int, float, list[str], bool]:
    """Font size, scale, lines and fitted flag, in the order: 1 line, wrap, shrink.

    ``target``: the width to keep within first (``WIDTH_TARGET`` x the Korean line): at full
    size on 1..max_lines lines, then up to HEIGHT_SLACK smaller, before the order above runs
    against ``max_w``; English that can be wrapped to the Korean's width is, rather than run
    wider than the caption it replaces or shrink below its height.

    With a banner, ``plate`` = (lines, inner width) it was made for: first fit inside it
    (wrap up to those lines, then shrink), and only then grow it to ``max_w`` and more
    lines. A news plate that changes size looks wrong sooner than smaller text does.
    """
    n_max = max(1, min(max_lines, len(words)))
    size0 = max(1, round(base))
    min_size = min(size0, max(1, math.ceil(size0 * min_scale)))

    def at(size: int, n: int) -> tuple[float, list[str]]:
        s = size / size0
        return _lines_at(fam.face(bold, size), words, n, _strokes(style, fam, bold, size, s).outer)

    def fit(n: int, lo: int, limit: float) -> tuple[int, list[str]] | None:
        """Largest size in [lo, size0] at which n lines fit the width limit."""
        w, lines = at(size0, n)
        if w <= limit:
            return size0, lines
        # Widths, strokes included, scale ~linearly with the size: jump to the estimate,
        # then step down a pixel at a time for hinting/kerning rounding.
        size = min(size0 - 1, math.floor(size0 * limit / max(w, 1e-6)))
        while size >= lo:
            w, lines = at(size, n)
            if w <= limit:
                return size, lines
            size -= 1
        return None

    if plate is None:
        tries = [(n, size0, max_w) for n in range(1, n_max + 1)] + [(n_max, min_size, max_w)]
    else:
        k, inner = max(1, min(plate[0], n_max)), min(plate[1], max_w)
        floor = min_size if len(plate) < 3 else max(min_size, math.ceil(size0 * plate[2]))
        tries = [(n, size0, inner) for n in range(1, k + 1)] + [(k, floor, inner)]
        if len(plate) < 3:  # banner: grow the plate, smallest text first
            tries += [(n, min_size, max_w) for n in range(1, n_max + 1)]
        else:  # free-floating: more lines at >= FREE_SHRINK, then shrink further
            tries += [(n, floor, max_w) for n in range(k + 1, n_max + 1)] + [(n_max, min_size, max_w)]
    if target is not None:  # full size on more lines first, then at most HEIGHT_SLACK smaller
        near = max(min_size, math.ceil(size0 * (1 - HEIGHT_SLACK)))
        # at most one line more than the Korean had: a one-line burst must not become a tower
        most = n_max if plate is None else min(n_max, max(1, plate[0]) + 1)
        tries = [(n, size0, min(max_w, target)) for n in range(1, most + 1)] + \
            [(most, near, min(max_w, target))] + tries
    for n, lo, limit in tries:
        got = fit(n, lo, limit)
        if got is not None:
            return got[0], got[0] / size0, got[1], True
    _, lines = at(min_size, n_max)
    return min_size, min_size / size0, lines, False


# ---------------------------------------------------------------------------- drawing

def _over(P: np.ndarray, A: np.ndarray, color: Any, a: np.ndarray) -> None:
    """Porter-Duff 'over' of a colour layer onto a premultiplied (P, A) stack, in place."""
    c = np.asarray(color, np.float32)
    P *= (1.0 - a)[..., None]
    P += (c * a[..., None]) if c.ndim == 3 else a[..., None] * c
    A *= 1.0 - a
    A += a


def _text_mask(size: tuple[int, int], font: Face,
               placed: list[tuple[float, float, str]], stroke: float) -> np.ndarray:
    im = Image.new("L", size, 0)
    d = ImageDraw.Draw(im)
    for x, y, s in placed:
        font.draw(d, (x, y), s, fill=255, stroke_width=stroke, stroke_fill=255)
    return np.asarray(im, np.float32) / 255.0


def _rotate(P: np.ndarray, A: np.ndarray, angle: float, center: tuple[float, float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate premultiplied layers about ``center`` on a canvas grown to hold them.

    Returns P, A and the 2x3 matrix from the old local coordinates to the new ones.
    Premultiplied, so bilinear sampling does not bleed dark transparent pixels in.
    """
    h, w = A.shape
    M = cv2.getRotationMatrix2D(center, angle, 1.0)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    pts = cv2.transform(corners[None], M)[0]
    lo = np.floor(pts.min(0)) - 1
    hi = np.ceil(pts.max(0)) + 1
    M[:, 2] -= lo
    size = (int(hi[0] - lo[0]), int(hi[1] - lo[1]))
    P2 = cv2.warpAffine(P, M, size, flags=cv2.INTER_LINEAR, borderValue=0)
    A2 = cv2.warpAffine(A, M, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return P2, A2, M


def _empty(caption: Caption) -> Sprite:
    x0, y0, x1, y1 = caption.box
    cx, cy = (x0 + x1) // 2, y1
    return Sprite(np.zeros((0, 0, 4), np.uint8), int(cx), int(cy),
                  RenderInfo((int(cx), int(cy), int(cx), int(cy)), 0, [], True, 1.0))


def _nudge(lo: float, hi: float, size: int, margin: int) -> tuple[float, bool]:
    """Shift along one axis that brings [lo, hi] inside [margin, size - margin] (centred when
    only the margins are too much), and whether it fits the frame at all."""
    if hi - lo <= size - 2 * margin:
        return max(0.0, margin - lo) - max(0.0, hi - (size - margin)), True
    if hi - lo <= size:
        return (size - (hi + lo)) / 2, True
    return 0.0, False


WIDTH_TARGET = 1.1  # English kept within this many Korean line widths where wrapping allows
HEIGHT_SLACK = 0.1  # ... and no more than this much smaller than the Korean for it


def _width_budget(caption: Caption, style: Style, W: int, H: int, base: float, font_scale: float = 1.0,
                  widen: float = 1.0) -> tuple[float, Any, bool, int, float | None]:
    """(widest line in pixels, the plate rule for ``_layout``, subtitle?, side margin, the width
    to keep within first: WIDTH_TARGET x the Korean line, None on a banner, whose plate is its
    own width rule). ``font_scale``: the user's size factor widens the budget alike, so that
    larger English is not wrapped and shrunk back to the Korean's size."""
    subtitle = _is_subtitle(caption, W, H)
    up_w, _ = _upright_size(caption.box, style.angle)
    up_w *= font_scale
    margin = max(2, round(MARGIN * W))
    frame_w = max(1.0, W - 2 * margin)
    if subtitle:
        max_w = min(frame_w, max(up_w, SUBTITLE_WIDTH * W))
    else:
        max_w = min(frame_w, max(OTHER_WIDTH * max(1.0, widen) * up_w, MIN_WIDTH_EM * base))
    plate = None
    if style.banner is not None:  # the plate's width is free to use, margins kept
        b = style.banner.box
        # on a card of several lines (one plate behind the block, far taller than this
        # caption) up to PLATE_PAD text heights of them, as ``_plate`` keeps: a short line
        # may use the card's width, not its own, rather than wrap and shrink
        pad = max(2.0, PLATE_PAD * style.text_height) if b[3] - b[1] > CARD * (caption.box[3] - caption.box[1]) \
            else float("inf")
        inner = (b[2] - b[0]) - min(pad, max(0, caption.box[0] - b[0])) - min(pad, max(0, b[2] - caption.box[2]))
        if b[2] - b[0] >= EDGE_BAND * W:
            # an edge-to-edge bar or letterbox band: its margins are the frame's, not a
            # design kept around the text, so the English may run as wide as a subtitle
            # rather than wrap or shrink to the Korean's width, or grow the band over the picture
            inner = max(inner, SUBTITLE_WIDTH * W)
        max_w = min(frame_w, max(max_w, inner))
        plate = (max(1, caption.n_rows), float(max(inner, up_w)))
    elif not subtitle:
        # A free-floating variety caption keeps its line count first (shrinking a little),
        # and wraps to more lines only after: a one-line burst that becomes a three-line
        # tower covers the picture and runs into its neighbours.
        plate = (max(1, caption.n_rows), float(max_w), FREE_SHRINK)
    target = None if style.banner is not None else max(WIDTH_TARGET * up_w, MIN_WIDTH_EM * base)
    return max_w, plate, subtitle, margin, target


@dataclass
class _Block:
    """The English block drawn upright in a local canvas (premultiplied colour P, alpha A)."""

    P: np.ndarray
    A: np.ndarray
    pad: int
    block_w: float
    block_h: float
    core_h: float  # ascender of line 1 to the baseline of the last
    outer: float  # the outermost stroke's width


def _draw_block(lines: list[str], fnt: Any, st: Any, style: Style, asc: float, desc: float, size: float,
                scale: float) -> _Block:
    outer = st.outer
    pitch = asc + desc + max(LINE_GAP * size, 2 * outer)
    widths = []
    for s in lines:
        l, _, r, _ = fnt.getbbox(s, anchor="ls", stroke_width=outer)
        widths.append((l, r))
    block_w = max(r - l for l, r in widths)
    core_h = asc + (len(lines) - 1) * pitch
    block_h = core_h + desc + 2 * outer
    sh = style.shadow
    sdx, sdy = (sh.dx * scale, sh.dy * scale) if sh else (0.0, 0.0)
    sigma = min(4.0, max(0.6, SHADOW_BLUR * size)) if sh else 0.0
    pad = int(math.ceil(outer + abs(sdx) + abs(sdy) + 3 * sigma)) + 3
    cw, ch = int(math.ceil(block_w)) + 2 * pad, int(math.ceil(block_h)) + 2 * pad
    placed = []
    for k, (s, (l, r)) in enumerate(zip(lines, widths)):
        lw = r - l
        off = {"left": 0.0, "right": block_w - lw}.get(style.align, (block_w - lw) / 2)
        placed.append((pad + off - l, pad + outer + asc + k * pitch, s))
    fill = _text_mask((cw, ch), fnt, placed, st.faux)
    ring1 = _text_mask((cw, ch), fnt, placed, st.faux + st.outline) if st.outline > 0 else fill
    ring2 = _text_mask((cw, ch), fnt, placed, outer) if st.outline2 > 0 else ring1
    P = np.zeros((ch, cw, 3), np.float32)
    A = np.zeros((ch, cw), np.float32)
    if sh:
        M = np.float32([[1, 0, sdx], [0, 1, sdy]])
        sa = cv2.warpAffine(ring2, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
        sa = cv2.GaussianBlur(sa, (0, 0), sigma) * SHADOW_OPACITY
        _over(P, A, sh.color, sa)
    if st.outline2 > 0:
        _over(P, A, style.outline2, ring2)
    if st.outline > 0:
        _over(P, A, style.outline, ring1)
    fill_col: Any = style.fill
    runs = style.runs if style.runs and len(style.runs) > 1 else None
    if style.fill2 is not None or runs:  # a gradient, or colour runs (each may be a gradient too)
        t = np.zeros(ch, np.float32)  # 0 at each line's ascender, 1 at its descender
        for _, by, _ in placed:
            rows = np.arange(int(by - asc - outer), int(math.ceil(by + desc + outer)) + 1)
            rows = rows[(rows >= 0) & (rows < ch)]
            t[rows] = np.clip((rows - (by - asc)) / max(asc + desc, 1e-6), 0, 1)

        def column(top: Any, bottom: Any) -> np.ndarray:  # (ch, 1, 3): a gradient, or one colour
            a = np.asarray(top, np.float32)
            b = a if bottom is None else np.asarray(bottom, np.float32)
            return (a * (1 - t[:, None]) + b * t[:, None])[:, None, :]

        fill_col = np.ascontiguousarray(np.broadcast_to(column(style.fill, style.fill2), (ch, cw, 3)))
        if runs:
            for run, (x0, x1, y0, y1) in _run_spans(lines, placed, fnt, runs, asc, desc, outer, cw, ch):
                fill_col[y0:y1, x0:x1] = column(run.fill, run.fill2)[y0:y1]
    _over(P, A, fill_col, fill)
    return _Block(P, A, pad, block_w, block_h, core_h, outer)


def word_runs(lines: list[str], runs: list) -> list[list[tuple[int, int, Any]]]:
    """For each English line, its words as (start, end, colour run): the Korean run at the
    word's middle, as a share of the English text's letters. Word order differs between the
    languages, so a coloured word is not mapped to its translation; what is kept is the
    line's look (a white name first, then yellow words). Also used for the .ass colours."""
    total = sum(len(s.replace(" ", "")) for s in lines) or 1
    seen = 0
    out = []
    for s in lines:
        words = []
        for m in re.finditer(r"\S+", s):
            n = m.end() - m.start()
            share = (seen + n / 2) / total
            seen += n
            run = next((r for r in runs if r.start <= share < r.end), runs[-1] if share >= 1 else runs[0])
            words.append((m.start(), m.end(), run))
        out.append(words)
    return out


def _run_spans(lines: list[str], placed: list, fnt: Any, runs: list, asc: float, desc: float, outer: float,
               cw: int, ch: int) -> list[tuple[Any, tuple[int, int, int, int]]]:
    """Where each English word is drawn (x0, x1, y0, y1 in the block), with its run."""
    out = []
    for (bx, by, _), s, words in zip(placed, lines, word_runs(lines, runs)):
        xs = [(bx + fnt.getlength(s[:a]), bx + fnt.getlength(s[:b])) for a, b, _ in words]
        y0, y1 = max(0, int(by - asc - outer) - 1), min(ch, int(math.ceil(by + desc + outer)) + 2)
        for k, ((_, _, run), (wx0, wx1)) in enumerate(zip(words, xs)):
            # a word's columns reach half way to its neighbours, so outlines of letters are whole
            left = 0 if k == 0 else (xs[k - 1][1] + wx0) / 2
            right = cw if k == len(words) - 1 else (wx1 + xs[k + 1][0]) / 2
            out.append((run, (max(0, int(left)), min(cw, int(math.ceil(right))), y0, y1)))
    return out


CENTRED = 0.01  # of the frame width: a subtitle centred this near the frame's centre is centred on it


def _anchor(caption: Caption, style: Style, blk: _Block, W: int, H: int) -> tuple[float, float, float, float]:
    """Local point (ax, ay) of the block that goes to frame point (fx, fy). A subtitle whose
    Korean is centred within CENTRED of the frame's centre has its English centred on it: the
    subtitle tool centred the Korean, whose ink box is off by the shapes of its end glyphs
    (a real subtitle track measured 960-966 on a 1920-wide frame), and a track of English lines
    that wander by those pixels needs a position of its own for each line in an ASS file."""
    x0, y0, x1, y1 = caption.box
    pad, outer, core_h, block_w = blk.pad, blk.outer, blk.core_h, blk.block_w
    core_top = pad + outer  # local y of line 1's ascender line
    if abs(style.angle) >= 0.5 or style.banner is not None:
        ay, fy = core_top - outer + (core_h + 2 * outer) / 2, (y0 + y1) / 2
    elif (y0 + y1) / 2 >= H / 2:
        ay, fy = core_top + core_h + outer, y1  # subtitles grow upward
    else:
        ay, fy = core_top - outer, y0
    if abs(style.angle) >= 0.5 or style.align not in ("left", "right"):
        ax, fx = pad + block_w / 2, (x0 + x1) / 2
        if _is_subtitle(caption, W, H) and abs(fx - W / 2) <= CENTRED * W:
            fx = W / 2
    elif style.align == "left":
        ax, fx = pad, x0
    else:
        ax, fx = pad + block_w, x1
    return ax, ay, fx, fy


FONT_SCALES = (0.25, 4.0)  # the --font-scale range


def check_font_scale(font_scale: float) -> float:
    """``font_scale`` as a float, or ValueError with the range."""
    f = float(font_scale)
    if not (math.isfinite(f) and FONT_SCALES[0] <= f <= FONT_SCALES[1]):
        raise ValueError(f"font scale must be between {FONT_SCALES[0]:g} and {FONT_SCALES[1]:g}, got {font_scale!r}")
    return f


def _shifted(caption: Caption, dx: int, dy: int) -> Caption:
    """``caption`` with its box and its plate's box moved by (dx, dy)."""
    st = caption.style
    if st.banner is not None:
        b = st.banner.box
        st = dataclasses.replace(st, banner=dataclasses.replace(st.banner, box=(b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy)))
    x0, y0, x1, y1 = caption.box
    return dataclasses.replace(caption, box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy), style=st)


def prepare(caption: Caption, text: str, frame_shape: tuple[int, ...], *, font: FontArg = None,
            max_lines: int | None = None, min_scale: float = 0.6, font_scale: float = 1.0,
            bounds: Box | None = None, widen: float = 1.0) -> Sprite:
    """Lay out ``text`` in ``caption``'s style for a frame of ``frame_shape`` (H, W[, C]).

    ``font_scale``: the English this much larger (or smaller) than the size matched to the
    Korean, and its width budget with it. ``bounds``: the part of the frame that is the
    caption's picture (a collage's tile, ``kseg.detect.panels``), laid out as if it were the
    frame, so that English grown from a caption at a tile's edge does not run into the next
    tile. ``widen``: a caption that is not a subtitle may run this many times wider than its
    usual budget (OTHER_WIDTH Korean lines; ``place`` lets one that clashes with a neighbour run
    wider into free space rather than wrap onto it or shrink). Raises InputError for an unreadable ``font``,
    ValueError for a font scale outside FONT_SCALES. Empty text gives an empty sprite.
    """
    H, W = int(frame_shape[0]), int(frame_shape[1])
    if H < 1 or W < 1:
        raise ValueError(f"frame_shape must be at least 1x1, got {tuple(frame_shape)}")
    if bounds is not None and tuple(bounds) != (0, 0, W, H):
        x0, y0, x1, y1 = (int(v) for v in bounds)
        sp = prepare(_shifted(caption, -x0, -y0), text, (y1 - y0, x1 - x0), font=font, max_lines=max_lines,
                     min_scale=min_scale, font_scale=font_scale, widen=widen)
        return _moved(sp, y0, x0)
    font_scale = check_font_scale(font_scale)
    fam = load_family(font)
    words = text.split()
    if not words:
        return _empty(caption)
    style = caption.style
    bold = style.weight > BOLD_WEIGHT
    rpath, rindex = fam.bold if bold else fam.regular
    asc_em, desc_em = _metrics(rpath, rindex)

    # --- size: Korean ink height -> Latin ascender height
    th = style.text_height
    if not (math.isfinite(th) and th >= 1):  # unmeasured: from the box and line count
        ring = max(0.0, style.outline_width) + max(0.0, style.outline2_width)
        th = max(1.0, ((caption.box[3] - caption.box[1]) - 2 * ring) / max(1, caption.n_rows) / 1.25)
    base = max(1.0, font_scale * th / asc_em)
    max_w, plate, subtitle, margin, target = _width_budget(caption, style, W, H, base, font_scale, widen)
    n_lines = max_lines if max_lines is not None else (2 if subtitle or style.banner else 3)
    if n_lines < 1:
        raise ValueError(f"max_lines must be >= 1, got {n_lines}")
    min_scale = min(1.0, max(0.05, float(min_scale)))
    size, scale, lines, fitted = _layout(words, fam, bold, style, base, max_w, n_lines, min_scale,
                                         plate, target)
    blk = _draw_block(lines, fam.face(bold, size), _strokes(style, fam, bold, size, scale), style,
                      asc_em * size, desc_em * size, size, scale)
    P, A, pad, outer = blk.P, blk.A, blk.pad, blk.outer
    ax, ay, fx, fy = _anchor(caption, style, blk, W, H)
    # the block's own rectangle in local coordinates (for box, clamping, banner)
    rect = np.array([[pad, pad], [pad + blk.block_w, pad], [pad + blk.block_w, pad + blk.block_h],
                     [pad, pad + blk.block_h]], np.float32)
    if abs(style.angle) >= 0.01:
        centre = (pad + blk.block_w / 2, pad + (blk.core_h + 2 * outer) / 2)
        P, A, R = _rotate(P, A, style.angle, centre)
        ax, ay = (R @ np.array([ax, ay, 1.0], np.float32)).tolist()
        rect = cv2.transform(rect[None], R)[0]
    ox, oy = fx - ax, fy - ay  # local -> frame translation
    bx0, by0 = rect.min(0) + (ox, oy)
    bx1, by1 = rect.max(0) + (ox, oy)
    if style.banner is not None and abs(style.angle) < 0.5:
        # English wider than its Korean but narrower than the plate slides along the plate
        # rather than grow it past an end: centred on a line set off-centre on a long bar, it
        # ran out of the bar's left end and a plate was drawn over the bar's slanted cap
        shift = _into_plate(caption.box, style, bx0, bx1)
        ox, bx0, bx1 = ox + shift, bx0 + shift, bx1 + shift
    # keep the block inside the frame when it fits (a caption near an edge shifts inward)
    dx, fits_x = _nudge(bx0, bx1, W, margin)
    dy, fits_y = _nudge(by0, by1, H, max(1, round(0.01 * H)))
    fitted = fitted and fits_x and fits_y
    ox, oy = round(ox + dx), round(oy + dy)  # whole pixels: the sprite is pasted, not resampled
    lo, hi = rect.min(0), rect.max(0)
    box = (int(math.floor(lo[0] + ox)), int(math.floor(lo[1] + oy)),
           int(math.ceil(hi[0] + ox)), int(math.ceil(hi[1] + oy)))
    sx, sy = ox, oy  # sprite top-left in the frame
    if style.banner is not None:  # the banner plate, outside the old plate only
        P, A, sx, sy = _plate(P, A, sx, sy, caption.box, box, style, outer, desc_em * size, W, H)
    # straight alpha, cropped to the ink
    ys, xs = np.nonzero(A > 0.5 / 255)
    if len(xs) == 0:
        return _empty(caption)
    ry0, ry1, rx0, rx1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    P, A = P[ry0:ry1, rx0:rx1], A[ry0:ry1, rx0:rx1]
    rgb = np.where(A[..., None] > 1e-6, P / np.maximum(A, 1e-6)[..., None], 0.0)
    rgba = np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(A * 255 + 0.5, 0, 255)]).astype(np.uint8)
    missing = fam.face(bold, size).missing(" ".join(lines))
    return Sprite(rgba, int(sx + rx0), int(sy + ry0), RenderInfo(box, size, lines, fitted, scale, missing), bold=bold,
                  font=rpath, plated=style.banner is not None)


def _plate_margins(kbox: Box, style: Style) -> tuple[float, float, float, float]:
    """The Korean's margins on its plate (left, top, right, bottom), up to PLATE_PAD text
    heights each: what the English keeps round it on the plate. A plate far wider or taller
    than its line (one plate behind a block of lines) needs no growing for English that stays
    well inside it, and a rectangle grown round a rounded plate shows."""
    assert style.banner is not None
    b0, b1, b2, b3 = style.banner.box
    pad = max(2.0, PLATE_PAD * style.text_height)
    return (min(pad, max(0, kbox[0] - b0)), min(pad, max(0, kbox[1] - b1)),
            min(pad, max(0, b2 - kbox[2])), min(pad, max(0, b3 - kbox[3])))


def _into_plate(kbox: Box, style: Style, bx0: float, bx1: float) -> float:
    """How far right to move a block spanning [bx0, bx1] so that it keeps the Korean's side
    margins on its plate (``_plate_margins``); 0 when it fits already or cannot fit (then the
    plate grows round it)."""
    assert style.banner is not None
    b0, _, b2, _ = style.banner.box
    ml, _, mr, _ = _plate_margins(kbox, style)
    lo, hi = b0 + ml, b2 - mr
    if bx1 - bx0 > hi - lo:
        return 0.0
    return max(0.0, lo - bx0) - max(0.0, bx1 - hi)


def _plate(P: np.ndarray, A: np.ndarray, sx: int, sy: int, kbox: Box, ebox: Box, style: Style,
           outer: float, desc: float, W: int, H: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Put the enlarged banner plate under the text, where the old plate does not reach."""
    bn = style.banner
    assert bn is not None
    b0, b1, b2, b3 = bn.box
    ml, mt, mr, mb = _plate_margins(kbox, style)  # kept round the English
    # the English box already includes descenders below the Korean-matched baseline
    want = (ebox[0] - ml, ebox[1] - mt, ebox[2] + mr, max(ebox[3] - desc, ebox[1]) + mb)
    want = (int(want[0]), int(want[1]), int(want[2]), int(max(want[3], ebox[3] + 1)))
    r = (max(0, min(want[0], b0)), max(0, min(want[1], b1)),
         min(W, max(want[2], b2)), min(H, max(want[3], b3)))
    if r[0] >= r[2] or r[1] >= r[3] or (r[0] >= b0 and r[1] >= b1 and r[2] <= b2 and r[3] <= b3):
        return P, A, sx, sy
    if bn.opacity >= 0.98:  # drawn again whole: over the old plate's rim too, or it shows round it
        rl, rt, rr, rb = bn.rim
        r = (max(0, min(r[0], b0 - rl)), max(0, min(r[1], b1 - rt)), min(W, max(r[2], b2 + rr)), min(H, max(r[3], b3 + rb)))
    h, w = A.shape
    ux0, uy0 = min(sx, r[0]), min(sy, r[1])
    ux1, uy1 = max(sx + w, r[2]), max(sy + h, r[3])
    P2 = np.zeros((uy1 - uy0, ux1 - ux0, 3), np.float32)
    A2 = np.zeros((uy1 - uy0, ux1 - ux0), np.float32)
    pa = np.zeros_like(A2)
    pa[r[1] - uy0:r[3] - uy0, r[0] - ux0:r[2] - ux0] = float(np.clip(bn.opacity, 0, 1))
    # An opaque plate is redrawn whole (hides the old plate's soft, compressed edge); a
    # translucent one only outside the old box, overlapping its 1-px edge where it grows past
    # it (on every side, the edge of a rounded plate's box was drawn as a frame round it)
    e = 1
    ib = (max(b0 + (e if r[0] < b0 else 0), r[0]), max(b1 + (e if r[1] < b1 else 0), r[1]),
          min(b2 - (e if r[2] > b2 else 0), r[2]), min(b3 - (e if r[3] > b3 else 0), r[3]))
    if bn.opacity < 0.98 and ib[0] < ib[2] and ib[1] < ib[3]:
        pa[ib[1] - uy0:ib[3] - uy0, ib[0] - ux0:ib[2] - ux0] = 0.0
    _over(P2, A2, bn.color, pa)
    # the text layers go over the plate: premultiplied over = P_top + P_bottom * (1 - A_top)
    sl = (slice(sy - uy0, sy - uy0 + h), slice(sx - ux0, sx - ux0 + w))
    P2[sl] = P + P2[sl] * (1 - A)[..., None]
    A2[sl] = A + A2[sl] * (1 - A)
    return P2, A2, ux0, uy0


CLASH_MIN_SCALE = 0.5  # how far English that runs into a neighbour may shrink to keep clear of it
CLASH_SHRINK = (0.85, 0.7, 0.6, 0.5)  # sizes tried, of the one given, when no layout keeps clear on its line
CLASH_GAP = 2  # pixels kept between two captions' English
CLASH_WIDEN = 2.0  # times the usual width budget a clashing caption (not a subtitle) may run to
_INK = 25  # alpha (of 255) from which a sprite's pixel counts as drawn


def sprite_rect(sp: Sprite) -> Box:
    """Every pixel a sprite draws (text, outline, shadow, grown plate), frame coordinates."""
    h, w = sp.rgba.shape[:2]
    return (sp.x, sp.y, sp.x + w, sp.y + h)


def _moved(sp: Sprite, dy: int, dx: int = 0) -> Sprite:
    """``sp`` moved down by ``dy`` (and right by ``dx``), sharing its pixels and blend weights (as
    the video stage's ``_draw`` moves a sprite)."""
    b = sp.info.box
    out = copy.copy(sp)
    out.x += dx
    out.y += dy
    out.info = dataclasses.replace(sp.info, box=(b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy))
    return out


def _covers(sp: Sprite, grown: np.ndarray, dy: int, ob: Sprite | Box) -> int:
    """Pixels of ``sp`` moved by ``dy`` (its ink ``grown`` by CLASH_GAP) that land on ``ob``: the
    drawn pixels of another sprite, or a box (a caption left in Korean). Pixels, not rectangles:
    a wrapped block's rectangle holds empty corners another caption may use."""
    # two plates keep no gap between them: broadcasters set a name label's plate flush on the
    # subtitle bar under it, and with a gap, any plate grown for the label's English touched the
    # bar (and the English shrank to 11 px inside the label's old plate)
    plain = isinstance(ob, Sprite) and sp.plated and ob.plated
    g = 0 if plain else CLASH_GAP
    x0, y0 = sp.x - g, sp.y + dy - g
    h, w = sp.rgba.shape[:2] if plain else grown.shape
    if isinstance(ob, Sprite):
        if not ob.rgba.size:
            return 0
        ox, oy = ob.x, ob.y
        oh, ow = ob.rgba.shape[:2]
    else:
        ox, oy, ow, oh = int(ob[0]), int(ob[1]), int(ob[2] - ob[0]), int(ob[3] - ob[1])
    ix0, iy0, ix1, iy1 = max(x0, ox), max(y0, oy), min(x0 + w, ox + ow), min(y0 + h, oy + oh)
    if ix0 >= ix1 or iy0 >= iy1:
        return 0
    mine = (sp.rgba[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0, 3] > _INK) if plain \
        else grown[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
    if isinstance(ob, Sprite):
        return int(np.count_nonzero(mine & (ob.rgba[iy0 - oy:iy1 - oy, ix0 - ox:ix1 - ox, 3] > _INK)))
    return int(np.count_nonzero(mine))


def _grown(sp: Sprite) -> np.ndarray:
    ink = np.pad(sp.rgba[..., 3] > _INK, CLASH_GAP).astype(np.uint8)
    return cv2.dilate(ink, np.ones((2 * CLASH_GAP + 1,) * 2, np.uint8)).astype(bool)


def _off_line(rect: Box, dy: int, box: Box) -> bool:
    """Whether a block (``rect`` moved down by ``dy``) has left the Korean line it replaces: the
    rows they share are less than half of the shorter one's. A viewer looks for the caption
    where it was."""
    y0, y1 = rect[1] + dy, rect[3] + dy
    return min(y1, box[3]) - max(y0, box[1]) < 0.5 * min(y1 - y0, box[3] - box[1])


def _covered(sp: Sprite, grown: np.ndarray, dy: int, others: list[Sprite | Box]) -> int:
    return sum(_covers(sp, grown, dy, o) for o in others)


def _relaid(c: Caption, text: str, alone: Sprite, tile: Box | None, others: list[Sprite | Box],
            frame_shape: tuple[int, ...], kw: dict[str, Any]) -> tuple[Sprite | None, tuple | None]:
    """``place``'s best layout of caption ``c`` (laid out ``alone`` first) against ``others``
    as they stand, and its rank (smaller is better)."""
    H = int(frame_shape[0])
    top, bottom = (tile[1], tile[3]) if tile is not None else (0, H)  # moves stay in its picture
    kept = {k: v for k, v in kw.items() if k not in ("max_lines", "min_scale")}

    def laid(n: int, shrink: float = 1.0, widen: float = 1.0) -> Sprite | None:
        """The English in at most ``n`` lines, ``shrink`` times the size it is given."""
        fs = float(kept.get("font_scale", 1.0)) * shrink
        if fs < FONT_SCALES[0]:
            return None
        sp = prepare(c, text, frame_shape, max_lines=n, min_scale=min(1.0, CLASH_MIN_SCALE / shrink),
                     bounds=tile, widen=widen, **{**kept, "font_scale": fs})
        if not (sp.rgba.size and sp.info.fitted):
            return None
        if shrink != 1.0:  # the JSON's scale stays relative to the size matched to the Korean
            sp.info = dataclasses.replace(sp.info, scale=sp.info.scale * shrink)
        return sp

    def ranked(layouts: list[Sprite]) -> tuple[Sprite | None, tuple | None]:
        best, key = None, None
        for sp in layouts:
            grown, r = _grown(sp), sprite_rect(sp)
            moves = [0]
            if c.style.banner is None:
                for o in others:
                    if _covers(sp, grown, 0, o):
                        q = sprite_rect(o) if isinstance(o, Sprite) else o
                        moves += [q[1] - CLASH_GAP - r[3], q[3] + CLASH_GAP - r[1]]
            for dy in moves:
                if abs(dy) > r[3] - r[1] or (dy and (r[1] + dy < top or r[3] + dy > bottom)):
                    continue
                k = (_covered(sp, grown, dy, others), _off_line(r, dy, c.box), dy != 0, -sp.info.scale, abs(dy))
                if key is None or k < key:
                    best, key = (_moved(sp, dy) if dy else sp), k
        return best, key

    n_max = len(alone.info.lines)
    rows = max(1, c.n_rows)
    best, key = ranked([alone] + [sp for n in range(rows, n_max) if (sp := laid(n)) is not None])
    # a caption that is not a subtitle may run wider into free space, on its own rows or a
    # few more, largest size first, until one keeps clear in place: a name label's English
    # over the subtitle bar below it was shrunk to 11 px where the wall beside the label had
    # room for it at its size (bench/real mudozzal/0006)
    if not _is_subtitle(c, int(frame_shape[1]), H) and (key is None or key[:3] != (0, False, False)
                                                          or -key[3] < 1.0):
        sizes = (1.0,) + CLASH_SHRINK
        for j, f in enumerate(sizes):
            b2, k2 = ranked([sp for n in range(rows, n_max + 1) if (sp := laid(n, f, CLASH_WIDEN)) is not None])
            if k2 is not None and (key is None or k2 < key):
                best, key = b2, k2
            if key is not None and key[:3] == (0, False, False) and -key[3] >= (sizes[j + 1] if j + 1 < len(sizes) else 0):
                break  # clear of the others, in place, larger than any smaller size can be
    if key is not None and (key[0] or key[1]):
        # still on a neighbour or off its own line: smaller, where the Korean was
        more = [sp for f in CLASH_SHRINK for n in range(rows, n_max + 1) if (sp := laid(n, f)) is not None]
        b2, k2 = ranked(more)
        if k2 is not None and k2 < key:
            best, key = b2, k2
    return best, key


def place(captions: list[Caption], texts: list[str | None], frame_shape: tuple[int, ...], *,
          obstacles: list[Sprite | Box] = (), bounds: list[Box | None] | None = None,
          **kw: Any) -> list[Sprite | None]:
    """Sprites for the captions of one frame (None where ``texts`` has none) whose drawn pixels
    keep clear of each other, of the captions left in Korean and of ``obstacles`` (English
    already on screen, or boxes).

    Each caption is laid out alone (``prepare``, kw as for it) first. Broadcast captions are
    packed tight (a one-word label over a line, a name tag over a quote), and English wrapped to
    more lines, or a plate grown for it, then covers its neighbour. One of the captions that
    clash is laid out again (the one whose best new layout ranks best, on its own line first;
    on a tie, the one whose English reaches further out of its Korean box): among its layout
    moved up or down into free space (by at most its own height; never off its plate, which
    stays in the picture), layouts with fewer lines, and, if it is not a subtitle, its own
    lines run up to CLASH_WIDEN times wider (into free space beside it), each smaller down to
    ``CLASH_MIN_SCALE`` where it must be and each moved alike, the one that covers the least of
    its neighbours wins (two plates may touch); then one
    still on its Korean line (``_off_line``: a smaller English where the Korean was beats a
    larger one moved over a face), then one left in place, then the largest, then the one moved
    least. Repeated while any caption not yet laid out again covers another. ``bounds``: each
    caption's picture (a collage's tile, or None: the frame), as ``prepare`` takes it."""
    tiles = list(bounds) if bounds is not None else [None] * len(captions)
    sprites: list[Sprite | None] = [prepare(c, t, frame_shape, bounds=b, **kw) if t is not None else None
                                    for c, t, b in zip(captions, texts, tiles)]

    def keepout(i: int) -> list[Sprite | Box]:
        out = list(obstacles)
        for j, (c, sp) in enumerate(zip(captions, sprites)):
            if j != i and sp is None:  # left in Korean
                out.append(tuple(int(v) for v in c.box))
            elif j != i and sp.rgba.size:
                out.append(sp)
        return out

    def reach(i: int) -> int:  # how far caption i's English runs out of its Korean box
        r, b = sprite_rect(sprites[i]), captions[i].box
        return max(0, b[0] - r[0]) + max(0, b[1] - r[1]) + max(0, r[2] - b[2]) + max(0, r[3] - b[3])

    done: set[int] = set()
    while True:
        hit = [i for i, sp in enumerate(sprites) if sp is not None and sp.rgba.size and i not in done
               and _covered(sp, _grown(sp), 0, keepout(i))]
        if not hit:
            break
        # of the captions that clash, the one whose best layout again ranks best is laid so (a
        # label that can run wider over free space, rather than the subtitle under it shrink),
        # staying on its own line first: English moved off its line to clear a neighbour loses
        # to the neighbour laid again where it is. On a tie, the one whose English reaches
        # further out of its Korean box.
        tries = {j: _relaid(captions[j], texts[j], sprites[j], tiles[j], keepout(j), frame_shape, kw)
                 for j in hit}

        def rank(j: int) -> tuple:
            k = tries[j][1]
            return (k is None,) + ((k[1], k[0]) + k[2:] if k is not None else ()) + (-reach(j),)

        i = min(hit, key=rank)
        done.add(i)
        sprites[i] = tries[i][0]
    return sprites


def render_caption(canvas: np.ndarray, caption: Caption, text: str, **kw: Any) -> RenderInfo:
    """``prepare`` + ``draw`` for one still frame; kw as for ``prepare``."""
    sprite = prepare(caption, text, canvas.shape, **kw)
    sprite.draw(canvas)
    return sprite.info


__all__ = ["BOLD_WEIGHT", "FONT_SCALES", "check_font_scale", "FontFamily", "RenderInfo", "Sprite", "load_family", "load_font", "missing_warning",
           "place", "prepare", "render_caption", "sprite_rect"]
