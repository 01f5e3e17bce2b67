"""translate-video on the rendered example clip: events, Korean CER, erase quality, speed.

    .venv/bin/python bench/bench_video.py [--runs 3] [--sizes 1280x720,1920x1080] [--threads 2]
    .venv/bin/python bench/bench_video.py --real data/real [--runs 3] [--repeat 6] [--height 1080]
    .venv/bin/python bench/bench_video.py --handheld [--runs 3] [--sizes ...] [--shake 6]

With ``--handheld`` a rendered vlog is run instead (``handheld_clip``: a hand-held camera's
wobble, 6 hard cuts, short captions right at cuts, white captions with only a soft shadow; the
footage issue 22 was filed on, which bench/real has no clip of), reported like the real clips.

With ``--real`` the clips of bench/real/clips.json (real broadcast footage; events, cuts and the
text that is not captions set by hand) are run instead: events P/R (text that is not a caption
but became an event counts against precision), timing, the Korean read (CER with spaces ignored /
events read exactly, spaces included), cuts, detector runs, frames/s, × real
time, the decode+encode-only speed of the same clip (the ceiling, timed before each run) and peak RSS.

For each size the clip of examples/make_clip.py is rendered (captions with known frames and
text over pans, a static shot, cuts, fades, a caption that grows by a word; AAC audio), then
``kseg.video.translate_video`` runs on it ``--runs`` times (median reported) with
``--translator tm:clip.tm.tsv --srt-source``. Reported:

* caption events: precision / recall (an event matches a truth event when their frame spans
  overlap by >= 50 % of the shorter), start and end errors in frames (truth: first/last frame
  >= 50 % visible), events within +-2 frames;
* Korean CER of the --srt-source text against the truth (edit distance / truth length);
* erase quality: PSNR of the output against the clean footage inside the caption footprints
  of every captioned frame (the English is not drawn for this: --erase-only run);
* throughput (frames/s, and x real time) and the baseline: the image pipeline on every frame
  (detect + SAM + recognise + style + erase + render), timed on a few frames and multiplied
  by the frame count, beside it the speed-up.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kseg.train.ocr import edit_distance  # noqa: E402
from kseg.video import io, make_analyzer, translate_video  # noqa: E402
from kseg.video.subtitles import read_srt  # noqa: E402


def _alike(a: str, b: str) -> bool:
    a, b = "".join(a.split()), "".join(b.split())
    return edit_distance(a, b) <= 0.7 * max(len(a), len(b), 1)


def match(events: list[dict], truth: list[dict], texts: bool = False) -> dict:
    """Truth events paired with found ones by frame overlap (>= 50 % of the shorter); with
    ``texts`` the reading must also be alike (real clips, where a logo spans every caption)."""
    used, pairs = set(), []
    for t in truth:
        best, best_ov = None, 0
        for k, e in enumerate(events):
            if k in used or (texts and not _alike(e["text"], t["text"])):
                continue
            ov = min(e["end"], t["end"]) - max(e["start"], t["start"]) + 1
            short = min(e["end"] - e["start"], t["end"] - t["start"]) + 1
            if ov >= 0.5 * short and ov > best_ov:
                best, best_ov = k, ov
        if best is not None:
            used.add(best)
            pairs.append((events[best], t))
    ds = [abs(e["start"] - t["start"]) for e, t in pairs]
    de = [abs(e["end"] - t["end"]) for e, t in pairs]
    return {"precision": len(pairs) / max(1, len(events)), "recall": len(pairs) / max(1, len(truth)),
            "start_err_mean": float(np.mean(ds)) if ds else float("nan"), "start_err_max": max(ds, default=0),
            "end_err_mean": float(np.mean(de)) if de else float("nan"), "end_err_max": max(de, default=0),
            "within2": sum(a <= 2 and b <= 2 for a, b in zip(ds, de)) / max(1, len(truth)),
            "pairs": pairs}


def reading(pairs) -> tuple[float, float]:
    """The found events' Korean against the truth's: CER with spaces ignored (as bench_real.py
    scores reading) and the share of events read exactly, spaces included (a translation memory
    looks a caption up by its text, spacing and all). Both texts NFKC-normalised."""
    import unicodedata

    from bench.bench_real import norm  # spaces dropped, NFKC

    def nf(t: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", t).split())

    errs = n = 0
    for e, t in pairs:
        ref = norm(t["text"])
        errs += edit_distance(norm(e["text"]), ref)
        n += len(ref)
    exact = sum(nf(e["text"]) == nf(t["text"]) for e, t in pairs)
    return errs / max(1, n), exact / max(1, len(pairs))


def cer(pairs, srt_cues) -> float:
    errs = n = 0
    for e, t in pairs:
        got = next((c.text for c in srt_cues if abs(c.start - e["start_time"]) < 1e-3), "")
        ref = t["text"]
        errs += edit_distance(" ".join(got.split()), ref)
        n += len(ref)
    return errs / max(1, n)


def erase_psnr(out: Path, clip, truth: dict) -> float:
    se, cnt = 0.0, 0
    for f in io.read_frames(out):
        _, clean, foot = clip.frame(f.index)
        if not foot.any():
            continue
        d = f.image[foot].astype(np.float32) - clean[foot].astype(np.float32)
        se += float((d * d).sum())
        cnt += d.size
    mse = se / max(1, cnt)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-9))


def per_frame_baseline(src: Path, pipeline, n_sample: int = 4) -> float:
    """Seconds per frame of the image pipeline run on a frame (with captions)."""
    from kseg.erase import erase
    from kseg.render import prepare

    analyze = make_analyzer(pipeline)
    times = []
    frames = [f for f in io.read_frames(src) if f.index in (30, 100, 160, 300)][:n_sample]
    for f in frames:
        t0 = time.perf_counter()
        dets = analyze(f.image, f.index)
        img = f.image
        if dets:
            img = erase(img, np.logical_or.reduce([d.mask for d in dets]))
            for d in dets:
                prepare(d.caption, "An English caption of some length", img.shape).draw(img)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _ceiling(src: Path, out: Path) -> float:
    """Seconds to decode and re-encode ``src`` with the same encoder settings and nothing done to
    the frames: what translate-video can at best approach."""
    t0 = time.perf_counter()
    io.transcode(src, out, lambda f: None, options=io.EncodeOptions())
    return time.perf_counter() - t0


def _made_apart(fn, *args: Any, name: str) -> None:
    """``fn(*args)`` in a child process (it writes a clip): the frames it decodes or draws must
    not count in the peak RSS of this process, which is measured."""
    import multiprocessing

    p = multiprocessing.get_context("spawn").Process(target=fn, args=args)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"bench_video: could not make {name}")


def _cuts_found(found: list[int], cuts: list[int], flashes: list[int] = ()) -> tuple[str, list[int]]:
    """("hits/truth", the false cuts): a cut counts within 1 frame; a flash (a frame of
    animation a detector may flag) is neither required nor false."""
    hits = sum(any(abs(x - t) <= 1 for x in found) for t in cuts)
    return f"{hits}/{len(cuts)}", [x for x in found if not any(abs(x - t) <= 1 for t in [*cuts, *flashes])]


def _tm(truth: dict, path: Path) -> Path:
    """A translation memory of a rendered clip's captions and their English."""
    path.write_text("".join(f"{e['text']}\t{e['translation']}\n" for e in truth["events"]))
    return path


