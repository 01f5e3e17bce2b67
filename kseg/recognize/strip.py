"""A line strip as the recogniser reads it: scaled to a height, or cleaned to its glyph fill."""
from __future__ import annotations

import cv2
import numpy as np


def to_height(img: np.ndarray, height: int) -> np.ndarray:
    """Resize to ``height`` keeping the aspect (area filter when shrinking)."""
    h, w = img.shape[:2]
    nw = max(4, round(w * height / h))
    return cv2.resize(img, (nw, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_LINEAR)


def mask_input(strip: np.ndarray, footprint: np.ndarray | None, work_height: int = 64) -> np.ndarray:
    """The mask-cleaned input: glyph fill (as ``text_pixels`` separates it) black on white, grey
    uint8, at ``work_height`` px (2x the network's height: the 2-means split costs 4x less
    than at 1080p strip size and the network sees 32 px anyway)."""
    from kseg.recognize import text_pixels

    if strip.shape[0] > work_height:
        strip = to_height(strip, work_height)
        if footprint is not None:
            footprint = cv2.resize(footprint.astype(np.uint8), (strip.shape[1], work_height),
                                   interpolation=cv2.INTER_NEAREST).astype(bool)
    return np.where(text_pixels(strip, footprint), 0, 255).astype(np.uint8)
