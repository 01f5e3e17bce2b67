"""`kseg segment` keeps the issue-2 contract: files, JSON Lines, one-line errors, exit codes.

Most tests run the real typer app in-process with stand-in stages (conftest), because
the contract is about I/O, not mask quality; `test_real_*` run the real models.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import kseg.cli
import kseg.cli.frames
from conftest import ROOT, caption_frame, fake_pipeline, sha256
from kseg.cli import app
from kseg.errors import ModelError

JSON_KEYS = {"image", "width", "height", "model", "regions", "overlays", "seconds"}
REGION_KEYS = {"box", "polygon", "text", "recognizer", "ocr_score", "iou_predictions",
               "chosen", "stability", "mask_area"}


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_contract_files_and_json_lines(cli, images, tmp_path):
    out = tmp_path / "out"
    src = [images["good"], images["korean"]]
    r = cli("segment", *src, "-o", out, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    recs = _records(r.stdout)
    assert [rec["image"] for rec in recs] == [str(p) for p in src]
    for p, rec in zip(src, recs):
        stem = p.stem
        files = {k: out / f"{stem}.{k}.png" for k in ("mask", "overlay")}
        files["json"] = out / f"{stem}.json"
        assert rec["outputs"] == {k: str(v) for k, v in files.items()}
        on_disk = json.loads(files["json"].read_text(encoding="utf-8"))
        assert on_disk == {k: v for k, v in rec.items() if k != "outputs"}
        assert set(on_disk) == JSON_KEYS
        assert (on_disk["width"], on_disk["height"], on_disk["model"]) == (96, 64, "fake-sam")
        (region,) = on_disk["regions"]
        assert REGION_KEYS <= set(region)
        assert region["chosen"] == 1 and region["stability"] == 0.95 and region["text"] == "안녕하세요"
        assert {"detect", "encode", "decode", "recognize", "total"} <= set(on_disk["seconds"])

        mask = Image.open(files["mask"])
        assert mask.mode == "L" and mask.size == (96, 64)
        m = np.asarray(mask)
        expected = np.where(caption_frame(96, 64).min(axis=2) >= 250, 255, 0)
        assert np.array_equal(m, expected)
        assert region["mask_area"] == int((m == 255).sum())
        ov = Image.open(files["overlay"])
        assert ov.mode == "RGB" and ov.size == (96, 64)
    assert _no_temp_files(out)


def test_frame_without_text(cli, tmp_path):
    p = tmp_path / "plain.png"
    Image.fromarray(caption_frame(text=False)).save(p)
    r = cli("segment", p, "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.output
    (rec,) = _records(r.stdout)
    assert rec["regions"] == []
    m = np.asarray(Image.open(tmp_path / "out" / "plain.mask.png"))
    assert m.shape == (90, 160) and m.max() == 0


BAD = ["missing", "directory", "empty", "truncated", "truncated_jpg", "text", "gif", "huge"]
ODD = ["gif1", "gray", "rgba", "gray16", "rgb16", "cmyk", "exif", "korean"]


def test_mixed_good_and_bad_inputs(cli, images, tmp_path):
    out = tmp_path / "out"
    before = {k: sha256(p) for k, p in images.items() if p.is_file()}
    args = [images[k] for k in ["good"] + BAD + ODD]
    r = cli("segment", *args, "-o", out, "--json")
    assert r.exit_code == 1, r.output

    errors = [l for l in r.stderr.splitlines() if l.startswith("kseg: error: ")]
    assert len(errors) == len(BAD), r.stderr
    for k, line in zip(BAD, errors):
        assert line.startswith(f"kseg: error: {images[k]}: "), line
    assert "Traceback" not in r.stderr

    # with --json every input has its record, in the order given: a failed one says why
    recs = _records(r.stdout)
    assert [rec["image"] for rec in recs] == [str(images[k]) for k in ["good"] + BAD + ODD]
    for k, rec in zip(["good"] + BAD + ODD, recs):
        if k in BAD:
            assert rec["status"] == "failed" and rec["error"].startswith(f"{images[k]}: ") and "regions" not in rec
            assert f"kseg: error: {rec['error']}" in errors, rec
        else:
            assert "status" not in rec and "regions" in rec
    recs = [rec for rec in recs if "regions" in rec]
    for k in ["good"] + ODD:
        assert (out / f"{images[k].stem}.json").is_file()
    for k in BAD:
        assert not (out / f"{images[k].stem}.json").exists()
    for rec in recs:  # every odd format still finds the white caption line
        assert len(rec["regions"]) == 1, rec["image"]
    assert {k: sha256(p) for k, p in images.items() if p.is_file()} == before
    assert _no_temp_files(out)


def test_exif_rotated_mask_has_display_size(cli, images, tmp_path):
    r = cli("segment", images["exif"], "-o", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    (rec,) = _records(r.stdout)
    assert (rec["width"], rec["height"]) == (64, 96)
    assert Image.open(tmp_path / "rotated.mask.png").size == (64, 96)
    # The caption row near the bottom of the stored frame is a column on the left after
    # a clockwise turn.
    x0, y0, x1, y1 = rec["regions"][0]["box"]
    assert x1 - x0 < y1 - y0 and x1 <= 32


def test_same_stem_in_two_folders_is_suffixed_not_overwritten(cli, tmp_path):
    a, b = tmp_path / "ep1", tmp_path / "ep2"
    for d, seed in ((a, 1), (b, 2)):
        d.mkdir()
        Image.fromarray(caption_frame(seed=seed)).save(d / "frame.png")
    Image.fromarray(caption_frame(seed=3)).save(a / "Frame.jpg")
    out = tmp_path / "out"
    r = cli("segment", a / "frame.png", b / "frame.png", a / "Frame.jpg", a / "frame.png",
            "-o", out, "--json")
    assert r.exit_code == 0, r.output
    recs = _records(r.stdout)
    assert [Path(x["outputs"]["json"]).name for x in recs] == [
        "frame.json", "frame-2.json", "Frame-3.json"]
    assert json.loads((out / "frame-2.json").read_text())["image"] == str(b / "frame.png")
    assert "given more than once" in r.stderr and "writing frame-2.* instead" in r.stderr


def test_outputs_never_overwrite_an_input(cli, tmp_path):
    Image.fromarray(caption_frame(seed=1)).save(tmp_path / "a.png")
    Image.fromarray(caption_frame(seed=2)).save(tmp_path / "a.mask.png")  # also an input
    before = sha256(tmp_path / "a.mask.png")
    r = cli("segment", tmp_path / "a.mask.png", tmp_path / "a.png", "-o", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    assert [Path(x["outputs"]["mask"]).name for x in _records(r.stdout)] == [
        "a.mask.mask.png", "a-2.mask.png"]
    assert sha256(tmp_path / "a.mask.png") == before


@pytest.mark.parametrize("kind", ["file-parent", "is-file", "proc"])
def test_unwritable_output_is_one_line_exit_1(cli, images, tmp_path, monkeypatch, kind):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = {"file-parent": blocker / "out", "is-file": blocker, "proc": Path("/proc/kseg")}[kind]
    loads = []
    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", lambda *a: loads.append(1))
    r = cli("segment", images["good"], "-o", out)
    assert r.exit_code == 1
    assert r.stderr.startswith(f"kseg: error: {out}: cannot write") and r.stderr.count("\n") == 1
    assert loads == []  # failed before loading any model


def test_only_bad_inputs_skip_model_loading(cli, images, tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", lambda *a: loads.append(1))
    r = cli("segment", images["missing"], images["directory"], "-o", tmp_path)
    assert r.exit_code == 1 and loads == []
    assert r.stderr.count("kseg: error: ") == 2


def test_model_failure_is_one_line(cli, images, tmp_path, monkeypatch):
    def boom(*a):
        raise ModelError("embedded text model not found: models/text_sam.safetensors is missing")

    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", boom)
    r = cli("segment", images["good"], "-o", tmp_path, "--quiet")
    assert r.exit_code == 1
    assert r.stderr == "kseg: error: embedded text model not found: " \
                       "models/text_sam.safetensors is missing\n"


def test_json_has_a_failed_record_for_every_input_that_gave_no_result(cli, images, tmp_path, monkeypatch):
    """A script over a season's frames learns from stdout alone which inputs to redo: with
    --json, an input that fails has a record in its place (as --season's failed episodes do),
    whether it failed its checks, matched nothing, or never ran (the output folder or the
    model failed every input)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = str(tmp_path / "nothing*.png")
    args = [images["missing"], empty, nothing, images["good"]]
    r = cli("segment", *args, "-o", tmp_path / "out", "--json", "--quiet")
    recs = _records(r.stdout)
    assert r.exit_code == 1 and [rec["image"] for rec in recs] == [str(a) for a in args]
    assert [rec.get("status") for rec in recs] == ["failed"] * 3 + [None]
    assert [f"kseg: error: {rec['error']}" for rec in recs[:3]] == r.stderr.splitlines()
    assert "a folder with no images" in recs[1]["error"] and recs[2]["error"] == f"{nothing}: no file matches"

    def boom(*a):
        raise ModelError("embedded text model not found: models/text_sam.safetensors is missing")

    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", boom)
    r = cli("segment", images["missing"], images["good"], "-o", tmp_path / "out", "--json", "--quiet")
    recs = _records(r.stdout)
    assert r.exit_code == 1 and [(rec["image"], rec["status"]) for rec in recs] == [
        (str(images["missing"]), "failed"), (str(images["good"]), "failed")]
    assert recs[1]["error"].startswith("embedded text model not found") and "no such file" in recs[0]["error"]

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = cli("segment", images["good"], "-o", blocker, "--json", "--quiet")
    (rec,) = _records(r.stdout)
    assert r.exit_code == 1 and rec["status"] == "failed" and rec["error"].startswith(f"{blocker}: cannot write")


def test_unexpected_error_in_one_input_is_one_line(cli, images, tmp_path, monkeypatch):
    calls = []

    class Flaky:
        def __init__(self):
            self.inner = fake_pipeline()

        def process(self, image, name):
            calls.append(name)
            if len(calls) == 1:
                raise RuntimeError("CUDA error: out of memory\nmore detail")
            return self.inner.process(image, name)

    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", lambda *a: Flaky())
    r = cli("segment", images["good"], images["gray"], "-o", tmp_path, "--quiet", "--json")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"kseg: error: {images['good']}: unexpected RuntimeError: CUDA error: out of memory "
        "more detail (KSEG_DEBUG=1 shows the traceback)"]
    recs = _records(r.stdout)
    assert [rec.get("status") for rec in recs] == ["failed", None]
    assert recs[0]["error"] == r.stderr.splitlines()[0].removeprefix("kseg: error: ")


