"""What every kseg command shares: the typer app, stderr, one-line errors, JSON Lines output,
the per-input batch loop (``run_batch``) and the option types.

The ``kseg`` command line: thin typer commands over the library.

Conventions every command follows (add yours the same way: parse options, call the
library, report through ``_error``/``_warn``):

* results go to stdout (``--json``: one JSON object per line, and a failed input's
  ``{"image", "status": "failed", "error"}`` in its place), everything else (progress,
  warnings, errors) to stderr; never a prompt;
* each failure is one line, ``kseg: error: <path>: <reason>`` (``KSEG_DEBUG=1``
  adds the traceback of unexpected errors);
* exit 0 when everything was done, 1 when something failed (per-input failures do
  not stop the other inputs; an unwritable ``-o`` or a missing model fail them all),
  2 for usage errors (typer's own).

Batch commands over images (``segment`` now; ``erase``, ``translate`` later) reuse
``run_batch``, which owns the per-input loop, output naming, progress and exit code.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from kseg.errors import KsegError

app = typer.Typer(
    name="kseg",
    help="Find, segment (SAM), erase and translate burned-in Korean captions in video frames.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from kseg import __version__

        typer.echo(f"kseg {__version__}")
        raise typer.Exit()


class _LibraryWarnings(logging.Handler):
    """The library's own warnings (loggers ``kseg.*``: an unusable translation cache, TM lines
    skipped) as the command line's one-line ``kseg: warning:``, not Python's bare fallback."""

    def emit(self, record: logging.LogRecord) -> None:
        _warn(record.getMessage())


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print kseg's version and exit.")] = False) -> None:
    """Find, segment (SAM), erase and translate burned-in Korean captions in video frames."""
    log = logging.getLogger("kseg")
    if not any(isinstance(h, _LibraryWarnings) for h in log.handlers):
        log.addHandler(_LibraryWarnings(logging.WARNING))


models_app = typer.Typer(help="List and download segmentation models.", no_args_is_help=True)
app.add_typer(models_app, name="models")

_stderr = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)  # paths verbatim


def _line(text: str) -> str:
    """One line, whatever the message contained, and nothing a terminal would act on (a
    server's error text can carry escape sequences)."""
    from kseg.errors import plain_text

    return " ".join(plain_text(text).split())


def _error(message: str) -> None:
    _stderr.print(f"kseg: error: {_line(message)}", markup=False)


def _check_font(font: Path | None) -> None:
    """A --font that FreeType cannot open is a one-line error (exit 1) before any work."""
    if font is None:
        return
    from kseg.render import load_font

    try:
        load_font(font, 20)
    except KsegError as e:
        _error(str(e))
        raise typer.Exit(1)


def _check_font_scale(font_scale: float) -> None:
    """A --font-scale outside its range is a one-line usage error (exit 2)."""
    from kseg.render import check_font_scale

    try:
        check_font_scale(font_scale)
    except ValueError as e:
        _error(f"--font-scale: {e}")
        raise typer.Exit(2)


def _warn(message: str) -> None:
    _stderr.print(f"kseg: warning: {_line(message)}", markup=False)


def _emit_json(obj: Any) -> None:
    """One JSON Lines record on stdout, UTF-8 whatever the locale says."""
    from kseg.imageio import dumps_json

    data = (dumps_json(obj) + "\n").encode("utf-8")
    buf = getattr(sys.stdout, "buffer", None)
    if buf is not None:
        sys.stdout.flush()
        buf.write(data)
        buf.flush()
    else:  # pragma: no cover - a text-only stream
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()


def _failure_text(path: str, e: BaseException) -> str:
    if isinstance(e, KsegError):
        msg = str(e)
        return msg if msg.startswith(path) else f"{path}: {msg}"
    if isinstance(e, MemoryError):
        return f"{path}: out of memory"
    if os.environ.get("KSEG_DEBUG"):
        traceback.print_exc(file=sys.stderr)
    hint = "" if os.environ.get("KSEG_DEBUG") else " (KSEG_DEBUG=1 shows the traceback)"
    return f"{path}: unexpected {type(e).__name__}: {e}{hint}"


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class _Unmatched(str):
    """A folder or glob that gave no input: its one-line error, and the ``path`` as given."""

    path: str

    def __new__(cls, path: Path, reason: str) -> _Unmatched:
        self = super().__new__(cls, f"{path}: {reason}")
        self.path = str(path)
        return self


def expand_inputs(paths: list[Path], suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
                  what: str = "images") -> list[Path | str]:
    """Folders become their images (or ``suffixes``; sorted, not recursive) and unexpanded globs
    (a quoted ``'ep01/*.png'``, or a shell that does not expand them) their matches, in the order
    given; a folder or glob with nothing becomes its one-line error (a str) in its place."""
    import glob

    out: list[Path | str] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in suffixes)
            out += found or [_Unmatched(p, f"a folder with no {what} ({', '.join('*' + s for s in suffixes)})")]
        elif not p.exists() and glob.has_magic(str(p)):
            found = sorted(Path(q) for q in glob.glob(str(p)) if Path(q).is_file())
            out += found or [_Unmatched(p, "no file matches")]
        else:
            out.append(p)
    return out


def _checked(inputs: list[Path | str]) -> list[tuple[str, Path | None, str | None]]:
    """Each input as (name, path, None) when it passed the cheap checks, (name, None, error)
    when not (its one-line error printed); a file given twice is kept once, with a warning."""
    from kseg.imageio import check_input

    items: list[tuple[str, Path | None, str | None]] = []
    seen: set[str] = set()
    for p in inputs:
        if isinstance(p, str):
            _error(p)
            items.append((p.path if isinstance(p, _Unmatched) else p, None, p))
            continue
        name = str(p)
        try:
            check_input(p)
        except KsegError as e:
            _error(str(e))
            items.append((name, None, str(e)))
            continue
        key = os.path.realpath(p)
        if key in seen:
            _warn(f"{name}: given more than once, processed once")
            continue
        seen.add(key)
        items.append((name, p, None))
    return items


