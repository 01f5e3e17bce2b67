"""Peak memory of translate-video over a long generated episode: flat, or growing per caption?

    .venv/bin/python bench/bench_memory.py [--minutes 30] [--size 640x360] [--fps 12] [--every 4]
        [--baseline-minutes 6]
    .venv/bin/python bench/bench_memory.py --real data/real [--clip NAME] [--height 1080] [--minutes 60]

The episode: a slowly panning textured background with a hard cut every 20 s, and a Korean
caption (white, black outline, NanumGothic Bold) every ``--every`` seconds for 2.5 s, each
with a different text; libx264 ultrafast. It is translated with the real models and a TM
holding every caption, while a thread samples the process's resident memory (VmRSS) every
second. Printed: RSS at each tenth of the video, the peak, events, frames/s. The baseline
runs the same code on the first ``--baseline-minutes`` of the episode with the per-event
clean-up switched off (TemporalFill.drop a no-op, spent sprites kept: the code before the
fix), so the growth per caption event is seen beside the flat line.

``--real DIR``: the episode is a real clip of bench/real (``--clip``, from DIR/clips/, which
``bench/real/extract.py DIR --clones C --clips`` writes; default the 6-minute Vrew vlog with 13
subtitles) scaled to ``--height`` rows and played over and over to ``--minutes`` (``looped``: its
packets copied, not re-encoded, so an hour is made in seconds), translated from a memory of its
annotated captions; the events translated are printed beside the clip's truth.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

FONT = "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"
WORDS = ["오늘", "진짜", "맛있는", "라면", "먹으러", "왔어요", "여러분", "이거", "보세요", "대박", "사장님",
         "감사합니다", "다음에", "또", "올게요", "완전", "신기해", "우리", "같이", "가자"]


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _caption(k: int) -> str:
    rng = np.random.default_rng(k)
    return " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))


def make_episode(path: Path, minutes: float, size: tuple[int, int], fps: int, every: float) -> list[str]:
    w, h = size
    n = int(minutes * 60 * fps)
    rng = np.random.default_rng(0)
    font = ImageFont.truetype(FONT, max(14, h // 16))
    texts, sprites = [], {}
    oc = av.open(str(path), "w")
    v = oc.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    v.options = {"preset": "ultrafast", "crf": "23"}
    bg = None
    for i in range(n):
        t = i / fps
        if i % (20 * fps) == 0:  # a hard cut: new footage
            noise = rng.random((h // 8 + 1, (w * 2) // 8 + 1, 3)).astype(np.float32)
            bg = (cv2.resize(noise, (w * 2, h), interpolation=cv2.INTER_CUBIC) * 200 + 20).clip(0, 255).astype(np.uint8)
        x = int((i % (20 * fps)) * 2) % w
        img = np.ascontiguousarray(bg[:, x:x + w])
        k = int(t // every)
        if t - k * every < 2.5:
            if k not in sprites:
                text = _caption(k)
                texts.append(text)
                im = Image.new("RGBA", (w, h // 5), (0, 0, 0, 0))
                d = ImageDraw.Draw(im)
                tw = d.textlength(text, font=font)
                d.text(((w - tw) / 2, 4), text, font=font, fill=(255, 255, 255, 255), stroke_width=3,
                       stroke_fill=(0, 0, 0, 255))
                sprites = {k: np.asarray(im)}
            sp = sprites[k]
            y0 = int(h * 0.78)
            a = sp[:, :, 3:4].astype(np.float32) / 255
            img[y0:y0 + sp.shape[0]] = (img[y0:y0 + sp.shape[0]] * (1 - a) + sp[:, :, :3] * a).astype(np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i
        oc.mux(v.encode(f))
    oc.mux(v.encode(None))
    oc.close()
    return texts


def looped(src: Path, n: int, out: Path) -> Path:
    """``src`` (video only) played ``n`` times in a row, its packets copied with their timestamps
    moved on by the clip's length each time (what ffmpeg's concat demuxer does): a long input
    from a short real clip without re-encoding, each seam a hard cut."""
    def packets(c):
        return (p for p in c.demux(c.streams.video[0]) if p.pts is not None and p.size)

    with av.open(str(src)) as c:
        ends = [(p.pts, p.pts + (p.duration or 0)) for p in packets(c)]
    span = max(e for _, e in ends) - min(s for s, _ in ends)  # in the stream's time base
    with av.open(str(out), "w") as oc:
        for r in range(n):
            with av.open(str(src)) as c:
                if r == 0:
                    ost = oc.add_stream_from_template(c.streams.video[0])
                for p in packets(c):
                    p.pts += r * span
                    p.dts = None if p.dts is None else p.dts + r * span
                    p.stream = ost
                    oc.mux(p)
    return out


def real_episode(folder: Path, clip: str, height: int | None, minutes: float, tmp: Path) -> tuple[Path, Path, dict]:
    """(episode, translation memory, truth) for ``--real``: the clip scaled once (bench_video's
    ``_repeated``, CRF 16), then ``looped`` to about ``minutes``."""
    import json

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_video import _memory, _repeat_truth, _repeated

    spec = {c["clip"]: c for c in json.loads((ROOT / "bench" / "real" / "clips.json").read_text())["clips"]}
    if clip not in spec:
        raise SystemExit(f"bench_memory: no clip {clip!r} in bench/real/clips.json ({', '.join(spec)})")
    c = spec[clip]
    src = next((p for p in (folder / "clips" / f"{clip}.mp4", folder / f"{clip}.mp4") if p.exists()), None)
    if src is None:
        raise SystemExit(f"bench_memory: {clip}.mp4 not under {folder} "
                         "(python bench/real/extract.py DIR --clones C --clips)")
    scaled = _repeated(src, 1, tmp / "clip.mp4", height)
    with av.open(str(scaled)) as v:
        seconds = c["frames"] / float(v.streams.video[0].average_rate)
    n = max(1, round(minutes * 60 / seconds))
    return looped(scaled, n, tmp / "episode.mp4"), _memory(c, tmp / "tm.tsv"), _repeat_truth(c, n)


def run(src: Path, out: Path, tm: Path, end: float | None, keep_all: bool) -> dict:
    """One translate-video in a fresh process (so that neither run inherits the other's heap),
    the models loaded before the clock and the sampler start."""
    import json
    import subprocess

    cmd = [sys.executable, __file__, "--_run", str(src), str(out), str(tm), str(end or 0), str(int(keep_all))]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])


def _child(src: Path, out: Path, tm: Path, end: float | None, keep_all: bool) -> dict:
    import kseg.video.render as render
    import kseg.video.temporal as temporal
    from kseg.pipeline import SegmentPipeline
    from kseg.video import translate_video

    pipe = SegmentPipeline()
    with av.open(str(src)) as c:  # one frame through every model: their buffers are allocated
        pipe.process(next(c.decode(video=0)).to_ndarray(format="rgb24"))

    saved = (temporal.TemporalFill.drop, render._Spent)
    if keep_all:  # the code before the fix
        temporal.TemporalFill.drop = lambda self, key: None
        render._Spent = lambda info, bold: None
    samples: list[tuple[float, float, int]] = []
    done = threading.Event()
    frame = [0]

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.wait(1.0):
            samples.append((time.perf_counter() - t0, _rss_mb(), frame[0]))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    try:
        s = translate_video(src, out, translator=f"tm:{tm}", end=end, translator_options={"no_cache": True},
                            pipeline=pipe,
                            progress=lambda stage, i, total: frame.__setitem__(0, i) if stage == "render" else None)
    finally:
        done.set()
        th.join()
        temporal.TemporalFill.drop, render._Spent = saved
    return {"summary": s, "samples": samples, "wall": time.perf_counter() - t0}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_run":
        import json

        a = sys.argv[2:]
        r = _child(Path(a[0]), Path(a[1]), Path(a[2]), float(a[3]) or None, a[4] == "1")
        print(json.dumps(r, default=str))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=int, default=12)
    ap.add_argument("--every", type=float, default=4.0)
    ap.add_argument("--baseline-minutes", type=float, default=6)
    ap.add_argument("--real", type=Path, help="bench/real's frames folder: loop one of its real clips instead")
    ap.add_argument("--clip", default="jjjjj2e2e__p107-110_1-8__video", help="with --real: the clip (clips.json)")
    ap.add_argument("--height", type=int, default=1080, help="with --real: scaled to this many rows (0: as it is)")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        truth = None
        if args.real:
            src, tm, truth = real_episode(args.real, args.clip, args.height or None, args.minutes, tmp)
            with av.open(str(src)) as c:
                vs = c.streams.video[0]
                fps = float(vs.average_rate)
                size = f"{vs.codec_context.width}x{vs.codec_context.height}"
                print(f"episode: {args.clip} looped, {truth['frames']} frames ({truth['frames'] / fps / 60:.1f} min), "
                      f"{size}, {len(truth['events'])} captions (made in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        else:
            src, fps = tmp / "episode.mp4", args.fps
            texts = make_episode(src, args.minutes, (w, h), args.fps, args.every)
            print(f"episode: {args.minutes} min, {w}x{h}, {args.fps} fps, {len(texts)} captions "
                  f"(made in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            tm = tmp / "tm.tsv"
            tm.write_text("".join(f"{t}\tEnglish for caption {k}\n" for k, t in enumerate(dict.fromkeys(texts))))
        rows = []
        if args.baseline_minutes:
            rows.append(("before the fix", run(src, tmp / "base.mp4", tm, args.baseline_minutes * 60, True)))
        rows.append(("kseg", run(src, tmp / "out.mp4", tm, None, False)))
        console = Console()
        for name, r in rows:
            s, smp = r["summary"], r["samples"]
            t = Table(title=f"{name}: {s['frames']} frames, {s['events']} caption events, "
                            f"{s['frames'] / r['wall']:.1f} frames/s, peak RSS {max(m for _, m, _ in smp):.0f} MB")
            for c in ("wall s", "video min rendered", "RSS MB"):
                t.add_column(c)
            for k in range(10):
                sel = smp[min(len(smp) - 1, int((k + 1) * len(smp) / 10) - 1)]
                t.add_row(f"{sel[0]:.0f}", f"{sel[2] / fps / 60:.1f}", f"{sel[1]:.0f}")
            console.print(t)
            if truth is not None:
                console.print(f"{name}: {s['events']} caption events, {s['translated']} translated (the whole "
                              f"episode's truth: {len(truth['events'])}); {s['frames'] / fps / r['wall']:.2f}x real time")
        if len(rows) == 2:
            b, a = rows[0][1], rows[1][1]
            be, ae = b["summary"]["events"], a["summary"]["events"]
            grow = lambda r: (r["samples"][-1][1] - r["samples"][len(r["samples"]) // 5][1])  # noqa: E731
            console.print(f"RSS growth from 20 % to the end: before the fix {grow(b):+.0f} MB over {be} events "
                          f"({grow(b) / max(1, be * 0.8):+.1f} MB/event); kseg {grow(a):+.0f} MB over {ae} events "
                          f"({grow(a) / max(1, ae * 0.8):+.2f} MB/event)")


if __name__ == "__main__":
    main()
