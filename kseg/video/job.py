"""``translate_video``: the whole job (analyse -> translate -> render, overlapped in two threads
unless ``overlap=False``) and its options (``VideoOptions``)."""
from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kseg.errors import InputError, OutputError
from kseg.video import io
from kseg.video.analyse import analyse, make_analyzer, set_times
from kseg.video.events import BUFFER_SECONDS, Detected, Event, box_iou
from kseg.video.render import _ass_lines, _Plan, _plans, render
from kseg.video.state import STATE_VERSION, State, Warn, _file_key
from kseg.video.subtitles import Cue, write_ass, write_srt
from kseg.video.tracks import share_styles
from kseg.video.translate import SrtTranslator, translate_events


LOOKBACK = BUFFER_SECONDS  # how far back a caption's start is looked for


class _Stopped(Exception):
    """Raised inside the analysis thread when the renderer has given up."""


class _Feed:
    """Hand-over from the analysis thread to the renderer (analysis and encoding overlap).

    Frame ``i`` may be rendered once every caption that covers it is finished: the analysis
    is ``lag`` frames past it (a caption's start is looked for at most 2.5 s before the frame
    it is detected on, so a caption detected later cannot reach back to ``i``) and no
    caption still on screen started at or before it.

    The analysis waits while it is more than ``ahead`` (>= ``lag``) frames past the frame the
    renderer asked for last, unless a caption still on screen started at or before that frame
    (the renderer then needs the analysis to see it end): where the renderer is the slower pass
    (1080p and up), the events found but not yet drawn, each with its masks, would otherwise
    pile up for as long as the episode runs (issue 22's flat memory).
    """

    def __init__(self, lag: int, ahead: int | None = None):
        self.cv = threading.Condition()
        self.lag = lag
        self.ahead = max(lag, 2 * lag if ahead is None else ahead)
        self.events: list[Event] = []
        self.times: list[float] = []
        self.frontier = -1
        self.live_start: int | None = None
        self.asked = -1  # the frame the renderer asked about last
        self.done = False
        self.error: BaseException | None = None
        self.stop = False

    def add(self, ev: Event) -> None:
        with self.cv:
            self.events.append(ev)
            self.cv.notify_all()

    def advance(self, i: int, t: float, live_start: int | None) -> None:
        with self.cv:
            if self.stop:
                raise _Stopped()
            if i >= len(self.times):
                self.times.append(t)
            self.frontier, self.live_start = i, live_start
            self.cv.notify_all()
            # frame i is published first: a caption that ended at it is what the renderer waits for
            while (not self.stop and i - self.asked > self.ahead
                   and (live_start is None or live_start > self.asked)):
                self.cv.wait(0.5)
            if self.stop:
                raise _Stopped()

    def finish(self, error: BaseException | None = None) -> None:
        with self.cv:
            self.done, self.error = True, error
            self.cv.notify_all()

    def settled(self, i: int) -> list[Event]:
        """Finished events once frame ``i`` is settled (blocks until then)."""
        with self.cv:
            self.asked = max(self.asked, i)
            self.cv.notify_all()
            while not self.done and not (self.frontier >= i + self.lag and
                                         (self.live_start is None or self.live_start > i)):
                self.cv.wait(0.5)
            if self.error is not None:
                raise self.error
            return list(self.events)


def _render_target(out: Path, o: VideoOptions) -> Path:
    """Where the video is rendered: OUT itself, or with --subs-mux a hidden name beside it that
    the muxing step reads (named like the partial files a killed run leaves, so the next run
    removes it)."""
    return out.with_name(f".{out.stem}.render.partial{out.suffix}") if o.subs_mux else out


def _check_out(out: Path, src: Path) -> None:
    if out.exists() and out.is_dir():
        raise OutputError(f"{out}: is a folder; give the output video's file name")
    if os.path.realpath(out) == os.path.realpath(src):
        raise OutputError(f"{out}: is the input; choose another output name")
    if not out.suffix:
        raise OutputError(f"{out}: give the output a video extension (.mp4, .mkv, .mov)")
    from kseg.imageio import ensure_out_dir

    ensure_out_dir(out.parent if str(out.parent) else Path("."))


