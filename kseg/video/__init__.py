"""``kseg translate-video``: find the caption events of a video, translate each once, re-render.

    summary = translate_video("in.mp4", "out.mp4", translator="tm:memory.tsv", srt="out.en.srt")

Three stages, each resumable where it matters. By default (``overlap=True``) analysis runs in
a thread about 3 s (``LOOKBACK`` + 0.5) ahead of the renderer, and each event is translated
as soon as it is settled, with the events before it as context; ``overlap=False`` runs them
one after the other (translation then also sees the events after each one):

1. **analyse** (decode luma of every frame; RGB and the full image pipeline only at triggers):
   ``kseg.video.events.EventTracker`` gives caption events, each with its footprint mask,
   caption style (``kseg.style``) and Korean text. Finished events are appended to the state
   folder as they close.
2. **translate**: one request per event, with the neighbouring events as context; results are
   saved per batch, so a translator that fails mid-run loses nothing (``--resume``).
   ``srt:FILE`` takes the user's English subtitles instead, matched to events by time.
3. **render**: decode again; on each frame fill the live events' masks (cropped to the
   caption, so the cost is per caption, not per frame size; from earlier frames where the
   moving background showed the pixels, ``kseg.video.temporal``) and draw each event's English,
   laid out once (``kseg.render.prepare``) so it never flickers; only the box of the captions
   and their English goes through RGB, the rest of the frame goes to the encoder as decoded;
   encode; copy the audio.

State: ``OUT.kseg/`` next to OUT (``state.json``, ``events.jsonl``, ``masks/``,
``translations.jsonl``). It is kept when a run fails or is interrupted, and removed after a
complete run. ``--resume`` reuses the finished analysis (up to the last frame at which no
caption was open) and every saved translation; the video itself is re-encoded from the start
(encoding is the cheap part). Without ``--resume`` an old state folder is discarded.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kseg.errors import InputError, KsegError, OutputError
from kseg.imageio import _out_error, dumps_json, write_json, write_png
from kseg.types import Banner, Caption, Shadow, Style, TranslationRequest
from kseg.video import io
from kseg.video.events import BUFFER_SECONDS, Detected, Event, EventTracker
from kseg.video.subtitles import AssLine, Cue, read_srt, write_ass, write_srt

STATE_VERSION = 1
CONTEXT = 2  # neighbouring events given to the translator on each side
BATCH = 8  # events per translator call (saved after each)

Warn = Callable[[str], None]


# ------------------------------------------------------------------------------ analyser

def make_analyzer(pipeline: Any) -> Callable[[np.ndarray, int], list[Detected]]:
    """Full per-frame analysis (detect, SAM, recognise, style, group) as the tracker wants it."""
    from kseg.style import group_captions, measure_style

    def analyze(image: np.ndarray, index: int) -> list[Detected]:
        res = pipeline.process(image, f"frame {index}")
        if not res.regions:
            return []
        styles = [measure_style(image, r.line, r.mask.mask) for r in res.regions]
        out = []
        for cap in group_captions(res, styles):
            masks = [res.regions[k].mask.mask for k in cap.regions]
            m = np.logical_or.reduce(masks) if masks else np.zeros(image.shape[:2], bool)
            out.append(Detected(cap, m, [res.regions[k].text.text for k in cap.regions], masks,
                                [res.regions[k].line for k in cap.regions]))
        return out

    fuse = getattr(getattr(pipeline, "recognizer", None), "fuse", None)
    if fuse is not None:
        analyze.fuse = fuse  # type: ignore[attr-defined]  # EventTracker reads events over frames
    return analyze


# --------------------------------------------------------------------------- (de)serialise

def _rgb(v: Any) -> tuple[int, int, int] | None:
    return None if v is None else tuple(int(x) for x in v)  # type: ignore[return-value]


def style_from_json(d: dict[str, Any]) -> Style:
    sh = d.get("shadow")
    bn = d.get("banner")
    return Style(fill=_rgb(d["fill"]), text_height=float(d["text_height"]),
                 stroke_width=float(d["stroke_width"]), fill2=_rgb(d.get("fill2")),
                 outline=_rgb(d.get("outline")), outline_width=float(d.get("outline_width", 0)),
                 outline2=_rgb(d.get("outline2")), outline2_width=float(d.get("outline2_width", 0)),
                 shadow=Shadow(_rgb(sh["color"]), float(sh["dx"]), float(sh["dy"])) if sh else None,
                 banner=Banner(tuple(bn["box"]), _rgb(bn["color"]), float(bn["opacity"])) if bn else None,
                 angle=float(d.get("angle", 0.0)), align=d.get("align", "center"))


def caption_from_json(d: dict[str, Any]) -> Caption:
    return Caption(regions=list(d["regions"]), box=tuple(int(v) for v in d["box"]), text=d["text"],
                   style=style_from_json(d["style"]), translation=d.get("translation"))


def event_from_json(d: dict[str, Any], mask: np.ndarray) -> Event:
    return Event(id=int(d["event"]), start=int(d["start"]), end=int(d["end"]),
                 erase_from=int(d["erase_from"]), erase_to=int(d["erase_to"]),
                 box=tuple(int(v) for v in d["box"]), mask=mask, caption=caption_from_json(d["caption"]),
                 lines=list(d["lines"]), detected_at=int(d["detected_at"]),
                 alpha={int(k): float(v) for k, v in d.get("alpha", {}).items()},
                 translation=d.get("translation"))


# ---------------------------------------------------------------------------------- state

class State:
    """The resume folder OUT.kseg/ (see module doc)."""

    def __init__(self, out: Path, key: dict[str, Any]):
        self.dir = out.with_name(out.name + ".kseg")
        self.key = key
        self.meta: dict[str, Any] = {}

    @property
    def events_path(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def tr_path(self) -> Path:
        return self.dir / "translations.jsonl"

    def open(self, resume: bool, warn: Warn) -> bool:
        """Create or reuse the folder; True when a compatible earlier run is resumed."""
        old = None
        if (self.dir / "state.json").is_file():
            try:
                old = json.loads((self.dir / "state.json").read_text("utf-8"))
            except (OSError, ValueError):
                old = None
        if resume and old is not None and old.get("key") == self.key:
            self.meta = old
            return True
        if resume:
            warn(f"{self.dir}: nothing to resume" if old is None else
                 f"{self.dir}: made for another input or other options; starting afresh")
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            (self.dir / "masks").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _out_error(self.dir, e) from None
        self.meta = {"version": STATE_VERSION, "key": self.key, "checkpoint": -1, "analysed": False}
        self.save()
        return False

    def save(self) -> None:
        write_json(self.dir / "state.json", self.meta)

    def _append(self, path: Path, rec: dict[str, Any]) -> None:
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(dumps_json(rec) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise _out_error(path, e) from None

    def add_event(self, ev: Event) -> None:
        write_png(self.dir / "masks" / f"{ev.id:06d}.png", ev.mask)
        rec = ev.to_json()
        rec["alpha"] = {str(k): round(v, 4) for k, v in ev.alpha.items()}
        self._append(self.events_path, rec)

    def events(self) -> list[Event]:
        """Saved events that end before the checkpoint (later ones are found again)."""
        out: dict[int, Event] = {}
        if not self.events_path.is_file():
            return []
        cp = int(self.meta.get("checkpoint", -1))
        for line in self.events_path.read_text("utf-8").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue  # a line torn by the interruption
            if not self.meta.get("analysed") and int(d["erase_to"]) > cp:
                continue
            m = cv2.imread(str(self.dir / "masks" / f"{int(d['event']):06d}.png"), cv2.IMREAD_UNCHANGED)
            if m is None:
                continue
            out[int(d["event"])] = event_from_json(d, m > 0)
        return [out[k] for k in sorted(out)]

    def add_translations(self, items: list[tuple[Event, str | None]], spec: str) -> None:
        for ev, tr in items:
            self._append(self.tr_path, {"event": ev.id, "text": ev.text, "spec": spec, "translation": tr})

    def translations(self, spec: str) -> dict[tuple[int, str], str | None]:
        out: dict[tuple[int, str], str | None] = {}
        if self.tr_path.is_file():
            for line in self.tr_path.read_text("utf-8").splitlines():
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("spec") == spec:
                    out[(int(d["event"]), d["text"])] = d.get("translation")
        return out

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _file_key(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    st = path.stat()
    return {"input": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, **options}


# ------------------------------------------------------------------------------- analysis

@dataclass
class Analysis:
    events: list[Event]
    times: list[float]  # input-timeline seconds of every frame in range
    detections: int = 0
    cuts: list[int] = field(default_factory=list)
    seconds: float = 0.0


def analyse(src: Path, analyzer: Callable[[np.ndarray, int], list[Detected]], fps: float, *,
            start: float | None = None, end: float | None = None, warn: Warn | None = None,
            state: State | None = None, sample_every: float = 4.0,
            progress: Callable[[int, float], None] | None = None,
            on_event: Callable[[Event], None] | None = None,
            on_frontier: Callable[[int, float, int | None], None] | None = None) -> Analysis:
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
            on_frontier(i, t, min((ev.start for ev in tracker.live), default=None))
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
    return Analysis(events, times, detections=len(tracker.detections), cuts=tracker.cuts,
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


# ---------------------------------------------------------------------------- translation

class SrtTranslator:
    """``srt:FILE``: the user's English subtitles, each event taking the cue it overlaps most."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.cues = read_srt(self.path)
        self.name = f"srt:{self.path}"
        self.misses: list[str] = []

    def for_events(self, events: list[Event]) -> list[str | None]:
        out: list[str | None] = []
        for ev in events:
            best, best_ov = None, 0.0
            for c in self.cues:
                ov = min(ev.end_time, c.end) - max(ev.start_time, c.start)
                if ov > best_ov:
                    best, best_ov = c, ov
            dur = max(1e-3, min(ev.end_time - ev.start_time, (best.end - best.start) if best else 1.0))
            if best is None or best_ov < 0.3 * dur:
                out.append(None)
                self.misses.append(ev.text)
            else:
                out.append(" ".join(best.text.split()))
        return out


