"""``kseg eval --task ocr``: caption-line recognition on held-out rendered lines.

Lines come from ``kseg.synth.lines`` with the eval split (fonts and backgrounds training
never sees). Each recogniser gets what the pipeline would give it: the canvas, the
detector-like (jittered) box as a TextLine and the line's caption footprint (the true one
here, standing in for a perfect SAM mask), through its own ``recognize``. Methods:

* ``kseg``           kseg's CRNN (its default input, from the model file; ``views`` framings)
* ``tesseract-raw``  Tesseract kor, psm 7, on the raw strip (no mask: Otsu fallback)
* ``tesseract-mask`` Tesseract kor on the mask-cleaned strip (the existing TesseractRecognizer)

CER = edit distance / reference length, summed over lines; "nospace" drops all spaces
from both sides first (word spacing errors excluded). Exact = whole line right.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from .metrics import edit_distance


class _Acc:
    def __init__(self):
        self.n = self.err = self.ref = self.err_ns = self.ref_ns = self.exact = self.exact_ns = 0
        self.sec = 0.0

    def add(self, got: str, want: str, sec: float) -> None:
        got, want = " ".join(got.split()), " ".join(want.split())
        g2, w2 = got.replace(" ", ""), want.replace(" ", "")
        self.n += 1
        self.err += edit_distance(got, want)
        self.ref += len(want)
        self.err_ns += edit_distance(g2, w2)
        self.ref_ns += len(w2)
        self.exact += got == want
        self.exact_ns += g2 == w2
        self.sec += sec

    def row(self) -> dict[str, float]:
        n = max(1, self.n)
        return {"lines": self.n, "cer": self.err / max(1, self.ref), "cer_nospace": self.err_ns / max(1, self.ref_ns),
                "exact": self.exact / n, "exact_nospace": self.exact_ns / n, "ms_per_line": 1000 * self.sec / n}


class _RawTesseract:
    """TesseractRecognizer without the mask: what a plain Tesseract user gets."""

    name = "tesseract-raw"

    def __init__(self):
        from ..recognize import TesseractRecognizer

        self.t = TesseractRecognizer()

    def recognize(self, image, line, mask):
        return self.t.recognize(image, line, None)


def evaluate_ocr(n: int = 300, seed: int = 0, model: str | None = None, methods: list[str] | None = None,
                 device: str = "cpu", progress=None, samples: int = 0, views: int | None = None,
                 split: str = "eval", lm: str = "auto") -> dict:
    """{"rows": {method: {style: metrics}}, "examples": [...]} on ``n`` held-out lines.

    ``split``: ``eval`` (the first engine's held-out families, ``kseg.synth.lines``) or
    ``display`` (the broadcast engine's held-out display faces, ``kseg.synth.broadcast``).
    ``lm``: the kseg recogniser's language model (auto, kiwi, none)."""
    from ..recognize import TesseractRecognizer, kseg_model_path
    from ..recognize.kseg_ocr import VIEWS, KsegOCRRecognizer
    from ..synth.broadcast import render_any

    if split not in ("eval", "display"):
        raise ValueError(f"split must be eval or display, not {split!r}")
    engine = "lines" if split == "eval" else "broadcast"

    methods = methods or ["kseg", "tesseract-raw", "tesseract-mask"]
    views = views or VIEWS
    recs = {}
    for m in methods:
        if m == "kseg":
            recs[m] = KsegOCRRecognizer(Path(model) if model else kseg_model_path(), device=device,
                                        views=views, lm=lm)
        elif m == "tesseract-raw":
            recs[m] = _RawTesseract()
        elif m == "tesseract-mask":
            recs[m] = TesseractRecognizer()
        else:
            raise ValueError(f"unknown method {m!r}")
    accs: dict[str, dict[str, _Acc]] = defaultdict(lambda: defaultdict(_Acc))
    examples = []
    for i in range(n):
        s = render_any(seed, i, split, engine)
        ex = {"text": s.text, "style": s.kind, "font": s.font}
        for m, r in recs.items():
            t0 = time.perf_counter()
            got = r.recognize(s.image, s.line, s.mask).text
            dt = time.perf_counter() - t0
            accs[m][s.kind].add(got, s.text, dt)
            accs[m]["all"].add(got, s.text, dt)
            ex[m] = got
        if i < samples:
            examples.append(ex)
        if progress:
            progress(i + 1, n)
    model_name = str(model or kseg_model_path()) if "kseg" in methods else None
    return {"split": split, "lm": lm, "seed": seed, "lines": n, "model": model_name, "views": views,
            "rows": {m: {s: a.row() for s, a in sorted(d.items())} for m, d in accs.items()},
            "examples": examples}
