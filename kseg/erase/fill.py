"""Hole fills for the erase stage, each working on a crop around one group of caption pixels.

* ``harmonic``: the membrane (Laplace) interpolant of the hole's border, solved coarse to
  fine. OpenCV has no Laplace/membrane inpainting (only Telea's fast marching and its
  Navier-Stokes variant, whose single-pass transport leaves streaks across wide holes),
  and skimage's biharmonic solver is a sparse direct solve far too slow per video frame,
  so it is written here: a mask-weighted Gaussian pyramid gives the coarse answer and a
  few red-black SOR sweeps per level refine it (cascadic multigrid; at full resolution on the
  luma only).
* ``telea`` / ``ns``: ``cv2.inpaint`` (the floor the issue asks to beat).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

K4 = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
SOR_OMEGA = 1.8
# one SOR step, est + w * (mean of the 4 neighbours - est), as a single 3x3 filter
K_SOR = K4 * np.float32(SOR_OMEGA)
K_SOR[1, 1] = 1 - SOR_OMEGA
SOR_SWEEPS = 12  # per coarse pyramid level; more change the fill by less than bench/bench_erase.py resolves
# the full-resolution level starts from the upsampled coarse answer and costs three quarters of
# all sweeps; 8 there instead of 12: broadcast held-out erase 29.33 -> 29.31 dB, a third less
# time on every erased video frame (docs/experiments, twenty-second session)
FINE_SWEEPS = 8
CV_RADIUS = 3  # cv2.inpaint neighbourhood radius
GROUP_GAP = 16  # caption pixels closer than this share one crop (fewer, larger crops)
MARGIN = 6  # known pixels kept around each hole in its crop
RECENT_MASKS = 4  # captions on screen at once, in practice


def _sor(est: np.ndarray, sets: tuple[np.ndarray, np.ndarray], sweeps: int) -> np.ndarray:
    """Red-black SOR on the hole pixels of the Laplace equation (``est`` is updated in place);
    known pixels stay fixed. ``sets``: the red and the black hole pixels (uint8 masks)."""
    if sweeps <= 0:
        return est
    # in place, one filter and one masked copy per half-sweep (this runs on every erased video
    # frame; the step folded into K_SOR differs from the four-operation form by float rounding)
    est = np.ascontiguousarray(est, np.float32)
    nxt = np.empty_like(est)
    for _ in range(sweeps):
        for sel in sets:
            cv2.filter2D(est, -1, K_SOR, dst=nxt, borderType=cv2.BORDER_REPLICATE)
            cv2.copyTo(nxt, sel, est)
    return est


@dataclass
class _Level:
    """What one pyramid level of a hole's fill needs that does not depend on the picture."""

    weight: np.ndarray  # float32: the share of known pixels under each pixel
    divisor: np.ndarray  # float32: max(weight, 1e-6), what the weighted sums are divided by
    hole: np.ndarray  # bool: the pixels solved for
    sets: tuple[np.ndarray, np.ndarray] | None  # its red and black pixels (uint8); None: none to solve


def _levels(hole: np.ndarray) -> list[_Level]:
    """The mask-weighted pyramid of ``hole`` down to the first level with no unknown pixel."""
    out: list[_Level] = []
    weight, h = (~hole).astype(np.float32), hole
    while True:
        sets = None
        if h.any():
            yy, xx = np.indices(h.shape)
            parity = ((yy + xx) & 1).astype(bool)
            sets = ((h & ~parity).view(np.uint8), (h & parity).view(np.uint8))
        out.append(_Level(weight, np.maximum(weight, 1e-6), h, sets))
        if not (weight.min() <= 0 and min(weight.shape) >= 4):
            return out
        weight = cv2.pyrDown(weight)
        h = weight < 0.5  # mostly-unknown pixels are solved for


