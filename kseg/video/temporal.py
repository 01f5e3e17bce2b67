"""Temporal fill: take the pixels under a caption from neighbouring frames where they show.

A caption is static while the camera pans, so a pixel hidden at frame t was often visible a
few frames earlier, a few pixels away. Spatial inpainting can only guess it from the
border; the earlier frame *has* it. This module keeps, per caption event, the last few
decoded crops, estimates the background's translation between consecutive crops
(the median Lucas-Kanade track of corners away from the caption, so the static caption
does not pull the estimate to zero), and copies each hidden pixel from the nearest earlier frame in
which its motion-compensated source lay outside the caption. Pixels no earlier frame saw
keep the spatial fill. A ring check (does the warped previous frame match this one around
the caption?) turns it off for motion that is not a translation: zooms, cuts, parallax.

Written here because no library does video inpainting from a static overlay mask with
cheap global motion; learned video inpainters (E2FGVI, ProPainter) are far too slow for a
2-core CPU at video rate.
"""
from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from kseg.erase import erase_region, grow_mask

DEPTH = 48  # earlier frames kept per caption event (2 s at 24 fps; fewer recover less of a pan)
HISTORY_BYTES = 48 << 20  # ... but at most this much of them: a wide 1080p caption's crops are
# 2.3 MB a frame with their grey, and a 1080p episode must stay within 2 GB (issue 22)
STEP = 1.5  # px of extra motion before an earlier frame is worth a look
RING = 6  # px around the grown mask used to check the motion model
MAX_RING_ERR = 8.0  # mean |difference| (0-255) on the ring above which the motion model is refused
MAX_CORNERS = 200  # corners tracked for the background's motion
MIN_TRACKS = MAX_CORNERS // 2  # fewer carried tracks than this: corners are found anew


def _motion(prev: np.ndarray, cur: np.ndarray, away: np.ndarray,
            p0: np.ndarray | None = None) -> tuple[tuple[float, float] | None, np.ndarray | None]:
    """Background translation from ``prev`` to ``cur`` (grey crops): the median of
    Lucas-Kanade tracks of corners away from the caption, and the tracked corners in ``cur``
    that are still away from it (the next frame's ``p0``). Phase correlation was tried
    first and measured biased towards zero (the caption and its fill are static).

    ``p0``: corners carried from the last frame's tracks (KLT's way). Finding corners anew
    cost three quarters of this function on a 1080p caption's crop (12 ms a frame), on every
    frame of a panning caption; they are found anew when fewer than half are left."""
    if p0 is None or len(p0) < MIN_TRACKS:
        p0 = cv2.goodFeaturesToTrack(prev, maxCorners=MAX_CORNERS, qualityLevel=0.01, minDistance=5, mask=away)
    if p0 is None or len(p0) < 8:
        return None, None
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, winSize=(15, 15), maxLevel=2)
    good = st.ravel() == 1
    if good.sum() < 8:
        return None, None
    d = (p1 - p0).reshape(-1, 2)[good]
    # the tracks that still lie away from the caption, carried to the next frame
    kept = p1[good]
    xy = np.rint(kept.reshape(-1, 2)).astype(int)
    h, w = away.shape
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    inside[inside] = away[xy[inside, 1], xy[inside, 0]] > 0
    kept = kept[inside]
    med = np.median(d, axis=0)
    if np.mean(np.linalg.norm(d - med, axis=1) < 1.0) < 0.5:
        return None, kept  # no single translation explains the tracks
    return (float(med[0]), float(med[1])), kept


STILL = 1.0  # mean |difference| (0-255) around the caption under which the shot has not moved


def _same_background(prev: np.ndarray, cur: np.ndarray, ring: np.ndarray) -> bool:
    """Whether the picture around the caption is unchanged (a still shot: same fill)."""
    if ring.sum() < 20:
        return False
    d = cv2.absdiff(prev, cur)[ring]  # gathered once (this runs on every frame of a caption)
    return float(d.mean()) < STILL and int(d.max()) < 24


