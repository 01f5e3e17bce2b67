"""Real-footage benchmark: how kseg reads, finds and ignores text on real episodes' frames.

    python bench/real/extract.py data/real --clones DIR      # frames from the sources' clones
    python bench/bench_real.py data/real [--model NEW.safetensors] [--previous OLD.safetensors]
                               [--no-tesseract] [--no-pipeline] [--json]

Reading (CER with spaces ignored and both texts NFKC-normalised, so that "…" and "..." or "！"
and "!", which look the same on screen, compare equal; exact lines) is measured on every annotated ``caption`` line
read from its annotated box, for each recogniser: kseg's recogniser with the Kiwi language
model (``kseg``), the same without it (``kseg greedy``), the previous model (``--previous``)
and Tesseract ``kor``. Detection recall and stray regions come from the whole ``kseg segment``
pipeline (CRAFT -> text-SAM -> reading), whose own readings are scored end to end too (a
caption it missed counts as all characters wrong):
- a caption line is *found* when one detected region's box has IoU >= 0.5 with it, or the
  detected boxes cover >= 70 % of it (a line split in two still counts);
- a *stray* region is a detected region that covers no caption: less than 30 % of its box lies
  on annotated caption boxes. Strays are broken down by what they sit on (logo, bar, scene
  text, or nothing annotated);
- *script memory finds*: the share of caption lines whose end-to-end reading finds the line's
  own entry in a translation memory of bench/real's caption texts (a fansub team's script),
  exactly or by ``kseg.translate.tm.Memory.fuzzy`` as ``tm:FILE`` does, and in brackets the
  lines it matched to another entry: what a misreading costs a user translating from a memory.
Tables are per source and per kind of footage (genre); the last row of each is all lines.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kseg.evaluate.metrics import edit_distance  # noqa: E402
from kseg.types import TextLine  # noqa: E402

ANN = ROOT / "bench" / "real" / "annotations"


def load_annotations(images: Path, only: list[str] | None = None) -> list[dict]:
    """Every annotated frame whose image exists under ``images``, with its source's metadata."""
    frames = []
    for f in sorted(ANN.glob("*.json")):
        ann = json.loads(f.read_text())
        if only and ann["source"] not in only:
            continue
        for fr in ann["frames"]:
            p = images / ann["source"] / f"{fr['id']}.png"
            frames.append({**fr, "source": ann["source"], "genre": ann.get("genre", "other"), "image": p})
    return frames


def _line(box) -> TextLine:
    x0, y0, x1, y1 = map(int, box)
    return TextLine((x0, y0, x1, y1), [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], 1.0)


def norm(s: str) -> str:
    """Spaces dropped and Unicode NFKC: characters that look the same on screen compare equal
    (an ellipsis "…" and three full stops "...", full-width "！" and "!"), both sides alike."""
    return "".join(unicodedata.normalize("NFKC", s).split())


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def covered(box, others) -> float:
    """Share of ``box`` covered by the union of ``others``."""
    x0, y0, x1, y1 = map(int, box)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for o in others:
        a0, b0, a1, b1 = max(x0, int(o[0])), max(y0, int(o[1])), min(x1, int(o[2])), min(y1, int(o[3]))
        if a1 > a0 and b1 > b0:
            m[b0 - y0:b1 - y0, a0 - x0:a1 - x0] = True
    return float(m.mean())


class Acc:
    def __init__(self):
        self.err = self.chars = self.lines = self.exact = 0
        self.found = self.captions = self.stray = self.frames = 0
        self.tm_right = self.tm_wrong = 0
        self.stray_on: dict[str, int] = defaultdict(int)
        self.ms = 0.0

    def read(self, pred: str, truth: str, ms: float = 0.0) -> None:
        p, t = norm(pred), norm(truth)
        self.err += edit_distance(p, t)
        self.chars += len(t)
        self.lines += 1
        self.exact += p == t
        self.ms += ms

    def row(self) -> dict:
        d = {"lines": self.lines, "cer": self.err / max(1, self.chars), "exact": self.exact / max(1, self.lines),
             "ms_per_line": self.ms / max(1, self.lines)}
        if self.frames:
            d.update(recall=self.found / self.captions if self.captions else None,
                     tm_found=self.tm_right / self.captions if self.captions else None,
                     tm_wrong=self.tm_wrong,
                     stray_per_frame=self.stray / self.frames,
                     stray_on=dict(self.stray_on), frames=self.frames)
        return d


