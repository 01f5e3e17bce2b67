"""The package-top functions: ``kseg.segment``, ``kseg.erase``, ``kseg.translate``,
``kseg.translate_video``, for scripts that want one call per frame, not pipeline objects.

``segment``, ``erase`` and ``translate`` are also the names of stage packages
(``kseg/segment/`` ...), which the folder layout keeps; those three modules are made callable
(``kseg._callable``), so ``kseg.segment(image)`` runs the function below while
``kseg.segment.TextSegmenter`` stays the stage's class. The pipelines are loaded once per set
of options and kept, so a loop over frames pays for loading once.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from kseg.types import FrameResult

Image = np.ndarray | str | os.PathLike

_lock = threading.Lock()
_pipes: dict[tuple, Any] = {}


def _image(image: Image, who: str) -> tuple[np.ndarray, str]:
    from kseg.imageio import as_rgb, load_image

    if isinstance(image, (str, os.PathLike)):
        return load_image(image), str(image)
    return as_rgb(image, who), "<array>"


def pipeline(model: str | None = None, recognizer: str = "auto", device: str = "auto",
             lm: str = "auto", detect: str = "still", all_text: bool = False, include_overlays: bool = False) -> Any:
    """The ``SegmentPipeline`` for these options, loaded on first use and shared afterwards."""
    key = (model, recognizer, device, lm, detect, all_text, include_overlays)
    with _lock:
        if key not in _pipes:
            from kseg.pipeline import SegmentPipeline

            _pipes[key] = SegmentPipeline(model=model, recognizer=recognizer, device=device, lm=lm,
                                           detect=detect, all_text=all_text,
                                           include_overlays=include_overlays)
        return _pipes[key]


def segment(image: Image, *, model: str | None = None, recognizer: str = "auto", device: str = "auto",
            lm: str = "auto", detect: str = "still", all_text: bool = False,
            include_overlays: bool = False, pipeline_obj: Any = None) -> FrameResult:
    """Find, segment (SAM) and read the burned-in Korean captions of one frame.

    ``image``: a file path, or an array in any common layout (H x W grey, RGB, RGBA; uint8 or
    uint16). Returns a ``FrameResult``: ``.regions`` (box, mask, text per line), ``.mask`` (all
    caption pixels), ``.to_json()``. Options as for ``kseg segment`` (``detect``: "still" or
    the faster "video" text detector profile; ``all_text``: keep text with no Korean in it;
    ``include_overlays``: keep small text in a top corner, a logo's or programme bar's place,
    which is otherwise left alone and listed in ``.overlays``).
    """
    arr, name = _image(image, "kseg.segment")
    pipe = pipeline_obj or pipeline(model, recognizer, device, lm, detect, all_text, include_overlays)
    return pipe.process(arr, name)


def erase(image: Image, mask: np.ndarray | None = None, *, method: str = "auto", grow: int | None = None,
          keep: np.ndarray | None = None, pipeline_obj: Any = None, **segment_options: Any) -> np.ndarray:
    """The frame (RGB uint8) with its Korean captions inpainted.

    With ``mask`` (H x W, bool or 0/255) those pixels are erased and no model is loaded;
    without, the captions are found first as by ``segment`` (its options as keywords), and the
    text it leaves alone (``overlays``: a logo) is kept whole. ``keep`` (H x W): pixels left as
    they are however far the erased region grows. ``method``: auto, harmonic, telea, ns
    (``kseg.erase.METHODS``).
    """
    from kseg.erase import erase as erase_mask  # the module's function, not the callable module
    from kseg.pipeline import kept_text

    arr, _ = _image(image, "kseg.erase")
    if mask is None:
        result = segment(arr, pipeline_obj=pipeline_obj, **segment_options)
        mask = result.mask
        found = kept_text(result, set(range(len(result.regions))))
        if keep is None or np.shape(keep) == found.shape:  # else erase's own check names the mismatch
            keep = found if keep is None else np.asarray(keep).astype(bool) | found
    return erase_mask(arr, mask, method=method, grow=grow, keep=keep)


def translate(image: Image, translator: Any, *, font: str | os.PathLike[str] | None = None,
              font_scale: float = 1.0, erase_method: str = "auto", pipeline_obj: Any = None,
              **segment_options: Any) -> tuple[np.ndarray, FrameResult]:
    """The frame with its Korean captions replaced by English in their style, and the result.

    ``translator``: a spec (``"tm:memory.tsv"``, ``"openai:URL"``, ``"deepl"``), a translator
    object, or a plain function ``str -> str | None``. Captions left untranslated stay as they
    are; ``result.extra["captions"]`` says what was done with each. ``font_scale``: the
    English this much larger than the size matched to the Korean (0.25-4).
    """
    from kseg.pipeline import CaptionPipeline
    from kseg.translate import as_translator, get_translator

    arr, name = _image(image, "kseg.translate")
    tr = get_translator(translator) if isinstance(translator, str) else as_translator(translator)
    pipe = pipeline_obj or pipeline(**segment_options)
    result, out, _ = CaptionPipeline(pipe, tr, erase_method=erase_method, font=font,
                                     font_scale=font_scale).translate(arr, name)
    return out, result


def translate_video(src: str | os.PathLike[str], out: str | os.PathLike[str], options: Any = None,
                    **kwargs: Any) -> dict[str, Any]:
    """``kseg translate-video`` as a call: see ``kseg.video.translate_video``; returns its summary."""
    from kseg.video import translate_video as run

    return run(Path(src), Path(out), options, **kwargs)
