"""Where kseg keeps per-user files; no heavy imports, so any stage can ask cheaply."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$KSEG_CACHE, else the platform's user cache folder (~/.cache/kseg on Linux)."""
    env = os.environ.get("KSEG_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("kseg"))
