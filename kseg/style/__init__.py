"""Style stage: how each caption line looks, and which lines form one caption.

    st: Style = measure_style(image_rgb_uint8, line, mask)   # mask: that line's SAM footprint
    caps: list[Caption] = group_captions(frame_result, styles)  # also sets each Style.align

SAM gives one footprint per line (fill + outline(s) + shadow together), so the layers are
split here from colour and geometry, in the line's own crop of the frame (no resampling:
colour clustering and distance transforms do not care about rotation; only the "down"
direction, for text height and gradients, uses the line's angle):

1. fill: the colour of the footprint's medial-axis pixels (deepest inside it), as a linear
   function of the upright row so that vertical gradients are kept; every footprint pixel
   goes to the nearer of that fill model and the non-fill colour, and the fill is the
   connected part holding the deep pixels (a white outer outline is not fill);
2. shadow: the offset (dx, dy) that best explains the footprint beyond the glyph body as a
   shifted copy of it (an FFT cross-correlation), kept only when clearly one-sided;
3. outline width: distance from the fill to the footprint edge at the edge pixels away from
   the shadow; a second outline is a colour change along that distance profile;
4. banner: straight colour steps above, below and beside the line (a plate's border, sharp
   even when the plate is translucent); opacity from how much footage texture shows
   through inside compared with just outside;
5. colour runs: the fill's letters grouped by colour along the line (a white name, then
   yellow words); the fill reported is the colour of most letters, the runs say where each
   colour was.

No library does this layer split; OpenCV (distance transforms, connected components) and
SciPy (FFT correlation) do the heavy lifting.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import cv2
import numpy as np
from scipy.signal import fftconvolve

from kseg.errors import InputError
from kseg.imageio import as_rgb
from kseg.recognize.lm import join_lines, loaded_lm
from kseg.types import Banner, Box, Caption, ColourRun, FrameResult, Shadow, Style, TextLine

__all__ = ["measure_style", "group_captions", "measure_captions", "plate_box", "plate_rim", "delta_e", "lightness"]

MIN_PIXELS = 12  # a footprint smaller than this has no measurable style: defaults
DISTINCT = 15.0  # CIE76 distance above which two layer colours count as different
GRADIENT_DE = 12.0  # fill ends further apart than this are reported as a gradient
RUN_DE = 30.0  # pieces of a line (gradient taken out) this far apart in Lab are different colours
# (30: 1 of the 278 one-colour synthetic held-out lines comes out in runs, 4 at 20)
RUN_SHARE = 0.1  # a colour on less than this share of the line's width is not a run of its own
THIN_SHARE = 0.1  # a second colour's letters with fewer core pixels than this share are thin
# thin dark letters (stroke under THIN_STROKE px, INK_DARKER lightness below their surroundings)
# take the colour of their darkest INK_SHARE of pixels (bench/real: same classes, colours
# darker and purer; synthetic news fill ΔE00 median 6.4 -> 6.0, docs/experiments)
THIN_STROKE = 3.0
INK_DARKER = 30.0
INK_SHARE = 0.10
BLEED_CHROMA = 15.0  # ... and lose the part of their tint that points the way the plate's does,
BLEED_COS = 0.8  # when the plate is this colourful (Lab chroma) and the two point this close
DARK_INK = 30.0  # letters of any stroke darker than this (Lab L) lose that tint too
LIGHT_INK = 85.0  # ... and so do letters lighter than this, white with a tint
LIGHT_CHROMA = 12.0  # under this chroma (pale yellow letters keep theirs)
OUTLINE_BLEED = 0.4  # a light outline's tint weaker than this share of its letters' chroma is their bleed
# a band of fill rows this many empty rows away from the letters, and under this share of their
# height, is not letters (a plate's border): the text height leaves it out
DETACHED_GAP = 2
DETACHED_BAND = 0.25
# kseg-fill overrules the layer rule when its pick's mean fill probability is this much higher
# (0.1: best on the synthetic held-out set, docs/experiments/2026-12-02-real-footage.md)
FILL_MARGIN = 0.1
LETTER_GAP = 0.15  # ... and counts another colour as letters too within this much of its best
BAND_PROB = 0.5  # a gradient band kseg-fill scores under this share of the fill's probability is not fill


# ----------------------------------------------------------------------------- inputs

def _as_mask(mask, shape: tuple[int, int]) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise InputError(f"style mask shape {m.shape} does not match image {shape}")
    return m.astype(bool)


def _axes(line: TextLine) -> tuple[np.ndarray, float]:
    """Unit "down" vector of the upright text in frame coordinates, and the angle (deg, CCW)."""
    poly = np.asarray(line.polygon, np.float64)
    if len(poly) == 4:
        u = poly[1] - poly[0]
        n = np.linalg.norm(u)
        if n > 1e-6:
            u = u / n
            return np.array([-u[1], u[0]]), float(math.degrees(math.atan2(-u[1], u[0])))
    a = math.radians(line.angle)
    return np.array([math.sin(a), math.cos(a)]), float(line.angle)


def _rgb(c) -> tuple[int, int, int]:
    return tuple(int(round(float(np.clip(v, 0, 255)))) for v in c)  # type: ignore[return-value]


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100) of uint8 RGB pixels, any leading shape."""
    a = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(a, cv2.COLOR_RGB2LAB).reshape(np.shape(rgb)[:-1] + (3,))


def _from_lab(lab: np.ndarray) -> tuple[int, int, int]:
    """One Lab colour back to RGB (``_lab``'s inverse)."""
    return _rgb(255 * cv2.cvtColor(np.asarray(lab, np.float32).reshape(1, 1, 3), cv2.COLOR_LAB2RGB)[0, 0])


def _de(a, b) -> np.ndarray:
    return np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32), axis=-1)


def delta_e(a, b) -> float:
    """The Lab distance of two RGB colours, the colour difference every rule here is stated in."""
    return float(_de(_lab(np.array([a], np.uint8))[0], _lab(np.array([b], np.uint8))[0]))


def lightness(c) -> float:
    """L (0-100) of an RGB colour."""
    return float(_lab(np.array([c], np.uint8))[0][0])


def _dt(binary: np.ndarray) -> np.ndarray:
    """Euclidean distance of each True pixel to the nearest False one (0 on False)."""
    return cv2.distanceTransform(binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _default(line: TextLine, image: np.ndarray, angle: float) -> Style:
    x0, y0, x1, y1 = line.box
    h, w = image.shape[:2]
    x0, x1 = max(0, min(w, x0)), max(0, min(w, x1))
    y0, y1 = max(0, min(h, y0)), max(0, min(h, y1))
    poly = np.asarray(line.polygon, np.float64)
    th = float(np.linalg.norm(poly[3] - poly[0])) if len(poly) == 4 else float(y1 - y0)
    th = max(1.0, th)
    return Style(fill=(255, 255, 255), text_height=th, stroke_width=max(1.0, round(0.1 * th, 2)),
                 angle=angle)


# ----------------------------------------------------------------------------- measure

EDGE_BAND = 0.95  # a plate at least this share of the frame wide, at its top or bottom, is a band
EDGE_PLATE_DE = 10.0  # a plate running to the frame's edge has this one colour on both sides of the text
PLATE_NEAR = 0.6  # a plate edge nearer the text wins over a stronger one farther out if this strong
OTHERS_CLEAR = 8  # px of a border's row clear of other lines' letters needed to tell it is theirs
CUT_GROW = 2  # px around the detector's line box that the plate search keeps of the mask
PLATE_MARGIN = 1.0  # a plate reaches at most this many text heights above or below its line
EDGE_CHUNK = 16  # px: a plate's top and bottom borders are followed in pieces this long
PLATE_AREA_MAX = 0.6  # share of the frame: bench/real's plates take at most 0.17, a letterboxed picture 0.7+
OUTLINE_MAX = 0.35  # widest outline (both rings) as a share of the text height
RIM_MAX = 0.25  # widest border band round a plate (its rim), as a share of the text height
RIM_EVEN = 8.0  # ΔE00: a rim's row lies this close to its median colour ...
RIM_SHARE = 0.8  # ... on this share of its pixels
RIM_STEP = 15.0  # ΔE00 between two rows of a rim: another band, where the rim ends
RIM_BLEND = 2  # rows of blend between a plate's inside and its rim (a compressed edge)


def measure_style(image: np.ndarray, line: TextLine, mask, others: np.ndarray | None = None) -> Style:
    """Style of one caption line from its footprint mask (see the module docstring).

    ``others``: the letters of the frame's other lines (``_banner``)."""
    img = as_rgb(image, "measure_style")
    H, W = img.shape[:2]
    full = _as_mask(mask, (H, W))
    down, angle = _axes(line)
    if full.sum() < MIN_PIXELS:
        return _default(line, img, angle)

    ys, xs = np.nonzero(full)
    mh = max(int(ys.max() - ys.min() + 1), line.box[3] - line.box[1], 4)
    pad = int(max(6, 0.35 * mh))
    cx0, cy0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
    cx1, cy1 = min(W, int(xs.max()) + 1 + pad), min(H, int(ys.max()) + 1 + pad)
    F = full[cy0:cy1, cx0:cx1]
    rgb = img[cy0:cy1, cx0:cx1]
    lab = _lab(rgb)
    yy, xx = np.mgrid[cy0:cy1, cx0:cx1]
    v = xx * down[0] + yy * down[1]  # upright row coordinate of every pixel

    prob = _fill_prob(img, line, rgb, (cx0, cy0, cx1, cy1))
    fill = _split_fill(lab, F, v, prob)
    if fill.sum() < 3:
        fill = F.copy()
    # the letters are no taller than the line the detector boxed: a fill that is (a mask's
    # plate, outline or shadow taken in with it) would size the English too big
    poly = np.asarray(line.polygon, np.float64)
    boxed = float(np.linalg.norm(poly[3] - poly[0])) if len(poly) == 4 else float(line.box[3] - line.box[1])
    in_line = _in_line(line, (cx0, cy0), F.shape)
    text_height = min(_letter_extent(v[_within(fill, in_line)], 0.4 * boxed), max(4.0, boxed))
    stroke = _stroke(fill)
    u = xx * down[1] - yy * down[0]  # position along the upright line
    extra = _unfilled_letters(lab, F, fill, u, v, text_height, prob)
    # the colour runs are cut where no letter is, so a plate frame in the letters' colour that
    # the mask took in (it runs the line's whole length) would join every word into one piece
    runs, major = _colour_runs(rgb, lab, _within(fill | extra, in_line), u, v, extra)
    main = major if major is not None else fill  # the letters of the line's main colour
    fill_rgb, fill2_rgb = _fill_colour(rgb, lab, main, v)
    if stroke < THIN_STROKE:
        ink = _thin_dark_ink(rgb, lab, main)
        if ink is not None and _lab(np.uint8([ink]))[0, 0] < _lab(np.uint8([fill_rgb]))[0, 0]:
            fill_rgb, fill2_rgb = ink, None  # the core's fit is darker where strokes have a core
    if fill2_rgb is None:
        fill_rgb = _unbleed(fill_rgb, lab, main, dark_only=True)

    # glyph body vs shadow: first guess of the ring width from the footprint edge
    d_fill = _dt(~fill)  # distance of every non-fill pixel to the fill
    # footprint edge pixels; fill pixels there (no outline on that side) count as distance 0
    edge = F & ~cv2.erode(F.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
    w0 = float(np.percentile(d_fill[edge], 30)) if edge.any() else 0.0
    body = F & (fill | (d_fill <= w0 + 0.5))
    outside = _dt(~F)
    bg_band = (~F) & (outside >= 1.5) & (outside <= 4.5)
    bg_lab = np.median(lab[bg_band], axis=0) if bg_band.sum() >= 5 else None
    backdrop = _rgb(np.median(rgb[bg_band], axis=0)) if bg_lab is not None else None
    shadow, zone = _shadow(F, body, rgb, text_height)
    if shadow is not None and bg_lab is not None and float(
            np.mean(_de(lab[zone], bg_lab) >= 10.0)) < 0.5:
        shadow, zone = None, np.zeros_like(F)  # a loose mask's fringe of background, not a shadow
    if shadow is not None and (shadow.dy < 0 or abs(shadow.dx) > 2 * shadow.dy + 4):
        # drop shadows fall downwards, at most twice as far sideways: an offset copy up or far
        # to the side is another part of the line (the next word in another colour)
        shadow, zone = None, np.zeros_like(F)

    # an outline hugs the fill: footprint farther from it than OUTLINE_MAX of the text height is
    # not outline (letters of another colour, when the fill found is one word of a two-colour
    # line, measured 100-px "outlines" drawn as a plate)
    reach = max(2.0, OUTLINE_MAX * text_height)
    near = d_fill <= reach
    ring = F & ~fill & ~zone & near
    ring_edge = edge & ~_dilate(zone, 1) & near
    width = float(np.median(d_fill[ring_edge])) if ring_edge.sum() >= 5 else min(w0, reach)

    outline, o_w, outline2, o2_w = _outlines(rgb, lab, ring, d_fill, width, fill_rgb, bg_lab)
    if outline is not None:
        outline = _light_untinted(outline, [fill_rgb] + [r.fill for r in runs or []])

    banner = _banner(img, full, line.box, others)
    return Style(fill=fill_rgb, fill2=fill2_rgb, text_height=round(text_height, 2),
                 stroke_width=round(stroke, 2), outline=outline, outline_width=round(o_w, 2),
                 outline2=outline2, outline2_width=round(o2_w, 2), shadow=shadow, banner=banner,
                 angle=round(angle, 2), runs=runs, backdrop=backdrop)


def _fill_prob(img: np.ndarray, line: TextLine, crop: np.ndarray, at: tuple[int, int, int, int]) -> np.ndarray | None:
    """kseg-fill's probabilities for the style crop ``at`` (x0, y0, x1, y1 in the frame). A level
    line is read as the net was trained, its box with a quarter of its height around it, and
    the crop outside that is no fill; a tilted line is read from the crop itself."""
    from kseg.style.fillnet import fill_probability, line_probability

    if abs(line.angle) >= 0.5:
        return fill_probability(crop)
    got = line_probability(img, line.box)
    if got is None:  # no model (then None here too), or a strip under 2 px
        return fill_probability(crop)
    p, (bx0, by0, bx1, by1) = got
    cx0, cy0, cx1, cy1 = at
    out = np.zeros((cy1 - cy0, cx1 - cx0), np.float32)
    ix0, iy0, ix1, iy1 = max(bx0, cx0), max(by0, cy0), min(bx1, cx1), min(by1, cy1)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - cy0:iy1 - cy0, ix0 - cx0:ix1 - cx0] = p[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0]
    return out


def _in_line(line: TextLine, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """The detector's line polygon (CUT_GROW px round it) on a crop at ``origin`` (x, y).

    The letters lie inside the line the detector found; a fill layer that runs beyond it has
    taken in a plate's rim or frame of the letters' colour (dark text in a plate framed in dark
    grey), and measured with it the letters came out a fifth too tall, the English with them."""
    poly = np.asarray(line.polygon, np.float64)
    if len(poly) < 3:
        x0, y0, x1, y1 = line.box
        poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly - np.asarray(origin, np.float64)).astype(np.int32)], 1)
    return _dilate(m.astype(bool), CUT_GROW)


