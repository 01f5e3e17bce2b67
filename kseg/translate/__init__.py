"""Translate stage: Korean captions -> English, behind one interface (``--translator SPEC``).

    tr = get_translator("tm:memory.tsv")                      # the user's translation memory
    tr = get_translator("openai:http://localhost:11434/v1", llm_model="qwen2.5:7b")
    tr = get_translator("deepl")                               # DEEPL_AUTH_KEY
    texts = tr.translate([TranslationRequest("안녕하세요", before=[...], after=[...])])

A result is None where there is no translation (a TM miss, listed in ``tr.misses``; a caption
with no letters). Remote results go into a persistent SQLite cache (``cache.py``) keyed by
backend, model, text, context and glossary. API keys come from the environment only and never
appear in messages or logs.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..types import TranslationRequest
from .base import TranslatorError, has_text
from .cache import TranslationCache

__all__ = ["Translator", "TranslatorError", "TranslationRequest", "TranslationCache",
           "get_translator", "as_translator", "FunctionTranslator", "has_text", "SPECS"]

SPECS = "tm:FILE, openai[:URL] (with --llm-model NAME), deepl or deepl:URL"


@runtime_checkable
class Translator(Protocol):
    name: str
    misses: list[str]  # captions the backend had no translation for (TM misses), in order

    def translate(self, requests: list[TranslationRequest]) -> list[str | None]: ...


class FunctionTranslator:
    """A plain function as a translator: ``fn(korean) -> English or None``, one caption a call
    (a script's own dictionary, a model it already holds)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.name = f"function:{getattr(fn, '__name__', type(fn).__name__)}"
        self.misses: list[str] = []

    def translate(self, requests: list[TranslationRequest]) -> list[str | None]:
        out: list[str | None] = []
        for r in requests:
            try:
                en = self.fn(r.text)
            except Exception as e:  # noqa: BLE001 - the user's code: one line, which caption
                raise TranslatorError(f"{self.name} failed on {r.text!r}: {type(e).__name__}: {e}") from e
            if en is not None and not isinstance(en, str):
                raise TranslatorError(f"{self.name} returned {type(en).__name__} for {r.text!r}, not str or None")
            if en is None or not en.strip():
                en = None
                if r.text not in self.misses:
                    self.misses.append(r.text)
            out.append(en)
        return out


def as_translator(obj):
    """A translator from what a script gives: an object with ``translate(requests)`` as it is,
    a spec string through ``get_translator``, a plain function through ``FunctionTranslator``."""
    if isinstance(obj, str):
        return get_translator(obj)
    if hasattr(obj, "translate"):
        return obj
    if callable(obj):
        return FunctionTranslator(obj)
    raise TypeError(f"not a translator: {type(obj).__name__} (give a spec string, a function "
                    "korean -> English, or an object with translate(requests))")


def _api_key(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n, "").strip()
        if v:
            return v
    return None


def get_translator(spec: str, *, llm_model: str | None = None,
                   glossary: str | Path | Mapping[str, str] | None = None,
                   cache: str | Path | TranslationCache | None = None, no_cache: bool = False,
                   timeout: float = 30.0, retries: int = 3, strict: bool = False) -> Translator:
    """The translator for ``spec``; bad specs, files or settings raise a one-line KsegError.

    ``glossary``: a TSV/JSON file (Korean<TAB>English) or a mapping. ``cache``: the SQLite
    file (default: the user cache dir's translations.sqlite); ``no_cache`` turns it off.
    ``strict``: a TM miss raises TranslatorError instead of returning None.
    """
    from .tm import Glossary, TMTranslator

    spec = (spec or "").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if timeout <= 0:
        raise TranslatorError(f"translator timeout must be positive, not {timeout:g}")
    if retries < 0:
        raise TranslatorError(f"translator retries must be 0 or more, not {retries}")
    if kind == "tm":
        if not arg:
            raise TranslatorError("tm needs a file: --translator tm:FILE")
        return TMTranslator(arg, strict=strict)
    if kind not in ("openai", "deepl"):
        raise TranslatorError(f"unknown translator {spec!r}: use {SPECS}")

    gloss = Glossary.load(glossary) if glossary is not None else None
    if no_cache:
        store = None
    elif isinstance(cache, TranslationCache):
        store = cache
    else:
        store = TranslationCache(cache)
    if kind == "openai":
        if not llm_model:
            raise TranslatorError("the openai translator needs a model: --llm-model NAME")
        from .openai_chat import KEY_VARS, OpenAIChatTranslator

        return OpenAIChatTranslator(arg or None, llm_model, api_key=_api_key(*KEY_VARS),
                                    glossary=gloss, cache=store, timeout=timeout,
                                    retries=retries)
    from .deepl_api import KEY_VAR, DeepLTranslator

    return DeepLTranslator(arg or None, auth_key=_api_key(KEY_VAR) or "", glossary=gloss,
                           cache=store, timeout=timeout, retries=retries)


from kseg import _callable  # noqa: E402 - last, once the module is complete

_callable.install(__name__)  # kseg.translate(...) calls kseg.api.translate
