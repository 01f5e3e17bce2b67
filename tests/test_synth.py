"""The data engine: exact, nested, deterministic ground truth and a real held-out split."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kseg.evaluate import Acc
from kseg.synth import EVAL_FAMILIES, fonts_for, generate, list_frames, read_frame, render_frame
from kseg.synth.corpus import ks_x_1001_syllables


def test_ks_x_1001_has_2350_syllables():
    s = ks_x_1001_syllables()
    assert len(s) == 2350 and s[0] == "가" and len(set(s)) == 2350


def test_frames_are_a_pure_function_of_seed_and_index():
    a = render_frame(3, 7, "train", size=(640, 360))
    b = render_frame(3, 7, "train", size=(640, 360))
    c = render_frame(3, 8, "train", size=(640, 360))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert a.meta == b.meta
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("kind", ["drama", "variety", "news"])
def test_masks_are_nested_and_lines_own_their_pixels(kind):
    fr = render_frame(1, 2, "train", size=(800, 450), kinds=[kind])
    assert fr.image.shape == (450, 800, 3) and fr.label.shape == (450, 800)
    fill, ink, foot = fr.label >= 3, fr.label >= 2, fr.label >= 1
    assert fill.any() and not (fill & ~ink).any() and not (ink & ~foot).any()
    assert not ((fr.line_ids > 0) & ~foot).any()
    for i, ln in enumerate(fr.meta["lines"]):
        x0, y0, x1, y1 = ln["box"]
        own_ink = ink & (fr.line_ids == i + 1)
        ys, xs = np.nonzero(own_ink)
        assert xs.min() >= x0 - 1 and xs.max() < x1 + 1 and ys.min() >= y0 - 1 and ys.max() < y1 + 1
        assert ln["text"].strip()
        assert ln["style"]["kind"] == kind


def test_clean_plate_differs_from_frame_only_near_captions():
    fr = render_frame(0, 5, "train", size=(640, 360), kinds=["drama"])
    diff = np.abs(fr.image.astype(int) - fr.clean.astype(int)).max(axis=2)
    grown = np.zeros_like(fr.label, bool)
    import cv2

    grown = cv2.dilate((fr.label > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    # outside the caption neighbourhood only noise/codec differences remain
    assert np.percentile(diff[~grown], 99) < 40
    assert diff[fr.label >= 3].mean() > 10


def test_eval_split_uses_only_held_out_fonts():
    train = {f.family for f in fonts_for("train")}
    held = {f.family for f in fonts_for("eval")}
    assert held and held <= EVAL_FAMILIES and not (train & EVAL_FAMILIES)
    fr = render_frame(0, 1, "eval", size=(640, 360), kinds=["drama"])
    assert all(ln["font"]["family"] in EVAL_FAMILIES for ln in fr.meta["lines"])


def test_generate_writes_the_documented_format_and_resumes(tmp_path):
    stems = generate(tmp_path, 2, seed=0, split="eval")
    assert list_frames(tmp_path) == stems
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["n"] == 2 and man["split"] == "eval"
    for s in stems:
        for suffix in (".png", ".clean.png", ".label.png", ".lines.png", ".json"):
            assert (tmp_path / f"{s}{suffix}").exists()
    fr = read_frame(tmp_path, stems[0])
    assert fr.label.dtype == np.uint8 and fr.label.max() <= 3
    mtime = (tmp_path / f"{stems[0]}.png").stat().st_mtime_ns
    generate(tmp_path, 3, seed=0, split="eval")
    assert (tmp_path / f"{stems[0]}.png").stat().st_mtime_ns == mtime  # kept, not re-rendered
    assert len(list_frames(tmp_path)) == 3


def test_metrics_on_known_masks():
    a = np.zeros((50, 50), bool)
    a[10:30, 10:30] = True
    acc = Acc()
    acc.add(a, a)
    assert acc.row() == {"fgIoU": 1.0, "F": 1.0, "bF": 1.0, "intersection": 400, "union": 400}
    b = np.zeros_like(a)
    b[10:30, 20:40] = True
    acc = Acc()
    acc.add(b, a)
    assert acc.row()["fgIoU"] == pytest.approx(200 / 600)
    acc.add(a, a)  # accumulated, not averaged: (200 + 400) / (600 + 400)
    assert (acc.row()["intersection"], acc.row()["union"]) == (600, 1000) and acc.row()["fgIoU"] == 0.6


def test_train_faces_are_recorded_so_another_installed_font_changes_nothing(monkeypatch, tmp_path):
    import kseg.synth as synth

    faces = synth.korean_fonts()
    base = fonts_for("train")
    assert len(base) == 39 and {(f.family, f.style) for f in base} == synth.TRAIN_FACES, "set-up's packages give the recorded faces"
    installed = fonts_for("train", "installed")
    assert [f for f in installed if f in base] == base  # the same faces in the same order, maybe more
    extra = synth.FontFace(base[0].path.replace(".tt", "-Extra.tt"), 0, "Extra Gothic", "Regular")
    monkeypatch.setattr(synth, "korean_fonts", lambda: (extra,) + faces)
    assert fonts_for("train") == base
    assert fonts_for("train", "installed") == [extra] + installed
    assert fonts_for("eval") == fonts_for("eval", "installed")
    with pytest.raises(ValueError):
        fonts_for("train", "all")


def test_synth_refuses_to_mix_datasets_or_fonts_in_one_folder(tmp_path):
    from typer.testing import CliRunner

    from kseg.cli import app

    r = CliRunner().invoke(app, ["synth", "-o", str(tmp_path / "e"), "-n", "1", "--split", "eval",
                                 "--fonts", "installed", "-q"])
    assert r.exit_code == 2 and "train split" in r.stderr and not (tmp_path / "e").exists()
    r = CliRunner().invoke(app, ["synth", "-o", str(tmp_path / "f"), "-n", "1", "--fonts", "some", "-q"])
    assert r.exit_code == 2 and "--fonts must be" in r.stderr
    d = tmp_path / "d"
    generate(d, 1, seed=3, split="eval")
    r = CliRunner().invoke(app, ["synth", "-o", str(d), "-n", "2", "--seed", "4", "--split", "eval", "-q"])
    assert r.exit_code == 2 and "seed 3" in r.stderr, r.output
    assert list_frames(d) == ["eval_000000"], "the refused resume wrote nothing"
    assert json.loads((d / "manifest.json").read_text())["font_set"] == "set-up"
