"""Render examples/clip.mp4: Korean drama captions with known times over moving footage, with sound.

    .venv/bin/python examples/make_clip.py [--out examples] [--size 1280x720] [--fps 24] [--clean]

Writes clip.mp4 (H.264 + AAC), clip.truth.json (every caption event: first and last frame at
which it is at least 50 % visible, its fade frames, text, translation, box, style; the scene
cuts) and clip.tm.tsv (Korean<TAB>English for ``--translator tm:examples/clip.tm.tsv``).
``--clean`` also writes clip.clean.mp4, the same footage without captions (the target of
erasing, for bench/bench_video.py; not committed).

Why rendered: real broadcast clips are not redistributable, and event times are only exact for
captions we drew. The clip exercises what translate-video must handle: pans (the background
moves under the caption), a static shot, scene cuts (one caption stays on over a cut), fades,
a two-line caption, and a caption that grows by one word (a new event at the change).
Captions are drawn with kseg.synth's layer renderer (fill, outline, shadow), so they look
like the frames text-SAM was trained on. Everything is a pure function of the arguments and
of the Korean font installed (NanumGothic Bold, from fonts-nanum).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kseg.imageio import write_json, write_text  # noqa: E402

FONT = "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"


@dataclass
class Cue:
    lines: list[str]
    translation: str
    start: float  # seconds: first moment fully visible
    end: float  # seconds: last moment fully visible
    fade_in: int = 0  # frames of fade before start
    fade_out: int = 0  # frames after end
    fill: tuple[int, int, int] = (255, 255, 255)
    shadow: bool = False
    anchor: str = "center"  # center | left (a line that grows word by word keeps its left edge)
    x_left: float = 0.3  # for anchor=left: fraction of the width
    vlog: bool = False  # a vlog's caption: white, no outline, a soft grey drop shadow


CUES = [
    Cue(["괜찮아? 많이 놀랐지?"], "Are you okay? Were you scared?", 0.5, 2.5),
    Cue(["내일 아침 9시까지 보고서 올려"], "Send me the report by 9 tomorrow morning.", 2.9, 5.0,
        fade_in=6, fade_out=6),
    Cue(["그게 무슨 소리야?", "나는 처음 듣는 얘기인데"],
        "What are you talking about? This is the first I've heard of it.", 5.4, 7.6),
    Cue(["정말 고마워"], "Thank you so much.", 8.0, 9.0, anchor="left"),
    Cue(["정말 고마워 진심으로"], "Thank you so much, really.", 9.0 + 1 / 24, 10.4, anchor="left"),
    Cue(["어디 가는 거야?"], "Where are you going?", 11.2, 13.4, fill=(255, 240, 150), shadow=True),
    Cue(["잠깐만 기다려 줘"], "Wait for me a moment.", 13.8, 15.4, fade_in=4),
]

# shots: (start second, kind, photo or procedural name, motion in px/frame (dx, dy))
SHOTS = [(0.0, "photo", "coffee", (2.5, 0.4)), (6.0, "photo", "rocket", (0.0, 0.0)),
         (11.0, "procedural", "bokeh", (-1.8, 1.0))]
SECONDS = 16.0


def _style(cue: Cue, h: int) -> dict:
    size = int(round(h * 0.055))
    if cue.vlog:
        return {"kind": "vlog", "size": size, "fill": cue.fill, "gradient": None, "outline": None, "outline_w": 0,
                "outline2": None, "shadow": {"color": (70, 70, 70), "dx": 2, "dy": 3, "blur": 3.0, "opacity": 0.75},
                "banner": None, "angle": 0.0}
    return {"kind": "drama", "size": size, "fill": cue.fill, "gradient": None,
            "outline": (0, 0, 0), "outline_w": max(1, round(size * 0.07)), "outline2": None,
            "shadow": {"color": (0, 0, 0), "dx": 2, "dy": 2, "blur": 1.5, "opacity": 0.8}
            if cue.shadow else None, "banner": None, "angle": 0.0}


def _background(kind: str, name: str, w: int, h: int, seed: int) -> np.ndarray:
    """A canvas 1.6x the frame to pan across."""
    W, H = int(w * 1.6), int(h * 1.6)
    if kind == "photo":
        import skimage.data as skd

        img = getattr(skd, name)()[..., :3]
        ih, iw = img.shape[:2]
        s = max(W / iw, H / ih)
        img = cv2.resize(img, (int(iw * s) + 1, int(ih * s) + 1), interpolation=cv2.INTER_CUBIC)
        return np.ascontiguousarray(img[:H, :W])
    rng = np.random.default_rng(seed)
    out = np.zeros((H, W, 3), np.uint8)
    out[:] = (40, 50, 70)
    for _ in range(60):
        c = tuple(int(v) for v in rng.integers(30, 256, 3))
        r = int(rng.integers(H // 30, H // 6))
        cv2.circle(out, (int(rng.integers(0, W)), int(rng.integers(0, H))), r, c, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(out, (0, 0), H / 120)


class Clip:
    """Frame i of the clip (with and without captions) and its truth, computed on demand."""

    def __init__(self, size: tuple[int, int] = (1280, 720), fps: int = 24, seconds: float = SECONDS,
                 cues: list[Cue] | None = None, shots: list | None = None, shake: float = 0.0):
        """``cues``/``shots``: another script (default CUES, SHOTS); ``shake``: a hand-held
        camera's wobble on top of each shot's motion, in px (a smooth random walk of that
        size, and a little rotation), seeded, so the clip stays a pure function of the arguments."""
        from kseg.synth import FontFace, _text_layers

        self.w, self.h = size
        self.fps = fps
        self.n = int(round(seconds * fps))
        self.cues = CUES if cues is None else cues
        self.shots = SHOTS if shots is None else shots
        self.cuts = [int(round(s[0] * fps)) for s in self.shots]
        self._bgs = [_background(k, nm, self.w, self.h, i) for i, (_, k, nm, _) in enumerate(self.shots)]
        self._wobble = _wobble(self.n, shake) if shake > 0 else None
        face = FontFace(FONT, 0, "NanumGothic", "Bold")
        self.layers = []  # per cue: list of (layers, x, y) per line, the style, the footprint box
        for cue in self.cues:
            st = _style(cue, self.h)
            rendered = [_text_layers(face, t, st) for t in cue.lines]
            line_h = max(b[3] - b[1] for _, b in rendered)
            gap = int(line_h * 0.25)
            block_h = sum(b[3] - b[1] for _, b in rendered) + gap * (len(rendered) - 1)
            y = int(self.h * 0.86) - block_h
            placed = []
            for layers, ib in rendered:
                lw = ib[2] - ib[0]
                x = int(self.w * cue.x_left) if cue.anchor == "left" else (self.w - lw) // 2
                placed.append((layers, x - ib[0], y - ib[1]))
                y += (ib[3] - ib[1]) + gap
            self.layers.append((placed, st))

    def shot(self, i: int) -> int:
        return max(k for k, c in enumerate(self.cuts) if c <= i)

    def alpha(self, cue: Cue, i: int) -> float:
        s, e = int(round(cue.start * self.fps)), int(round(cue.end * self.fps))
        if s <= i <= e:
            return 1.0
        if cue.fade_in and s - cue.fade_in <= i < s:
            return (i - (s - cue.fade_in) + 1) / (cue.fade_in + 1)
        if cue.fade_out and e < i <= e + cue.fade_out:
            return 1.0 - (i - e) / (cue.fade_out + 1)
        return 0.0

    def clean(self, i: int) -> np.ndarray:
        k = self.shot(i)
        bg = self._bgs[k]
        t = i - self.cuts[k]
        dx, dy = self.shots[k][3]
        H, W = bg.shape[:2]
        x = int(round((W - self.w) / 2 + dx * t - dx * 60))
        y = int(round((H - self.h) / 2 + dy * t - dy * 60))
        x, y = min(max(x, 0), W - self.w), min(max(y, 0), H - self.h)
        if self._wobble is None:
            return np.ascontiguousarray(bg[y:y + self.h, x:x + self.w])
        wx, wy, angle = self._wobble[i]
        M = cv2.getRotationMatrix2D((x + self.w / 2, y + self.h / 2), angle, 1.0)
        M[:, 2] -= (x + wx, y + wy)
        return cv2.warpAffine(bg, M, (self.w, self.h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(captioned frame, clean frame, footprint mask of the visible captions)."""
        from kseg.synth import _paste_max, paint_line

        clean = self.clean(i)
        canvas = clean.astype(np.float32)
        foot = np.zeros((self.h, self.w), np.float32)
        for cue, (placed, st) in zip(self.cues, self.layers):
            a = self.alpha(cue, i)
            if a <= 0:
                continue
            for layers, x, y in placed:
                faded = {k: v * a for k, v in layers.items()}
                paint_line(canvas, faded, st, x, y)
                _paste_max(foot, np.maximum(layers["shadow"], np.maximum(layers["outline2"], layers["fill"])), x, y)
        return np.clip(canvas, 0, 255).astype(np.uint8), clean, foot >= 0.25

    def truth(self) -> dict:
        events = []
        for cue, (placed, st) in zip(self.cues, self.layers):
            vis = [i for i in range(self.n) if self.alpha(cue, i) > 0]
            half = [i for i in vis if self.alpha(cue, i) >= 0.5]
            boxes = []
            for layers, x, y in placed:
                ys, xs = np.nonzero(layers["outline2"] >= 0.5)
                boxes.append([int(xs.min() + x), int(ys.min() + y), int(xs.max() + x + 1), int(ys.max() + y + 1)])
            box = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
            events.append({"start": half[0], "end": half[-1], "visible_from": vis[0], "visible_to": vis[-1],
                           "start_time": round(half[0] / self.fps, 4), "end_time": round((half[-1] + 1) / self.fps, 4),
                           "lines": cue.lines, "text": " ".join(cue.lines), "translation": cue.translation,
                           "box": box, "line_boxes": boxes,
                           "style": {"fill": list(cue.fill), "outline": [0, 0, 0], "outline_w": st["outline_w"],
                                     "size": st["size"], "shadow": bool(cue.shadow)}})
        return {"video": "clip.mp4", "width": self.w, "height": self.h, "fps": self.fps, "frames": self.n,
                "cuts": self.cuts[1:], "audio": "AAC stereo 48 kHz, tones", "events": events,
                "made_by": "examples/make_clip.py"}