def reading(frames: list[dict], recognisers: dict[str, object]) -> dict[str, dict[str, dict[str, Acc]]]:
    """{method: {"source"|"genre": {name: Acc}}} for every caption line read from its true box."""
    out: dict = {m: {"source": defaultdict(Acc), "genre": defaultdict(Acc)} for m in recognisers}
    for fr in frames:
        bgr = cv2.imread(str(fr["image"]))
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        for ln in fr["lines"]:
            if ln["kind"] != "caption":
                continue
            for m, rec in recognisers.items():
                t0 = time.perf_counter()
                text = rec.recognize(rgb, _line(ln["box"]), None).text
                ms = 1000 * (time.perf_counter() - t0)
                for key, name in (("source", fr["source"]), ("genre", fr["genre"]), ("source", "all")):
                    out[m][key][name].read(text, ln["text"], ms)
    for m in out:  # "all" lives in the source table; the genre table gets the same object
        out[m]["genre"]["all"] = out[m]["source"]["all"]
    return out


def script_memory(frames: list[dict]):
    """A translation memory of bench/real's caption texts (each one's "English" its own loose
    key), as a fansub team holds the script of what it translates."""
    from kseg.translate.base import has_text
    from kseg.translate.tm import Memory, loose_key

    return Memory.of_pairs(Path("bench/real"), [(fr["id"], ln["text"], loose_key(ln["text"])) for fr in frames
                                               for ln in fr["lines"] if ln["kind"] == "caption" and has_text(ln["text"])])


def pipeline_eval(frames: list[dict], pipe) -> dict[str, dict[str, Acc]]:
    """End to end: detection recall, stray regions and the pipeline's own readings, and whether
    a memory of the script finds each caption from them (exactly or by ``Memory.fuzzy``)."""
    from kseg.translate.base import has_text
    from kseg.translate.tm import loose_key

    mem = script_memory(frames)
    tabs = {"source": defaultdict(Acc), "genre": defaultdict(Acc)}
    for fr in frames:
        bgr = cv2.imread(str(fr["image"]))
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        res = pipe.process(rgb, str(fr["image"]))
        det = [(r.line.box, r.text.text) for r in res.regions]
        caps = [ln for ln in fr["lines"] if ln["kind"] == "caption"]
        accs = [tabs["source"][fr["source"]], tabs["genre"][fr["genre"]], tabs["source"]["all"]]
        for a in accs:
            a.frames += 1
        for ln in caps:
            hits = [(b, t) for b, t in det if iou(b, ln["box"]) >= 0.5 or covered(b, [ln["box"]]) >= 0.5]
            found = any(iou(b, ln["box"]) >= 0.5 for b, _ in hits) or \
                covered(ln["box"], [b for b, _ in hits]) >= 0.7
            pred = " ".join(t for b, t in sorted(hits, key=lambda h: h[0][0])) if found else ""
            hit = None
            if has_text(pred) and has_text(ln["text"]):
                hit = mem.lookup(pred) or (mem.fuzzy(pred) or (None, None, 0))[1]
            for a in accs:
                a.captions += 1
                a.found += found
                a.read(pred, ln["text"])
                if hit is not None:
                    a.tm_right += hit == loose_key(ln["text"])
                    a.tm_wrong += hit != loose_key(ln["text"])
        for b, _ in det:
            if covered(b, [ln["box"] for ln in caps]) >= 0.3:
                continue
            on = "nothing"
            for ln in fr["lines"]:
                if ln["kind"] != "caption" and covered(b, [ln["box"]]) >= 0.3:
                    on = ln["kind"]
                    break
            for a in accs:
                a.stray += 1
                a.stray_on[on] += 1
    tabs["genre"]["all"] = tabs["source"]["all"]
    return tabs