def _within(letters: np.ndarray, in_line: np.ndarray) -> np.ndarray:
    """``letters`` inside the detector's line (``_in_line``), or all of them where that keeps
    under half (the box missed the letters, a loose mask's line: no guide)."""
    inside = letters & in_line
    return inside if inside.sum() >= max(MIN_PIXELS, 0.5 * letters.sum()) else letters


def _dilate(m: np.ndarray, r: int) -> np.ndarray:
    if r <= 0:
        return m
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(m.astype(np.uint8), k).astype(bool)


def _extent(vals: np.ndarray) -> float:
    if vals.size == 0:
        return 0.0
    lo, hi = np.percentile(vals, [0.5, 99.5])
    return float(hi - lo + 1.0)


def _letter_extent(vals: np.ndarray, least: float = 0.0) -> float:
    """``_extent`` of a line's fill rows without bands the letters do not reach: the fill's rows
    split where DETACHED_GAP or more rows in a row hold no fill (a line of letters has none
    inside it), and a band under DETACHED_BAND of the letters' height beyond such a gap is left
    out (a plate's border or the edge of the line above taken in with the letters' colour made
    the English a fifth too tall). A band of letters under ``least`` rows (scattered specks of
    a fill that missed the letters) is no measure: the plain extent then."""
    if vals.size == 0:
        return 0.0
    r = np.round(vals).astype(np.int64)
    lo = int(r.min())
    occ = np.bincount(r - lo)
    rows = np.flatnonzero(occ)
    cuts = np.flatnonzero(np.diff(rows) > DETACHED_GAP)
    if not len(cuts):
        return _extent(vals)
    bands = np.split(rows, cuts + 1)
    main = max(range(len(bands)), key=lambda k: int(occ[bands[k]].sum()))
    height = float(bands[main][-1] - bands[main][0] + 1)
    if occ[bands[main]].sum() < 0.5 * vals.size or height < least:
        return _extent(vals)  # scattered pieces, no band of letters to measure from
    keep = [b for k, b in enumerate(bands) if k == main or b[-1] - b[0] + 1 >= DETACHED_BAND * height]
    sel = np.isin(r - lo, np.concatenate(keep))
    return _extent(vals[sel])


def _stroke(fill: np.ndarray) -> float:
    """Typical stroke width: fill area / skeleton length (a stroke of width k and length L
    has area k*L and a skeleton of about L pixels). The ridge value of the distance transform
    is quantised to half pixels, too coarse to tell a regular face from its bold (render
    picks the face from this: measured regular 0.058-0.100, bold 0.093-0.147 of the height)."""
    from skimage.morphology import skeletonize

    sk = skeletonize(fill)
    n = int(sk.sum())
    if n == 0:
        return 1.0
    return max(1.0, float(fill.sum()) / n)


