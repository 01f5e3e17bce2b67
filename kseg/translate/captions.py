"""Translating captions, the same way for still frames and video events.

Any translator answers ``TranslationRequest``s; what a *caption* needs on top is written once here:
- context: the neighbouring captions on each side, so names and tone stay consistent;
- a two-line block the translator has no answer for is asked again line by line (a translation
  memory often holds a subtitle's lines separately), and joined when every line has one;
- a translation memory's fuzzy match (``TMTranslator.fuzzy``) for what is still missing, the
  whole block first, then line by line: OCR is rarely letter-perfect, and the memory is the
  user's list of the show's captions. The translator reports the entry it used, and this layer
  returns it for the caller to show.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import TranslationRequest


@dataclass
class CaptionText:
    """What a translator needs of one caption: its whole text and its lines."""

    text: str
    lines: list[str] = field(default_factory=list)


@dataclass
class FuzzyHit:
    caption: str  # the caption as read
    entry: str  # the memory entry used instead
    similarity: float


def _ok(t: Any) -> bool:
    return isinstance(t, str) and bool(t.strip())


def requests_for(texts: Sequence[str], indices: Sequence[int], context: int,
                 history: Sequence[str] = ()) -> list[TranslationRequest]:
    """Requests for ``texts[k]`` (k in ``indices``) with ``context`` captions of context on each
    side; ``history`` are captions before ``texts[0]`` (an earlier frame of the batch)."""
    full, off = list(history) + list(texts), len(history)
    return [TranslationRequest(texts[k], before=full[max(0, off + k - context):off + k],
                               after=list(texts[k + 1:k + 1 + context])) for k in indices]


def translate_captions(translator: Any, captions: Sequence[CaptionText], *, indices: Sequence[int] | None = None,
                       context: int = 2, history: Sequence[str] = ()) -> tuple[list[str | None], list[FuzzyHit]]:
    """English for ``captions[k]`` for each k in ``indices`` (all when None), in that order,
    None where there is none; and the fuzzy memory matches used."""
    texts = [c.text for c in captions]
    idx = list(range(len(captions)) if indices is None else indices)
    reqs = requests_for(texts, idx, context, history)
    out = list(translator.translate(reqs)) if reqs else []
    if len(out) != len(reqs):
        from ..errors import KsegError

        raise KsegError(f"translator {getattr(translator, 'name', '?')}: {len(out)} answers for "
                        f"{len(reqs)} captions")
    by_line: dict[int, tuple[list[str], list[Any]]] = {}  # blocks still missing: lines, answers
    for j, k in enumerate(idx):
        lines = [ln for ln in captions[k].lines if ln.strip()]
        if _ok(out[j]) or len(lines) < 2:
            continue
        got = list(translator.translate([TranslationRequest(ln, before=reqs[j].before, after=reqs[j].after)
                                         for ln in lines]))
        if len(got) == len(lines) and all(_ok(g) for g in got):
            out[j] = " ".join(g.strip() for g in got)
        elif len(got) == len(lines):
            by_line[j] = (lines, got)
    hits: list[FuzzyHit] = []
    fuzzy = getattr(translator, "fuzzy", None)
    for j, k in enumerate(idx):
        if _ok(out[j]) or fuzzy is None:
            continue
        hit = fuzzy(texts[k])
        if hit is not None:
            entry, english, ratio = hit
            out[j] = english
            hits.append(FuzzyHit(texts[k], entry, ratio))
            continue
        if j not in by_line:
            continue
        # a memory that holds the lines separately, and a line OCR did not read letter-perfect
        lines, got = by_line[j]
        used: list[FuzzyHit] = []
        for n, ln in enumerate(lines):
            if not _ok(got[n]) and (h := fuzzy(ln)) is not None:
                got[n] = h[1]
                used.append(FuzzyHit(ln, h[0], h[2]))
        if all(_ok(g) for g in got):
            out[j] = " ".join(g.strip() for g in got)
            hits += used
    return [t.strip() if _ok(t) else None for t in out], hits