def translate_events(events: list[Event], translator: Any, spec: str, *, state: State | None = None,
                     warn: Warn | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Set ``ev.translation`` for each event (saved per batch; a failure keeps what is done)."""
    if isinstance(translator, SrtTranslator):
        for ev, tr in zip(events, translator.for_events(events)):
            ev.translation = tr
        return
    done = state.translations(spec) if state is not None else {}
    todo = []
    for ev in events:
        key = (ev.id, ev.text)
        if key in done:
            ev.translation = done[key]
        else:
            todo.append(ev)
    if progress:
        progress(len(events) - len(todo))
    texts = [e.text for e in events]
    pos = {e.id: k for k, e in enumerate(events)}
    for b in range(0, len(todo), BATCH):
        batch = todo[b:b + BATCH]
        reqs = []
        for ev in batch:
            k = pos[ev.id]
            reqs.append(TranslationRequest(ev.text, before=texts[max(0, k - CONTEXT):k],
                                           after=texts[k + 1:k + 1 + CONTEXT]))
        res = translator.translate(reqs)
        if len(res) != len(batch):
            raise KsegError(f"translator {spec}: {len(res)} answers for {len(batch)} captions")
        for ev, tr in zip(batch, res):
            ev.translation = tr.strip() if isinstance(tr, str) and tr.strip() else None
            if ev.translation is None:
                ev.translation = _fuzzy_tm(translator, ev.text, warn)
        if state is not None:
            state.add_translations([(ev, ev.translation) for ev in batch], spec)
        if progress:
            progress(len(events) - len(todo) + b + len(batch))


def _fuzzy_tm(translator: Any, text: str, warn: Warn | None) -> str | None:
    """A TM miss retried by similarity: OCR of a video frame is rarely letter-perfect, and a
    translation memory is the user's list of the show's captions. Standard CAT-tool practice
    (fuzzy matches above a threshold); difflib's ratio on letters only, at least tm.FUZZY."""
    memory = getattr(translator, "memory", None)
    if memory is None or not hasattr(memory, "fuzzy"):
        return None
    hit = memory.fuzzy(text)
    if hit is None:
        return None
    entry, english, ratio = hit
    if warn:
        warn(f"caption {text!r}: not in the translation memory; used the {ratio:.0%} similar entry "
             f"{entry!r}")
    return english


# ------------------------------------------------------------------------------- rendering

@dataclass
class _Plan:
    ev: Event
    sprite: Any | None  # kseg.render.Sprite, None: erase only
    crop: tuple[int, int, int, int]  # region erased (box + margin)
    mask_crop: np.ndarray
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # every pixel it changes (crop + English), even corners


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _plans(events: list[Event], shape: tuple[int, int], erase_only: bool, font: Any) -> list[_Plan]:
    H, W = shape
    plans = []
    for ev in events:
        sprite = None
        if not erase_only:
            if ev.translation is None:
                continue  # nothing to say instead: the Korean stays
            from kseg.render import prepare

            sprite = prepare(ev.caption, ev.translation, (H, W, 3), font=font)
        x0, y0, x1, y1 = ev.box
        m = max(12, int(0.6 * (y1 - y0)))  # context for inpainting, and the eraser's growth
        cx0, cy0, cx1, cy1 = max(0, x0 - m), max(0, y0 - m), min(W, x1 + m), min(H, y1 + m)
        mc = np.zeros((cy1 - cy0, cx1 - cx0), bool)
        mc[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] = ev.mask
        box = (cx0, cy0, cx1, cy1)
        if sprite is not None:
            sh, sw = sprite.rgba.shape[:2]
            sbox = (max(0, sprite.x), max(0, sprite.y), min(W, sprite.x + sw), min(H, sprite.y + sh))
            if sbox[0] < sbox[2] and sbox[1] < sbox[3]:
                box = _union([box, sbox])
        plans.append(_Plan(ev, sprite, (cx0, cy0, cx1, cy1), mc, io.even_box(box, (W, H))))
    return plans


def _draw(sprite: Any, canvas: np.ndarray, a: float, origin: tuple[int, int] = (0, 0)) -> None:
    """Draw ``sprite`` at visibility ``a`` on ``canvas``, a box of the frame at ``origin``."""
    if origin != (0, 0):
        sprite = copy.copy(sprite)  # shares the pixels; only the position moves
        sprite.x -= origin[0]
        sprite.y -= origin[1]
    if a >= 0.999:
        sprite.draw(canvas)
        return
    h, w = sprite.rgba.shape[:2]
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, sprite.x), max(0, sprite.y), min(W, sprite.x + w), min(H, sprite.y + h)
    if x0 >= x1 or y0 >= y1:
        return
    before = canvas[y0:y1, x0:x1].astype(np.float32)
    sprite.draw(canvas)
    after = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(before + a * (after - before) + 0.5, 0, 255).astype(np.uint8)


