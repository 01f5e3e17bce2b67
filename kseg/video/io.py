"""Video in and out with PyAV (FFmpeg's libraries, no subprocess).

Why a module of our own over ``ffmpeg`` command lines: frames have to come to Python as
arrays and go back in order, with their own timestamps, while the audio is muxed untouched
beside them; PyAV does exactly that in one process. What this module guarantees:

* frames are handed out in *display* orientation (a phone clip with a rotation tag is turned
  upright, so the caption is upright for the detector) and turned back before encoding; the
  output keeps the tag, so players show it as before;
* the output keeps resolution, time base and each frame's timestamp (variable frame rate
  survives), hence the duration; audio and subtitle streams are copied packet for packet;
* odd sizes: libx264's 4:2:0 needs even sizes, so an odd-sized video is encoded 4:4:4
  (same pixels, no padding or cropping; a few hardware players cannot show 4:4:4 H.264);
* the output is written to a hidden temporary name in the output folder and renamed when
  complete, so a crash, Ctrl-C or a full disk never leaves a broken OUT behind;
* a damaged packet in the middle is skipped with a warning; decoding goes on.
"""
from __future__ import annotations

import errno
import glob
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from kseg.errors import InputError, OutputError
from kseg.imageio import _FILE_MODE, _out_error, check_input

IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe",
                 "gif", "apng", "pam_pipe", "ppm_pipe", "pgm_pipe", "qoi_pipe", "svg_pipe"}

Warn = Callable[[str], None]


@dataclass
class VideoInfo:
    path: str
    width: int  # stored (coded) frame size
    height: int
    rotation: int  # 0/90/180/270, counter-clockwise, from the display matrix
    fps: Fraction  # average rate (nominal for variable-rate video)
    time_base: Fraction
    duration: float  # seconds (0 when the container does not say)
    frames: int  # frame count if known, else an estimate from duration x fps (0 if neither)
    codec: str
    audio_streams: int = 0
    subtitle_streams: int = 0
    format: str = ""

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, i.e. of the frames this module hands out."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "rotation": self.rotation,
                "fps": float(self.fps), "time_base": str(self.time_base),
                "duration": round(self.duration, 4), "frames": self.frames, "codec": self.codec,
                "audio_streams": self.audio_streams, "subtitle_streams": self.subtitle_streams}


