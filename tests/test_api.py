"""The library as scripts use it (issue 24): ``import kseg`` names, arrays of every kind, a
plain function as the translator."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import fake_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _frame() -> np.ndarray:
    img = np.full((120, 200, 3), 60, np.uint8)
    img[80:100, 40:160] = 255  # one white "caption" the fake stages find
    return img


def test_import_kseg_names_the_api_without_loading_torch():
    code = "import sys, kseg; print([m for m in ('torch', 'av', 'cv2') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split("\n")
    assert out[0] == "[]"
    import kseg

    # every name resolves (this process: resolving them imports torch, which a fresh one pays for)
    assert all(getattr(kseg, n) is not None for n in kseg.__all__ if n != "__version__")

    with pytest.raises(AttributeError):
        kseg.no_such_name  # noqa: B018
    assert (ROOT / "kseg" / "py.typed").exists()


def test_process_takes_rgba_grey_and_no_name():
    pipe = fake_pipeline()
    rgb = _frame()
    a = pipe.process(rgb)
    assert a.image == "<array>" and len(a.regions) == 1
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    b = pipe.process(rgba, "rgba")
    assert [r.line.box for r in b.regions] == [r.line.box for r in a.regions]
    assert np.array_equal(b.mask, a.mask)
    from kseg.errors import InputError

    with pytest.raises(InputError, match="uint8"):
        pipe.process(rgb.astype(np.float32))


def test_a_plain_function_translates():
    from kseg.pipeline import CaptionPipeline
    from kseg.translate import TranslatorError, as_translator

    seen = []

    def mine(korean: str) -> str | None:
        seen.append(korean)
        return {"안녕하세요": "Hello."}.get(korean)

    cp = CaptionPipeline(fake_pipeline(), mine)
    result, out, problems = cp.translate(_frame(), "f")
    assert seen == ["안녕하세요"] and problems["untranslated"] == []
    assert result.extra["captions"][0]["translation"] == "Hello."
    assert not np.array_equal(out, _frame())  # erased and drawn
    bad = as_translator(lambda k: 3)
    with pytest.raises(TranslatorError, match="returned int"):
        bad.translate([__import__("kseg").TranslationRequest("가")])
    with pytest.raises(TypeError, match="not a translator"):
        as_translator(42)


def test_plain_text_and_error_lines_drop_what_a_terminal_would_act_on(capsys):
    from kseg.cli.common import _error
    from kseg.errors import plain_text

    nasty = "\x1b[31mred\x1b[0m \x1b]0;title\x07ok\u202e\x00\u2066x\n2"
    assert plain_text(nasty) == "red okx\n2"
    _error(nasty)
    assert capsys.readouterr().err == "kseg: error: red okx 2\n"


def test_the_wheel_carries_the_models_and_finds_them_without_a_source_tree(tmp_path, monkeypatch):
    """`pip install .` then `kseg segment` from any folder (issue 24): the embedded models and
    their cards are package data, and the registry finds them when there is no models/ folder."""
    import zipfile

    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("kseg-*.whl"))).namelist()
    for f in ("text-sam.safetensors", "text-sam.md", "kseg-ocr.safetensors", "kseg-ocr.md", "craft-int8.json"):
        assert f"kseg/_models/{f}" in names
    assert "kseg/py.typed" in names
    from kseg.segment import registry

    pkg = tmp_path / "site" / "_models"
    pkg.mkdir(parents=True)
    monkeypatch.delenv("KSEG_MODELS", raising=False)
    monkeypatch.setattr(registry, "REPO_MODELS", tmp_path / "no-clone" / "models")
    monkeypatch.setattr(registry, "PACKAGE_MODELS", pkg)
    assert registry.models_dir() == pkg
    monkeypatch.setenv("KSEG_MODELS", str(tmp_path))
    assert registry.models_dir() == tmp_path


def test_sixteen_bit_arrays_and_srt_markup():
    pipe = fake_pipeline()
    rgb = _frame()
    a = pipe.process(rgb)
    b = pipe.process(rgb.astype(np.uint16) * 257)  # 16-bit: the same picture
    assert [r.line.box for r in b.regions] == [r.line.box for r in a.regions]
    from kseg.video.subtitles import Cue, srt_text

    srt = srt_text([Cue(0.0, 1.0, "<font color=red>Hi</font> {\\an8}there --> <3 a < b")])
    assert "Hi there -> <3 a < b" in srt and "<font" not in srt and "\\an8" not in srt


def test_package_top_functions_segment_erase_translate():
    import kseg
    from kseg.types import FrameResult

    pipe = fake_pipeline()
    img = _frame()
    result = kseg.segment(img, pipeline_obj=pipe)
    assert isinstance(result, FrameResult) and len(result.regions) == 1
    # the stage packages keep their contents
    assert kseg.segment.TextSegmenter.__name__ == "TextSegmenter" and callable(kseg.translate.get_translator)
    clean = kseg.erase(img, pipeline_obj=pipe)  # found, then inpainted
    assert clean.shape == img.shape and clean[85:95, 60:140].max() < 200 and (clean[:60] == img[:60]).all()
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[80:100, 40:160] = 255  # a mask of the caller's own: no model needed
    assert (kseg.erase(img, mask) == clean).mean() > 0.99
    english, res = kseg.translate(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]), lambda s: "Hi",
                                  pipeline_obj=pipe)  # RGBA in, a plain function as translator
    assert english.shape == img.shape and res.extra["captions"][0]["translation"] == "Hi"
    assert not (english == img).all()
    with pytest.raises(kseg.InputError, match="kseg.segment expects"):
        kseg.segment(np.zeros((4, 4), np.float32), pipeline_obj=pipe)


def test_every_public_name_has_a_docstring():
    """kseg.__all__ and every class or function docs/api.md imports, with their public methods."""
    import importlib
    import inspect
    import re

    import kseg

    def undocumented(o, name):
        out = [] if (o.__doc__ or "").strip() else [name]
        if inspect.isclass(o):
            for m, v in vars(o).items():
                f = v.__func__ if isinstance(v, (classmethod, staticmethod)) else \
                    (v.fget if isinstance(v, property) else v)
                if not m.startswith("_") and inspect.isfunction(f) and not (f.__doc__ or "").strip():
                    out.append(f"{name}.{m}")
        return out

    missing = []
    for n in kseg.__all__[1:]:
        o = getattr(kseg, n)
        missing += undocumented(getattr(kseg.api, n) if inspect.ismodule(o) else o, n)
    doc = (ROOT / "docs" / "api.md").read_text()
    for mod, names in re.findall(r"^from (kseg[\w.]*) import ([\w, ]+)", doc, re.M):
        m = importlib.import_module(mod)
        for n in (x.strip() for x in names.split(",")):
            o = getattr(m, n)
            if inspect.isclass(o) or inspect.isfunction(o):
                missing += undocumented(o, f"{mod}.{n}")
    assert missing == []
