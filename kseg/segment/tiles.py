"""Caption tiles: SAM's crop idea, applied per line.

A caption line is cut out with context around it, zoomed so the line is
``tile_h`` pixels tall (strokes stay several pixels wide whatever the frame
size), and all tiles of a frame are stacked into one canvas. One encoder pass
then serves every line, and each box prompt is decoded on its own tile's rows
of the embedding. Training and inference share this code so
the model sees at inference what it saw in training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

CONTEXT = 0.4  # context above/below/left/right of the box, in box heights
MAX_TILE_W = 2048


@dataclass
class Tile:
    crop: tuple[float, float]  # frame coordinates of the tile's top-left corner
    scale: float  # tile pixels per frame pixel
    width: int  # tile width in pixels (multiple of 16)
    height: int
    row: int = 0  # y offset in the canvas

    def to_tile(self, box) -> np.ndarray:
        x0, y0, x1, y1 = box
        s = self.scale
        return np.array([(x0 - self.crop[0]) * s, (y0 - self.crop[1]) * s + self.row,
                         (x1 - self.crop[0]) * s, (y1 - self.crop[1]) * s + self.row], np.float32)

    def frame_rect(self, fw: int, fh: int) -> tuple[int, int, int, int]:
        """The part of the frame this tile covers, clipped to the frame."""
        x0, y0 = self.crop
        x1 = x0 + self.width / self.scale
        y1 = y0 + self.height / self.scale
        return (max(0, math.floor(x0)), max(0, math.floor(y0)), min(fw, math.ceil(x1)), min(fh, math.ceil(y1)))


def tile_for_box(box, tile_h: int = 128, context: float = CONTEXT, max_w: int = MAX_TILE_W) -> Tile:
    x0, y0, x1, y1 = [float(v) for v in box]
    bh = max(4.0, y1 - y0)
    bw = max(4.0, x1 - x0)
    m = context * bh
    s = tile_h / (bh + 2 * m)
    if (bw + 2 * m) * s > max_w:  # very long line: zoom out so it still fits
        s = max_w / (bw + 2 * m)
    width = int(math.ceil((bw + 2 * m) * s / 16) * 16)
    ch = tile_h / s
    cw = width / s
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return Tile(crop=(cx - cw / 2, cy - ch / 2), scale=s, width=width, height=tile_h)


def cut(frame: np.ndarray, tile: Tile, border_value=0, interp=cv2.INTER_LINEAR) -> np.ndarray:
    """The tile's pixels (outside the frame filled with border_value)."""
    M = np.array([[tile.scale, 0, -tile.crop[0] * tile.scale],
                  [0, tile.scale, -tile.crop[1] * tile.scale]], np.float32)
    if frame.ndim == 3:
        bv = (border_value,) * frame.shape[2] if np.isscalar(border_value) else border_value
    else:
        bv = border_value
    return cv2.warpAffine(frame, M, (tile.width, tile.height), flags=interp,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=bv)


def paste(tile_values: np.ndarray, tile: Tile, fw: int, fh: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Map a tile-sized float map back onto the frame: (values in frame rect, rect)."""
    rx0, ry0, rx1, ry1 = tile.frame_rect(fw, fh)
    if rx1 <= rx0 or ry1 <= ry0:
        return np.zeros((0, 0), np.float32), (rx0, ry0, rx0, ry0)
    s = tile.scale
    # the inverse of cut()'s affine, restricted to the clipped frame rect
    M = np.array([[s, 0, (rx0 - tile.crop[0]) * s], [0, s, (ry0 - tile.crop[1]) * s]], np.float32)
    out = cv2.warpAffine(tile_values.astype(np.float32), M, (rx1 - rx0, ry1 - ry0),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=-20.0)
    return out, (rx0, ry0, rx1, ry1)


def build_canvas(frame: np.ndarray, tiles: list[Tile], fill=(124, 116, 104)) -> np.ndarray:
    """Stack tiles vertically (sets each tile's row); pad with SAM's pixel mean (normalises to 0)."""
    width = max(t.width for t in tiles)
    height = sum(t.height for t in tiles)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = fill
    y = 0
    for t in tiles:
        t.row = y
        canvas[y:y + t.height, :t.width] = cut(frame, t, border_value=fill)
        y += t.height
    return canvas
