"""One long episode as several Ray tasks: cut at caption-free keyframes, joined without
re-encoding.

Why the cuts are where they are: a chunk is rendered by ``translate_video(start=, end=)``,
which cannot see a caption that began in the chunk before, so a cut must fall where no caption
is on screen; and the join copies packets, so each chunk must begin on a frame the source
itself could begin on: a keyframe (broadcast and web encoders put one at each scene cut, which
is where captions change anyway). The candidates are the source's keyframes nearest to each
multiple of the chunk length; one is taken when the detector finds no text on it but the
programme's overlays (logo, programme bar: text found at the same place on most of the
keyframes sampled over the episode).

The join takes the chunks' video packets in order, each shifted by its chunk's start, and the
source's own audio and subtitle packets (so the sound has no seam), in one pass; subtitle
files are the chunks' merged with pysubs2. Chunks must share their encoder set-up (same codec
parameters): they do, being encoded by the same options from the same source.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from kseg.errors import OutputError
from kseg.video import io
from kseg.video.events import box_iou

SAMPLES = 12  # keyframes looked at across the episode to learn its overlays
OVERLAY_SHARE = 0.6  # text at one place on this share of them is an overlay, not a caption
WINDOW = 0.25  # candidate keyframes lie within this share of a chunk around each target time


@dataclass
class Chunk:
    """One piece of an episode: source seconds [start, end) and where its render goes."""

    index: int
    start: float
    end: float | None  # None: to the end of the episode
    path: Path


def chunk_dir(out: Path) -> Path:
    """Where an episode's finished chunks wait for the join (kept if a run is interrupted)."""
    return out.with_name(out.name + ".chunks")


def keyframes(src: str | os.PathLike[str]) -> list[float]:
    """Seconds of the video stream's keyframes, from the packets (nothing is decoded)."""
    c = io._open(src)
    try:
        s = c.streams.video[0]
        return sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.is_keyframe and p.pts is not None)
    finally:
        c.close()


def _frame_at(src: str | os.PathLike[str], t: float) -> np.ndarray | None:
    c = io._open(src)
    try:
        s = c.streams.video[0]
        c.seek(int(t / s.time_base), stream=s, backward=True)
        for fr in c.decode(s):
            if fr.pts is not None and float(fr.pts * s.time_base) >= t - 1e-6:
                return fr.to_ndarray(format="rgb24")
        return None
    finally:
        c.close()


def _text_boxes(detector: Any, img: np.ndarray) -> list[tuple]:
    return [tuple(int(v) for v in ln.box) for ln in detector.detect(img)]