def test_progress_and_logs_on_stderr_quiet_silences(cli, images, tmp_path):
    r = cli("segment", images["good"], "-o", tmp_path)
    assert r.exit_code == 0 and r.stdout == ""
    assert f"done {images['good']}" in r.stderr
    r = cli("segment", images["good"], "-o", tmp_path, "-q")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""


def test_usage_errors_exit_2(cli, images, tmp_path):
    assert cli("segment").exit_code == 2
    assert cli("segment", images["good"], "--recognizer", "magic").exit_code == 2
    assert cli("segment", images["good"], "--device", "tpu").exit_code == 2
    assert cli("segment", images["good"], "--bogus").exit_code == 2


def test_help_documents_every_option(cli):
    r = CliRunner().invoke(app, ["segment", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for opt in ("--out", "-o", "--json", "--model", "--recognizer", "--device", "--quiet",
                "auto", "kseg", "easyocr", "tesseract", "none", "cuda"):
        assert opt in r.stdout, opt
    top = cli("--help")
    assert "segment" in top.stdout and "models" in top.stdout


def test_console_entry_point_runs(tmp_path):
    """The real process: imports, help and a usage error, as a user's shell sees them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "kseg.cli"]
    r = subprocess.run(cmd + ["segment", "--help"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and "--recognizer" in r.stdout
    r = subprocess.run(cmd + ["segment", str(tmp_path / "nope.png"), "-o", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"kseg: error: {tmp_path / 'nope.png'}: no such file\n"


# ------------------------------------------------------------------ real stages

def _real_inputs(tmp_path: Path) -> dict[str, Path]:
    from conftest import real_caption_frame

    d = tmp_path / "실제 입력"
    d.mkdir()
    img = real_caption_frame()
    paths = {"caption": d / "자막 프레임.png", "plain": d / "plain.png", "exif": d / "rot.jpg",
             "bad": d / "bad.png"}
    Image.fromarray(img).save(paths["caption"])
    Image.new("RGB", (320, 180), (90, 90, 90)).save(paths["plain"])
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(paths["exif"], "JPEG", quality=95, exif=exif)
    paths["bad"].write_text("not an image")
    return paths


def _check_real(recs: list[dict], paths: dict[str, Path], out: Path) -> None:
    by = {Path(r["image"]).name: r for r in recs}
    cap, plain, rot = by[paths["caption"].name], by["plain.png"], by["rot.jpg"]
    assert cap["model"] == "text-sam" and len(cap["regions"]) >= 1
    assert {"detect", "encode", "decode", "recognize", "total"} <= set(cap["seconds"])
    assert len(cap["regions"][0]["iou_predictions"]) == 3
    assert plain["regions"] == []
    assert np.asarray(Image.open(out / "plain.mask.png")).max() == 0
    assert (rot["width"], rot["height"]) == (360, 640)
    assert Image.open(out / "rot.mask.png").size == (360, 640)
    m = Image.open(out / f"{paths['caption'].stem}.mask.png")
    assert m.mode == "L" and m.size == (640, 360)
    assert set(np.unique(np.asarray(m))) <= {0, 255}
    assert _no_temp_files(out)


@pytest.mark.slow  # real models: in make test, not make test-fast
def test_real_detector_and_segmenter(random_text_sam, tmp_path, monkeypatch):
    """Real CRAFT + text-SAM (random weights) through the CLI; recogniser stand-in."""
    from conftest import FakeRecognizer
    from kseg.pipeline import SegmentPipeline

    monkeypatch.setenv("KSEG_MODELS", str(random_text_sam))
    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", lambda model, rec, device, lm="auto", detect="still", all_text=False, include_overlays=False: SegmentPipeline(
        model=model, device="cpu", recognizer_impl=FakeRecognizer()))
    paths = _real_inputs(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["segment", *map(str, paths.values()), "-o", str(out), "--json"])
    assert r.exit_code == 1, r.output
    errors = [l for l in r.stderr.splitlines() if l.startswith("kseg: error")]
    assert errors == [f"kseg: error: {paths['bad']}: a text file, not an image "
                      "(despite the '.png' name)"]
    _check_real(_records(r.stdout), paths, out)


@pytest.mark.slow
def test_real_cli_process(random_text_sam, tmp_path):
    """The whole `kseg segment` as a separate process, every stage real."""
    paths = _real_inputs(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KSEG_MODELS": str(random_text_sam),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "kseg.cli", "segment", *map(str, paths.values()),
                        "-o", str(out), "--json", "--recognizer", "none", "--device", "cpu"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("kseg: error: ") == 1 and "Traceback" not in r.stderr
    # kseg's own lines only: torch's FX quantization (the int8 detector) imported its flop
    # counter, which logged "triton not found" on every run of a CUDA build without triton
    assert all(line.startswith("kseg: ") for line in r.stderr.splitlines()), r.stderr
    _check_real(_records(r.stdout), paths, out)


def test_models_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KSEG_MODELS", str(tmp_path / "models"))
    r = CliRunner().invoke(app, ["models", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = _records(r.stdout)
    assert {"text-sam", "vit_b", "vit_l", "vit_h", "kseg-ocr", "kseg-fill"} <= {x["name"] for x in rows}
    assert not any(x["available"] for x in rows)
    fill = next(x for x in rows if x["name"] == "kseg-fill")
    assert "kseg train-fill" in fill["note"] and fill["path"].endswith("kseg-fill.safetensors")
    craft = next(x for x in rows if x["name"] == "craft-int8")  # the detector falls back to float
    assert "calibrate_craft" in craft["note"] and craft["path"].endswith("craft-int8.json")
    r = CliRunner().invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "vit_b" in r.stdout
    r = CliRunner().invoke(app, ["models", "pull", "vit_x"])
    assert r.exit_code == 1 and r.stderr.startswith("kseg: error: unknown model 'vit_x'")
    assert r.stderr.count("\n") == 1


def test_help_and_version_load_neither_torch_nor_pyav():
    code = ("import sys; from typer.testing import CliRunner; from kseg.cli import app; "
            "r = CliRunner().invoke(app, sys.argv[1:]); "
            "heavy = [m for m in ('torch', 'av', 'cv2') if m in sys.modules]; "
            "print(r.exit_code, heavy, r.output.splitlines()[0] if r.output else '')")
    for args in (["--help"], ["--version"], ["segment", "--help"], ["translate-video", "--help"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             check=True).stdout.split(" ", 2)
        assert out[0] == "0" and out[1] == "[]", (args, out)
    r = subprocess.run([sys.executable, "-m", "kseg.cli", "--version"], capture_output=True, text=True)
    from kseg import __version__

    assert r.returncode == 0 and r.stdout.strip() == f"kseg {__version__}"


def test_erase_methods_in_the_help_are_the_erase_stages():
    from kseg.cli.frames import ERASE_METHODS
    from kseg.erase import METHODS

    assert ERASE_METHODS == METHODS


def test_folders_and_globs_are_inputs(cli, images, tmp_path):
    import shutil

    shots = tmp_path / "shots"
    shots.mkdir()
    for k in ("one", "two"):
        shutil.copy(images["good"], shots / f"{k}.png")
    (shots / "notes.txt").write_text("not an image")
    r = cli("segment", shots, "-o", tmp_path / "a", "--json", "--quiet")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    r = cli("segment", str(shots / "*.png"), "-o", tmp_path / "b", "--json", "--quiet")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("segment", empty, str(tmp_path / "nothing*.png"), images["good"], "-o", tmp_path / "c", "--quiet")
    assert r.exit_code == 1 and "a folder with no images" in r.stderr and "no file matches" in r.stderr
    assert (tmp_path / "c" / "good.json").exists()  # the other input is still done


def test_plain_progress_lines_at_a_steady_interval(monkeypatch):
    from kseg.cli import progress

    lines = []
    monkeypatch.setattr(progress._stderr, "print", lambda s, **kw: lines.append(s))
    now = [0.0]
    p = progress._PlainProgress(every=10.0)
    p.clock = lambda: now[0]
    p.last = 0.0
    for i in range(1, 101):
        now[0] = i * 0.5  # 2 frames a second
        p("render", i * 2, 200)
    assert len(lines) == 5 and lines[0] == "kseg: rendering 40/200 frames (20%), 4.0 frames/s, ETA 0:40"
    assert lines[-1].startswith("kseg: rendering 200/200 frames (100%)")


def test_plain_progress_of_a_stage_done_at_once_has_no_rate(monkeypatch):
    """Every caption found in the cache: the translate stage reports 7/7 in its first call, and
    printed "7000000000.0 captions/s"."""
    from kseg.cli import progress

    lines = []
    monkeypatch.setattr(progress._stderr, "print", lambda s, **kw: lines.append(s))
    now = [100.0]
    p = progress._PlainProgress(every=10.0)
    p.clock = lambda: now[0]
    p("translate", 7, 7)
    now[0] = 111.0
    p("analyse", 3, None)  # a stage's first report, no total
    assert lines == ["kseg: translating 7/7 captions (100%)", "kseg: analysing 3 frames"]


def test_no_color_is_honoured():
    import re

    colour = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    forced = subprocess.run([sys.executable, "-m", "kseg.cli", "--help"], capture_output=True, text=True, env=env)
    plain = subprocess.run([sys.executable, "-m", "kseg.cli", "--help"], capture_output=True, text=True,
                           env={**env, "NO_COLOR": "1"})
    assert colour.search(forced.stdout) and not colour.search(plain.stdout)


@pytest.mark.parametrize("command", ["segment", "erase", "translate"])
def test_detect_profile_option_reaches_the_pipeline(cli, images, tmp_path, monkeypatch, command):
    from conftest import fake_pipeline

    seen = []
    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", lambda *a: seen.append(a) or fake_pipeline())
    tm = tmp_path / "memory.tsv"
    tm.write_text("안녕\thello\n", encoding="utf-8")
    extra = ["-t", f"tm:{tm}", "--no-cache"] if command == "translate" else []
    r = cli(command, images["good"], "-o", tmp_path / "a", *extra)
    assert r.exit_code == 0, r.output
    r = cli(command, images["good"], "-o", tmp_path / "b", "--detect", "video", *extra)
    assert r.exit_code == 0, r.output
    assert [a[4] for a in seen] == ["still", "video"] and [a[5] for a in seen] == [False, False]
    r = cli(command, images["good"], "-o", tmp_path / "c", "--all-text", *extra)
    assert r.exit_code == 0, r.output
    assert seen[-1][5] is True
    r = cli(command, images["good"], "--detect", "fast")
    assert r.exit_code == 2 and "--detect" in r.output + r.stderr
