"""Shared fixtures: bad and odd input files generated in tmp_path (nothing is checked in)."""
from __future__ import annotations

import hashlib
import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

try:
    import torch

    torch.set_num_threads(1)  # the machine is shared; tests are about I/O, not speed
except ImportError:  # pragma: no cover
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def frame(w: int = 96, h: int = 64, seed: int = 0) -> np.ndarray:
    """A small RGB frame with a recognisable non-symmetric pattern."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    a[: h // 4, : w // 4] = (255, 0, 0)  # red top-left: shows whether rotation happened
    return a


def png_with_header_size(path: Path, width: int, height: int) -> Path:
    """A real small PNG whose IHDR claims width x height (CRC fixed, so it parses)."""
    buf = io.BytesIO()
    Image.new("1", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    # Signature (8) + length (4) + b"IHDR" (4): width and height follow.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """One file per odd/bad input case of issue 2, by name (96 x 64 unless rotated)."""
    d = tmp_path / "in"
    d.mkdir()
    rgb = caption_frame(96, 64)  # one white "caption" line for the stand-in detector
    out: dict[str, Path] = {}

    out["good"] = d / "good.png"
    Image.fromarray(rgb).save(out["good"])

    out["missing"] = d / "missing.png"
    out["directory"] = d / "folder.png"
    out["directory"].mkdir()
    out["empty"] = d / "empty.png"
    out["empty"].write_bytes(b"")

    full = out["good"].read_bytes()
    out["truncated"] = d / "truncated.png"
    out["truncated"].write_bytes(full[: len(full) // 2])

    jpg = io.BytesIO()
    Image.fromarray(rgb).save(jpg, "JPEG", quality=90)
    out["truncated_jpg"] = d / "truncated.jpg"
    out["truncated_jpg"].write_bytes(jpg.getvalue()[: len(jpg.getvalue()) // 2])

    out["text"] = d / "notes.png"
    out["text"].write_text("this is not a picture\n")

    out["gif"] = d / "anim.gif"
    frames = [Image.fromarray(np.full((32, 48, 3), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(out["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)

    out["gif1"] = d / "still.gif"
    Image.fromarray(rgb).convert("P").save(out["gif1"])

    out["gray"] = d / "gray.png"
    Image.fromarray(rgb[:, :, 1]).save(out["gray"])

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:, : rgb.shape[1] // 2, 3] = 0  # left half fully transparent
    out["rgba"] = d / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(out["rgba"])

    g16 = (np.arange(64 * 96, dtype=np.uint32).reshape(64, 96) * 10).astype(np.uint16)
    g16[0, 0], g16[0, 1] = 65535, 0
    g16[39:49, 19:77] = 65535  # the caption line, at 16-bit full scale
    out["gray16"] = d / "gray16.png"
    Image.fromarray(g16).save(out["gray16"])

    import cv2

    out["rgb16"] = d / "rgb16.png"
    bgr16 = np.zeros((64, 96, 3), np.uint16)
    bgr16[..., 2] = 65535  # red at full scale
    bgr16[..., 1] = 32896  # 128 * 257
    bgr16[39:49, 19:77] = 65535
    cv2.imwrite(str(out["rgb16"]), bgr16)

    out["cmyk"] = d / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(out["cmyk"], "JPEG", quality=95)

    # Stored 96 wide x 64 high; orientation 6 = "rotate 90 CW to display" -> 64 x 96.
    out["exif"] = d / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(out["exif"], "JPEG", quality=95, exif=exif)

    out["korean"] = d / "드라마 장면 01.png"
    Image.fromarray(rgb).save(out["korean"])

    out["huge"] = png_with_header_size(d / "huge.png", 20000, 20000)
    return out


# ----------------------------------------------------------- stand-in pipeline stages
# The CLI tests are about the I/O contract, so they use tiny deterministic stages:
# "caption ink" is pure white, a line is a white connected component.

def caption_frame(w: int = 160, h: int = 90, seed: int = 1, text: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 200, (h, w, 3), dtype=np.uint8)
    a[:10, :10] = (255, 0, 0)
    if text:
        a[h - 25 : h - 15, w // 5 : w - w // 5] = 255
    return a


class FakeDetector:
    def detect(self, rgb):
        import cv2

        from kseg.types import TextLine

        white = (rgb.min(axis=2) >= 250).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(white, connectivity=8)
        lines = []
        for x, y, w, h, area in stats[1:]:
            if area >= 4:
                x, y, w, h = int(x), int(y), int(w), int(h)
                poly = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
                lines.append(TextLine(box=(x, y, x + w, y + h), polygon=poly, score=0.9))
        return lines


class FakeSegmenter:
    name = "fake-sam"

    def segment(self, rgb, lines):
        from kseg.types import LineMask

        self.timings = {"encode": 0.001, "decode": 0.002}
        white = rgb.min(axis=2) >= 250
        out = []
        for line in lines:
            x0, y0, x1, y1 = line.box
            m = np.zeros(white.shape, bool)
            m[y0:y1, x0:x1] = white[y0:y1, x0:x1]
            out.append(LineMask(mask=m, iou_predictions=[0.7, 0.9, 0.8],
                                stability=[0.9, 0.95, 0.9], chosen=1))
        return out


class FakeRecognizer:
    def recognize(self, image, line, mask):
        from kseg.types import Recognition

        return Recognition(text="안녕하세요", recognizer="fake", score=0.5)


def fake_pipeline(*args, **kwargs):
    from kseg.pipeline import SegmentPipeline

    return SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(),
                           recognizer_impl=FakeRecognizer())


@pytest.fixture
def cli(monkeypatch):
    """Run ``kseg ARGS...`` in-process with the stand-in stages above."""
    import kseg.cli
    import kseg.cli.frames
    from typer.testing import CliRunner

    monkeypatch.setattr(kseg.cli.frames, "_make_pipeline", fake_pipeline)
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(kseg.cli.app, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def random_text_sam(tmp_path_factory) -> Path:
    """A models/ folder holding a text-SAM with random weights (real format; masks are noise)."""
    import kseg.detect  # noqa: F401 - a broken stage fails here, it is not skipped
    import kseg.segment as seg

    d = tmp_path_factory.mktemp("models")
    seg.save_random(d / "text-sam.safetensors")
    return d


def real_caption_frame(w: int = 640, h: int = 360) -> np.ndarray:
    from kseg.detect import synthetic

    img = synthetic.background(w, h)
    synthetic.draw_captions(img, [synthetic.Caption("안녕하세요 반갑습니다", (w / 2, h * 0.83), h // 13)])
    return img
