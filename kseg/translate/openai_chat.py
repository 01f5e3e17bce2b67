"""``openai:URL``: any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server).

The official ``openai`` SDK does the HTTP: per-request timeout, retries with exponential back-off
(0.5 s doubling, capped at 8 s, jittered) on connection errors, timeouts, 408/409/429/5xx, and it
honours ``Retry-After`` / ``retry-after-ms`` up to two minutes. It accepts any 200 though, so a
reply we cannot use (broken JSON, no choices, empty or runaway text, Korean echoed back) is
retried here (base.with_retries). One caption per request: small local models number and split
batched lines unreliably, and per-caption results cache independently.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

from ..types import TranslationRequest
from .base import CachedTranslator, GarbageReply, TranslatorError, caption_error, has_text, \
    log, mostly_korean, one_line, with_retries
from .tm import Glossary

PROMPT_VERSION = 2  # part of the cache key: a new prompt must not be answered from old results
CONTEXT = 3  # neighbouring captions sent on each side
DEFAULT_URL = "https://api.openai.com/v1"
KEY_VARS = ("KSEG_OPENAI_API_KEY", "OPENAI_API_KEY")
NO_KEY = "kseg-no-key"  # local servers ignore the key, but the SDK insists on one

SYSTEM = (
    "You translate Korean TV subtitles (dramas, variety shows, news) into English subtitles. "
    "Write short, natural spoken English that fits on screen and keeps the speaker's tone. "
    "Write names and terms exactly as the glossary gives them, and keep them consistent with "
    "the surrounding captions. The surrounding captions are context only: translate only the "
    "caption you are asked for. The Korean was read off the picture by OCR and may have a "
    "misread letter (a similar-looking Hangul letter, a syllable dropped or added, stray "
    "punctuation or Latin letters): translate what the caption most plausibly says. "
    "Reply with the English subtitle only: no quotes, no labels, "
    "no notes, no romanisation, no explanations."
)


def normalise_url(url: str) -> str:
    """The API root the SDK appends '/chat/completions' to: 'localhost:11434' ->
    'http://localhost:11434/v1'; a pasted '.../v1/chat/completions' loses its tail."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        path = path[: -len("/chat/completions")]
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def neighbours(r: TranslationRequest, n: int = CONTEXT) -> tuple[list[str], list[str]]:
    before = [t for t in r.before if has_text(t)][-n:] if n else []
    after = [t for t in r.after if has_text(t)][:n] if n else []
    return before, after


def build_messages(r: TranslationRequest, glossary: Glossary | None) -> list[dict[str, str]]:
    before, after = neighbours(r)
    parts = []
    if before:
        parts.append("Earlier captions (context, do not translate):\n" + "\n".join(before))
    if after:
        parts.append("Later captions (context, do not translate):\n" + "\n".join(after))
    if glossary:
        terms = glossary.relevant([r.text, *before, *after])
        if terms:
            parts.append("Glossary (Korean = English):\n"
                         + "\n".join(f"{ko} = {en}" for ko, en in terms))
    parts.append("Translate this caption into English:\n" + r.text)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"^```[\w-]*\s*|\s*```$")
_LABEL = re.compile(r"^(?:english(?: translation| subtitle)?|translation|translated|subtitle|"
                    r"answer|output|en)\s*[:：]\s*", re.I)
_NOTE = re.compile(r"^[(\[]?\s*(?:note|notes|explanation|romani[sz]ation|literal(?:ly)?|"
                   r"context)\b", re.I)