def _fit_rows(vals: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust per-channel line vals ~ a + b * v (two passes, dropping the worst residuals)."""
    keep = np.ones(len(v), bool)
    a = np.median(vals, axis=0)
    b = np.zeros(vals.shape[1], np.float64)
    if np.ptp(v) < 3 or len(v) < 10:
        return a, b
    for _ in range(2):
        A = np.stack([np.ones(keep.sum()), v[keep]], 1)
        coef, *_ = np.linalg.lstsq(A, vals[keep], rcond=None)
        a, b = coef[0], coef[1]
        res = _de(vals, a + np.outer(v, b))
        keep = res <= max(3.0, float(np.percentile(res, 80)))
    return a, b


def _colour_clusters(lab: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """k-means of the footprint's Lab colours with near-equal clusters merged: (centres,
    label image (-1 outside F), the clusters with at least 3 pixels); None for one colour."""
    from scipy.cluster.vq import kmeans2

    pts = lab[F].astype(np.float64)
    if len(pts) < 20:
        return None
    k = min(4, max(1, len(pts) // 10))
    with warnings.catch_warnings():  # empty clusters are expected (fewer colours than k)
        warnings.simplefilter("ignore")
        centers, labels = kmeans2(pts, k, seed=0, minit="++", iter=20)
    # merge near-equal clusters (k-means splits one flat colour under noise / compression)
    ids = list(range(len(centers)))
    for i in range(len(centers)):
        for j in range(i):
            if np.any(labels == i) and np.any(labels == j) and float(_de(centers[i], centers[j])) < DISTINCT:
                labels[labels == i] = ids[j]
                ids[i] = ids[j]
                break
    lbl = np.full(F.shape, -1, np.int32)
    lbl[F] = labels
    present = [int(c) for c in np.unique(labels) if (labels == c).sum() >= 3]
    return (centers, lbl, present) if len(present) > 1 else None


class _Layers:
    """The footprint's colour units (connected pieces of one colour: a green outer outline and a
    green fill are different units even when their colours merge), peeled from the outside in."""

    K3 = np.ones((3, 3), np.uint8)

    def __init__(self, F: np.ndarray, lbl: np.ndarray, present: list[int]):
        self.F, self.present = F, present
        self.unit = np.full(F.shape, -1, np.int32)
        colour_of: list[int] = []
        for c in present:
            n, cc = cv2.connectedComponents((lbl == c).astype(np.uint8), connectivity=8)
            # all pieces at once (one pass per piece was quadratic in the specks of a grainy fill)
            self.unit[cc > 0] = cc[cc > 0] + (len(colour_of) - 1)
            colour_of.extend([int(c)] * (n - 1))
        self.colour_of = colour_of
        self.U = len(colour_of)
        self.region = F.copy()
        self.alive = np.ones(self.U, bool)
        self.size = np.bincount(self.unit[self.unit >= 0], minlength=self.U).astype(np.float64)
        self.colour_arr = np.array(colour_of)

    def contacts(self) -> np.ndarray:
        """Per unit: (its pixels touching the current outside) / (its boundary pixels)."""
        unit, U = self.unit, self.U
        outside = cv2.dilate((~self.region).astype(np.uint8), self.K3).astype(bool)
        pad = np.pad(unit, 1, constant_values=-2)
        h, w = unit.shape
        edge = np.zeros(self.F.shape, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                edge |= pad[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] != unit
        sel = unit >= 0
        own = np.bincount(unit[sel & edge], minlength=U).astype(np.float64)
        touch = np.bincount(unit[sel & outside], minlength=U).astype(np.float64)
        return touch / np.maximum(own, 1.0)

    def by_colour(self, ct: np.ndarray) -> dict[int, float]:
        out = {}
        for c in self.present:
            us = self.alive & (self.colour_arr == c)
            if self.size[us].sum() >= 3:
                out[int(c)] = float(np.average(ct[us], weights=self.size[us]))
        return out

    def mask_of(self, c: int) -> np.ndarray:
        return np.isin(self.unit, np.nonzero(self.alive & (self.colour_arr == c))[0])

    def peel(self) -> None:
        """Remove the colour touching the outside most, while another is still fully enclosed."""
        for _ in range(len(self.present)):
            ct = self.contacts()
            score = self.by_colour(ct)
            if len(score) <= 1 or min(score.values()) > 0.1:
                break
            out = max(score, key=score.get)
            if score[out] < 0.2:
                break
            us = self.alive & (self.colour_arr == out)
            inner = us & (ct <= 0.1)
            # enclosed pieces of the same colour stay when they are a layer of their own
            # (a green fill inside a green outer outline), not a few bits inside counters
            peel = us & ~inner if self.size[inner].sum() >= 0.3 * self.size[us].sum() else us
            self.alive &= ~peel
            self.region &= ~np.isin(self.unit, np.nonzero(peel)[0])


def _unenclosed_core(L: _Layers, centers: np.ndarray, score: dict[int, float]) -> int:
    """Nothing encloses anything (a shadow-only caption, or a thin outline already peeled).
    Drop blends (a colour between two others: anti-aliasing), then of the two largest layers
    the glyphs are the one up and left of the other: shadows fall down-right."""
    cols, present = sorted(score), L.present

    def blend(c: int) -> bool:
        return any(float(_de(centers[p], centers[c]) + _de(centers[c], centers[q]))
                   <= 1.1 * float(_de(centers[p], centers[q]))
                   for p in present for q in present if len({p, q, c}) == 3)
    solid = [c for c in cols if not blend(c)] or cols
    area = {c: float(L.size[L.alive & (L.colour_arr == c)].sum()) for c in solid}
    two = sorted(solid, key=area.get, reverse=True)[:2]
    core = min(two, key=score.get)
    if len(two) == 2:
        pos = {}
        for c in two:
            yy, xx = np.nonzero(L.mask_of(c))
            pos[c] = float(xx.mean() + yy.mean())
        if abs(pos[two[0]] - pos[two[1]]) >= 1.5:
            core = min(pos, key=pos.get)
    return core


def _rule_core(L: _Layers, centers: np.ndarray) -> int | None:
    """The innermost colour after peeling (or, when nothing encloses anything, the one up and
    left of its shadow); None when no colour is left."""
    L.peel()
    score = L.by_colour(L.contacts())
    if not score:
        return None
    core = min(score, key=score.get)
    if len(score) > 1 and score[core] > 0.1:
        core = _unenclosed_core(L, centers, score)
    return core


def _judged_core(L: _Layers, lbl: np.ndarray, prob: np.ndarray, rule: int | None,
                 centers: np.ndarray) -> tuple[int, np.ndarray] | None:
    """The colour cluster kseg-fill calls fill (highest mean fill probability among clusters
    holding at least 5 % of the footprint) when it beats the layer rule's pick by FILL_MARGIN,
    and that colour's pieces the net agrees are fill (a green outer outline around a green fill
    is the same cluster, not the same layer); None to keep the rule's answer.

    Clusters of another colour (RUN_DE or more away) that the net scores as letters too (at
    least 0.5, and within LETTER_GAP of the best) join the fill: a white name and yellow words
    are one line in two colours, whose runs then say which colour most letters have (the
    yellow words alone were taken for the fill)."""
    F = L.F
    big = max(3.0, 0.05 * float(F.sum()))
    mean = {c: float(prob[lbl == c].mean()) for c in L.present if (lbl == c).sum() >= big}
    if not mean:
        return None
    core = max(mean, key=mean.get)
    top = mean[core]
    if rule is not None and (rule == core or top - mean.get(rule, 0.0) < FILL_MARGIN):
        if rule not in mean:
            return None
        core = rule  # the rule's pick stands; other letter colours may still join it
    also = [c for c in mean if c != core and mean[c] >= max(0.5, top - LETTER_GAP)
            and float(_de(centers[c], centers[core])) >= RUN_DE]
    if core == rule and not also:
        return None
    units = [u for u in range(L.U) if L.colour_of[u] == core or L.colour_of[u] in also]
    # each piece's mean probability in one pass (a comparison of the whole crop per piece was
    # quadratic: a 1080p caption has hundreds of pieces)
    inside = L.unit >= 0
    psum = np.bincount(L.unit[inside], weights=prob[inside], minlength=L.U)
    up = {u: float(psum[u] / L.size[u]) for u in units}
    keep = [u for u in units if up[u] >= 0.5] or [max(up, key=up.get)]
    drop = [u for u in units if u not in keep]
    L.alive[drop] = False
    L.region &= ~np.isin(L.unit, drop)
    return core, np.isin(L.unit, keep)


def _split_fill(lab: np.ndarray, F: np.ndarray, v: np.ndarray, prob: np.ndarray | None = None) -> np.ndarray:
    """Fill pixels of the footprint.

    The footprint's colours are clustered (k-means in Lab, near-equal clusters merged). With
    kseg-fill's per-pixel probability (``prob``), the fill is the cluster it scores highest.
    Without it, clusters are peeled from the outside in (the one touching the outside most
    goes first) while some other cluster is still fully enclosed, and the innermost is the
    fill. Depth in the footprint is no guide: a thick outline where glyphs meet is deeper
    than a thin fill stroke."""
    clusters = _colour_clusters(lab, F)
    if clusters is None:
        return F.copy()
    centers, lbl, present = clusters
    L = _Layers(F, lbl, present)
    rule = _rule_core(L, centers)
    judged = None
    if prob is not None:
        judged = _judged_core(_Layers(F, lbl, present), lbl, prob, rule, centers)
    if judged is not None:
        core, fill = judged
        cols = sorted(present)
    else:
        if rule is None:
            return F.copy()
        core = rule
        cols = sorted(L.by_colour(L.contacts()))
        fill = np.isin(L.unit, [u for u in np.nonzero(L.alive)[0] if L.colour_of[u] == core])
    if len(cols) > 1 and fill.any():
        # a vertical gradient split into bands: neighbours lying above or below, band by band
        span = max(3.0, _extent(v[L.region]))
        pending = [c for c in cols if c != core]
        grew = True
        while grew and pending:
            grew = False
            vc = float(v[fill].mean())
            near = cv2.dilate(fill.astype(np.uint8), L.K3).astype(bool)
            for c in list(pending):
                m = L.mask_of(c)
                if (near & m).sum() >= 5 and abs(float(v[m].mean()) - vc) > 0.2 * span and _band_like(m, fill, prob):
                    # only its pieces that touch the fill: a band of the letters lies against
                    # them, while pieces of that colour beyond an outline are the footage a loose
                    # mask took (a white shirt round black-outlined letters whose gradient starts
                    # in cream took the place of their outline, and none was measured)
                    fill |= np.isin(L.unit, np.unique(L.unit[near & m]))
                    pending.remove(c)
                    grew = True
    return fill


def _band_like(m: np.ndarray, fill: np.ndarray, prob: np.ndarray | None) -> bool:
    """Could ``m`` be another band of the fill's vertical gradient? Not when kseg-fill scores it
    under half the fill's probability: a plate strip, a cloud or a sticker above or below the
    letters is not letters (a plate taken in as a "gradient" made black text on a yellow
    plate come out yellow)."""
    return prob is None or float(prob[m].mean()) >= BAND_PROB * float(prob[fill].mean())


def _unfilled_letters(lab, F, fill, u, v, text_height: float, prob: np.ndarray | None = None) -> np.ndarray:
    """Letters of a second colour that the fill layer left out: stretches of the footprint at
    least a letter wide that hold no fill, split into their own layers, kept when their rim
    has the colour of the fill's rim (a pink word and a yellow word inside one black outline:
    one caption in two colours, not a logo or a sticker beside it). ``prob``: kseg-fill's
    judgement, which tells the stretch's letters from its rings as it does the line's (peeled
    from the outside in, a white inner outline around thin pink letters was taken for them)."""
    extra = np.zeros_like(F)
    if not fill.any() or text_height < 6:
        return extra
    rim_lab = _rim_lab(lab, fill, F)
    if rim_lab is None:
        return extra  # no outline: the footprint is the fill, nothing left out
    lo = int(np.floor(u[F].min()))
    fu = np.round(u[F]).astype(np.int64) - lo
    n = int(fu.max()) + 1
    has_f = np.bincount(fu, minlength=n) > 0
    has_fill = np.bincount(np.clip(np.round(u[fill]).astype(np.int64) - lo, 0, n - 1), minlength=n) > 0
    k = max(1, int(0.25 * text_height))  # the gaps between letters are not stretches
    # centred to the line's length ("same" gives the kernel's length when it is the longer: a
    # line narrower than half a text height, as a tall box at the frame's edge, crashed here)
    near = np.convolve(has_fill.astype(np.float64), np.ones(2 * k + 1))[k:k + n] > 0
    edges = np.flatnonzero(np.diff(np.r_[0, (has_f & ~near).astype(np.int8), 0]))
    for s, e in zip(edges[::2], edges[1::2]):
        if e - s < 0.5 * text_height:
            continue
        part = F & (u >= s + lo - k - 0.5) & (u < e + lo + k - 0.5)
        if part.sum() < 20:
            continue
        inner = _split_fill(lab, part, v, prob)
        if inner.all() or not inner.any():
            continue
        ring_lab = _rim_lab(lab, inner, part)
        if ring_lab is not None and float(_de(ring_lab, rim_lab)) < DISTINCT:
            extra |= inner
    return extra


def _rim(letters: np.ndarray, F: np.ndarray) -> np.ndarray:
    """The outline round ``letters``, 2-3 px out: the first pixel past a letter's edge holds its
    blend into the outline (dark letters' rings measured L 71-83 in a white outline read 94.6
    round the red word beside them: bench/real's clip through the video's box, the dark words
    taken for another caption). A thin outline keeps its 0-2 px ring."""
    band = F & _dilate(letters, 3) & ~_dilate(letters, 1)
    return band if band.sum() >= 10 else _dilate(letters, 2) & F & ~letters


def _rim_lab(lab: np.ndarray, letters: np.ndarray, F: np.ndarray) -> np.ndarray | None:
    """The colour of the outline round ``letters`` (``_rim``) without the tint they bled into
    it (``_untinted``); None where the footprint holds under 10 px of outline."""
    rim = _rim(letters, F)
    if rim.sum() < 10:
        return None
    return _untinted(np.median(lab[rim], axis=0), np.median(lab[letters], axis=0))


def _untinted(colour: np.ndarray, source: np.ndarray) -> np.ndarray:
    """A Lab colour without the tint a neighbour (``source``, Lab) bled into it: 4:2:0 keeps
    chroma at half resolution, so the white outline of red letters measures pink (next to the
    white outline of the same line's black letters it was another caption's: bench/real's clip),
    and thin black letters in a yellow glow olive (``_unbleed``). Only chroma pointing the way
    the source's does is taken off (BLEED_COS), and only from a source of colour (BLEED_CHROMA),
    so a colour of its own stays that colour."""
    colour = np.asarray(colour, np.float64).copy()
    c, d = colour[1:], np.asarray(source, np.float64)[1:]
    nc, nd = float(np.linalg.norm(c)), float(np.linalg.norm(d))
    if nc > 1e-6 and nd > BLEED_CHROMA and float(c @ d) / (nc * nd) > BLEED_COS:
        colour[1:] = c - float(c @ d) / nd ** 2 * d
    return colour


def _colour_runs(rgb, lab, fill, u, v, extra: np.ndarray | None = None) -> tuple[list[ColourRun] | None, np.ndarray | None]:
    """Letters in more than one colour (a white name, then yellow words; one red word): the
    fill's pieces along the line (runs of occupied columns: syllables, words) grouped by
    colour, with the line's vertical gradient taken out first so that a gradient (which spans
    every piece alike) is not mistaken for a colour change. Returns the runs, left to right,
    and the fill pixels of the colour of most letters (by width), or (None, None) for a
    line in one colour."""
    core = _core(fill)
    if core.sum() < 20:
        return None, None
    pl = lab[core].astype(np.float64)
    pv = v[core].astype(np.float64)
    _, slope = _fit_rows(pl, pv)
    res = pl - np.outer(pv, slope)
    fu = np.round(u[fill]).astype(np.int64)
    lo = int(fu.min())
    occ = np.bincount(fu - lo) > 0
    edges = np.flatnonzero(np.diff(np.r_[0, occ.astype(np.int8), 0]))
    cu = np.round(u[core]).astype(np.int64)
    # letters of the second colour ``extra`` found, when they are all thin (small dark words
    # beside a bold red phrase), have too few core pixels: measured on all their pixels rather
    # than dropped (not the fill layer's own thin pieces, nor fragments of a second layer that
    # has a core elsewhere: the small pale syllables of a bouncing gradient line are blends)
    thin = extra is not None and (core & extra).sum() < THIN_SHARE * extra.sum()
    in_extra = extra[fill] if thin else np.zeros(len(fu), bool)
    res_all = lab[fill].astype(np.float64) - np.outer(v[fill].astype(np.float64), slope) if thin else None
    pieces = []  # (start, end, colour, pixels)
    for s, e in zip(edges[::2] + lo, edges[1::2] + lo):
        sel = (cu >= s) & (cu < e)
        if sel.sum() >= 8:
            pieces.append((int(s), int(e), np.median(res[sel], axis=0), float(sel.sum())))
            continue
        sel = (fu >= s) & (fu < e)
        if sel.sum() >= 8 and in_extra[sel].mean() > 0.5:
            pieces.append((int(s), int(e), np.median(res_all[sel], axis=0), float(sel.sum())))
    if len(pieces) < 2:
        return None, None
    groups: list[dict] = []
    for p in sorted(pieces, key=lambda p: -p[3]):  # the biggest pieces set the colours
        g = min(groups, key=lambda g: float(_de(g["c"], p[2])), default=None)
        if g is not None and float(_de(g["c"], p[2])) < RUN_DE:
            g["c"] = (g["c"] * g["n"] + p[2] * p[3]) / (g["n"] + p[3])
            g["n"] += p[3]
            g["w"] += p[1] - p[0]
            g["p"].append(p)
        else:
            groups.append({"c": p[2].copy(), "n": p[3], "w": p[1] - p[0], "p": [p]})
    total = float(sum(g["w"] for g in groups))
    big = [g for g in groups if g["w"] >= RUN_SHARE * total]
    if len(big) < 2:
        return None, None
    hi = int(fu.max()) + 1
    span = float(max(1, hi - lo))
    # every piece (the small groups' too) to its nearest big colour, then runs left to right
    label = {}
    for g in groups:
        for p in g["p"]:
            label[p[0]] = min(range(len(big)), key=lambda k: float(_de(big[k]["c"], p[2])))
    cols = []
    for k, g in enumerate(big):
        m = np.zeros_like(fill)
        for p in (p for p in pieces if label[p[0]] == k):
            m |= (u >= p[0] - 0.5) & (u < p[1] - 0.5)
        cols.append(m & fill)
    runs: list[ColourRun] = []
    for p in sorted(pieces, key=lambda p: p[0]):
        k = label[p[0]]
        if runs and runs[-1][0] == k:
            runs[-1][2] = p[1]
        else:
            runs.append([k, p[0] if runs else lo, p[1]])
    colour = [_fill_colour(rgb, lab, m, v) for m in cols]
    ends = [r[1] for r in runs[1:]] + [hi]  # a run ends where the next begins
    out = [ColourRun(start=round((r[1] - lo) / span, 3), end=round((e - lo) / span, 3),
                     fill=colour[r[0]][0], fill2=colour[r[0]][1]) for r, e in zip(runs, ends)]
    major = max(range(len(big)), key=lambda k: big[k]["w"])
    return out, cols[major]


def _core(fill: np.ndarray) -> np.ndarray:
    """The fill's pixels at least 1.5 px inside it (their colour is the fill's, not a blend
    with what surrounds it), or the whole fill where strokes are too thin to have them."""
    core = fill & (_dt(fill) >= 1.5)
    return core if core.sum() >= 10 else fill


def _thin_dark_ink(rgb, lab, fill) -> tuple[int, int, int] | None:
    """The ink colour of thin dark letters on something lighter (a plate, a cloud, a light
    outline): strokes 1-3 px wide are all edge, so their median is the ink blended with its
    surroundings (black letters measured grey, red ones pink); the darkest tenth is the ink
    (used when darker than the fill's own estimate). None unless the fill is clearly darker
    than the pixels around it."""
    around = _dilate(fill, 2) & ~fill
    if around.sum() < 10 or fill.sum() < 10:
        return None
    L = lab[fill][:, 0]
    if float(np.median(lab[around][:, 0])) - float(np.median(L)) <= INK_DARKER:
        return None
    ink = _rgb(np.median(rgb[fill][L <= np.percentile(L, 100 * INK_SHARE)], axis=0))
    return _unbleed(ink, lab, fill)


def _unbleed(ink: tuple[int, int, int], lab, fill, dark_only: bool = False) -> tuple[int, int, int]:
    """Dark ink tinted the way its surroundings are loses that tint: their colour bled in (4:2:0
    keeps chroma at half resolution, so a 1-3 px stroke has little chroma of its own; black
    letters inside a yellow glow measured olive). ``dark_only``: only for ink darker than
    DARK_INK, or white with a tint (lighter than LIGHT_INK, chroma under LIGHT_CHROMA: thin
    white letters over a green scene measured mint), and less colourful than the surroundings
    (letters of a colour of their own, red on a yellow plate, are more colourful than what bled
    into them)."""
    far = _dilate(fill, 5) & ~_dilate(fill, 2)
    if far.sum() < 10:
        return ink
    plate = np.median(lab[far], axis=0)
    il = _lab(np.uint8([ink]))[0].astype(np.float64)
    chroma = float(np.linalg.norm(il[1:]))
    if dark_only and (DARK_INK <= il[0] <= LIGHT_INK or chroma >= np.linalg.norm(plate[1:])
                      or (il[0] > LIGHT_INK and chroma >= LIGHT_CHROMA)):
        return ink
    un = _untinted(il, plate)
    if not np.array_equal(un, il):
        ink = _from_lab(un)
    return ink


def _light_untinted(colour: tuple[int, int, int], fills: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """A light outline without the tint its letters bled into it: a 2-3 px white outline round
    red letters measures pink through 4:2:0 ((255, 209, 210), ΔE00 15-19 from white; bench/real's
    `진짜 고맙다`). Only a tint pointing a fill's way (BLEED_COS) and weaker than OUTLINE_BLEED of
    that fill's chroma goes: a pastel outline of its own is more colourful than a bleed."""
    ol = _lab(np.uint8([colour]))[0].astype(np.float64)
    if ol[0] < LIGHT_INK:
        return colour
    un = ol
    for f in fills:
        fl = _lab(np.uint8([f]))[0].astype(np.float64)
        fc = float(np.linalg.norm(fl[1:]))
        if fc > BLEED_CHROMA and 0.0 < float(un[1:] @ fl[1:]) / fc < OUTLINE_BLEED * fc:
            un = _untinted(un, fl)
    return colour if np.array_equal(un, ol) else _from_lab(un)


def _fill_colour(rgb, lab, fill, v) -> tuple[tuple[int, int, int], tuple[int, int, int] | None]:
    """Robust fill colour; for a vertical gradient its top and bottom ends."""
    core = _core(fill)
    px = rgb[core].astype(np.float64)
    pv = v[core].astype(np.float64)
    a, b = _fit_rows(px, pv)
    fv = v[fill]
    lo, hi = np.percentile(fv, [3, 97])
    top, bot = a + b * lo, a + b * hi
    if float(_de(_lab(np.clip([top, bot], 0, 255)[None])[0, 0],
                 _lab(np.clip([top, bot], 0, 255)[None])[0, 1])) >= GRADIENT_DE:
        return _rgb(top), _rgb(bot)
    return _rgb(np.median(px, axis=0)), None


def _shadow(F, body, rgb, text_height) -> tuple[Shadow | None, np.ndarray]:
    """A one-sided offset copy of the glyph body inside the footprint = a drop shadow.

    score(s) = sum over p in body+s outside the body of (+1 if p is footprint else -1):
    the true offset explains the most shadow pixels before overshooting."""
    none = (None, np.zeros_like(F))
    R = int(max(3, min(25, 0.3 * text_height)))
    if body.sum() < 10:
        return none
    G = body.astype(np.float32)
    Hm = (2.0 * F.astype(np.float32) - 1.0) * (1.0 - G)
    # corr[s] = sum_p G[p - s] * Hm[p]  ==  (Hm conv flip(G))[s + offset]
    corr = fftconvolve(Hm, G[::-1, ::-1], mode="full")
    cnt = fftconvolve(1.0 - G, G[::-1, ::-1], mode="full")  # |shift(G) \ G| in the crop
    oy, ox = G.shape[0] - 1, G.shape[1] - 1
    win = corr[oy - R:oy + R + 1, ox - R:ox + R + 1]
    cwin = cnt[oy - R:oy + R + 1, ox - R:ox + R + 1]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    dy, dx = iy - R, ix - R
    best, opp = float(win[iy, ix]), float(win[R - dy, R - dx])
    n = float(cwin[iy, ix])
    if (dx * dx + dy * dy) < 2 or n < 1 or best <= 0 or (best - opp) < 0.35 * n:
        return none
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    shifted = cv2.warpAffine(body.astype(np.uint8), M, (F.shape[1], F.shape[0])).astype(bool)
    zone = F & shifted & ~body
    if zone.sum() < 5:
        return none
    core = zone & (_dt(zone) >= 1.5)
    px = rgb[core if core.sum() >= 5 else zone]
    return Shadow(color=_rgb(np.median(px, axis=0)), dx=float(dx), dy=float(dy)), zone


def _outlines(rgb, lab, ring, d_fill, width, fill_rgb, bg_lab):
    """(outline, width, outline2, width2) from the ring's colour profile along d_fill."""
    if width < 0.6 or ring.sum() < 5:
        return None, 0.0, None, 0.0
    fill_lab = _lab(np.array([fill_rgb], np.uint8))[0]
    r = d_fill[ring]
    L = lab[ring].astype(np.float64)
    px = rgb[ring].astype(np.float64)
    o2 = None
    nb = int(round(width))
    if nb >= 3:
        # colour per 1-px band of distance from the fill; band 1 is the fill/outline blend
        band = np.rint(r).astype(int)
        med = {b: np.median(L[band == b], 0) for b in range(2, nb + 1) if (band == b).sum() >= 5}
        best, split = 0.0, 0
        for k in range(2, nb):
            inner = [med[b] for b in range(2, k + 1) if b in med]
            outer = [med[b] for b in range(k + 1, nb + 1) if b in med]
            if not inner or not outer:
                continue
            # both sides must be uniform, and differ from each other
            de = float(_de(np.median(inner, 0), np.median(outer, 0)))
            spread = max(float(np.ptp(_de(np.array(inner), np.median(inner, 0)))) if len(inner) > 1 else 0.0,
                         float(np.ptp(_de(np.array(outer), np.median(outer, 0)))) if len(outer) > 1 else 0.0)
            if de - spread > best:
                best, split = de - spread, k
        if best >= 2 * DISTINCT:
            o2 = float(split)
    inner_w = o2 if o2 is not None else width
    sel = r <= inner_w + 0.5
    pure = sel & (r > 1.0) & (r <= max(1.5, inner_w - 0.5))
    use = pure if pure.sum() >= 10 else sel
    if use.sum() < 3:
        return None, 0.0, None, 0.0
    # blur and compression mix a thin ring with the fill: its purest pixels are the ones
    # least like the fill
    plain_lab = np.median(L[use], axis=0)
    far = _de(L, fill_lab)
    use = use & (far >= np.percentile(far[use], 50))
    col = np.median(px[use], axis=0)
    col_lab = np.median(L[use], axis=0)
    if float(_de(col_lab, fill_lab)) < DISTINCT:
        return None, 0.0, None, 0.0
    outer = (r > o2 + 0.5) & (r <= width - 0.5) if o2 is not None else None
    if outer is not None and outer.sum() < 5:
        outer = r > o2
    # an inner ring like the background is background inside a loose mask, unless a distinct
    # outer ring encloses it (a dark outline under a white one, over dark footage)
    enclosed = outer is not None and bg_lab is not None and float(_de(np.median(L[outer], 0), bg_lab)) >= 10.0
    if bg_lab is not None and not enclosed and float(_de(plain_lab, bg_lab)) < 10.0:
        return None, 0.0, None, 0.0
    if width < 2.0 and bg_lab is not None:
        # a thin ring that is a blend of fill and the background just outside is anti-aliasing
        f_b = float(_de(fill_lab, bg_lab))
        if float(_de(fill_lab, plain_lab) + _de(plain_lab, bg_lab)) <= 1.15 * f_b + 3.0:
            return None, 0.0, None, 0.0
    if o2 is None:
        return _rgb(col), width, None, 0.0
    return _rgb(col), o2, _rgb(np.median(px[outer], axis=0)), width - o2


# ----------------------------------------------------------------------------- banner

class _RowLab:
    """``_lab`` of a frame, converted a span of rows at a time as it is read: the plate search
    reads a few text heights around its line and the rows of a plate found, and the whole
    frame's Lab cost 18 ms (720p) to 44 ms (1080p) for every caption measured. Indexed like
    the array (``[rows, cols]``), with the same values."""

    def __init__(self, img: np.ndarray):
        self.img = img
        self.lab = np.empty(img.shape[:2] + (3,), np.float32)
        self.done = np.zeros(img.shape[0], bool)

    def convert(self, lo: int, hi: int) -> None:
        """Rows [lo, hi) converted, those not converted yet at once (one conversion, not a row
        at a time as a step search reads them)."""
        lo, hi = max(0, lo), min(self.img.shape[0], hi)
        need = np.flatnonzero(~self.done[lo:hi])
        if need.size:
            a, b = lo + int(need[0]), lo + int(need[-1]) + 1
            self.lab[a:b] = _lab(self.img[a:b])
            self.done[a:b] = True

    def __getitem__(self, key):
        rows = np.atleast_1d(np.arange(self.img.shape[0])[key[0] if isinstance(key, tuple) else key])
        if rows.size:
            self.convert(int(rows.min()), int(rows.max()) + 1)
        return self.lab[key]


class _Steps:
    """Colour steps across the rows or columns of a frame, the letters (``ink``) left out: what
    the plate search (``_banner``) reads a plate's borders from."""

    def __init__(self, lab: _RowLab, ink: np.ndarray):
        self.lab, self.ink = lab, ink
        self.H, self.W = ink.shape

    def steps(self, axis: int, lo: int, hi: int, span: tuple[int, int]) -> np.ndarray:
        """Per row (axis 0) / column (axis 1) in [lo, hi): median colour step across it."""
        out = np.full(max(0, hi - lo), np.nan)
        a0, a1 = span
        if axis == 0:  # the rows read below, converted at once
            self.lab.convert(lo - 2, hi + 1)
        else:
            self.lab.convert(a0, a1)
        lab, ink = self.lab.lab, self.ink  # those rows are converted: read the array itself
        k0, k1 = max(lo, 2), min(hi, (self.H if axis == 0 else self.W) - 1)  # rows k-2 and k+1 exist
        if k1 <= k0:
            return out
        # all rows at once, each row's median over its pixels off the letters (a row at a time
        # was a fifth of measure_style on a 1080p caption: thousands of small medians)
        if axis == 0:
            d = _de(lab[k0 + 1:k1 + 1, a0:a1], lab[k0 - 2:k1 - 2, a0:a1])
            ok = ~(ink[k0 + 1:k1 + 1, a0:a1] | ink[k0 - 2:k1 - 2, a0:a1])
        else:
            d = _de(lab[a0:a1, k0 + 1:k1 + 1], lab[a0:a1, k0 - 2:k1 - 2]).T
            ok = ~(ink[a0:a1, k0 + 1:k1 + 1] | ink[a0:a1, k0 - 2:k1 - 2]).T
        n = ok.sum(1)
        rows = np.flatnonzero(n >= max(3, 0.3 * ok.shape[1]))
        if rows.size:
            d = np.where(ok[rows], d[rows], np.inf)
            d.sort(axis=1)  # the letters' pixels last
            m = n[rows]
            r = np.arange(rows.size)
            # np.median's: the middle value, or the mean of the two middle ones
            out[k0 - lo + rows] = (d[r, (m - 1) // 2] + d[r, m // 2]) / np.float32(2)
        return out

    def edge(self, axis: int, lo: int, hi: int, span, toward_low: bool) -> int | None:
        """The plate's border in [lo, hi): the strong step nearest the text (toward_low: the
        text is above / right of the range), None without a clear one."""
        sc = self.steps(axis, lo, hi, span)
        if np.all(np.isnan(sc)):
            return None
        best = float(np.nanmax(sc))
        typical = float(np.nanmedian(sc))
        if best < 10.0 or best < 2.5 * max(typical, 2.0):
            return None
        # the plate's border is the strong step nearest the text, not the strongest one: a
        # small badge's edge beside a bigger caption or a graphic farther out is weaker
        strong = np.flatnonzero(np.nan_to_num(sc) >= max(10.0, 2.5 * max(typical, 2.0), PLATE_NEAR * best))
        i = int(strong[-1] if toward_low else strong[0])
        return lo + i - 1 if toward_low else lo + i  # first plate row/col

    def others_letters(self, others: np.ndarray, k: int, span: tuple[int, int]) -> bool:
        """Whether the step at row ``k`` (rows k+1 against k-2, as ``steps`` reads them) is the
        edge of other lines' letters (``others``) rather than a plate's border: where those
        letters cross the row, the step is read again in the span's columns clear of them, and
        a plate's border runs on there; letters' tops end with the letters. Too few clear
        columns to tell (a line stacked on one as wide): not theirs."""
        a0, a1 = span
        near = others[max(0, k - 2):k + 3, a0:a1].any(0)
        if not near.any():
            return False
        near = _dilate(near[None], 2)[0]
        cols = a0 + np.flatnonzero(~near)
        cols = cols[~(self.ink[k + 1, cols] | self.ink[k - 2, cols])] if k >= 2 and k + 1 < self.H else cols[:0]
        if cols.size < OTHERS_CLEAR:
            return False
        d = _de(self.lab[k + 1:k + 2, cols][0], self.lab[k - 2:k - 1, cols][0])
        return float(np.median(d)) < 10.0

    def runs_to(self, rows: list[int], start: int, toward_low: bool) -> int:
        """Column where the farther-reaching of the border ``rows`` stops, followed from the
        text's side ``start`` in EDGE_CHUNK pieces (the frame's edge if it runs there)."""
        W = self.W
        if not rows:
            return 0 if toward_low else W
        best = start
        for r in rows:
            pos, miss, c = start, 0, start
            while miss < 2 and (c > 0 if toward_low else c < W):
                c0, c1 = (max(0, c - EDGE_CHUNK), c) if toward_low else (c, min(W, c + EDGE_CHUNK))
                if np.nan_to_num(self.steps(0, r, r + 1, (c0, c1)))[0] >= 10.0:
                    miss, pos = 0, (c0 if toward_low else c1)
                else:
                    miss += 1
                c = c0 if toward_low else c1
            best = min(best, pos) if toward_low else max(best, pos)
        return best


# A "plate" whose inside shows more than 70 % of the footage's detail around it is straight
# edges of the picture (a car window, a tile's border) on either side of text, not a plate: on
# bench/real the six plates measured at this floor were all such edges (three round captions,
# three round logos and specks), and drawn, the English got a faint box of footage colour.
MIN_PLATE_OPACITY = 0.3


def _banner(img: np.ndarray, full: np.ndarray, box: Box | None = None,
            others: np.ndarray | None = None) -> Banner | None:
    """A plate behind the line: straight colour steps above, below and beside the text.

    Found from edges rather than uniformity, so a translucent plate over busy footage
    (uneven inside, but with a sharp, straight border) is found too; flat footage has
    no such steps. ``others``: other lines' letters. The edge of the line above's letters read
    as a plate's top border, and with a collage's seam below, a caption with no plate was
    given one (bench/real's hahabus tiles): a border along other lines' letters must run on
    beside them (``_Steps.others_letters``)."""
    H, W = img.shape[:2]
    if box is not None:
        full = _cut_to_line(full, box)  # the rim bits a mask took are not text
    ys, xs = np.nonzero(full)
    bx0, by0, bx1, by1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    th = by1 - by0 if box is None else min(by1 - by0, box[3] - box[1])
    lab = _RowLab(img)
    ink = _dilate(full, 2)
    limit = max(6, int(1.5 * th))

    S = _Steps(lab, ink)
    steps, edge = S.steps, S.edge

    # the border rows are looked for up to the line box, not only to the mask's top and bottom,
    # and the line is as tall as its box: on a plate that hugs its line (a real silver bar) the
    # step into the plate lies between the mask's rim bits and the letters, and counted in the
    # line's height the rim bits made the plate too low for it
    t_end, b_start = (max(by0, box[1]), min(by1, box[3])) if box is not None else (by0, by1)
    top = edge(0, max(2, by0 - limit), t_end, (bx0, bx1), True)
    bot = edge(0, b_start, min(H - 2, by1 + limit), (bx0, bx1), False)
    if others is not None:
        top = None if top is not None and S.others_letters(others, top + 1, (bx0, bx1)) else top
        bot = None if bot is not None and S.others_letters(others, bot, (bx0, bx1)) else bot
    T = top + 1 if top is not None else (0 if by0 <= 3 else None)
    B = bot + 1 if bot is not None else (H if by1 >= H - 3 else None)
    # A plate that runs on to the frame's edge (a letterbox band or a bar at the bottom) has
    # no step on that side: when the search reached the edge, its step on the other side is
    # the evidence, and the plate ends at the frame, if what lies between the text and the edge
    # has the colour of the plate on the text's other side (a bar whose soft lower edge the
    # search missed has the footage there, not the plate).
    def same_plate(a0: int, a1: int, b0: int, b1: int) -> bool:
        """Rows [a0, a1) and [b0, b1) (ink left out) have one colour, within EDGE_PLATE_DE."""
        if a1 - a0 < 1 or b1 - b0 < 1:
            return False
        pa = lab[a0:a1, bx0:bx1][~ink[a0:a1, bx0:bx1]]
        pb = lab[b0:b1, bx0:bx1][~ink[b0:b1, bx0:bx1]]
        if len(pa) < 10 or len(pb) < 10:
            return False
        return float(_de(np.median(pa, axis=0), np.median(pb, axis=0))) < EDGE_PLATE_DE

    if B is None and top is not None and by1 + limit >= H - 2 and same_plate(top + 2, by0, by1, H):
        B = H
    from_bottom = T is None and bot is not None and by0 - limit <= 2 and same_plate(by1, bot, 0, by0)
    if from_bottom:
        T = 0
    if T is None or B is None or B - T < th:
        return None
    # a plate hugs its line: steps farther above or below belong to the picture (a panel's
    # edge, a wall, the next caption's plate), not to a plate behind this text
    if (T > 0 and by0 - T > PLATE_MARGIN * th) or (B < H and B - by1 > PLATE_MARGIN * th):
        return None
    # The plate's top and bottom borders run from the text to its sides. A rounded plate's side
    # step is weak beside busy footage: searched across the whole frame, a stronger step out in
    # the picture (a shirt against a suit) took the plate across the frame to it.
    rows = ([top + 1] if top is not None else []) + ([bot] if bot is not None else [])
    left = edge(1, 2, bx0, (T, B), True)
    right = edge(1, bx1, W - 2, (T, B), False)
    # a side edge beyond where the borders run may be the picture's: an edge within them (and a
    # rounded corner) wins. Not finding one is no proof: a label or a like-coloured background
    # on the border hides its step, so the far edge then stays.
    corner = max(EDGE_CHUNK, th // 2)
    if left is not None and left < (lo := S.runs_to(rows, bx0, True)) - corner:
        near = edge(1, max(2, lo - corner), bx0, (T, B), True)
        left = left if near is None else near
    if right is not None and right > (hi := S.runs_to(rows, bx1, False)) + corner:
        near = edge(1, bx1, min(W - 2, hi + corner), (T, B), False)
        right = right if near is None else near
    L = left + 1 if left is not None else 0
    R = right + 1 if right is not None else W
    if top is not None and bot is not None:
        L, R = _even_ends(S, T, B, (bx0, bx1), (L, R), (top + 1, bot), corner, th)
    # without a side edge the plate must reach the frame edge: the top step runs on there
    for found, x0_, x1_ in ((left, 0, min(W, 16)), (right, max(0, W - 16), W)):
        if found is None:
            if top is not None and np.nan_to_num(steps(0, top + 1, top + 2, (x0_, x1_)))[0] < 10.0:
                return None
            if from_bottom and np.nan_to_num(steps(0, bot, bot + 1, (x0_, x1_)))[0] < 10.0:
                return None
    if (R - L) * (B - T) > PLATE_AREA_MAX * W * H:
        return None  # the picture between letterbox bars, not a plate: drawn, it hid the frame
    rim = plate_rim(lab, (L, T, R, B), th)
    opacity, colour = _opacity(img, full, ink, (L, T, R, B), rim)
    if opacity < MIN_PLATE_OPACITY:
        return None
    return Banner(box=(int(L), int(T), int(R), int(B)), color=colour, opacity=round(opacity, 3), rim=rim)


EVEN_DE = 10.0  # Lab: an even plate's inside lies this close to its row's colour beside the text ...
EVEN_SHARE = 0.8  # ... on this share of its pixels, and a column of it on half of its own
EVEN_RUN = 0.4  # text heights of columns off that colour: where the plate has ended


def _even_ends(S: _Steps, T: int, B: int, span: tuple[int, int], ends: tuple[int, int],
               borders: tuple[int, int], corner: int, th: int) -> tuple[int, int]:
    """The sides of an even (flat-coloured) plate where its top and bottom borders disagree.

    The side search reads steps in the columns beside the letters, but text-SAM's mask may
    take a small label's own dark edge as a letter, and the search then starts past it: a
    name label above a subtitle bar ran on to the bar's far end, whose top border the label's
    bottom border continues (bench/real ``mudozzal/0006``), and the label's English was drawn
    8 px tall in it. Where the plate beside the letters is one colour, that colour ends well
    before the side found, and one border stops there too, the plate ends with its colour."""
    bx0, bx1 = span
    L, R = ends
    if B - T < 4 or (bx1 >= R - corner and bx0 <= L + corner):
        return L, R
    S.lab.convert(T, B)
    lab, ink = S.lab.lab[T:B], S.ink[T:B]
    beside = ~ink[:, bx0:bx1]
    if beside.sum() < 10:
        return L, R
    # each row's colour beside the letters (a vertical gradient, a silver bar, is even too)
    known = beside.sum(1) >= 3
    if known.sum() < 0.5 * (B - T):
        return L, R
    vals = np.where(beside[..., None], lab[:, bx0:bx1], np.float32(np.nan))
    rows = np.full((B - T, 3), np.nan, np.float32)
    rows[known] = np.nanmedian(vals[known], axis=1)
    rows[~known] = np.median(rows[known], axis=0)
    if float(np.mean((_de(lab[:, bx0:bx1], rows[:, None]) < EVEN_DE)[beside])) < EVEN_SHARE:
        return L, R  # footage through a translucent plate: its colour says nothing of its ends
    run = max(3, int(round(EVEN_RUN * th)))

    def end(a: int, b: int, outward: int) -> int | None:
        """The first of ``run`` columns in [a, b), read from the text outward, off the plate's
        colour (columns mostly under letters, or what the mask took, are no evidence)."""
        if b - a < run:
            return None
        free = ~ink[:, a:b]
        on = (_de(lab[:, a:b], rows[:, None]) < EVEN_DE) & free
        n = free.sum(0)
        off = (n >= 0.5 * (B - T)) & (on.sum(0) < 0.5 * n)
        if outward < 0:
            off = off[::-1]
        k = np.convolve(off.astype(np.int32), np.ones(run, np.int32), "valid")
        hit = np.flatnonzero(k >= run)
        if not hit.size:
            return None
        return a + int(hit[0]) if outward > 0 else b - 1 - int(hit[0])

    # the borders' reach is followed only where the colour ends early (a step search a chunk
    # at a time across the frame: most plates are even up to the sides found)
    if bx1 < R - corner and (e := end(bx1, R, 1)) is not None and e < R - corner \
            and min(S.runs_to([r], bx1, False) for r in borders) < R - corner:
        R = e
    if bx0 > L + corner and (e := end(L, bx0, -1)) is not None and e + 1 > L + corner \
            and max(S.runs_to([r], bx0, True) for r in borders) > L + corner:
        L = e + 1
    return L, R


def plate_rim(image: np.ndarray | _RowLab, box: Box, th: float) -> tuple[int, int, int, int]:
    """The plate's border band beyond each side of ``box`` (left, top, right, bottom, px): rows
    (columns) of one colour along the side, up to RIM_MAX text heights, that end where the
    footage begins. The plate search finds the step into the plate's inside, so a silver bar's
    dark rim lay outside its box, and a plate drawn again larger for the English left the old
    rim showing above and below it (bench/real's MBC clip). Uniform rows that run on as far as
    RIM_MAX allows in the same colour are the footage's (a wall), not a rim. ``image``: RGB (or
    its ``_RowLab``, shared with the plate search)."""
    lab = image if isinstance(image, _RowLab) else _RowLab(as_rgb(image, "plate_rim"))
    H, W = lab.img.shape[:2]
    L, T, R, B = (int(v) for v in box)
    most = max(1, int(RIM_MAX * th))
    out = []
    for axis, start, step, (a0, a1) in ((1, L - 1, -1, (T, B)), (0, T - 1, -1, (L, R)),
                                         (1, R, 1, (T, B)), (0, B, 1, (L, R))):
        cut = (a1 - a0) // 10  # rounded corners: the middle of the side
        a0, a1 = a0 + cut, a1 - cut
        size = W if axis == 1 else H
        first = None  # the band's colour (its last row's)
        k = band = 0
        while k <= most + RIM_BLEND:
            at = start + step * k
            if at < 0 or at >= size or a1 - a0 < 3:
                break
            px = lab[a0:a1, at] if axis == 1 else lab[at, a0:a1]
            med = np.median(px, axis=0)
            even = float(np.mean(_de(px, med) < RIM_EVEN)) >= RIM_SHARE
            jump = float(_de(med, first)) if first is not None else 0.0
            if first is None or (k < RIM_BLEND and jump >= RIM_STEP):
                # the blend of the plate's own edge (one even row of it, a step on, is no rim)
                if even:
                    first = med
                elif k >= RIM_BLEND:
                    break  # no band after it
            elif not even or jump >= RIM_STEP:
                break  # the footage (or another band) begins
            first = med if first is not None else first  # a rim may shade from row to row
            k += 1
            band = k if first is not None else band
        # a rim ends in a step to the footage (within a row of blend): smooth footage next to the
        # plate is even for a few rows too, and fades out of it without one
        beyond = [start + step * (band + j) for j in (0, 1)]
        stepped = first is not None and any(
            float(_de(np.median(lab[a0:a1, at] if axis == 1 else lab[at, a0:a1], axis=0), first)) >= RIM_STEP
            for at in beyond if 0 <= at < size)
        # one more row for the blend into the footage; a band that ran on past RIM_MAX is the
        # picture's (a wall), not a rim
        out.append(min(band + 1, most + RIM_BLEND) if stepped and band <= most + RIM_BLEND else 0)
    return out[0], out[1], out[2], out[3]


def _texture(grey: np.ndarray) -> np.ndarray:
    g = grey.astype(np.float32)
    return np.abs(g - cv2.GaussianBlur(g, (0, 0), 2.0))


SEEN_GAP = RIM_BLEND + 2  # px from a plate's border (beyond its rim outside) where its sides are compared
SEEN_MIN_SPREAD = 4.0  # grey levels: footage beside the plate flatter than this shows nothing through
SEEN_MIN_OWN = 0.3  # footage keeping less of its variation than this over the gap tells nothing


def _seen_through(grey, box, rim, away) -> float | None:
    """Opacity from the plate's border: footage runs on under a translucent plate, so just
    inside each side it varies as it does just outside, scaled by (1 - a); inside an opaque
    plate it does not vary with it at all. The slope of inside on outside over the four sides
    (SEEN_GAP px each way, pixels of ``away`` (the letters grown) left out), divided by the
    slope the footage itself shows between two lines as far apart outside the plate (footage
    changes over the gap too), is 1 - a. None where the footage beside the plate is too flat,
    changes too much over the gap to tell, or too little of it is seen. Why beside the texture
    ratio: the inside of a small opaque plate is mostly a codec's ringing round its letters,
    which the ratio reads as footage seen through (most of bench/real's opaque plates that
    measured translucent)."""
    H, W = grey.shape[:2]
    L, T, R, B = box
    rl, rt, rr, rb = rim
    g = SEEN_GAP
    cols = np.arange(L + g + 2, R - g - 2)
    rows = np.arange(T + g + 2, B - g - 2)
    ins, outs, far = [], [], []
    # (inside line, outside line, its step away from the plate, positions along, axis)
    for at_in, at_out, step, along, axis in ((T + g, T - 1 - rt - g, -1, cols, 0), (B - 1 - g, B + rb + g, 1, cols, 0),
                                             (L + g, L - 1 - rl - g, -1, rows, 1), (R - 1 - g, R + rr + g, 1, rows, 1)):
        at_far = at_out + step * abs(at_out - at_in)
        size = H if axis == 0 else W
        if along.size == 0 or not (0 <= at_out < size and 0 <= at_far < size):
            continue
        pos = [(np.full(along.size, at), along) if axis == 0 else (along, np.full(along.size, at))
               for at in (at_in, at_out, at_far)]
        ok = ~away[pos[0]] & ~away[pos[1]] & ~away[pos[2]]
        ins.append(grey[pos[0]][ok])
        outs.append(grey[pos[1]][ok])
        far.append(grey[pos[2]][ok])
    if not ins:
        return None
    a, b, c = (np.concatenate(v).astype(np.float64) for v in (ins, outs, far))
    if a.size < 20 or b.std() < SEEN_MIN_SPREAD:
        return None
    own = float(np.mean((c - c.mean()) * (b - b.mean())) / b.var())  # the footage's, over the gap
    if own < SEEN_MIN_OWN:
        return None
    slope = float(np.mean((a - a.mean()) * (b - b.mean())) / b.var())
    return float(np.clip(1.0 - slope / own, 0.0, 1.0))


def _opacity(img, full, ink, box, rim=(0, 0, 0, 0)) -> tuple[float, tuple[int, int, int]]:
    """Opacity from texture: a plate of opacity a lets (1 - a) of the footage's detail through,
    compared with a band of footage just outside the plate; the higher of that and what its
    border shows (``_seen_through``). ``full``: the letters; ``ink``: they grown by 2 px, as the
    plate search reads round them; ``rim``: the plate's border band beyond ``box``."""
    H, W = img.shape[:2]
    L, T, R, B = box
    inkf = _dilate(full, 7)
    band = max(4, (B - T) // 2)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    tex = _texture(grey)
    inside = np.zeros((H, W), bool)
    e = 7  # the texture filter smears the plate's own edges this far
    band = band + e
    inside[T + e:B - e, L + e:R - e] = True
    inside &= ~inkf
    outside = np.zeros((H, W), bool)
    outside[max(0, T - band):min(H, B + band), max(0, L - band):min(W, R + band)] = True
    outside[max(0, T - e):B + e, max(0, L - e):R + e] = False
    plate_rgb = np.median(img[inside], axis=0) if inside.sum() >= 10 else None
    if inside.sum() < 10 or outside.sum() < 10 or plate_rgb is None:
        # a plate too small to read texture in (a name label hugging its line): its colour from
        # what lies beside the letters, inside its border's blend. Beyond the 7-px halo only the
        # plate's ends and edges were left, and a small orange label was measured beige
        inner = img[T + 1:B - 1, L + 1:R - 1][~ink[T + 1:B - 1, L + 1:R - 1]]
        if len(inner) < 10:
            inner = img[T:B, L:R][~inkf[T:B, L:R]]
        return 1.0, _rgb(np.median(inner, axis=0) if inner.size else (0, 0, 0))
    t_in, t_out = float(np.mean(tex[inside])), float(np.mean(tex[outside]))
    if t_out < 2.0:  # flat footage: no way to tell, call it opaque
        return 1.0, _rgb(plate_rgb)
    if t_in >= t_out:
        # more detail inside than around: the plate's own (shading, codec ringing round the
        # letters), not footage showing through; taken as 0.3 opaque, its colour came out
        # black for white plates, and a plate grown for the English was drawn dark
        return 1.0, _rgb(plate_rgb)
    alpha = float(np.clip(1.0 - t_in / t_out, 0.0, 1.0))
    if alpha < MIN_PLATE_OPACITY:
        return alpha, _rgb(plate_rgb)  # not a plate: _banner drops it
    if alpha <= 0.9 and (seen := _seen_through(grey, box, rim, inkf)) is not None:
        alpha = max(alpha, seen)
    alpha = 1.0 if alpha > 0.9 else alpha
    if alpha < 1.0:
        bg = np.median(img[outside], axis=0).astype(np.float64)
        col = (plate_rgb - (1 - alpha) * bg) / alpha
        return alpha, _rgb(col)
    return alpha, _rgb(plate_rgb)


# ----------------------------------------------------------------------------- grouping

def _box_of(region) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in region.line.box)  # type: ignore[return-value]


def edge_band(banner: Banner | None, frame: tuple[int, int] | None) -> bool:
    """Whether a plate is the frame's letterbox band or an edge-to-edge bar: as wide as the frame
    (``EDGE_BAND``) and reaching its top or bottom. Such a band is not the caption's design: a
    film's two-line subtitle often has one line on the picture and one on the band."""
    if banner is None or frame is None:
        return False
    W, H = frame
    x0, y0, x1, y1 = banner.box
    return x1 - x0 >= EDGE_BAND * W and (y0 <= 0.02 * H or y1 >= 0.98 * H)


CAPTION_GAP = 0.9  # text heights between two stacked lines of one caption block


def _heights(si: Style, sj: Style) -> tuple[float, float] | None:
    """The two lines' text heights, or None when one is over 1.35x the other (not one block)."""
    hi, hj = max(1.0, si.text_height), max(1.0, sj.text_height)
    return None if max(hi, hj) / min(hi, hj) > 1.35 else (hi, hj)


def _stacked(bi, bj, hi: float, hj: float, most: float = CAPTION_GAP) -> bool:
    """Line box ``bj`` lies under ``bi`` as the next line of one block (of heights ``hi``, ``hj``,
    already alike): a gap under ``most`` text heights (or an overlap under 0.4), overlapping or
    centred across."""
    h = (hi + hj) / 2
    gap = bj[1] - bi[3]
    if gap > most * h or gap < -0.4 * h:
        return False
    wi, wj = bi[2] - bi[0], bj[2] - bj[0]
    overlap = min(bi[2], bj[2]) - max(bi[0], bj[0])
    return overlap >= 0.3 * min(wi, wj) or abs((bi[0] + bi[2]) - (bj[0] + bj[2])) / 2 <= 0.25 * max(wi, wj)


def _alike(si: Style, sj: Style) -> bool:
    """The angle (3 degrees) and fill (CIE76 25) of two lines of one block."""
    return abs(si.angle - sj.angle) <= 3.0 and delta_e(si.fill, sj.fill) <= 25.0


def _same_caption(bi, bj, si: Style, sj: Style, frame: tuple[int, int] | None = None) -> bool:
    """Two lines (bi above bj) belong to one caption block; ``frame`` (width, height) lets a
    line on a letterbox band join one on the picture."""
    hs = _heights(si, sj)
    if hs is None or not _stacked(bi, bj, *hs) or not _alike(si, sj):
        return False
    return (si.banner is None) == (sj.banner is None) or edge_band(si.banner, frame) or edge_band(sj.banner, frame)


ROW_GAP = 0.8  # text heights: the widest gap between two pieces of one line (a word space is under 0.6)
ROW_OVERLAP = 0.6  # share of the lower piece's height two pieces of one row share vertically


def _same_row(bi, bj, si: Style, sj: Style) -> bool:
    """Two pieces of one line side by side: the detector cut the line at a word space
    (bench/real: 4 of 205 lines, e.g. `서둘러 가려보는` | `비수기 몰골`), and each piece read,
    translated and drawn alone put the whole line's English over the half it did not match.
    Joined when they share most of their height, lie closer than ROW_GAP text heights, and
    look alike as lines of one block do (``_same_caption``'s size, angle, fill, plate)."""
    hs = _heights(si, sj)
    if hs is None:
        return False
    shared = min(bi[3], bj[3]) - max(bi[1], bj[1])
    if shared < ROW_OVERLAP * min(bi[3] - bi[1], bj[3] - bj[1]):
        return False
    if max(bi[0], bj[0]) - min(bi[2], bj[2]) > ROW_GAP * sum(hs) / 2:
        return False
    return _alike(si, sj) and (si.banner is None) == (sj.banner is None)


def _reading_order(boxes: list[tuple[int, int, int, int]]) -> tuple[list[int], int]:
    """Indices of a block's line boxes in reading order (rows top to bottom, pieces of a row
    left to right) and the number of rows."""
    order = sorted(range(len(boxes)), key=lambda k: (boxes[k][1] + boxes[k][3]) / 2)
    rows: list[list[int]] = []
    for k in order:
        b = boxes[k]
        if rows:
            r = boxes[rows[-1][-1]]
            if min(r[3], b[3]) - max(r[1], b[1]) >= ROW_OVERLAP * min(r[3] - r[1], b[3] - b[1]):
                rows[-1].append(k)
                continue
        rows.append([k])
    return [k for row in rows for k in sorted(row, key=lambda k: boxes[k][0])], len(rows)


def _align(boxes: list[tuple[int, int, int, int]], frame_w: int) -> str:
    if len(boxes) > 1:
        spread = {
            "left": float(np.ptp([b[0] for b in boxes])),
            "center": float(np.ptp([(b[0] + b[2]) / 2 for b in boxes])),
            "right": float(np.ptp([b[2] for b in boxes])),
        }
        widths = [b[2] - b[0] for b in boxes]
        heights = [b[3] - b[1] for b in boxes]
        if np.ptp(widths) > 0.5 * float(np.mean(heights)):  # otherwise every edge agrees
            return min(("center", "left", "right"), key=lambda k: spread[k])
    x0 = min(b[0] for b in boxes)
    x1 = max(b[2] for b in boxes)
    if abs((x0 + x1) / 2 - frame_w / 2) <= 0.08 * frame_w:
        return "center"
    if x0 <= 0.12 * frame_w:
        return "left"
    if x1 >= 0.88 * frame_w:
        return "right"
    return "center"


def group_captions(result: FrameResult, styles: list[Style]) -> list[Caption]:
    """Lines shown together (a two-line subtitle) become one Caption, top to bottom.

    Lines join when stacked with a small gap, of similar height, angle and fill colour,
    and overlapping or centred horizontally. Each line's Style.align is set in place;
    Caption.style is a copy of its first line's style."""
    regions = result.regions
    if len(styles) != len(regions):
        raise InputError(f"{result.image}: {len(styles)} styles for {len(regions)} caption lines")
    order = sorted(range(len(regions)), key=lambda i: (_box_of(regions[i])[1], _box_of(regions[i])[0]))
    parent = list(range(len(regions)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, i in enumerate(order):
        for j in order[a + 1:]:
            bi, bj = _box_of(regions[i]), _box_of(regions[j])
            if _same_caption(bi, bj, styles[i], styles[j], (result.width, result.height)) or \
                    _same_row(bi, bj, styles[i], styles[j]):
                # one line below another joins only the block's last line (no skipping)
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[rj] = ri
    groups: dict[int, list[int]] = {}
    for i in order:
        groups.setdefault(find(i), []).append(i)
    caps = []
    for members in groups.values():
        ordered, n_rows = _reading_order([_box_of(regions[i]) for i in members])
        members = [members[k] for k in ordered]
        boxes = [_box_of(regions[i]) for i in members]
        align = _align(boxes, result.width)
        for i in members:
            styles[i].align = align
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
               max(b[2] for b in boxes), max(b[3] for b in boxes))
        text = join_lines([regions[i].text.text for i in members], loaded_lm())
        caps.append(Caption(regions=members, box=box, text=text,
                            style=dataclasses.replace(styles[members[0]]), rows=n_rows))
    caps.sort(key=lambda c: (c.box[1], c.box[0]))
    return caps


BLOCK_GAP = 1.0  # text heights between two stacked lines of one block (a card of lines on one plate)
BLOCK_SLACK = 3  # px a line may poke out of the block's plate (its outline's blend)


def _holds(plate: Box, box: Box) -> bool:
    return (plate[0] <= box[0] + BLOCK_SLACK and plate[1] <= box[1] + BLOCK_SLACK
            and plate[2] >= box[2] - BLOCK_SLACK and plate[3] >= box[3] - BLOCK_SLACK)


def _block_plates(image: np.ndarray, result: FrameResult, styles: list[Style],
                  letters: list[tuple[int, int, np.ndarray]]) -> None:
    """One plate behind a block of stacked lines, found for the block as a whole.

    The plate search looks for a plate's top and bottom borders within a text height of its
    line (``PLATE_MARGIN``): the middle lines of a vlog's rounded card of three or four lines
    (bench/real) found no plate, and the first and last found the part of it between their
    border and the next line. Told apart, the lines were not one caption, and each erase
    filled its part of the plate as a rectangle of its own, edges showing. Where a line of a
    stack found no plate, the plate is looked for round the block's footprint; found holding
    every line and hugging the block (a text height at most beyond it), it is each line's
    plate. ``styles`` and the regions' masks change in place."""
    regions = result.regions
    n = len(regions)
    if n < 2:
        return
    boxes = [_box_of(r) for r in regions]
    hs = [max(1.0, st.text_height) for st in styles]
    parent = list(range(n))
    # ``_same_caption`` without the look: a vlog's card holds a white line, a pink one and a black one

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(n), key=lambda i: boxes[i][1])
    for a, i in enumerate(order):
        for j in order[a + 1:]:
            if _heights(styles[i], styles[j]) and _stacked(boxes[i], boxes[j], hs[i], hs[j], BLOCK_GAP):
                parent[find(j)] = find(i)
    blocks: dict[int, list[int]] = {}
    for i in range(n):
        blocks.setdefault(find(i), []).append(i)
    for members in blocks.values():
        if len(members) < 2:
            continue
        ub = (min(boxes[i][0] for i in members), min(boxes[i][1] for i in members),
              max(boxes[i][2] for i in members), max(boxes[i][3] for i in members))
        if all(styles[i].banner is not None for i in members):
            continue  # each line found a plate: its own (a name label over its quote's bar), or the block's
        full = np.zeros(image.shape[:2], bool)
        for i in members:
            full |= regions[i].mask.mask
        if full.sum() < MIN_PIXELS:
            continue
        plate = _banner(image, full, ub, _others(letters, members, image.shape[:2]))
        th = float(np.median([hs[i] for i in members]))
        if plate is None or not _holds(plate.box, ub):
            continue
        L, T, R, B = plate.box
        H, W = image.shape[:2]
        if (T > 0 and ub[1] - T > PLATE_MARGIN * th) or (B < H and B - ub[3] > PLATE_MARGIN * th):
            continue  # steps farther out are the picture's, not a plate's
        for i in members:
            styles[i] = dataclasses.replace(styles[i], banner=plate)
            regions[i].mask.mask = _cut_to_line(regions[i].mask.mask, regions[i].line.box, plate.box)


def _letters(result: FrameResult) -> list[tuple[int, int, np.ndarray]]:
    """Each region's letters: its mask as ``_cut_to_line`` keeps it (the plate search cuts its
    own so), as (top, left, crop) so that ``_others`` costs one frame-sized mask per line."""
    out = []
    for r in result.regions:
        m = np.asarray(r.mask.mask, bool)
        rows, cols = _line_window(r.line.box)
        crop = m[rows, cols]
        out.append((rows.start, cols.start, crop) if crop.sum() >= MIN_PIXELS else (0, 0, m))
    return out


def _others(letters: list[tuple[int, int, np.ndarray]], members: list[int],
            shape: tuple[int, int]) -> np.ndarray | None:
    """The letters of every region but ``members``, or None when there are none."""
    rest = [letters[i] for i in range(len(letters)) if i not in members and letters[i][2].size]
    if not rest:
        return None
    out = np.zeros(shape, bool)
    for y0, x0, crop in rest:
        out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] |= crop
    return out


def measure_captions(image: np.ndarray, result: FrameResult) -> tuple[list[Style], list[Caption]]:
    """Every region's style, and the regions grouped into captions: what still frames
    (``kseg.pipeline.caption_styles``) and video events (``kseg.video.analyse``) both need."""
    img = as_rgb(image, "measure_captions")
    letters = _letters(result)
    styles = [measure_style(img, r.line, r.mask.mask, _others(letters, [i], img.shape[:2]))
              for i, r in enumerate(result.regions)]
    for r, st in zip(result.regions, styles):
        if st.banner is not None:
            r.mask.mask = _cut_to_line(r.mask.mask, r.line.box, st.banner.box)
    _block_plates(img, result, styles, letters)
    return styles, group_captions(result, styles)


def plate_box(caption: Caption, shape: tuple[int, ...]) -> Box | None:
    """The plate a caption's text lies on (its style's banner, clipped to the frame), or None.

    Erasing a plated caption stays inside it and fills from the plate alone: grown past the
    plate's edge, the erase cut holes in its rim and smeared the rim's colour into the plate
    under the letters, where the English is drawn next."""
    banner = caption.style.banner
    if banner is None:
        return None
    H, W = shape[:2]
    L, T, R, B = banner.box
    L, T, R, B = max(0, L), max(0, T), min(W, R), min(H, B)
    x0, y0, x1, y1 = caption.box
    s = CUT_GROW
    if R - L < 4 or B - T < 4 or x0 < L - s or y0 < T - s or x1 > R + s or y1 > B + s:
        return None  # lines of the caption off the plate (a name tag over it): erased as usual
    return (int(L), int(T), int(R), int(B))


def _cut_to_line(mask: np.ndarray, box: Box, plate: Box | None = None) -> np.ndarray:
    """A line's mask without what lies beyond its line box (CUT_GROW px round it) or its plate.

    text-SAM's mask of a line on a small plate takes bits of the plate's rim with the letters;
    the plate search leaves them out (``_banner``), and so must the erase: it would cut holes
    in the rim the English is then drawn inside, and smear the rim's colour into the plate."""
    rows, cols = _line_window(box, plate)
    kept = np.zeros_like(mask)
    kept[rows, cols] = mask[rows, cols]
    return kept if kept.sum() >= MIN_PIXELS else mask


def _line_window(box: Box, plate: Box | None = None) -> tuple[slice, slice]:
    """The rows and columns of a mask that ``_cut_to_line`` keeps: the line box CUT_GROW px
    round, within the plate."""
    x0, y0, x1, y1 = box
    g = CUT_GROW
    x0, y0, x1, y1 = max(0, x0 - g), max(0, y0 - g), x1 + g, y1 + g
    if plate is not None:
        x0, y0, x1, y1 = max(x0, plate[0]), max(y0, plate[1]), min(x1, plate[2]), min(y1, plate[3])
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))
