"""``deepl`` / ``deepl:URL``: the DeepL API through the official ``deepl`` SDK.

The SDK retries 429, 5xx and connection failures itself with exponential back-off (1 s, x1.6,
jittered; it does not read Retry-After), and its per-attempt timeout is
``max(time to the back-off deadline, min_connection_timeout)``. Both knobs are module globals of
``deepl.http_client`` (the SDK's documented way to configure them), so they are set before each
call. Captions go in batches of up to 50 (the API's limit per request); DeepL's ``context``
field (not translated, not billed) carries the batch's neighbouring captions and the glossary
entries that occur in them: a server-side DeepL glossary would be stricter but is account state
kseg would have to create and clean up.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from ..types import TranslationRequest
from .base import CachedTranslator, GarbageReply, TranslatorError, caption_error, has_text, \
    one_line, scrub, with_retries
from .tm import Glossary

KEY_VAR = "DEEPL_AUTH_KEY"
SOURCE, TARGET = "KO", "EN-US"
BATCH = 50
CONTEXT = 3
MAX_CONTEXT_CHARS = 2000


def normalise_url(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    # The SDK urljoins "v2/translate" onto this: a path prefix needs its trailing slash.
    return url if urlsplit(url).path in ("", "/") or url.endswith("/") else url + "/"


def batch_context(batch: list[TranslationRequest], glossary: Glossary | None) -> str:
    """Every caption around and inside the batch, in order, once; then the glossary terms."""
    seen: dict[str, None] = {}
    for i, r in enumerate(batch):
        for t in [*(r.before[-CONTEXT:] if i == 0 else []), r.text,
                  *(r.after[:CONTEXT] if i == len(batch) - 1 else [])]:
            if has_text(t):
                seen.setdefault(" ".join(t.split()), None)
    texts = list(seen)
    ctx = "\n".join(texts)
    if glossary:
        terms = glossary.relevant(texts)
        if terms:
            ctx += "\n" + "\n".join(f"{ko} = {en}" for ko, en in terms)
    return ctx[-MAX_CONTEXT_CHARS:]


class _Redact(logging.Filter):
    """The SDK logs response bodies at DEBUG; a server that echoes the key must not leak it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self.secret in msg:
            record.msg, record.args = scrub(msg, (self.secret,)), ()
        return True


class DeepLTranslator(CachedTranslator):
    backend = "deepl"
    batch_size = BATCH

    def __init__(self, url: str | None = None, *, auth_key: str, glossary: Glossary | None = None,
                 cache=None, timeout: float = 30.0, retries: int = 3) -> None:
        super().__init__(cache=cache, glossary=glossary)
        import deepl

        if not auth_key:
            raise TranslatorError(f"deepl needs an API key: set {KEY_VAR}")
        self._deepl = deepl
        self.url = normalise_url(url) if url else None
        self.name = f"deepl:{self.url}" if self.url else "deepl"
        self.model = f"{SOURCE}>{TARGET}"
        self.timeout = float(timeout)
        self.retries = int(retries)
        self._auth_key = auth_key
        sdk_log = logging.getLogger("deepl")
        if not any(isinstance(f, _Redact) and f.secret == auth_key for f in sdk_log.filters):
            sdk_log.addFilter(_Redact(auth_key))
        self._client = deepl.Translator(auth_key, server_url=self.url, send_platform_info=False)


    def secrets(self) -> tuple[str, ...]:
        return (self._auth_key,)

    def context(self, r: TranslationRequest) -> tuple[list[str], list[str]]:
        return [t for t in r.before if has_text(t)][-CONTEXT:], \
            [t for t in r.after if has_text(t)][:CONTEXT]

    def _translate_batch(self, batch: list[TranslationRequest]) -> list[str]:
        more = f" (first of a batch of {len(batch)})" if len(batch) > 1 else ""
        ctx = batch_context(batch, self.glossary)

        def what(reason: str) -> TranslatorError:
            return caption_error(batch[0].text, f"DeepL{more}: {reason}", (self._auth_key,))

        return with_retries(lambda: self._ask(batch, ctx, what), self.retries, what)

    def _ask(self, batch, ctx, what) -> list[str]:
        d = self._deepl
        d.http_client.max_network_retries = self.retries
        d.http_client.min_connection_timeout = self.timeout
        self.requests_sent += 1
        try:
            res = self._client.translate_text([r.text for r in batch], source_lang=SOURCE,
                                              target_lang=TARGET, context=ctx or None)
        except d.AuthorizationException:
            raise what(f"the server refused the auth key (HTTP 403); check {KEY_VAR}") from None
        except d.QuotaExceededException:
            raise what("the account's quota is used up (HTTP 456)") from None
        except d.TooManyRequestsException:
            raise what(f"rate-limited (HTTP 429) after {self.retries + 1} tries") from None
        except d.ConnectionException as e:
            raise what(self._connection_reason(e)) from None
        except d.DeepLException as e:
            raise what(one_line(str(e), 160)) from None
        except (TypeError, ValueError, KeyError, AttributeError) as e:  # malformed JSON fields
            raise GarbageReply(f"malformed reply ({one_line(str(e), 60)})") from None
        if not isinstance(res, list) or len(res) != len(batch):
            n = len(res) if isinstance(res, list) else 0
            raise GarbageReply(f"{n} translations for {len(batch)} captions")
        out = []
        for r, t in zip(batch, res):
            text = (getattr(t, "text", "") or "").strip()
            if not text:
                raise GarbageReply("an empty translation")
            if len(text) > max(300, 8 * len(r.text)):
                raise GarbageReply(f"a {len(text)}-character translation of "
                                   f"{len(r.text)} characters")
            out.append(text)
        return out

    def _connection_reason(self, e: Exception) -> str:
        s = str(e)
        where = self.url or "the DeepL API"
        tries = f"{self.retries + 1} tries" if self.retries else "1 try"
        if "timed out" in s.lower():
            return f"no reply from {where} within {self.timeout:g} s ({tries})"
        import re

        m = re.search(r"\[Errno -?\d+\] [^'\")]+", s)
        return f"cannot connect to {where} ({m.group(0) if m else one_line(s, 80)}; {tries})"