def _timed(src: Path, out: Path, pipe, runs: int, ceiling: Path | None = None, **opts):
    """translate_video run ``runs`` times: (its wall times, the decode+encode ceiling timed right
    before each run when ``ceiling`` names a scratch file, the last run's summary and events).
    On a shared machine whose speed drifts within minutes, each run is paired with its ceiling."""
    walls, ceils, res = [], [], None
    for _ in range(runs):
        if ceiling is not None:
            ceils.append(_ceiling(src, ceiling))
        events: list[dict] = []
        t0 = time.perf_counter()
        s = translate_video(src, out, pipeline=pipe, on_event=lambda e, ev=events: ev.append(e.to_json()), **opts)
        walls.append(time.perf_counter() - t0)
        res = (s, events)
    return walls, ceils, *res


def _repeated(src: Path, n: int, out: Path, height: int | None = None) -> Path:
    """``src`` played ``n`` times in a row, re-encoded (libx264, CRF 16, the source's rate; no
    audio): a longer input from the same real footage, where start-up and the wait for a
    caption's end weigh as little as in an episode. Each seam is a hard cut. ``height``: scaled
    to that many rows (Lanczos; the width keeps the aspect, even). The clip is decoded again for
    each copy rather than held: a minute of 1080p is 5.6 GB of frames."""
    import av

    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        rate = vs.average_rate
        w, h = vs.codec_context.width, vs.codec_context.height
        if height:
            w, h = 2 * round(w * height / h / 2), height
    with av.open(str(out), "w") as oc:
        v = oc.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "16", "preset": "veryfast"}
        for _ in range(n):
            with av.open(str(src)) as c:
                for f in c.decode(c.streams.video[0]):
                    a = f.reformat(width=w, height=h, format="yuv420p", interpolation="LANCZOS").to_ndarray()
                    oc.mux(v.encode(av.VideoFrame.from_ndarray(a, format="yuv420p")))
        oc.mux(v.encode(None))
    return out


