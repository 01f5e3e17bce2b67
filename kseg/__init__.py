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


def _no_triton_without_a_gpu() -> None:
    """torchvision (EasyOCR's CRAFT is built on it) imports torch._dynamo, which loads Triton, the
    GPU kernel compiler: 60-75 MB of resident memory (libtriton and its modules) that a Linux
    machine with no GPU can never use, counted against translate-video's 2 GB at 1080p. kseg
    compiles nothing; there the import is refused as if Triton were not installed (torch then
    does without it). ``KSEG_TRITON=1`` keeps it."""
    import os
    import sys

    if not sys.platform.startswith("linux") or "triton" in sys.modules or os.environ.get("KSEG_TRITON") == "1":
        return
    # NVIDIA, AMD (ROCm), WSL and any DRM device (Intel XPU's Triton): a GPU may be there
    if any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg", "/dev/dri")):
        return
    sys.modules["triton"] = None  # type: ignore[assignment]


_no_triton_without_a_gpu()

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