_QUOTES = [('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"),
           ("«", "»")]


def parse_reply(reply: object, source: str) -> str:
    """The subtitle in a chat reply, or GarbageReply: strips reasoning blocks, code fences,
    'Translation:' labels, preamble lines ending in ':', trailing notes and wrapping quotes."""
    if not isinstance(reply, str):
        raise GarbageReply("the reply has no text")
    s = _FENCE.sub("", _THINK.sub("", reply).strip()).strip()
    lines = [ln.strip() for ln in s.splitlines() if ln.strip()]
    while len(lines) > 1 and lines[0].endswith((":", "：")):
        lines.pop(0)  # "Here is the translation:"
    lines = [_LABEL.sub("", ln).strip() for ln in lines if not _NOTE.match(ln)]
    lines = [ln for ln in lines if ln and not mostly_korean(ln)]  # echoed source lines
    text = " ".join(lines).strip()
    for a, b in _QUOTES:
        if len(text) >= 2 and text.startswith(a) and text.endswith(b) and text.count(b) <= 2:
            text = text[1:-1].strip()
    if not text:
        if s and mostly_korean(s):
            raise GarbageReply("the reply is Korean, not English")
        raise GarbageReply("empty reply")
    limit = max(300, 8 * len(source))
    if len(text) > limit:
        raise GarbageReply(f"reply of {len(text)} characters for a {len(source)}-character caption")
    return text


class OpenAIChatTranslator(CachedTranslator):
    backend = "openai-chat"

    def __init__(self, url: str | None, model: str, *, api_key: str | None = None,
                 glossary: Glossary | None = None, cache=None, timeout: float = 30.0,
                 retries: int = 3) -> None:
        super().__init__(cache=cache, glossary=glossary)
        import openai  # ~1 s to import: only when this backend is chosen

        self._openai = openai
        self.url = normalise_url(url or DEFAULT_URL)
        self.model = model
        self.name = f"openai:{self.url}:{model}"
        self.timeout = float(timeout)
        self.retries = int(retries)
        self._api_key = api_key or ""
        self.key_extra = f"prompt-v{PROMPT_VERSION}"
        self._temperature: float | None = 0.0
        self._client = openai.OpenAI(base_url=self.url, api_key=api_key or NO_KEY,
                                     timeout=self.timeout, max_retries=self.retries)

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def context(self, r: TranslationRequest) -> tuple[list[str], list[str]]:
        return neighbours(r)

    def _translate_batch(self, batch: list[TranslationRequest]) -> list[str]:
        return [self._one(r) for r in batch]

    def _one(self, r: TranslationRequest) -> str:
        messages = build_messages(r, self.glossary)
        return with_retries(lambda: self._ask(r, messages), self.retries,
                            lambda reason: caption_error(r.text, f"{self.url}: {reason}",
                                                         self._secrets))[0]

    def _ask(self, r: TranslationRequest, messages: list[dict[str, str]]) -> list[str]:
        o = self._openai
        kw = {} if self._temperature is None else {"temperature": self._temperature}
        self.requests_sent += 1
        try:
            resp = self._client.chat.completions.create(model=self.model, messages=messages, **kw)
        except o.BadRequestError as e:
            if "temperature" in str(e).lower() and self._temperature is not None:
                log.info("%s rejects temperature=0; using the model's default", self.model)
                self._temperature = None  # e.g. reasoning models accept only the default
                return self._ask(r, messages)
            raise self._error(r, e) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GarbageReply(f"not JSON ({one_line(str(e), 60)})") from None
        except o.OpenAIError as e:
            raise self._error(r, e) from None
        try:
            content = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError, KeyError):
            raise GarbageReply("no choices[0].message.content in the reply") from None
        return [parse_reply(content, r.text)]

    def _error(self, r: TranslationRequest, e: Exception) -> TranslatorError:
        o = self._openai
        tries = f"{self.retries + 1} tries" if self.retries else "1 try"
        if isinstance(e, o.APITimeoutError):
            reason = f"no reply from {self.url} within {self.timeout:g} s ({tries})"
        elif isinstance(e, o.APIConnectionError):
            cause = e.__cause__ or e.__context__
            why = one_line(str(cause), 80) if cause else "connection failed"
            reason = f"cannot connect to {self.url} ({why}; {tries})"
        elif isinstance(e, o.AuthenticationError):
            reason = (f"{self.url} refused the API key (HTTP 401); set "
                      f"{' or '.join(KEY_VARS)}")
        elif isinstance(e, o.PermissionDeniedError):
            reason = f"{self.url} denied access (HTTP 403): {_message(e)}"
        elif isinstance(e, o.NotFoundError):
            reason = (f"HTTP 404 from {self.url}: is model {self.model!r} available there, and "
                      f"is the URL the API root (like http://localhost:11434/v1)?")
        elif isinstance(e, o.RateLimitError):
            reason = f"rate-limited by {self.url} (HTTP 429, {tries}): {_message(e)}"
        elif isinstance(e, o.APIStatusError):
            reason = f"HTTP {e.status_code} from {self.url} ({tries}): {_message(e)}"
        else:
            reason = f"{type(e).__name__}: {_message(e)}"
        return caption_error(r.text, reason, self._secrets)


def _message(e: Exception) -> str:
    msg = getattr(e, "message", None) or str(e)
    body = getattr(e, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        msg = body["message"]
    return one_line(msg, 120)
