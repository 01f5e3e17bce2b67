"""Caption events: when each caption appears and disappears, found without detecting every frame.

A caption stays on screen for seconds while the picture under it moves, so translate-video
works per *event* (one caption block from appearance to disappearance): detection, SAM,
recognition, style and translation run once per event; per frame only the cheap tests below.

* **Presence test** (per frame, per live event): the luma of the event's footprint pixels
  (plus a 1-px ring) is regressed on the same pixels of the frame it was detected in. The
  slope is the caption's visibility: ~1 while it is on, ~0 once the background shows
  through (the caption's own fill/outline contrast dominates the variance of those pixels),
  and in between during a fade (a fade is a blend, ``a*caption + (1-a)*background``). The
  event is *on* where the slope is >= 0.5 (``ON``); fade frames above ``FADE`` are erased too.
  Boundaries come from this test frame by frame, backwards through a ring buffer of recent
  luma frames for the start, so they do not depend on when the detector happened to run.
  Frames over a megapixel are kept decimated in it (``ring_grid``) and the test reads only
  those pixels of every frame, so a 1080p ring is a quarter of the memory with the same answers.
* **Trigger** (per frame, whole picture, ~1 ms): a downscaled map of *stable edges* (strong
  gradients whose pixels did not change since the previous frame). Burned-in captions are
  static while footage moves, so a caption appearing shows as blocks that gain stable edges
  and keep them. The detector runs ``SETTLE`` frames after that, on the window of the
  line-shaped blocks that rose (``Detector.detect(rows=, cols=)``: the cost follows the
  window); on the whole frame at the first frame and, as a safety net, every ``sample_every``
  seconds without any detection. The blocks of live captions, and of text the analyzer read
  and left out (a ticking clock, a logo: ``analyzer.left_out``) until the next cut, do not
  count. Captions a detection finds shown unchanged (live events) are not segmented or read
  again.
* **After a cut** the whole frame is read ``SETTLE`` frames on: a caption that comes with the
  new shot adds no stable edges *since* the frames before, may be gone before stable edges
  could show (they need ``STILL_SPAN`` unchanged frames), and over moving footage they never do.
* **Watches** (after the end of an event): a caption that replaces the last line in place adds
  no stable edges either, so for ``WATCH`` s the ended caption's blocks are watched for
  caption-shaped stable edges at all, two frames running; the detector runs (``SETTLE`` frames
  on, on the ended caption's rows) when they show. Over moving footage nothing does, and the
  detector (the bulk of the analysis time) is saved; over a still shot the watch fires, as it
  should.
* **Reads already made** are not made again: where the downscaled luma a detection would read
  is what the detector last read there (``SAME_READ``) and no caption it found there has ended
  since, the answer would be the same (a slideshow's slide, read when it came, is not read
  again every ``sample_every`` seconds or for a trigger over it).
* **Changes in place** (a caption that grows or swaps a word): a detection that overlaps a live
  event with a different mask closes it; the switch frame is where the presence of the
  *changed part* rises (or, for removed ink, falls), scanned backwards.

Known limits: a caption on a background that does not move and looks like it (white text on
a white wall) is found by the periodic detection only; a caption that moves (scrolling
tickers) is not an event and is left alone.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kseg.types import Box, Caption, Style
from kseg.video.plates import PlateOverTime

ON = 0.5  # visibility at which a caption counts as shown (event boundaries)
FADE = 0.12  # visibility above which a fading caption is still erased
FADE_STEP = 0.005  # least fall per frame of a fade-out's visibility ...
FADE_FLAT = 3  # ... and frames without it that end the fade
CORR = 0.35  # least correlation with the reference for the slope to mean anything
# A scene cut: the luma histogram (32 bins, L1) changes by more than CUT_HIST; or by more than
# CUT_HIST_MOVED while the picture's mean absolute change exceeds CUT_MOVED (0-255). Content
# common to both shots (a slideshow's black surround, letterbox bars) dilutes the histogram's
# change: a real subtitled slideshow's cuts between letterboxed pictures measured 0.42-0.51
# (mean change 60-66), where bench/real's clip's flashes and zooms stay under 0.41 (mean
# change under 20) and a hand-held pan changes the histogram little.
CUT_HIST = 0.6
CUT_HIST_MOVED = 0.3
CUT_MOVED = 40.0
STILL_SPAN = 4  # frames a stable edge must stay unchanged (trigger)
BLOCK = 8  # px of the downscaled luma per block of stable-edge counts
BLOCK_EDGES = 10  # stable edge pixels that make a block count (or count as grown)
WATCH = 0.5  # s a region is watched once the stable-edge map is back (see module doc)
# frames a triggered detection waits: new content is still being refined by the encoder in its
# first frames (example clip, 720p and 1080p: masks and reading as good or better 2 frames on)
SETTLE = 2
# A still picture (a slide, a map, a screenshot shown as it is): the downscaled luma's mean
# absolute change from one frame to the next stays under STILL_CHANGE (0-255) on at least
# STILL_SHARE of the frames a caption is tracked over. A real slideshow's stills measured 0.0
# on every frame; real broadcast and hand-held footage 1.3-4.1 at the median.
STILL_CHANGE = 0.5
STILL_SHARE = 0.9
# A detection is skipped where the downscaled luma it would read differs from what the detector
# last read there by at most SAME_READ levels at every pixel, and no caption found there has ended
# since: the same pixels give the same answer. A slideshow's periodic reads of a slide already
# read, and trigger windows over it, cost a fifth of a 1080p CRAFT read each (issue 22).
SAME_READ = 6
FUSE_FRAMES = 8  # frames of an event whose readings are fused (issue 20), ...
FUSE_EVERY = 0.25  # ... taken this many seconds apart while the caption is fully shown


@dataclass
class Detected:
    """One caption block found by the full detector in one frame."""

    caption: Caption
    mask: np.ndarray  # bool, full frame: union footprint of the block's lines
    lines: list[str]  # recognised text per line, top to bottom
    line_masks: list[np.ndarray] = field(default_factory=list)
    geometry: list[Any] = field(default_factory=list)  # TextLine per line (for reading other frames)


Analyzer = Callable[[np.ndarray, int], list[Detected]]  # (RGB frame, index) -> captions


BUFFER_SECONDS = 2.5  # how far back (s) a newly detected caption's first frame is looked for

@dataclass
class Event:
    """One caption block on screen from ``start`` to ``end`` (frames, inclusive, >= 50 % visible)."""

    id: int
    start: int
    end: int
    erase_from: int  # first frame with any visible ink (fade-in included)
    erase_to: int  # last such frame (fade-out included)
    box: Box  # footprint bounding box, display-frame pixels
    mask: np.ndarray  # bool, box-sized crop of the footprint
    caption: Caption
    lines: list[str]
    detected_at: int  # frame whose pixels the caption was read from
    alpha: dict[int, float] = field(default_factory=dict)  # visibility of fade frames only
    start_time: float = 0.0  # seconds on the output timeline (filled in by the caller)
    end_time: float = 0.0
    translation: str | None = None
    overlay: bool = False  # a logo, programme bar or watermark: on screen for most of the video
    still: bool = False  # the picture around it did not move while it was tracked (STILL_CHANGE)
    scene: bool = False  # text of that still picture itself (a map's names): see video/job.py
    # the style as measured, where its track's look took its place (kseg.video.tracks)
    measured: Style | None = None

    @property
    def text(self) -> str:
        """The lines as one text (``kseg.recognize.lm.join_lines``: no space where a line
        break splits a word, as auto-captions wrapped by width do)."""
        from kseg.recognize.lm import join_lines, loaded_lm

        return join_lines(self.lines, loaded_lm())

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        m = np.zeros(shape[:2], bool)
        x0, y0, x1, y1 = self.box
        m[y0:y1, x0:x1] = self.mask
        return m

    def visibility(self, i: int) -> float:
        if self.start <= i <= self.end:
            return 1.0
        return self.alpha.get(i, 0.0)

    @classmethod
    def from_json(cls, d: dict[str, Any], mask: np.ndarray) -> "Event":
        """An event as ``to_json`` (plus its ``alpha``) wrote it, with its box-sized mask."""
        return cls(id=int(d["event"]), start=int(d["start"]), end=int(d["end"]),
                   erase_from=int(d["erase_from"]), erase_to=int(d["erase_to"]),
                   box=tuple(int(v) for v in d["box"]), mask=mask, caption=Caption.from_json(d["caption"]),
                   lines=list(d["lines"]), detected_at=int(d["detected_at"]),
                   alpha={int(k): float(v) for k, v in d.get("alpha", {}).items()},
                   translation=d.get("translation"), overlay=bool(d.get("overlay", False)),
                   still=bool(d.get("still", False)), scene=bool(d.get("scene", False)))

    def to_json(self) -> dict[str, Any]:
        return {"event": self.id, "start": self.start, "end": self.end,
                "start_time": round(self.start_time, 4), "end_time": round(self.end_time, 4),
                "erase_from": self.erase_from, "erase_to": self.erase_to,
                "box": [int(v) for v in self.box], "lines": list(self.lines), "text": self.text,
                "translation": self.translation, "overlay": self.overlay, "still": self.still,
                "scene": self.scene, "detected_at": self.detected_at,
                "caption": self.caption.to_json()}


def _caption_place(hit: np.ndarray) -> tuple[int, int, int, int] | None:
    """(first row, last row, first column, last column) in blocks of the places with >= 3 hit
    blocks within 5 adjacent columns of a 2-block band (a line of text), or None. Stray hits
    elsewhere (a face that held still, an icon) do not widen what the detector then reads."""
    if hit.size == 0:
        return None
    h32 = hit.astype(np.float32)
    band = h32[:-1] + h32[1:] if hit.shape[0] > 1 else h32
    run = cv2.filter2D(band, -1, np.ones((1, 5), np.float32), borderType=cv2.BORDER_CONSTANT)
    q = run >= 3
    if not q.any():
        return None
    # the hit blocks of the qualifying windows (rows r and r + 1, columns c - 2 .. c + 2)
    qh = q.copy()
    for k in (1, 2):
        qh[:, k:] |= q[:, :-k]
        qh[:, :-k] |= q[:, k:]
    sel = np.zeros_like(hit)
    sel[:len(qh)] |= qh
    if hit.shape[0] > 1:
        sel[1:] |= qh
    ys, xs = np.nonzero(sel & hit)
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def _caption_shaped(hit: np.ndarray) -> bool:
    return _caption_place(hit) is not None


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 for empty ones."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _bbox(mask: np.ndarray) -> Box | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


RING_PIXELS = 1_000_000  # the look-back ring keeps frames larger than this decimated


def ring_grid(shape: tuple[int, ...]) -> int:
    """The decimation (1, 2, 4, ...) of the look-back ring's frames: a 1080p frame is kept at a
    quarter of its pixels (39 instead of 155 MB for 2.5 s), 720p whole. Presence tests read
    only the grid's pixels of every frame, so a kept frame answers exactly as the whole one."""
    g = 1
    while shape[0] * shape[1] > RING_PIXELS * g * g:
        g *= 2
    return g


