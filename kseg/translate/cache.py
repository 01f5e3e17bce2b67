"""Persistent translation cache: one SQLite file, so re-runs and repeated captions cost nothing.

SQLite rather than a JSON file because two kseg processes may translate at once: WAL mode plus a
busy timeout lets them read and write the same file without losing entries. Every result is
committed as it arrives, so an interrupted run keeps what it paid for. A cache that cannot be
opened or read (corrupt file, wrong schema, unwritable folder) is never fatal: one warning, and
the run goes on uncached.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger("kseg.translate")

SCHEMA = """CREATE TABLE IF NOT EXISTS translations (
    key TEXT PRIMARY KEY, backend TEXT NOT NULL, source TEXT NOT NULL,
    translation TEXT NOT NULL, created REAL NOT NULL)"""


def default_path() -> Path:
    # Imported here: kseg.segment pulls in torch, which a TM-only run never needs.
    from ..paths import cache_dir

    return cache_dir() / "translations.sqlite"


class TranslationCache:
    """get(key) -> str | None and put(key, backend, source, translation); keys come from the
    translator (sha256 of backend, model, text, context and glossary)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        if self.path.is_dir():  # --cache FOLDER: the usual file name inside it
            self.path = self.path / "translations.sqlite"
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._lock = threading.Lock()

    def _fail(self, e: BaseException) -> None:
        if not self._broken:
            log.warning("translation cache %s unusable (%s); continuing without it", self.path,
                        " ".join(str(e).split()) or type(e).__name__)
        self._broken = True
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                     check_same_thread=False)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(SCHEMA)
                    db.execute("SELECT key, backend, source, translation, created "
                               "FROM translations LIMIT 1").fetchall()
                except BaseException:
                    db.close()
                    raise
                self._db = db
            except (sqlite3.Error, OSError) as e:
                self._fail(e)
                return None
        return self._db

    def get(self, key: str) -> str | None:
        with self._lock:
            db = self._conn()
            if db is None:
                return None
            try:
                row = db.execute("SELECT translation FROM translations WHERE key = ?",
                                 (key,)).fetchone()
            except sqlite3.Error as e:
                self._fail(e)
                return None
            return row[0] if row and isinstance(row[0], str) else None

    def put(self, key: str, backend: str, source: str, translation: str) -> None:
        with self._lock:
            db = self._conn()
            if db is None:
                return
            try:
                db.execute("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)",
                           (key, backend, source, translation, time.time()))
            except sqlite3.Error as e:
                self._fail(e)

    def __len__(self) -> int:
        with self._lock:
            db = self._conn()
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT COUNT(*) FROM translations").fetchone()[0])
            except sqlite3.Error as e:
                self._fail(e)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
