"""Recognise stage: the recogniser registry and Tesseract on rendered caption lines."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import kseg.recognize as R
from kseg.detect.synthetic import Caption, background, draw_captions
from kseg.errors import ModelError
from kseg.recognize import (
    EasyOCRRecognizer, TesseractRecognizer, available_recognizers, get_recognizer,
    line_strip, text_pixels,
)
from kseg.types import Recognition, TextLine

needs_tesseract = pytest.mark.skipif(not TesseractRecognizer.available()[0],
                                     reason=TesseractRecognizer.available()[1])


def cer(got: str, want: str) -> float:
    """Character error rate, ignoring spaces (word spacing is not what we test here)."""
    from kseg.evaluate.metrics import edit_distance

    a, b = got.replace(" ", ""), want.replace(" ", "")
    return edit_distance(a, b) / max(1, len(b))


def rendered(text: str, seed: int = 0, angle: float = 0.0, fill=(255, 255, 255), stroke=(0, 0, 0)):
    img = background(960, 540, seed)
    masks: list[np.ndarray] = []
    poly = draw_captions(img, [Caption(text, (480, 470), 36, angle, fill=fill, stroke=stroke)], masks)[0]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int)
    line = TextLine((int(x0), int(y0), int(x1), int(y1)), [(int(x), int(y)) for x, y in poly], 0.9, angle)
    return img, line, masks[0]


@pytest.fixture(autouse=True)
def no_model_files(tmp_path, monkeypatch):
    """Registry tests must not see models the developer happens to have installed."""
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KSEG_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EASYOCR_MODULE_PATH", raising=False)
    monkeypatch.delenv("MODULE_PATH", raising=False)


@needs_tesseract
@pytest.mark.parametrize("text,seed,angle,fill,stroke", [
    ("오늘 밤에 같이 갈래요?", 0, 0.0, (255, 255, 255), (0, 0, 0)),
    ("그게 무슨 말이야", 2, 0.0, (255, 230, 60), (60, 20, 0)),
    ("정말 미안해 내가 잘못했어", 1, 6.0, (255, 255, 255), (0, 0, 0)),
])
def test_tesseract_reads_masked_line(text, seed, angle, fill, stroke):
    img, line, mask = rendered(text, seed, angle, fill, stroke)
    r = get_recognizer("tesseract").recognize(img, line, mask)
    assert isinstance(r, Recognition) and r.recognizer == "tesseract"
    assert cer(r.text, text) < 0.3, r.text
    assert 0.0 < r.score <= 1.0


@needs_tesseract
def test_tesseract_without_mask_falls_back_to_threshold():
    text = "오늘 밤에 같이 갈래요?"
    img, line, _ = rendered(text)
    r = TesseractRecognizer().recognize(img, line, None)
    assert cer(r.text, text) < 0.3, r.text


@pytest.mark.parametrize("fill,stroke", [((255, 255, 255), (0, 0, 0)), ((255, 230, 60), (60, 20, 0)),
                                         ((20, 20, 20), (250, 250, 250))])
def test_mask_cleaning_keeps_fill_not_outline(fill, stroke):
    img, line, mask = rendered("진짜 괜찮아?", 3, fill=fill, stroke=stroke)
    strip, mstrip = line_strip(img, line, mask)
    got = text_pixels(strip, mstrip)
    px = strip.astype(int)
    fill_px = mstrip & (np.abs(px - fill).sum(2) < np.abs(px - stroke).sum(2))  # nearer fill colour
    assert (got & fill_px).sum() / got.sum() > 0.9  # what we keep is fill...
    assert (got & fill_px).sum() / fill_px.sum() > 0.9  # ...and we keep nearly all of it


def test_registry_lists_every_recogniser_with_reason():
    rows = available_recognizers()
    assert [r[0] for r in rows] == ["kseg", "easyocr", "tesseract", "none"]
    status = {name: (ok, reason) for name, ok, reason in rows}
    assert status["kseg"][0] is False and "not trained yet" in status["kseg"][1]
    assert status["easyocr"][0] is False and "korean_g2.pth" in status["easyocr"][1]
    assert status["none"][0] is True
    with pytest.raises(ModelError, match="not trained yet"):
        get_recognizer("kseg")
    with pytest.raises(ModelError, match="korean_g2"):
        get_recognizer("easyocr")
    with pytest.raises(ValueError):
        get_recognizer("bogus")


def test_none_recogniser_and_auto_order(tmp_path):
    r = get_recognizer("none").recognize(np.zeros((10, 10, 3), np.uint8),
                                         TextLine((0, 0, 5, 5), [(0, 0), (5, 0), (5, 5), (0, 5)], 1.0), None)
    assert r == Recognition("", "none", 0.0)
    # a broken kseg model file is skipped by auto, which falls back to the next recogniser
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "kseg-ocr.safetensors").write_bytes(b"")
    assert available_recognizers()[0][0] == "kseg"
    want = "tesseract" if TesseractRecognizer.available()[0] else "none"
    assert get_recognizer("auto").name == want


def test_missing_tesseract_is_a_clear_model_error(monkeypatch):
    import pytesseract

    R._tesseract_status.cache_clear()
    real_cmd = pytesseract.pytesseract.tesseract_cmd
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    try:
        with pytest.raises(ModelError, match="apt-get install tesseract-ocr tesseract-ocr-kor"):
            TesseractRecognizer()
        assert get_recognizer("auto").name == "none"
    finally:
        R._tesseract_status.cache_clear()
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", real_cmd)
    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    try:
        with pytest.raises(ModelError, match="kor"):
            TesseractRecognizer()
    finally:
        R._tesseract_status.cache_clear()


def test_easyocr_weights_load_safely_from_kseg_cache(tmp_path):
    from easyocr.model.vgg_model import Model

    spec = R._easyocr_spec()
    torch.manual_seed(0)
    net = Model(input_channel=1, output_channel=256, hidden_size=256, num_class=len(spec["characters"]) + 1)
    path = tmp_path / "cache" / "easyocr" / "korean_g2.pth"
    path.parent.mkdir(parents=True)
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)  # as EasyOCR ships it
    assert EasyOCRRecognizer.available() == (True, str(path))
    with pytest.raises(ModelError, match="corrupt"):  # random weights are not the real file
        EasyOCRRecognizer()
    img, line, mask = rendered("안녕하세요")
    r = EasyOCRRecognizer(verify_checksum=False).recognize(img, line, mask)
    assert r.recognizer == "easyocr" and isinstance(r.text, str)