def print_tables(read: dict, e2e: dict | None, previous_name: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False, emoji=False, width=200)
    methods = list(read)
    base = "kseg greedy" if "kseg greedy" in read else None
    for key in ("source", "genre"):
        t = Table(title=f"reading from the annotated boxes, by {key} (CER spaces ignored / exact lines)")
        t.add_column(key)
        t.add_column("lines", justify="right")
        for m in methods:
            t.add_column(m, justify="right")
        if base and "kseg" in read:
            t.add_column("kseg / greedy CER", justify="right")
        names = sorted(n for n in read[methods[0]][key] if n != "all") + ["all"]
        for n in names:
            r0 = read[methods[0]][key][n].row()
            cells = [n, str(r0["lines"])]
            for m in methods:
                r = read[m][key][n].row()
                cells.append(f"{r['cer']:.3f} / {r['exact']:.2f}")
            if base and "kseg" in read:
                a, b = read["kseg"][key][n].row()["cer"], read[base][key][n].row()["cer"]
                cells.append(f"{a / b:.2f}" if b else "-")
            t.add_row(*cells)
        con.print(t)
    t = Table(title="per-line reading time (ms, median over lines is not kept: mean)")
    t.add_column("method")
    t.add_column("ms/line", justify="right")
    for m in methods:
        t.add_row(m, f"{read[m]['source']['all'].row()['ms_per_line']:.1f}")
    con.print(t)
    if e2e:
        for key in ("source", "genre"):
            t = Table(title=f"kseg segment end to end, by {key}")
            for c in (key, "frames", "captions", "recall", "stray/frame", "strays on", "CER", "exact",
                      "script memory finds (wrong)"):
                t.add_column(c, justify="right" if c not in (key, "strays on") else "left")
            names = sorted(n for n in e2e[key] if n != "all") + ["all"]
            for n in names:
                r = e2e[key][n].row()
                rec, tm = r.get("recall"), r.get("tm_found")
                t.add_row(n, str(r.get("frames", 0)), str(e2e[key][n].captions), "-" if rec is None else f"{rec:.3f}",
                          f"{r.get('stray_per_frame', 0):.2f}",
                          ", ".join(f"{k} {v}" for k, v in sorted(r.get("stray_on", {}).items())),
                          f"{r['cer']:.3f}" if r["lines"] else "-", f"{r['exact']:.2f}" if r["lines"] else "-",
                          "-" if tm is None else f"{tm:.2f} ({r.get('tm_wrong', 0)})")
            con.print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", type=Path, help="folder extract.py wrote (SOURCE/ID.png)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "kseg-ocr.safetensors")
    ap.add_argument("--previous", type=Path, help="an earlier kseg-ocr model to read beside it")
    ap.add_argument("--no-tesseract", action="store_true")
    ap.add_argument("--no-pipeline", action="store_true", help="skip detection / end to end")
    ap.add_argument("--source", action="append", help="only these sources (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON object to stdout")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    frames = [f for f in load_annotations(a.images, a.source) if f["image"].exists()]
    if not frames:
        print(f"bench_real: no annotated frames under {a.images} (run bench/real/extract.py first)", file=sys.stderr)
        return 2
    from kseg.recognize import TesseractRecognizer
    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    recs: dict[str, object] = {"kseg": KsegOCRRecognizer(a.model, lm="kiwi"),
                               "kseg greedy": KsegOCRRecognizer(a.model, lm="none")}
    if a.previous:
        recs["previous"] = KsegOCRRecognizer(a.previous, lm="none")
    if not a.no_tesseract and TesseractRecognizer.available()[0]:
        recs["tesseract"] = TesseractRecognizer()
    read = reading(frames, recs)
    e2e = None
    if not a.no_pipeline:
        from kseg.pipeline import SegmentPipeline

        e2e = pipeline_eval(frames, SegmentPipeline(device="cpu", recognizer_impl=recs["kseg"]))
    if a.json:
        print(json.dumps({"reading": {m: {k: {n: acc.row() for n, acc in v.items()} for k, v in t.items()}
                                      for m, t in read.items()},
                          "end_to_end": None if e2e is None else
                          {k: {n: acc.row() for n, acc in v.items()} for k, v in e2e.items()}}))
    else:
        print_tables(read, e2e, str(a.previous) if a.previous else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
