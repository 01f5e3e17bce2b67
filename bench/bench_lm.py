"""The Korean language model's settings, measured: CER / exact lines of kseg's recogniser on
held-out synthetic lines, greedy beside each (weight, bonus, margin, fluency gate, swap margin,
beam width) setting; the first row is what kseg ships.

    python bench/bench_lm.py [--model M] [--lines 150] [--seed 700] [--real data/real]

Each line is read once by the network (framings included); only the decoding differs, so the
table isolates what the language model does. Splits: the broadcast engine's held-out display
faces (``display``) and the first engine's held-out families (``eval``, 40 % random-syllable
lines, which a language model can only get wrong). ``--real DIR`` adds bench/real's caption lines
read from their annotated boxes (choose settings on the synthetic splits, report real ones).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (weight, bonus, margin, fluency gate, swap margin, beam)
SETTINGS = [(0.3, 1.5, 2.0, None, 4.0, 40), (0.3, 1.5, 2.0, None, 4.0, 10), (0.3, 1.5, 2.0, None, 4.0, 20),
            (0.3, 1.5, 2.0, None, 4.0, 80), (0.3, 1.5, 2.0, None, None, 10), (0.3, 1.5, 4.0, None, None, 10),
            (0.2, 1.0, 2.0, None, None, 10), (0.5, 2.0, 2.0, None, None, 10), (0.3, 1.5, 2.0, -4.0, None, 10)]


def synthetic(rec, n: int, seed: int) -> dict[str, list]:
    from kseg.synth.broadcast import render_any

    out = {}
    for split, engine in (("display", "broadcast"), ("eval", "lines")):
        items = []
        for i in range(n):
            s = render_any(seed, i, split, engine)
            items.append((rec.strip_logp(s.strip, s.footprint).numpy(), s.text))
        out[split] = items
    return out


def real(rec, folder: Path) -> list:
    """bench/real's caption lines (bench_ocr.lines_real), each read once by the network."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_ocr import lines_real

    from kseg.recognize import line_strip

    out = []
    for rgb, line, mask, text in lines_real(folder):
        strip, m = line_strip(rgb, line, mask)
        out.append((rec.strip_logp(strip, m).numpy(), text))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "kseg-ocr.safetensors")
    ap.add_argument("--lines", type=int, default=150)
    ap.add_argument("--seed", type=int, default=700)
    ap.add_argument("--real", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch
    from rich.console import Console
    from rich.table import Table

    from kseg.evaluate.metrics import edit_distance
    from kseg.recognize import lm
    from kseg.recognize.kseg_ocr import KsegOCRRecognizer

    torch.set_num_threads(a.threads)
    rec = KsegOCRRecognizer(a.model, lm="none")
    sets = synthetic(rec, a.lines, a.seed)
    if a.real:
        sets["real"] = real(rec, a.real)
    kiwi = lm.default_lm()

    def score(items, setting):
        e = n = ex = 0
        for logp, truth in items:
            got = (lm.decode(logp, rec.codec.charset, None) if setting is None else
                   lm.decode(logp, rec.codec.charset, kiwi, setting[0], setting[1], margin=setting[2],
                             fluent=setting[3], swap_margin=setting[4], beam=setting[5]))
            g, t = "".join(got.split()), "".join(truth.split())
            e += edit_distance(g, t)
            n += len(t)
            ex += g == t
        return e / max(1, n), ex / max(1, len(items))

    t = Table(title=f"{a.model.name}: CER / exact lines (spaces ignored), {a.lines} synthetic lines per split")
    t.add_column("weight, bonus, margin, gate, swap margin, beam")
    for k in sets:
        t.add_column(f"{k} ({len(sets[k])})", justify="right")
    base = {k: score(v, None) for k, v in sets.items()}
    t.add_row("greedy (baseline)", *[f"{c:.4f} / {x:.3f}" for c, x in base.values()])
    for s in SETTINGS:
        cells = []
        for k, v in sets.items():
            c, x = score(v, s)
            cells.append(f"{c:.4f} / {x:.3f} ({c / base[k][0]:.2f}x)" if base[k][0] else f"{c:.4f} / {x:.3f}")
        t.add_row(", ".join("none" if v is None else str(v) for v in s), *cells)
    Console(highlight=False, emoji=False, width=160).print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