def _wobble(n: int, size: float, seed: int = 7) -> np.ndarray:
    """(dx, dy, degrees) per frame: a hand-held camera, a smoothed random walk about 0."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 1, (n + 30, 3))
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    smooth = np.stack([np.convolve(steps[:, j], k / k.sum(), "same") for j in range(3)], 1)[15:15 + n]
    walk = np.cumsum(smooth, 0)
    walk -= np.linspace(walk[0], walk[-1], n)  # back where it started: it wanders, does not drift away
    walk /= np.maximum(np.abs(walk).max(0), 1e-6)
    return walk * np.array([size, size, 0.15 * size / 4])


def audio_samples(seconds: float, rate: int = 48000) -> np.ndarray:
    """A soft melody (stereo float32, 2 x N): something to hear, and packets to count."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6]
    f = np.array(notes)[(t // 0.5).astype(int) % len(notes)]
    env = 0.5 + 0.5 * np.cos(2 * np.pi * (t % 0.5) / 0.5)
    mono = 0.2 * env * np.sin(2 * np.pi * f * t)
    return np.stack([mono, np.roll(mono, 240)]).astype(np.float32)


def write_clip(path: Path, clip: Clip, *, clean: bool = False, crf: int = 26, audio: bool = True,
               frames: range | None = None) -> None:
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=clip.fps)
    v.width, v.height, v.pix_fmt = clip.w, clip.h, "yuv420p"
    v.options = {"crf": str(crf), "preset": "medium"}
    a = None
    if audio:
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
        a.bit_rate = 96000
    for i in frames or range(clip.n):
        img = clip.clean(i) if clean else clip.frame(i)[0]
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        vf.pts = i
        vf.time_base = Fraction(1, clip.fps)
        out.mux(v.encode(vf))
    out.mux(v.encode(None))
    if a is not None:
        pcm = audio_samples(clip.n / clip.fps)
        step = 1024
        for k in range(0, pcm.shape[1], step):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, k:k + step]), format="fltp", layout="stereo")
            af.sample_rate = 48000
            af.pts = k
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    out.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--crf", type=int, default=26)
    ap.add_argument("--clean", action="store_true", help="also write clip.clean.mp4")
    ap.add_argument("--name", default="clip")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    clip = Clip((w, h), args.fps)
    args.out.mkdir(parents=True, exist_ok=True)
    write_clip(args.out / f"{args.name}.mp4", clip, crf=args.crf)
    if args.clean:
        write_clip(args.out / f"{args.name}.clean.mp4", clip, clean=True, crf=args.crf, audio=False)
    truth = clip.truth()
    truth["video"] = f"{args.name}.mp4"
    write_json(args.out / f"{args.name}.truth.json", truth)
    tm = "ko\ten\n" + "".join(f"{e['text']}\t{e['translation']}\n" for e in truth["events"])
    write_text(args.out / f"{args.name}.tm.tsv", tm)
    size = (args.out / f"{args.name}.mp4").stat().st_size
    print(f"{args.out / args.name}.mp4: {clip.n} frames {w}x{h} @ {args.fps} fps, "
          f"{len(truth['events'])} caption events, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