@dataclass
class VideoOptions:
    """What the user chooses for one video: the CLI's options, as one value a script can keep
    and reuse (``dataclasses.replace`` for a variant)."""

    translator: str | None = None  # tm:FILE, srt:FILE, openai:URL, deepl (None: erase only)
    srt: str | os.PathLike[str] | None = None  # English SRT to write
    srt_source: str | os.PathLike[str] | None = None  # recognised Korean SRT to write
    ass: str | os.PathLike[str] | None = None  # English ASS to write
    erase_only: bool = False
    start: float | None = None  # seconds of the input to process
    end: float | None = None
    resume: bool = False
    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    sample_every: float = 4.0  # seconds between full detections when nothing changes
    font: Any = None  # font for the English; None: the bundled Noto Sans
    font_scale: float = 1.0  # the English this much larger than the size matched to the Korean
    temporal: bool = True  # fill from earlier frames where the background moved
    overlap: bool = True  # analyse in a thread while rendering (False: one after the other, lighter)
    strict: bool = False  # a truncated or damaged input (fewer frames than announced) fails the run
    include_overlays: bool = False  # treat logos, programme bars, watermarks and still pictures' text as captions
    subs_mux: bool = False  # English (and with srt_source the Korean) as soft tracks in the output
    translator_options: dict[str, Any] | None = None  # passed to get_translator


@dataclass
class _Job:
    """Everything resolved before the passes run."""

    src: Path
    out: Path
    o: VideoOptions
    info: Any
    fps: float
    analyzer: Callable[[np.ndarray, int], list[Detected]]
    tr_obj: Any
    tr_spec: str
    translating: bool
    eraser: Callable[..., np.ndarray]
    filler: Any
    state: State
    resumed: bool
    total: int | None
    shape: tuple[int, int]
    encode: Any
    warn: Warn
    progress: Callable[[str, int, int | None], None] | None
    announced: int | None = None  # frames the container says the range holds

    def prog(self, stage: str) -> Callable[[int, float], None] | None:
        if self.progress is None:
            return None
        return lambda i, t: self.progress(stage, i, self.total)


def _translator(o: VideoOptions, translator_obj: Any) -> Any:
    from kseg.translate import as_translator

    if translator_obj is not None:
        return as_translator(translator_obj)
    if o.erase_only and not o.translator:
        return None
    spec = o.translator or ""
    if not spec:
        raise InputError("no translator: pass --translator SPEC (tm:FILE, srt:FILE, openai:URL, "
                         "deepl) or --erase-only")
    if spec.startswith("srt:"):
        return SrtTranslator(spec[4:])
    from kseg.translate import get_translator

    return get_translator(spec, **(o.translator_options or {}))


def _frames_in_range(info: Any, o: VideoOptions, fps: float) -> int | None:
    total = info.frames or None
    if o.end is not None or o.start is not None:
        lo = o.start or 0.0
        hi = min(o.end, info.duration) if o.end is not None and info.duration else o.end
        total = int(round(((hi or info.duration) - lo) * fps)) if (hi or info.duration) else None
    return total


