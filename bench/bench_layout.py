"""How big the English is drawn against the Korean it replaces, on real captions.

    python bench/bench_layout.py data/real [--ratio 2.2]

For every annotated caption line of bench/real (text-SAM mask from its box, style measured by
``kseg.style``), an English text of ``--ratio`` characters per Korean syllable (words drawn
from a fixed list, seeded by the line: translations of Korean captions run about 2-2.5
characters per syllable) is laid out by ``kseg.render.prepare`` in a 1280-wide frame of the
caption's own height scale. Reported: the English ascender height against the Korean ink
height (the size kseg matches; within +-10 % counts), the English block's width against the
Korean line's (<= 1.1x counts), how many lines it took, and how often it was shrunk. The issue
allows a wider block where wrapping cannot avoid it: "unavoidable" is a line whose narrowest
possible block (the best break into at most one line more than the Korean's, at most 10 %
below the matched size, as ``kseg.render`` measures widths) is still wider than 1.1x.

A second table lays each frame's captions (lines grouped as ``kseg.style.group_captions`` does)
out alone and together (``kseg.render.place``, what ``kseg translate`` and translate-video
draw): the pairs of English blocks that cover each other, what placing them cost, and how
many captions' English left the Korean line it replaces (``_off_line``).
"""
from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from bench_style_real import measure  # noqa: E402
from bench_real import load_annotations  # noqa: E402

WORDS = ("I", "you", "we", "it", "this", "that", "is", "was", "so", "really", "what", "why", "no", "yes", "go",
         "come", "here", "now", "just", "can't", "believe", "look", "at", "the", "a", "to", "of", "and", "my",
         "your", "best", "ever", "heard", "funny", "wait", "seriously", "okay", "again", "today", "time")


def english(korean: str, ratio: float, seed: int) -> str:
    n = max(2, round(ratio * sum(1 for c in korean if not c.isspace())))
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(" ".join(out)) < n:
        out.append(str(rng.choice(WORDS)))
    return " ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", type=Path)
    ap.add_argument("--ratio", type=float, default=2.2)
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from kseg.render import HEIGHT_SLACK, WIDTH_TARGET, _lines_at, _metrics, _strokes, load_family, prepare
    from kseg.types import Caption

    frames = [f for f in load_annotations(args.images) if f["image"].exists()]
    rows = []
    by_frame: dict[tuple[str, str], list] = {}
    for k, (fr, ln, img, st, _, _) in enumerate(measure(frames)):
        by_frame.setdefault((fr["source"], fr["id"]), []).append((ln, img, copy.deepcopy(st)))
        x0, y0, x1, y1 = ln["box"]
        cap = Caption([0], (x0, y0, x1, y1), ln["text"], st)
        sp = prepare(cap, english(ln["text"], args.ratio, k), img.shape)
        fam = load_family(None)
        path, index = fam.bold if sp.bold else fam.regular
        asc = _metrics(path, index)[0] * sp.info.font_size
        bw = sp.info.box[2] - sp.info.box[0]
        # the narrowest block the constraints allow (at most one line more than the Korean's)
        size0 = sp.info.font_size / max(1e-6, sp.info.scale)
        near = max(1, math.ceil(size0 * (1 - HEIGHT_SLACK)))
        words = english(ln["text"], args.ratio, k).split()
        narrowest = min(_lines_at(fam.face(sp.bold, near), words, n,
                                  _strokes(st, fam, sp.bold, near, near / size0).outer)[0]
                        for n in range(1, min(2, len(words)) + 1))
        unavoidable = narrowest > WIDTH_TARGET * (x1 - x0)
        rows.append((asc / max(1.0, st.text_height), bw / max(1, x1 - x0), len(sp.info.lines), sp.info.scale,
                     sp.info.fitted, unavoidable))
    a = np.array([r[:4] for r in rows], float)
    t = Table(title=f"English laid out for {len(rows)} real caption lines (bench/real), {args.ratio} chars/syllable")
    unav = np.array([r[5] for r in rows], bool)
    for c in ("English ascender / Korean ink height: median", "within +-10 %", "English / Korean width: median",
              "<= 1.1x", "<= 1.1x or unavoidable", "lines (mean)", "shrunk", "not fitted"):
        t.add_column(c)
    t.add_row(f"{np.median(a[:, 0]):.2f}", f"{np.mean(np.abs(a[:, 0] - 1) <= 0.1):.1%}", f"{np.median(a[:, 1]):.2f}",
              f"{np.mean(a[:, 1] <= 1.1):.1%}", f"{np.mean((a[:, 1] <= 1.1) | unav):.1%} ({unav.sum()} unavoidable)",
              f"{a[:, 2].mean():.2f}", f"{np.mean(a[:, 3] < 0.999):.1%}", f"{np.mean([not r[4] for r in rows]):.1%}")
    Console().print(t)
    together(by_frame, args.ratio)