def _spread(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``a`` (H x W) with as many channels as ``like`` (H x W x C). numpy's broadcast of an
    H x W x 1 operand over three channels costs ten times the element-wise operation itself
    (2 ms on a 1080p caption's crop, three times in a fill, on every erased video frame)."""
    c = like.shape[2]
    return cv2.merge([a] * c) if c > 1 else a[..., None]


def harmonic(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Membrane fill of ``hole`` in ``crop`` (uint8 H x W x 3); returns float32 H x W x 3."""
    img = crop.astype(np.float32)
    if hole.all():  # nothing known (a mask over the whole frame): no information, mid grey
        return np.full_like(img, 128.0)
    levels = _levels_of(hole)
    # mask-weighted pyramid: each level's pixel = weighted mean of the known pixels under it
    sums = [img * _spread(levels[0].weight, img)]
    for _ in levels[1:]:
        f = cv2.pyrDown(sums[-1])
        sums.append(f if f.ndim == 3 else f[..., None])
    est = None
    for k in range(len(levels) - 1, -1, -1):
        lv = levels[k]
        base = img if k == 0 else sums[k] / _spread(lv.divisor, sums[k])
        # base is a new array at every level (img: this call's own copy of the crop)
        if est is None:
            est = base
            if lv.hole.all():
                est[:] = (base * lv.weight[..., None]).sum((0, 1)) / max(float(lv.weight.sum()), 1e-6)
        else:
            up = cv2.pyrUp(est, dstsize=(lv.hole.shape[1], lv.hole.shape[0]))
            if up.ndim == 2:
                up = up[..., None]
            est = base
            cv2.copyTo(up, lv.hole.view(np.uint8), est)  # np.where's gather costs 3x this
        if lv.sets is not None:
            if k == 0 and est.shape[2] == 3:
                # the full-resolution sweeps on the luma only: the upsampled coarse answer's
                # chroma is kept (a change d of the luma is d on every channel; the weights
                # sum to 1). Sharp detail at the border is luma; 28 % less time a fill, on
                # every erased video frame (docs/experiments, thirtieth session)
                luma = cv2.cvtColor(est, cv2.COLOR_RGB2GRAY)
                solved = _sor(luma.copy(), lv.sets, FINE_SWEEPS)
                est += _spread(cv2.subtract(solved, luma), est)
            else:
                est = _sor(est, lv.sets, FINE_SWEEPS if k == 0 else SOR_SWEEPS)
    return est


def telea(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(crop, hole.astype(np.uint8), CV_RADIUS, cv2.INPAINT_TELEA)


def ns(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(crop, hole.astype(np.uint8), CV_RADIUS, cv2.INPAINT_NS)


FILLS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "harmonic": harmonic, "telea": telea, "ns": ns,
}


def labelled_groups(mask: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """(labels, boxes): the groups of mask pixels within GROUP_GAP of each other, group k's
    pixels labelled k + 1 and its box (x0, y0, x1, y1) ``boxes[k]`` (the mask dilated by
    GROUP_GAP, so a box reaches a little past its pixels)."""
    near = cv2.dilate(mask.view(np.uint8), np.ones((GROUP_GAP, GROUP_GAP), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    return labels, [(int(x), int(y), int(x + bw), int(y + bh)) for x, y, bw, bh, _ in stats[1:n]]


def groups(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Crop boxes (x0, y0, x1, y1) around groups of nearby mask pixels, MARGIN px of context."""
    h, w = mask.shape
    return [(max(0, x0 - MARGIN), max(0, y0 - MARGIN), min(w, x1 + MARGIN), min(h, y1 + MARGIN))
            for x0, y0, x1, y1 in labelled_groups(mask)[1]]


class _ByMask:
    """``fn(mask)`` remembered for the last few masks, found by content (``functools`` caches
    need hashable arguments; hashing a mask costs as much as comparing it): video erases the
    same caption's region on every frame of its event. Comparing a mask costs about 1 % of a
    fill's grouping (a 16x16 dilation and a labelling) and of its pyramid (a fifth of the fill)."""

    def __init__(self, fn: Callable[[np.ndarray], object], size: int = RECENT_MASKS):
        self.fn, self.size = fn, size
        self.recent: list[tuple[np.ndarray, object]] = []

    def __call__(self, mask: np.ndarray):  # noqa: ANN204 - whatever fn returns
        recent = self.recent  # replaced, never changed in place: safe across threads
        for m, value in recent:
            if m.shape == mask.shape and np.array_equal(m, mask):
                return value
        value = self.fn(mask)
        self.recent = [(mask.copy(), value), *recent[:self.size - 1]]
        return value


_groups_of = _ByMask(groups)
_levels_of = _ByMask(_levels)


def fill_region(out: np.ndarray, mask: np.ndarray, method: str) -> None:
    """Inpaint ``out`` (uint8 RGB) in place on ``mask`` only, one crop per group of pixels.

    Cropping keeps the cost proportional to the captions, not the frame; a crop may hold
    mask pixels of a neighbouring group too, which are then filled twice (harmlessly).
    """
    fn = FILLS[method]
    for x0, y0, x1, y1 in _groups_of(mask):
        hole = mask[y0:y1, x0:x1]
        crop = out[y0:y1, x0:x1]
        filled = fn(np.ascontiguousarray(crop), np.ascontiguousarray(hole))
        if filled.dtype != np.uint8:  # rounded in place: np.clip's new arrays cost 10x (5 ms a 1080p caption)
            np.add(filled, 0.5, out=filled)
            filled = np.clip(filled, 0, 255, out=filled).astype(np.uint8)
        # in place through the view; boolean indexing (crop[hole] = ...) gathers and scatters
        # and costs 100x this on a caption's crop, on every erased video frame
        cv2.copyTo(filled, hole.view(np.uint8), crop)
