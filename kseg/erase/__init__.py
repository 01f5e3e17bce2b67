"""Erase stage: inpaint exactly the caption footprint (grown a little), never whole boxes.

    clean = erase(image_rgb_uint8, mask)            # mask: union footprint, bool/uint8 H x W
    clean = erase(image, mask, method="telea", grow=3)

Only pixels of ``grow_mask(mask, grow)`` change; everything else is returned bit for bit,
so a caption's neighbourhood keeps its real texture (a box remover smears the whole box).

Methods ("auto" = the best measured, see bench/bench_erase.py): ``harmonic`` (membrane fill,
coarse to fine), ``telea`` and ``ns`` (cv2.inpaint). Criminisi-style patch fill (also far
slower), skimage's biharmonic and a flat-plate fit for banners were measured too and dropped:
they lost in PSNR against the clean frame (docs/figures.md).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import KsegError
from .fill import FILLS, fill_region

METHODS: tuple[str, ...] = ("auto",) + tuple(FILLS)

__all__ = ["METHODS", "erase", "grow_mask", "default_grow", "EraseError"]


class EraseError(KsegError):
    """Bad input to erase (image / mask shape or type, unknown method)."""


def _check_mask(mask: np.ndarray) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype not in (np.bool_, np.uint8):
        desc = str(mask.dtype) if isinstance(mask, np.ndarray) else type(mask).__name__
        raise EraseError(f"erase: mask must be bool or uint8, got {desc}")
    if mask.ndim != 2:
        raise EraseError(f"erase: mask must be 2-D H x W, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


GROW_720P = 4  # px; measured best on SAM masks of held-out synth frames (bench/bench_erase.py)


def default_grow(mask: np.ndarray) -> int:
    """Grow (px) when the caller gives none: 4 px up to 720p, slowly more on larger frames.

    Measured on held-out synth frames (harmonic fill, PSNR in the caption area): the best
    grow is 3-4 px for exact footprints and 4-5 px for SAM's masks, set by codec ringing
    (8 px blocks) and blur tails rather than by the stroke or text size, which predicted it
    worse than a fixed width did; 1080p frames gain a little from 5 px.
    """
    return max(GROW_720P, round(GROW_720P * (mask.shape[0] / 720) ** 0.5))


def grow_mask(mask: np.ndarray, grow: int | None = None) -> np.ndarray:
    """The pixels erase changes: every pixel within ``grow`` px (Euclidean) of ``mask``, as bool."""
    m = _check_mask(mask)
    g = default_grow(m) if grow is None else grow
    if not isinstance(g, (int, np.integer)) or isinstance(g, bool) or g < 0:
        raise EraseError(f"erase: grow must be a whole number of pixels >= 0, got {grow!r}")
    if g == 0 or not m.any():
        return m.copy()
    # a true Euclidean disc (cv2's MORPH_ELLIPSE kernels are boxier), at any radius in O(H W)
    dist = cv2.distanceTransform((~m).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= g


def _check(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise EraseError(f"erase: image must be RGB uint8 H x W x 3, got {desc}")
    _check_mask(mask)
    if mask.shape != image.shape[:2]:
        raise EraseError(f"erase: mask is {mask.shape[1]}x{mask.shape[0]} (W x H) "
                         f"but the image is {image.shape[1]}x{image.shape[0]}")
    return mask.astype(bool, copy=False)


def erase(image: np.ndarray, mask: np.ndarray, *, method: str = "auto",
          grow: int | None = None) -> np.ndarray:
    """A new RGB image with the masked captions inpainted; pixels outside the grown mask unchanged.

    ``grow`` px (None: adapted to the mask, see ``default_grow``) covers the anti-aliased
    edge, soft shadow tails and codec ringing that a footprint mask stops short of.
    """
    if method not in METHODS:
        raise EraseError(f"erase: unknown method {method!r} (one of {', '.join(METHODS)})")
    m = _check(image, mask)
    g = grow_mask(m, grow)
    out = image.copy()
    if g.any():
        fill_region(out, g, "harmonic" if method == "auto" else method)
    return out


from kseg import _callable  # noqa: E402 - last, once the module is complete

_callable.install(__name__)  # kseg.erase(...) calls kseg.api.erase
