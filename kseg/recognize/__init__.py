"""Recognise stage: one interface over the OCR engines kseg can use.

    rec = get_recognizer("auto", device="cpu")   # kseg > easyocr > tesseract > none
    r: Recognition = rec.recognize(image_rgb_uint8, line, mask)   # mask: full-frame bool or None
    available_recognizers()  # [(name, available, reason)] for `kseg models list`

``mask`` is the caption footprint of that one line (fill + outline + shadow), full frame
H x W bool, as the segment stage produces it (LineMask.mask). Recognisers use it to
drop background clutter before OCR; without it they fall back to plain thresholding.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import math
import os
import warnings
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from kseg.errors import InputError, ModelError
from kseg.imageio import as_rgb
from kseg.types import Recognition, TextLine

__all__ = [
    "Recognizer", "TesseractRecognizer", "EasyOCRRecognizer", "NoneRecognizer",
    "get_recognizer", "available_recognizers", "line_strip", "text_pixels", "NAMES",
    "is_stacked", "stack_cells",
]

log = logging.getLogger(__name__)

NAMES = ("kseg", "easyocr", "tesseract", "none")  # auto tries them in this order
TESSERACT_HINT = "apt-get install tesseract-ocr tesseract-ocr-kor"


@runtime_checkable
class Recognizer(Protocol):
    name: str

    def recognize(self, image: np.ndarray, line: TextLine, mask: np.ndarray | None) -> Recognition:
        ...


# One place decides where models live: $KSEG_CACHE / $KSEG_MODELS (see kseg.segment.registry).
from kseg.segment.registry import cache_dir, models_dir  # noqa: E402


# ---------------------------------------------------------------------------------------
# Line preparation shared by the recognisers


STRIP_MARGIN = 0.25  # x line height kept around a line strip (outline and shadow inside it)


def line_strip(
    image: np.ndarray, line: TextLine, mask: np.ndarray | None = None, margin: float = STRIP_MARGIN,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The line cut out and rotated upright (its polygon's top edge made horizontal), with
    ``margin`` x line height around it so outline and shadow are kept; the mask likewise.
    A stacked (vertical) caption comes back as its syllable cells laid side by side
    (``_stacked_strip``)."""
    image = as_rgb(image, "recognize")
    if mask is not None and mask.shape[:2] != image.shape[:2]:
        raise InputError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    stacked = _stacked_strip(image, line, mask, margin)
    if stacked is not None:
        return stacked
    poly = np.asarray(line.polygon, np.float64)
    if len(poly) == 4:
        tl, tr, _, bl = poly
    else:  # any other polygon: its axis-aligned box
        x0, y0, x1, y1 = line.box
        tl, tr, bl = np.array([x0, y0]), np.array([x1, y0]), np.array([x0, y1])
    length = max(1.0, float(np.linalg.norm(tr - tl)))
    height = max(1.0, float(np.linalg.norm(bl - tl)))
    m = max(2.0, margin * height)
    src = np.float32([tl, tr, bl])
    dst = np.float32([[m, m], [m + length, m], [m, m + height]])
    a = cv2.getAffineTransform(src, dst)
    size = (int(math.ceil(length + 2 * m)), int(math.ceil(height + 2 * m)))
    strip = cv2.warpAffine(image, a, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mstrip = None
    if mask is not None:
        mstrip = cv2.warpAffine(mask.astype(np.uint8), a, size, flags=cv2.INTER_NEAREST,
                                borderValue=0).astype(bool)
    return strip, mstrip


def text_pixels(strip: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Bool map of glyph-fill pixels in an upright line strip.

    With a mask: caption footprints are fill + outline (+ shadow) in two colour groups, so
    2-means in Lab on the masked pixels splits them and the fill is the group lying deeper
    inside the footprint (the outline wraps it). Without a mask: Otsu on grey, keeping
    the blobs that do not reach the strip border."""
    if mask is not None and mask.sum() >= 20:
        from scipy.cluster.vq import kmeans2

        lab = cv2.cvtColor(strip, cv2.COLOR_RGB2LAB).astype(np.float32)
        pts = lab[mask]
        centers, labels = kmeans2(pts, 2, seed=0, minit="++")
        if np.linalg.norm(centers[0] - centers[1]) < 12.0 or min(np.bincount(labels, minlength=2)) < 5:
            return mask.copy()  # one colour: the footprint is the glyphs
        depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)[mask]
        fill = int(np.argmax([depth[labels == k].mean() for k in (0, 1)]))
        out = np.zeros(mask.shape, bool)
        out[mask] = labels == fill
        return out
    grey = cv2.cvtColor(strip, cv2.COLOR_RGB2GRAY)
    _, bright = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Glyphs sit inside the strip's margin and (outlined captions) are cut off from the
    # background, while background blobs reach the strip edge: keep the interior blobs
    # of whichever polarity has more of them.
    candidates = [_interior(bright.astype(bool)), _interior(~bright.astype(bool))]
    return max(candidates, key=lambda t: int(t.sum()))


# ---------------------------------------------------------------------------------------
# Stacked (vertical) captions
#
# Why this is kseg's own: variety shows stack short captions top to bottom, one upright
# syllable per row. CRAFT finds such a column as one line whose polygon runs along it, and
# turning that polygon level lays every syllable on its side. No OCR library kseg uses reads
# vertical Korean (EasyOCR and Tesseract's kor model are horizontal), so the column is cut into
# syllable cells and the cells are laid side by side, which every recogniser then reads as a
# horizontal line.

STACK_RATIO = 1.6  # a line box at least this much taller than wide may be a stacked caption
_CELL = (0.45, 1.4)  # a syllable cell's height, in ink widths of the column
_CUT_INK = 0.2  # a cut row holds at most this much ink (x ink width): outline, not a stroke
_BLANK = 0.05  # a row with less ink than this (x ink width) is blank
_CELL_GAP = 0.12  # gap between laid-out cells, x ink width (Korean letter spacing)
_WORD_GAP = 0.6  # a step between cell centres this much (x ink width) over the median is a space


def _ink_width(ink: np.ndarray) -> float:
    """The column's ink width: the span of columns holding at least a tenth of the inkiest
    one's ink (a stray speck beside the column does not widen it)."""
    cols = ink.sum(0)
    dense = np.flatnonzero(cols >= 0.1 * cols.max())
    return float(dense[-1] - dense[0] + 1)


def stack_cells(ink: np.ndarray) -> list[tuple[int, int]] | None:
    """Row ranges [start, end) of the syllable cells of a stacked column, or None where the
    column does not cut into 2+ syllable-sized cells.

    ``ink``: bool glyph-fill map of the column (rows top to bottom). The cuts are chosen by
    dynamic programming over rows: each cell costs (inked height / ink width - 1)^2
    (syllables are about square; a dot or a dash is too short to be one) plus the ink of the
    row it is cut at; blank rows cost nothing. Cells come back trimmed to their inked rows.
    Plain "cut at empty rows" fails on outlined captions, whose outlines join the syllables
    with a few pixels of ink per row, and on syllables like 그 that are half as tall as they
    are wide."""
    prof = ink.sum(1).astype(np.float64)
    if prof.max(initial=0) == 0:
        return None
    cw = _ink_width(ink)
    rows = np.flatnonzero(prof > _BLANK * cw)
    if cw < 4 or rows.size == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    lo, hi = _CELL[0] * cw, _CELL[1] * cw
    inked = prof[y0:y1] > _BLANK * cw
    n = y1 - y0
    # first inked row at or after r, last inked row before r (within [y0, y1))
    nxt, prv = np.full(n + 1, n), np.full(n + 1, -1)
    for r in range(n - 1, -1, -1):
        nxt[r] = r if inked[r] else nxt[r + 1]
    for r in range(1, n + 1):
        prv[r] = r - 1 if inked[r - 1] else prv[r - 1]
    inf = float("inf")
    cost = np.full(n + 1, inf)
    back = np.full(n + 1, -1, np.int64)  # start of the cell ending at each row boundary
    cost[0] = 0.0
    span = int(math.ceil(2 * hi))  # a cell with its blank rows
    for e in range(1, n + 1):
        cut = prof[y0 + e] / cw if y0 + e < len(prof) else 0.0
        if e < n and cut > _CUT_INK:
            continue  # a cell may not end inside a stroke
        for s in range(max(0, e - span), e):
            if cost[s] == inf or nxt[s] >= e:
                continue
            ext = prv[e] - nxt[s] + 1  # the cell's inked height: its blank rows cost nothing
            if not lo <= ext <= hi:
                continue
            c = cost[s] + (ext / cw - 1.0) ** 2 + cut
            if c < cost[e]:
                cost[e], back[e] = c, s
    if cost[n] == inf:
        return None
    cells, e = [], n
    while e > 0:
        s = int(back[e])
        cells.append((y0 + int(nxt[s]), y0 + int(prv[e]) + 1))
        e = s
    cells.reverse()
    return cells if len(cells) >= 2 else None


def _stacked_strip(image: np.ndarray, line: TextLine, mask: np.ndarray | None, margin: float
                   ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A stacked caption's cells laid side by side as one upright strip (section comment), or
    None where ``line`` is not one."""
    x0, y0, x1, y1 = (int(v) for v in line.box)
    w, h = x1 - x0, y1 - y0
    if w < 4 or h < STACK_RATIO * w:
        return None
    m = int(round(max(2.0, margin * w)))
    # the box with its margin, replicated past the frame edge as line_strip does
    a = np.float32([[1, 0, m - x0], [0, 1, m - y0]])
    size = (w + 2 * m, h + 2 * m)
    crop = cv2.warpAffine(image, a, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    mcrop = None
    if mask is not None:
        mcrop = cv2.warpAffine(mask.astype(np.uint8), a, size, flags=cv2.INTER_NEAREST,
                               borderValue=0).astype(bool)
    ink = text_pixels(crop, mcrop)
    cells = stack_cells(ink)
    if cells is None:
        return None
    cw = _ink_width(ink)
    pad_x = max(1, int(round(_CELL_GAP * cw / 2)))
    ch = max(e - s for s, e in cells)
    pad_y = int(round(max(2.0, margin * ch)))
    out_h = ch + 2 * pad_y
    # Padding is the background's colour (median of the crop outside the glyphs and their
    # footprint): replicating a cell's edge row would smear its cut-row ink into streaks.
    bg_sel = ~(ink | mcrop) if mcrop is not None else ~ink
    bg = np.median(crop[bg_sel], axis=0) if bg_sel.any() else np.median(crop.reshape(-1, 3), axis=0)
    bg = tuple(int(v) for v in bg)
    # syllables sit at an even pitch; a word space shows as a longer step between centres
    pitch = float(np.median(np.diff([(s + e) / 2 for s, e in cells])))
    pieces, mpieces = [], []
    for k, (s, e) in enumerate(cells):
        left = m if k == 0 else pad_x
        right = m if k == len(cells) - 1 else pad_x
        if k and (s + e - sum(cells[k - 1])) / 2 > pitch + _WORD_GAP * cw:
            left += int(round(0.35 * cw))  # a word space, about as wide as a space is
        # the syllable's own columns (no column-wide gaps); specks of stray ink left out
        colsum = ink[s:e].sum(0)
        own = np.flatnonzero(colsum >= max(1.0, 0.1 * colsum.max()))
        xa, xb = max(0, int(own[0]) - left), min(crop.shape[1], int(own[-1]) + 1 + right)
        top = (out_h - (e - s)) // 2
        bottom = out_h - (e - s) - top
        piece = crop[s:e, xa:xb]
        pieces.append(cv2.copyMakeBorder(piece, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=bg))
        if mcrop is not None:
            mp = mcrop[s:e, xa:xb].astype(np.uint8)
            mpieces.append(cv2.copyMakeBorder(mp, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=0))
    strip = np.ascontiguousarray(np.concatenate(pieces, axis=1))
    mstrip = np.concatenate(mpieces, axis=1).astype(bool) if mcrop is not None else None
    return strip, mstrip


def is_stacked(image: np.ndarray, line: TextLine, mask: np.ndarray | None = None) -> bool:
    """Whether ``line`` is a stacked (vertical) caption, read cell by cell (section comment)."""
    return _stacked_strip(as_rgb(image, "recognize"), line, mask, STRIP_MARGIN) is not None


def _interior(binary: np.ndarray) -> np.ndarray:
    _, lab, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    h, w = binary.shape
    x, y, bw, bh = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    edge = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
    edge[0] = True  # label 0 is the other class
    return ~edge[lab]


def _ocr_image(text: np.ndarray, target_height: int = 40, pad: int = 16) -> np.ndarray | None:
    """Black-on-white binary image of the glyphs, scaled to ``target_height`` px text height
    (Tesseract's LSTM reads best around 30-50 px)."""
    rows = np.flatnonzero(text.any(1))
    cols = np.flatnonzero(text.any(0))
    if rows.size == 0:
        return None
    crop = text[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = target_height / max(1, crop.shape[0])
    w = max(1, round(crop.shape[1] * scale))
    img = np.where(crop, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (w, target_height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    img = np.where(img < 128, 0, 255).astype(np.uint8)
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _space_positions(ocr: np.ndarray, text_height: int, min_gap: float = 0.2) -> list[float]:
    """x centres of blank column runs wide enough to be word spaces (>= min_gap x height).

    Tesseract's Korean model splits words between syllables almost at random
    ("갈 래 요"); the glyph image itself shows where the real spaces are."""
    ink = (ocr < 128).any(0)
    xs = np.flatnonzero(ink)
    if xs.size == 0:
        return []
    ink = ink[xs[0]:xs[-1] + 1]
    edges = np.flatnonzero(np.diff(np.r_[1, ink.astype(np.int8), 1]))  # blank runs [a, b)
    runs = edges.reshape(-1, 2)
    return [xs[0] + (a + b) / 2 for a, b in runs if b - a >= min_gap * text_height]


def _respace(words: list[tuple[str, int, float]], spaces: list[float]) -> str:
    """Join Tesseract's words, with a space only where a blank gap lies between them."""
    out = words[0][0]
    for (_, prev_x, _), (w, x, _) in zip(words, words[1:]):
        out += (" " if any(prev_x < s < x for s in spaces) else "") + w
    return out


# ---------------------------------------------------------------------------------------
# Tesseract


@lru_cache(maxsize=1)
def _tesseract_status() -> tuple[bool, str]:
    import pytesseract

    try:
        version = pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError):
        return False, f"tesseract binary not found: {TESSERACT_HINT}"
    try:
        langs = pytesseract.get_languages(config="")
    except Exception as e:  # noqa: BLE001 - any failure here means "not usable"
        return False, f"tesseract cannot list languages ({e}): {TESSERACT_HINT}"
    if "kor" not in langs:
        return False, f"tesseract has no Korean (kor) traineddata: {TESSERACT_HINT}"
    return True, f"tesseract {version} with kor"


class TesseractRecognizer:
    """Tesseract 'kor' in single-line mode (psm 7) on mask-cleaned, binarised line strips."""

    name = "tesseract"

    def __init__(self, lang: str = "kor", psm: int = 7, target_height: int = 40):
        ok, reason = self.available()
        if not ok:
            raise ModelError(reason)
        self.lang, self.psm, self.target_height = lang, psm, target_height

    @staticmethod
    def available() -> tuple[bool, str]:
        return _tesseract_status()

    def recognize(self, image: np.ndarray, line: TextLine, mask: np.ndarray | None) -> Recognition:
        import pytesseract

        strip, mstrip = line_strip(image, line, mask)
        ocr = _ocr_image(text_pixels(strip, mstrip), self.target_height)
        if ocr is None:
            return Recognition("", self.name, 0.0)
        data = pytesseract.image_to_data(
            ocr, lang=self.lang, config=f"--psm {self.psm}", output_type=pytesseract.Output.DICT
        )
        words = [(w.strip(), int(x), float(c))
                 for w, x, c in zip(data["text"], data["left"], data["conf"]) if w.strip()]
        if not words:
            return Recognition("", self.name, 0.0)
        text = _respace(words, _space_positions(ocr, self.target_height))
        score = sum(max(c, 0.0) for _, _, c in words) / (100.0 * len(words))
        return Recognition(text, self.name, round(score, 4))


# ---------------------------------------------------------------------------------------
# EasyOCR (Korean generation-2 model; only when its weights are already on disk)

EASYOCR_MODEL = "korean_g2"


def easyocr_model_dirs() -> list[Path]:
    dirs = [cache_dir() / "easyocr"]
    env = os.environ.get("EASYOCR_MODULE_PATH") or os.environ.get("MODULE_PATH")
    dirs.append(Path(env) / "model" if env else Path.home() / ".EasyOCR" / "model")
    return dirs


def _easyocr_spec() -> dict:
    from easyocr.config import recognition_models

    return recognition_models["gen2"][EASYOCR_MODEL]


def _find_easyocr_model() -> Path | None:
    name = _easyocr_spec()["filename"]
    for d in easyocr_model_dirs():
        if (d / name).is_file():
            return d / name
    return None


class EasyOCRRecognizer:
    """EasyOCR's Korean recogniser, loaded without downloads and without unpickling code."""

    name = "easyocr"

    def __init__(self, device: str = "cpu", model_path: str | Path | None = None,
                 verify_checksum: bool = True):
        path = Path(model_path) if model_path else _find_easyocr_model()
        if path is None or not path.is_file():
            raise ModelError(self.available()[1])
        spec = _easyocr_spec()
        if verify_checksum:
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            if md5 != spec["md5sum"]:
                raise ModelError(f"{path} is corrupt (md5 {md5} != {spec['md5sum']}); delete it "
                                 f"and fetch korean_g2.pth again")
        self.device = "cuda" if device == "auto" and _cuda() else ("cpu" if device == "auto" else device)
        self.path = path
        self._load(spec)

    def _load(self, spec: dict) -> None:
        import torch
        import easyocr
        from easyocr.model.vgg_model import Model
        from easyocr.utils import CTCLabelConverter

        base = Path(easyocr.__file__).parent
        self.character = spec["characters"]
        lang_char = set(spec["symbols"])  # as easyocr.Reader(["ko", "en"]).setLanguageList
        for lang in ("ko", "en"):
            lang_char |= set((base / "character" / f"{lang}_char.txt").read_text("utf-8-sig").splitlines())
        self.lang_char = "".join(sorted(lang_char))
        self.converter = CTCLabelConverter(self.character, {}, {})  # greedy decoding: no dicts
        # easyocr.recognition.get_recognizer uses torch.load(weights_only=False), which can
        # run pickled code; the file is a plain state dict, so load it safely instead.
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            state = OrderedDict((k[7:] if k.startswith("module.") else k, v) for k, v in state.items())
            model = Model(input_channel=1, output_channel=256, hidden_size=256,
                          num_class=len(self.converter.character))
            model.load_state_dict(state)
        except Exception as e:  # noqa: BLE001 - corrupt/incompatible file
            raise ModelError(f"cannot load EasyOCR model {self.path}: {e}") from e
        self.model = model.eval().to(self.device)

    @staticmethod
    def available() -> tuple[bool, str]:
        try:
            path = _find_easyocr_model()
        except ImportError:
            return False, "easyocr is not installed (pip install easyocr)"
        if path is None:
            where = " or ".join(str(d) for d in easyocr_model_dirs())
            return False, (f"{EASYOCR_MODEL}.pth not found in {where} (kseg never downloads it "
                           "at run time; copy it there from EasyOCR's release page)")
        return True, str(path)

    def recognize(self, image: np.ndarray, line: TextLine, mask: np.ndarray | None) -> Recognition:
        from easyocr.recognition import get_text
        from easyocr.utils import get_image_list

        strip, mstrip = line_strip(image, line, mask, margin=0.1)
        if mstrip is not None and mstrip.sum() >= 20:
            # EasyOCR was trained on natural crops, so give it the strip with everything
            # outside the caption footprint flattened, rather than a binarised image.
            grey = np.where(text_pixels(strip, mstrip), 0, 255).astype(np.uint8)
        else:
            grey = cv2.cvtColor(strip, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        image_list, max_width = get_image_list([[0, w, 0, h]], [], grey, model_height=64)
        ignore = "".join(set(self.character) - set(self.lang_char))
        with warnings.catch_warnings():  # easyocr's DataLoader asks for pin_memory on CPU
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            res = get_text(self.character, 64, int(max_width), self.model, self.converter, image_list,
                           ignore, "greedy", 5, 1, 0.1, 0.5, 0.003, 0, self.device)
        if not res:
            return Recognition("", self.name, 0.0)
        _, text, conf = res[0]
        return Recognition(text, self.name, round(float(conf), 4))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ---------------------------------------------------------------------------------------
# kseg's own recogniser (models/kseg-ocr.safetensors, trained separately)

KSEG_MODEL = "kseg-ocr.safetensors"


def kseg_model_path() -> Path:
    return models_dir() / KSEG_MODEL


def _kseg_status() -> tuple[bool, str]:
    path = kseg_model_path()
    if not path.is_file():
        return False, f"not trained yet: {path} is missing"
    try:  # the model code lands with the model, as kseg/recognize/kseg_ocr.py
        importlib.import_module("kseg.recognize.kseg_ocr")
    except ModuleNotFoundError:
        return False, f"{path} exists but kseg.recognize.kseg_ocr (its loader) is missing"
    return True, str(path)


def _make_kseg(device: str, lm: str = "auto") -> Recognizer:
    ok, reason = _kseg_status()
    if not ok:
        raise ModelError(f"kseg recogniser {reason}")
    mod = importlib.import_module("kseg.recognize.kseg_ocr")
    return mod.KsegOCRRecognizer(kseg_model_path(), device=device, lm=lm)


class NoneRecognizer:
    """Reads nothing: for runs that only need masks."""

    name = "none"

    def recognize(self, image: np.ndarray, line: TextLine, mask: np.ndarray | None) -> Recognition:
        return Recognition("", self.name, 0.0)


# ---------------------------------------------------------------------------------------
# Registry


def available_recognizers() -> list[tuple[str, bool, str]]:
    """(name, available, reason) for each recogniser, in ``auto``'s order of preference."""
    return [
        ("kseg", *_kseg_status()),
        ("easyocr", *EasyOCRRecognizer.available()),
        ("tesseract", *TesseractRecognizer.available()),
        ("none", True, "always available (returns empty text)"),
    ]


def get_recognizer(name: str = "auto", device: str = "cpu", lm: str = "auto") -> Recognizer:
    """The recogniser called ``name``; ``auto`` = the first that is available and loads.
    ``lm``: kseg's Korean language model (``auto``, ``kiwi``, ``none``; see ``kseg.recognize.lm``)."""
    makers = {
        "kseg": lambda: _make_kseg(device, lm),
        "easyocr": lambda: EasyOCRRecognizer(device=device),
        "tesseract": lambda: TesseractRecognizer(),
        "none": NoneRecognizer,
    }
    if name == "auto":
        for cand, ok, reason in available_recognizers():
            if not ok:
                continue
            try:
                return makers[cand]()
            except ModelError as e:  # available on disk but broken: say so, use the next one
                log.warning("recogniser %s unusable, trying the next: %s", cand, e)
        return NoneRecognizer()
    if name not in makers:
        raise ValueError(f"unknown recogniser {name!r}; choose from auto, {', '.join(NAMES)}")
    return makers[name]()
