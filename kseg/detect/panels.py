"""The pictures a still frame is made of: one for a frame, each tile for a collage.

Fans share episodes as collages ("zzal"): screenshots tiled in a grid or a stack, each with
its channel logo and programme bar in its own top corner. The still profile's corner rule
(``kseg.pipeline.corner_overlay``) looks for those in the frame's corners; in a collage it has
to look in each tile's. No library finds the tiles of a collage, and the cue is simple: a
tile border is a straight line across the whole picture where almost every column (row)
changes abruptly, and the tiles a collage maker lays out along one axis are of equal size.
Both are required, so a plate's edge, a horizon or a table top (which span part of the width,
or split it unevenly) do not make a frame a collage. A tile may be split again (a split
screen inside one screenshot), as a guillotine layout is.
"""
from __future__ import annotations

import cv2
import numpy as np

from kseg.types import Box

SEAM_SHARE = 0.75  # a border changes this share of the columns (rows) it crosses at least ...
SEAM_STEP = 20  # ... by this much (largest channel difference, 0-255) ...
SEAM_CONTRAST = 3.0  # ... and this many times the typical change of the lines around it
MIN_TILE = 96  # pixels: a tile is a screenshot, not a strip
MAX_TILES = 8  # along one axis
TOLERANCE = 0.015  # of the length: how far from equal a tile's border may sit
BAND = 8  # pixels: the widest gutter between two tiles (a border then has two edges)
MAX_DEPTH = 3  # levels of tiles in tiles
SCREEN = (1.0, 2.5)  # width / height of a screenshot, cropped ones included: tiles of unequal size
FLAT_ROW = 8.0  # a row whose pixels' spread (grey levels) is under this is flat (a band, a gutter)
FLAT_SHARE = 0.8  # a "tile" with more flat rows than this share is a band (its captions the rest)
ACROSS = 4  # every this-many-th pixel along a border is looked at


