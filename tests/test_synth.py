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
    assert acc.row() == {"fgIoU": 1.0, "F": 1.0, "bF": 1.0}
    b = np.zeros_like(a)
    b[10:30, 20:40] = True
    acc = Acc()
    acc.add(b, a)
    assert acc.row()["fgIoU"] == pytest.approx(200 / 600)