def _overlaps(sprites, shape) -> int:
    """Pairs of English blocks (text, outline, shadow, plate) that draw on a same pixel."""
    masks = []
    for s in sprites:
        if s is not None and s.rgba.size:
            m = np.zeros(shape[:2], bool)
            h, w = s.rgba.shape[:2]
            x0, y0, x1, y1 = max(0, s.x), max(0, s.y), min(shape[1], s.x + w), min(shape[0], s.y + h)
            if x0 < x1 and y0 < y1:
                m[y0:y1, x0:x1] = s.rgba[y0 - s.y:y1 - s.y, x0 - s.x:x1 - s.x, 3] > 25
            masks.append(m)
    return sum(1 for i, a in enumerate(masks) for b in masks[i + 1:] if (a & b).any())


def _off_line(sp, box) -> bool:
    """English drawn away from the Korean it replaces, by the rule ``kseg.render.place`` ranks
    layouts with (``kseg.render._off_line``); no English is never off its line."""
    from kseg.render import _off_line as off_line, sprite_rect

    return sp is not None and bool(sp.rgba.size) and off_line(sprite_rect(sp), 0, box)


def together(by_frame: dict, ratio: float) -> None:
    """A frame's captions laid out alone (``prepare`` each) and together (``kseg.render.place``):
    how many pairs of English blocks cover each other, and what placing them costs."""
    from rich.console import Console
    from rich.table import Table

    from kseg.render import place, prepare
    from kseg.style import group_captions
    from kseg.types import FrameResult, LineMask, Recognition, Region

    from bench_real import _line

    n_frames = pairs_alone = pairs_together = adjusted = moved = off_alone = off_together = n_caps = 0
    scales, widths = [], []
    for k, (key, items) in enumerate(sorted(by_frame.items())):
        img = items[0][1]
        H, W = img.shape[:2]
        regions = [Region(line=_line(ln["box"]), mask=LineMask(np.zeros((1, 1), bool), [], [], 0),
                          text=Recognition(ln["text"], "annotation")) for ln, _, _ in items]
        res = FrameResult(image=key[1], width=W, height=H, model="", regions=regions,
                          mask=np.zeros((H, W), np.uint8))
        caps = group_captions(res, [st for _, _, st in items])
        if len(caps) < 2:
            continue
        n_frames += 1
        texts = [english(c.text, ratio, 1000 + 37 * k + i) for i, c in enumerate(caps)]
        alone = [prepare(c, t, img.shape) for c, t in zip(caps, texts)]
        placed = place(caps, texts, img.shape)
        pairs_alone += _overlaps(alone, img.shape)
        pairs_together += _overlaps(placed, img.shape)
        n_caps += len(caps)
        off_alone += sum(_off_line(sp, c.box) for sp, c in zip(alone, caps))
        off_together += sum(_off_line(sp, c.box) for sp, c in zip(placed, caps))
        for a, p, c in zip(alone, placed, caps):
            if (a.x, a.y, a.info.lines) != (p.x, p.y, p.info.lines):
                adjusted += 1
                moved += a.info.lines == p.info.lines and a.info.scale == p.info.scale
                scales.append(p.info.scale / max(1e-6, a.info.scale))
                widths.append((p.info.box[2] - p.info.box[0]) / max(1, c.box[2] - c.box[0]))
    t = Table(title=f"A frame's captions laid out alone and together ({n_frames} real frames with 2+ captions)")
    for c in ("English pairs that overlap: alone", "together (place)", "captions re-laid", "of them only moved",
              "size kept by the re-laid (median)", "re-laid width / Korean line (median, max)",
              f"English off its Korean line (of {n_caps}): alone", "together"):
        t.add_column(c)
    t.add_row(str(pairs_alone), str(pairs_together), str(adjusted), str(moved),
              f"{np.median(scales):.2f}" if scales else "-",
              f"{np.median(widths):.2f}, {max(widths):.2f}" if widths else "-", str(off_alone), str(off_together))
    Console().print(t)


if __name__ == "__main__":
    main()
