"""The ``kseg`` command line: thin typer commands over the library, one module per group.

- ``common``: the app, stderr, one-line errors, JSON Lines, ``run_batch`` (the per-input loop);
- ``frames``: ``segment``, ``erase``, ``translate``;
- ``video``: ``translate-video``;
- ``models``: ``models list``, ``models pull``;
- ``lab``: ``synth``, ``train``, ``eval``, ``train-ocr``, ``train-fill``.

Every module imports only typer and rich at the top; each command imports the library it
calls when it runs, so ``kseg --help`` loads neither torch nor PyAV.
"""
from __future__ import annotations

from . import frames, lab, models  # noqa: F401 - importing registers the commands
from .common import app, models_app  # noqa: F401
from .video import translate_video

app.command("translate-video")(translate_video)
