"""Translate stage: TM files, the OpenAI-chat and DeepL backends against a real loopback HTTP
server (scripted: ok, 429, 500, garbage, hang, refused), the persistent cache, key hygiene."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kseg.errors import InputError, KsegError
from kseg.translate import TranslationCache, Translator, TranslatorError, get_translator
from kseg.types import TranslationRequest as R

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-SECRET-0123456789"
DKEY = "dl-SECRET-abcdef:fx"
TABLE = {"안녕하세요": "Hello.", "괜찮아?": "Are you okay?",
         "김민수 씨": "Mr. Kim Min-su", "밥 먹었어?": "Did you eat?"}


def english(text: str) -> str:
    return TABLE.get(text) or "Line " + hashlib.md5(text.encode()).hexdigest()[:8]


# --------------------------------------------------------------------- loopback server

class Fake:
    """One loopback server speaking POST /v1/chat/completions and DeepL's POST /v2/translate.

    ``script`` is consumed one behaviour per request (then "ok"): "ok", "429" (Retry-After),
    "500", "garbage" (200, not JSON), "korean" (200, the source echoed), "hang" (no answer until
    the test ends), "echo401"/"echo400" (an error body that quotes the Authorization header).
    """

    def __init__(self) -> None:
        self.script: list[str] = []
        self.hits: list[dict] = []
        self.release = threading.Event()
        self.retry_after = "0.05"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw) if raw else None
                heads = {k.lower(): v for k, v in self.headers.items()}
                fake.hits.append({"path": self.path, "headers": heads,
                                  "body": body, "t": time.monotonic()})
                what = fake.script.pop(0) if fake.script else "ok"
                try:
                    fake.answer(self, what, body)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, h: BaseHTTPRequestHandler, what: str, body) -> None:
        def send(status: int, payload, headers=()):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        auth = h.headers.get("Authorization", "")
        if what == "hang":
            self.release.wait(10)
            return
        if what == "429":
            return send(429, {"error": {"message": "slow down"}, "message": "slow down"},
                        [("Retry-After", self.retry_after)])
        if what == "500":
            return send(500, {"error": {"message": "boom"}})
        if what == "garbage":
            return send(200, b"<html>this is not JSON")
        if what == "echo401":
            return send(401, {"error": {"message": f"bad key {auth}"}})
        if what == "echo400":
            return send(400, {"message": f"bad request from {auth}"})
        if what == "temp400":  # what OpenAI's reasoning models say to temperature=0
            return send(400, {"error": {"message": "Unsupported value: 'temperature' does "
                                                   "not support 0 with this model."}})
        if what == "403":
            return send(403, {"message": "forbidden"})
        if what == "ansi500":  # an error body that would recolour and retitle the terminal
            return send(500, {"error": {"message": "\x1b[31mboom\x1b]0;pwned\x07 \u202eevil"}})
        if h.path == "/v1/chat/completions":
            user = body["messages"][-1]["content"]
            src = user.rsplit("\n", 1)[-1]
            reply = src if what == "korean" else english(src)
            if what == "nasty":  # escapes, a bidi override, NUL and the caller's own key
                reply = f"\x1b[1m{reply}\x1b[0m\u202e\x00 {auth.split()[-1]}\x07"
            return send(200, {"id": "c1", "object": "chat.completion", "created": 0,
                              "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": reply}}]})
        if h.path == "/v2/translate":
            return send(200, {"translations": [
                {"detected_source_language": "KO", "text": english(t), "billed_characters": len(t)}
                for t in body["text"]]})
        send(404, {"error": {"message": "not found"}})

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def srv():
    s = Fake()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    for k in ("OPENAI_API_KEY", "KSEG_OPENAI_API_KEY", "DEEPL_AUTH_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path / "kseg-cache"))


def refused_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


def llm(srv, tmp_path, **kw):
    kw.setdefault("cache", tmp_path / "c.sqlite")
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 2)
    return get_translator(f"openai:{srv.url}/v1", llm_model="test-model", **kw)


def deepl(srv, tmp_path, monkeypatch, **kw):
    monkeypatch.setenv("DEEPL_AUTH_KEY", DKEY)
    kw.setdefault("cache", tmp_path / "c.sqlite")
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 2)
    return get_translator(f"deepl:{srv.url}", **kw)


SCENE = [R("안녕하세요", before=["어제 봤지?"], after=["괜찮아?"]),
         R("괜찮아?", before=["어제 봤지?", "안녕하세요"], after=["밥 먹었어?"]),
         R("밥 먹었어?", before=["안녕하세요", "괜찮아?"], after=[])]


# --------------------------------------------------------------------------- specs

def test_bad_specs_and_settings(tmp_path):
    for spec, words in [("google", "unknown translator"), ("", "unknown translator"),
                        ("tm:", "needs a file"), ("openai:http://127.0.0.1:9/v1", "--llm-model")]:
        with pytest.raises(TranslatorError, match=words):
            get_translator(spec, cache=tmp_path / "c.sqlite")
    with pytest.raises(TranslatorError, match="DEEPL_AUTH_KEY"):
        get_translator("deepl", cache=tmp_path / "c.sqlite")
    with pytest.raises(TranslatorError, match="timeout"):
        get_translator("deepl", timeout=0)
    assert issubclass(TranslatorError, KsegError)


def test_names(srv, tmp_path, monkeypatch):
    tm = tmp_path / "m.tsv"
    tm.write_text("안녕\tHi\n", encoding="utf-8")
    assert get_translator(f"tm:{tm}").name == f"tm:{tm.resolve()}"
    assert llm(srv, tmp_path).name == f"openai:{srv.url}/v1:test-model"
    # the API root is found from a bare host or a pasted endpoint
    bare = get_translator(f"openai:{srv.url}", llm_model="m", cache=tmp_path / "c.sqlite")
    assert bare.name == f"openai:{srv.url}/v1:m"
    pasted = get_translator(f"openai:{srv.url}/v1/chat/completions/", llm_model="m", no_cache=True)
    assert pasted.name == f"openai:{srv.url}/v1:m"
    assert deepl(srv, tmp_path, monkeypatch).name == f"deepl:{srv.url}"
    assert get_translator("deepl", no_cache=True).name == "deepl"
    for tr in (get_translator(f"tm:{tm}"), llm(srv, tmp_path),
               get_translator("deepl", no_cache=True)):
        assert isinstance(tr, Translator) and tr.misses == []


# --------------------------------------------------------------------- OpenAI chat API

def test_openai_sends_context_glossary_and_parses(srv, tmp_path):
    gl = tmp_path / "names.tsv"
    gl.write_text("# names\n김민수\tKim Min-su\n박지훈\tPark Ji-hoon\n", encoding="utf-8")
    tr = llm(srv, tmp_path, glossary=gl)
    req = R("김민수 씨", before=["어제 봤지?", "그래"], after=["박지훈이 왔어"])
    assert tr.translate([req]) == ["Mr. Kim Min-su"]
    hit, = srv.hits
    assert hit["path"] == "/v1/chat/completions"
    body = hit["body"]
    assert body["model"] == "test-model"
    system, user = body["messages"]
    assert system["role"] == "system" and "Korean" in system["content"]
    assert "English" in system["content"]
    # the caption is an OCR reading: the model is told a letter may be misread (bench/real's
    # readings: `소울 왕자!` read `보울 왕!`), so it translates what the caption plausibly says
    assert "OCR" in system["content"] and "misread" in system["content"]
    u = user["content"]
    for s in ("어제 봤지?", "그래", "박지훈이 왔어", "김민수 = Kim Min-su", "박지훈 = Park Ji-hoon"):
        assert s in u
    assert u.rstrip().endswith("김민수 씨")
    # no key in the environment: a dummy is sent (local servers need none)
    assert hit["headers"]["authorization"] == "Bearer kseg-no-key"


def test_openai_glossary_sends_only_terms_that_occur(srv, tmp_path):
    tr = llm(srv, tmp_path, glossary={"김민수": "Kim Min-su", "이서연": "Lee Seo-yeon"})
    tr.translate([R("김민수 씨")])
    u = srv.hits[0]["body"]["messages"][-1]["content"]
    assert "Kim Min-su" in u and "Lee Seo-yeon" not in u


def test_openai_key_from_env_and_never_in_errors_or_logs(srv, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-lower-priority")
    monkeypatch.setenv("KSEG_OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    tr = llm(srv, tmp_path, retries=0)
    tr.translate([R("안녕하세요")])
    assert srv.hits[0]["headers"]["authorization"] == f"Bearer {KEY}"
    srv.script = ["echo401"]
    with pytest.raises(TranslatorError) as e:
        tr.translate([R("괜찮아?")])
    msg = str(e.value)
    assert "401" in msg and "괜찮아?" in msg and "OPENAI_API_KEY" in msg
    assert KEY not in msg and KEY not in caplog.text
    tr2 = llm(srv, tmp_path, retries=0)
    srv.script = ["echo400"]
    with pytest.raises(TranslatorError) as e:
        tr2.translate([R("밥 먹었어?")])
    assert "400" in str(e.value) and KEY not in str(e.value)
    assert KEY not in caplog.text
    assert "\n" not in str(e.value)


def test_openai_reply_cleanup():
    from kseg.translate.base import GarbageReply
    from kseg.translate.openai_chat import parse_reply

    ok = {'"Hello."': "Hello.", "Translation: Hi there": "Hi there",
          "Here is the translation:\nI'm fine.\n\nNote: casual speech": "I'm fine.",
          "<think>김민수 means...</think>\nHey, Min-su!": "Hey, Min-su!",
          "```\nOkay.\n```": "Okay.", "English: “Let's go.”": "Let's go."}
    for reply, want in ok.items():
        assert parse_reply(reply, "안녕하세요") == want
    for bad in ["", "   ", None, 42, "안녕하세요", "x" * 400]:
        with pytest.raises(GarbageReply):
            parse_reply(bad, "안녕하세요")


@pytest.mark.parametrize("first", ["500", "429", "garbage", "korean"])
def test_openai_recovers_from_one_bad_reply(srv, tmp_path, first):
    tr = llm(srv, tmp_path, retries=2)
    srv.script = [first]
    assert tr.translate([R("안녕하세요")]) == ["Hello."]
    assert len(srv.hits) == 2


def test_openai_honours_retry_after(srv, tmp_path):
    srv.retry_after = "1"
    srv.script = ["429"]
    assert llm(srv, tmp_path).translate([R("괜찮아?")]) == ["Are you okay?"]
    assert srv.hits[1]["t"] - srv.hits[0]["t"] >= 0.95


@pytest.mark.parametrize("what,words", [("500", "HTTP 500"), ("429", "rate-limited"),
                                        ("garbage", "unusable reply"), ("korean", "Korean")])
def test_openai_gives_up_after_retries(srv, tmp_path, what, words):
    tr = llm(srv, tmp_path, retries=1)
    srv.script = [what] * 5
    with pytest.raises(TranslatorError, match=words) as e:
        tr.translate([R("괜찮아?")])
    assert "'괜찮아?'" in str(e.value) and srv.url in str(e.value)
    assert len(srv.hits) == 2  # first try + 1 retry


def test_openai_timeout_on_a_hanging_server(srv, tmp_path):
    tr = llm(srv, tmp_path, timeout=0.3, retries=0)
    srv.script = ["hang"]
    t = time.monotonic()
    with pytest.raises(TranslatorError, match=r"no reply .* within 0.3 s") as e:
        tr.translate([R("안녕하세요")])
    assert time.monotonic() - t < 5
    assert "'안녕하세요'" in str(e.value)


def test_openai_drops_temperature_when_the_model_refuses_it(srv, tmp_path):
    tr = llm(srv, tmp_path)
    srv.script = ["temp400"]
    assert tr.translate(SCENE[:2]) == ["Hello.", "Are you okay?"]
    assert [("temperature" in h["body"]) for h in srv.hits] == [True, False, False]


def test_openai_wrong_path_or_model_says_so(srv, tmp_path):
    tr = get_translator(f"openai:{srv.url}/api", llm_model="nope", retries=0, no_cache=True)
    with pytest.raises(TranslatorError, match="HTTP 404.*'nope'.*API root"):
        tr.translate([R("안녕하세요")])


def test_openai_refused_port(tmp_path):
    tr = get_translator(f"openai:{refused_url()}/v1", llm_model="m", retries=0, timeout=1,
                        cache=tmp_path / "c.sqlite")
    with pytest.raises(TranslatorError, match="cannot connect .*refused") as e:
        tr.translate([R("안녕하세요")])
    assert "'안녕하세요'" in str(e.value)


def test_long_caption_is_shortened_in_errors(tmp_path):
    tr = get_translator(f"openai:{refused_url()}/v1", llm_model="m", retries=0, no_cache=True)
    with pytest.raises(TranslatorError) as e:
        tr.translate([R("아주 " * 50)])
    assert "…" in str(e.value) and len(str(e.value)) < 250


def test_captions_without_text_call_nothing(srv, tmp_path):
    tr = llm(srv, tmp_path)
    assert tr.translate([R(""), R("   "), R("…"), R("♪ ♪"), R("안녕하세요")]) == \
        [None, None, None, None, "Hello."]
    assert len(srv.hits) == 1
    assert tr.translate([]) == []


def test_work_done_before_a_failure_is_kept(srv, tmp_path):
    tr = llm(srv, tmp_path, retries=0)
    srv.script = ["ok", "ok", "500"]
    with pytest.raises(TranslatorError, match="밥 먹었어") as e:
        tr.translate(SCENE)
    assert e.value.done == ["Hello.", "Are you okay?", None]
    tr2 = llm(srv, tmp_path, retries=0)  # the same cache: only the failed caption is asked
    assert tr2.translate(SCENE) == ["Hello.", "Are you okay?", "Did you eat?"]
    assert len(srv.hits) == 4


# ------------------------------------------------------------------------------ cache

def test_cache_hit_makes_no_request(srv, tmp_path):
    tr = llm(srv, tmp_path)
    first = tr.translate(SCENE)
    assert len(srv.hits) == 3
    assert tr.translate(SCENE) == first
    assert len(srv.hits) == 3
    # identical requests in one call are asked once
    tr.translate([R("새 자막"), R("새 자막")])
    assert len(srv.hits) == 4
    # the key holds the context and the glossary: either changing asks again
    tr.translate([R("안녕하세요", before=["다른 장면"], after=["괜찮아?"])])
    assert len(srv.hits) == 5
    llm(srv, tmp_path, glossary={"안녕": "Hi"}).translate(SCENE[:1])
    assert len(srv.hits) == 6
    # --no-cache neither reads nor writes
    llm(srv, tmp_path, no_cache=True).translate(SCENE[:1])
    assert len(srv.hits) == 7


def test_cache_persists_across_processes(srv, tmp_path):
    cache = tmp_path / "shared.sqlite"
    tr = llm(srv, tmp_path, cache=cache)
    tr.translate(SCENE[:2])
    assert len(srv.hits) == 2
    # Another process, same cache file, while this one still holds it open: reads our two
    # results without asking, adds a third.
    code = ("import sys, json; from kseg.translate import get_translator; "
            "from kseg.types import TranslationRequest as R; "
            f"tr = get_translator('openai:{srv.url}/v1', llm_model='test-model', "
            f"cache=sys.argv[1]); reqs = {[(r.text, r.before, r.after) for r in SCENE]!r}; "
            "print(json.dumps(tr.translate([R(t, b, a) for t, b, a in reqs])))")
    out = subprocess.run([sys.executable, "-c", code, str(cache)], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["Hello.", "Are you okay?", "Did you eat?"]
    assert len(srv.hits) == 3
    assert tr.translate(SCENE) == ["Hello.", "Are you okay?", "Did you eat?"]
    assert len(srv.hits) == 3  # the child's result is visible here too
    assert len(TranslationCache(cache)) == 3


def test_default_cache_location(srv, tmp_path):
    from kseg.segment.registry import cache_dir

    tr = get_translator(f"openai:{srv.url}/v1", llm_model="m")
    tr.translate([R("안녕하세요")])
    assert (cache_dir() / "translations.sqlite").is_file()
    assert cache_dir() == tmp_path / "kseg-cache"


def test_corrupt_cache_warns_once_and_still_translates(srv, tmp_path, caplog):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not an SQLite database\n" * 100)
    caplog.set_level(logging.WARNING, logger="kseg.translate")
    tr = llm(srv, tmp_path, cache=bad)
    assert tr.translate(SCENE) == ["Hello.", "Are you okay?", "Did you eat?"]
    assert tr.translate(SCENE[:1]) == ["Hello."]
    warnings = [r for r in caplog.records if "cache" in r.getMessage()]
    assert len(warnings) == 1 and str(bad) in warnings[0].getMessage()
    assert bad.read_bytes().startswith(b"this is not")  # left alone, not overwritten
    # --cache FOLDER puts the usual file there
    folder = tmp_path / "cachedir"
    folder.mkdir()
    assert llm(srv, tmp_path, cache=folder).translate(SCENE[:1]) == ["Hello."]
    assert len(TranslationCache(folder / "translations.sqlite")) == 1
    # a cache path that cannot be created (its parent is a file) is no worse
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert llm(srv, tmp_path, cache=blocker / "c.sqlite").translate(SCENE[:1]) == ["Hello."]


# ------------------------------------------------------------------------------ DeepL

def test_deepl_batches_with_context(srv, tmp_path, monkeypatch):
    tr = deepl(srv, tmp_path, monkeypatch, glossary={"김민수": "Kim Min-su"})
    reqs = [*SCENE, R("김민수 씨", before=["밥 먹었어?"])]
    assert tr.translate(reqs) == ["Hello.", "Are you okay?", "Did you eat?", "Mr. Kim Min-su"]
    hit, = srv.hits
    assert hit["path"] == "/v2/translate"
    assert hit["headers"]["authorization"] == f"DeepL-Auth-Key {DKEY}"
    b = hit["body"]
    assert b["text"] == [r.text for r in reqs]
    assert b["source_lang"] == "KO" and b["target_lang"] == "EN-US"
    assert "어제 봤지?" in b["context"] and "김민수 = Kim Min-su" in b["context"]
    assert tr.translate(reqs) == ["Hello.", "Are you okay?", "Did you eat?", "Mr. Kim Min-su"]
    assert len(srv.hits) == 1  # cached


@pytest.mark.parametrize("first", ["429", "500", "garbage"])
def test_deepl_recovers(srv, tmp_path, monkeypatch, first):
    srv.script = [first]
    assert deepl(srv, tmp_path, monkeypatch).translate(SCENE[:2]) == ["Hello.", "Are you okay?"]
    assert len(srv.hits) == 2


def test_deepl_failures_are_one_line_and_keyless(srv, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    tr = deepl(srv, tmp_path, monkeypatch, retries=0)
    for what, words in [("echo400", "Bad request"), ("403", "DEEPL_AUTH_KEY"),
                        ("429", "rate-limited"), ("garbage", "unusable reply")]:
        srv.script = [what]
        with pytest.raises(TranslatorError, match=words) as e:
            tr.translate([R("괜찮아?")])
        msg = str(e.value)
        assert "'괜찮아?'" in msg and DKEY not in msg and "\n" not in msg
    assert DKEY not in caplog.text


def test_deepl_hang_and_refused(srv, tmp_path, monkeypatch):
    tr = deepl(srv, tmp_path, monkeypatch, retries=0, timeout=0.3)
    srv.script = ["hang"]
    t = time.monotonic()
    with pytest.raises(TranslatorError, match="no reply"):
        tr.translate([R("안녕하세요")])
    assert time.monotonic() - t < 5  # the SDK waits at least its 1 s back-off deadline
    monkeypatch.setenv("DEEPL_AUTH_KEY", DKEY)
    tr = get_translator(f"deepl:{refused_url()}", retries=0, no_cache=True)
    with pytest.raises(TranslatorError, match="cannot connect .*refused") as e:
        tr.translate(SCENE)
    assert "'안녕하세요'" in str(e.value) and "batch of 3" in str(e.value)


# ----------------------------------------------------------------- translation memory

def tm_file(tmp_path, text: str, name="m.tsv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_tm_tsv_matching_and_misses(tmp_path):
    p = tm_file(tmp_path, "# my memory\nko\ten\n\n안녕하세요\tHello.\n"
                          "괜찮아? 많이 놀랐지?\tAre you okay? That must have scared you.\n"
                          "웃음 폭발ㅋㅋㅋ\tLaughter explodes LOL\tnote column\n")
    tr = get_translator(f"tm:{p}")
    got = tr.translate([
        R("안녕하세요"),
        R("  괜찮아?   많이  놀랐지? "),  # spacing
        R("괜찮아 많이놀랐지…"),  # punctuation, ellipsis and spaces OCR lost or added
        R("웃음 폭발 ㅋㅋㅋ!!"),
        R("ＡＢＣ"),  # a miss
        R("…"),  # no text: not a miss
        R("모르는 자막"),
        R("ＡＢＣ"),
    ])
    assert got == ["Hello.", "Are you okay? That must have scared you.",
                   "Are you okay? That must have scared you.", "Laughter explodes LOL",
                   None, None, None, None]
    assert tr.misses == ["ＡＢＣ", "모르는 자막"]


def test_tm_exact_text_wins_over_loose_match(tmp_path):
    p = tm_file(tmp_path, "네.\tYes.\n네!\tYes!\n")
    tr = get_translator(f"tm:{p}")
    assert tr.translate([R("네!"), R("네."), R("네")]) == ["Yes!", "Yes.", "Yes."]


def test_tm_strict(tmp_path):
    p = tm_file(tmp_path, "안녕하세요\tHello.\n")
    tr = get_translator(f"tm:{p}", strict=True)
    assert tr.translate([R("안녕하세요"), R("")]) == ["Hello.", None]
    with pytest.raises(TranslatorError) as e:
        tr.translate([R("안녕하세요"), R("모르는 자막"), R("또 모르는 것")])
    msg = str(e.value)
    assert "'모르는 자막'" in msg and "translation memory" in msg and "1 more" in msg
    assert e.value.done == ["Hello.", None, None]


def test_tm_json_forms(tmp_path):
    for name, data in [("a.json", {"안녕하세요": "Hello."}),
                       ("b.json", [["안녕하세요", "Hello."]]),
                       ("c.json", [{"ko": "안녕하세요", "en": "Hello."}]),
                       ("d.txt", {"안녕하세요": "Hello."})]:  # JSON recognised by content
        p = tm_file(tmp_path, json.dumps(data, ensure_ascii=False), name)
        assert get_translator(f"tm:{p}").translate([R("안녕하세요!")]) == ["Hello."]


@pytest.mark.parametrize("text,where,words", [
    ("안녕하세요\tHello.\n괜찮아? Are you okay?\n", ":2:", "no TAB"),
    ("# c\n\n안녕하세요\t\n", ":3:", "no English"),
    ("\tHello.\n", ":1:", "empty Korean"),
    ("...\tDots\n", ": ", "no entries"),  # its one entry skipped (below)
    ("안녕\tHi\n안녕\tHello\n", ":2:", "different English (line 1)"),
    ("# only a comment\n", ": ", "no entries"),
    ('{"안녕": "Hi",\n "x": }', ":2:", "invalid JSON"),
    ('[["안녕", "Hi"], ["혼자"]]', ": entry 2:", "expected"),
    ('{"안녕": 3}', ": entry 1:", "strings"),
    ('"just a string"', ": ", "object or a list"),
])
def test_tm_malformed(tmp_path, text, where, words):
    p = tm_file(tmp_path, text, "bad.json" if text.lstrip()[:1] in "[{\"" else "bad.tsv")
    with pytest.raises(InputError) as e:
        get_translator(f"tm:{p}")
    msg = str(e.value)
    assert msg.startswith(str(p) + where) and words in msg, msg


def test_tm_lines_without_letters_are_skipped_with_a_warning(tmp_path, caplog):
    """A TM made from a show's subtitles holds lines of marks alone; they can never match (a
    caption without letters is not translated), so they are skipped, named, and the rest works."""
    p = tm_file(tmp_path, "안녕하세요\tHello.\n!!!\t!!!\n...\t...\n괜찮아?\tAre you okay?\n", "show.tsv")
    with caplog.at_level("WARNING", logger="kseg.translate"):
        tr = get_translator(f"tm:{p}")
    assert tr.translate([R("안녕하세요"), R("괜찮아?"), R("!!!")]) == ["Hello.", "Are you okay?", None]
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [f"{p}:2: '!!!' has no letters to match; skipped", f"{p}:3: '...' has no letters to match; skipped"]
    assert tr.misses == []  # "!!!" is not a miss: nothing to translate


def test_tm_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        get_translator(f"tm:{tmp_path / 'missing.tsv'}")
    with pytest.raises(InputError, match="folder"):
        get_translator(f"tm:{tmp_path}")
    p = tmp_path / "latin1.tsv"
    p.write_bytes("안녕\tHi\n".encode() + "caf\xe9\tcafe\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.tsv:2: not UTF-8"):
        get_translator(f"tm:{p}")
    bom = tmp_path / "bom.tsv"
    bom.write_bytes("\ufeff안녕\tHi\n".encode())
    assert get_translator(f"tm:{bom}").translate([R("안녕")]) == ["Hi"]


def test_malformed_glossary_is_an_input_error(srv, tmp_path):
    g = tm_file(tmp_path, "김민수\tKim Min-su\n박지훈 Park\n", "g.tsv")
    with pytest.raises(InputError, match=r"g.tsv:2: no TAB"):
        llm(srv, tmp_path, glossary=g)


# ------------------------------------------------------------ the caption layer (frames and video)

def test_a_letter_misread_in_a_syllable_still_finds_its_memory_entry_and_a_tie_finds_none(tmp_path):
    """A misread is mostly one letter of a syllable (bench/real, end to end: `오시기로` read
    `오니미로`, `처량` `처랑`, `얼마짜리` `열아까리`): compared letter by letter the memory finds
    the caption, where syllable by syllable each slip cost a whole syllable and they fell under
    the cut. A reading as near one entry as another with other English is no match."""
    from kseg.translate.tm import Memory

    tm = tmp_path / "tm.tsv"
    tm.write_text("오시기로 했어!\tShe's coming!\n이건 얼마짜리예요?\tHow much is this one?\n처량\tPitiful\n"
                  "지금\tNow\n기름\tOil\n소울 왕자!\tSoul prince!\n", encoding="utf-8")
    mem = Memory.load(tm)
    assert mem.fuzzy("오니미로했어!!")[:2] == ("오시기로했어", "She's coming!")
    assert mem.fuzzy("이건 열아까리예요?")[1] == "How much is this one?"
    assert mem.fuzzy("처랑")[1] == "Pitiful"
    assert mem.fuzzy("보울 왕!")[1] == "Soul prince!"
    assert mem.fuzzy("기금") is None  # one letter from 지금 and one from 기름
    assert mem.fuzzy("완전히 다른 문장이에요") is None


def test_caption_layer_context_line_retry_and_fuzzy(tmp_path):
    from kseg.translate.captions import CaptionText, translate_captions

    tm = tmp_path / "tm.tsv"
    tm.write_text("첫 줄입니다\tFirst line.\n둘째 줄이에요\tSecond line.\n"
                  "내일 아침 9시까지 보고서 올려\tReport by 9 tomorrow.\n통째로\tWhole.\n", encoding="utf-8")
    tr = get_translator(f"tm:{tm}")
    seen: list[R] = []
    real = tr.translate
    tr.translate = lambda reqs: (seen.extend(reqs), real(reqs))[1]
    caps = [CaptionText("통째로", ["통째로"]),
            CaptionText("첫 줄입니다 둘째 줄이에요", ["첫 줄입니다", "둘째 줄이에요"]),  # held line by line
            CaptionText("내일 아침 9시까지 보고서 올러", ["내일 아침 9시까지 보고서 올러"]),  # OCR slip: fuzzy
            CaptionText("없는 자막", ["없는", "자막"]),
            # held line by line, one line an OCR slip: the slip matched alone, the block joined
            CaptionText("첫 줄입니다 둘재 줄이에요", ["첫 줄입니다", "둘재 줄이에요"]),
            CaptionText("첫 줄입니다 전혀 없는 다른 줄", ["첫 줄입니다", "전혀 없는 다른 줄"])]  # one line unknown
    out, hits = translate_captions(tr, caps, context=1, history=["앞 장면"])
    assert out == ["Whole.", "First line. Second line.", "Report by 9 tomorrow.", None,
                   "First line. Second line.", None]
    assert [(h.caption, h.entry) for h in hits] == [("내일 아침 9시까지 보고서 올러", "내일아침9시까지보고서올려"),
                                                    ("둘재 줄이에요", "둘째줄이에요")]
    assert tr.fuzzy_hits[0][0] == "내일 아침 9시까지 보고서 올러"  # the memory reports what it used
    first: dict[str, R] = {}
    for r in seen:
        first.setdefault(r.text, r)
    assert first["통째로"].before == ["앞 장면"] and first["통째로"].after == ["첫 줄입니다 둘째 줄이에요"]
    assert first["첫 줄입니다"].before == ["통째로"]  # a line inherits its block's context
    # only some captions (a video batch): answers in the order asked, context from all
    out, _ = translate_captions(tr, caps, indices=[2, 0], context=1)
    assert out == ["Report by 9 tomorrow.", "Whole."]


def test_replies_and_errors_reach_nothing_raw(srv, tmp_path, monkeypatch):
    """Escapes, control and bidi characters and an echoed API key never reach the outputs, the
    cache or the terminal (issue 24)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    tr = llm(srv, tmp_path)
    srv.script = ["nasty"]
    out = tr.translate([R("안녕하세요")])[0]
    assert out == english("안녕하세요") + " ***"
    import sqlite3

    rows = list(sqlite3.connect(tr.cache.path).execute("select * from translations"))
    assert rows and not any("sk-secret" in str(c) or "\x1b" in str(c) or "\u202e" in str(c)
                            for row in rows for c in row)
    srv.script = ["ansi500"] * 10
    with pytest.raises(TranslatorError) as e:
        tr.translate([R("다른 자막")])
    msg = str(e.value)
    assert "boom" in msg and "\x1b" not in msg and "\x07" not in msg and "\u202e" not in msg