def _repeat_truth(c: dict, n: int) -> dict:
    """clips.json's truth for ``_repeated``: events, cuts and flashes in every copy, plus the seams."""
    f = int(c["frames"])
    shift = [dict(e, **{k: e[k] + r * f for k in ("start", "end", "erase_from", "erase_to") if k in e})
             for r in range(n) for e in c["events"]]
    return dict(c, frames=f * n, events=shift,
                cuts=[x + r * f for r in range(n) for x in c["cuts"]] + [r * f for r in range(1, n)],
                flashes=[x + r * f for r in range(n) for x in c.get("flashes", [])])


def _memory(c: dict, path: Path) -> Path:
    """A translation memory for a clip's annotated captions (English of about their length):
    what a user's memory for the episode would hold. The readings find it by the memory's fuzzy
    match, as a user's slightly misread lines do."""
    texts = list(dict.fromkeys(e["text"] for e in c["events"]))  # a repeated clip repeats its lines
    rows = ["ko\ten"] + [f"{t}\tThe English for caption {k + 1}, about as long as its Korean line"
                          for k, t in enumerate(texts)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def real_clips(folder: Path, runs: int, as_json: bool, repeat: int = 1, height: int | None = None,
               translate: bool = False) -> None:
    """translate-video on bench/real's clips (bench/real/clips.json: events, cuts and the text
    that is not captions, set by looking at every frame); ``repeat``: each clip played that many
    times in a row, ``height``: scaled to that many rows (``_repeated``); ``translate``: English
    drawn from a translation memory of the clip's captions (``_memory``) instead of
    ``--erase-only``."""
    import resource

    from kseg.pipeline import SegmentPipeline

    spec = json.loads((ROOT / "bench" / "real" / "clips.json").read_text())["clips"]
    pipe = SegmentPipeline()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for c in spec:
            src = next((p for p in [folder / "clips" / f"{c['clip']}.mp4", folder / f"{c['clip']}.mp4"] if p.exists()),
                       None)
            if src is None:
                print(f"bench_video: {c['clip']}: not under {folder} (python bench/real/extract.py DIR --clones C --clips)",
                      file=sys.stderr)
                continue
            # a clip whose last frame runs on into its first (no cut at the seam: one caption over
            # the whole clip would become one caption over the whole input) is played once
            n = repeat if c.get("repeat", True) else 1
            if n > 1 or height:
                made = tmp / f"{c['clip']}.x{n}.mp4"
                _made_apart(_repeated, src, n, made, height, name=made.name)
                src, c = made, _repeat_truth(c, n)
            # the ceiling is timed right before each run and the share taken per pair: on a
            # shared machine whose speed drifts by 2x within minutes, a ceiling timed once
            # and runs timed later compare two different machines
            opts = ({"translator": f"tm:{_memory(c, tmp / 'memory.tsv')}"} if translate else {"erase_only": True})
            walls, ceils, s, events = _timed(src, tmp / "out.mp4", pipe, runs, tmp / "ceiling.mp4", **opts)
            m = match(events, c["events"], texts=True)
            matched = {id(e) for e, _ in m["pairs"]}
            strays = [e for e in events if id(e) not in matched]
            cuts, false_cuts = _cuts_found(s["cuts"], c["cuts"], c.get("flashes", []))
            wall, ceil = statistics.median(walls), statistics.median(ceils)
            fps = s["frames"] / wall
            read_cer, read_exact = reading(m["pairs"])
            rows.append({"clip": c["clip"], "frames": s["frames"], "events": len(events), "truth": len(c["events"]),
                         "cer_ko": read_cer, "exact_ko": read_exact,
                         "precision": m["precision"], "recall": m["recall"], "start_err_max": m["start_err_max"],
                         "end_err_max": m["end_err_max"], "within2": m["within2"],
                         "strays": [(e["start"], e["end"], e["text"]) for e in strays],
                         "cuts": cuts, "false_cuts": false_cuts,
                         "detections": s["detections"], "fps": fps, "translated": s.get("translated") if translate else None,
                         "realtime": fps / float(s["video"]["fps"]) if s.get("video") else float("nan"),
                         "ceiling_fps": s["frames"] / ceil,
                         "of_ceiling": statistics.median(c_ / w_ for c_, w_ in zip(ceils, walls)),
                         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "texts": [(e["start"], e["end"], e["text"]) for e, _ in m["pairs"]]})
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    how = (f" played {repeat} times in a row" if repeat > 1 else "") + (f", scaled to {height} rows" if height else "")
    mode = "with a translation memory" if translate else "--erase-only"
    t = Table(title=f"translate-video {mode} on bench/real clips{how} (median of {runs} runs)")
    for col in ("clip", "events/truth", "translated", "P", "R", "±2 fr", "start/end err max", "CER ko / exact",
                "cuts found", "false cuts", "detector runs", "frames/s", "× real time", "decode+encode only",
                "share of it", "peak RSS MB"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["clip"], f"{r['events']}/{r['truth']}", "-" if r["translated"] is None else str(r["translated"]),
                  f"{r['precision']:.2f}", f"{r['recall']:.2f}",
                  f"{r['within2']:.2f}", f"{r['start_err_max']}/{r['end_err_max']}",
                  f"{r['cer_ko']:.3f} / {r['exact_ko']:.2f}", r["cuts"], str(r["false_cuts"]),
                  str(r["detections"]), f"{r['fps']:.1f}", f"{r['realtime']:.2f}", f"{r['ceiling_fps']:.0f} fr/s",
                  f"{r['of_ceiling']:.2f}", f"{r['peak_rss_mb']:.0f}")
    Console(width=220).print(t)
    for r in rows:
        print(f"{r['clip']}: captions read {r['texts']}; not captions, yet events: {r['strays']}")


def handheld_clip(size: tuple[int, int], shake: float = 6.0):
    """A rendered vlog (issue 22's hand-held footage, made here with known truth): 20 s at 30 fps,
    a hand-held wobble of ``shake`` px (and a little rotation) over slow pans, 6 hard cuts, white captions
    with only a soft grey drop shadow, three of them 4-6 frames long starting right at a cut, and
    one on screen to the last frame."""
    from make_clip import Clip, Cue

    def at(first: int, last: int) -> tuple[float, float]:
        return first / 30, last / 30

    cues = [Cue(["오늘은 제주도에 왔어요"], "Today we came to Jeju Island.", *at(9, 75), vlog=True),
            Cue(["근데!"], "But!", *at(90, 95), vlog=True),
            Cue(["여기 진짜 예쁘지 않아요?"], "Isn't it really pretty here?", *at(108, 165), vlog=True),
            Cue(["와!"], "Wow!", *at(174, 177), vlog=True),
            Cue(["바다 색깔 좀 보세요"], "Look at the colour of the sea.", *at(189, 243), vlog=True),
            Cue(["점심 먹으러 가볼게요"], "Let's go have lunch.", *at(252, 318), vlog=True),
            Cue(["짜잔"], "Ta-da.", *at(330, 335), vlog=True),
            Cue(["이거 완전 맛있어요"], "This is so good.", *at(345, 408), vlog=True),
            Cue(["내일은 한라산에 갈 거예요"], "Tomorrow we're going to Hallasan.", *at(429, 498), vlog=True),
            Cue(["구독과 좋아요 부탁드려요!"], "Please like and subscribe!", *at(519, 599), vlog=True)]
    shots = [(0.0, "photo", "coffee", (1.2, 0.2)), (3.0, "photo", "astronaut", (-0.8, 0.0)),
             (5.8, "photo", "chelsea", (0.5, -0.3)), (8.4, "photo", "rocket", (0.0, 0.6)),
             (11.0, "procedural", "bokeh", (-1.0, 0.4)), (14.0, "photo", "coffee", (-1.5, 0.0)),
             (17.0, "photo", "astronaut", (0.9, 0.2))]
    return Clip(size, 30, 20.0, cues=cues, shots=shots, shake=shake)


def _write_handheld(size: tuple[int, int], shake: float, path: Path) -> None:
    """The clip and its truth (``path`` with .json), written in a child process: its footage
    (seven 1.6x-frame canvases) must not count in the peak RSS of the process measured."""
    from make_clip import write_clip

    clip = handheld_clip(size, shake)
    write_clip(path, clip, crf=23)
    path.with_suffix(".json").write_text(json.dumps(clip.truth(), ensure_ascii=False))


def handheld(runs: int, sizes: str, as_json: bool, shake: float = 6.0) -> None:
    """translate-video on ``handheld_clip`` at each size: the real-clip table (events, ±2 frames,
    cuts, detector runs, frames/s, the decode+encode ceiling, peak RSS) and the Korean CER."""
    import resource

    from kseg.pipeline import SegmentPipeline

    pipe = SegmentPipeline()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            src = tmp / f"vlog{h}.mp4"
            _made_apart(_write_handheld, (w, h), shake, src, name=src.name)
            truth = json.loads(src.with_suffix(".json").read_text())
            tm = _tm(truth, tmp / "vlog.tm.tsv")
            walls, ceils, s, events = _timed(src, tmp / f"out{h}.mp4", pipe, runs, tmp / "ceiling.mp4",
                                             translator=f"tm:{tm}", srt_source=tmp / "ko.srt")
            m = match(events, truth["events"])
            cuts, false_cuts = _cuts_found(s["cuts"], truth["cuts"])
            wall = statistics.median(walls)
            matched = {id(e) for e, _ in m["pairs"]}
            rows.append({"size": size, "frames": s["frames"], "events": len(events), "truth": len(truth["events"]),
                         "precision": m["precision"], "recall": m["recall"], "within2": m["within2"],
                         "start_err_max": m["start_err_max"], "end_err_max": m["end_err_max"],
                         "missed": [t["text"] for t in truth["events"]
                                    if not any(t is tt for _, tt in m["pairs"])],
                         "strays": [(e["start"], e["end"], e["text"]) for e in events if id(e) not in matched],
                         "cer": cer(m["pairs"], read_srt(tmp / "ko.srt")), "translated": s["translated"],
                         "cuts": cuts, "false_cuts": false_cuts,
                         "detections": s["detections"], "fps": s["frames"] / wall, "realtime": s["frames"] / wall / truth["fps"],
                         "ceiling_fps": s["frames"] / statistics.median(ceils),
                         "of_ceiling": statistics.median(c_ / w_ for c_, w_ in zip(ceils, walls)),
                         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"translate-video on a rendered hand-held vlog ({shake:g} px wobble), 600 frames, 6 cuts "
                    f"(median of {runs} runs)")
    for col in ("size", "events/truth", "translated", "P", "R", "±2 fr", "start/end err max", "CER ko", "cuts found",
                "false cuts", "detector runs", "frames/s", "× real time", "decode+encode only", "share of it",
                "peak RSS MB"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["size"], f"{r['events']}/{r['truth']}", str(r["translated"]), f"{r['precision']:.2f}",
                  f"{r['recall']:.2f}", f"{r['within2']:.2f}", f"{r['start_err_max']}/{r['end_err_max']}",
                  f"{r['cer']:.3f}", r["cuts"], str(r["false_cuts"]), str(r["detections"]), f"{r['fps']:.1f}",
                  f"{r['realtime']:.2f}", f"{r['ceiling_fps']:.0f} fr/s", f"{r['of_ceiling']:.2f}",
                  f"{r['peak_rss_mb']:.0f}")
    Console(width=220).print(t)
    for r in rows:
        print(f"{r['size']}: missed {r['missed']}; events that are no caption {r['strays']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the detector); 2 = this machine")
    ap.add_argument("--real", type=Path, help="bench/real's frames folder (its clips/ from extract.py --clips): "
                    "run on the real clips instead of the rendered one")
    ap.add_argument("--repeat", type=int, default=1, help="with --real: play each clip this many times in a row "
                    "(re-encoded once, CRF 16): the steady state of a long input")
    ap.add_argument("--height", type=int, help="with --real: scale each clip to this many rows first (e.g. 1080)")
    ap.add_argument("--translate", action="store_true", help="with --real: draw English from a translation memory "
                    "of the clip's captions, as a user runs it (default: --erase-only)")
    ap.add_argument("--handheld", action="store_true", help="run on a rendered hand-held vlog (600 frames, 6 hard "
                    "cuts, 4-6-frame captions at cuts; --sizes) instead of the example clip")
    ap.add_argument("--shake", type=float, default=6.0, help="with --handheld: the camera's wobble in px")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.handheld:
        handheld(args.runs, args.sizes, args.json, args.shake)
        return
    if args.real:
        real_clips(args.real, args.runs, args.json, args.repeat, args.height, args.translate)
        return
    from make_clip import Clip, write_clip

    from kseg.pipeline import SegmentPipeline

    pipe = SegmentPipeline()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            clip = Clip((w, h), 24)
            src = tmp / f"clip{h}.mp4"
            write_clip(src, clip)
            truth = clip.truth()
            tm = _tm(truth, tmp / "clip.tm.tsv")
            walls, _, s, events = _timed(src, tmp / f"out{h}.mp4", pipe, args.runs, translator=f"tm:{tm}",
                                         srt_source=tmp / "ko.srt")
            m = match(events, truth["events"])
            k = cer(m["pairs"], read_srt(tmp / "ko.srt"))
            translate_video(src, tmp / f"erase{h}.mp4", erase_only=True, pipeline=pipe)
            psnr = erase_psnr(tmp / f"erase{h}.mp4", clip, truth)
            translate_video(src, tmp / f"erase{h}s.mp4", erase_only=True, pipeline=pipe, temporal=False)
            psnr_spatial = erase_psnr(tmp / f"erase{h}s.mp4", clip, truth)
            base = per_frame_baseline(src, pipe) * clip.n
            wall = statistics.median(walls)
            rows.append({"size": size, "frames": clip.n, "events": len(events), "truth": len(truth["events"]),
                         "precision": m["precision"], "recall": m["recall"],
                         "start_err_mean": m["start_err_mean"], "start_err_max": m["start_err_max"],
                         "end_err_mean": m["end_err_mean"], "end_err_max": m["end_err_max"],
                         "within2": m["within2"], "cer": k, "erase_psnr": psnr,
                         "erase_psnr_spatial": psnr_spatial, "detections": s["detections"],
                         "wall_s": wall, "walls": [round(x, 2) for x in walls], "fps": clip.n / wall,
                         "realtime": clip.n / wall / clip.fps, "stages": s["seconds"],
                         "baseline_s": base, "speedup": base / wall})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"translate-video on the rendered clip (median of {args.runs} runs)")
    for c in ("size", "events/truth", "P", "R", "start err (mean/max)", "end err (mean/max)", "±2 fr",
              "CER ko", "erase PSNR (temporal / spatial only)", "detector runs", "frames/s", "× real time", "every-frame baseline",
              "speed-up"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["size"], f"{r['events']}/{r['truth']}", f"{r['precision']:.2f}", f"{r['recall']:.2f}",
                  f"{r['start_err_mean']:.2f}/{r['start_err_max']}", f"{r['end_err_mean']:.2f}/{r['end_err_max']}",
                  f"{r['within2']:.2f}", f"{r['cer']:.3f}", f"{r['erase_psnr']:.1f} / {r['erase_psnr_spatial']:.1f} dB", str(r["detections"]),
                  f"{r['fps']:.1f}", f"{r['realtime']:.2f}", f"{r['baseline_s']:.0f} s", f"{r['speedup']:.1f}×")
    Console(width=200).print(t)
    for r in rows:
        print(f"{r['size']}: runs {r['walls']} s; stages of the last run {r['stages']}")


if __name__ == "__main__":
    main()
