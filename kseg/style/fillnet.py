"""kseg-fill: a small fully convolutional net that says which pixels of a caption crop are the
letters' own fill (not outline, shadow, 3D extrusion, plate or footage).

Why a learned judge: which colour layer is the fill cannot be told from geometry alone on real
captions. The layer-peeling rule (innermost colour) is right for outlined text, but a black
word on a white cloud, white letters on a dark plate and a thick outline that a loose SAM mask
cuts all look "innermost" the wrong way round. Rendered captions carry the truth (the engine
knows its fill layer), and a net with a receptive field of about one text height learns what a
reader sees: strokes of even width that form Hangul. ``measure_style`` uses it only to pick
which of the footprint's colour clusters is the fill; colours still come from the pixels.

    p = fill_probability(crop_rgb)   # HxW float32 in [0, 1], or None without the model file
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np

FILL_MODEL = "kseg-fill.safetensors"
HEIGHT = 32  # crops are read at this height (the text itself is ~60 % of it)
MAX_WIDTH = 1024
DILATIONS = (1, 1, 2, 4, 8, 1)


def _torch():
    import torch
    from torch import nn

    return torch, nn


def build(ch: int = 24, dilations: tuple[int, ...] = DILATIONS):
    """Conv stack (receptive field 1 + 2 * sum(dilations) = 35 px at HEIGHT 32)."""
    torch, nn = _torch()
    layers: list = []
    c_in = 3
    for d in dilations:
        layers += [nn.Conv2d(c_in, ch, 3, padding=d, dilation=d), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        c_in = ch
    layers += [nn.Conv2d(ch, 1, 1)]
    return nn.Sequential(*layers)


def input_width(h: int, w: int) -> int:
    """The width of an h x w crop read at HEIGHT rows (aspect kept, capped at MAX_WIDTH)."""
    return int(min(MAX_WIDTH, max(8, round(w * HEIGHT / max(1, h)))))


def to_input(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The crop at HEIGHT rows (aspect kept, width capped), float CHW in [-0.5, 0.5]."""
    h, w = rgb.shape[:2]
    W = input_width(h, w)
    x = cv2.resize(rgb, (W, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR)
    return (x.astype(np.float32) / 255.0 - 0.5).transpose(2, 0, 1), (h, w)


def model_path() -> Path:
    from kseg.segment.registry import models_dir

    return models_dir() / FILL_MODEL


_lock = threading.Lock()
_cache: dict[str, object] = {}


def load(path: Path | None = None):
    """The net from a safetensors file (config in its metadata), cached per path; None if absent."""
    path = Path(path) if path is not None else model_path()
    key = str(path)
    with _lock:
        if key in _cache:
            return _cache[key]
        net = None
        if path.is_file():
            from safetensors import safe_open

            with safe_open(str(path), "pt") as f:
                cfg = json.loads((f.metadata() or {}).get("config", "{}"))
                state = {k: f.get_tensor(k) for k in f.keys()}
            net = build(int(cfg.get("ch", 24)), tuple(cfg.get("dilations", DILATIONS)))
            net.load_state_dict(state)
            net.eval()
            # inference only (training builds its own): BatchNorms folded into the convolutions
            # and channels-last activations, 3x faster on a 32 x 600 strip (45 -> 15 ms on 2
            # cores) with the same logits to 2e-5; the style stage runs it on every caption line
            from kseg._inference import fold_batchnorm

            torch, _ = _torch()
            fold_batchnorm(net)
            net = net.to(memory_format=torch.channels_last)
        _cache[key] = net
        return net


def fill_probability(rgb: np.ndarray, path: Path | None = None) -> np.ndarray | None:
    """Per-pixel probability that a pixel of this caption crop is letter fill; None when the
    model file is missing (callers fall back to the geometric rule)."""
    net = load(path)
    if net is None or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        return None
    torch, _ = _torch()
    x, (h, w) = to_input(rgb)
    with torch.inference_mode():
        logit = net(torch.from_numpy(x)[None].contiguous(memory_format=torch.channels_last))[0, 0].numpy()
    p = 1.0 / (1.0 + np.exp(-logit))
    return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)


def line_probability(image: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """``fill_probability`` of a level line read as the net was trained: its box with
    ``STRIP_MARGIN`` of its height around it; with that strip's (x0, y0, x1, y1) in the frame.
    None without the model, or for a strip under 2 px."""
    from kseg.recognize import STRIP_MARGIN

    H, W = image.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    m = max(2, int(round(STRIP_MARGIN * (y1 - y0))))
    bx0, by0, bx1, by1 = max(0, x0 - m), max(0, y0 - m), min(W, x1 + m), min(H, y1 + m)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    p = fill_probability(image[by0:by1, bx0:bx1])
    return None if p is None else (p, (bx0, by0, bx1, by1))
