"""The analysis pass: decode every frame's luma, run the full image pipeline only where the
event tracker asks, and collect caption events (``kseg.video.events``)."""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kseg.errors import InputError
from kseg.types import Box
from kseg.video import io
from kseg.video.events import Detected, Event, EventTracker
from kseg.video.state import State, Warn


def make_analyzer(pipeline: Any) -> Callable[[np.ndarray, int], list[Detected]]:
    """Full per-frame analysis (detect, SAM, recognise, style, group) as the tracker wants it."""
    from kseg.style import measure_captions

    # translate-video detects with the video profile whatever pipeline it was handed
    for_video = getattr(pipeline, "for_video", None)
    if for_video is not None:
        pipeline = for_video()

    try:  # a pipeline of the caller's own may not take the captions already known
        params = set(inspect.signature(pipeline.process).parameters)
    except (TypeError, ValueError):
        params = set()
    takes_known = {"known", "rows"} <= params
    takes_cols = "cols" in params
    # other frames of a caption are read from the box its first frame was read from
    read_box = getattr(pipeline, "reading_line", lambda line: line)

    def analyze(image: np.ndarray, index: int, known: list | None = None,
                rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None) -> list[Detected]:
        if takes_known and (known or rows or cols):
            window = {"cols": cols} if takes_cols and cols is not None else {}
            res = pipeline.process(image, f"frame {index}", known=known, rows=rows, **window)
        else:
            res = pipeline.process(image, f"frame {index}")
        # text read and left out (a clock, a logo): the tracker stops watching its place
        analyze.left_out = list(getattr(res, "left_out", []))  # type: ignore[attr-defined]
        if not res.regions:
            return []
        out = []
        for cap in measure_captions(image, res)[1]:
            masks = [res.regions[k].mask.mask for k in cap.regions]
            m = np.logical_or.reduce(masks) if masks else np.zeros(image.shape[:2], bool)
            out.append(Detected(cap, m, [res.regions[k].text.text for k in cap.regions], masks,
                                [read_box(res.regions[k].line) for k in cap.regions]))
        return out

    analyze.takes_known = takes_known  # type: ignore[attr-defined]  # EventTracker passes its live captions
    analyze.left_out = []  # type: ignore[attr-defined]
    analyze.takes_cols = takes_known and takes_cols  # type: ignore[attr-defined]  # ... and a window
    fuse = getattr(getattr(pipeline, "recognizer", None), "fuse", None)
    if fuse is not None:
        analyze.fuse = fuse  # type: ignore[attr-defined]  # EventTracker reads events over frames
    return analyze


@dataclass
class Analysis:
    events: list[Event]
    times: list[float]  # input-timeline seconds of every frame in range
    detections: int = 0
    cuts: list[int] = field(default_factory=list)
    seconds: float = 0.0
    dropped: list[dict] = field(default_factory=list)  # text that was not a caption (EventTracker._close)


def analyse(src: Path, analyzer: Callable[[np.ndarray, int], list[Detected]], fps: float, *,
            start: float | None = None, end: float | None = None, warn: Warn | None = None,
            state: State | None = None, sample_every: float = 4.0,
            progress: Callable[[int, float], None] | None = None,
            on_event: Callable[[Event], None] | None = None,
            on_frontier: Callable[[int, float, int | None], None] | None = None,
            certain_overlay: Callable[[Box, int, int], bool] | None = None) -> Analysis:
    """Track caption events through ``src`` (see ``EventTracker``).

    ``certain_overlay(box, first frame, frame now)``: whether a caption still on screen is
    certain to be an overlay (a channel logo), left alone: it is flagged (``Event.overlay``)
    and no longer holds back the frames the renderer may take (``on_frontier``). None: every
    live caption does."""
    t0 = time.perf_counter()
    saved = state.events() if state is not None else []
    skip = int(state.meta.get("checkpoint", -1)) if state is not None else -1
    if state is not None and state.meta.get("analysed"):
        return Analysis(saved, list(state.meta.get("times", [])), seconds=0.0)
    events = list(saved)
    for ev in saved:
        if on_event:
            on_event(ev)
    tracker = EventTracker(analyzer, fps, sample_every=sample_every)
    tracker.next_id = max((e.id for e in saved), default=-1) + 1
    times: list[float] = []
    last_cp_write = time.monotonic()

    def finished(evs: list[Event]) -> None:
        for ev in evs:
            events.append(ev)
            if state is not None:
                state.add_event(ev)
            if on_event:
                on_event(ev)

    def pending(i: int) -> list[int]:
        """Starts of the live captions that may still be captions."""
        if certain_overlay is not None:
            for ev in tracker.live:
                ev.overlay = ev.overlay or certain_overlay(ev.box, ev.start, i)
        return [ev.start for ev in tracker.live if not ev.overlay]

    for i, t, fr, rot in io.iter_decoded(src, start=start, end=end, warn=warn):
        times.append(t)
        if i <= skip:
            if on_frontier:
                on_frontier(i, t, None)
            if progress:
                progress(i + 1, t)
            continue
        g = io.gray(fr, rot)
        finished(tracker.push(i, g, lambda fr=fr, rot=rot: io.rgb(fr, rot)))
        if on_frontier:  # frames before the earliest live caption's start are settled
            on_frontier(i, t, min(pending(i), default=None))
        if state is not None and not tracker.live and time.monotonic() - last_cp_write > 2.0:
            state.meta["checkpoint"] = i
            state.save()
            last_cp_write = time.monotonic()
        if progress:
            progress(i + 1, t)
    if not times:
        raise InputError(f"{src}: the video stream has no frames"
                         + (" in the --start/--end range" if start or end else " (zero-length video)"))
    _warn_gaps(src, times, fps, warn)
    finished(tracker.finish())
    events.sort(key=lambda e: (e.start, e.id))
    if state is not None:
        state.meta.update(analysed=True, checkpoint=len(times) - 1, times=[round(x, 6) for x in times])
        state.save()
    return Analysis(events, times, detections=len(tracker.detections), cuts=tracker.cuts, dropped=tracker.dropped,
                    seconds=time.perf_counter() - t0)


def _warn_gaps(src: Path, times: list[float], fps: float, warn: Warn | None) -> None:
    """FFmpeg drops frames it cannot decode without raising: a jump in the frame times of a
    constant-rate video is how damaged data shows. One warning, after the pass."""
    if warn is None or len(times) < 3 or fps <= 0:
        return
    d = np.diff(np.asarray(times, np.float64))
    step = float(np.median(d))
    if step <= 0 or abs(step * fps - 1) > 0.1:
        return  # not a constant-rate stream at its nominal rate: gaps are its timing
    gaps = np.nonzero(d > 1.5 * step)[0]
    if len(gaps):
        missing = int(round(float(np.sum(d[gaps] / step - 1))))
        warn(f"{src}: {missing} frame(s) missing in {len(gaps)} place(s), first at {times[gaps[0]]:.2f} s "
             "(damaged data skipped by the decoder, or a variable frame rate); the output keeps the "
             "frames that were there, at their times")


def set_times(events: list[Event], times: list[float], fps: float) -> None:
    """Subtitle times (output timeline: the first frame in range is 0) from frame boundaries."""
    if not times:
        return
    t0 = times[0]
    frame = 1.0 / max(fps, 1e-3)
    for ev in events:
        ev.start_time = times[min(ev.start, len(times) - 1)] - t0
        nxt = ev.end + 1
        ev.end_time = (times[nxt] if nxt < len(times) else times[-1] + frame) - t0