def _change(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """How much lines ``a`` and ``b`` (stacks of lines along ``axis``) differ: the change that
    SEAM_SHARE of their pixels reach (largest channel difference)."""
    step = cv2.absdiff(a, b)
    step = step.max(axis=2) if step.ndim == 3 else step
    k = int((1 - SEAM_SHARE) * (step.shape[1 - axis] - 1))
    return np.partition(step, k, axis=1 - axis).take(k, axis=1 - axis).astype(np.float32)


def _sparse(picture: np.ndarray, axis: int) -> np.ndarray:
    """Every ACROSS-th pixel along the lines of ``axis``: enough for a share, and 4x cheaper."""
    return picture[:, ::ACROSS] if axis == 0 else picture[::ACROSS]


def _borders(picture: np.ndarray, axis: int) -> list[int]:
    """Positions ``i`` (a line of ``axis``) where lines i-1 and i differ as a tile border does."""
    p = _sparse(picture, axis)
    strength = _change(p[1:], p[:-1], 0) if axis == 0 else _change(p[:, 1:], p[:, :-1], 1)
    out = []
    for i in np.flatnonzero(strength >= SEAM_STEP):
        around = np.concatenate([strength[max(0, i - 12):max(0, i - 4)], strength[i + 5:i + 13]])
        if around.size and strength[i] < SEAM_CONTRAST * max(2.0, float(np.median(around))):
            continue
        out.append(int(i) + 1)
    return out


def _equal_cuts(borders: list[int], length: int) -> list[tuple[int, int]] | None:
    """The gutters (first and last border of each) of the most tiles of equal size that
    ``borders`` allow along ``length``; None when no split into 2+ tiles fits."""
    best = None
    for k in range(2, MAX_TILES + 1):
        if length / k < MIN_TILE:
            break
        tol = max(3.0, TOLERANCE * length) + BAND
        cuts = []
        for j in range(1, k):
            near = [b for b in borders if abs(b - j * length / k) <= tol]
            if not near or max(near) - min(near) > BAND:
                break
            cuts.append((min(near), max(near)))
        else:
            best = cuts
    return best


def _gutters(borders: list[int]) -> list[tuple[int, int]]:
    """``borders`` grouped into gutters (first, last) no wider than BAND."""
    out: list[tuple[int, int]] = []
    for b in borders:
        if out and b - out[-1][0] <= BAND:
            out[-1] = (out[-1][0], b)
        else:
            out.append((b, b))
    return out


def _tiles(length: int, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans (start, end) between ``cuts``' gutters along ``length``."""
    edges = [0] + [e for a, b in cuts for e in (a, b)] + [length]
    return list(zip(edges[0::2], edges[1::2]))


def _band(picture: np.ndarray, axis: int, a: int, b: int) -> bool:
    """Whether span [a, b) along ``axis`` is a flat band (a letterbox's, a gutter's), not a
    picture: almost all its rows one shade each, the few left its captions."""
    tile = picture[a:b] if axis == 0 else picture[:, a:b]
    grey = cv2.cvtColor(tile, cv2.COLOR_RGB2GRAY) if tile.ndim == 3 else tile
    return bool(np.mean(grey[::2, ::2].std(axis=1) < FLAT_ROW) > FLAT_SHARE)


def _screen_cuts(picture: np.ndarray, axis: int, borders: list[int]) -> list[tuple[int, int]] | None:
    """The gutters of screenshots of unequal size (a fan crops each one differently before
    stacking them: bench/real's mudozzal sheets of 753 and 637 rows), None unless every tile
    between ``borders``' gutters is shaped like a screen (SCREEN): a plate or a horizon across
    one picture leaves a strip too wide for one."""
    cuts = _gutters(borders)
    if not cuts or len(cuts) >= MAX_TILES:
        return None
    length, across = picture.shape[axis], picture.shape[1 - axis]
    for a, b in _tiles(length, cuts):
        wide = across / max(1, b - a) if axis == 0 else (b - a) / across
        if b - a < MIN_TILE or not SCREEN[0] <= wide <= SCREEN[1]:
            return None
    return cuts


def _apart(picture: np.ndarray, axis: int, first: int, last: int) -> bool:
    """Whether the lines either side of a gutter (borders ``first`` .. ``last``) belong to
    different pictures: a line drawn across one picture (a thirds grid) has the same picture
    on both sides, a collage's gutter does not."""
    p = _sparse(picture, axis)
    a, b = (p[first - 1:first], p[last:last + 1]) if axis == 0 else (p[:, first - 1:first], p[:, last:last + 1])
    return float(_change(a, b, axis)[0]) >= SEAM_STEP


def panels(image: np.ndarray, box: Box | None = None, depth: int = 0, outer: list[Box] | None = None) -> list[Box]:
    """The tiles of ``image`` (within ``box``) as (x0, y0, x1, y1), gutters left out; the
    whole box when it is not a collage. ``outer``, when given, receives the tiles that were
    split again (a screenshot holding a split screen, or a photo with a hard vertical edge
    taken for one): its logo sits in the screenshot's corner, not in the part's."""
    if box is None:
        box = (0, 0, image.shape[1], image.shape[0])
    x0, y0, x1, y1 = box
    if depth >= MAX_DEPTH:
        return [box]
    picture = image[y0:y1, x0:x1]
    for axis in (0, 1):
        length = picture.shape[axis]
        borders = _borders(picture, axis)
        cuts = _equal_cuts(borders, length) or _screen_cuts(picture, axis, borders)
        if not cuts or not all(_apart(picture, axis, a, b) for a, b in cuts):
            continue
        # every tile a picture: a 16:9 video letterboxed in a portrait frame has bands of about
        # its height above and below it (656, 608 and 656 rows of 1920), equal thirds
        if any(_band(picture, axis, a, b) for a, b in _tiles(length, cuts)):
            continue
        out: list[Box] = []
        for a, b in _tiles(length, cuts):
            tile = (x0, y0 + a, x1, y0 + b) if axis == 0 else (x0 + a, y0, x0 + b, y1)
            out += panels(image, tile, depth + 1, outer)
        if outer is not None and depth > 0:
            outer.append(box)
        return out
    return [box]


def panel_of(box: Box, tiles: list[Box]) -> Box | None:
    """The first of ``tiles`` (a collage's tiles, or any boxes: the pipeline's known captions)
    holding nine tenths of ``box``; None when it straddles them."""
    area = max(1, (box[2] - box[0]) * (box[3] - box[1]))
    for t in tiles:
        ix = max(0, min(box[2], t[2]) - max(box[0], t[0]))
        iy = max(0, min(box[3], t[3]) - max(box[1], t[1]))
        if ix * iy >= 0.9 * area:
            return t
    return None


# A collage's tiles are frames of one programme, and its graphics (channel logo, title bar)
# sit at the same place in each, as they stay put from frame to frame in video. Text near the
# top of a tile whose pixels recur at the same place (within REPEAT_SHIFT of the tile's height)
# in another tile of about the same size (REPEAT_SIZE) with a normalised correlation of at
# least REPEAT_MATCH is such a graphic. Only near the top (REPEAT_TOP of the tile): a collage
# of consecutive frames repeats its bottom caption too. Set on bench/real: 14 of its 48 strays,
# no caption (docs/experiments/2026-12-02-real-footage.md, twenty-second session).
REPEAT_TOP = 0.25
REPEAT_SHIFT = 0.05
REPEAT_SIZE = 0.15
REPEAT_MATCH = 0.7


def repeated_in_tiles(gray: np.ndarray, box: Box, tiles: list[Box]) -> bool:
    """Whether the text in ``box`` (of ``gray``, the whole picture's luma) recurs at the same
    place near the top of another collage tile: the programme's graphic, not a caption."""
    tile = panel_of(box, tiles) if len(tiles) > 1 else None
    if tile is None:
        return False
    x0, y0, x1, y1 = (int(v) for v in box)
    tw, th = tile[2] - tile[0], tile[3] - tile[1]
    if y0 - tile[1] > REPEAT_TOP * th:
        return False
    patch = gray[y0:y1, x0:x1]
    if min(patch.shape) < 4 or float(patch.std()) < 5:  # a flat patch correlates with anything
        return False
    pad = max(4, int(REPEAT_SHIFT * th))
    H, W = gray.shape
    for o in tiles:
        if o == tile or abs(o[2] - o[0] - tw) > REPEAT_SIZE * tw or abs(o[3] - o[1] - th) > REPEAT_SIZE * th:
            continue
        ox, oy = x0 - tile[0] + o[0], y0 - tile[1] + o[1]
        win = gray[max(0, oy - pad):min(H, oy + (y1 - y0) + pad), max(0, ox - pad):min(W, ox + (x1 - x0) + pad)]
        if win.shape[0] < patch.shape[0] or win.shape[1] < patch.shape[1]:
            continue
        if float(cv2.matchTemplate(win, patch, cv2.TM_CCOEFF_NORMED).max()) >= REPEAT_MATCH:
            return True
    return False