def _prepare(src: Path, out: Path, o: VideoOptions, *, pipeline: Any, analyzer: Any, translator_obj: Any,
             eraser: Any, warn: Warn, progress: Any) -> _Job:
    """Check the paths, load what is not given, open (or resume) the state folder."""
    if o.start is not None and o.end is not None and o.end <= o.start:
        raise InputError(f"--end {o.end} is not after --start {o.start}")
    from kseg.render import check_font_scale

    try:
        check_font_scale(o.font_scale)
    except (TypeError, ValueError) as e:
        raise InputError(f"--font-scale: {e}") from None
    info = io.probe(src)
    _check_out(out, src)
    for p in (o.srt, o.srt_source, o.ass):
        if p is not None:
            _check_out(Path(p), src)
    tr_obj = _translator(o, translator_obj)
    fps = float(info.fps)
    if analyzer is None:
        if pipeline is None:
            from kseg.pipeline import SegmentPipeline

            pipeline = SegmentPipeline(detect="video")
        analyzer = make_analyzer(pipeline)
    from kseg.erase import default_grow

    # erase() picks its growth from the image height: give it the frame's, not the crop's
    grow = default_grow(np.zeros((info.display_size[1], 1), bool))
    if eraser is None:
        from functools import partial

        from kseg.erase import erase

        # the row check not on every frame: a still picture's captions (render) and plates (_Plan.plated)
        eraser = partial(erase, grow=grow, rows=False)
    filler = None
    if o.temporal:
        from kseg.video.temporal import TemporalFill

        filler = TemporalFill(eraser, grow)
    if o.subs_mux:
        from kseg.video.mux import can_mux

        if not can_mux(out):
            raise InputError(f"{out}: --subs-mux needs an .mp4, .mov or .mkv output")
        if tr_obj is None:
            raise InputError("--subs-mux needs --translator SPEC for the English track")
    io.remove_stale_partials(out)
    io.remove_stale_partials(_render_target(out, o))
    key = {"start": o.start, "end": o.end, "sample_every": o.sample_every, "version": STATE_VERSION}
    state = State(out, _file_key(src, key))
    resumed = state.open(o.resume, warn)
    translating = (not o.erase_only or o.srt is not None or o.ass is not None or o.subs_mux) and tr_obj is not None
    announced = _frames_in_range(info, o, fps)  # the total until the analysis has counted the frames
    return _Job(src, _render_target(out, o), o, info, fps, analyzer, tr_obj, o.translator or getattr(tr_obj, "name", "translator"),
                translating, eraser, filler, state, resumed, announced,
                tuple(reversed(info.display_size)), io.EncodeOptions(codec=o.codec, crf=o.crf, preset=o.preset),
                warn, progress, announced)


# Text that stays in one place for most of a programme is an overlay (channel logo, programme
# bar, watermark), not a caption: captions last seconds. Left untouched unless include_overlays.
OVERLAY_SECONDS = 60.0  # on screen this long: an overlay, whatever the video's length
OVERLAY_SHARE = 0.6  # ... or this share of a video, when it is also on screen OVERLAY_MIN s
OVERLAY_MIN = 8.0
# A short clip (or the first minute of an episode) cannot show that text stays for most of a
# programme. What it can show is text in a top corner from the first frame on: of bench/real's
# annotated lines in top corners, 124 are logos and programme bars and 8 are captions.
CORNER_TOP = 0.22  # the box ends within this top share of the frame's height ...
CORNER_SIDE = 0.35  # ... and lies within this share of its width from the left or right edge
CORNER_FROM = 0.5  # s: on screen from this close to the range's start ...
CORNER_SECONDS = 3.0  # ... for this long


def _same_box(a: tuple, b: tuple) -> bool:
    """Near-identical boxes (IoU >= 0.8): a clock's digits change, its box does not; subtitles
    at one place differ in width with their text."""
    return box_iou(a, b) >= 0.8


JOINED = 0.05  # s: events this close in one box follow on without a break (a clock ticking)


def _place_span(ev: Event, events: list[Event]) -> tuple[float, float]:
    """Start and end (s) of the unbroken run of events in ``ev``'s box that ``ev`` belongs to: a
    clock or a score whose text changes every second is one overlay, though each of its events
    is short. Subtitles at one place do not add up: they differ in width and leave gaps."""
    spans = sorted((e.start_time, e.end_time) for e in events if _same_box(e.box, ev.box))
    runs: list[list[float]] = []
    for a, b in spans:
        if runs and a <= runs[-1][1] + JOINED:
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    return next(((a, b) for a, b in runs if a <= ev.start_time + 1e-6 and ev.end_time <= b + 1e-6),
                (ev.start_time, ev.end_time))


def _corner_logo(box: tuple, shape: tuple[int, int] | None, start: float, seconds: float,
                 duration: float = 0.0) -> bool:
    """Text in a top corner (CORNER_TOP, CORNER_SIDE) on screen from ``start`` s into the range
    for ``seconds``: an overlay by the corner rule above. A range shorter than CORNER_SECONDS
    (``duration``, 0 when unknown) cannot show that long: there, text in the corner from its
    start to its end is as much as it can show, and as much as a still frame's corner rule asks."""
    need = CORNER_SECONDS if duration <= 0 else min(CORNER_SECONDS, duration - start - JOINED)
    if not shape or start > CORNER_FROM or seconds < need:
        return False
    H, W = shape[:2]
    x0, _, x1, y1 = box
    return y1 <= CORNER_TOP * H and (x1 <= CORNER_SIDE * W or x0 >= (1 - CORNER_SIDE) * W)


