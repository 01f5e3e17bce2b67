"""Reading frames and writing outputs safely.

``load_image`` turns anything a user may point kseg at into an RGB uint8 H x W x 3
array, or raises ``InputError`` with one line that says what is wrong and what to do.
Decisions (see issue 2):

* multi-frame files (animated GIF/PNG/WebP, multi-page TIFF) are refused: taking the
  first frame silently would hand back a mask for a frame the user never chose;
* images over ``MAX_PIXELS`` are refused from the header, before any pixel is
  decoded, so a 20000 x 20000 file costs nothing; kseg works on video frames and
  8K UHD (7680 x 4320) is 33 megapixels;
* transparency is composited on black (letterbox colour) and EXIF orientation is
  applied, so the mask matches the picture as viewers show it;
* 16-bit samples are scaled to 8 bits (Pillow's ``convert`` clips ``I;16``).

The writers are atomic (temp file in the same folder, fsync, ``os.replace``) so a
crash or a full disk never leaves a half-written PNG/JSON that a script would read.
Inputs are only ever opened for reading.
"""
from __future__ import annotations

import errno
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kseg.errors import InputError, OutputError

MAX_PIXELS = 50_000_000

PathLike = str | os.PathLike[str]


def _fail(path: PathLike, reason: str) -> InputError:
    return InputError(f"{os.fspath(path)}: {reason}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _check_file(path: PathLike) -> int:
    """Cheap checks (no decoding) shared with the CLI's pre-flight; returns the size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except PermissionError:
        raise _fail(path, "permission denied") from None
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or e}") from None
    if os.path.isdir(path):
        raise _fail(path, "is a directory, not an image (pass the image files, e.g. DIR/*.png)")
    if not os.path.isfile(path):
        raise _fail(path, "not a regular file")
    if st.st_size == 0:
        raise _fail(path, "empty file (0 bytes)")
    return st.st_size


def check_input(path: PathLike) -> None:
    """Raise ``InputError`` if ``path`` is plainly not a readable file (no decoding)."""
    _check_file(path)
    if not os.access(path, os.R_OK):
        raise _fail(path, "permission denied")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale integer/float samples of any depth to 0..255 by their nominal range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        hi = 1.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(arr) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Integer: 16-bit images use the full 0..65535 range; "I" mode from 8-bit data stays.
    hi = int(arr.max(initial=0))
    if arr.dtype.itemsize == 2 or 255 < hi <= 65535:
        return (arr.astype(np.uint32) >> 8).astype(np.uint8)
    if hi <= 255:
        return np.clip(arr, 0, 255).astype(np.uint8)
    return (arr.astype(np.float64) * (255.0 / hi) + 0.5).astype(np.uint8)


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _to_uint8(np.asarray(im))
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        # Composite on black: a transparent pixel is "no picture", like a letterbox.
        rgb = (rgba[:, :, :3] * rgba[:, :, 3:4] + 127) // 255
        return np.ascontiguousarray(rgb.astype(np.uint8))
    # CMYK (Adobe-inverted JPEGs are handled by Pillow's JPEG plugin), YCbCr, LAB, 1, L, P.
    return np.ascontiguousarray(np.asarray(im.convert("RGB")))


_BOMB_RE = re.compile(r"\((\d+) pixels\)")


def as_rgb(image: np.ndarray, who: str) -> np.ndarray:
    """An in-memory frame as contiguous RGB uint8 (grey and alpha accepted, 16-bit scaled to
    8); ``who`` names the stage in the one-line error, for callers that take arrays rather
    than files."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError(f"{who} expects a uint8 or uint16 numpy image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        if image.shape[2] == 1:
            return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
        return np.ascontiguousarray(image[:, :, :3])
    raise InputError(f"{who} expects an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")


def load_image(path: PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read one still frame as RGB uint8 H x W x 3 (EXIF orientation applied)."""
    check_input(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours is lower and checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError:
        raise _fail(path, _not_an_image(path)) from None
    except Image.DecompressionBombError as e:
        m = _BOMB_RE.search(str(e))
        size = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else "too many pixels"
        raise _fail(path, f"image too large ({size}); kseg reads at most "
                          f"{max_pixels / 1e6:.0f} megapixels: downscale it first") from None
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or _first_line(e)}") from None
    except Exception as e:  # Pillow plugins raise SyntaxError/ValueError on broken headers
        raise _fail(path, f"corrupt image header ({_first_line(e)})") from None

    with im:
        w, h = im.size
        fmt = im.format or "image"
        if w <= 0 or h <= 0:
            raise _fail(path, f"{fmt} header says {w}x{h} pixels")
        if w * h > max_pixels:
            raise _fail(path, f"image too large ({w}x{h}, {w * h / 1e6:.0f} megapixels); kseg "
                              f"reads at most {max_pixels / 1e6:.0f} megapixels: downscale it first")
        n_frames = getattr(im, "n_frames", 1)
        if n_frames > 1:
            raise _fail(path, f"animated/multi-frame {fmt} ({n_frames} frames); kseg segment "
                              "takes one still frame: extract one first, e.g. "
                              "`ffmpeg -i INPUT -frames:v 1 frame.png`")
        try:
            im.load()
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # a broken EXIF block should not cost the user the frame
                pass
            rgb = _to_rgb(im)
        except MemoryError:
            raise _fail(path, f"not enough memory to decode {w}x{h} {fmt}") from None
        except Exception as e:  # truncated data, bad CRC, broken zlib stream, ...
            reason = _first_line(e)
            if "truncated" in reason.lower() or isinstance(e, EOFError):
                raise _fail(path, f"truncated {fmt} file (the end of the data is missing)") from None
            raise _fail(path, f"corrupt {fmt} data ({reason})") from None
    return rgb


def _not_an_image(path: PathLike) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        head = b""
    ext = Path(path).suffix.lower()
    if head and b"\0" not in head:
        try:
            head.decode("utf-8")
            return f"a text file, not an image (despite the '{ext}' name)" if ext else \
                "a text file, not an image"
        except UnicodeDecodeError:
            pass
    return "not an image format kseg can read (PNG, JPEG, WebP, BMP, TIFF, ...)"


# ---------------------------------------------------------------- atomic writers

def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # mkstemp creates 0600; outputs get normal permissions


def _out_error(path: PathLike, e: OSError) -> OutputError:
    reasons = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOTDIR: "a parent of the output is not a folder",
        errno.ENOENT: "the output folder does not exist",
        errno.EISDIR: "a folder is in the way of the output file",
    }
    reason = reasons.get(e.errno, e.strerror or _first_line(e))
    return OutputError(f"{os.fspath(path)}: cannot write: {reason}")


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``; no temp file survives a failure."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise _out_error(path, e) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def write_text(path: PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any, **kw: Any) -> str:
    """JSON with Korean kept readable; falls back to \\u escapes for undecodable file names."""
    s = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from non-UTF-8 path bytes
        s = json.dumps(obj, ensure_ascii=True, **kw)
    return s


def write_json(path: PathLike, obj: Any) -> Path:
    return write_text(path, dumps_json(obj, indent=2) + "\n")


def write_png(path: PathLike, array: np.ndarray) -> Path:
    """Write uint8 H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA) as PNG, atomically."""
    a = np.asarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        raise ValueError(f"write_png wants uint8, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA)
    elif a.ndim != 2:
        raise ValueError(f"write_png wants H x W or H x W x 3/4, got shape {a.shape}")
    # OpenCV encodes several times faster than Pillow at a similar size (level 3).
    ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OutputError(f"{os.fspath(path)}: PNG encoding failed")
    return write_bytes(path, buf.tobytes())


def ensure_out_dir(path: PathLike) -> Path:
    """Create the output folder and prove it is writable (a probe file: root ignores modes)."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{os.fspath(p)}: cannot write: exists and is not a folder") from None
    except OSError as e:
        raise _out_error(p, e) from None
    try:
        fd, probe = tempfile.mkstemp(dir=p, prefix=".kseg-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise _out_error(p, e) from None
    return p
