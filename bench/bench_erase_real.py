"""Erase on real footage, where no clean plate exists: how much of each caption can still be
read after ``kseg erase``, and what else it changed.

    python bench/real/extract.py data/real --clones DIR      # frames from the sources' clones
    python bench/bench_erase_real.py data/real [--only SOURCE ...] [--save DIR] [--json]

Every annotated frame of bench/real goes through the ``kseg erase`` path
(``CaptionPipeline.erase``: CRAFT -> text-SAM -> reading -> erase of the union of the regions
kept). Beside it, bench_erase.py's box baseline: ``cv2.inpaint`` Telea over each of the same
regions' boxes padded by 10 % of their height, as box-based caption removers do. Per annotated line, on the
frame before and after erasing:

* legible syllables: the annotated text's Hangul syllables minus the edit distance of kseg's
  reader on the annotated box (greedy: the language model would guess common syllables off
  a blank strip), both reduced to Hangul syllables (a stray "." read off a
  blurred fill is not a letter left), floored at 0. *Left*: after / before, summed over lines
  (0: none of the caption can be read any more);
* text signal: the sum of CRAFT's text score over the annotated box (on the detector's map),
  after / before. The score falls smoothly as letters fade, so a ghost of a caption that
  neither the reader nor CRAFT's thresholds pick up still counts here;
* a caption is *clean* when no legible syllable is left and its text signal fell to at most
  ``CLEAN_SIGNAL`` of what it was.

For text that is not a caption (logo, bar, scene), the same figures say how much of it was
*kept* (1: untouched; erasing it is a stray of the detector). *Changed outside*: the share of
changed pixels (a channel differs by more than ``CHANGED``) lying outside every annotated
caption box padded by half its height, i.e. damage to what is not a caption.

No clean truth exists for these frames, so this measures what is left and what was touched,
not how good the fill looks: bench/bench_erase.py measures that on synthetic truth.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_erase import box_baseline, caption_area  # noqa: E402
from bench_real import _line, load_annotations, norm  # noqa: E402

from kseg.evaluate.metrics import edit_distance  # noqa: E402

CLEAN_SIGNAL = 0.10
CHANGED = 12  # 8-bit levels: above codec noise of a re-encoded PNG, below any visible edit
KINDS = ("caption", "logo", "bar", "scene")


def text_signal(det, image: np.ndarray, boxes: list) -> list[float]:
    """The sum of CRAFT's text score inside each box (map resolution)."""
    text, _, fx, fy = det.heatmaps(image)
    out = []
    for x0, y0, x1, y1 in boxes:
        a, b = int(y0 / fy), int(np.ceil(y1 / fy))
        c, d = int(x0 / fx), int(np.ceil(x1 / fx))
        out.append(float(text[a:b, c:d].sum()))
    return out


def hangul(text: str) -> str:
    return "".join(ch for ch in norm(text) if "\uac00" <= ch <= "\ud7a3")


def legible(rec, image: np.ndarray, ln: dict) -> int:
    t = hangul(ln["text"])
    r = rec.recognize(image, _line(ln["box"]), None)
    return max(0, len(t) - edit_distance(hangul(r.text), t))


def changed_outside(before: np.ndarray, after: np.ndarray, caption_boxes: list) -> tuple[int, int]:
    h, w = before.shape[:2]
    diff = (np.abs(before.astype(np.int16) - after.astype(np.int16)).max(-1) > CHANGED)
    near = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in caption_boxes:
        p = int(round(0.5 * (y1 - y0)))
        near[max(0, y0 - p):min(h, y1 + p), max(0, x0 - p):min(w, x1 + p)] = True
    return int((diff & ~near).sum()), int(diff.sum())