# Text that is part of a still picture (a map's place names, a screenshot's or a document's
# lines) is not a caption either: it came with the picture and goes with it. What shows it: at
# least PICTURE_LINES texts in separate places on a still picture (``Event.still``) whose places
# are taken and left together (within PICTURE_FRAMES frames). A subtitle shown over that picture
# comes and goes with it too: text at the place and size of a caption shown before the picture
# stays a caption. Left untouched unless include_overlays. (A real subtitled slideshow's map
# screenshot: 9 place names taken for captions beside the subtitle, precision 0.59.)
PICTURE_LINES = 3
PICTURE_FRAMES = 2


def _same_line(a: tuple, b: tuple) -> bool:
    """Boxes a subtitle track reuses: the same rows (half the lower one's height shared) at a
    height within 25 %, overlapping in x (subtitles are centred and differ in width)."""
    ha, hb = a[3] - a[1], b[3] - b[1]
    rows = min(a[3], b[3]) - max(a[1], b[1])
    return (min(ha, hb) > 0 and rows >= 0.5 * min(ha, hb) and max(ha, hb) <= 1.25 * min(ha, hb)
            and min(a[2], b[2]) > max(a[0], b[0]))


def _picture_text(ev: Event, span: tuple[float, float], known: list[Event], fps: float) -> bool:
    """Whether ``ev`` (its place taken over ``span``, s) is text of the still picture it was
    shown on (PICTURE_LINES above)."""
    if not ev.still:
        return False
    a, b = span
    tol = (PICTURE_FRAMES + 0.5) / max(1e-3, fps)
    with_it = [e for e in known if e.still and e.start_time <= b + tol and e.end_time >= a - tol]
    places: list[tuple] = []
    for e in with_it:
        x, y = _place_span(e, known)
        if abs(x - a) <= tol and abs(y - b) <= tol and not any(_same_box(e.box, p) for p in places):
            places.append(e.box)
    if len(places) < PICTURE_LINES:
        return False
    return not any(_same_line(ev.box, e.box) for e in known
                   if e.start_time < a - tol and not (e.overlay or e.scene))


def _mark_overlays(job: _Job, events: list[Event], duration: float,
                   context: list[Event] | None = None) -> list[Event]:
    """Flag the overlays and the still pictures' text among ``events`` (times set; ``context``:
    every event known so far, for the time their places were occupied) and return the captions
    to process."""
    known = context if context is not None else events
    shape = getattr(job, "shape", None)
    spans = {}
    for ev in events:
        a, b = spans[ev.id] = _place_span(ev, known)
        d = max(ev.end_time - ev.start_time, b - a)
        # ev.overlay already set: the analysis found it certain while it was on screen
        ev.overlay = (ev.overlay or d >= OVERLAY_SECONDS or (d >= OVERLAY_MIN and duration > 0 and
                                                              d >= OVERLAY_SHARE * duration)
                      or _corner_logo(ev.box, shape, a, d, duration))
    for ev in events:
        # once text of a picture, always (the final pass sees the same earlier captions)
        ev.scene = ev.scene or (not ev.overlay and _picture_text(ev, spans[ev.id], known, job.fps))
    return events if job.o.include_overlays else [e for e in events if not (e.overlay or e.scene)]


def _certain_overlay(job: _Job) -> Callable[[tuple, int, int], bool]:
    """For the analysis: whether a caption still on screen (box, first frame, frame now) is
    already certain to be an overlay by the rules of ``_mark_overlays``, so that rendering
    need not wait for its end (an episode's logo ends with the episode)."""
    def certain(box: tuple, start: int, i: int) -> bool:
        on = (i - start) / job.fps
        return on >= OVERLAY_SECONDS or _corner_logo(box, job.shape, start / job.fps, on)
    return certain


