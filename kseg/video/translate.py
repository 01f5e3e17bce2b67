"""Translating caption events: neighbouring events as context, batches saved as they finish,
the user's own English subtitles (``srt:FILE``) matched by time, fuzzy translation-memory hits."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kseg.translate.captions import CaptionText, translate_captions
from kseg.video.events import Event
from kseg.video.state import State, Warn
from kseg.video.subtitles import read_srt

CONTEXT = 2  # neighbouring events given to the translator on each side
BATCH = 8  # events per translator call (saved after each)


class SrtTranslator:
    """``srt:FILE``: the user's English subtitles, each event taking the cue it overlaps most."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.cues = read_srt(self.path)
        self.name = f"srt:{self.path}"
        self.misses: list[str] = []

    def for_events(self, events: list[Event]) -> list[str | None]:
        out: list[str | None] = []
        for ev in events:
            best, best_ov = None, 0.0
            for c in self.cues:
                ov = min(ev.end_time, c.end) - max(ev.start_time, c.start)
                if ov > best_ov:
                    best, best_ov = c, ov
            dur = max(1e-3, min(ev.end_time - ev.start_time, (best.end - best.start) if best else 1.0))
            if best is None or best_ov < 0.3 * dur:
                out.append(None)
                self.misses.append(ev.text)
            else:
                out.append(" ".join(best.text.split()))
        return out


def translate_events(events: list[Event], translator: Any, spec: str, *, state: State | None = None,
                     warn: Warn | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Set ``ev.translation`` for each event (saved per batch; a failure keeps what is done)."""
    if isinstance(translator, SrtTranslator):
        for ev, tr in zip(events, translator.for_events(events)):
            ev.translation = tr
        return
    done = state.translations(spec) if state is not None else {}
    todo = []
    for ev in events:
        key = (ev.id, ev.text)
        if key in done:
            ev.translation = done[key]
        else:
            todo.append(ev)
    if progress:
        progress(len(events) - len(todo))
    caps = [CaptionText(e.text, list(e.lines)) for e in events]
    pos = {e.id: k for k, e in enumerate(events)}
    for b in range(0, len(todo), BATCH):
        batch = todo[b:b + BATCH]
        res, hits = translate_captions(translator, caps, indices=[pos[ev.id] for ev in batch], context=CONTEXT)
        for ev, tr in zip(batch, res):
            ev.translation = tr
        if warn:
            for h in hits:
                warn(f"caption {h.caption!r}: not in the translation memory; used the {h.similarity:.0%} "
                     f"similar entry {h.entry!r}")
        if state is not None:
            state.add_translations([(ev, ev.translation) for ev in batch], spec)
        if progress:
            progress(len(events) - len(todo) + b + len(batch))

