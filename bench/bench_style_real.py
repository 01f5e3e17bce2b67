"""Caption styles on real footage: is the fill (the letters' own colour) identified?

    python bench/bench_style_real.py data/real [--sheets DIR] [--json]

For every annotated ``caption`` line of bench/real that carries a ``"fill"`` (the colour
class a viewer names for the letters: white, black, grey, yellow, orange, red, pink, purple,
blue, sky, green, brown; set by looking at the frames, see bench/real/FORMAT.md), text-SAM
segments the line from its annotated box and ``kseg.style.measure_captions`` measures its style
as the pipeline does (each line, then a plate shared by a block of stacked lines);
the measured fill's colour class must equal the annotated one (for a line in several
colours, ``Style.fill`` is the colour of most of its letters, as the annotation is). A second
column also counts a vertical gradient whose top, middle or bottom has the named colour
(``on_gradient``: yellow-to-red "fire" letters are named yellow, measured pale yellow at the top). A line
text-SAM leaves empty gets the mask the pipeline's rescue gives it (kseg-fill's letters in its
box, ``kseg.pipeline.rescued_letters``; text-SAM's best non-empty output where there are none).
Printed per genre and overall, beside the naive baseline (the mask's mean colour) and the outline's class (how often the outline was taken for the fill: an inverted
caption).

A second table scores the plates ``measure_captions`` finds against the ``"plate"`` annotation
(opaque, translucent or none): how many annotated plates are found, how many are found where
none is, and how many found plates have the right kind of opacity.

``--sheets DIR`` writes numbered contact sheets of every caption line (the crop, then swatches
of the measured fill and outline) to annotate fills from and to look at what was measured; the
lines whose fill was missed are listed on stderr with their tile number on those sheets.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench_real import _line, load_annotations  # noqa: E402

CLASSES = ("white", "black", "grey", "yellow", "orange", "red", "pink", "purple", "blue", "sky", "green", "brown")


# Hue (CIE LCh, degrees) of the classes' canonical colours: the boundaries are the midpoints
# between neighbours (red (255,0,0) 40, orange (255,165,0) 72, yellow (255,255,0) 99, green
# (0,128,0) 136, cyan (0,255,255) 196, sky (135,206,235) 236, blue (0,0,255) 306, purple
# (128,0,128) 326, pink (255,105,180) 355), so nothing here was fitted to the captions.
HUES = [(17.5, "red"), (56, "orange"), (85.5, "yellow"), (117.5, "green"), (166, "sky"), (271, "blue"),
        (316, "purple"), (340.5, "pink")]


def colour_class(rgb) -> str:
    """The colour name a viewer would give (achromatic by lightness, brown for dark oranges and
    yellows, the rest by hue)."""
    lab = cv2.cvtColor(np.uint8([[list(rgb)]]), cv2.COLOR_RGB2LAB)[0, 0].astype(float)
    L, a, b = lab[0] * 100 / 255, lab[1] - 128, lab[2] - 128
    C = float(np.hypot(a, b))
    h = float(np.degrees(np.arctan2(b, a))) % 360
    if C < 14:
        return "white" if L > 78 else ("black" if L < 28 else "grey")
    name = "pink"
    for start, cls in HUES:
        if h >= start:
            name = cls
    if name in ("orange", "yellow") and L < 45:
        return "brown"
    return name


def on_gradient(st, name: str) -> bool:
    """A vertical gradient (``Style.fill`` at the top, ``fill2`` at the bottom) holding the named
    colour at its top, middle or bottom: a viewer names one colour for letters that run from
    pale yellow to orange-red, and which one is a matter of words; the measured gradient then
    draws that colour too. Reported beside the strict figure, which compares the top alone."""
    if st.fill2 is None:
        return False
    mid = tuple((a + b) // 2 for a, b in zip(st.fill, st.fill2))
    return name in {colour_class(st.fill), colour_class(mid), colour_class(st.fill2)}


def plate_row(v: list[tuple[str, float | None]]) -> dict:
    """Plates annotated and found; a found plate's opacity is right when an opaque one measures
    at least 0.9 (what the renderer draws as solid) and a translucent one less."""
    real = [(a, o) for a, o in v if a != "none"]
    found = [(a, o) for a, o in real if o is not None]
    right = sum((a == "opaque") == (o >= 0.9) for a, o in found)
    return {"lines": len(v), "plates": len(real), "found": len(found), "recall": len(found) / max(1, len(real)),
            "false": sum(a == "none" and o is not None for a, o in v), "opacity_right": right}


def measure(frames: list[dict]):
    import dataclasses

    from kseg.pipeline import rescued_letters
    from kseg.segment import TextSegmenter
    from kseg.style import measure_captions
    from kseg.types import FrameResult, Recognition, Region

    seg = TextSegmenter()
    for fr in frames:
        img = cv2.cvtColor(cv2.imread(str(fr["image"])), cv2.COLOR_BGR2RGB)
        lines = [ln for ln in fr["lines"] if ln["kind"] == "caption"]
        if not lines:
            continue
        tls = [_line(ln["box"]) for ln in lines]
        masks = seg.segment(img, tls)
        # a caption text-SAM calls empty gets the mask the pipeline's rescue gives it when the
        # reader reads Korean there: kseg-fill's letters in its box, else text-SAM's best
        # non-empty output (an empty mask is neither erased nor re-rendered, so its style would
        # never be used)
        empty = [i for i, m in enumerate(masks) if not m.mask.any()]
        for i, m in zip(empty, seg.segment_forced(img, [tls[i] for i in empty]) if empty else []):
            letters = rescued_letters(img, tls[i].box)
            masks[i] = m if letters is None else dataclasses.replace(m, mask=letters)
        # styles as the pipeline measures them: each line, then what its neighbours share (a
        # plate behind a block of lines, ``measure_captions``)
        result = FrameResult(image=str(fr["image"]), width=img.shape[1], height=img.shape[0], model="bench",
                             regions=[Region(line=tl, mask=dataclasses.replace(m, mask=m.mask.copy()),
                                             text=Recognition(ln["text"], "none")) for ln, tl, m in zip(lines, tls, masks)],
                             mask=np.zeros(img.shape[:2], np.uint8))
        styles, _ = measure_captions(img, result)
        for k, (ln, tl, m, st) in enumerate(zip(lines, tls, masks, styles)):
            px = img[m.mask]
            mean = tuple(int(v) for v in px.mean(axis=0)) if len(px) else (0, 0, 0)
            yield fr, ln, img, st, mean, k in empty


def sheets(frames: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tiles, k = [], 0
    for fr, ln, img, st, _, _ in measure(frames):
        x0, y0, x1, y1 = ln["box"]
        crop = img[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4]
        s = 56 / max(1, crop.shape[0])
        crop = cv2.resize(crop, (max(1, min(640, int(crop.shape[1] * s))), 56))
        tile = np.full((64, 800, 3), 128, np.uint8)
        tile[4:60, 90:90 + crop.shape[1]] = crop
        tile[8:56, 736:766] = st.fill
        if st.outline is not None:
            tile[8:56, 768:798] = st.outline
        cv2.putText(tile, f"{k}", (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2)
        tiles.append(tile)
        k += 1
        if len(tiles) == 16:
            cv2.imwrite(str(out / f"sheet{(k - 1) // 16:02d}.png"), cv2.cvtColor(np.vstack(tiles), cv2.COLOR_RGB2BGR))
            tiles = []
    if tiles:
        cv2.imwrite(str(out / f"sheet{k // 16:02d}.png"), cv2.cvtColor(np.vstack(tiles), cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", type=Path)
    ap.add_argument("--sheets", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    frames = load_annotations(args.images)
    frames = [f for f in frames if f["image"].exists()]
    if args.sheets:
        sheets(frames, args.sheets)
        return
    acc: dict[str, list[tuple[bool, bool, bool, bool]]] = defaultdict(list)
    plates: dict[str, list[tuple[str, float | None]]] = defaultdict(list)  # (annotated, opacity found)
    wrong = []
    forced = 0
    for tile, (fr, ln, img, st, mean, was_empty) in enumerate(measure(frames)):
        if "plate" in ln:
            found = (ln["plate"], st.banner.opacity if st.banner is not None else None)
            plates[fr["genre"]].append(found)
            plates["all"].append(found)
        if "fill" not in ln:
            continue
        forced += was_empty
        got, base = colour_class(st.fill), colour_class(mean)
        inverted = st.outline is not None and colour_class(st.outline) == ln["fill"] and got != ln["fill"]
        rec = (got == ln["fill"], base == ln["fill"], inverted, got == ln["fill"] or on_gradient(st, ln["fill"]))
        acc[fr["genre"]].append(rec)
        acc["all"].append(rec)
        if got != ln["fill"]:
            wrong.append({"tile": tile, "source": fr["source"], "id": fr["id"], "text": ln["text"], "fill": ln["fill"], "got": got,
                          "gradient_holds_it": rec[3], "measured": list(st.fill), "outline": list(st.outline) if st.outline else None})
    if args.json:
        print(json.dumps({"fill": {g: {"lines": len(v), "fill_correct": sum(r[0] for r in v) / len(v),
                                       "fill_correct_gradients_any_end": sum(r[3] for r in v) / len(v),
                                       "baseline": sum(r[1] for r in v) / len(v), "inverted": sum(r[2] for r in v) / len(v)}
                                   for g, v in acc.items()},
                          "plates": {g: plate_row(v) for g, v in plates.items()}}))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="real captions: fill colour class identified (bench/real, text-SAM masks from the annotated boxes)")
    for c in ("genre", "lines", "kseg fill correct", "same, a gradient holding the colour counts",
              "mean colour (baseline)", "outline taken for fill"):
        t.add_column(c)
    for g in sorted(acc, key=lambda g: (g == "all", g)):
        v = acc[g]
        t.add_row(g, str(len(v)), f"{sum(r[0] for r in v) / len(v):.1%}", f"{sum(r[3] for r in v) / len(v):.1%}",
                  f"{sum(r[1] for r in v) / len(v):.1%}", f"{sum(r[2] for r in v) / len(v):.1%}")
    Console().print(t)
    print(f"{forced} of {len(acc['all'])} lines measured on the rescue's mask (text-SAM's first answer was empty)")
    t = Table(title="real captions: plates found (bench/real's \"plate\" annotations)")
    for c in ("genre", "lines", "with a plate", "found (recall)", "plates found where none is",
              "opaque / translucent told right, of those found"):
        t.add_column(c)
    for g in sorted(plates, key=lambda g: (g == "all", g)):
        r = plate_row(plates[g])
        t.add_row(g, str(r["lines"]), str(r["plates"]), f"{r['found']} ({r['recall']:.0%})" if r["plates"] else "-",
                  f"{r['false']} of {r['lines'] - r['plates']}", f"{r['opacity_right']} of {r['found']}")
    Console().print(t)
    for w in wrong:
        print(json.dumps(w, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
