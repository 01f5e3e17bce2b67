"""kseg: find, segment, erase and translate burned-in Korean captions.

    import kseg
    result = kseg.segment("frame.png")                     # path or array (grey/RGB/RGBA, 8/16-bit)
    clean = kseg.erase("frame.png")                        # captions found, then inpainted
    english, result = kseg.translate("frame.png", "tm:memory.tsv")   # or any str -> str function
    kseg.translate_video("ep01.mp4", "ep01.en.mp4", translator="tm:memory.tsv")

    pipe = kseg.SegmentPipeline()                          # detect -> segment (SAM) -> recognise
    result = pipe.process(kseg.load_image("frame.png"))    # FrameResult: .regions, .mask, .to_json()
    cp = kseg.CaptionPipeline(pipe, kseg.get_translator("tm:memory.tsv"))

The names are loaded on first use, so ``import kseg`` stays light (no torch, no PyAV).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SegmentPipeline": "kseg.pipeline", "CaptionPipeline": "kseg.pipeline",
    "load_image": "kseg.imageio", "get_translator": "kseg.translate", "TranslationRequest": "kseg.types",
    "translate_video": "kseg.api", "translate_season": "kseg.video.season", "VideoOptions": "kseg.video", "FrameResult": "kseg.types",
    "Region": "kseg.types", "Caption": "kseg.types", "Style": "kseg.types", "KsegError": "kseg.errors",
    "InputError": "kseg.errors", "OutputError": "kseg.errors", "ModelError": "kseg.errors",
}
# Stage packages that are also the package-top functions (kseg/_callable.py says how)
_CALLABLE = ("segment", "erase", "translate")
__all__ = ["__version__", *_EXPORTS, *_CALLABLE]


def __getattr__(name: str) -> Any:
    if name in _CALLABLE:
        return importlib.import_module(f"kseg.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
