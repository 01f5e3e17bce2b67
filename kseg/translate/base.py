"""What every translator shares: the error type, caption checks and the cached-request loop."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence

from ..errors import KsegError, plain_text
from ..types import TranslationRequest

log = logging.getLogger("kseg.translate")


class TranslatorError(KsegError):
    """A caption that could not be translated; ``str(e)`` names it and the reason in one line.

    ``done`` holds the results finished before the failure (same order as the requests, None
    where not done), so a caller can keep them; remote results are also already in the cache.
    """

    def __init__(self, message: str, *, done: list[str | None] | None = None) -> None:
        super().__init__(message)
        self.done: list[str | None] = list(done or [])


class GarbageReply(Exception):
    """A reply that arrived but cannot be used (retried, then turned into TranslatorError)."""


def one_line(s: str, limit: int = 200) -> str:
    s = " ".join(plain_text(s).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def shorten(text: str, limit: int = 30) -> str:
    """A caption as error messages quote it: one line, at most ``limit`` characters."""
    return one_line(text, limit)


def has_text(text: str | None) -> bool:
    """True when the caption holds a letter or digit ("", "…" and "♪♪" stay untranslated)."""
    return bool(text) and any(ch.isalnum() for ch in unicodedata.normalize("NFC", text))


def scrub(message: str, secrets: Sequence[str]) -> str:
    """Removes API keys from text that may have come back from a server (echoed headers)."""
    for s in secrets:
        if s and len(s) >= 4:
            message = message.replace(s, "***")
    return message


def caption_error(text: str, reason: str, secrets: Sequence[str] = ()) -> TranslatorError:
    return TranslatorError(scrub(f"caption {shorten(text)!r}: {one_line(reason, 300)}", secrets))


def digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def mostly_korean(s: str) -> bool:
    letters = [ch for ch in s if ch.isalpha()]
    return bool(letters) and sum(bool(HANGUL.match(ch)) for ch in letters) * 2 >= len(letters)


def with_retries(fn: Callable[[], list[str]], retries: int, what: Callable[[str], TranslatorError],
                 backoff: float = 0.25) -> list[str]:
    """Calls ``fn`` until it returns usable text: the SDKs retry HTTP failures themselves but
    accept any 200, so a garbage reply (broken JSON, empty or runaway text) is retried here."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except GarbageReply as e:
            if attempt == retries:
                raise what(f"unusable reply after {retries + 1} tries: {e}") from None
            log.info("unusable reply (%s); retrying", one_line(str(e), 80))
            time.sleep(min(backoff * 2**attempt, 4.0))
    raise AssertionError("unreachable")


class CachedTranslator:
    """The loop every remote backend shares: skip captions without text, answer from the cache,
    send the rest in batches, store each result as soon as it arrives (a later failure keeps it).
    Subclasses set ``name``, ``backend``, ``model`` and implement ``_translate_batch``."""

    name = "?"
    backend = "?"
    model = ""
    key_extra = ""  # e.g. the prompt version: bump it and old results stop matching
    batch_size = 1

    def __init__(self, *, cache=None, glossary=None) -> None:
        self.cache = cache
        self.glossary = glossary
        self.misses: list[str] = []  # remote backends always answer; kept for one interface
        self.requests_sent = 0  # HTTP-level calls made (cache hits make none)

    def context(self, r: TranslationRequest) -> tuple[list[str], list[str]]:
        """The neighbours this backend actually sends (so the cache key holds no more)."""
        return list(r.before), list(r.after)

    def _key(self, r: TranslationRequest) -> str:
        g = self.glossary.digest if self.glossary else None
        before, after = self.context(r)
        return digest([self.backend, self.model, self.key_extra, r.text, before, after, g])

    def _translate_batch(self, batch: list[TranslationRequest]) -> list[str]:
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """The API keys a server might echo back (never to reach an output or the cache)."""
        return ()

    def _clean(self, text: str) -> str:
        """A reply as kseg keeps it: no escapes, control or bidi characters, no echoed key."""
        return scrub(" ".join(plain_text(text).split()), self.secrets())

    def translate(self, requests: list[TranslationRequest]) -> list[str | None]:
        results: list[str | None] = [None] * len(requests)
        todo: dict[str, list[int]] = {}  # key -> request indices (identical requests go once)
        for i, r in enumerate(requests):
            if not has_text(r.text):
                continue
            key = self._key(r)
            if key in todo:
                todo[key].append(i)
                continue
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                results[i] = self._clean(hit)  # a cache written before the cleaning existed
            else:
                todo[key] = [i]
        keys = list(todo)
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            try:
                outs = self._translate_batch([requests[todo[k][0]] for k in chunk])
            except TranslatorError as e:
                e.done = list(results)
                raise
            for k, out in zip(chunk, outs):
                out = self._clean(out)
                for i in todo[k]:
                    results[i] = out
                if self.cache is not None:
                    self.cache.put(k, self.name, requests[todo[k][0]].text, out)
        return results
