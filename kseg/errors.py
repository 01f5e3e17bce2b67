"""One exception family, so the CLI can turn any failure into one clear line."""

import re


class KsegError(Exception):
    """A failure the user can act on; ``str(e)`` is the one-line message."""


class InputError(KsegError):
    """An input file kseg cannot read (missing, corrupt, unsupported, too large)."""


class OutputError(KsegError):
    """An output kseg cannot write (unwritable folder, full disk)."""


class ModelError(KsegError):
    """A model that is missing, corrupt or incompatible."""


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# C0/C1 controls, DEL, and the bidirectional overrides, embeddings, isolates and marks that
# reorder what a terminal, an editor or a subtitle renderer shows (U+202E makes "exe.txt" of
# "txt.exe")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: object) -> str:
    """Text that came from outside (a translation server's reply or error, a file) made safe to
    print, store and draw: terminal escape sequences and control or bidi-control characters
    removed, tabs and newlines kept as spaces by the caller's own folding."""
    return _UNSAFE.sub("", _ESCAPES.sub("", str(text)))
