"""`kseg erase` and `kseg translate` as a user runs them: files, JSON, reports, exit codes.

Most tests use the stand-in stages of conftest (a white bar is the "caption") so they are
about the command's contract; `test_real_*` run the real models on the bundled examples.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import kseg.cli
import kseg.cli.frames
from conftest import ROOT, caption_frame
from kseg.cli import app


@pytest.fixture
def frame_png(tmp_path) -> Path:
    p = tmp_path / "in" / "ep01_0001.png"
    p.parent.mkdir()
    Image.fromarray(caption_frame(160, 90)).save(p)
    return p


@pytest.fixture
def tm(tmp_path) -> Path:
    p = tmp_path / "memory.tsv"
    p.write_text("# ko\ten\n안녕하세요\tHello there\n", encoding="utf-8")
    return p


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _caption_pixels() -> np.ndarray:
    return caption_frame(160, 90).min(axis=2) >= 250


def test_erase_writes_erased_png_and_changes_only_around_the_caption(cli, frame_png, tmp_path):
    out = tmp_path / "out"
    r = cli("erase", frame_png, "-o", out, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    (rec,) = _records(r.stdout)
    dest = out / "ep01_0001.erased.png"
    assert rec["outputs"] == {"erased": str(dest)}
    src = np.asarray(Image.open(frame_png).convert("RGB"))
    got = np.asarray(Image.open(dest))
    assert got.shape == src.shape
    cap = _caption_pixels()
    # the white bar is gone (inpainted from its random surroundings, which never reach 250)
    assert (got[cap].min(axis=1) >= 250).mean() < 0.05
    # far from the caption nothing moved
    near = np.zeros_like(cap)
    ys, xs = np.nonzero(cap)
    near[max(0, ys.min() - 8):ys.max() + 9, max(0, xs.min() - 8):xs.max() + 9] = True
    assert np.array_equal(got[~near], src[~near])
    assert "erase" in rec["seconds"]


def test_erase_bad_method_is_usage_error(cli, frame_png, tmp_path):
    r = cli("erase", frame_png, "-o", tmp_path / "o", "--method", "magic")
    assert r.exit_code == 2
    assert "--method" in r.stderr and "\n" not in r.stderr.strip()


def test_erase_mixed_inputs_keep_going(cli, frame_png, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    r = cli("erase", bad, frame_png, tmp_path / "missing.png", "-o", out, "--quiet")
    assert r.exit_code == 1
    assert (out / "ep01_0001.erased.png").is_file()
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("kseg: error:")]
    assert len(errors) == 2


def test_translate_tm_writes_english_frame_and_json(cli, frame_png, tm, tmp_path):
    out = tmp_path / "out"
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache",
            "--json", "--quiet")
    assert r.exit_code == 0, r.output
    (rec,) = _records(r.stdout)
    png, js = out / "ep01_0001.en.png", out / "ep01_0001.json"
    assert rec["outputs"] == {"en": str(png), "json": str(js)}
    on_disk = json.loads(js.read_text(encoding="utf-8"))
    assert on_disk == {k: v for k, v in rec.items() if k != "outputs"}
    (region,) = on_disk["regions"]
    assert region["translation"] == "Hello there" and region["caption"] == 0
    st = region["style"]
    assert st["fill"] == [255, 255, 255] and st["text_height"] > 0
    (cap,) = on_disk["captions"]
    assert cap["text"] == "안녕하세요" and cap["translation"] == "Hello there"
    assert cap["render"]["fitted"] is True and cap["render"]["lines"]
    assert {"style", "translate", "erase", "render"} <= set(on_disk["seconds"])
    img = np.asarray(Image.open(png))
    src = np.asarray(Image.open(frame_png).convert("RGB"))
    assert img.shape == src.shape and not np.array_equal(img, src)
    # the English is drawn in the caption's fill colour (white) somewhere near the caption
    x0, y0, x1, y1 = cap["render"]["box"]
    assert (img[y0:y1, x0:x1].min(axis=2) >= 240).sum() > 20


def test_translate_font_scale_draws_the_english_larger(cli, frame_png, tm, tmp_path):
    sizes = []
    for k, scale in enumerate(("1", "1.5")):
        out = tmp_path / f"out{k}"
        r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache", "--json", "--quiet",
                "--font-scale", scale)
        assert r.exit_code == 0, r.output
        (cap,) = _records(r.stdout)[0]["captions"]
        sizes.append(cap["render"]["font_size"])
    assert 1.3 * sizes[0] <= sizes[1] <= 1.6 * sizes[0], sizes


def test_english_with_characters_no_font_has_is_drawn_and_reported(cli, frame_png, tmp_path):
    """A translation that keeps Hangul (a name, ㅋㅋ) has letters neither bundled face has: drawn
    as empty boxes, so the user is told which, and how to draw them (``--font``). A mark the
    English face lacks (♪) is drawn from the fallback face and not reported."""
    tm = tmp_path / "memory.tsv"
    tm.write_text("안녕하세요\tHello 민수 ♪\n", encoding="utf-8")
    out = tmp_path / "out"
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache", "--json")
    assert r.exit_code == 0, r.output
    (cap,) = _records(r.stdout)[0]["captions"]
    assert cap["translation"] == "Hello 민수 ♪" and cap["render"]["missing"] == "민수"
    assert "has characters no font kseg draws with has (민수)" in r.stderr and "--font" in r.stderr
    tm.write_text("안녕하세요\tHello ♪\n", encoding="utf-8")
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache", "--json")
    assert r.exit_code == 0 and _records(r.stdout)[0]["captions"][0]["render"]["missing"] == ""
    assert "no font" not in r.stderr


def test_translate_tm_miss_is_reported_and_left_untouched(cli, frame_png, tmp_path):
    tm = tmp_path / "other.tsv"
    tm.write_text("잘 자\tGood night\n", encoding="utf-8")
    out = tmp_path / "out"
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "no translation for '안녕하세요'" in r.stderr
    img = np.asarray(Image.open(out / "ep01_0001.en.png"))
    assert np.array_equal(img, np.asarray(Image.open(frame_png).convert("RGB")))
    region = json.loads((out / "ep01_0001.json").read_text(encoding="utf-8"))["regions"][0]
    assert region["translation"] is None


def test_translate_tm_lines_of_marks_alone_are_skipped_with_a_warning(cli, frame_png, tmp_path):
    """A TM exported from a show's subtitles holds lines such as "!!!": one warning line names
    each, and the frame is translated from the rest."""
    tm = tmp_path / "show.tsv"
    tm.write_text("!!!\t!!!\n안녕하세요\tHello\n", encoding="utf-8")
    r = cli("translate", frame_png, "-o", tmp_path / "out", "--translator", f"tm:{tm}", "--no-cache")
    assert r.exit_code == 0, r.output
    assert f"kseg: warning: {tm}:1: '!!!' has no letters to match; skipped" in r.stderr.splitlines()
    region = json.loads((tmp_path / "out" / "ep01_0001.json").read_text(encoding="utf-8"))["regions"][0]
    assert region["translation"] == "Hello"


def test_translate_strict_miss_fails_the_frame(cli, frame_png, tmp_path):
    tm = tmp_path / "other.tsv"
    tm.write_text("잘 자\tGood night\n", encoding="utf-8")
    out = tmp_path / "out"
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--strict",
            "--no-cache", "--quiet")
    assert r.exit_code == 1
    assert "안녕하세요" in r.stderr and "--strict" in r.stderr
    assert not (out / "ep01_0001.en.png").exists()


@pytest.mark.parametrize("args, code, needle", [
    (["--translator", "google"], 2, "tm:FILE"),
    (["--translator", "openai:http://127.0.0.1:9/v1"], 2, "--llm-model"),
    (["--translator", "tm:/nonexistent/tm.tsv"], 1, "/nonexistent/tm.tsv"),
    (["--erase-method", "magic", "--translator", "tm:x"], 2, "--erase-method"),
    (["--font-scale", "9", "--translator", "tm:x"], 2, "--font-scale"),
    (["--font-scale", "0", "--translator", "tm:x"], 2, "--font-scale"),
])
def test_translate_bad_options_one_line(cli, frame_png, tmp_path, args, code, needle):
    r = cli("translate", frame_png, "-o", tmp_path / "o", *args)
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0]


def test_translate_malformed_tm_names_the_line(cli, frame_png, tmp_path):
    tm = tmp_path / "bad.tsv"
    tm.write_text("안녕하세요\tHello\nno tab on this line\n", encoding="utf-8")
    r = cli("translate", frame_png, "-o", tmp_path / "o", "--translator", f"tm:{tm}")
    assert r.exit_code == 1
    assert f"{tm}:2" in r.stderr


def test_translate_missing_font_is_one_line(cli, frame_png, tm, tmp_path):
    r = cli("translate", frame_png, "-o", tmp_path / "o", "--translator", f"tm:{tm}",
            "--font", tmp_path / "nope.ttf")
    assert r.exit_code == 1
    assert "nope.ttf" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_translator_failure_fails_that_frame_only(cli, frame_png, tmp_path, monkeypatch):
    """A translator that gives up (server down) fails the frame, names the caption, and
    the other frames are still processed."""
    from kseg.translate import TranslatorError

    class Flaky:
        name = "flaky"
        misses: list = []

        def __init__(self):
            self.calls = 0

        def translate(self, requests):
            self.calls += 1
            if self.calls == 1:
                raise TranslatorError("caption '안녕하세요': connection refused after 3 retries")
            return ["Hello"] * len(requests)

    monkeypatch.setattr(kseg.cli.frames, "_make_translator", lambda spec, **kw: Flaky())
    second = frame_png.with_name("ep01_0002.png")
    second.write_bytes(frame_png.read_bytes())
    out = tmp_path / "out"
    r = cli("translate", frame_png, second, "-o", out, "--translator", "tm:unused", "--quiet")
    assert r.exit_code == 1
    assert "connection refused" in r.stderr and "안녕하세요" in r.stderr
    assert not (out / "ep01_0001.en.png").exists()
    assert (out / "ep01_0002.en.png").is_file()


def test_help_documents_options():
    runner = CliRunner()
    for cmd, opts in {"erase": ["--method", "--out", "--json", "--quiet", "--model"],
                      "translate": ["--translator", "--llm-model", "--glossary", "--cache",
                                    "--no-cache", "--timeout", "--retries", "--strict", "--font", "--font-scale",
                                    "--erase-method", "--json", "--quiet"]}.items():
        r = runner.invoke(app, [cmd, "--help"], terminal_width=200)
        assert r.exit_code == 0
        for o in opts:
            assert o in r.stdout, (cmd, o)


@pytest.mark.slow
def test_real_translate_drama_example(tmp_path):
    """The bundled example with the real models and the bundled TM: both lines translated,
    the Korean gone, the English drawn in the subtitle's pale yellow."""
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["translate", str(ROOT / "examples/drama.png"), "-o", str(out),
                            "--translator", f"tm:{ROOT / 'examples/examples.tm.tsv'}",
                            "--no-cache", "--quiet", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (rec,) = _records(r.stdout)
    caps = rec["captions"]
    assert all(c["translation"] for c in caps)
    english = " ".join(c["translation"] for c in caps)
    assert "Are you okay?" in english and "9 tomorrow morning" in english
    from kseg.synth import render_frame

    r0 = json.loads((ROOT / "examples/drama.truth.json").read_text(encoding="utf-8"))["render"]
    meta = render_frame(r0["seed"], r0["index"], r0["split"], tuple(r0["size"]), r0["kinds"]).meta
    fill = np.array(meta["lines"][0]["style"]["fill"], float)  # the pale yellow it was drawn in
    for c in caps:
        assert np.abs(np.array(c["style"]["fill"], float) - fill).max() < 30
    img = np.asarray(Image.open(out / "drama.en.png")).astype(int)
    src = np.asarray(Image.open(ROOT / "examples/drama.png").convert("RGB")).astype(int)
    # English pixels of the fill colour exist inside the rendered boxes
    for c in caps:
        x0, y0, x1, y1 = c["render"]["box"]
        patch = img[max(0, y0):y1, max(0, x0):x1]
        assert (np.abs(patch - fill).max(axis=2) < 40).sum() > 100
    assert img.shape == src.shape


def test_translate_fuzzy_tm_match_is_used_and_reported(cli, frame_png, tmp_path):
    """OCR is rarely letter-perfect: a TM entry one syllable off is used, and said so."""
    tm = tmp_path / "near.tsv"
    tm.write_text("안녕하세여\tHi there\n아주 다른 문장입니다\tSomething else\n", encoding="utf-8")
    out = tmp_path / "out"
    r = cli("translate", frame_png, "-o", out, "--translator", f"tm:{tm}", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "not in the translation memory" in r.stderr and "'안녕하세여'" in r.stderr
    region = json.loads((out / "ep01_0001.json").read_text(encoding="utf-8"))["regions"][0]
    assert region["translation"] == "Hi there"
