"""Translation memory: a Korean -> English file the user keeps, and the glossary (same format).

Files: TSV (``Korean<TAB>English`` per line, ``#`` comments, blank lines, an optional header row
such as ``ko<TAB>en``; further columns are notes and ignored) or JSON (an object
``{"Korean": "English"}``, or a list of ``["Korean", "English"]`` pairs or of
``{"ko": ..., "en": ...}`` objects).

Matching: OCR'd captions rarely match a TM byte for byte, so a caption is looked up first as is
(NFC, runs of spaces collapsed), then by a looser key that ignores all spaces (Korean spacing is
the least reliable thing OCR gives back), punctuation, symbols, ellipses and full-width forms.
"""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, plain_text
from ..types import TranslationRequest
from .base import caption_error, digest, has_text, log, shorten

HEADERS = {("ko", "en"), ("korean", "english"), ("source", "target"), ("kor", "eng"),
           ("한국어", "영어")}


def exact_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def loose_key(text: str) -> str:
    """Letters and digits only (NFKC, case-folded): '안녕 하세요…!' == '안녕하세요'."""
    s = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in s if ch.isalnum())


def _fail(path: Path, where: int | str | None, reason: str) -> InputError:
    if isinstance(where, int):
        return InputError(f"{path}:{where}: {reason}")
    return InputError(f"{path}: {where}: {reason}" if where else f"{path}: {reason}")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise _fail(path, None, "no such file")
    if path.is_dir():
        raise _fail(path, None, "is a folder, not a file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise _fail(path, None, f"cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise _fail(path, line, "not UTF-8 text") from None


def _pairs_tsv(path: Path, text: str) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    first = True
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in raw.rstrip("\r\n").split("\t")]
        if len(cols) < 2:
            raise _fail(path, n, "no TAB between the Korean and the English")
        if first and (cols[0].casefold(), cols[1].casefold()) in HEADERS:
            first = False
            continue
        first = False
        out.append((n, cols[0], cols[1]))
    return out