MOVE_SEARCH = 32  # px around a caption looked at for it when it seems to end
MOVE_CORR = 0.75  # correlation of the pattern found elsewhere for it to count as moved
MIN_FRAMES = 3  # an event shorter than this is a transition or a detector flicker, not a caption
class Presence:
    """Visibility of a fixed pattern (the caption's luma) in later frames; see module doc."""

    def __init__(self, ref_gray: np.ndarray, mask: np.ndarray, grid: int = 1):
        """``grid``: the test reads only pixels whose frame row and column are multiples of it,
        so that a frame kept decimated by ``grid`` (``g[::grid, ::grid]``, the tracker's ring
        of large frames) gives exactly the values the full frame gives."""
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        bb = _bbox(ring) or (0, 0, 1, 1)
        x0, y0, x1, y1 = bb
        step = max(1, int(np.sqrt(ring[y0:y1, x0:x1].sum() / 20000)))  # 4K captions: subsample, same answer
        step = -(-step // grid) * grid
        # the box starts on the grid, so the subsample's rows and columns are frame multiples of it
        x0, y0 = x0 - x0 % grid, y0 - y0 % grid
        self.box = (x0, y0, x1, y1)
        self.grid = grid
        sel = ring[y0:y1, x0:x1]
        if step > 1:
            sub = np.zeros_like(sel)
            sub[::step, ::step] = True
            sel = sel & sub
        self.sel = sel
        self.ref = ref_gray[y0:y1, x0:x1].copy()  # for ``moved``
        r = ref_gray[y0:y1, x0:x1][sel].astype(np.float32)
        self.r0 = r - r.mean()
        self.rr = float(self.r0 @ self.r0)
        self.valid = self.rr > 25.0 * max(1, len(r))  # a flat patch has no pattern to follow
        self.sel_small = sel[::grid, ::grid]  # the same pixels in a frame decimated by the grid

    def __call__(self, gray: np.ndarray, decimated: bool = False) -> tuple[float, float]:
        """(slope, correlation) of this frame's pixels on the reference's; ``decimated``: ``gray``
        is the frame decimated by the grid, as the tracker's ring keeps large frames."""
        if not self.valid:
            return 0.0, 0.0
        x0, y0, x1, y1 = self.box
        g = self.grid
        if decimated:
            x = gray[y0 // g:-(-y1 // g), x0 // g:-(-x1 // g)][self.sel_small].astype(np.float32)
        else:
            x = gray[y0:y1, x0:x1][self.sel].astype(np.float32)
        x0_ = x - x.mean()
        xr = float(x0_ @ self.r0)
        xx = float(x0_ @ x0_)
        slope = xr / self.rr
        corr = xr / np.sqrt(self.rr * xx) if xx > 0 else 0.0
        return slope, corr

    def visible(self, gray: np.ndarray, decimated: bool = False) -> float:
        s, c = self(gray, decimated)
        return float(s) if c >= CORR else 0.0

    def moved(self, gray: np.ndarray) -> bool:
        """Whether the pattern is still on screen but a few pixels away: text that moves with the
        footage (a name tag, a sign) rather than a caption, which stays where it was drawn."""
        if not self.valid:
            return False
        x0, y0, x1, y1 = self.box
        H, W = gray.shape
        r = MOVE_SEARCH
        sx0, sy0, sx1, sy1 = max(0, x0 - r), max(0, y0 - r), min(W, x1 + r), min(H, y1 + r)
        if sx1 - sx0 <= x1 - x0 or sy1 - sy0 <= y1 - y0:
            return False
        res = cv2.matchTemplate(gray[sy0:sy1, sx0:sx1], self.ref, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(res)
        shift = max(abs(sx0 + bx - x0), abs(sy0 + by - y0))
        return best >= MOVE_CORR and shift >= 2


class _Live:
    """An event being tracked."""

    def __init__(self, det: Detected, start: int, at: int, presence: Presence, full_mask: np.ndarray):
        self.det = det
        self.start = start
        self.erase_from = start
        self.at = at
        self.presence = presence
        self.mask = full_mask
        self.alpha: dict[int, float] = {}
        self.end: int | None = None  # set when it drops below ON
        self.low = 0  # consecutive frames below ON
        self.fade_low = 0
        self.fade_min = 1.0  # lowest visibility since it dropped below ON
        self.fade_flat = 0  # frames since then that did not go lower (a fade keeps falling)
        self.last_on = at
        self.box = _bbox(full_mask) or (0, 0, 1, 1)
        self.samples: list[list[tuple[np.ndarray, np.ndarray | None]]] = [[] for _ in det.lines]
        self.moving = False  # it "ended" by moving away: scene text, dropped at close
        self.overlay = False  # found certain to be an overlay while still on screen (analyse)
        self.tracked = 0  # frames it was tracked on screen, and of them those with a still picture
        self.still = 0
        self.plate: PlateOverTime | None = None  # a plated caption's opacity, measured over its frames

    def sample(self, image: np.ndarray) -> None:
        """Keep this frame's strip of every line, for the fused reading at the end."""
        from kseg.recognize import line_strip

        for j, geo in enumerate(self.det.geometry[:len(self.samples)]):
            m = self.det.line_masks[j] if j < len(self.det.line_masks) else None
            self.samples[j].append(line_strip(image, geo, m))


@dataclass
class _Watch:
    """An ended caption's place, looked at for the line that replaces it (module doc)."""

    blocks: tuple[slice, slice]  # its blocks of stable-edge counts
    until: int  # last frame looked at
    rows: tuple[int, int]  # the frame rows the detector then reads
    prev: np.ndarray | None = None  # the blocks with stable edges in the frame before


class EventTracker:
    """Feed frames in order (``push``), collect finished events (returned by push/finish)."""

    def __init__(self, analyzer: Analyzer, fps: float, *, sample_every: float = 4.0,
                 buffer_seconds: float = BUFFER_SECONDS, max_buffer_bytes: int = 400 << 20,
                 min_gap: float = 0.4, small_height: int = 180, on_detect: Callable[[int], None] | None = None):
        self.analyzer = analyzer
        self.fps = max(1e-3, float(fps))
        self.sample_every = max(1, int(round(sample_every * self.fps)))
        self.buffer_seconds = buffer_seconds
        self.max_buffer_bytes = max_buffer_bytes
        self.min_gap = max(1, int(round(min_gap * self.fps)))
        self.small_height = small_height
        self.on_detect = on_detect
        self.ring: deque[tuple[int, np.ndarray]] = deque()  # luma, decimated by ``grid``
        self.grid = 0  # set by the first frame (``ring_grid``)
        self.live: list[_Live] = []
        self.next_id = 0
        self.last_detect = -10 ** 9
        self.due: int | None = None  # frame at which a detection is scheduled
        self.prev_edges: np.ndarray | None = None
        self.prev_hist: np.ndarray | None = None
        self.smalls: deque[tuple[np.ndarray, np.ndarray]] = deque()
        self.hist_counts: deque[np.ndarray] = deque()  # block counts of stable edges, last 7 frames
        self.prev_grown: np.ndarray | None = None
        self.counts: np.ndarray | None = None  # this frame's stable-edge block counts, if known
        self.watches: list[_Watch] = []
        self.rise = 0
        self.cuts: list[int] = []
        self.change = float("inf")  # this frame's mean absolute change from the last (STILL_CHANGE)
        self.detections: list[int] = []
        self.dropped: list[dict] = []  # what looked like a caption and was not (see _close)
        # what the scheduled detection looks at: the frame box (x0, y0, x1, y1) where the stable
        # edges that asked for it rose (or an ended caption's rows), or the whole frame when a
        # cut's watch, the safety net or the first frame asked too
        self.band: tuple[int, int, int, int] | None = None
        self.muted: list[Box] = []  # text read and left out by the analyzer, until the next cut
        self.whole = False
        self.index = -1
        # the downscaled luma as the detector last read it, and where that reading still stands
        # (no caption found there has ended since): SAME_READ
        self.seen: np.ndarray | None = None
        self.seen_ok: np.ndarray | None = None
        # analyzer.fuse (the recogniser's ``fuse``, where it has one) reads a caption from the
        # strips of several of its frames; without it an event keeps its one-frame reading
        self.fuse = getattr(analyzer, "fuse", None)
        self.fuse_step = max(1, int(round(FUSE_EVERY * self.fps)))

    # ------------------------------------------------------------------ cheap per-frame signals

    def _signals(self, i: int, gray: np.ndarray) -> tuple[bool, tuple[int, int, int, int] | None]:
        """(scene cut, the frame box of a caption-like change or None) from the downscaled luma."""
        h, w = gray.shape
        s = max(1, h // self.small_height)
        small = cv2.resize(gray, (max(8, w // s), max(8, h // s)), interpolation=cv2.INTER_AREA)
        hist = cv2.calcHist([small], [0], None, [32], [0, 256]).ravel()
        hist /= max(1.0, hist.sum())
        moved = float(np.abs(hist - self.prev_hist).sum()) if self.prev_hist is not None else 0.0
        prev_small = self.smalls[-1][0] if self.smalls else None
        self.change = (float(cv2.absdiff(small, prev_small).mean())
                       if prev_small is not None and prev_small.shape == small.shape else float("inf"))
        cut = moved > CUT_HIST or (moved > CUT_HIST_MOVED and self.change > CUT_MOVED)
        self.prev_hist = hist
        gx = cv2.Sobel(small, cv2.CV_16S, 1, 0)
        gy = cv2.Sobel(small, cv2.CV_16S, 0, 1)
        edges = (cv2.add(cv2.convertScaleAbs(gx), cv2.convertScaleAbs(gy)) > 120)
        change = None
        if cut:
            self.smalls.clear()
        self.smalls.append((small, edges))
        if len(self.smalls) > STILL_SPAN + 1:
            self.smalls.popleft()
        if len(self.smalls) == STILL_SPAN + 1:
            # unchanged for STILL_SPAN frames: footage that moves even slowly has shifted by then
            old, old_edges = self.smalls[0]
            still = cv2.absdiff(small, old) <= 5
            stable = (edges & old_edges & self.prev_edges & still).astype(np.float32)
            b = BLOCK
            hh, ww = (stable.shape[0] // b) * b, (stable.shape[1] // b) * b
            counts = stable[:hh, :ww].reshape(hh // b, b, ww // b, b).sum(axis=(1, 3))
            # blocks of live captions do not count: they are tracked by the presence test; nor
            # those of text the detector read and left out (a clock ticks: new edges every second)
            for ev in self.live:
                counts[self._blocks(ev.box, s)] = 0
            for box in self.muted:
                counts[self._blocks(box, s)] = 0
            self.counts = counts
            self.hist_counts.append(counts)
            if len(self.hist_counts) > 7:
                self.hist_counts.popleft()
                grown = (counts - self.hist_counts[0]) >= BLOCK_EDGES
                # new stable edges in >= 3 blocks, kept for two frames: a caption has settled
                hit = grown & self.prev_grown if self.prev_grown is not None else grown
                self.prev_grown = grown
                place = _caption_place(hit)
                self.rise = self.rise + 1 if place is not None else 0
                if self.rise == 1:  # the frame box of the line-shaped blocks that rose
                    r0, r1, c0, c1 = place
                    px = BLOCK * s
                    change = (c0 * px, r0 * px, min(w, (c1 + 1) * px), min(h, (r1 + 1) * px))
        else:
            self.counts = None
            self.hist_counts.clear()
            self.prev_grown = None
            self.rise = 0
        self.prev_edges = edges
        return cut, change

    @staticmethod
    def _blocks(box: Box, s: int) -> tuple[slice, slice]:
        """The count blocks of a frame box, with one block of margin."""
        x0, y0, x1, y1 = box
        b = BLOCK
        return (slice(max(0, y0 // s // b - 1), y1 // s // b + 2),
                slice(max(0, x0 // s // b - 1), x1 // s // b + 2))

    def _watch(self, i: int, box: Box, h: int) -> None:
        """Look for a caption in an ended caption's ``box`` for the next WATCH s (module doc);
        the detector then reads its rows (the next line)."""
        blocks = self._blocks(box, max(1, h // self.small_height))
        self.watches.append(_Watch(blocks, i + STILL_SPAN + 1 + int(round(WATCH * self.fps)), (box[1], box[3])))

    def _watched(self, i: int) -> list[_Watch]:
        """The watches whose region shows caption-shaped stable edges, this frame and the one
        before, as the trigger wants its growth (those watches then end)."""
        self.watches = [w for w in self.watches if w.until >= i]
        fired = []
        for w in list(self.watches):
            if self.counts is None:
                w.prev = None
                continue
            on = self.counts[w.blocks] >= BLOCK_EDGES
            if w.prev is not None and _caption_shaped(on & w.prev):
                self.watches.remove(w)
                fired.append(w)
            w.prev = on
        return fired

    # ------------------------------------------------------------------ main loop

    def _buffer(self, i: int, gray: np.ndarray) -> None:
        if not self.grid:
            self.grid = ring_grid(gray.shape)
        g = self.grid
        kept = gray if g == 1 else gray[::g, ::g].copy()
        self.ring.append((i, kept))
        cap = max(4, min(int(self.buffer_seconds * self.fps), self.max_buffer_bytes // max(1, kept.nbytes)))
        while len(self.ring) > cap:
            self.ring.popleft()

    def push(self, i: int, gray: np.ndarray, rgb: Callable[[], np.ndarray]) -> list[Event]:
        """Track frame ``i`` (luma); ``rgb()`` gives its colour image if a detection needs it."""
        self.index = i
        self._buffer(i, gray)
        done = self._update_live(i, gray, rgb)
        if self.fuse is not None:
            want = [ev for ev in self.live if ev.end is None and ev.at < i and ev.low == 0
                    and (i - ev.at) % self.fuse_step == 0 and ev.det.geometry
                    and len(ev.samples[0]) < FUSE_FRAMES]
            if want:
                image = rgb()
                for ev in want:
                    ev.sample(image)
        cut, change = self._signals(i, gray)
        for ev in self.live:
            if ev.end is None and ev.last_on == i:  # shown on this frame: how much its picture moved
                ev.tracked += 1
                ev.still += self.change <= STILL_CHANGE
        if cut:
            self.cuts.append(i)
            self.muted = []  # a new shot: what was left out may be gone, and is read again
            # a caption that comes with the new shot can be gone before stable edges could show
            # it (STILL_SPAN + 2 frames on, and never over moving footage): the whole frame is
            # read SETTLE frames after every cut (issue 22: a 6-frame line after a cut)
            self._schedule(i + SETTLE, force=True)
            self.whole = True
        if change is not None:
            self._schedule(i + SETTLE)
            self._add_band(change)
        for w in self._watched(i):
            self._schedule(i + SETTLE, force=True)
            # the ended caption's rows, the whole width (the next line may be longer)
            self._add_band((0, w.rows[0], gray.shape[1], w.rows[1]))
        if self.due is None and i - self.last_detect >= self.sample_every:
            self._schedule(i)
            self.whole = True
        if self.due is not None and i >= self.due:
            self.due = None
            box = None if self.whole else self.band
            self.whole, self.band = False, None
            if self._read_before(box, gray.shape):
                self.last_detect = i  # the safety net's clock restarts as after a detection
            else:
                done += self._detect(i, gray, rgb(), box)
        return done

    def _small_slice(self, box: Box | None, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """A frame box (None: the whole frame) in the downscaled luma's pixels, covering it."""
        if box is None:
            return slice(None), slice(None)
        s = max(1, shape[0] // self.small_height)
        x0, y0, x1, y1 = box
        return slice(y0 // s, -(-y1 // s)), slice(x0 // s, -(-x1 // s))

    def _read_before(self, box: Box | None, shape: tuple[int, ...]) -> bool:
        """Whether the detector already read these pixels (SAME_READ) and what it found there
        still stands: reading them again would give the same answer."""
        if self.seen is None or self.seen_ok is None or not self.smalls:
            return False
        small = self.smalls[-1][0]
        if small.shape != self.seen.shape:
            return False
        sl = self._small_slice(box, shape)
        a, b = small[sl], self.seen[sl]
        return a.size > 0 and bool(self.seen_ok[sl].all()) and int(cv2.absdiff(a, b).max()) <= SAME_READ

    def _read(self, box: Box | None, shape: tuple[int, ...]) -> None:
        """Note what a detection read: the current downscaled luma within ``box`` (None: all)."""
        if not self.smalls:
            return
        small = self.smalls[-1][0]
        if self.seen is None or self.seen.shape != small.shape:
            self.seen = np.zeros_like(small)
            self.seen_ok = np.zeros(small.shape, bool)
        sl = self._small_slice(box, shape)
        self.seen[sl] = small[sl]
        self.seen_ok[sl] = True

    def _unread(self, box: Box, shape: tuple[int, ...]) -> None:
        """A caption found in ``box`` was closed: a reading there no longer stands (the same
        caption shown again, as it was, is a new event and must be read). Until it closes, a
        read there would only find its fading ghost, which a detection ignores."""
        if self.seen_ok is not None:
            x0, y0, x1, y1 = box
            sy, sx = self._small_slice((max(0, x0 - 1), max(0, y0 - 1), x1 + 1, y1 + 1), shape)
            self.seen_ok[sy, sx] = False

    def _add_band(self, box: tuple[int, int, int, int]) -> None:
        """Add a frame box (x0, y0, x1, y1) to what the next detection reads."""
        b = tuple(int(v) for v in box)
        self.band = b if self.band is None else (min(b[0], self.band[0]), min(b[1], self.band[1]),
                                                 max(b[2], self.band[2]), max(b[3], self.band[3]))

    def _schedule(self, at: int, force: bool = False) -> None:
        if not force and at - self.last_detect < self.min_gap:
            at = self.last_detect + self.min_gap
        self.due = at if self.due is None else min(self.due, at) if force else self.due

    def _update_live(self, i: int, gray: np.ndarray, rgb: Callable[[], np.ndarray] | None = None) -> list[Event]:
        done: list[Event] = []
        for ev in list(self.live):
            if ev.at >= i:
                continue
            v = ev.presence.visible(gray)
            if ev.end is None:
                if v >= ON:
                    ev.low = 0
                    ev.last_on = i
                    ev.alpha.pop(i, None)
                    if ev.plate is not None:
                        ev.plate.add(gray, rgb)
                else:
                    ev.low += 1
                    ev.fade_min = min(ev.fade_min, v)
                    if v > FADE:
                        ev.alpha[i] = v
                    if ev.low >= 2:
                        ev.end = ev.last_on
                        ev.fade_low = 0 if v > FADE else 1
                        ev.moving = ev.presence.moved(gray)
                        if ev.fade_low:
                            done += self._ended(ev, i, gray.shape[0])
            else:
                # a fade-out keeps falling; visibility that stays put is something else on the
                # same pixels (the next line drawn over this one's place), not this caption
                ev.fade_flat = 0 if v < ev.fade_min - FADE_STEP else ev.fade_flat + 1
                ev.fade_min = min(ev.fade_min, v)
                if ev.fade_flat >= FADE_FLAT:
                    for k in range(i - FADE_FLAT - 1, i):
                        ev.alpha.pop(k, None)
                    done += self._ended(ev, i, gray.shape[0])
                elif v > FADE and i - ev.end <= self.fps:
                    ev.alpha[i] = min(v, ON)
                    ev.fade_low = 0
                else:
                    ev.fade_low += 1
                    if ev.fade_low >= 2 or i - ev.end > self.fps:
                        done += self._ended(ev, i, gray.shape[0])
        return done

    def _ended(self, ev: _Live, i: int, h: int) -> list[Event]:
        """Close a caption that left the screen, and watch its place: the next line often
        replaces it there (a tag that just moved is not watched for)."""
        done = self._close(ev, i)
        if not ev.moving:
            self._watch(i, ev.box, h)
        return done

    def _close(self, ev: _Live, i: int) -> list[Event]:
        """The finished event, or nothing for what is not a caption: text that moved away (scene
        text) and blips shorter than MIN_FRAMES (a transition's frame, a detector flicker)."""
        self.live.remove(ev)
        self._unread(ev.box, ev.mask.shape)
        end = ev.end if ev.end is not None else i
        if ev.moving or end - ev.start + 1 < MIN_FRAMES:
            self.dropped.append({"start": ev.start, "end": end, "text": " ".join(ev.det.lines),
                                 "why": "moved" if ev.moving else "too short"})
            return []
        alpha = {k: min(v, ON) for k, v in ev.alpha.items() if k > end or k < ev.start}
        after = [k for k in alpha if k > end]
        erase_to = end
        for k in range(end + 1, end + 1 + len(after) + 2):  # contiguous fade-out frames only
            if k in alpha:
                erase_to = k
            else:
                break
        alpha = {k: v for k, v in alpha.items() if ev.erase_from <= k <= erase_to}
        box = _bbox(ev.mask) or (0, 0, 1, 1)
        x0, y0, x1, y1 = box
        lines, caption = list(ev.det.lines), ev.det.caption
        if ev.plate is not None:
            caption = ev.plate.revised(caption)
            ev.plate = None
        if self.fuse is not None and ev.samples and len(ev.samples[0]) > 1:
            lines = [self.fuse(smp)[0] if len(smp) > 1 else t for smp, t in zip(ev.samples, lines)]
            caption = dataclasses.replace(caption, text=" ".join(t for t in (x.strip() for x in lines) if t))
        ev.samples = []
        e = Event(id=self.next_id, start=ev.start, end=end, erase_from=ev.erase_from, erase_to=erase_to,
                  box=box, mask=ev.mask[y0:y1, x0:x1].copy(), caption=caption,
                  lines=lines, detected_at=ev.at, alpha=alpha, overlay=ev.overlay,
                  still=ev.tracked > 0 and ev.still >= STILL_SHARE * ev.tracked)
        self.next_id += 1
        return [e]

    def _scan_back(self, p: Presence, i: int, stop: int | None = None) -> tuple[int, int, dict[int, float]]:
        """(first ON frame, first frame with any ink, fade alphas) going back from frame i."""
        start = i
        fade_from = i
        alpha: dict[int, float] = {}
        fading = False
        for j, g in reversed(self.ring):
            if j >= i:
                continue
            if stop is not None and j < stop:
                break
            v = p.visible(g, decimated=True)  # the ring's frames are kept decimated by the grid
            if not fading and v >= ON:
                start = fade_from = j
                continue
            fading = True
            if v > FADE:
                alpha[j] = min(v, ON)
                fade_from = j
            else:
                break
        return start, fade_from, alpha

    def _detect(self, i: int, gray: np.ndarray, image: np.ndarray,
                box: tuple[int, int, int, int] | None = None) -> list[Event]:
        """Detect on frame i: the whole frame, or only ``box`` (x0, y0, x1, y1) where new text
        can be (an analyzer that takes ``cols`` reads that window, else its rows)."""
        self.last_detect = i
        self.detections.append(i)
        if self.on_detect:
            self.on_detect(i)
        self._read(box, gray.shape)
        done: list[Event] = []
        if getattr(self.analyzer, "takes_known", False):
            # captions shown unchanged in this very frame (presence on) are not analysed again
            known = [ev.box for ev in self.live if ev.end is None and ev.last_on == i and ev.at < i]
            window: dict[str, tuple[int, int] | None] = {"rows": None if box is None else (box[1], box[3])}
            if box is not None and getattr(self.analyzer, "takes_cols", False):
                window["cols"] = (box[0], box[2])
            found = self.analyzer(image, i, known=known, **window)
        else:
            found = self.analyzer(image, i)
        for b in getattr(self.analyzer, "left_out", []):
            if not any(box_iou(b, x) >= 0.5 for x in self.muted):
                self.muted = [*self.muted[-31:], tuple(int(v) for v in b)]
        for det in found:
            m = det.mask
            if m.sum() < 8:
                continue
            same = None
            overlaps = []
            for ev in self.live:
                inter = int((ev.mask & m).sum())
                if inter == 0:
                    continue
                grown = m & ~cv2.dilate(ev.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
                fading = ev.end is not None
                if fading or grown.sum() < 0.05 * m.sum():
                    same = ev  # the same caption (or part of it, or its fading ghost)
                    break
                overlaps.append((ev, grown))
            if same is not None:
                continue
            p = Presence(gray, m, self.grid)
            if not p.valid:
                continue
            start, fade_from, alpha = self._scan_back(p, i)
            for ev, grown in overlaps:  # the caption changed in place: switch where new ink shows
                pg = Presence(gray, grown, self.grid)
                switch = self._scan_back(pg, i, stop=ev.start)[0] if pg.valid else start
                if switch <= ev.start + 1:
                    self.live.remove(ev)  # the old detection was this caption, read incompletely
                    start = min(start, ev.start)
                    fade_from = min(fade_from, ev.erase_from)
                    continue
                ev.end = switch - 1
                ev.alpha = {k: v for k, v in ev.alpha.items() if k < ev.start}
                done += self._close(ev, i)
                start = fade_from = max(switch, start)
                alpha = {}
            live = _Live(det, start, i, p, m)
            banner = getattr(getattr(det.caption, "style", None), "banner", None)
            if banner is not None:
                live.plate = PlateOverTime(gray, image, banner, m, det.caption.style.text_height)
            if self.fuse is not None and det.geometry:
                live.sample(image)  # the detection frame is the first of the fused readings
            live.erase_from = fade_from
            live.alpha = alpha
            live.last_on = i
            self.live.append(live)
        return done

    def finish(self) -> list[Event]:
        """Close everything still live at the last frame."""
        done = []
        for ev in list(self.live):
            if ev.end is None:
                ev.end = ev.last_on if ev.low else self.index
            done += self._close(ev, self.index)
        return done