def render(src: Path, out: Path, plans: list[_Plan], *, eraser: Callable[..., np.ndarray],
           temporal: Any = None, more_plans: Callable[[int], list[_Plan]] | None = None,
           options: io.EncodeOptions, start: float | None, end: float | None, warn: Warn | None,
           progress: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    by_frame: dict[int, list[_Plan]] = {}
    for p in plans:
        for i in range(p.ev.erase_from, p.ev.erase_to + 1):
            by_frame.setdefault(i, []).append(p)

    def process(f: io.Frame) -> io.Patch | None:
        if more_plans is not None:  # plans of the events that analysis settled by this frame
            for p in more_plans(f.index):
                for i in range(p.ev.erase_from, p.ev.erase_to + 1):
                    by_frame.setdefault(i, []).append(p)
        todo = by_frame.get(f.index)
        if not todo:
            return None
        # only the box of this frame's captions and their English is converted and changed
        bx0, by0, bx1, by1 = _union([p.box for p in todo])
        img = f.region((bx0, by0, bx1, by1))
        for p in todo:
            x0, y0, x1, y1 = p.crop
            crop = img[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]
            crop[:] = (temporal.fill(id(p), f.index, crop, p.mask_crop) if temporal is not None
                       else eraser(crop, p.mask_crop))
        for p in todo:
            if p.sprite is not None:
                _draw(p.sprite, img, p.ev.visibility(f.index), (bx0, by0))
        return io.Patch(bx0, by0, img)

    return io.transcode(src, out, process, options=options, start=start, end=end, warn=warn,
                        progress=progress)


LOOKBACK = BUFFER_SECONDS  # how far back a caption's start is looked for


class _Stopped(Exception):
    """Raised inside the analysis thread when the renderer has given up."""


class _Feed:
    """Hand-over from the analysis thread to the renderer (analysis and encoding overlap).

    Frame ``i`` may be rendered once every caption that covers it is finished: the analysis
    is ``lag`` frames past it (a caption's start is looked for at most 2.5 s before the frame
    it is detected on, so a caption detected later cannot reach back to ``i``) and no
    caption still on screen started at or before it.
    """

    def __init__(self, lag: int):
        self.cv = threading.Condition()
        self.lag = lag
        self.events: list[Event] = []
        self.times: list[float] = []
        self.frontier = -1
        self.live_start: int | None = None
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

    def finish(self, error: BaseException | None = None) -> None:
        with self.cv:
            self.done, self.error = True, error
            self.cv.notify_all()

    def settled(self, i: int) -> list[Event]:
        """Finished events once frame ``i`` is settled (blocks until then)."""
        with self.cv:
            while not self.done and not (self.frontier >= i + self.lag and
                                         (self.live_start is None or self.live_start > i)):
                self.cv.wait(0.5)
            if self.error is not None:
                raise self.error
            return list(self.events)


def _ass_lines(plans: list[_Plan], events: list[Event], shape: tuple[int, int], font: Any) -> list[AssLine]:
    from kseg.render import prepare

    H, W = shape
    out = []
    sprites = {p.ev.id: p.sprite for p in plans if p.sprite is not None}
    for ev in events:
        if not ev.translation:
            continue
        sp = sprites.get(ev.id) or prepare(ev.caption, ev.translation, (H, W, 3), font=font)
        st = ev.caption.style
        x0, y0, x1, y1 = sp.info.box
        align = {"left": 1, "right": 3}.get(st.align, 2)
        px = {1: x0, 3: x1}.get(align, (x0 + x1) // 2)
        out.append(AssLine(ev.start_time, ev.end_time, "\n".join(sp.info.lines), (px, y1), align,
                           sp.info.font_size, st.fill, st.outline, st.outline_width,
                           st.shadow.color if st.shadow else None,
                           float(np.hypot(st.shadow.dx, st.shadow.dy)) if st.shadow else 0.0,
                           bool(getattr(sp, "bold", False)), st.angle))
    return out


# ---------------------------------------------------------------------------- entry point

def _check_out(out: Path, src: Path) -> None:
    if out.exists() and out.is_dir():
        raise OutputError(f"{out}: is a folder; give the output video's file name")
    if os.path.realpath(out) == os.path.realpath(src):
        raise OutputError(f"{out}: is the input; choose another output name")
    if not out.suffix:
        raise OutputError(f"{out}: give the output a video extension (.mp4, .mkv, .mov)")
    from kseg.imageio import ensure_out_dir

    ensure_out_dir(out.parent if str(out.parent) else Path("."))


def translate_video(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                    translator: str | None = None, srt: str | os.PathLike[str] | None = None,
                    srt_source: str | os.PathLike[str] | None = None,
                    ass: str | os.PathLike[str] | None = None, erase_only: bool = False,
                    start: float | None = None, end: float | None = None, resume: bool = False,
                    codec: str = "libx264", crf: int = 18, preset: str = "veryfast",
                    sample_every: float = 4.0, font: Any = None, temporal: bool = True,
                    overlap: bool = True,
                    pipeline: Any = None, analyzer: Callable[[np.ndarray, int], list[Detected]] | None = None,
                    translator_obj: Any = None, eraser: Callable[..., np.ndarray] | None = None,
                    warn: Warn | None = None, on_event: Callable[[Event], None] | None = None,
                    progress: Callable[[str, int, int | None], None] | None = None,
                    translator_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Erase the burned-in Korean captions of ``src`` and draw English ones; see module doc.

    ``progress(stage, done, total)`` with stage in analyse / translate / render.
    ``pipeline``/``analyzer``/``translator_obj``/``eraser`` replace the defaults (tests, callers
    that hold loaded models). Returns a summary (events, frames, seconds per stage, outputs).
    """
    src, out = Path(src), Path(out)
    warn = warn or (lambda m: None)
    t_start = time.perf_counter()
    if start is not None and end is not None and end <= start:
        raise InputError(f"--end {end} is not after --start {start}")
    info = io.probe(src)
    _check_out(out, src)
    for p in (srt, srt_source, ass):
        if p is not None:
            _check_out(Path(p), src)
    spec = translator or ""
    tr_obj = translator_obj
    if not erase_only and tr_obj is None:
        if not spec:
            raise InputError("no translator: pass --translator SPEC (tm:FILE, srt:FILE, openai:URL, "
                             "deepl) or --erase-only")
        if spec.startswith("srt:"):
            tr_obj = SrtTranslator(spec[4:])
        else:
            from kseg.translate import get_translator

            tr_obj = get_translator(spec, **(translator_options or {}))
    fps = float(info.fps)
    if analyzer is None:
        if pipeline is None:
            from kseg.pipeline import SegmentPipeline

            pipeline = SegmentPipeline()
        analyzer = make_analyzer(pipeline)
    from kseg.erase import default_grow

    # erase() picks its growth from the image height: give it the frame's, not the crop's
    grow = default_grow(np.zeros((info.display_size[1], 1), bool))
    if eraser is None:
        from functools import partial

        from kseg.erase import erase

        eraser = partial(erase, grow=grow)

    options_key = {"start": start, "end": end, "sample_every": sample_every, "version": STATE_VERSION}
    state = State(out, _file_key(src, options_key))
    resumed = state.open(resume, warn)
    total = info.frames or None
    if end is not None or start is not None:
        lo = start or 0.0
        hi = min(end, info.duration) if end is not None and info.duration else end
        total = int(round(((hi or info.duration) - lo) * fps)) if (hi or info.duration) else None

    def prog(stage: str) -> Callable[[int, float], None] | None:
        if progress is None:
            return None
        return lambda i, t: progress(stage, i, total)

    shape = tuple(reversed(info.display_size))  # (H, W)
    opts = io.EncodeOptions(codec=codec, crf=crf, preset=preset)
    filler = None
    if temporal:
        from kseg.video.temporal import TemporalFill

        filler = TemporalFill(eraser, grow)
    translating = (not erase_only or srt is not None or ass is not None) and tr_obj is not None
    tr_spec = spec or getattr(tr_obj, "name", "translator")
    render_progress = (lambda i, t: progress("render", i, total)) if progress else None

    if overlap:
        # Analysis (detector, SAM, OCR) in a thread, rendering (erase, draw, x264) here: on
        # two cores the passes overlap instead of adding up. Each caption is translated
        # when it is settled, with the captions before it as context.
        # a caption's start is looked for at most LOOKBACK s before it is detected, so a frame
        # that far behind the analysis cannot gain a caption any more
        feed = _Feed(lag=int(math.ceil(fps * (LOOKBACK + 0.5))))
        result: dict[str, Any] = {}

        def run_analysis() -> None:
            try:
                result["an"] = analyse(src, analyzer, fps, start=start, end=end, warn=warn, state=state,
                                       sample_every=sample_every, progress=prog("analyse"),
                                       on_event=feed.add, on_frontier=feed.advance)
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
            evs = feed.settled(i)
            new = [e for e in evs if e.id not in planned]
            if not new:
                return []
            planned.update(e.id for e in new)
            settled.extend(new)
            settled.sort(key=lambda e: (e.start, e.id))
            set_times(new, feed.times, fps)
            if translating:
                translate_events(settled, tr_obj, tr_spec, state=state, warn=warn)
            made = _plans(new, shape, erase_only, font)
            plans.extend(made)
            return made

        t_render = time.perf_counter()
        worker = threading.Thread(target=run_analysis, name="kseg-analyse", daemon=True)
        worker.start()
        try:
            stats = render(src, out, [], eraser=eraser, temporal=filler, options=opts, start=start,
                           end=end, warn=warn, progress=render_progress, more_plans=more_plans)
            feed.settled(10 ** 12)  # the analysis has ended (and raised here if it failed)
        finally:
            with feed.cv:
                feed.stop = True
            worker.join()
        an = result["an"]
        t_tr = t_render
    else:
        an = analyse(src, analyzer, fps, start=start, end=end, warn=warn, state=state,
                     sample_every=sample_every, progress=prog("analyse"))
        t_tr = time.perf_counter()
    events = an.events
    set_times(events, an.times, fps)
    total = len(an.times)
    if translating:
        translate_events(events, tr_obj, tr_spec, state=state, warn=warn,
                         progress=(lambda n: progress("translate", n, len(events))) if progress else None)
    missing = [e for e in events if e.translation is None]
    if missing and tr_obj is not None:
        warn(f"{len(missing)} of {len(events)} caption events have no translation (e.g. "
             f"{missing[0].text!r} at {missing[0].start_time:.2f} s); "
             + ("their Korean is erased" if erase_only else "their Korean is left on screen"))
    if on_event:
        for ev in events:
            on_event(ev)
    if not overlap:
        t_render = time.perf_counter()
        plans = _plans(events, shape, erase_only, font)
        stats = render(src, out, plans, eraser=eraser, temporal=filler, options=opts, start=start,
                       end=end, warn=warn, progress=render_progress)
    outputs = {"video": str(out)}
    if srt_source is not None:
        write_srt(srt_source, [Cue(e.start_time, e.end_time, "\n".join(e.lines)) for e in events])
        outputs["srt_source"] = str(srt_source)
    if srt is not None:
        write_srt(srt, [Cue(e.start_time, e.end_time, e.translation) for e in events if e.translation])
        outputs["srt"] = str(srt)
    if ass is not None:
        write_ass(ass, _ass_lines(plans, events, shape, font), shape[1], shape[0])
        outputs["ass"] = str(ass)
    state.remove()
    t_end = time.perf_counter()
    return {"input": str(src), "output": str(out), "frames": stats["frames"], "events": len(events),
            "translated": len(events) - len(missing), "detections": an.detections, "cuts": an.cuts,
            "resumed": resumed, "video": info.to_json(), "outputs": outputs,
            "temporal_fill": filler.stats if filler is not None else None,
            "seconds": ({"setup": round(t_render - t_start, 3), "analyse": round(an.seconds, 3),
                         "render": round(t_end - t_render, 3), "total": round(t_end - t_start, 3),
                         "overlapped": True} if overlap else
                        {"analyse": round(t_tr - t_start, 3), "translate": round(t_render - t_tr, 3),
                         "render": round(t_end - t_render, 3), "total": round(t_end - t_start, 3)}),
            "fps": round(stats["frames"] / max(1e-9, t_end - t_start), 2)}


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
