"""Erase stage: inpaint exactly the caption footprint (grown a little), never whole boxes.

    clean = erase(image_rgb_uint8, mask)            # mask: union footprint, bool/uint8 H x W
    clean = erase(image, mask, method="telea", grow=3)

Only pixels of ``grow_mask(mask, grow)`` change, plus small gaps it encloses that have the
caption's colour (specks SAM left inside a stroke), a soft drop shadow the mask left out
(found by its darkening below the letters) and a soft glow around the letters (found by the
same tint on every side, fading outwards); everything else is returned bit for bit,
so a caption's neighbourhood keeps its real texture (a box remover smears the whole box).

Methods ("auto" = the best measured, see bench/bench_erase.py): ``harmonic`` (membrane fill,
coarse to fine), ``telea`` and ``ns`` (cv2.inpaint). Criminisi-style patch fill (also far
slower), skimage's biharmonic and a flat-plate fit for banners were measured too and dropped:
they lost in PSNR against the clean frame (docs/figures.md).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import KsegError
from .fill import FILLS, fill_region, labelled_groups

METHODS: tuple[str, ...] = ("auto",) + tuple(FILLS)

__all__ = ["METHODS", "erase", "erase_plate", "erase_region", "grow_mask", "default_grow", "row_crop", "EraseError"]


class EraseError(KsegError):
    """Bad input to erase (image / mask shape or type, unknown method)."""


def _check_mask(mask: np.ndarray) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype not in (np.bool_, np.uint8):
        desc = str(mask.dtype) if isinstance(mask, np.ndarray) else type(mask).__name__
        raise EraseError(f"erase: mask must be bool or uint8, got {desc}")
    if mask.ndim != 2:
        raise EraseError(f"erase: mask must be 2-D H x W, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


GROW_720P = 4  # px; measured best on SAM masks of held-out synth frames (bench/bench_erase.py)


def default_grow(mask: np.ndarray) -> int:
    """Grow (px) when the caller gives none: 4 px up to 720p, slowly more on larger frames.

    Measured on held-out synth frames (harmonic fill, PSNR in the caption area): the best
    grow is 3-4 px for exact footprints and 4-5 px for SAM's masks, set by codec ringing
    (8 px blocks) and blur tails rather than by the stroke or text size, which predicted it
    worse than a fixed width did; 1080p frames gain a little from 5 px.
    """
    return max(GROW_720P, round(GROW_720P * (mask.shape[0] / 720) ** 0.5))


def grow_mask(mask: np.ndarray, grow: int | None = None) -> np.ndarray:
    """The pixels erase changes: every pixel within ``grow`` px (Euclidean) of ``mask``, as bool."""
    m = _check_mask(mask)
    g = default_grow(m) if grow is None else grow
    if not isinstance(g, (int, np.integer)) or isinstance(g, bool) or g < 0:
        raise EraseError(f"erase: grow must be a whole number of pixels >= 0, got {grow!r}")
    if g == 0 or not m.any():
        return m.copy()
    # a true Euclidean disc (cv2's MORPH_ELLIPSE kernels are boxier), at any radius in O(H W)
    dist = cv2.distanceTransform((~m).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= g


HOLE = 0.08  # enclosed gaps up to (this x the frame's short side)^2 px are erased too


def _padded_box(mask: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the bounding box of a non-empty ``mask``, ``pad`` px wider each side,
    clipped to the frame."""
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    H, W = mask.shape
    return max(0, ys[0] - pad), min(H, ys[-1] + pad + 1), max(0, xs[0] - pad), min(W, xs[-1] + pad + 1)


