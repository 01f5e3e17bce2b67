"""Episodes as Ray tasks: ``translate-video --ray auto|ADDRESS``.

Ray is the engine (scheduling by CPUs, retries of tasks whose worker died, a cluster of any
size); kseg only says what one task is: one episode, or one chunk of a long one
(``kseg.video.chunks``: cut at caption-free keyframes, joined here without re-encoding), run
in a worker process that loads the models once and keeps them for its next tasks. Every node
needs the same kseg install and the same paths to the inputs and outputs (a shared folder);
the translation cache is one SQLite file there, which several processes share safely (WAL).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kseg.errors import InputError, KsegError, plain_text

_PIPES: dict[Any, Any] = {}  # per worker process: the loaded pipeline, by its options


def _worker_pipeline(options: dict[str, Any], factory: Callable[[], Any] | None) -> Any:
    key = factory if factory is not None else tuple(sorted(options.items()))
    if key not in _PIPES:
        if factory is not None:
            _PIPES[key] = factory()
        else:
            from kseg.pipeline import SegmentPipeline

            _PIPES[key] = SegmentPipeline(**{"detect": "video", **options})
    return _PIPES[key]


def _episode_task(ep: Any, o: Any, pipeline_options: dict[str, Any], factory: Callable[[], Any] | None,
                  threads: int) -> dict[str, Any]:
    """What one Ray task runs: the episode, with warnings returned rather than printed (they are
    the driver's to show)."""
    import torch

    from kseg.video.episode import run_episode

    torch.set_num_threads(max(1, threads))
    warnings: list[str] = []
    rec = run_episode(ep, o, pipeline=_worker_pipeline(pipeline_options, factory), warn=warnings.append)
    rec["warnings"] = warnings
    rec["node"] = os.uname().nodename
    return rec


def _chunk_files(ch: Any) -> dict[str, Path]:
    base = ch.path.with_suffix("")
    return {"srt": base.with_suffix(".en.srt"), "srt_source": base.with_suffix(".ko.srt"),
            "ass": base.with_suffix(".en.ass")}


def _chunk_task(ep: Any, ch: Any, o: Any, pipeline_options: dict[str, Any], factory: Callable[[], Any] | None,
                threads: int) -> dict[str, Any]:
    """One chunk of a long episode: ``translate_video`` on its span, with every subtitle file
    written beside the chunk for the join. A chunk finished by an earlier run is kept."""
    import torch

    from kseg.video.job import translate_video

    if ch.path.is_file():
        return {"status": "done", "kept": True, "summary": None}
    torch.set_num_threads(max(1, threads))
    warnings: list[str] = []
    opts = dataclasses.replace(ep.options(o), start=ch.start, end=ch.end, resume=False, subs_mux=False,
                               **_chunk_files(ch))
    if opts.translator is None and opts.erase_only:
        opts = dataclasses.replace(opts, srt=None, ass=None)
    try:
        summary = translate_video(ep.src, ch.path, opts, pipeline=_worker_pipeline(pipeline_options, factory),
                                  warn=warnings.append)
    except KsegError as e:
        return {"status": "failed", "error": plain_text(str(e)), "warnings": warnings}
    return {"status": "done", "summary": summary, "warnings": warnings, "node": os.uname().nodename}


def connect(address: str, num_cpus: int | None = None) -> None:
    """``auto``: the running cluster if there is one (``RAY_ADDRESS`` or a local head), else a
    local instance on this machine's cores; otherwise ``ray://HOST:10001`` or ``HOST:6379``."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'kseg[ray]' (or pip install ray)") from None
    if ray.is_initialized():
        return
    quiet = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
            return
        except ConnectionError:
            ray.init(num_cpus=num_cpus, **quiet)
            return
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster there ({e})") from None


def _plans(eps: list[Any], chunk_seconds: float | None, pipeline_options: dict[str, Any],
           factory: Callable[[], Any] | None, warn: Callable[[str], None]) -> list[list[Any] | None]:
    """Per episode its chunks, or None to run it whole (short, or chunking off). The cuts need
    only the text detector, loaded here on the driver when an episode is long enough; the full
    pipeline is the workers' to load."""
    from kseg.video import chunks, io

    if not chunk_seconds:
        return [None] * len(eps)
    detector = None
    out: list[list[Any] | None] = []
    for ep in eps:
        try:
            if io.probe(ep.src).duration < 2 * chunk_seconds:
                out.append(None)
                continue
            if detector is None:
                if factory is not None:
                    detector = _worker_pipeline(pipeline_options, factory).detector
                    detector = getattr(detector, "with_profile", lambda _: detector)("video")
                else:
                    from kseg.detect import Detector

                    detector = Detector(device=pipeline_options.get("device", "auto"), profile="video")
            plan = chunks.plan(ep.src, ep.out, chunk_seconds, detector)
        except KsegError:
            out.append(None)  # the episode task reports the problem
            continue
        if len(plan) == 1:
            warn(f"{ep.src}: no caption-free keyframe near the chunk boundaries; processed whole")
        out.append(plan if len(plan) > 1 else None)
    return out


def run_on_ray(eps: list[Any], o: Any, address: str, *, cpus: int = 1, pipeline_options: dict[str, Any],
               pipeline_factory: Callable[[], Any] | None = None, num_cpus: int | None = None,
               chunk_seconds: float | None = None,
               warn: Callable[[str], None] = lambda m: None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, record) for each episode as it finishes; all tasks are submitted at once and
    Ray runs as many side by side as the cluster has ``cpus`` for. Episodes longer than two
    ``chunk_seconds`` are split into chunks (their own tasks) and joined here."""
    import ray

    if not eps:
        return
    connect(address, num_cpus)
    plans = _plans(eps, chunk_seconds, pipeline_options, pipeline_factory, warn)
    ep_task = ray.remote(num_cpus=cpus, max_retries=1)(_episode_task)
    ch_task = ray.remote(num_cpus=cpus, max_retries=1)(_chunk_task)
    refs: dict[Any, tuple[int, int | None]] = {}
    waiting: dict[int, dict[int, dict[str, Any]]] = {}
    started = {}
    for k, ep in enumerate(eps):
        started[k] = time.perf_counter()
        if plans[k] is None:
            refs[ep_task.remote(ep, o, pipeline_options, pipeline_factory, cpus)] = (k, None)
            continue
        from kseg.video.chunks import chunk_dir

        chunk_dir(ep.out).mkdir(parents=True, exist_ok=True)
        waiting[k] = {}
        for ch in plans[k]:
            refs[ch_task.remote(ep, ch, o, pipeline_options, pipeline_factory, cpus)] = (k, ch.index)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        k, c = refs[done[0]]
        try:
            rec = ray.get(done[0])
        except ray.exceptions.RayError as e:  # the worker died (out of memory, node lost)
            rec = {"status": "failed", "error": f"Ray task failed: {str(e).splitlines()[0]}"}
        if c is None:
            yield k, {"input": str(eps[k].src), "output": str(eps[k].out), **rec}
            continue
        waiting[k][c] = rec
        if len(waiting[k]) == len(plans[k]):
            yield k, _joined(eps[k], o, plans[k], waiting.pop(k), time.perf_counter() - started[k])


def _joined(ep: Any, o: Any, plan: list[Any], recs: dict[int, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """The episode from its finished chunks (or the first chunk's failure)."""
    from kseg.video import chunks

    base = {"input": str(ep.src), "output": str(ep.out), "seconds": round(seconds, 3),
            "warnings": [w for r in recs.values() for w in r.get("warnings", [])]}
    bad = [recs[i] for i in sorted(recs) if recs[i]["status"] != "done"]
    if bad:
        return {**base, "status": "failed", "error": bad[0].get("error", "a chunk failed") +
                f" (finished chunks are kept in {chunks.chunk_dir(ep.out)})"}
    o = ep.options(o)
    files = [(ch, _chunk_files(ch)) for ch in plan]
    try:
        video_target = ep.out.with_name(f".{ep.out.stem}.render.partial{ep.out.suffix}") if o.subs_mux else ep.out
        chunks.join(plan, ep.src, video_target)
        merged: dict[str, Path] = {}
        for key in ("srt", "srt_source", "ass"):
            parts = [(f[key], ch.start) for ch, f in files]
            if not any(p.is_file() for p, _ in parts):
                continue
            dest = Path(getattr(o, key)) if getattr(o, key) is not None else chunks.chunk_dir(ep.out) / f"all.{key}"
            merged[key] = (chunks.merge_ass if key == "ass" else chunks.merge_srt)(parts, dest)
        if o.subs_mux:
            _mux_joined(video_target, ep.out, merged, o, base["warnings"].append)
    except KsegError as e:
        return {**base, "status": "failed", "error": plain_text(str(e))}
    shutil.rmtree(chunks.chunk_dir(ep.out), ignore_errors=True)
    sums = [r["summary"] for r in recs.values() if r.get("summary")]
    summary = {"input": str(ep.src), "output": str(ep.out), "chunks": [
        {"start": ch.start, "end": ch.end, "events": (recs[ch.index].get("summary") or {}).get("events")}
        for ch in plan]}
    for key in ("frames", "events", "translated", "detections"):
        summary[key] = sum(s.get(key) or 0 for s in sums)
    summary["overlays"] = [x for s in sums for x in s.get("overlays", [])]
    return {**base, "status": "done", "summary": summary, "node": "several"}


def _mux_joined(video: Path, out: Path, merged: dict[str, Path], o: Any, warn: Any = None) -> None:
    from kseg.video.mux import english_and_korean, mux_subtitles

    def text(key: str) -> str | None:
        return merged[key].read_text("utf-8") if key in merged else None

    tracks = english_and_korean(out, english_srt=text("srt"), english_ass=text("ass"),
                                korean_srt=text("srt_source") if o.srt_source is not None else None,
                                soft_only=o.erase_only)
    try:
        mux_subtitles(video, out, tracks, warn=warn)
    finally:
        video.unlink(missing_ok=True)
