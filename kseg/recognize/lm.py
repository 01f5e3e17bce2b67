"""Reading that knows Korean: CTC prefix beam search, then the n-best rescored by Kiwi.

Why: the CRNN reads each column on its own, so a frame where a jamo is unclear gives
``만어 보고`` as readily as ``만들어 보자고``. Kiwi (``kiwipiepy`` + ``kiwipiepy-model`` on
PyPI, LGPL-3.0) scores a whole line as the log-probability of its best morphological
analysis, which a broken syllable or a dropped one makes far lower. Shallow fusion at the
end of the beam (rescoring the n-best) rather than per step: Kiwi scores strings, not
prefixes, and rescoring 8-16 complete candidates costs about 1 ms.

Why our own beam search: ``torchaudio``'s CTC decoder needs torchaudio (not installed with
kseg's torch pin) and a lexicon or KenLM file; pyctcdecode needs KenLM for an LM. Prefix
beam search over a line's ~100 columns, pruned to the few classes each column makes
likely, is short and fast in numpy + Python.
"""
from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from functools import lru_cache

import numpy as np

NEG = -1e30
# An optional gate (``fluent=``): the LM may replace the best reading only by a line whose Kiwi
# log-probability per character reaches this. Off by default: it removed the LM's harm on
# random-syllable lines but also most of its gain on real captions (docs/experiments/).
FLUENT: float | None = None