@dataclass
class _Masks:
    """What one caption event's fill needs of its mask, made once for the event's life."""

    grown: np.ndarray  # bool: the pixels to fill
    keep_out: np.ndarray  # uint8 1 outside them: where an earlier frame shows background
    ring: np.ndarray  # bool: RING px around them, where the motion model is checked
    away: np.ndarray  # uint8 1 beyond the ring: where background motion is tracked

    @classmethod
    def of(cls, mask: np.ndarray, grow: int, crop: np.ndarray | None = None) -> _Masks:
        # with the first crop: the region a still erase fills (soft shadow, gaps included),
        # fixed for the event's life so that it does not flicker from frame to frame
        grown = grow_mask(mask, grow) if crop is None else erase_region(crop, mask, grow)
        near = cv2.dilate(grown.astype(np.uint8), np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)).astype(bool)
        return cls(grown, (~grown).astype(np.uint8), near & ~grown, (~near).astype(np.uint8))


def _warp(e_rgb: np.ndarray, keep_out: np.ndarray, tx: float, ty: float,
          box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An earlier crop moved by (tx, ty) (its content moved that far since), cut to ``box``
    (x0, y0, x1, y1), and where it shows background there."""
    x0, y0, x1, y1 = box
    M = np.float32([[1, 0, tx - x0], [0, 1, ty - y0]])  # dst(p) = src(p - t): content moved by t
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(e_rgb, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    ok = cv2.warpAffine(keep_out, M, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0)
    return warped, ok


@dataclass
class _Entry:
    index: int
    rgb: np.ndarray  # the decoded crop (caption present)
    gray: np.ndarray  # uint8 grey of the spatially filled crop (for motion estimation)
    shift: tuple[float, float] | None  # background motion from the previous entry to this one
    out: np.ndarray | None = None  # what fill() returned for it (kept for the last entry only)
    anchor: np.ndarray | None = None  # when ``out`` was reused: the crop it was computed on
    tracks: np.ndarray | None = None  # corners tracked into this crop, away from the caption


class TemporalFill:
    """``fill(key, index, crop, mask)``: the crop with its caption removed.

    ``key`` names the caption event (its crop and mask are fixed for its life); frames must
    come in order; a gap in ``index`` starts that event's history afresh.
    """

    def __init__(self, eraser: Callable[[np.ndarray, np.ndarray], np.ndarray], grow: int,
                 depth: int = DEPTH, max_ring_err: float = MAX_RING_ERR):
        self.eraser = eraser
        params = inspect.signature(eraser).parameters
        self._takes_region = "region" in params
        self._takes_rows = self._takes_region and "rows" in params
        self.grow = grow
        self.depth = depth
        self.max_ring_err = max_ring_err
        self._hist: dict[object, deque[_Entry]] = {}
        self._masks: dict[object, _Masks] = {}
        self.stats = {"frames": 0, "reused_frames": 0, "temporal_frames": 0, "temporal_pixels": 0,
                      "hidden_pixels": 0}

    def drop(self, key: object) -> None:
        """Forget an event that has ended (its history is up to ``depth`` crops): memory stays
        flat over an episode however many captions it has."""
        self._hist.pop(key, None)
        self._masks.pop(key, None)

    def fill(self, key: object, index: int, crop: np.ndarray, mask: np.ndarray, rows: bool = False) -> np.ndarray:
        """``rows``: the caption lies on a still picture (``Event.still``), whose one fill is
        reused frame after frame, so the eraser may afford its row check (``kseg.erase.erase``):
        a subtitle under a slide's edge is then filled along the black band, not smeared."""
        hist = self._hist.get(key)
        masks = self._masks.get(key)
        if masks is None or masks.grown.shape != mask.shape:
            masks = self._masks[key] = _Masks.of(mask, self.grow, crop if self._takes_region else None)
        grown = masks.grown
        self.stats["frames"] += 1
        if hist and hist[-1].index == index - 1 and hist[-1].out is not None:
            prev = hist[-1]
            anchor = prev.anchor if prev.anchor is not None else prev.rgb
            # against the frame whose fill is reused, so a slow drift cannot creep past
            if _same_background(anchor, crop, masks.ring):
                # a still shot: last frame's answer is this frame's (and costs nothing)
                self.stats["reused_frames"] += 1
                out = crop.copy()
                cv2.copyTo(prev.out, grown.view(np.uint8), out)  # boolean indexing costs 100x
                prev.out = None  # only the last answer is ever reused (a 1080p crop: MBs a frame)
                hist.append(_Entry(index, crop.copy(), prev.gray, (0.0, 0.0), out, anchor))
                return out
        if self._takes_rows:
            spatial = self.eraser(crop, mask, region=grown, rows=rows)
        elif self._takes_region:
            spatial = self.eraser(crop, mask, region=grown)
        else:
            spatial = self.eraser(crop, mask)
        gray = cv2.cvtColor(spatial, cv2.COLOR_RGB2GRAY)
        if not hist or hist[-1].index != index - 1:
            per = crop.nbytes + gray.nbytes
            hist = self._hist[key] = deque(maxlen=max(8, min(self.depth, HISTORY_BYTES // max(1, per))))
        self.stats["hidden_pixels"] += int(grown.sum())
        out = spatial
        shift = tracks = None
        if hist and min(crop.shape[:2]) >= 16:
            shift, tracks = _motion(hist[-1].gray, gray, masks.away, hist[-1].tracks)
            if shift is not None:
                out = self._from_history(hist, crop, spatial, masks, shift)
        if hist:
            hist[-1].out = None
        hist.append(_Entry(index, crop.copy(), gray, shift, out, tracks=tracks))
        return out

    def _from_history(self, hist: deque[_Entry], crop: np.ndarray, spatial: np.ndarray,
                      masks: _Masks, shift: tuple[float, float]) -> np.ndarray:
        grown = masks.grown
        h, w = grown.shape
        res = spatial.copy()
        todo = grown.copy()
        tx, ty = shift
        checked = False
        last = (0.0, 0.0)
        for e in reversed(hist):
            # an earlier frame shifted less than STEP px from the last one tried shows nothing new
            if max(abs(tx - last[0]), abs(ty - last[1])) >= STEP:
                last = (tx, ty)
                whole = None
                if not checked:
                    # the first earlier frame used must match this one around the caption
                    checked = True
                    warped, ok = whole = _warp(e.rgb, masks.keep_out, tx, ty, (0, 0, w, h))
                    check = masks.ring & ok.astype(bool)
                    if check.sum() < 20:
                        return spatial
                    # cv2's masked mean of the absolute difference: the mean over the check
                    # pixels' channels, without gathering them (every frame of a panning caption)
                    err = float(np.mean(cv2.mean(cv2.absdiff(warped, crop), check.view(np.uint8))[:crop.shape[2]]))
                    if err > self.max_ring_err:
                        return spatial  # not a translation (zoom, cut, parallax): spatial only
                # warp only the box of what is still missing
                bx, by, bw, bh = cv2.boundingRect(todo.view(np.uint8))
                x0, y0, x1, y1 = bx, by, bx + bw, by + bh
                if whole is not None:  # the frame just checked: cut from its warp (the same pixels)
                    warped = whole[0][y0:y1, x0:x1]
                    ok = np.ascontiguousarray(whole[1][y0:y1, x0:x1])
                else:
                    warped, ok = _warp(e.rgb, masks.keep_out, tx, ty, (x0, y0, x1, y1))
                ok = cv2.erode(ok, np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
                sub = todo[y0:y1, x0:x1]
                take = sub & ok
                if take.any():
                    cv2.copyTo(warped, take.view(np.uint8), res[y0:y1, x0:x1])  # in place, through the view
                    sub &= ~take  # a view: clears todo
                    if not todo.any():
                        break
            if e.shift is None:
                break
            tx += e.shift[0]
            ty += e.shift[1]
        n = int(grown.sum() - todo.sum())
        if n:
            self.stats["temporal_frames"] += 1
            self.stats["temporal_pixels"] += n
        return res
