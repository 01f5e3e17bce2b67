"""load_image turns every bad input of issue 2 into one clear line; writers are atomic."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import caption_frame, frame, sha256
from kseg import imageio
from kseg.errors import InputError, OutputError
from kseg.imageio import load_image, write_json, write_png, write_text


def _error(path: Path) -> str:
    with pytest.raises(InputError) as ei:
        load_image(path)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


@pytest.mark.parametrize(
    "case, words",
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("empty", "empty file"),
        ("truncated", "truncated"),
        ("truncated_jpg", "truncated"),
        ("text", "text file"),
        ("gif", "3 frames"),
        ("huge", "too large (400 megapixels)"),
    ],
)
def test_bad_inputs_one_line(images, case, words):
    before = {k: sha256(p) for k, p in images.items() if p.is_file()}
    assert words in _error(images[case])
    assert {k: sha256(p) for k, p in images.items() if p.is_file()} == before


def test_huge_refused_from_header_without_decoding(images, monkeypatch):
    # A 400-megapixel decode would need 1.2 GB; prove we never start one.
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))
    assert "megapixels" in _error(images["huge"])


def test_between_our_and_pillows_limit_refused_with_size(tmp_path, monkeypatch):
    from conftest import png_with_header_size

    p = png_with_header_size(tmp_path / "big.png", 9000, 9000)  # < Pillow limit, > ours
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))
    assert "9000x9000" in _error(p)


def test_good_and_odd_inputs_become_rgb_uint8(images):
    for case in ("good", "gif1", "gray", "rgba", "gray16", "rgb16", "cmyk", "exif", "korean"):
        a = load_image(images[case])
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, case
        assert a.flags.c_contiguous, case


def test_exif_orientation_applied(images):
    a = load_image(images["exif"])
    assert a.shape == (96, 64, 3)  # stored 64 high x 96 wide, displayed rotated 90 CW
    # The red block (top-left as stored) is top-right after a clockwise turn.
    assert a[:10, -10:, 0].mean() > 200 and a[:10, -10:, 1:].mean() < 60


def test_rgba_composited_on_black(images):
    a = load_image(images["rgba"])
    assert a[:, :40].max() == 0  # transparent half
    assert np.array_equal(a[:, 60:], caption_frame(96, 64)[:, 60:])


def test_gray_and_16bit_scaled(images):
    g = load_image(images["gray"])
    assert np.array_equal(g[:, :, 0], caption_frame(96, 64)[:, :, 1]) and np.array_equal(g[:, :, 0], g[:, :, 2])
    g16 = load_image(images["gray16"])
    assert g16[0, 0, 0] == 255 and g16[0, 1, 0] == 0
    assert 0 < g16[32, 48, 0] < 255  # mid-range stays mid-range (Pillow's convert clips it)
    c = load_image(images["rgb16"])
    assert tuple(c[0, 0]) == (255, 128, 0)


def test_cmyk_jpeg_colours(images):
    a = load_image(images["cmyk"]).astype(int)
    assert abs(a[:10, :10] - np.array([255, 0, 0])).mean() < 20


def test_korean_name(images):
    assert load_image(images["korean"]).shape == (64, 96, 3)


def test_write_png_roundtrip_and_no_temp(tmp_path):
    m = np.zeros((5, 7), np.uint8)
    m[1:3, 2:5] = 255
    p = write_png(tmp_path / "마스크 1.mask.png", m)
    im = Image.open(p)
    assert im.mode == "L" and im.size == (7, 5)
    assert np.array_equal(np.asarray(im), m)
    rgb = frame(9, 4)
    assert np.array_equal(np.asarray(Image.open(write_png(tmp_path / "o.png", rgb))), rgb)
    write_json(tmp_path / "r.json", {"text": "안녕하세요"})
    assert "안녕하세요" in (tmp_path / "r.json").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["text"] == "안녕하세요"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["o.png", "r.json", "마스크 1.mask.png"]
    assert (os.stat(p).st_mode & 0o777) == (0o666 & ~imageio._read_umask())


def test_write_replaces_existing_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("old")
    write_text(p, "new")
    assert p.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_unwritable_folder_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError) as ei:
        write_png(blocker / "out.png", np.zeros((2, 2), np.uint8))
    assert "not a folder" in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(OutputError):
        imageio.ensure_out_dir(blocker / "sub")
    with pytest.raises(OutputError) as ei:
        imageio.ensure_out_dir(blocker)
    assert "not a folder" in str(ei.value)
    with pytest.raises(OutputError):
        imageio.ensure_out_dir("/proc/kseg-out")


def test_full_disk_cleans_temp_and_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    p.write_text("old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError) as ei:
        write_json(p, {"a": 1})
    assert "no space left" in str(ei.value)
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["r.json"]