def _duration(job: _Job) -> float:
    """Seconds of the video processed (the --start/--end range when given)."""
    return (job.announced / job.fps) if job.announced else job.info.duration


COMPLETE = 0.98  # share of the announced frames a whole input decodes to (VFR and rounding)


def _incomplete(job: _Job, n: int) -> str | None:
    """Compare what was decoded with what the container announces: a file cut short (a broken
    download, a disk that filled up) decodes fine up to the cut and would otherwise pass as a
    short video. The message with both numbers, or None."""
    announced = job.announced
    if not announced or n >= COMPLETE * announced or n >= announced - 2:
        return None
    return (f"{job.src}: decoded {n} of the {announced} frames the container announces "
            f"({n / job.fps:.1f} of {announced / job.fps:.1f} s): the input looks truncated or damaged")


def _strict_check(job: _Job):
    """Called by the renderer before the output takes its name: --strict fails the run there."""
    def check(n: int) -> None:
        msg = _incomplete(job, n)
        if msg and job.o.strict:
            raise InputError(msg + " (--strict)")
    return check


def _render_progress(job: _Job):
    return (lambda i, t: job.progress("render", i, job.total)) if job.progress else None


def _report_missing(job: _Job, made: list[_Plan]) -> None:
    """A warning for English with characters no face draws (Hangul kept in a translation), as
    stills give: they are drawn as empty boxes."""
    from kseg.render import missing_warning

    for p in made:
        info = getattr(p.sprite, "info", None)
        if info is not None and info.missing:
            job.warn(f"caption {p.ev.translation!r} {missing_warning(info.missing)}")


def _lazy_plans(job: _Job, events: list[Event], plans: list[_Plan],
                known: list[Event]) -> Callable[[int], list[_Plan]]:
    """For a render after the whole analysis: each event's plan (its English laid out, its
    mask crop) made when the renderer reaches its first frame, not all before the first frame,
    so that what is held does not grow with an episode's captions (as in the overlapped run).
    ``known``: every event, overlays and the untranslated included (the English keeps off them)."""
    o = job.o
    todo = sorted(events, key=lambda e: (e.erase_from, e.id))
    k = 0

    def more_plans(i: int) -> list[_Plan]:
        nonlocal k
        n = k
        while n < len(todo) and todo[n].erase_from <= i:
            n += 1
        if n == k:
            return []
        new, k = todo[k:n], n
        made = _plans(new, job.shape, o.erase_only, o.font, o.font_scale, live=plans, settled=known)
        plans.extend(made)
        _report_missing(job, made)
        return made

    return more_plans


def _overlapped(job: _Job) -> tuple[Any, dict, list[_Plan], float]:
    """Analysis (detector, SAM, OCR) in a thread, rendering (erase, draw, x264) here: the
    passes overlap (on 2 cores 8-10 % faster than one after the other on moving footage, as
    fast on a slideshow). Each caption is translated when it is
    settled, with the captions before it as context. A caption's start is looked for at most
    LOOKBACK s before it is detected, so a frame that far behind the analysis cannot gain one."""
    o = job.o
    feed = _Feed(lag=int(math.ceil(job.fps * (LOOKBACK + 0.5))))
    result: dict[str, Any] = {}

    def run_analysis() -> None:
        try:
            result["an"] = analyse(job.src, job.analyzer, job.fps, start=o.start, end=o.end, warn=job.warn,
                                   state=job.state, sample_every=o.sample_every, progress=job.prog("analyse"),
                                   on_event=feed.add, on_frontier=feed.advance,
                                   certain_overlay=None if o.include_overlays else _certain_overlay(job))
        except BaseException as e:  # noqa: BLE001 - handed to the renderer, raised there
            feed.finish(e)
        else:
            known = {id(e) for e in feed.events}
            for ev in result["an"].events:  # a resumed, finished analysis reports none
                if id(ev) not in known:
                    feed.add(ev)
            feed.finish()

    planned: set[int] = set()
    settled: list[Event] = []
    plans: list[_Plan] = []  # every plan the renderer made (the ASS reuses their sprites)

    def more_plans(i: int) -> list[_Plan]:
        new = [e for e in feed.settled(i) if e.id not in planned]
        if not new:
            return []
        planned.update(e.id for e in new)
        settled.extend(new)
        settled.sort(key=lambda e: (e.start, e.id))
        set_times(new, feed.times, job.fps)
        new = _mark_overlays(job, new, _duration(job), settled)
        captions = [e for e in settled if o.include_overlays or not (e.overlay or e.scene)]
        share_styles(new, captions, job.shape[0])
        if job.translating:
            translate_events(captions, job.tr_obj, job.tr_spec,
                             state=job.state, warn=job.warn)
        made = _plans(new, job.shape, o.erase_only, o.font, o.font_scale, live=plans, settled=settled)
        plans.extend(made)
        _report_missing(job, made)
        return made

    t_render = time.perf_counter()
    worker = threading.Thread(target=run_analysis, name="kseg-analyse", daemon=True)
    worker.start()
    try:
        stats = render(job.src, job.out, [], eraser=job.eraser, temporal=job.filler, options=job.encode,
                       start=o.start, end=o.end, warn=job.warn, progress=_render_progress(job),
                       more_plans=more_plans, before_commit=_strict_check(job))
        feed.settled(10 ** 12)  # the analysis has ended (and raised here if it failed)
    finally:
        with feed.cv:
            feed.stop = True
        worker.join()
    return result["an"], stats, plans, t_render


