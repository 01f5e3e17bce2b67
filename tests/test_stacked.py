"""Stacked (vertical) captions: a column of upright syllables is read as a horizontal line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kseg.detect.synthetic import Caption, background, draw_captions
from kseg.recognize import is_stacked, line_strip, stack_cells, text_pixels
from kseg.types import TextLine

MODEL = Path(__file__).resolve().parents[1] / "models" / "kseg-ocr.safetensors"


def stacked(text: str, size: int = 40, seed: int = 0, along: bool = True, pitch: float = 1.08,
            fill=(255, 170, 40), stroke=(120, 20, 0), plain: bool = False):
    """``text`` drawn one syllable per row, top to bottom, on a busy background (``plain``: a
    flat dark one, a plate); the line as CRAFT reports such a column (``along``: its polygon's
    top edge runs down the column) or as a plain axis-aligned box."""
    img = np.full((480, 640, 3), 40, np.uint8) if plain else background(640, 480, seed)
    masks: list[np.ndarray] = []
    caps = [Caption(ch, (120, 60 + k * pitch * size), size, fill=fill, stroke=stroke) for k, ch in enumerate(text)]
    polys = draw_captions(img, caps, masks)
    pts = np.concatenate(polys)
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    if along:  # TL, TR, BR, BL with "top" the column's right edge, as CRAFT gives it
        poly = [(x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    else:
        poly = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    mask = np.logical_or.reduce(masks)
    return img, TextLine((int(x0), int(y0), int(x1), int(y1)), poly, 0.9, -90.0 if along else 0.0), mask


def centres(text: str, size: int = 40, pitch: float = 1.08) -> list[float]:
    return [60 + k * pitch * size for k in range(len(text))]


@pytest.mark.parametrize("text", ["그래이맛이야", "오늘도화이팅", "대박"])
def test_cells_are_the_syllables(text):
    img, line, mask = stacked(text)
    x0, y0, x1, y1 = line.box
    ink = text_pixels(img[y0:y1, x0:x1], mask[y0:y1, x0:x1])
    cells = stack_cells(ink)
    assert cells is not None and len(cells) == len(text)
    for (s, e), cy in zip(cells, centres(text)):
        assert s <= cy - y0 <= e  # each cell holds its own syllable's centre


@pytest.mark.parametrize("along", [True, False])
@pytest.mark.parametrize("use_mask", [True, False])
def test_stacked_caption_strip_is_upright_and_wide(along, use_mask):
    # without a mask (no SAM) glyphs are found by thresholding, which needs a plain background
    img, line, mask = stacked("그래이맛이야", along=along, plain=not use_mask)
    strip, mstrip = line_strip(img, line, mask if use_mask else None)
    h, w = strip.shape[:2]
    assert w > 4 * h  # six syllables side by side, not one column lying on its side
    assert (mstrip is not None) == use_mask and (mstrip is None or mstrip.shape == (h, w))
    assert is_stacked(img, line, mask if use_mask else None)


@pytest.mark.skipif(not MODEL.exists(), reason="models/kseg-ocr.safetensors not in this checkout")
@pytest.mark.parametrize("text,seed", [("그래이맛이야", 0), ("오늘도화이팅", 3), ("진짜대박", 5)])
@pytest.mark.parametrize("use_mask", [True, False])
def test_kseg_reads_stacked_caption(text, seed, use_mask):
    from kseg.evaluate.metrics import edit_distance
    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    img, line, mask = stacked(text, seed=seed, plain=not use_mask)
    got = KsegOCRRecognizer(MODEL).recognize(img, line, mask if use_mask else None).text.replace(" ", "")
    assert edit_distance(got, text) <= 1, got  # read sideways it is all wrong (6 of 6)


@pytest.mark.parametrize("text", ["!", "1", "?", "I", "가"])
def test_single_tall_glyphs_are_not_stacked(text):
    """A lone tall glyph (or one syllable stretched tall) must not be cut into cells."""
    img = background(640, 480, 1)
    masks: list[np.ndarray] = []
    poly = draw_captions(img, [Caption(text, (300, 240), 120)], masks)[0]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int)
    if y1 - y0 < 1.6 * (x1 - x0):  # make the box tall: a syllable squeezed by the detector
        cx = (x0 + x1) // 2
        half = int((y1 - y0) / 3.4)
        x0, x1 = cx - half, cx + half
    line = TextLine((int(x0), int(y0), int(x1), int(y1)),
                    [(int(x0), int(y0)), (int(x1), int(y0)), (int(x1), int(y1)), (int(x0), int(y1))], 0.9)
    for m in (masks[0], None):
        assert not is_stacked(img, line, m), text


def test_horizontal_line_is_not_stacked():
    img = background(960, 540, 0)
    masks: list[np.ndarray] = []
    poly = draw_captions(img, [Caption("오늘 밤에 같이 갈래요?", (480, 470), 36)], masks)[0]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int)
    line = TextLine((int(x0), int(y0), int(x1), int(y1)), [(int(x), int(y)) for x, y in poly], 0.9)
    assert not is_stacked(img, line, masks[0])
    strip, _ = line_strip(img, line, masks[0])
    assert strip.shape[1] > 5 * strip.shape[0]


def test_stack_cells_rejects_empty_and_blank():
    assert stack_cells(np.zeros((200, 40), bool)) is None
    one = np.zeros((200, 40), bool)
    one[20:180, 15:25] = True  # one stroke, top to bottom: nowhere to cut
    assert stack_cells(one) is None


@pytest.mark.skipif(not MODEL.exists(), reason="models/kseg-ocr.safetensors not in this checkout")
def test_video_fuses_stacked_frames():
    """Video reads a caption once from all its frames (``fuse`` over ``line_strip``s): a stacked
    caption's strips from noisy frames must line up cell for cell."""
    from kseg.evaluate.metrics import edit_distance
    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    img, line, mask = stacked("오늘도화이팅", seed=3)
    rng = np.random.default_rng(0)
    strips = []
    for _ in range(5):
        noisy = np.clip(img.astype(np.int16) + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        strips.append(line_strip(noisy, line, mask))
    assert len({s.shape for s, _ in strips}) == 1  # the same cells in every frame
    got = KsegOCRRecognizer(MODEL).fuse(strips)[0].replace(" ", "")
    assert edit_distance(got, "오늘도화이팅") <= 1, got