@dataclass
class Frame:
    index: int  # 0-based among the frames read (after --start)
    pts: int | None  # in the stream time base
    time: float  # seconds on the input's timeline
    image: np.ndarray  # RGB uint8, display orientation (empty in ``transcode``: see ``region``)
    source: Any = field(default=None, repr=False)  # the decoded av.VideoFrame
    rotation: int = 0

    def region(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """RGB copy of the display box (x0, y0, x1, y1), converted from the decoded frame alone
        when ``image`` is empty: a caption costs its box, not the frame (see ``even_box``)."""
        x0, y0, x1, y1 = box
        if self.image.size or self.source is None:
            return self.image[y0:y1, x0:x1].copy()
        return _region_rgb(self.source, self.rotation, box)


@dataclass
class Patch:
    """New display-orientation RGB pixels for the box at (x, y); the rest of the frame is
    passed on as decoded (no round trip through RGB)."""

    x: int
    y: int
    rgb: np.ndarray


def _open(path: str | os.PathLike[str]) -> Any:
    check_input(path)
    try:
        c = av.open(os.fspath(path), "r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise InputError(f"{os.fspath(path)}: not a video file kseg can read") from None
    except av.error.EOFError:
        raise InputError(f"{os.fspath(path)}: no video data (zero-length or truncated file)") from None
    except av.error.FFmpegError as e:
        raise InputError(f"{os.fspath(path)}: cannot open as video ({e.strerror or e})") from None
    if c.format.name in IMAGE_FORMATS:
        c.close()
        raise InputError(f"{os.fspath(path)}: a still image, not a video "
                         "(use kseg segment for single frames)")
    if not c.streams.video:
        c.close()
        raise InputError(f"{os.fspath(path)}: no video stream (audio-only or data file)")
    return c


def _rotation(stream: Any, first: Any | None) -> int:
    rot = 0
    if first is not None:
        try:
            rot = int(round(first.rotation))
        except Exception:
            rot = 0
    if not rot:
        try:  # old files carry a 'rotate' tag instead of a display matrix
            rot = -int(stream.metadata.get("rotate", 0))
        except (TypeError, ValueError):
            rot = 0
    rot %= 360
    return rot if rot in (0, 90, 180, 270) else 0


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """What the video is, from its headers and first frame; ``InputError`` if it is none."""
    c = _open(path)
    try:
        s = c.streams.video[0]
        tb = s.time_base or Fraction(1, 90000)
        fps = s.average_rate or s.guessed_rate or s.base_rate or Fraction(25)
        first = None
        try:
            for first in c.decode(s):
                break
        except av.error.FFmpegError:
            first = None
        if first is None:
            raise InputError(f"{os.fspath(path)}: the video stream has no frames (zero-length video)")
        dur = 0.0
        if s.duration:
            dur = float(s.duration * tb)
        elif c.duration:
            dur = c.duration / av.time_base
        # an edit list can trim frames that the stream's count still includes (a web re-edit of
        # 154 shown frames announcing 170): the shown duration bounds the count
        by_time = int(round(dur * float(fps))) if dur else 0
        frames = min(int(s.frames or 0), by_time) if s.frames and by_time else (int(s.frames or 0) or by_time)
        return VideoInfo(path=os.fspath(path), width=first.width, height=first.height,
                         rotation=_rotation(s, first), fps=Fraction(fps), time_base=Fraction(tb),
                         duration=dur, frames=frames, codec=s.codec_context.name,
                         audio_streams=len(c.streams.audio),
                         subtitle_streams=len(c.streams.subtitles), format=c.format.name)
    finally:
        c.close()


def to_display(img: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(img, rotation // 90)) if rotation else img


def from_display(img: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(img, -(rotation // 90))) if rotation else img


@dataclass
class _Range:
    """Which frames of the input are processed (--start / --end, seconds)."""

    start: float | None = None
    end: float | None = None

    def seek(self, c: Any, s: Any) -> None:
        if self.start and self.start > 0:
            c.seek(int(self.start / s.time_base), stream=s, backward=True, any_frame=False)

    def before(self, t: float) -> bool:
        return self.start is not None and t < self.start - 1e-6

    def after(self, t: float) -> bool:
        return self.end is not None and t >= self.end - 1e-6


def _frame_time(fr: Any, tb: Fraction, last: float | None, fps: Fraction) -> float:
    if fr.pts is not None:
        return float(fr.pts * tb)
    return 0.0 if last is None else last + 1.0 / float(fps)


def _decode_packets(c: Any, s: Any, warn: Warn | None, extra: tuple = ()) -> Iterator[tuple[Any, Any]]:
    """(packet, frames) for each demuxed packet; a packet that fails to decode is skipped."""
    bad = 0
    streams = (s, *extra)
    try:
        for pkt in c.demux(*streams):
            if pkt.stream.index != s.index:
                yield pkt, []
                continue
            try:
                frames = s.decode(pkt)
            except (av.error.InvalidDataError, av.error.PatchWelcomeError, av.error.UndefinedError) as e:
                bad += 1
                if warn and bad <= 3:
                    t = float(pkt.pts * s.time_base) if pkt.pts is not None else float("nan")
                    warn(f"{c.name}: damaged video packet at {t:.2f} s skipped ({e.strerror or e})")
                continue
            yield pkt, frames
    except av.error.FFmpegError as e:
        if warn:
            warn(f"{c.name}: unreadable data, the rest of the video is skipped ({e.strerror or e})")
    if warn and bad > 3:
        warn(f"{c.name}: {bad} damaged video packets skipped in all")


def iter_decoded(path: str | os.PathLike[str], *, start: float | None = None,
                 end: float | None = None, warn: Warn | None = None
                 ) -> Iterator[tuple[int, float, Any, int]]:
    """(index, time, av.VideoFrame, rotation) for each frame in range; nothing converted yet
    (the caller converts only what it needs: luma for tracking, RGB for the detector)."""
    c = _open(path)
    try:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        fps = s.average_rate or Fraction(25)
        rng = _Range(start, end)
        rng.seek(c, s)
        rotation = None
        i = 0
        last: float | None = None
        for _, frames in _decode_packets(c, s, warn):
            for fr in frames:
                t = _frame_time(fr, s.time_base, last, fps)
                last = t
                if rng.before(t):
                    continue
                if rng.after(t):
                    return
                if rotation is None:
                    rotation = _rotation(s, fr)
                yield i, t, fr, rotation
                i += 1
    finally:
        c.close()


def rgb(fr: Any, rotation: int) -> np.ndarray:
    return to_display(_to_rgb(fr), rotation)


def _plane(fr: Any, k: int) -> np.ndarray:
    """Plane ``k`` (0 Y, 1 U, 2 V) of a yuv420p frame as a read-only array, without a copy."""
    p = fr.planes[k]
    h, w = (fr.height, fr.width) if k == 0 else (fr.height // 2, fr.width // 2)
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w]


# swscale's yuv -> gray for video-range input, as a table: (Y - 16) * 255 / 219, rounded, clipped
_RANGE = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def gray(fr: Any, rotation: int) -> np.ndarray:
    """Luma (the decoder's Y plane, no colour conversion), display orientation. For 4:2:0
    video-range frames (nearly all video) the plane is stretched by a table, the same values
    as FFmpeg's conversion to gray at a fifth of its cost (it runs on every frame)."""
    if fr.format.name == "yuv420p" and fr.color_range in (0, 1):  # unspecified / video range
        return to_display(cv2.LUT(_plane(fr, 0), _RANGE), rotation)
    return to_display(fr.to_ndarray(format="gray"), rotation)


def read_frames(path: str | os.PathLike[str], *, start: float | None = None,
                end: float | None = None, warn: Warn | None = None) -> Iterator[Frame]:
    """Decode the video's frames in order (display orientation, RGB)."""
    for i, t, fr, rot in iter_decoded(path, start=start, end=end, warn=warn):
        yield Frame(i, fr.pts, t, rgb(fr, rot))


# ------------------------------------------------------------------------------ writing

@dataclass
class EncodeOptions:
    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    extra: dict[str, str] = field(default_factory=dict)


_EMPTY = np.empty((0, 0, 3), np.uint8)


def remove_stale_partials(out: Path) -> list[Path]:
    """Delete what an earlier, killed run of the same output left (``.NAME.*.partial.EXT``):
    nobody else writes these names, and a SIGKILL leaves no chance to clean up."""
    gone = []
    for p in Path(out).parent.glob(f".{glob.escape(Path(out).stem)}.*.partial{Path(out).suffix}"):
        try:
            p.unlink()
            gone.append(p)
        except OSError:
            pass
    return gone


def _temp_name(out: Path) -> Path:
    """A hidden name in OUT's folder with OUT's extension (the muxer goes by the extension)."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=f".partial{out.suffix}")
    os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; the video gets normal permissions
    os.close(fd)
    return Path(name)


def mux_in_time_order(oc: Any, main: Iterator[Any], extra: Iterator[Any]) -> None:
    """Mux two time-ordered packet streams (their output streams already set), each ``extra``
    packet before the first ``main`` packet later than it: left to itself the muxer would
    buffer all of one stream while it waits for a sparse other (subtitles, a copied track)."""
    def at(p: Any) -> float:
        return float((p.dts if p.dts is not None else p.pts) * p.time_base)

    nxt = next(extra, None)
    for p in main:
        t = at(p)
        while nxt is not None and at(nxt) <= t:
            oc.mux(nxt)
            nxt = next(extra, None)
        oc.mux(p)
    while nxt is not None:
        oc.mux(nxt)
        nxt = next(extra, None)


UNSPECIFIED = 2  # FFmpeg's AVCOL_PRI/TRC/SPC_UNSPECIFIED


def _keep_colour(vs: Any, s: Any, fr: Any) -> None:
    """The input's colour description (primaries, transfer, matrix, range) on the output, so a
    player shows the same colours; FFmpeg would otherwise write "unknown"."""
    src = s.codec_context
    for name in ("color_primaries", "color_trc", "colorspace"):
        v = getattr(fr, name, None) or getattr(src, name, None)
        if v and v != UNSPECIFIED:
            setattr(vs.codec_context, name, v)
    rng = getattr(fr, "color_range", None) or getattr(src, "color_range", None)
    if rng:
        vs.codec_context.color_range = rng


def _add_video_stream(oc: Any, s: Any, width: int, height: int, rotation: int,
                      opts: EncodeOptions, warn: Warn | None, in_fmt: str | None = None) -> Any:
    rate = s.average_rate or s.guessed_rate or Fraction(25)
    try:
        vs = oc.add_stream(opts.codec, rate=rate)
    except (ValueError, av.error.FFmpegError) as e:
        raise OutputError(f"{oc.name}: cannot encode with codec {opts.codec!r} ({e})") from None
    vs.width, vs.height = width, height
    odd = width % 2 or height % 2
    fmts = {f.name for f in (vs.codec_context.codec.video_formats or [])}
    if odd and "yuv444p" in fmts:
        vs.pix_fmt = "yuv444p"
        if warn:
            warn(f"{oc.name}: odd frame size {width}x{height}: encoded as 4:4:4 to keep every "
                 "pixel (some hardware players cannot play 4:4:4 H.264)")
    elif in_fmt and in_fmt in fmts and not odd:
        vs.pix_fmt = in_fmt  # the input's bit depth and chroma format (10-bit, 4:2:2) where the encoder has them
    elif "yuv420p" in fmts or not fmts:
        vs.pix_fmt = "yuv420p"
    else:
        vs.pix_fmt = sorted(fmts)[0]
    vs.time_base = s.time_base
    vs.codec_context.time_base = s.time_base
    if s.sample_aspect_ratio:
        vs.sample_aspect_ratio = s.sample_aspect_ratio
    options = dict(opts.extra)
    if opts.codec in ("libx264", "libx265"):
        options.setdefault("crf", str(opts.crf))
        options.setdefault("preset", opts.preset)
    elif opts.codec.startswith("libvpx"):
        options.setdefault("crf", str(opts.crf))
        options.setdefault("b", "0")
    vs.options = options
    if rotation:
        vs.set_display_rotation(rotation)
    vs.metadata.update({k: v for k, v in s.metadata.items() if k.lower() in ("language", "title", "handler_name")})
    return vs


Process = Callable[[Frame], "np.ndarray | Patch | None"]
LOOKAHEAD = 2  # frames decoded and being processed ahead of the encoder


def _i420(fr: Any, rotation: int) -> bool:
    """Whether boxes of this frame can be converted on their own (4:2:0, even size, upright)."""
    return not rotation and fr.format.name == "yuv420p" and fr.width % 2 == 0 and fr.height % 2 == 0


def even_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` grown to even corners inside ``size`` (W, H): a 4:2:0 chroma sample covers 2x2
    pixels, so a box with even corners converts exactly as it would within the whole frame."""
    x0, y0, x1, y1 = box
    W, H = size
    return max(0, x0 & ~1), max(0, y0 & ~1), min(W, x1 + (x1 & 1)), min(H, y1 + (y1 & 1))




def _region_rgb(fr: Any, rotation: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    if not (_i420(fr, rotation) and not (x0 | y0 | x1 | y1) & 1):
        return to_display(_to_rgb(fr), rotation)[y0:y1, x0:x1].copy()
    Y, U, V = (_plane(fr, k) for k in range(3))
    c = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
    buf = np.concatenate([Y[y0:y1, x0:x1].ravel(), U[c].ravel(), V[c].ravel()])
    return cv2.cvtColor(buf.reshape(-1, x1 - x0), cv2.COLOR_YUV2RGB_I420)


def _patched(fr: Any, patch: Patch, rotation: int, pix_fmt: str) -> Any:
    """A VideoFrame for the encoder: ``fr`` with ``patch`` written in (4:2:0: only the patch's
    box is converted; otherwise the whole frame goes through RGB)."""
    h, w = patch.rgb.shape[:2]
    x0, y0 = patch.x, patch.y
    if not (pix_fmt == "yuv420p" and _i420(fr, rotation) and not (x0 | y0 | w | h) & 1):
        img = to_display(_to_rgb(fr), rotation)
        img[y0:y0 + h, x0:x0 + w] = patch.rgb
        return _from_rgb(from_display(img, rotation), pix_fmt)
    H, W = fr.height, fr.width
    yuv = fr.to_ndarray()  # I420, a copy: Y (H x W), then U and V (H/2 x W/2 each)
    flat = yuv.reshape(-1)
    new = cv2.cvtColor(np.ascontiguousarray(patch.rgb), cv2.COLOR_RGB2YUV_I420).reshape(-1)
    n, q = w * h, w * h // 4
    yuv[y0:y0 + h, x0:x0 + w] = new[:n].reshape(h, w)
    for k in (0, 1):  # U, V
        plane = flat[H * W + k * (H * W // 4):H * W + (k + 1) * (H * W // 4)].reshape(H // 2, W // 2)
        chroma = new[n + k * q:n + (k + 1) * q].reshape(h // 2, w // 2)
        plane[y0 // 2:(y0 + h) // 2, x0 // 2:(x0 + w) // 2] = chroma
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


def _to_rgb(fr: Any) -> np.ndarray:
    """RGB of a decoded frame. 4:2:0 frames go through OpenCV's SIMD converter (half the
    time of swscale here); everything else through PyAV's reformat."""
    if fr.format.name == "yuv420p" and fr.width % 2 == 0 and fr.height % 2 == 0:
        return cv2.cvtColor(fr.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return fr.to_ndarray(format="rgb24")


def _from_rgb(rgb: np.ndarray, pix_fmt: str) -> Any:
    """A VideoFrame for the encoder (the full-frame fallback path). For 4:2:0 output OpenCV's
    converter is the inverse of ``_to_rgb`` but not an exact one: luma of untouched pixels can
    move by up to 13 levels (measured), which is why the main path sends only the caption box
    through RGB. Still 4-5x faster than letting the encoder call swscale on an rgb24 frame."""
    h, w = rgb.shape[:2]
    if pix_fmt == "yuv420p" and w % 2 == 0 and h % 2 == 0:
        return av.VideoFrame.from_ndarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420),
                                          format="yuv420p")
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


class _Transcode:
    """One transcode's moving parts: the copied streams, the front offset (--start), the frames
    ahead in the worker and what has been muxed."""

    def __init__(self, c: Any, s: Any, oc: Any, out: Path, process: Process, rng: Any, start: float | None,
                 options: EncodeOptions, warn: Warn | None, progress: Callable[[int, float], None] | None):
        self.c, self.s, self.oc, self.out, self.process, self.rng = c, s, oc, out, process, rng
        self.start, self.options, self.warn, self.progress = start, options, warn, progress
        self.fps = s.average_rate or Fraction(25)
        self.rotation = 0
        self.copies: dict[int, Any] = {}
        self.vs: Any = None
        self.offset: float | None = None  # seconds cut from the front (--start): output starts at 0
        self.pending: list[Any] = []  # copied packets that arrive before the first video frame
        self.i = 0
        self.last: float | None = None
        self.stop = False
        self.n_copied = 0
        self.n_done = 0
        self.ahead: deque[tuple[Any, Any, int, float]] = deque()
        self.pool: ThreadPoolExecutor | None = None
        self.sources = [*c.streams.audio, *c.streams.subtitles]  # streams copied packet for packet

    def add_copies(self) -> None:
        """The copied streams' outputs, added after the video's so the video stays the first
        stream (players and tools take the first as the main one)."""
        for t in self.sources:
            try:
                self.copies[t.index] = self.oc.add_stream_from_template(t)
                self.copies[t.index].metadata.update(dict(t.metadata))  # language, title
            except (ValueError, av.error.FFmpegError) as e:
                if self.warn:
                    self.warn(f"{self.out}: {t.type} stream {t.index} ({t.codec_context.name}) cannot go "
                              f"into {self.out.suffix or 'this'} files; left out ({e})")

    def copy(self, pkt: Any) -> None:
        if (pkt.dts is None and pkt.pts is None) or pkt.stream.index not in self.copies:
            return
        tb = pkt.stream.time_base
        t = float((pkt.pts if pkt.pts is not None else pkt.dts) * tb)
        if self.rng.before(t) or (self.rng.end is not None and t >= self.rng.end):
            return
        if self.offset:
            shift = int(round(self.offset / tb))
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
        pkt.stream = self.copies[pkt.stream.index]
        self.oc.mux(pkt)
        self.n_copied += 1

    def encode_next(self) -> None:
        fut, fr, pts, t = self.ahead.popleft()
        new = fut.result()
        if new is None:
            nf = fr
        elif isinstance(new, Patch):
            nf = _patched(fr, new, self.rotation, self.vs.pix_fmt)
        else:
            nf = _from_rgb(from_display(new, self.rotation), self.vs.pix_fmt)
        nf.pts = pts
        nf.time_base = self.s.time_base
        self.oc.mux(self.vs.encode(nf))
        self.n_done += 1
        if self.progress:
            self.progress(self.n_done, t)

    def frames(self, frames: Any) -> None:
        """Queue the decoded frames of one packet (the first one opens the output stream)."""
        s, rng = self.s, self.rng
        for fr in frames:
            t = _frame_time(fr, s.time_base, self.last, self.fps)
            self.last = t
            if rng.before(t):
                continue
            if rng.after(t):
                self.stop = True
                break
            if self.vs is None:
                self.rotation = _rotation(s, fr)
                self.vs = _add_video_stream(self.oc, s, fr.width, fr.height, self.rotation, self.options, self.warn,
                                            fr.format.name)
                _keep_colour(self.vs, s, fr)
                self.offset = t if (self.start and self.start > 0) else None
                self.add_copies()
                for p in self.pending:
                    self.copy(p)
                self.pending.clear()
            pts = fr.pts if fr.pts is not None else int(round(t / s.time_base))
            if self.offset:
                pts -= int(round(self.offset / s.time_base))
            # process() (erase + draw: OpenCV/numpy, which release the GIL) runs in a worker
            # one frame ahead of the encoder, so the two CPU-bound halves overlap.
            f = Frame(self.i, fr.pts, t, _EMPTY, fr, self.rotation)
            self.ahead.append((self.pool.submit(self.process, f), fr, pts, t))
            self.i += 1
            while len(self.ahead) > LOOKAHEAD:
                self.encode_next()

    def run(self) -> None:
        """Demux everything: video frames to ``frames``, other streams copied, until --end."""
        s, rng = self.s, self.rng
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kseg-frames")
        ended: set[int] = set()  # copied streams whose packets passed --end
        for pkt, frames in _decode_packets(self.c, s, self.warn, tuple(self.sources)):
            if pkt.stream.index != s.index:
                if self.stop and pkt.pts is not None and rng.after(float(pkt.pts * pkt.stream.time_base)):
                    ended.add(pkt.stream.index)
                    if len(ended) >= len(self.copies):
                        break
                if self.vs is None:
                    self.pending.append(pkt)
                else:
                    self.copy(pkt)
                continue
            if self.stop:
                # the video is done; the muxer may have stored audio up to seconds later in the file
                if pkt.pts is not None and float(pkt.pts * s.time_base) > (rng.end or 0) + 20:
                    break
                continue
            self.frames(frames)
            if self.stop and not self.sources:
                break
        while self.ahead:
            self.encode_next()


def transcode(src: str | os.PathLike[str], out: str | os.PathLike[str], process: Process, *,
              options: EncodeOptions | None = None, start: float | None = None,
              end: float | None = None, warn: Warn | None = None,
              progress: Callable[[int, float], None] | None = None,
              before_commit: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Decode ``src``, run ``process(frame)`` on each frame, encode, copy the other streams.

    ``before_commit(frames)`` runs when everything is encoded, before the output takes its
    name: an exception there leaves no output (the partial file is removed).

    ``process`` reads the pixels it needs with ``frame.region(box)`` (nothing is converted to
    RGB before) and returns a ``Patch`` (new pixels for a box), a whole new display-orientation
    RGB image, or None to keep the frame; what it leaves alone is re-encoded without a round
    trip through RGB. With --start the output starts at 0.
    """
    options = options or EncodeOptions()
    out = Path(out)
    c = _open(src)
    tmp: Path | None = None
    oc = None
    job: _Transcode | None = None
    try:
        tmp = _temp_name(out)
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        try:
            oc = av.open(str(tmp), "w")
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise OutputError(f"{out}: cannot write this container ({e})") from None
        rng = _Range(start, end)
        job = _Transcode(c, s, oc, out, process, rng, start, options, warn, progress)
        oc.metadata.update({k: v for k, v in c.metadata.items() if k.lower() != "encoder"})
        rng.seek(c, s)
        job.run()
        if job.vs is None:
            raise InputError(f"{os.fspath(src)}: the video stream has no frames"
                             + (" in the --start/--end range" if start or end else " (zero-length video)"))
        oc.mux(job.vs.encode(None))
        if before_commit is not None:
            before_commit(job.i)
        oc.close()
        oc = None
        os.replace(tmp, out)
        tmp = None
        return {"frames": job.i, "copied_packets": job.n_copied, "rotation": job.rotation,
                "pix_fmt": job.vs.pix_fmt}
    except OSError as e:
        raise _out_error(out, e) from None
    except av.error.FFmpegError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise _out_error(out, OSError(e.errno, e.strerror)) from None
        raise OutputError(f"{out}: encoding failed ({e.strerror or e})") from None
    finally:
        if job is not None and job.pool is not None:
            job.pool.shutdown(wait=True, cancel_futures=True)
        if oc is not None:
            try:
                oc.close()
            except Exception:
                pass
        c.close()
        if tmp is not None:
            try:
                tmp.unlink()
            except OSError:
                pass