def run_batch(
    paths: list[Path],
    out: Path,
    setup: Callable[[], Any],
    work: Callable[[Any, str, Path, str], dict[str, Any] | None],
    *,
    as_json: bool,
    quiet: bool,
    label: str = "working",
) -> int:
    """Run ``work(state, path, out, stem)`` for each input and return the exit code.

    ``setup()`` (model loading) runs once, and only when at least one input passed the
    cheap checks; ``work`` returns the JSON record for ``--json`` (or None). With ``--json``
    every input that fails gets a record too, in its place among the inputs:
    ``{"image": PATH, "status": "failed", "error": MESSAGE}`` (as ``--season`` reports a failed
    episode), so a script over a season's frames learns which ones to redo from stdout alone.
    """
    from kseg.imageio import ensure_out_dir
    from kseg.pipeline import output_stems

    def fail(image: str, message: str) -> None:
        if as_json:
            _emit_json({"image": image, "status": "failed", "error": _line(message)})

    inputs = expand_inputs(paths)
    try:
        ensure_out_dir(out)
    except KsegError as e:
        _error(str(e))
        for p in inputs:
            fail(p.path if isinstance(p, _Unmatched) else str(p), str(e))
        return 1

    items = _checked(inputs)
    failed = sum(p is None for _, p, _ in items)
    todo = [(name, p) for name, p, err in items if p is not None]
    if not todo:
        for name, _, err in items:
            fail(name, err or "")
        return 1

    stems = output_stems([p for _, p in todo], out)
    for (name, p), stem in zip(todo, stems):
        if stem != p.stem:
            _warn(f"{name}: {p.stem}.* would overwrite another input's outputs or an input; "
                  f"writing {stem}.* instead")

    try:
        with _stderr.status("loading models", spinner="dots") if not quiet else nullcontext():
            state = setup()
    except Exception as e:  # a missing/corrupt model fails every input: one line, exit 1
        msg = str(e) if isinstance(e, KsegError) else _failure_text("model", e)
        _error(msg)
        for name, _, err in items:
            fail(name, err or msg)
        return 1

    ok = 0
    progress = None
    if not quiet and _stderr.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            console=_stderr, transient=True)
        task = progress.add_task(label, total=len(todo))
        progress.start()
    try:
        next_stem = iter(stems)
        for name, p, err in items:
            if p is None:
                fail(name, err or "")
                continue
            stem = next(next_stem)
            t0 = time.perf_counter()
            try:
                record = work(state, name, out, stem)
            except Exception as e:
                _error(msg := _failure_text(name, e))
                fail(name, msg)
                failed += 1
            else:
                ok += 1
                if as_json and record is not None:
                    _emit_json(record)
                if not quiet and progress is None:
                    _stderr.print(f"kseg: done {name} ({time.perf_counter() - t0:.2f} s)",
                                  markup=False)
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
    if not quiet:
        _stderr.print(f"kseg: {ok} done, {failed} failed, outputs in {out}", markup=False)
    return 1 if failed else 0



Recognizer = Literal["auto", "kseg", "easyocr", "tesseract", "none"]
Device = Literal["auto", "cpu", "cuda"]

DetectProfile = Literal["still", "video"]
DETECT_HELP = ("Text detector profile: still (finer, enlarges small images such as memes and screenshots; "
               "about 1.5 s per 720p frame on 2 CPU cores) or video (translate-video's, about 6x faster, "
               "for 720p/1080p broadcast frames with ordinary-sized captions).")
ALL_TEXT_HELP = ("Also treat text with no Korean in it as captions (by default a region read as only "
                 "Latin letters, digits and symbols, with at least two letters or digits, is left alone: "
                 "channel logos, clocks, English already on screen).")
DetectOpt = Annotated[DetectProfile, typer.Option("--detect", help=DETECT_HELP)]
AllTextOpt = Annotated[bool, typer.Option("--all-text", help=ALL_TEXT_HELP)]
STILL_OVERLAYS_HELP = ("Also treat small text in a top corner of the frame (the top 19 %, within 36 % of the width "
                       "from the left or a quarter from the right: where channel logos and programme title "
                       "bars sit; in a collage, of each "
                       "screenshot instead), and text repeated at the same place near the top of a "
                       "collage's screenshots, as captions. By default it is left as it is and listed under "
                       "\"overlays\" in the JSON.")
StillOverlaysOpt = Annotated[bool, typer.Option("--include-overlays", help=STILL_OVERLAYS_HELP)]
LM = Literal["auto", "kiwi", "none"]
LM_HELP = ("Korean language model for kseg's recogniser: kiwi (beam search rescored by Kiwi), none "
           "(greedy CTC, the pre-0.2 reading), auto (kiwi when kiwipiepy is installed).")



def _short(text: str, n: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _progress(label: str, total: int | None, quiet: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=_stderr, transient=True, disable=quiet)
    return bar, bar.add_task(label, total=total)


def _as_dict(m: Any) -> dict[str, Any]:
    if hasattr(m, "to_json"):
        return m.to_json()
    if isinstance(m, dict):
        return m
    if hasattr(m, "__dataclass_fields__"):
        from dataclasses import asdict

        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(m).items()}
    return {"model": str(m)}
