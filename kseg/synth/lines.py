"""Caption *lines* for the recogniser: the data engine without the full frame.

Why not crop ``render_frame`` output: a 720p frame costs ~10x the pixels of its one or two
lines, and the recogniser only ever sees the line strip. So each sample is one line drawn
with the frame engine's own styles, fonts, backgrounds and degradations on a canvas just
big enough for the line and some context, then cut with the pipeline's ``line_strip``
(same margin, same upright warp) from a detector-like jittered box, so training sees
exactly what inference will see.

A sample is a pure function of (seed, index, split); the eval split uses the held-out
fonts and backgrounds of ``fonts_for("eval")``/``make_background(.., "eval")``.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

from pathlib import Path

import cv2
import numpy as np

from . import (_composite, _degrade, _supported, _text_layers, make_background, paint_line, require_fonts,
               sample_style)
from kseg.recognize.strip import mask_input, to_height  # noqa: F401 - the engine cuts strips as inference does

from .corpus import caption_text

KINDS = ["drama", "drama", "variety", "news"]


@dataclass
class LineSample:
    strip: np.ndarray  # HxWx3 uint8: the upright line strip as line_strip cuts it (with margin)
    footprint: np.ndarray  # HxW bool: the caption footprint (what SAM segments) in the strip
    fill: np.ndarray  # HxW bool: the true glyph fill in the strip
    text: str
    kind: str  # caption style: drama / variety / news
    font: str  # font family
    image: np.ndarray | None = None  # the canvas the strip was cut from (for recognize(image, line, mask))
    line: Any = None  # its TextLine (the jittered detector box)
    mask: np.ndarray | None = None  # its footprint mask, canvas-sized


def render_line(seed: int, index: int, split: str = "train", jitter: bool = True) -> LineSample:
    """Render line ``index`` of a (seed, split) stream; deterministic."""
    rs = random.Random(f"line:{seed}:{index}:{split}")
    rng = np.random.default_rng(rs.getrandbits(63))
    faces = require_fonts(split)
    kind = rs.choice(KINDS)
    frame_h = rs.choice([480, 540, 720, 720, 1080])
    style = sample_style(rs, kind, frame_h)
    style["angle"] = 0.0  # line_strip uprights rotated lines; the recogniser sees them level
    for _ in range(50):
        face = rs.choice(faces)
        text = caption_text(rs, kind)
        if _supported(face, text) and text.strip():
            break
    layers, ib = _text_layers(face, text, style)
    lh = ib[3] - ib[1]
    ctx = int(lh * 0.8) + 4  # background around the line (the strip's margin comes from it)
    lH, lW = layers["fill"].shape
    H, W = lH + 2 * ctx, lW + 2 * ctx
    bg, _ = make_background(rng, H, W, split)
    canvas = bg.astype(np.float32)
    if style["banner"]:
        pad = int(style["size"] * style["banner"]["pad"])
        a = np.zeros((H, W), np.float32)
        a[max(0, ctx + ib[1] - pad):ctx + ib[3] + pad, max(0, ctx + ib[0] - pad * 2):ctx + ib[2] + pad * 2] = \
            style["banner"]["opacity"]
        _composite(canvas, a, style["banner"]["color"], 0, 0)
    paint_line(canvas, layers, style, ctx, ctx)
    img = np.clip(canvas, 0, 255).astype(np.uint8)
    img, _ = _degrade(rng, img, img)
    if rs.random() < 0.2:  # low contrast: washed-out footage
        k = rs.uniform(0.4, 0.8)
        img = np.clip((img.astype(np.float32) - 128) * k + 128 + rs.uniform(-30, 30), 0, 255).astype(np.uint8)
    foot = np.zeros((H, W), bool)
    fill = np.zeros((H, W), bool)
    foot[ctx:ctx + lH, ctx:ctx + lW] = np.maximum(layers["shadow"], np.maximum(layers["outline2"], layers["fill"])) >= 0.25
    fill[ctx:ctx + lH, ctx:ctx + lW] = layers["fill"] >= 0.5
    return cut_sample(rs, img, foot, fill, (ib[0] + ctx, ib[1] + ctx, ib[2] + ctx, ib[3] + ctx), jitter,
                      text, kind, face.family)


def cut_sample(rs: random.Random, img: np.ndarray, foot: np.ndarray, fill: np.ndarray, ink_box, jitter: bool,
               text: str, kind: str, family: str) -> LineSample:
    """The sample a rendered canvas gives: its line cut by ``line_strip`` from the ink box,
    jittered the way a detector's box is (loose or tight by a fraction of the line height)."""
    from kseg.recognize import line_strip
    from kseg.types import TextLine

    H, W = foot.shape
    x0, y0, x1, y1 = ink_box
    lh = y1 - y0
    if jitter:
        d = [rs.gauss(0, 0.08) * lh for _ in range(4)]
        x0, x1 = x0 + d[0], x1 + d[2]
        y0, y1 = y0 + d[1], y1 + d[3]
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(W - 1.0, max(x1, x0 + 4)), min(H - 1.0, max(y1, y0 + 4))
    poly = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    line = TextLine((int(x0), int(y0), int(x1), int(y1)), poly, 1.0)
    strip, fstrip = line_strip(img, line, foot)
    _, fillstrip = line_strip(img, line, fill)
    return LineSample(strip, fstrip, fillstrip, text, kind, family, img, line, foot)


def build_cache(out_dir: Path, n: int, seed: int = 0, split: str = "train", shard: int = 1000,
                height: int = 48, progress=None) -> list[Path]:
    """Pre-render ``n`` lines into npz shards (resumable: finished shards are kept).

    Each shard holds the colour strips and the mask-cleaned strips at ``height`` px,
    concatenated along x (``offsets`` marks the lines), plus texts and styles; no pickles,
    so shards load with ``allow_pickle=False``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for s0 in range(0, n, shard):
        p = out_dir / f"{split}_{seed}_{s0:07d}.npz"
        paths.append(p)
        if p.exists():
            if progress:
                progress(min(n, s0 + shard))
            continue
        cols, masks, texts, kinds, offs = [], [], [], [], [0]
        for i in range(s0, min(n, s0 + shard)):
            s = render_line(seed, i, split)
            c = to_height(s.strip, height)
            m = to_height(mask_input(s.strip, s.footprint), height)
            m = cv2.resize(m, (c.shape[1], height), interpolation=cv2.INTER_AREA)
            cols.append(c)
            masks.append(m)
            texts.append(s.text)
            kinds.append(s.kind)
            offs.append(offs[-1] + c.shape[1])
            if progress:
                progress(i + 1)
        tmp = p.with_suffix(".tmp.npz")
        np.savez(tmp, colour=np.concatenate(cols, 1), mask=np.concatenate(masks, 1),
                 offsets=np.asarray(offs, np.int64), text=np.asarray(texts), kind=np.asarray(kinds))
        os.replace(tmp, p)
    return paths


def load_cache(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray, str, str]]:
    """[(colour HxWx3, mask HxW, text, kind)] from cache shards."""
    out = []
    for p in paths:
        z = np.load(p, allow_pickle=False)
        col, msk, offs = z["colour"], z["mask"], z["offsets"]
        for i, (t, k) in enumerate(zip(z["text"], z["kind"])):
            out.append((col[:, offs[i]:offs[i + 1]], msk[:, offs[i]:offs[i + 1]], str(t), str(k)))
    return out