def _pairs_json(path: Path, text: str) -> list[tuple[int | str, str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(path, e.lineno, f"invalid JSON ({e.msg})") from None
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = []
        for i, item in enumerate(data, 1):
            if isinstance(item, dict):
                ko = next((item[k] for k in ("ko", "korean", "source") if k in item), None)
                en = next((item[k] for k in ("en", "english", "target") if k in item), None)
                if ko is None or en is None:
                    raise _fail(path, f"entry {i}", 'an object needs "ko" and "en"')
                items.append((ko, en))
            elif isinstance(item, list) and len(item) == 2:
                items.append((item[0], item[1]))
            else:
                raise _fail(path, f"entry {i}",
                            'expected ["Korean", "English"] or {"ko": .., "en": ..}')
    else:
        raise _fail(path, None, "JSON must be an object or a list of pairs")
    out: list[tuple[int | str, str, str]] = []
    for i, (ko, en) in enumerate(items, 1):
        if not isinstance(ko, str) or not isinstance(en, str):
            raise _fail(path, f"entry {i}", "Korean and English must both be strings")
        out.append((f"entry {i}", ko.strip(), en.strip()))
    return out


def _where(w: int | str) -> str:
    return f"line {w}" if isinstance(w, int) else str(w)


def load_pairs(path: str | Path) -> list[tuple[int | str, str, str]]:
    """(line or "entry N", Korean, English) triples; any fault -> InputError 'FILE:LINE: reason'."""
    path = Path(path)
    text = _read_text(path)
    is_json = path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "[")
    pairs = _pairs_json(path, text) if is_json else _pairs_tsv(path, text)
    pairs = [(where, plain_text(ko), plain_text(en)) for where, ko, en in pairs]
    for where, ko, en in pairs:
        if not ko:
            raise _fail(path, where, "empty Korean text")
        if not en:
            raise _fail(path, where, f"no English for {shorten(ko)!r}")
    # a line of marks alone ("!!!", "...", "♪~") is never looked up (a caption without letters
    # is not translated), but a TM made from a show's subtitles holds such lines: skipped with a
    # warning, not the whole file refused
    kept = []
    for where, ko, en in pairs:
        if has_text(ko):
            kept.append((where, ko, en))
        else:
            log.warning("%s", _fail(path, where, f"{shorten(ko)!r} has no letters to match; skipped"))
    if not kept:
        raise _fail(path, None, "no entries")
    return kept


FUZZY = 0.75  # least similarity for a fuzzy match (images and video alike), letter by letter
FUZZY_MARGIN = 0.05  # ... ahead of the next entry with other English: a near tie is no match


def jamo(text: str) -> str:
    """Hangul syllables spelled out letter by letter (Unicode NFD: initial, vowel, final)."""
    return unicodedata.normalize("NFD", text)


@dataclass
class Memory:
    """Korean -> English lookup by exact then loose key (first entry wins a loose tie)."""

    path: Path
    exact: dict[str, str] = field(default_factory=dict)
    loose: dict[str, str] = field(default_factory=dict)
    _spelled: list[str] | None = field(default=None, repr=False, compare=False)  # jamo() of the loose keys, in order

    @classmethod
    def load(cls, path: str | Path) -> Memory:
        path = Path(path)
        return cls.of_pairs(path, load_pairs(path))

    @classmethod
    def of_pairs(cls, path: Path, pairs: list[tuple[int | str, str, str]]) -> Memory:
        """A memory of ``pairs`` (where, Korean, English) as ``load_pairs`` gives them; ``path``
        names it in errors (a second, different English for the same Korean)."""
        mem = cls(path)
        where_of: dict[str, int | str] = {}
        for where, ko, en in pairs:
            k = exact_key(ko)
            if k in mem.exact and mem.exact[k] != en:
                raise _fail(path, where, f"{shorten(ko)!r} already has a different English "
                                         f"({_where(where_of[k])})")
            mem.exact.setdefault(k, en)
            where_of.setdefault(k, where)
            mem.loose.setdefault(loose_key(ko), en)
        return mem

    def lookup(self, text: str) -> str | None:
        hit = self.exact.get(exact_key(text))
        return hit if hit is not None else self.loose.get(loose_key(text))

    def fuzzy(self, text: str, cutoff: float = FUZZY) -> tuple[str, str, float] | None:
        """(entry key, English, similarity) of the closest entry at least ``cutoff`` alike and
        FUZZY_MARGIN ahead of the next one with other English.

        OCR of a frame is rarely letter-perfect and a TM is the user's list of the show's
        captions: CAT tools' fuzzy match, rapidfuzz's normalised Indel similarity (difflib's
        ratio, in C) on the loose keys (letters and digits only), compared letter by letter
        (``jamo``): a misread is mostly one letter of a syllable (`싫어요` read `실어요`, `지금`
        `기금`, `소울` `보울`), which syllable by syllable costs as much as a wrong syllable
        (bench/real's misread captions against a memory full of near-misses: more found, fewer
        wrong; docs/experiments, forty-second session). Callers report the match; exact
        lookups never go through here."""
        from rapidfuzz import fuzz, process

        key = loose_key(text)
        if len(key) < 2 or not self.loose:
            return None
        keys = list(self.loose)
        if self._spelled is None or len(self._spelled) != len(keys):
            self._spelled = [jamo(k) for k in keys]
        best = None
        for _, score, i in process.extract(jamo(key), self._spelled, scorer=fuzz.ratio, limit=None,
                                           score_cutoff=(cutoff - FUZZY_MARGIN) * 100):
            if best is None:
                best = (keys[i], score)
            elif self.loose[keys[i]] != self.loose[best[0]]:
                if best[1] - score < FUZZY_MARGIN * 100:
                    return None
                break
        if best is None or best[1] < cutoff * 100:
            return None
        return best[0], self.loose[best[0]], best[1] / 100

    def __len__(self) -> int:
        return len(self.exact)


class Glossary:
    """Names and terms the LLM (or DeepL, as context) must render one way throughout."""

    def __init__(self, entries: Mapping[str, str], source: str = "<glossary>") -> None:
        self.entries = {exact_key(k): v.strip() for k, v in entries.items() if k.strip()}
        self.source = source
        self.digest = digest(sorted(self.entries.items()))

    @classmethod
    def load(cls, spec: str | Path | Mapping[str, str] | Glossary) -> Glossary:
        if isinstance(spec, Glossary):
            return spec
        if isinstance(spec, Mapping):
            return cls(spec)
        pairs = load_pairs(spec)
        return cls({ko: en for _, ko, en in pairs}, str(spec))

    def relevant(self, texts: list[str]) -> list[tuple[str, str]]:
        """The entries whose Korean occurs in ``texts`` (spaces ignored, particles allowed)."""
        hay = "".join("".join(t.split()) for t in texts)
        return [(k, v) for k, v in self.entries.items() if "".join(k.split()) in hay]

    def __len__(self) -> int:
        return len(self.entries)


class TMTranslator:
    """``tm:FILE``: answers from the user's translation memory; a miss is None (and recorded in
    ``misses``), or with ``strict`` a TranslatorError naming the first missed caption."""

    def __init__(self, path: str | Path, *, strict: bool = False) -> None:
        self.memory = Memory.load(path)
        self.name = f"tm:{Path(path).resolve()}"
        self.strict = strict
        self.misses: list[str] = []  # every caption with no entry, in order, once each
        self.fuzzy_hits: list[tuple[str, str, float]] = []  # (caption, entry used, similarity)

    def fuzzy(self, text: str) -> tuple[str, str, float] | None:
        """A miss retried by similarity: (entry, English, similarity) of the closest entry at
        least ``FUZZY`` alike, recorded in ``fuzzy_hits`` so the memory reports what it used."""
        hit = self.memory.fuzzy(text) if has_text(text) else None
        if hit is not None:
            self.fuzzy_hits.append((text, hit[0], hit[2]))
        return hit

    def translate(self, requests: list[TranslationRequest]) -> list[str | None]:
        out: list[str | None] = []
        missed: list[str] = []
        for r in requests:
            hit = self.memory.lookup(r.text) if has_text(r.text) else None
            out.append(hit)
            if hit is None and has_text(r.text):
                missed.append(r.text)
                if r.text not in self.misses:
                    self.misses.append(r.text)
        if missed and self.strict:
            more = f" (and {len(missed) - 1} more)" if len(missed) > 1 else ""
            err = caption_error(missed[0], f"not in the translation memory "
                                           f"{self.memory.path}{more}")
            err.done = out
            raise err
        return out