def _muxed(job: _Job, out: Path, events: list[Event], plans: list[_Plan]) -> list[dict[str, str]]:
    """--subs-mux: the rendered video copied into OUT with the soft subtitle tracks."""
    from kseg.video.mux import MATROSKA, MP4_LIKE, english_and_korean, mux_subtitles
    from kseg.video.subtitles import ass_text, srt_text

    o = job.o
    english = [e for e in events if e.translation]
    if out.suffix.lower() in MATROSKA:  # only the track that will be used is made
        en_srt, en_ass = None, ass_text(_ass_lines(plans, english, job.shape, o.font, o.font_scale), job.shape[1], job.shape[0])
    else:
        en_srt, en_ass = srt_text([Cue(e.start_time, e.end_time, e.translation) for e in english]), None
    ko_srt = (srt_text([Cue(e.start_time, e.end_time, "\n".join(e.lines)) for e in events])
              if o.srt_source is not None else None)
    tracks = english_and_korean(out, english_srt=en_srt, english_ass=en_ass, korean_srt=ko_srt,
                                soft_only=o.erase_only)
    try:
        mux_subtitles(job.out, out, tracks, warn=job.warn)
    finally:
        job.out.unlink(missing_ok=True)
    return [{"language": t.language, "title": t.title,
             "format": "mov_text" if out.suffix.lower() in MP4_LIKE else t.fmt} for t in tracks]


def _sidecars(job: _Job, events: list[Event], plans: list[_Plan]) -> dict[str, str]:
    """The subtitle files asked for, beside the video."""
    o = job.o
    outputs = {"video": str(job.out)}
    if o.srt_source is not None:
        write_srt(o.srt_source, [Cue(e.start_time, e.end_time, "\n".join(e.lines)) for e in events])
        outputs["srt_source"] = str(o.srt_source)
    if o.srt is not None:
        write_srt(o.srt, [Cue(e.start_time, e.end_time, e.translation) for e in events if e.translation])
        outputs["srt"] = str(o.srt)
    if o.ass is not None:
        write_ass(o.ass, _ass_lines(plans, events, job.shape, o.font, o.font_scale), job.shape[1], job.shape[0])
        outputs["ass"] = str(o.ass)
    return outputs


def _not_caption(ev: Event, included: bool) -> dict[str, Any]:
    """An overlay's or a still picture's text as the summary lists it."""
    return {"text": ev.text, "box": [int(v) for v in ev.box], "start_time": round(ev.start_time, 3),
            "end_time": round(ev.end_time, 3), "included": included}


