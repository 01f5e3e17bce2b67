"""Soft subtitle tracks muxed into the output video (``translate-video --subs-mux``).

After the video is rendered its packets are copied (no re-encode) into the final file with
the subtitle tracks added: ASS as itself (styles and positions kept) and SRT as SubRip in
Matroska; mov_text (the only text subtitle MP4 players read) in MP4/MOV, encoded by FFmpeg's
own encoder through PyAV. Each track has its language tag (ISO 639-2) and title.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import av

from kseg.errors import OutputError
from kseg.video import io

MP4_LIKE = (".mp4", ".m4v", ".mov")
MATROSKA = (".mkv", ".mka", ".webm")

# mov_text's encoder reads its default style from an ASS header; SRT tracks have none
_PLAIN_HEADER = (
    "[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n[V4+ Styles]\r\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
    "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    "MarginL, MarginR, MarginV, Encoding\r\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
    "[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n")


@dataclass
class SubTrack:
    """One soft subtitle track: the document (SRT or ASS text), its language and title."""

    text: str
    fmt: str  # "srt" or "ass"
    language: str  # ISO 639-2: eng, kor
    title: str
    default: bool = False  # shown by players unless the viewer turns it off


def english_and_korean(out: Path, *, english_srt: str | None, english_ass: str | None, korean_srt: str | None,
                       soft_only: bool) -> list[SubTrack]:
    """The tracks ``--subs-mux`` adds: the English (its ASS, styles and places kept, in Matroska
    when there is one; else its SRT, which MP4 gets as mov_text), shown by default when it is the
    only English (``soft_only``), and the recognised Korean when asked for."""
    tracks = []
    if english_ass is not None and out.suffix.lower() in MATROSKA:
        tracks.append(SubTrack(english_ass, "ass", "eng", "English", default=soft_only))
    elif english_srt is not None:
        tracks.append(SubTrack(english_srt, "srt", "eng", "English", default=soft_only))
    if korean_srt is not None:
        tracks.append(SubTrack(korean_srt, "srt", "kor", "Korean (recognised)"))
    return tracks


def can_mux(out: Path) -> bool:
    return out.suffix.lower() in MP4_LIKE + MATROSKA


def _header(track: SubTrack) -> bytes:
    if track.fmt == "ass":
        return track.text.split("[Events]")[0].replace("\n", "\r\n").encode() + \
            b"[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
    return _PLAIN_HEADER.encode()


def _subtitle_packets(oc: Any, track: SubTrack, mp4: bool, folder: Path) -> list[Any]:
    """Add the track's stream to ``oc`` and return its packets (timed in that stream)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".kseg-sub.", suffix="." + track.fmt)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(track.text)
    packets = []
    try:
        with av.open(name) as sin:
            ss = sin.streams.subtitles[0]
            if mp4:
                st = oc.add_stream("mov_text")
                st.time_base = st.codec_context.time_base = Fraction(1, 1000)
                st.codec_context.subtitle_header = _header(track)
                st.codec_context.open()
            else:
                st = oc.add_stream_from_template(ss)
            st.metadata.update({"language": track.language, "title": track.title, "handler_name": track.title})
            if track.default:
                st.disposition = av.stream.Disposition.default
            for p in sin.demux(ss):
                if p.pts is None:
                    continue
                if mp4:
                    sset = ss.codec_context.decode2(p)
                    if sset is None:
                        continue
                    q = st.codec_context.encode_subtitle(sset)
                    q.pts = q.dts = int(round(p.pts * p.time_base / st.time_base))
                    q.duration = int(round((p.duration or 0) * p.time_base / st.time_base))
                    q.time_base = st.time_base
                else:
                    q = p
                q.stream = st
                packets.append(q)
    finally:
        os.unlink(name)
    return packets


def _has_cues(track: SubTrack) -> bool:
    return "-->" in track.text if track.fmt == "srt" else "\nDialogue:" in track.text


def mux_subtitles(video: str | os.PathLike[str], out: str | os.PathLike[str], tracks: list[SubTrack],
                  warn: Any = None) -> Path:
    """Copy ``video``'s streams into ``out`` (written under a temporary name, then renamed) with
    ``tracks`` added after them, interleaved by time. A track with nothing in it is left out
    (FFmpeg cannot read an empty subtitle file, and players would list an empty track)."""
    video, out = Path(video), Path(out)
    for t in [t for t in tracks if not _has_cues(t)]:
        if warn:
            warn(f"{out}: no {t.title} subtitles to put in a track; left out")
    tracks = [t for t in tracks if _has_cues(t)]
    mp4 = out.suffix.lower() in MP4_LIKE
    if not can_mux(out):
        raise OutputError(f"{out}: --subs-mux needs an .mp4, .mov or .mkv output")
    tmp: Path | None = io._temp_name(out)
    try:
        with av.open(str(video)) as vin, av.open(str(tmp), "w") as oc:
            oc.metadata.update(dict(vin.metadata))
            maps = {}
            first: set[str] = set()
            for s in vin.streams:
                maps[s.index] = oc.add_stream_from_template(s)
                maps[s.index].metadata.update(dict(s.metadata))
                # the picture and the sound are what plays: the first of each is the default track
                lead = s.type in ("video", "audio") and s.type not in first
                first.add(s.type)
                maps[s.index].disposition = s.disposition | (av.stream.Disposition.default if lead else 0)
            subs = sorted((q for t in tracks for q in _subtitle_packets(oc, t, mp4, out.parent)),
                          key=lambda q: float(q.pts * q.time_base))

            def copied() -> Iterator[Any]:
                for p in vin.demux():
                    if p.dts is not None:
                        p.stream = maps[p.stream.index]
                        yield p

            io.mux_in_time_order(oc, copied(), iter(subs))
        os.replace(tmp, out)
        tmp = None
    except av.error.FFmpegError as e:
        raise OutputError(f"{out}: adding the subtitle tracks failed ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return out
