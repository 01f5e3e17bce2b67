"""Seasons: many episodes in one run, each finished episode skipped and each unfinished one
resumed, with one set of loaded models, one translator (so one translation cache and one
glossary) for all of them; on one machine in order, or as Ray tasks across a cluster
(``kseg.video.cluster``).

An episode is finished when its output exists and its resume folder ``OUT.kseg/`` does not:
outputs are written under a temporary name and renamed when complete, and the folder is
removed only after the subtitle files are written, so that pair cannot lie.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kseg.errors import InputError
from kseg.video.episode import TEMPLATED, Episode, run_episode  # noqa: F401 - part of this API
from kseg.video.job import VideoOptions, _translator

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm", ".ts", ".m2ts", ".mts", ".flv", ".wmv",
                  ".mpg", ".mpeg")
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")  # kept as the input's; anything else becomes .mkv


def _named(template: Any, name: str, many: bool, what: str) -> Path | None:
    if template is None:
        return None
    t = str(template)
    if "{name}" not in t:
        if many:
            raise InputError(f"{what} {t}: with several episodes, put {{name}} in the path (the input's "
                             f"name without extension), e.g. {what} 'subs/{{name}}.en.srt'")
        return Path(t)
    return Path(t.replace("{name}", name))


def plan_season(inputs: list[Path], out_dir: str | os.PathLike[str], o: VideoOptions) -> list[Episode]:
    """The episodes of ``inputs`` (video files), each with its output ``OUT_DIR/NAME.EXT`` and
    its subtitle files from the ``{name}`` templates of ``o``; clashes are a one-line error."""
    out_dir = Path(out_dir)
    many = len(inputs) > 1
    eps: list[Episode] = []
    seen: dict[Path, Path] = {}
    for src in inputs:
        src = Path(src)
        suffix = src.suffix.lower() if src.suffix.lower() in OUTPUT_SUFFIXES else ".mkv"
        out = out_dir / (src.stem + suffix)
        if out in seen:
            raise InputError(f"{src} and {seen[out]} would both write {out}: rename one")
        if os.path.realpath(out) == os.path.realpath(src):
            raise InputError(f"{out}: is an input; choose another output folder")
        seen[out] = src
        files = {k: _named(getattr(o, k), src.stem, many, "--" + k.replace("_", "-")) for k in TEMPLATED}
        tr = o.translator
        per_ep = tr if tr and tr.startswith("srt:") and "{name}" in tr else None
        if tr and tr.startswith("srt:") and per_ep is None and many:
            raise InputError(f"--translator {tr}: with several episodes, put {{name}} in the path, "
                             "e.g. 'srt:subs/{name}.en.srt'")
        eps.append(Episode(src, out, {k: v for k, v in files.items() if v is not None},
                           per_ep.replace("{name}", src.stem) if per_ep else None))
    return eps


def translate_season(inputs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                     options: VideoOptions | None = None, *, overwrite: bool = False, ray: str | None = None,
                     ray_cpus: int = 1, chunk_seconds: float | None = None, pipeline: Any = None,
                     pipeline_options: dict[str, Any] | None = None,
                     pipeline_factory: Callable[[], Any] | None = None, translator_obj: Any = None,
                     warn: Callable[[str], None] | None = None,
                     progress: Callable[[str, int, int | None], None] | None = None,
                     on_episode: Callable[[int, Episode, dict[str, Any] | None], None] | None = None,
                     on_event: Callable[[Any], None] | None = None, **option_values: Any) -> list[dict[str, Any]]:
    """Translate every episode of ``inputs`` (video files) into ``out_dir``; returns one record per
    episode: ``status`` done / skipped (finished before) / failed (with ``error``).

    ``ray``: None runs here, one episode after another; ``"auto"`` or a cluster address runs them
    as Ray tasks of ``ray_cpus`` CPUs each (``kseg.video.cluster``), episodes longer than two
    ``chunk_seconds`` split into chunks at caption-free keyframes and joined losslessly.
    ``on_episode(k, ep, record)`` is called as each starts (record None) and ends. Other
    arguments as for ``translate_video``.
    """
    o = dataclasses.replace(options or VideoOptions(), **option_values)
    eps = plan_season([Path(p) for p in inputs], out_dir, o)
    from kseg.imageio import ensure_out_dir

    ensure_out_dir(Path(out_dir))
    records: list[dict[str, Any] | None] = [None] * len(eps)
    todo = []
    for k, ep in enumerate(eps):
        if not overwrite and ep.status() == "done":
            records[k] = {"input": str(ep.src), "output": str(ep.out), "status": "skipped",
                          "reason": "finished before (its output exists; --overwrite redoes it)"}
            if on_episode:
                on_episode(k, ep, records[k])
        else:
            todo.append(k)
    if ray is not None:
        from kseg.video.cluster import run_on_ray

        for k, rec in run_on_ray([eps[k] for k in todo], o, ray, cpus=ray_cpus,
                                 pipeline_options=pipeline_options or {}, pipeline_factory=pipeline_factory,
                                 chunk_seconds=chunk_seconds, warn=warn or (lambda m: None)):
            records[todo[k]] = rec
            for w in rec.pop("warnings", []):  # the workers' warnings, shown here
                if warn:
                    warn(w)
            if on_episode:
                on_episode(todo[k], eps[todo[k]], rec)
        return [r for r in records if r is not None]
    shared = None
    if todo:
        if pipeline is None:
            pipeline = pipeline_factory() if pipeline_factory else _load_pipeline(pipeline_options or {})
        if translator_obj is None and not any(eps[k].translator for k in todo):
            shared = _translator(o, None)  # one translator: one cache, one glossary, for the season
    for k in todo:
        if on_episode:
            on_episode(k, eps[k], None)
        records[k] = run_episode(eps[k], o, pipeline=pipeline, translator_obj=translator_obj or shared,
                                 warn=warn, progress=progress, on_event=on_event)
        if on_episode:
            on_episode(k, eps[k], records[k])
    return [r for r in records if r is not None]


def _load_pipeline(opts: dict[str, Any]) -> Any:
    from kseg.pipeline import SegmentPipeline

    return SegmentPipeline(**{"detect": "video", **opts})
