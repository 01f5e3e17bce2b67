"""A caption plate's opacity from the frames it is shown on (issue 23, video).

Footage that moves behind a plate of opacity ``a`` changes the plate's pixels by ``(1 - a)``
of its own change, and an opaque plate's not at all. One frame cannot tell that apart from a
plate's own texture (a silver bar's shading, codec noise round its letters), which is all
``kseg.style`` has: bench/real's MBC clip's opaque silver plate measured 0.68 there, so the
plate grown for its English was drawn translucent beside the old one, the old plate's rim
showing through. Over an event's frames the footage moves, so translate-video measures it
again from time:

    a = 1 - (d_in - n) / (d_out - n)

``d_in``: the mean absolute luma change, from the first frame the letters hold still in, of
the plate's pixels clear of the letters; ``d_out``: the same of a band of footage round the
plate; ``n``: that of the letters' own inner pixels, which are static and opaque, so their
change is the codec's noise (the same noise is in both of the others). Rendered plates of
opacity 0.5, 0.7, 0.85 and 1.0 over the real clip's footage, through libx264 at CRF 18 and 26,
measured 0.48-0.49, 0.70-0.71, 0.86 and 1.0; the MBC plate 1.0 (``docs/experiments``).
Footage that hardly moves round the plate (a still picture) leaves the one-frame measurement as
it was. The plate's colours and its rim (``kseg.style.plate_rim``) are measured again on a
frame it has held still up to, not on one of its entry.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from kseg.types import Banner, Caption

PLATE_MOVED = 4.0  # mean luma change (0-255) the footage round the plate needs to tell
PLATE_FRAMES = 3  # frames of it at least
OPAQUE = 0.9  # from here on a plate is opaque (as kseg.style's one-frame rule)
STEP = 2  # every other row and column is enough for means
STEADY = 6.0  # letters whose luma changed more than this (mean, 0-255) are still coming in


def _stepped(m: np.ndarray) -> np.ndarray:
    return m[::STEP, ::STEP]


class PlateOverTime:
    """Feed the luma of the frames a plated caption is shown on (``add``); ``revised`` gives the
    caption with the opacity measured over them, or as it was without the evidence."""

    def __init__(self, gray: np.ndarray, image: np.ndarray, banner: Banner, ink: np.ndarray,
                 text_height: float = 0.0):
        H, W = gray.shape
        L, T, R, B = (int(v) for v in banner.box)
        h = max(1, B - T)
        band = max(6, h // 2)
        gap = 3
        # the crop everything is measured in: the plate and its band of footage
        self.win = (max(0, L - gap - band), max(0, T - gap - band), min(W, R + gap + band), min(H, B + gap + band))
        x0, y0, x1, y1 = self.win
        ink = ink[y0:y1, x0:x1]
        shape = (y1 - y0, x1 - x0)
        plate = np.zeros(shape, bool)
        e = 4  # the plate's own edge (its rim, its soft compressed border) is neither
        plate[max(0, T + e - y0):max(0, B - e - y0), max(0, L + e - x0):max(0, R - e - x0)] = True
        # codec ringing reaches a few pixels round the letters
        near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        # full size for the colours, every STEP-th pixel for the per-frame means
        self.full_in = plate & ~near_ink
        self.full_out = np.ones(shape, bool)
        self.full_out[max(0, T - gap - y0):max(0, B + gap - y0), max(0, L - gap - x0):max(0, R + gap - x0)] = False
        self.inside, self.outside = _stepped(self.full_in), _stepped(self.full_out)
        self.core = _stepped(cv2.erode(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool))
        # the reference is the first frame the letters hold still in: a caption's entry (a plate
        # that zooms or fades in) changes them, and a frame of it taken as the reference measured
        # the MBC clip's plate by its own animation (its letters changed 17 levels)
        self.ref: np.ndarray | None = None
        self._colours(image[y0:y1, x0:x1])
        self.ref_rgb: np.ndarray | None = None  # a steady frame's crop, when given
        self.text_height = float(text_height) or float(h)
        self.d_in = self.d_out = self.noise = 0.0
        self.frames = 0
        self.done = False
        self.usable = (self.inside.sum() >= 20 and self.outside.sum() >= 20 and self.core.sum() >= 5
                       and self.plate_rgb is not None and self.around_rgb is not None)

    def _colours(self, rgb: np.ndarray) -> None:
        """The plate's and the footage's colours in ``rgb`` (the crop)."""
        self.plate_rgb = np.median(rgb[self.full_in], axis=0) if self.full_in.sum() >= 10 else None
        self.around_rgb = np.median(rgb[self.full_out], axis=0) if self.full_out.sum() >= 10 else None

    def add(self, gray: np.ndarray, rgb: Callable[[], np.ndarray] | None = None) -> None:
        """One more frame the caption is on; ``rgb()`` gives its colour image (taken once, on the
        PLATE_FRAMES-th steady frame: the plate's colours and rim are measured on it, not on a
        frame of the caption's entry)."""
        if not self.usable or self.done:
            return
        x0, y0, x1, y1 = self.win
        now = _stepped(gray[y0:y1, x0:x1]).astype(np.int16)
        if self.ref is not None:
            d = np.abs(now - self.ref)
            noise = float(d[self.core].mean())
            if noise <= STEADY:
                self.d_in += float(d[self.inside].mean())
                self.d_out += float(d[self.outside].mean())
                self.noise += noise
                self.frames += 1
                if self.frames == PLATE_FRAMES and rgb is not None:
                    # colours and rim from a frame the plate has held still up to: the first one
                    # may still carry the end of its entry (the MBC plate's top rim, 3 px there)
                    self.ref_rgb = np.ascontiguousarray(rgb()[y0:y1, x0:x1])
                return
            if self.frames >= PLATE_FRAMES:
                self.done = True  # leaving (a plate that slides or fades out): measured already
                return
        self.ref = now  # the letters changed: measured from here on
        self.ref_rgb = None
        self.d_in = self.d_out = self.noise = 0.0
        self.frames = 0

    def opacity(self) -> float | None:
        """The opacity the frames so far show, or None when they cannot tell (too few frames,
        footage round the plate that hardly moved, letters that change more than noise)."""
        if not self.usable or self.frames < PLATE_FRAMES:
            return None
        n = self.frames
        d_in, d_out, noise = self.d_in / n, self.d_out / n, self.noise / n
        if d_out < PLATE_MOVED or noise > 0.5 * d_out:
            return None
        a = float(np.clip(1.0 - max(0.0, d_in - noise) / (d_out - noise), 0.0, 1.0))
        return 1.0 if a >= OPAQUE else a

    def revised(self, caption: Caption) -> Caption:
        """``caption`` with its plate's opacity (and the colour that goes with it) from time."""
        a = self.opacity()
        style = caption.style
        if a is None or style.banner is None:
            return caption
        rim = style.banner.rim
        if self.ref_rgb is not None:
            from kseg.style import plate_rim

            self._colours(self.ref_rgb)
            x0, y0 = self.win[:2]
            L, T, R, B = style.banner.box
            rim = plate_rim(self.ref_rgb, (L - x0, T - y0, R - x0, B - y0), self.text_height)
        if abs(a - style.banner.opacity) < 0.02 and rim == style.banner.rim:
            return caption
        if self.plate_rgb is None or self.around_rgb is None:
            return caption
        plate = np.asarray(self.plate_rgb, np.float64)
        if a < 1.0:  # the plate's own colour: what shows is a * colour + (1 - a) * footage
            plate = (plate - (1.0 - a) * np.asarray(self.around_rgb, np.float64)) / max(a, 1e-3)
        colour = tuple(int(v) for v in np.clip(np.round(plate), 0, 255))
        banner = dataclasses.replace(style.banner, opacity=round(a, 3), color=colour, rim=rim)
        return dataclasses.replace(caption, style=dataclasses.replace(style, banner=banner))


__all__ = ["PlateOverTime"]