def _fill_holes(image: np.ndarray, mask: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """``grown`` with the small enclosed gaps that look like the caption added. SAM's footprint
    of a thick styled caption often leaves pixels of the caption's own fill unmasked inside a
    stroke (grainy or gradient fills); kept, they are boundary values of the fill and bleed the
    caption's colour into the erased area as blobs. A gap whose mean colour is nearer the
    footprint's median colour than the median of the ring around the grown mask is such a
    remnant; letter counters show the background and stay. Large enclosed areas stay too."""
    y0, y1, x0, x1 = _padded_box(grown, 3)
    crop = grown[y0:y1, x0:x1]  # every enclosed gap lies inside the mask's bounding box
    filled = _fill_holes_in(image[y0:y1, x0:x1], mask[y0:y1, x0:x1], crop, min(grown.shape))
    if filled is crop:
        return grown
    out = grown.copy()
    out[y0:y1, x0:x1] = filled
    return out


def _fill_holes_in(image: np.ndarray, mask: np.ndarray, grown: np.ndarray, short: int) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats((~grown).view(np.uint8), connectivity=4)
    if n <= 2:
        return grown
    edge = np.zeros(n, bool)
    edge[np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])] = True
    cand = (stats[:, cv2.CC_STAT_AREA] <= (HOLE * short) ** 2) & ~edge
    cand[0] = False  # label 0: the grown mask's own pixels
    if not cand.any():
        return grown
    px = image.reshape(-1, 3).astype(np.float32)
    ring = (cv2.dilate(grown.view(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~grown
    ink, bg = np.median(px[mask.ravel()], 0), np.median(px[ring.ravel()], 0) if ring.any() else None
    if bg is None:
        return grown
    ids = lab.ravel()
    keep = cand[ids]
    sums = np.stack([np.bincount(ids[keep], px[keep, c], n) for c in range(3)], 1)
    mean = sums / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)[:, None]
    fill = cand & (np.linalg.norm(mean - ink, axis=1) < np.linalg.norm(mean - bg, axis=1))
    return grown | fill[lab] if fill.any() else grown


SHADOW_REACH = 8  # px: the farthest drop-shadow offset looked for outside the footprint
SHADOW_DARKER = 6.0  # mean luma the shadow side must be darker than the opposite side
SHADOW_UNDER = 40.0  # ... and the letters lighter than it by this much
SHADOW_NOISE = 0.8  # ... and darker by this share of the luma's spread around the letters


def _soft_shadow(image: np.ndarray, mask: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """``grown`` plus the soft drop shadow the footprint left out. SAM masks the letters of a
    white vlog caption but not the blurred grey shadow under them, which then stays behind as
    a ghost of the text. The shadow is found as the offset (down, or sideways and down) at
    which the pixels of the shifted footprint outside the grown mask are darker than the same
    pixels shifted the opposite way (same distance from the letters, no shadow there)."""
    y0, y1, x0, x1 = _padded_box(mask, 2 * SHADOW_REACH + 2)
    m, g = mask[y0:y1, x0:x1].view(np.uint8), grown[y0:y1, x0:x1]
    luma = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = m.shape

    def shift(dx: int, dy: int) -> np.ndarray:
        return cv2.warpAffine(m, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h)).astype(bool) & ~g

    # on textured footage the two sides differ by chance in proportion to its contrast
    near = (cv2.dilate(g.view(np.uint8), np.ones((2 * SHADOW_REACH + 1,) * 2, np.uint8)) > 0) & ~g
    best, at = max(SHADOW_DARKER, SHADOW_NOISE * float(luma[near].std())) if near.any() else SHADOW_DARKER, None
    # the letters' lightness: the mask may hold the shadow's core too, which drags a mean down
    text = float(np.percentile(luma[m.astype(bool)], 90))
    # a shadow darkens the whole line: both halves must show it (textured footage can make
    # one side of a few letters darker by chance)
    halves = np.zeros((h, w), bool), np.zeros((h, w), bool)
    mid = int(np.flatnonzero(m.any(0))[[0, -1]].sum()) // 2  # the letters' middle column
    halves[0][:, :mid], halves[1][:, mid:] = True, True
    for dy in range(1, SHADOW_REACH + 1):
        for dx in range(-dy, dy + 1):
            a, b = shift(dx, dy), shift(-dx, -dy)
            ds = []
            for half in halves:
                ah, bh = a & half, b & half
                if ah.sum() < 10 or bh.sum() < 10:
                    break
                lb = float(luma[bh].mean())
                if text <= lb + SHADOW_UNDER:  # a shadow is cast by letters lighter than around them
                    break
                ds.append(lb - float(luma[ah].mean()))
            else:
                if min(ds) > best:
                    best, at = min(ds), (dx, dy)
    if at is None:
        return grown
    dx, dy = at
    # the shadow is the footprint at that offset, spread by its blur (about the offset again)
    r = max(1, round(np.hypot(dx, dy)))
    sh = cv2.warpAffine(m, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h))
    sh = cv2.dilate(sh, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)
    out = grown.copy()
    out[y0:y1, x0:x1] |= sh
    return out


TAIL_REACH = 10  # px: the farthest a soft shadow's blur is followed beyond the erased region
TAIL_DARKER = 3.0  # levels: the least darkening next to the region taken for a shadow's tail
TAIL_KEEP = 0.2  # ... followed while its side stays darker by this share of that
TAIL_MIN = 1.5  # ... and by at least this many levels of luma
TAIL_DETAIL = 5.0  # px: footage detail finer than this (a smooth gradient is not) makes sides differ by chance


def _rings(g: np.ndarray, top: int, facings: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance, ring, facing) of each pixel around the region ``g``: its Euclidean distance
    (px), the 1-px ring it lies in (capped at ``top`` + 1) and the way the ring faces there,
    in ``facings`` steps clockwise from right (8: 0 right, 2 down, 4 left, 6 up)."""
    d = cv2.distanceTransform((~g).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=3)
    face = np.round(np.arctan2(gy, gx) / (2 * np.pi / facings)).astype(np.int32) % facings
    return d, np.minimum(np.ceil(d).astype(np.int32), top + 1), face


def _detail(luma: np.ndarray, near: np.ndarray) -> float:
    """The footage's fine detail on ``near``: on textured footage the sides of a caption differ
    by chance in proportion to it (a smooth gradient does not count)."""
    return float((luma - cv2.GaussianBlur(luma, (0, 0), TAIL_DETAIL))[near].std())


def _shadow_tail(image: np.ndarray, mask: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """``grown`` widened over the blurred tail of a drop shadow. A white vlog caption's shadow
    fades out over several pixels beyond any fixed grow (and beyond SAM's mask, which often
    holds the shadow's core); the fill takes the pixels just outside the region as its
    boundary and smears that darkening back over the letters as a ghost of them. Each 1-px
    ring around the region is split by the way it faces; a ring facing down (or sideways)
    that is darker than the same ring facing the opposite way, on both halves of the line,
    and more so the nearer it is, is shadow. Plates and even footage darken every side alike,
    a plate's edge a few pixels off is a step that grows with distance, and a gradient
    darkens one side at every distance: all are left alone."""
    y0, y1, x0, x1 = _padded_box(grown, TAIL_REACH + 4)
    g = grown[y0:y1, x0:x1]
    m = mask[y0:y1, x0:x1]
    luma = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    near = (cv2.dilate(g.view(np.uint8), np.ones((2 * TAIL_REACH + 1,) * 2, np.uint8)) > 0) & ~g
    # a shadow is cast by letters lighter than around them (the mask may hold its core too)
    if not m.any() or not near.any() or float(np.percentile(luma[m], 90)) <= float(luma[near].mean()) + SHADOW_UNDER:
        return grown
    top = TAIL_REACH + 3
    d, ring, face = _rings(g, top, 8)
    h, w = g.shape
    mid = int(np.flatnonzero(m.any(0))[[0, -1]].sum()) // 2
    # mean luma of every (ring, facing, half of the line), from one pass of bincounts
    half = np.broadcast_to((np.arange(w) >= mid).astype(np.int32), (h, w))
    out_px = ~g & (ring <= top)
    key = ((ring * 8 + face) * 2 + half)[out_px]
    size = (top + 2) * 16
    cnt = np.bincount(key, minlength=size).reshape(top + 2, 8, 2)
    tot = np.bincount(key, luma[out_px], size).reshape(top + 2, 8, 2)

    def darker(k: int, r: int) -> float:
        """How much darker ring r facing k is than facing the opposite way (the lesser of the
        line's two halves)."""
        o = (k + 4) % 8
        if (cnt[r, k] < 8).any() or (cnt[r, o] < 8).any():
            return 0.0
        return float(np.min(tot[r, o] / cnt[r, o] - tot[r, k] / cnt[r, k]))

    best, at, floor = max(TAIL_DARKER, SHADOW_NOISE * _detail(luma, near)), None, 0.0
    for k in (0, 1, 2, 3, 4):  # shadows fall down or sideways
        far = max(0.0, darker(k, top))
        v = min(darker(k, 1), darker(k, 2)) - far
        if v > best:
            best, at, floor = v, k, far
    if at is None:
        return grown
    prof = [darker(at, r) - floor for r in range(1, top)]
    if max(prof) > prof[0] + 1.0:  # darkest next to the region, or not a tail
        return grown
    reach = 0
    for r in range(1, TAIL_REACH + 1):
        if prof[r - 1] < max(TAIL_MIN, TAIL_KEEP * best) or (r > 1 and prof[r - 1] > prof[r - 2] + 1.0):
            break
        reach = r
    if not reach:
        return grown
    sides = np.isin(face, [(at - 1) % 8, at, (at + 1) % 8])
    out = grown.copy()
    out[y0:y1, x0:x1] |= sides & (d <= reach)
    return out


GLOW_REACH = 8  # px: the farthest a glow is followed beyond the erased region
GLOW_MIN = 4.0  # CIE dE: the least tint next to the region, on every side, taken for a glow
GLOW_FADE = 0.7  # ... the second ring at most this share of the first (a glow fades; a plate does not)
GLOW_EACH = 0.9  # ... and so on every side
GLOW_KEEP = 0.12  # ... followed while a ring keeps this share of the first ring's tint
GLOW_FLOOR = 0.7  # ... and at least this many units of dE
GLOW_SOFT = 8.0  # dE per px: the steepest a glow's zone is (90th percentile); an edge is steeper
GLOW_GROUP = 12  # px: caption pixels closer than this are one caption, with one glow or none
GLOW_WINDOW = GLOW_REACH + 6  # px around a caption that _glow_reach measures (its rings and the far one)


def _glow(image: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """``grown`` widened over a soft glow around the letters. Variety captions often have a
    blurred halo (pink, purple, black) on every side of their outline, fading over several
    pixels beyond any fixed grow; the fill takes its tint at the region's border and spreads
    it over the letters, a coloured silhouette of them. Each caption (group of mask pixels) is
    looked at on its own: the mean colour of each 1-px ring around its region, by the way the
    ring faces (right, down, left, up), against the ring ``GLOW_REACH`` + 3 px out. A glow
    tints every facing the same way, most next to the region, and fades ring by ring; even
    footage and textures do not tint every side alike, and a plate around the letters keeps
    its colour for several rings and is left alone."""
    near = cv2.dilate(grown.view(np.uint8), np.ones((GLOW_GROUP,) * 2, np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    H, W = grown.shape
    out = grown
    for k in range(1, n):
        x, y, w, h = stats[k, :4]
        y0, y1 = max(0, y - GLOW_WINDOW), min(H, y + h + GLOW_WINDOW)
        x0, x1 = max(0, x - GLOW_WINDOW), min(W, x + w + GLOW_WINDOW)
        g = grown[y0:y1, x0:x1] & (lab[y0:y1, x0:x1] == k)
        reach = _glow_reach(image[y0:y1, x0:x1], g)
        if reach:
            d = cv2.distanceTransform((~g).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            out = out.copy() if out is grown else out
            out[y0:y1, x0:x1] |= d <= reach
    return out


def _glow_reach(image: np.ndarray, grown: np.ndarray) -> int:
    """How many px of glow lie around ``grown`` (one caption's region); 0 for none."""
    y0, y1, x0, x1 = _padded_box(grown, GLOW_WINDOW)
    g = grown[y0:y1, x0:x1]
    lab = cv2.cvtColor(image[y0:y1, x0:x1].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    top = GLOW_REACH + 3
    d, ring, face = _rings(g, top, 4)  # facing 0 right, 1 down, 2 left, 3 up
    px = ~g & (ring <= top)
    key = (ring * 4 + face)[px]
    size = (top + 2) * 4
    cnt = np.bincount(key, minlength=size).reshape(top + 2, 4)[1:top + 1]
    if (cnt < 8).any():  # a frame's edge or a neighbour cuts the rings short
        return 0
    mean = np.stack([np.bincount(key, lab[..., c][px], size) for c in range(3)], -1).reshape(top + 2, 4, 3)
    mean = mean[1:top + 1] / cnt[..., None]
    tint = mean[:-1] - mean[-1]  # rings 1..top-1 against the far ring, per facing
    u = tint[0].mean(0)
    strength = float(np.linalg.norm(u))
    if strength < GLOW_MIN:
        return 0
    each = tint @ (u / strength)  # rings x facings
    prof = each.min(1)  # the tint every facing shares
    if (each[1] > GLOW_EACH * each[0]).any():  # a facing that keeps its colour: a plate's side
        return 0
    noise = SHADOW_NOISE * _detail(lab[..., 0], (d > 0) & (d <= top))
    if prof[0] < max(GLOW_MIN, noise) or prof[1] > GLOW_FADE * prof[0] or prof[1:].max() > prof[0]:
        return 0
    reach = 1
    while reach < GLOW_REACH and prof[reach] >= max(GLOW_FLOOR, GLOW_KEEP * prof[0]):
        reach += 1
    # a glow is soft: no sharp edge across it. A balloon, burst or plate behind the letters
    # whose edge lies a few px out at varying distances also fades ring by ring on average,
    # but through an edge (it is the caption's graphic, not a halo, and keeps its shape)
    slope = np.zeros(d.shape, np.float32)
    for c in range(3):
        sx = cv2.Sobel(lab[..., c], cv2.CV_32F, 1, 0, ksize=3)
        sy = cv2.Sobel(lab[..., c], cv2.CV_32F, 0, 1, ksize=3)
        np.maximum(slope, np.hypot(sx, sy) / 8, out=slope)  # dE per px
    if float(np.percentile(slope[(d > 0) & (d <= reach + 1)], 90)) > GLOW_SOFT:
        return 0
    return reach


def _check(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise EraseError(f"erase: image must be RGB uint8 H x W x 3, got {desc}")
    _check_mask(mask)
    if mask.shape != image.shape[:2]:
        raise EraseError(f"erase: mask is {mask.shape[1]}x{mask.shape[0]} (W x H) "
                         f"but the image is {image.shape[1]}x{image.shape[0]}")
    return mask.astype(bool, copy=False)


def erase_region(image: np.ndarray, mask: np.ndarray, grow: int | None = None) -> np.ndarray:
    """The pixels ``erase`` fills (bool H x W): the grown mask, the soft drop shadow it left out
    and that shadow's blurred tail, a glow around the letters, and the caption-coloured gaps it
    encloses. Video erases every frame of a caption event with the region of its first frame,
    so that it does not flicker."""
    m = _check(image, mask)
    g = grow_mask(m, grow)
    if g.any():
        g = _glow(image, _shadow_tail(image, m, _fill_holes(image, m, _soft_shadow(image, m, g))))
    return g


ROW_RUN = 2  # known pixels nearest a gap on either side that the row fill averages (JPEG noise)
ROW_CHECK = 3  # px of known plate round the region that the row fill must predict better first,
ROW_MARGIN = 0.7  # ... by this factor of the membrane fill's squared error


def _row_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image`` with each row's ``hole`` pixels interpolated between the row's other pixels
    (each the mean of its 2 ROW_RUN + 1 neighbours in the row), rows with none from above and
    below (membrane)."""
    out = image.copy()
    src = image.astype(np.float32)
    known = ~hole
    k = np.ones(2 * ROW_RUN + 1, np.float32) / (2 * ROW_RUN + 1)
    left_over = np.zeros_like(hole)
    for y in np.flatnonzero(hole.any(1)):
        xs = np.flatnonzero(known[y])
        if xs.size == 0:
            left_over[y] = hole[y]
            continue
        vals = src[y, xs]
        if xs.size > 2 * ROW_RUN:
            vals = np.stack([np.convolve(np.pad(vals[:, c], ROW_RUN, mode="edge"), k, "valid")
                             for c in range(3)], axis=1)
        gx = np.flatnonzero(hole[y])
        out[y, gx] = np.clip(np.stack([np.interp(gx, xs, vals[:, c]) for c in range(3)], axis=1) + 0.5,
                             0, 255).astype(np.uint8)
    if left_over.any():
        fill_region(out, left_over, "harmonic")
    return out


def erase_plate(image: np.ndarray, mask: np.ndarray, grow: int | None = None,
                region: np.ndarray | None = None, check: bool = True) -> np.ndarray | None:
    """``erase`` for a caption on a plate (``image`` is the plate's crop): each row of the
    erased region interpolated between the plate's pixels to its left and right, or None where
    that predicts the plate worse than ``erase``'s membrane fill does, for ``erase`` to fill.

    Written here because no inpainting library knows a plate's structure: broadcast plates are
    shaded top to bottom (a silver bar's bright middle between dark rims, a news bar in two
    tones) and even along their rows. Letters cover most of such a plate's height, so a
    membrane or Telea fill draws the rims' colour in from above and below and leaves a blurred
    band; along a row the plate's own colour is on both sides of every gap. Which fill suits a
    plate (a flat one, a translucent one over footage) is decided on the plate itself: both
    fill the region grown by ROW_CHECK px, and the ring of known pixels that adds is compared
    (bench/bench_erase_plates.py). ``check=False`` fills by rows without asking (video: every
    frame of a caption event is filled the way its first frame was, so that it does not flicker).
    """
    m = _check(image, mask)
    g = erase_region(image, m, grow) if region is None else _check(image, region)
    if not g.any():
        return image.copy()
    if not check:
        return _row_fill(image, g)
    ring = grow_mask(g, ROW_CHECK) & ~g
    if ring.sum() < 20 or (~(g | ring)).sum() < 20:
        return None
    test = g | ring
    truth = image[ring].astype(np.float32)
    by_rows = _row_fill(image, test)[ring].astype(np.float32)
    membrane = image.copy()
    fill_region(membrane, test, "harmonic")
    if float(np.mean((by_rows - truth) ** 2)) >= ROW_MARGIN * float(np.mean((membrane[ring].astype(np.float32) - truth) ** 2)):
        return None
    return _row_fill(image, g)


ROW_CONTEXT = 0.6  # of a caption's height (at least ROW_CONTEXT_MIN px) read round it by the row check
ROW_CONTEXT_MIN = 12


def row_crop(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A caption's box (x0, y0, x1, y1) with the context the row check reads round it."""
    x0, y0, x1, y1 = box
    H, W = shape[:2]
    m = max(ROW_CONTEXT_MIN, int(ROW_CONTEXT * (y1 - y0)))
    return max(0, x0 - m), max(0, y0 - m), min(W, x1 + m), min(H, y1 + m)


def _by_rows(out: np.ndarray, image: np.ndarray, mask: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Fill, in ``out``, each group of ``region`` whose own crop's rows predict its surroundings
    better than the membrane fill (``erase_plate``'s check); the pixels so filled.

    Why off a plate too: a subtitle on a letterbox band or a slideshow's black surround, just
    under the picture's edge, has the picture's bottom rows in its region's border; the
    membrane draws them down into the band as a grey smear the height of the letters, where
    each row of the band is one colour from end to end (a real subtitled slideshow's two-line
    subtitles, bench/real). On footage the rows predict nothing and the membrane stays."""
    done = np.zeros_like(region)
    labels, boxes = labelled_groups(region)
    for k, box in enumerate(boxes, 1):  # the groups fill_region crops, each with the row check's context
        x0, y0, x1, y1 = row_crop(box, image.shape)
        # the group's own pixels only: the context reaches other groups (a tall graphic's reaches
        # the subtitle under it), whose rows seen through this crop are cut off at its sides
        g = region[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == k)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        filled = erase_plate(crop, mask[y0:y1, x0:x1], region=g)
        if filled is not None:
            cv2.copyTo(filled, g.view(np.uint8), out[y0:y1, x0:x1])
            done[y0:y1, x0:x1] |= g
            continue
        done[y0:y1, x0:x1] |= _fill_even_rows(out[y0:y1, x0:x1], crop, g)
    return done


def _fill_even_rows(out: np.ndarray, image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Fill, in ``out``, the pixels of ``region`` in its even rows (``_even_rows`` of ``image``)
    along the rows of ``image``; the pixels so filled."""
    even = _even_rows(image, region)
    if even.any():
        cv2.copyTo(_row_fill(image, region), even.view(np.uint8), out)
    return even


EVEN_SIDE = 12  # px of a row on either side of the region read to call it even
EVEN_STD = 1.5  # levels: the most each side may vary ...
EVEN_DIFF = 3.0  # ... and the two sides differ (per channel)


def _even_rows(crop: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The region's pixels in rows that are one colour on both sides of it and between its
    pieces (EVEN_SIDE px each way; within EVEN_STD, the sides within EVEN_DIFF): a black band's
    rows under a picture whose edge the region reaches, where the rest of the caption's rows are the picture's and the check on
    the whole caption prefers the membrane (a two-line subtitle whose first line lies under a
    picture as wide as it: the membrane smeared the picture's bottom rows into the band)."""
    even = np.zeros_like(region)
    img = crop.astype(np.float32)
    for y in np.flatnonzero(region.any(1)):
        xs = np.flatnonzero(region[y])
        a, b = xs[0], xs[-1] + 1
        left, right = img[y, max(0, a - EVEN_SIDE):a], img[y, b:b + EVEN_SIDE]
        if len(left) < EVEN_SIDE // 2 or len(right) < EVEN_SIDE // 2:
            continue
        lo = max(0, a - EVEN_SIDE)
        known = img[y, lo:b + EVEN_SIDE][~region[y, lo:b + EVEN_SIDE]]  # the sides and the gaps between words
        if known.std(0).max() <= EVEN_STD and np.abs(left.mean(0) - right.mean(0)).max() <= EVEN_DIFF:
            even[y] = region[y]
    return even


def erase(image: np.ndarray, mask: np.ndarray, *, method: str = "auto",
          grow: int | None = None, region: np.ndarray | None = None, rows: bool = True,
          keep: np.ndarray | None = None) -> np.ndarray:
    """A new RGB image with the masked captions inpainted; pixels outside the grown mask unchanged.

    ``grow`` px (None: adapted to the mask, see ``default_grow``) covers the anti-aliased
    edge, soft shadow tails and codec ringing that a footprint mask stops short of.
    ``region``: fill exactly these pixels instead (an ``erase_region`` of an earlier frame).
    ``rows`` (method auto): a caption whose surroundings are even along its rows is filled
    along them (``_by_rows``); translate-video asks for it only where one fill serves many
    frames (a still picture's caption, whose fill ``kseg.video.temporal`` reuses; a plate's
    rows, ``kseg.video.render``). ``keep``: pixels left as they are whatever the grown region
    reaches (the letters of a caption left untranslated just above the one erased).
    """
    if method not in METHODS:
        raise EraseError(f"erase: unknown method {method!r} (one of {', '.join(METHODS)})")
    m = _check(image, mask)
    if region is None:
        g = erase_region(image, m, grow)
    else:  # the region found on an earlier frame of the same caption (video): exactly those pixels
        g = _check(image, region)
    if keep is not None:
        g = g & ~_check(image, keep)
    out = image.copy()
    if g.any():
        if method == "auto" and rows:
            g = g & ~_by_rows(out, image, m, g)
        if g.any():
            fill_region(out, g, "harmonic" if method == "auto" else method)
    return out


from kseg import _callable  # noqa: E402 - last, once the module is complete

_callable.install(__name__)  # kseg.erase(...) calls kseg.api.erase