def run(frames: list[dict], say, save: Path | None) -> dict:
    import torch

    from kseg.pipeline import CaptionPipeline, SegmentPipeline
    from kseg.recognize import kseg_model_path
    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    torch.set_num_threads(2)
    pipe = CaptionPipeline(SegmentPipeline(device="cpu"))
    rec = KsegOCRRecognizer(kseg_model_path(), lm="none")
    det = pipe.segment.detector  # the still profile's CRAFT, already loaded
    rows = []
    outside = {"kseg": [0, 0], "box": [0, 0]}
    t0 = time.perf_counter()
    for k, fr in enumerate(frames):
        bgr = cv2.imread(str(fr["image"]))
        if bgr is None:
            continue
        img = np.ascontiguousarray(bgr[..., ::-1])
        result, erased = pipe.erase(img, fr["id"])
        found = {"lines": [{"box": r.line.box} for r in result.regions]}
        base = box_baseline(img, caption_area(found, *img.shape[:2]))
        lines = [ln for ln in fr["lines"] if ln["kind"] in KINDS and not ln.get("illegible")]
        boxes = [tuple(map(int, ln["box"])) for ln in lines]
        pix = {n: text_signal(det, im, boxes) for n, im in (("before", img), ("kseg", erased), ("box", base))}
        caps = [tuple(map(int, ln["box"])) for ln in fr["lines"] if ln["kind"] == "caption"]
        for n, im in (("kseg", erased), ("box", base)):
            o, a = changed_outside(img, im, caps)
            outside[n][0] += o
            outside[n][1] += a
        for i, ln in enumerate(lines):
            row = {"source": fr["source"], "id": fr["id"], "kind": ln["kind"], "text": ln["text"], "box": boxes[i],
                   "signal": {n: round(pix[n][i], 2) for n in pix},
                   "legible": {n: legible(rec, im, ln) for n, im in (("before", img), ("kseg", erased), ("box", base))}}
            rows.append(row)
            if save is not None and ln["kind"] == "caption" and not clean(row, "kseg"):
                _save_crop(save, row, img, erased, base)
        if (k + 1) % 20 == 0:
            say(f"{k + 1}/{len(frames)} frames, {time.perf_counter() - t0:.0f} s")
    return {"rows": rows, "outside": outside}


def clean(row: dict, n: str) -> bool:
    return row["legible"][n] == 0 and row["signal"][n] <= CLEAN_SIGNAL * max(1e-6, row["signal"]["before"])


def _save_crop(save: Path, row: dict, *ims: np.ndarray) -> None:
    x0, y0, x1, y1 = row["box"]
    h, w = ims[0].shape[:2]
    p = max(8, (y1 - y0) // 2)
    a, b, c, d = max(0, y0 - p), min(h, y1 + p), max(0, x0 - p), min(w, x1 + p)
    tile = np.vstack([im[a:b, c:d] for im in ims])
    save.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(save / f"{row['source']}__{row['id']}__{x0}_{y0}.png"), tile[..., ::-1])


def summary(rows: list[dict], outside: dict) -> dict:
    out = {}
    for kind in KINDS:
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        s = {"lines": len(rs)}
        for n in ("kseg", "box"):
            lb = sum(r["legible"]["before"] for r in rs)
            pb = sum(r["signal"]["before"] for r in rs)
            s[n] = {"legible": sum(r["legible"][n] for r in rs) / max(1, lb),
                    "signal": sum(r["signal"][n] for r in rs) / max(1, pb),
                    "clean": sum(clean(r, n) for r in rs) / len(rs)}
        out[kind] = s
    out["changed_outside"] = {n: o / max(1, a) for n, (o, a) in outside.items()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, help="bench/real's frames folder (from bench/real/extract.py)")
    ap.add_argument("--only", nargs="*", help="these sources only")
    ap.add_argument("--save", type=Path, help="write before / kseg / box crops of every caption not erased clean here")
    ap.add_argument("--json", action="store_true", help="print the figures and every line's as JSON")
    a = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    err = Console(stderr=True, highlight=False)
    frames = [f for f in load_annotations(a.images, a.only) if f["image"].exists()]
    if not frames:
        err.print(f"bench_erase_real: no annotated frames under {a.images} (run bench/real/extract.py first)")
        return 2
    res = run(frames, lambda m: err.print(f"bench: {m}", markup=False), a.save)
    s = summary(res["rows"], res["outside"])
    if a.json:
        print(json.dumps({"summary": s, "lines": res["rows"]}, ensure_ascii=False))
        return 0
    t = Table(title=f"Erase on bench/real ({len(frames)} frames): what is left (captions: lower is better; "
              "other text: higher is better)")
    for c in ("text", "lines", "kseg legible left", "box legible left", "kseg text signal left",
              "box text signal left", "kseg clean (erased)", "box clean (erased)"):
        t.add_column(c, justify="right" if c != "text" else "left")
    for kind, v in s.items():
        if kind == "changed_outside":
            continue
        t.add_row(kind, str(v["lines"]), f"{v['kseg']['legible']:.3f}", f"{v['box']['legible']:.3f}",
                  f"{v['kseg']['signal']:.3f}", f"{v['box']['signal']:.3f}",
                  f"{v['kseg']['clean']:.3f}", f"{v['box']['clean']:.3f}")
    Console().print(t)
    co = s["changed_outside"]
    print(f"changed pixels outside the captions (share of all changed): kseg {co['kseg']:.3f}, box {co['box']:.3f}, "
          f"ratio {co['kseg'] / max(co['box'], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
