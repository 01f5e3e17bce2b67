"""Rendered caption frames with known line geometry.

Used by the detector/recogniser tests and ``bench/bench_detect.py``: real
K-drama frames are not redistributable, and ground-truth line polygons are only
exact for text we drew ourselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"


@dataclass
class Caption:
    text: str
    center: tuple[float, float]  # line centre in frame pixels
    size: int  # font size in pixels
    angle: float = 0.0  # degrees counter-clockwise
    fill: tuple[int, int, int] = (255, 255, 255)
    stroke: tuple[int, int, int] = (0, 0, 0)
    stroke_width: int | None = None  # default: ~8% of the font size
    font: str = FONT


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Photo-like clutter: smooth colour fields, shapes with hard edges, sensor noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 120), max(2, width // 120), 3)).astype(np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        ax, ay = int(rng.integers(width // 30, width // 5)), int(rng.integers(height // 30, height // 4))
        if rng.random() < 0.5:
            cv2.ellipse(img, (cx, cy), (ax, ay), float(rng.integers(0, 180)), 0, 360, color, -1)
        else:
            cv2.rectangle(img, (cx - ax, cy - ay), (cx + ax, cy + ay), color, -1)
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, width / 640))
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def draw_captions(
    img: np.ndarray, captions: list[Caption], masks: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Draw captions onto ``img`` (RGB uint8, in place); return each line's 4-point polygon
    (TL, TR, BR, BL, float32) covering fill and outline. If ``masks`` is a list, each
    line's full-frame bool footprint (fill + outline) is appended to it."""
    height, width = img.shape[:2]
    canvas = Image.fromarray(img)
    polys = []
    for c in captions:
        font = ImageFont.truetype(c.font, c.size)
        sw = c.stroke_width if c.stroke_width is not None else max(1, round(c.size * 0.08))
        x0, y0, x1, y1 = font.getbbox(c.text, stroke_width=sw)
        pad = 4
        layer = Image.new("RGBA", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), (0, 0, 0, 0))
        ImageDraw.Draw(layer).text(
            (pad - x0, pad - y0), c.text, font=font, fill=c.fill + (255,),
            stroke_width=sw, stroke_fill=c.stroke + (255,),
        )
        lx0, ly0, lx1, ly1 = layer.getbbox()  # tight ink box inside the layer
        rect = np.array([[lx0, ly0], [lx1, ly0], [lx1, ly1], [lx0, ly1]], np.float32)
        lw, lh = layer.size
        rotated = layer.rotate(c.angle, resample=Image.BICUBIC, expand=True)
        rw, rh = rotated.size
        # same rotation PIL applied (about the layer centre, CCW), then paste offset
        m = cv2.getRotationMatrix2D((lw / 2, lh / 2), c.angle, 1.0)
        m[:, 2] += ((rw - lw) / 2, (rh - lh) / 2)
        ox, oy = round(c.center[0] - rw / 2), round(c.center[1] - rh / 2)
        poly = cv2.transform(rect[None], m)[0] + (ox, oy)
        canvas.paste(rotated, (ox, oy), rotated)
        if masks is not None:
            m_img = Image.new("L", (width, height), 0)
            m_img.paste(rotated.getchannel("A"), (ox, oy))
            masks.append(np.asarray(m_img) >= 128)
        polys.append(np.clip(poly, 0, (width, height)).astype(np.float32))
    img[:] = np.asarray(canvas)
    return polys


def subtitle_frame(
    width: int = 1280, height: int = 720, lines: tuple[str, ...] = ("오늘 밤에 같이 갈래요?",),
    seed: int = 0, size_frac: float = 0.055, angle: float = 0.0, extra: bool = False,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A TV-like frame with bottom-centred subtitle lines (and optionally a variety-show
    caption top-left); returns the frame and the ground-truth line polygons."""
    img = background(width, height, seed)
    size = max(8, round(height * size_frac))
    step = round(size * 1.45)
    bottom = height - round(height * 0.08) - size / 2
    caps = [
        Caption(t, (width / 2, bottom - (len(lines) - 1 - i) * step), size, angle)
        for i, t in enumerate(lines)
    ]
    if extra:
        caps.append(Caption("대박 사건!!", (width * 0.25, height * 0.18), round(size * 1.6), 0.0,
                            fill=(255, 220, 40), stroke=(120, 30, 0)))
    return img, draw_captions(img, caps)


def poly_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two polygons, rasterised (exact enough at frame scale, handles rotation)."""
    pts = np.concatenate([a, b])
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
    ma = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mb = np.zeros_like(ma)
    cv2.fillPoly(ma, [np.round(np.asarray(a) - (x0, y0)).astype(np.int32)], 1)
    cv2.fillPoly(mb, [np.round(np.asarray(b) - (x0, y0)).astype(np.int32)], 1)
    inter = np.logical_and(ma, mb).sum()
    union = np.logical_or(ma, mb).sum()
    return float(inter / union) if union else 0.0
