"""kseg: find, segment, erase and translate burned-in Korean captions.

    import kseg
    pipe = kseg.SegmentPipeline()                          # detect -> segment (SAM) -> recognise
    result = pipe.process(kseg.load_image("frame.png"))    # FrameResult: .regions, .mask, .to_json()
    cp = kseg.CaptionPipeline(pipe, kseg.get_translator("tm:memory.tsv"))
    kseg.translate_video("ep01.mp4", "ep01.en.mp4", kseg.VideoOptions(translator="tm:memory.tsv"))

The names are loaded on first use, so ``import kseg`` stays light (no torch, no PyAV).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SegmentPipeline": "kseg.pipeline", "CaptionPipeline": "kseg.pipeline",
    "load_image": "kseg.imageio", "get_translator": "kseg.translate", "TranslationRequest": "kseg.types",
    "translate_video": "kseg.video", "VideoOptions": "kseg.video", "FrameResult": "kseg.types",
    "Region": "kseg.types", "Caption": "kseg.types", "Style": "kseg.types", "KsegError": "kseg.errors",
    "InputError": "kseg.errors", "OutputError": "kseg.errors", "ModelError": "kseg.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
