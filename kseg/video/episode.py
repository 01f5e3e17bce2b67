"""One episode of a season: its files, whether it is finished, and running it (a failure is a
record, not an exception, so that the season goes on). Shared by the local and the Ray runs."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kseg.errors import KsegError, plain_text
from kseg.video.job import VideoOptions, translate_video

TEMPLATED = ("srt", "srt_source", "ass")  # VideoOptions fields that name a file per episode


@dataclass
class Episode:
    """One input of a season and everything it writes."""

    src: Path
    out: Path
    files: dict[str, Path]  # srt / srt_source / ass for this episode
    translator: str | None = None  # srt:{name}.en.srt made this episode's own

    @property
    def state_dir(self) -> Path:
        return self.out.with_name(self.out.name + ".kseg")

    def status(self) -> str:
        """``done`` (nothing to do), ``unfinished`` (a run to resume) or ``new``."""
        if self.state_dir.exists() or self.out.with_name(self.out.name + ".chunks").exists():
            return "unfinished"
        if self.out.is_file() and all(p.is_file() for p in self.files.values()):
            return "done"
        return "new"

    def options(self, o: VideoOptions) -> VideoOptions:
        """The season's options with this episode's files; an unfinished run is resumed."""
        return dataclasses.replace(o, **{k: self.files.get(k) for k in TEMPLATED},
                                   translator=self.translator or o.translator,
                                   resume=o.resume or self.status() == "unfinished")


def run_episode(ep: Episode, o: VideoOptions, **kwargs: Any) -> dict[str, Any]:
    """One episode, its failure a record rather than an exception (the season goes on)."""
    t0 = time.perf_counter()
    base = {"input": str(ep.src), "output": str(ep.out)}
    try:
        summary = translate_video(ep.src, ep.out, ep.options(o), **kwargs)
    except KsegError as e:
        hint = " (finished work is kept for the next run)" if ep.state_dir.is_dir() else ""
        return {**base, "status": "failed", "error": plain_text(str(e)) + hint,
                "seconds": round(time.perf_counter() - t0, 3)}
    return {**base, "status": "done", "summary": summary, "seconds": round(time.perf_counter() - t0, 3)}