def plan(src: str | os.PathLike[str], out: Path, chunk_seconds: float, detector: Any) -> list[Chunk]:
    """The chunks of ``src`` (one when it is short or no caption-free keyframe is found)."""
    info = io.probe(src)
    dur = info.duration
    ext = out.suffix
    whole = [Chunk(0, 0.0, None, chunk_dir(out) / f"chunk000{ext}")]
    if not dur or dur < 2 * chunk_seconds:
        return whole
    kfs = [t for t in keyframes(src) if 0 < t < dur - 1.0]
    if not kfs:
        return whole
    sample = [kfs[int(k)] for k in np.linspace(0, len(kfs) - 1, min(SAMPLES, len(kfs)))]
    seen = [_text_boxes(detector, img) for t in sample if (img := _frame_at(src, t)) is not None]
    overlays = []
    for boxes in seen:
        for b in boxes:
            if any(box_iou(b, o) > 0.5 for o in overlays):
                continue
            if sum(any(box_iou(b, x) > 0.5 for x in other) for other in seen) >= OVERLAY_SHARE * len(seen):
                overlays.append(b)
    cuts: list[float] = []
    for m in range(1, int(dur // chunk_seconds) + 1):
        target = m * chunk_seconds
        if dur - target < chunk_seconds / 2:
            break
        near = sorted((t for t in kfs if abs(t - target) <= WINDOW * chunk_seconds and (not cuts or t > cuts[-1])),
                      key=lambda t: abs(t - target))
        for t in near[:6]:
            img = _frame_at(src, t)
            if img is not None and all(any(box_iou(b, o) > 0.5 for o in overlays) for b in _text_boxes(detector, img)):
                cuts.append(t)
                break
    bounds = [0.0, *cuts]
    return [Chunk(k, a, bounds[k + 1] if k + 1 < len(bounds) else None, chunk_dir(out) / f"chunk{k:03d}{ext}")
            for k, a in enumerate(bounds)]


def join(chunks: list[Chunk], src: str | os.PathLike[str], out: Path) -> Path:
    """The episode: the chunks' video packets in order (each shifted by its start) and the
    source's audio and subtitle streams, into ``out`` (temporary name, then renamed)."""
    tmp: Path | None = io._temp_name(out)
    opened = [av.open(str(ch.path)) for ch in chunks]
    try:
        extra = {bytes(c.streams.video[0].codec_context.extradata or b"") for c in opened}
        if len(extra) > 1:
            raise OutputError(f"{out}: its chunks were encoded with different settings; cannot join them "
                              "without re-encoding (run it again without --ray, or delete "
                              f"{chunk_dir(out)})")
        with io._open(src) as sc, av.open(str(tmp), "w") as oc:
            oc.metadata.update({k: v for k, v in opened[0].metadata.items()})
            v0 = opened[0].streams.video[0]
            vs = oc.add_stream_from_template(v0)
            vs.metadata.update(dict(v0.metadata))
            copies = {}
            for s in [*sc.streams.audio, *sc.streams.subtitles]:
                try:
                    copies[s.index] = oc.add_stream_from_template(s)
                    copies[s.index].metadata.update(dict(s.metadata))
                except (ValueError, av.error.FFmpegError):
                    pass
            kept = [s for s in sc.streams if s.index in copies]
            io.mux_in_time_order(oc, _shifted_video(opened, chunks, vs), _copied(sc, kept, copies))
        os.replace(tmp, out)
        tmp = None
    except av.error.FFmpegError as e:
        raise OutputError(f"{out}: joining the chunks failed ({e.strerror or e})") from None
    finally:
        for c in opened:
            c.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return out


def _shifted_video(opened: list[Any], chunks: list[Chunk], vs: Any):
    for c, ch in zip(opened, chunks):
        s = c.streams.video[0]
        shift = int(round(Fraction(ch.start).limit_denominator(10 ** 6) / s.time_base))
        for p in c.demux(s):
            if p.dts is None and p.pts is None:
                continue
            if p.pts is not None:
                p.pts += shift
            if p.dts is not None:
                p.dts += shift
            p.stream = vs
            yield p


def _copied(sc: Any, kept: list[Any], copies: dict[int, Any]) -> Iterator[Any]:
    """The source's packets of the streams ``kept``, on their output streams."""
    if not kept:
        return
    for p in sc.demux(*kept):
        if p.dts is not None:
            p.stream = copies[p.stream.index]
            yield p


def merge_srt(parts: list[tuple[Path, float]], out: Path) -> Path:
    """The chunks' SRT files as one, each shifted by its chunk's start."""
    from kseg.video.subtitles import Cue, read_srt, write_srt

    cues = [Cue(c.start + t0, c.end + t0, c.text) for p, t0 in parts if p.is_file() for c in read_srt(p)]
    return write_srt(out, cues)


def merge_ass(parts: list[tuple[Path, float]], out: Path) -> Path:
    """The chunks' ASS files as one: the same look gets one style name across chunks."""
    import pysubs2

    from kseg.imageio import write_text

    merged: pysubs2.SSAFile | None = None
    names: dict[tuple, str] = {}
    for p, t0 in parts:
        if not p.is_file():
            continue
        subs = pysubs2.load(str(p))
        if merged is None:
            merged = pysubs2.SSAFile()
            merged.info.update(subs.info)
            merged.styles.clear()
        rename = {}
        for name, st in subs.styles.items():
            key = tuple(sorted((k, str(v)) for k, v in st.as_dict().items()))
            if key not in names:
                names[key] = f"Caption{len(names) + 1}"
                merged.styles[names[key]] = st.copy()
            rename[name] = names[key]
        for ev in subs:
            ev.style = rename.get(ev.style, ev.style)
            ev.start += int(round(t0 * 1000))
            ev.end += int(round(t0 * 1000))
            merged.append(ev)
    if merged is None:
        merged = pysubs2.SSAFile()
    return write_text(out, merged.to_string("ass"))