def _lse(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b <= NEG:
        return a
    return a + math.log1p(math.exp(b - a))


def prefix_beam(logp: np.ndarray, beam: int = 10, prune: float = 1e-3, top: int = 6) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over (T, C) log-probabilities (class 0 = blank).

    Returns up to ``beam`` (label tuple, log-probability of the prefix) pairs, best first.
    Columns are pruned to classes with probability >= ``prune`` (at most ``top``); a column
    that is near-certain of one class extends every prefix the same way, so it costs little."""
    T = logp.shape[0]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG]}  # prefix -> [p_blank, p_nonblank]
    lp_min = math.log(prune)
    for t in range(T):
        row = logp[t]
        cand = np.argpartition(-row, min(top, row.shape[0] - 1))[:top]
        cand = [int(c) for c in cand if row[c] >= lp_min]
        if not cand:
            cand = [int(np.argmax(row))]
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [NEG, NEG])
        for prefix, (pb, pnb) in beams.items():
            total = _lse(pb, pnb)
            last = prefix[-1] if prefix else None
            for c in cand:
                lp = float(row[c])
                if c == 0:
                    e = nxt[prefix]
                    e[0] = _lse(e[0], total + lp)
                elif c == last:
                    e = nxt[prefix]  # repeat without a blank between: same label
                    e[1] = _lse(e[1], pnb + lp)
                    e2 = nxt[prefix + (c,)]  # a blank in between: a second one
                    e2[1] = _lse(e2[1], pb + lp)
                else:
                    e = nxt[prefix + (c,)]
                    e[1] = _lse(e[1], total + lp)
        live = [kv for kv in nxt.items() if _lse(*kv[1]) > NEG / 2]  # drop unreachable prefixes
        ranked = sorted(live, key=lambda kv: -_lse(*kv[1]))[:beam]
        beams = dict(ranked)
    out = [(p, _lse(*v)) for p, v in beams.items()]
    out.sort(key=lambda x: -x[1])
    return out


class KiwiLM:
    """Kiwi's analysis score of a line (natural log-probability, higher is likelier)."""

    name = "kiwi"

    def __init__(self):
        try:
            from kiwipiepy import Kiwi
        except ImportError as e:  # noqa: F841
            raise ImportError("the Korean language model needs kiwipiepy: pip install kiwipiepy kiwipiepy-model")
        # without the multi-word dictionary (proper nouns, set phrases: 178 MB of the 482 MB
        # Kiwi holds) and the default user dictionary (another 60-70 MB): readings are the same
        # on bench/real and the eval split, 4 of the 300 display-face lines differ (CER 0.1298
        # -> 0.1291); video at 1080p needs the memory
        self.kiwi = Kiwi(load_multi_dict=False, load_default_dict=False)
        self.kiwi.analyze("가")  # Kiwi builds its tables on the first call (~0.9 s): pay it here
        self.score = lru_cache(maxsize=20000)(self._score)

    def _score(self, text: str) -> float:
        if not text.strip():
            return -50.0
        return float(self.kiwi.analyze(text, top_n=1)[0][1])


@lru_cache(maxsize=1)
def default_lm() -> KiwiLM | None:
    """The shared Kiwi model (loaded once, ~0.5 s), or None where kiwipiepy is missing."""
    try:
        return KiwiLM()
    except ImportError:
        return None


def loaded_lm() -> KiwiLM | None:
    """The shared Kiwi model where something has loaded it already (the reader does, unless it
    was told ``lm="none"``), else None: a caller that merely could use it does not load 250 MB."""
    return default_lm() if default_lm.cache_info().currsize else None


# A caption's lines are joined with a space unless the break falls inside a word: captioning
# tools that wrap by width (Vrew's auto-captions on bench/real's clip) break `있습니다` into `있`
# and `습니다`. Kiwi charges a space inside a word its spacing penalty (5 nats), so a join that
# Kiwi scores JOIN_MARGIN better without the space is made without it. bench/real's caption
# texts cut at each of their 426 spaces: 5 joined (`부릅|뜬 눈`, `카운터|입니다`: spacings Kiwi
# corrects); cut once inside a word (205 lines): 82 % joined (docs/experiments, thirty-sixth session).
JOIN_MARGIN = 4.5


def join_lines(lines: list[str], lm: KiwiLM | None = None) -> str:
    """A caption's lines as one text: a space between them, none where ``lm`` says the break
    splits a word (both sides Korean syllables, JOIN_MARGIN)."""
    out = ""
    for t in (t.strip() for t in lines if t and t.strip()):
        if out and lm is not None and has_hangul(out[-1]) and has_hangul(t[0]) \
                and lm.score(out + t) - lm.score(out + " " + t) >= JOIN_MARGIN:
            out += t
        else:
            out += (" " if out else "") + t
    return out


def has_hangul(s: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in s)


def charged(text: str) -> int:
    """The characters the bonus offsets: those the LM charges for, letters and digits. Kiwi
    scores punctuation as free or better ("나와...", "나와...." and "나와." alike), so a bonus
    per mark only paid the beam to add marks ("...." read for "..." on real captions;
    docs/experiments, eighteenth session)."""
    return len(_letters(text))


def rescore(nbest: list[tuple[str, float]], lm: KiwiLM, weight: float, bonus: float,
            margin: float = 2.0, fluent: float | None = FLUENT, swap_margin: float | None = None) -> tuple[str, float]:
    """The candidate maximising CTC log-prob + ``weight`` x LM score + ``bonus`` x characters;
    the bonus offsets the LM's preference for shorter lines (each syllable costs it log-prob).
    Only candidates within ``margin`` nats of the best reading compete: the LM breaks near-ties
    the pixels leave open, it never overrules a clear reading (a rare name, a made-up word).
    And the LM may replace the best reading only by a fluent one (Kiwi score per character at
    least ``fluent``): where no alternative is Korean (a name, random syllables) it has no say.
    ``swap_margin`` (wider than ``margin``) lets readings with as many letters and digits as the
    best one compete from further off: the LM may then swap a syllable the pixels left unclear,
    but never drop or add one (Kiwi prefers shorter lines: a clearly read rare name lost a
    syllable when every reading within 4 nats competed)."""
    best, best_s = nbest[0][0], NEG
    first = max(nbest, key=lambda x: x[1])[0]
    top = max(c for _, c in nbest)
    n_first, swap = charged(first), max(margin, swap_margin or margin)
    for text, ctc in nbest:
        n = charged(text)
        if ctc < top - (swap if n == n_first else margin):
            continue
        if fluent is not None and text != first and lm.score(text) / max(1, len(text.replace(" ", ""))) < fluent:
            continue
        s = ctc + weight * lm.score(text) + bonus * n
        if s > best_s:
            best, best_s = text, s
    # the LM chooses the letters, the pixels the marks and spaces around them: of the readings
    # with the winner's letters, the one the network is surest of (Kiwi scored "보자.." over
    # "보자..." and "세리." over "세리", and dropped a comma, on bench/real's captions); the
    # score returned stays the winner's
    key = _letters(best)
    return max(((t, c) for t, c in nbest if _letters(t) == key), key=lambda x: x[1])[0], best_s


def _letters(text: str) -> str:
    """``text``'s letters and digits (NFKC): what Kiwi is asked to choose, and charged for."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum())


def decode(logp: np.ndarray, charset: str, lm: KiwiLM | None, weight: float = 0.3, bonus: float = 1.5,
           beam: int = 10, margin: float = 2.0, fluent: float | None = FLUENT, swap_margin: float | None = None) -> str:
    """A line's text from its (T, C) log-probabilities: greedy when no LM or nothing to choose
    between, else the beam's n-best rescored by the LM."""
    ids = logp.argmax(-1)
    greedy = labels_to_text(collapse(ids), charset)
    if lm is None or not has_hangul(greedy):
        return greedy
    nb = prefix_beam(logp, beam=beam)
    if len(nb) < 2:
        return greedy
    texts: dict[str, float] = {}
    for labels, s in nb:  # two label sequences can give one text (spaces folded): keep the best
        t = labels_to_text(labels, charset)
        if t not in texts or s > texts[t]:
            texts[t] = s
    if len(texts) < 2:
        return greedy
    return rescore(sorted(texts.items(), key=lambda kv: -kv[1]), lm, weight, bonus, margin, fluent, swap_margin)[0]


def collapse(ids) -> tuple[int, ...]:
    """Greedy CTC: a column path's labels, repeats merged and blanks (0) dropped."""
    out, prev = [], 0
    for i in ids:
        i = int(i)
        if i != prev and i != 0:
            out.append(i)
        prev = i
    return tuple(out)


def labels_to_text(labels, charset: str) -> str:
    """Labels (class i = ``charset[i - 1]``) as text, runs of spaces folded."""
    return " ".join("".join(charset[i - 1] for i in labels).split())
