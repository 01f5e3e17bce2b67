"""Progress of the long commands on stderr: a rich bar per stage on a terminal, plain lines at a
steady interval otherwise (a log file, nohup, CI)."""
from __future__ import annotations

from typing import Any

from .common import _stderr


PLAIN_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
MIN_ELAPSED = 0.5  # seconds of a stage before a rate means anything


class _PlainProgress:
    """Progress for a log file, nohup or CI: one line per stage every ``PLAIN_EVERY`` seconds
    (percent, rate, ETA) instead of hours of silence; a bar would only fill the log."""

    def __init__(self, every: float = PLAIN_EVERY):
        import time

        self.clock, self.every = time.monotonic, every
        self.started: dict[str, tuple[float, int]] = {}
        self.last = self.clock()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = self.clock()
        t0, d0 = self.started.setdefault(stage, (now, done))
        if now - self.last < self.every and not (total and done >= total):
            return
        self.last = now
        unit = "captions" if stage == "translate" else "frames"
        what = {"analyse": "analysing", "translate": "translating", "render": "rendering"}.get(stage, stage)
        line = f"kseg: {what} {done}/{total} {unit} ({100 * done / total:.0f}%)" if total else f"kseg: {what} {done} {unit}"
        # the rate since this stage's first report: a stage done in one report (every caption
        # found in the cache) has none, rather than billions of captions a second
        if now - t0 >= MIN_ELAPSED and done > d0:
            rate = (done - d0) / (now - t0)
            line += f", {rate:.1f} {unit}/s"
            if total:
                eta = (total - done) / rate
                line += f", ETA {int(eta // 60)}:{int(eta % 60):02d}"
        _stderr.print(line, markup=False, highlight=False)


def _progress(quiet: bool) -> tuple[Any, Any]:
    """A rich progress display (one bar per stage) and the callback that feeds it; on a
    non-terminal stderr plain lines at a steady interval (``_PlainProgress``)."""
    tasks: dict[str, Any] = {}
    if quiet:
        return None, lambda stage, done, total: None
    if not _stderr.is_terminal:
        return None, _PlainProgress()
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeRemainingColumn)
    from rich.text import Text

    class Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            sp = task.finished_speed or task.speed
            unit = task.fields.get("unit", "frames")
            return Text(f"{sp:6.1f} {unit}/s" if sp else f"   -- {unit}/s")

    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                   Speed(), TimeRemainingColumn(), console=_stderr, transient=True)

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(
                {"analyse": "analysing", "translate": "translating", "render": "rendering"}[stage],
                total=total, unit="captions" if stage == "translate" else "frames")
        bar.update(tasks[stage], completed=done, total=total)

    return bar, progress
