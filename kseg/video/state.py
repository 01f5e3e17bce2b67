"""The resume folder ``OUT.kseg/`` of ``translate-video``: what the analysis and the translator
have finished, appended as it happens, so an interrupted run resumes (``--resume``)."""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from kseg.imageio import _out_error, dumps_json, write_json, write_png
from kseg.video.events import Event

STATE_VERSION = 1
Warn = Callable[[str], None]


class State:
    """The resume folder OUT.kseg/ (see module doc)."""

    def __init__(self, out: Path, key: dict[str, Any]):
        self.dir = out.with_name(out.name + ".kseg")
        self.key = key
        self.meta: dict[str, Any] = {}

    @property
    def events_path(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def tr_path(self) -> Path:
        return self.dir / "translations.jsonl"

    def open(self, resume: bool, warn: Warn) -> bool:
        """Create or reuse the folder; True when a compatible earlier run is resumed."""
        old = None
        if (self.dir / "state.json").is_file():
            try:
                old = json.loads((self.dir / "state.json").read_text("utf-8"))
            except (OSError, ValueError):
                old = None
        if resume and old is not None and old.get("key") == self.key:
            self.meta = old
            return True
        if resume:
            warn(f"{self.dir}: nothing to resume" if old is None else
                 f"{self.dir}: made for another input or other options; starting afresh")
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            (self.dir / "masks").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _out_error(self.dir, e) from None
        self.meta = {"version": STATE_VERSION, "key": self.key, "checkpoint": -1, "analysed": False}
        self.save()
        return False

    def save(self) -> None:
        write_json(self.dir / "state.json", self.meta)

    def _append(self, path: Path, rec: dict[str, Any]) -> None:
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(dumps_json(rec) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise _out_error(path, e) from None

    def add_event(self, ev: Event) -> None:
        write_png(self.dir / "masks" / f"{ev.id:06d}.png", ev.mask)
        rec = ev.to_json()
        rec["alpha"] = {str(k): round(v, 4) for k, v in ev.alpha.items()}
        self._append(self.events_path, rec)

    def events(self) -> list[Event]:
        """Saved events that end before the checkpoint (later ones are found again)."""
        out: dict[int, Event] = {}
        if not self.events_path.is_file():
            return []
        cp = int(self.meta.get("checkpoint", -1))
        for line in self.events_path.read_text("utf-8").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue  # a line torn by the interruption
            if not self.meta.get("analysed") and int(d["erase_to"]) > cp:
                continue
            m = cv2.imread(str(self.dir / "masks" / f"{int(d['event']):06d}.png"), cv2.IMREAD_UNCHANGED)
            if m is None:
                continue
            out[int(d["event"])] = Event.from_json(d, m > 0)
        return [out[k] for k in sorted(out)]

    def add_translations(self, items: list[tuple[Event, str | None]], spec: str) -> None:
        for ev, tr in items:
            self._append(self.tr_path, {"event": ev.id, "text": ev.text, "spec": spec, "translation": tr})

    def translations(self, spec: str) -> dict[tuple[int, str], str | None]:
        out: dict[tuple[int, str], str | None] = {}
        if self.tr_path.is_file():
            for line in self.tr_path.read_text("utf-8").splitlines():
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("spec") == spec:
                    out[(int(d["event"]), d["text"])] = d.get("translation")
        return out

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _file_key(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    st = path.stat()
    return {"input": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, **options}


def _file_key(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    st = path.stat()
    return {"input": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, **options}
