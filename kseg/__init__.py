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

ONEDNN_CACHE = 128  # per-input-shape kernels oneDNN keeps (its default: 1024)


def _bounded_onednn_cache() -> None:
    """oneDNN (torch's CPU convolutions) keeps a compiled kernel for every input shape it meets,
    up to 1024. Video meets new shapes all the time (CRAFT's windows, caption strips, tiles), so
    a 6-minute 1080p episode climbed from 1.86 to 2.2 GB resident, past issue 22's 2 GB; with 128
    kept it stays at 1.75-1.83 GB; kernels made again cost a still frame a few per cent. Only a
    default: a value the user set (``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` or the older
    ``DNNL_PRIMITIVE_CACHE_CAPACITY``) is kept. oneDNN reads it when it makes its first kernel,
    so it must be set before torch runs a convolution."""
    import os

    if "ONEDNN_PRIMITIVE_CACHE_CAPACITY" not in os.environ and "DNNL_PRIMITIVE_CACHE_CAPACITY" not in os.environ:
        os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = str(ONEDNN_CACHE)


_bounded_onednn_cache()

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
