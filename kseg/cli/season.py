"""``kseg translate-video`` on a season: many episodes, one output folder."""
from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from .common import _emit_json, _error, _stderr, _warn
from .progress import _progress


def run_season(inputs: list[Path], out: Path, options: Any, *, overwrite: bool, ray: str | None, ray_cpus: int,
               chunk_seconds: float | None, pipeline_options: dict[str, Any], as_json: bool, quiet: bool) -> int:
    """Run the season and report each episode (a line on stderr, a JSON line with --json);
    the exit code: 0 every episode done or skipped, 1 some failed, 130 interrupted."""
    from kseg.errors import KsegError
    from kseg.video.season import translate_season

    n = len(inputs)
    t0 = time.monotonic()
    progress_bar, progress = _progress(quiet)
    finished: list[float] = []

    def on_episode(k: int, ep: Any, rec: dict[str, Any] | None) -> None:
        if rec is None:
            if not quiet:
                _stderr.print(f"kseg: [{k + 1}/{n}] {ep.src} -> {ep.out}", markup=False, highlight=False)
            return
        if as_json:
            _emit_json({"episode": k + 1, **rec})
        if rec["status"] == "failed":
            _error(rec["error"])
        elif not quiet:
            if rec["status"] == "done":
                finished.append(time.monotonic())
            s = rec.get("summary")
            what = (f"{s['events']} caption events ({s['translated']} translated), {rec['seconds']:.0f} s"
                    if s else rec.get("reason", ""))
            _stderr.print(f"kseg: [{k + 1}/{n}] {rec['status']}: {ep.out}: {what}", markup=False, highlight=False)

    old = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if ray is not None and not quiet:
            _stderr.print(f"kseg: {n} episodes to Ray ({ray}, {ray_cpus} CPU each)", markup=False)
        opts = {k: v for k, v in pipeline_options.items() if not (v is None or v == "auto")}
        records = translate_season(inputs, out, options, overwrite=overwrite, ray=ray, ray_cpus=ray_cpus,
                                   chunk_seconds=chunk_seconds,
                                   pipeline_options=opts, warn=_warn,
                                   progress=progress if ray is None and progress_bar is None else None,
                                   on_episode=on_episode)
    except KeyboardInterrupt:
        _error("interrupted; finished episodes are kept, and the next run of the same command resumes "
               "the unfinished one")
        return 130
    except KsegError as e:
        _error(str(e))
        return 2 if "{name}" in str(e) or "would both write" in str(e) else 1
    finally:
        signal.signal(signal.SIGTERM, old)
    failed = sum(r["status"] == "failed" for r in records)
    done = sum(r["status"] == "done" for r in records)
    skipped = sum(r["status"] == "skipped" for r in records)
    hours = (time.monotonic() - t0) / 3600
    if as_json:
        _emit_json({"season": {"episodes": n, "done": done, "skipped": skipped, "failed": failed,
                               "seconds": round(hours * 3600, 3),
                               "episodes_per_hour": round(done / hours, 2) if done and hours > 0 else None}})
    if not quiet:
        _stderr.print(f"kseg: season: {done} done, {skipped} skipped, {failed} failed of {n} "
                      f"in {hours * 60:.1f} min", markup=False)
    return 1 if failed else 0