def translate_video(src: str | os.PathLike[str], out: str | os.PathLike[str],
                    options: VideoOptions | None = None, *, pipeline: Any = None,
                    analyzer: Callable[[np.ndarray, int], list[Detected]] | None = None,
                    translator_obj: Any = None, eraser: Callable[..., np.ndarray] | None = None,
                    warn: Warn | None = None, on_event: Callable[[Event], None] | None = None,
                    progress: Callable[[str, int, int | None], None] | None = None,
                    **option_values: Any) -> dict[str, Any]:
    """Erase the burned-in Korean captions of ``src`` and draw English ones; see the package doc.

    ``options`` (or its fields as keywords: ``translate_video(a, b, translator="tm:f.tsv")``)
    say what to do; ``progress(stage, done, total)`` with stage in analyse / translate / render.
    ``pipeline``/``analyzer``/``translator_obj``/``eraser`` replace the defaults (tests, callers
    that hold loaded models). Returns a summary (events, frames, seconds per stage, outputs).
    """
    o = dataclasses.replace(options or VideoOptions(), **option_values)
    src, out = Path(src), Path(out)
    t_start = time.perf_counter()
    job = _prepare(src, out, o, pipeline=pipeline, analyzer=analyzer, translator_obj=translator_obj,
                   eraser=eraser, warn=warn or (lambda m: None), progress=progress)
    if o.overlap:
        an, stats, plans, t_render = _overlapped(job)
        t_tr = t_render
    else:
        an = analyse(src, job.analyzer, job.fps, start=o.start, end=o.end, warn=job.warn, state=job.state,
                     sample_every=o.sample_every, progress=job.prog("analyse"))
        t_tr = time.perf_counter()
    set_times(an.events, an.times, job.fps)
    events = _mark_overlays(job, an.events, _duration(job))
    if not o.overlap:
        share_styles(events, events, job.shape[0])
    overlays = [e for e in an.events if e.overlay]
    scene = [e for e in an.events if e.scene and not e.overlay]
    job.total = len(an.times)  # the frames actually decoded (the render progress of a sequential run)
    if job.translating:
        translate_events(events, job.tr_obj, job.tr_spec, state=job.state, warn=job.warn,
                         progress=(lambda n: progress("translate", n, len(events))) if progress else None)
    missing = [e for e in events if e.translation is None]
    if missing and job.tr_obj is not None:
        job.warn(f"{len(missing)} of {len(events)} caption events have no translation (e.g. "
                 f"{missing[0].text!r} at {missing[0].start_time:.2f} s); "
                 + ("their Korean is erased" if o.erase_only else "their Korean is left on screen"))
    if on_event:
        for ev in events:
            on_event(ev)
    if not o.overlap:
        t_render = time.perf_counter()
        plans = []
        stats = render(job.src, job.out, [], eraser=job.eraser, temporal=job.filler, options=job.encode,
                       start=o.start, end=o.end, warn=job.warn, progress=_render_progress(job),
                       more_plans=_lazy_plans(job, events, plans, an.events), before_commit=_strict_check(job))
    short = _incomplete(job, stats["frames"])
    if short:
        job.warn(short)
    outputs = _sidecars(job, events, plans)
    if o.subs_mux:
        outputs["video"] = str(out)
        outputs["subtitle_tracks"] = _muxed(job, out, events, plans)  # type: ignore[assignment]
    job.state.remove()
    t_end = time.perf_counter()
    secs = ({"setup": round(t_render - t_start, 3), "analyse": round(an.seconds, 3),
             "render": round(t_end - t_render, 3), "total": round(t_end - t_start, 3), "overlapped": True}
            if o.overlap else
            {"analyse": round(t_tr - t_start, 3), "translate": round(t_render - t_tr, 3),
             "render": round(t_end - t_render, 3), "total": round(t_end - t_start, 3)})
    return {"input": str(src), "output": str(out), "frames": stats["frames"], "announced_frames": job.announced,
            "events": len(events),
            "translated": len(events) - len(missing), "detections": an.detections, "cuts": an.cuts,
            "not_captions": an.dropped,
            "resumed": job.resumed, "video": job.info.to_json(), "outputs": outputs,
            "overlays": [_not_caption(e, o.include_overlays) for e in overlays],
            "scene_text": [_not_caption(e, o.include_overlays) for e in scene],
            "temporal_fill": job.filler.stats if job.filler is not None else None,
            "seconds": secs, "fps": round(stats["frames"] / max(1e-9, t_end - t_start), 2)}
