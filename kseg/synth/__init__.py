"""The data engine: caption frames with exact ground truth (``kseg synth``).

Why our own renderer: no public dataset has pixel masks of Korean TV captions
split into fill / outline / shadow, and we need them to train and to measure
text-SAM, the recogniser and the eraser. Like SA-1B's engine, it makes the
masks first and the picture from them, so the truth is exact.

Dataset format (one folder):
  manifest.json            {"version", "seed", "n", "split", "fonts": {...}, "frames": [stems]}
  STEM.png                 the degraded caption frame (RGB)
  STEM.clean.png           the same frame without caption ink (banners stay), same degradations
                           except noise/compression: the target of erasing
  STEM.label.png           uint8 nested masks: >=1 footprint (everything to erase: fill, outlines,
                           shadow, anti-aliased edges), >=2 fill + outline(s), 3 fill
  STEM.lines.png           uint8 line id (1-based) owning each footprint pixel, 0 elsewhere
  STEM.json                {"width", "height", "split", "background", "lines": [{"text", "box",
                           "polygon", "angle", "style", "font", "caption"}], "banners": [[x0,y0,x1,y1]]}
Every frame is a pure function of (seed, index, split), so a dataset can be re-made exactly.
"""
from __future__ import annotations

import json
import math
import random
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .corpus import caption_text

# Families held out of training: the evaluation split uses only these, training never sees them.
EVAL_FAMILIES = {"UnDotum", "NanumSquareRound", "NanumMyeongjo", "Baekmuk Gulim", "NanumBarunpen"}
SKIP_FAMILY_WORDS = ("YetHangul", "Mono")
# skimage ships these photographs inside the wheel; the eval split gets its own.
PHOTOS_TRAIN = ["astronaut", "chelsea", "hubble_deep_field", "retina", "brick", "gravel",
                "camera", "coins", "moon", "immunohistochemistry"]
PHOTOS_EVAL = ["coffee", "rocket", "grass", "cell"]
PROCEDURAL_TRAIN = ["gradient", "shapes", "noise", "stripes"]
PROCEDURAL_EVAL = ["bokeh", "sky"]


@dataclass(frozen=True)
class FontFace:
    path: str
    index: int
    family: str
    style: str

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        return _load_font(self.path, self.index, size)


@lru_cache(maxsize=512)
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


@lru_cache(maxsize=1)
def korean_fonts() -> tuple[FontFace, ...]:
    """Every installed face that covers Korean, via fontconfig (what set-up installs)."""
    try:
        out = subprocess.run(["fc-list", ":lang=ko", "file", "index", "family", "style"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ()
    faces = []
    for row in sorted(set(out.splitlines())):
        path, _, rest = row.partition(": ")
        parts = dict(p.split("=", 1) for p in rest.split(":")[1:] if "=" in p)
        family = rest.split(":")[0].split(",")[0].strip()
        if any(w in family for w in SKIP_FAMILY_WORDS):
            continue
        if "CJK" in family and "KR" not in family:
            continue  # the .ttc holds JP/SC/TC faces too; only the Korean one is wanted
        faces.append(FontFace(path, int(parts.get("index", 0)), family,
                              parts.get("style", "Regular").split(",")[0]))
    return tuple(faces)


# The training faces, recorded: every face of set-up's five font packages outside the held-out
# families, as (family, style), the names fontconfig gives them (39 faces: NanumSquare_ac has
# two ExtraBold files). Recorded rather than "whatever else is installed" so that installing one
# more Korean font package does not silently change what `--split train` renders, and with it
# every recipe in models/*.md; names rather than files, so a font subset pack
# (tools/pack_fonts.py) or another distribution's file layout selects the same faces.
# ``fonts="installed"`` (`kseg synth --fonts installed`) takes every installed face outside the
# held-out families instead: with set-up's packages alone the two are the same.
TRAIN_FACES = frozenset({
    ("Baekmuk Batang", "Regular"), ("Baekmuk Dotum", "Regular"), ("Baekmuk Headline", "Regular"),
    ("Nanum Brush Script", "Regular"), ("Nanum Pen Script", "Regular"),
    ("NanumBarunGothic", "Bold"), ("NanumBarunGothic", "Light"), ("NanumBarunGothic", "Regular"),
    ("NanumBarunGothic", "UltraLight"), ("NanumGothic", "Bold"), ("NanumGothic", "ExtraBold"),
    ("NanumGothic", "Light"), ("NanumGothic", "Regular"), ("NanumGothic Eco", "Regular"),
    ("NanumGothicCoding", "Bold"), ("NanumGothicCoding", "Regular"), ("NanumMyeongjo Eco", "Regular"),
    ("NanumSquare", "Bold"), ("NanumSquare", "ExtraBold"), ("NanumSquare", "Light"), ("NanumSquare", "Regular"),
    ("NanumSquare_ac", "ExtraBold"), ("NanumSquare_ac", "Light"), ("NanumSquare_ac", "Regular"),
    ("Noto Sans CJK KR", "Bold"), ("Noto Sans CJK KR", "Regular"), ("Noto Serif CJK KR", "Bold"),
    ("Noto Serif CJK KR", "Regular"), ("UnBatang", "Bold"), ("UnBatang", "Regular"), ("UnDinaru", "Bold"),
    ("UnDinaru", "Light"), ("UnDinaru", "Regular"), ("UnGraphic", "Bold"), ("UnGraphic", "Regular"),
    ("UnGungseo", "Regular"), ("UnPilgi", "Bold"), ("UnPilgi", "Regular")})
FONT_SETS = ("set-up", "installed")
# fonts-nanum-eco (one of the Korean packages the broadcast engine draws with) installs second
# files of the Eco faces fonts-nanum-extra already has, under the same names; the recorded
# set-up faces are the fonts-nanum-extra files, so these are left out of it.
NANUM_ECO_FILES = frozenset({"NanumGothicEco.ttf", "NanumGothicEcoBold.ttf", "NanumGothicEcoExtraBold.ttf",
                             "NanumMyeongjoEco.ttf", "NanumMyeongjoEcoBold.ttf", "NanumMyeongjoEcoExtraBold.ttf"})


def fonts_for(split: str, fonts: str = "set-up") -> list[FontFace]:
    """The faces a split renders with: the held-out families for ``eval``; for ``train``, the
    recorded set-up faces, or with ``fonts="installed"`` every installed non-held-out face."""
    if fonts not in FONT_SETS:
        raise ValueError(f"fonts must be one of {', '.join(FONT_SETS)}, not {fonts!r}")
    faces = korean_fonts()
    if split == "eval":
        return [f for f in faces if f.family in EVAL_FAMILIES]
    rest = [f for f in faces if f.family not in EVAL_FAMILIES]
    return rest if fonts == "installed" else [f for f in rest if (f.family, f.style) in TRAIN_FACES
                                              and Path(f.path).name not in NANUM_ECO_FILES]


def require_fonts(split: str, fonts: str = "set-up") -> list[FontFace]:
    """``fonts_for``, or the one error every renderer gives when there is nothing to render with."""
    faces = fonts_for(split, fonts)
    if not faces:
        raise RuntimeError("no Korean fonts found (install fonts-nanum fonts-noto-cjk fonts-unfonts-core)")
    return faces


@lru_cache(maxsize=4096)
def _has_glyph(path: str, index: int, ch: str) -> bool:
    """PIL draws .notdef boxes for missing glyphs; compare with a surely-missing code point."""
    if ch == " ":
        return True
    f = _load_font(path, index, 32)
    a = f.getmask(ch)
    b = f.getmask("\ue000")
    return not (a.size == b.size and bytes(a) == bytes(b))


def _supported(face: FontFace, text: str) -> bool:
    return all(_has_glyph(face.path, face.index, c) for c in text)


# ----------------------------------------------------------------------------- backgrounds

@lru_cache(maxsize=32)
def _photo(name: str) -> np.ndarray:
    import skimage.data as skd

    img = getattr(skd, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (255 * (img.astype(np.float32) / max(1.0, float(img.max())))).astype(np.uint8)
    return img


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    small = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def make_background(rng: np.random.Generator, h: int, w: int, split: str) -> tuple[np.ndarray, str]:
    """A footage-like background: a real photo (cropped, scaled, colour-shifted) or procedural."""
    photos = PHOTOS_EVAL if split == "eval" else PHOTOS_TRAIN
    procs = PROCEDURAL_EVAL if split == "eval" else PROCEDURAL_TRAIN
    if rng.random() < 0.6:
        name = photos[rng.integers(len(photos))]
        img = _photo(name)
        ih, iw = img.shape[:2]
        # random crop with the frame's aspect, then resize up (footage is soft anyway)
        ar = w / h
        ch = int(ih * rng.uniform(0.5, 1.0))
        cw = min(iw, int(ch * ar))
        ch = int(cw / ar)
        y = rng.integers(0, ih - ch + 1)
        x = rng.integers(0, iw - cw + 1)
        crop = img[y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out = cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        gain = rng.uniform(0.6, 1.3, 3)
        out = out * gain + rng.uniform(-30, 30)
        return np.clip(out, 0, 255).astype(np.uint8), name
    kind = procs[rng.integers(len(procs))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if kind in ("gradient", "sky"):
        t = (yy / h)[..., None] if kind == "sky" else ((xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / (w + h))[..., None]
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        out = c1 * (1 - t) + c2 * t + 40 * (_smooth_noise(rng, h, w, 64) - 0.5)
    elif kind == "noise":
        out = sum(_smooth_noise(rng, h, w, s) * a for s, a in ((256, 200), (64, 80), (16, 40), (4, 20)))
        out = out - out.mean() + c1
    elif kind == "stripes":
        period = rng.uniform(20, 120)
        t = (0.5 + 0.5 * np.sin(2 * np.pi * (xx * math.cos(rng.uniform(0, 3)) + yy) / period))[..., None]
        out = c1 * (1 - t) + c2 * t + 30 * (_smooth_noise(rng, h, w, 32) - 0.5)
    else:  # shapes / bokeh: blurred discs and rectangles
        out = np.empty((h, w, 3), np.float32)
        out[:] = c1
        pil = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(pil)
        for _ in range(int(rng.integers(10, 40))):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            r = int(rng.integers(10, max(12, h // 4)))
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            if kind == "bokeh" or rng.random() < 0.5:
                d.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=col)
            else:
                d.rectangle([x0 - r, y0 - r // 2, x0 + r, y0 + r // 2], fill=col)
        pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 12 if kind == "bokeh" else 4))))
        out = np.asarray(pil).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8), kind


# ----------------------------------------------------------------------------- caption styles

def _bright(rng: random.Random) -> tuple[int, int, int]:
    h = rng.random()
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _dark(rng: random.Random) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 1.0), rng.uniform(0.0, 0.35))
    return int(r * 255), int(g * 255), int(b * 255)


def sample_style(rng: random.Random, kind: str, frame_h: int) -> dict[str, Any]:
    """Style parameters of one caption block, as Korean TV uses them."""
    s: dict[str, Any] = {"kind": kind, "gradient": None, "outline2": None, "shadow": None,
                         "banner": None, "angle": 0.0}
    if kind == "drama":
        s["size"] = int(frame_h * rng.uniform(0.042, 0.065))
        s["fill"] = rng.choice([(255, 255, 255), (255, 255, 255), (250, 245, 200), (255, 240, 150)])
        s["outline"] = (0, 0, 0) if rng.random() < 0.8 else _dark(rng)
        s["outline_w"] = max(1, round(s["size"] * rng.uniform(0.03, 0.08)))
        if rng.random() < 0.5:
            s["shadow"] = {"color": (0, 0, 0), "dx": max(1, round(s["size"] * rng.uniform(0.02, 0.07))),
                           "dy": max(1, round(s["size"] * rng.uniform(0.02, 0.07))),
                           "blur": rng.uniform(0.5, 3.0), "opacity": rng.uniform(0.5, 0.9)}
        if rng.random() < 0.25:
            s["outline_w"] = 0  # shadow-only subtitles
            s["shadow"] = {"color": (0, 0, 0), "dx": 2, "dy": 2, "blur": rng.uniform(1.0, 3.0), "opacity": 0.85}
    elif kind == "variety":
        s["size"] = int(frame_h * rng.uniform(0.05, 0.11))
        s["fill"] = _bright(rng) if rng.random() < 0.8 else (255, 255, 255)
        s["outline"] = _dark(rng) if rng.random() < 0.8 else (255, 255, 255)
        s["outline_w"] = max(2, round(s["size"] * rng.uniform(0.06, 0.14)))
        if rng.random() < 0.35:
            s["outline2"] = {"color": _bright(rng) if rng.random() < 0.5 else (255, 255, 255),
                             "w": max(2, round(s["size"] * rng.uniform(0.04, 0.09)))}
        if rng.random() < 0.35:
            s["gradient"] = _bright(rng)
        if rng.random() < 0.5:
            s["shadow"] = {"color": _dark(rng), "dx": round(s["size"] * rng.uniform(0.03, 0.1)),
                           "dy": round(s["size"] * rng.uniform(0.03, 0.1)), "blur": rng.uniform(0.0, 2.0),
                           "opacity": rng.uniform(0.6, 1.0)}
        if rng.random() < 0.4:
            s["angle"] = rng.uniform(-8, 8)
    else:  # news / banner
        s["size"] = int(frame_h * rng.uniform(0.035, 0.06))
        light = rng.random() < 0.6
        s["fill"] = (255, 255, 255) if light else _dark(rng)
        s["outline"] = (0, 0, 0)
        s["outline_w"] = 0 if rng.random() < 0.7 else 1
        s["banner"] = {"color": _dark(rng) if light else (240, 240, 240) if rng.random() < 0.5 else _bright(rng),
                       "opacity": rng.choice([1.0, rng.uniform(0.5, 0.9)]), "pad": rng.uniform(0.2, 0.6)}
    return s


# ----------------------------------------------------------------------------- rendering

@dataclass
class SynthFrame:
    image: np.ndarray  # HxWx3 uint8, degraded
    clean: np.ndarray  # HxWx3 uint8 without caption ink
    label: np.ndarray  # HxW uint8 nested masks (0..3)
    line_ids: np.ndarray  # HxW uint8
    meta: dict[str, Any] = field(default_factory=dict)


def _text_layers(face: FontFace, text: str, style: dict) -> tuple[dict[str, np.ndarray], tuple[int, int, int, int]]:
    """Alpha layers (float 0..1) of one line, in a local canvas, plus the ink box in it."""
    size = style["size"]
    font = face.load(size)
    bold = int(style.get("embolden") or 0)  # px the fill's strokes are thickened by (a heavier face)
    ow = int(style.get("outline_w") or 0)
    o2 = style.get("outline2")
    ow2 = ow + (int(o2["w"]) if o2 else 0)
    sh = style.get("shadow")
    pad = ow2 + bold + (int(abs(sh["dx"]) + abs(sh["dy"]) + 3 * sh["blur"]) + 2 if sh else 0) + 4
    l, t, r, b = font.getbbox(text, stroke_width=ow2 + bold)
    w, h = r - l + 2 * pad, b - t + 2 * pad
    org = (pad - l, pad - t)

    def draw(stroke: int) -> np.ndarray:
        im = Image.new("L", (w, h), 0)
        stroke += bold
        ImageDraw.Draw(im).text(org, text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        return np.asarray(im, np.float32) / 255.0

    layers = {"fill": draw(0)}
    layers["outline"] = draw(ow) if ow > 0 else layers["fill"]
    layers["outline2"] = draw(ow2) if o2 else layers["outline"]
    if sh:
        base = Image.fromarray((layers["outline2"] * 255).astype(np.uint8))
        base = base.transform(base.size, Image.AFFINE, (1, 0, -sh["dx"], 0, 1, -sh["dy"]))
        if sh["blur"] > 0.1:
            base = base.filter(ImageFilter.GaussianBlur(sh["blur"]))
        layers["shadow"] = np.asarray(base, np.float32) / 255.0 * sh["opacity"]
    else:
        layers["shadow"] = np.zeros_like(layers["fill"])
    ys, xs = np.nonzero(layers["outline2"] > 0.5)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else (0, 0, w, h)
    return layers, box


def _rotate(a: np.ndarray, angle: float, center: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    M = cv2.getRotationMatrix2D(center, angle, 1.0)
    h, w = a.shape[:2]
    return cv2.warpAffine(a, M, (w, h), flags=cv2.INTER_LINEAR, borderValue=0), M


def _degrade(rng: np.random.Generator, img: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast degradations: rescale, blur (both images), then noise and codec (frame only)."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        f = rng.uniform(0.5, 0.9)
        interp = cv2.INTER_AREA
        small = (max(16, int(w * f)), max(16, int(h * f)))
        img = cv2.resize(cv2.resize(img, small, interpolation=interp), (w, h), interpolation=cv2.INTER_LINEAR)
        clean = cv2.resize(cv2.resize(clean, small, interpolation=interp), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        s = rng.uniform(0.3, 1.0)
        img = cv2.GaussianBlur(img, (0, 0), s)
        clean = cv2.GaussianBlur(clean, (0, 0), s)
    if rng.random() < 0.5:
        noise = rng.normal(0, rng.uniform(1, 6), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        # H.264-like: 4:2:0 chroma subsampling + block DCT quantisation (JPEG does both)
        q = int(rng.integers(25, 90))
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img), np.ascontiguousarray(clean)


def _composite(dst: np.ndarray, alpha: np.ndarray, color, x: int, y: int) -> None:
    """Alpha-blend a colour (or per-pixel colour image) into dst at (x, y), clipped to dst."""
    H, W = dst.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    c = np.asarray(color, np.float32)
    if c.ndim == 3:
        c = c[y0 - y:y1 - y, x0 - x:x1 - x]
    region = dst[y0:y1, x0:x1]
    region[:] = region * (1 - a) + c * a


def paint_line(canvas: np.ndarray, layers: dict[str, np.ndarray], style: dict, x: int, y: int) -> None:
    """Draw one line's layers at (x, y), back to front: shadow, outer outline, outline, fill."""
    sh = style["shadow"]
    _composite(canvas, layers["shadow"], sh["color"] if sh else (0, 0, 0), x, y)
    if style["outline2"]:
        _composite(canvas, layers["outline2"], style["outline2"]["color"], x, y)
    if style["outline_w"]:
        _composite(canvas, layers["outline"], style["outline"], x, y)
    fill_col: Any = style["fill"]
    if style["gradient"]:  # vertical gradient from the fill colour to the second colour
        hh, ww = layers["fill"].shape
        t = np.linspace(0, 1, hh, dtype=np.float32)[:, None, None]
        fill_col = np.broadcast_to(np.asarray(style["fill"], np.float32) * (1 - t)
                                   + np.asarray(style["gradient"], np.float32) * t, (hh, ww, 3))
    _composite(canvas, layers["fill"], fill_col, x, y)


def _paste_max(dst: np.ndarray, a: np.ndarray, x: int, y: int) -> None:
    H, W = dst.shape[:2]
    h, w = a.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 < x1 and y0 < y1:
        np.maximum(dst[y0:y1, x0:x1], a[y0 - y:y1 - y, x0 - x:x1 - x], out=dst[y0:y1, x0:x1])


@dataclass
class _Canvas:
    """A frame being drawn: the picture and the masks of everything painted so far."""

    canvas: np.ndarray  # float32 H x W x 3
    fill_m: np.ndarray
    out_m: np.ndarray
    foot_m: np.ndarray
    line_ids: np.ndarray
    lines_meta: list[dict] = field(default_factory=list)
    banners: list[list[int]] = field(default_factory=list)
    occupied: list[tuple[int, int, int, int]] = field(default_factory=list)


def _caption_texts(rs: random.Random, faces: list[FontFace], kind: str, nlines: int):
    """A face and ``nlines`` texts it can draw, or None after 20 tries."""
    for _ in range(20):
        face = rs.choice(faces)
        texts = [caption_text(rs, kind) for _ in range(nlines)]
        if all(_supported(face, t) for t in texts):
            return face, texts
    return None


def _place_block(rs: random.Random, kind: str, W: int, H: int, block_w: int, block_h: int,
                 occupied: list[tuple[int, int, int, int]]):
    """Top-left of a caption block where kinds put it (drama at the bottom centre, news
    bottom-left/centre on a banner, variety anywhere), clear of the others; None after 20 tries."""
    for _ in range(20):
        if kind == "drama":
            bx = (W - block_w) // 2 + rs.randint(-W // 40, W // 40)
            by = int(H * rs.uniform(0.78, 0.9)) - block_h // 2
        elif kind == "news":
            bx = rs.choice([int(W * 0.05), (W - block_w) // 2])
            by = int(H * rs.uniform(0.08, 0.85))
        else:
            bx = rs.randint(0, max(0, W - block_w))
            by = rs.randint(0, max(0, H - block_h))
        by = min(max(by, 2), H - block_h - 2)
        bx = min(max(bx, 2), W - block_w - 2)
        cand = (bx - 10, by - 10, bx + block_w + 10, by + block_h + 10)
        if not any(cand[0] < o[2] and o[0] < cand[2] and cand[1] < o[3] and o[1] < cand[3] for o in occupied):
            return bx, by, cand
    return None


def _paint_lines(c: _Canvas, rs: random.Random, rendered, texts: list[str], face: FontFace, style: dict,
                 kind: str, cap_i: int, bx: int, by: int, block_w: int, block_h: int, gap: int) -> None:
    """Paint a block's lines and record their masks and metadata."""
    H, W = c.line_ids.shape
    y = by
    angle = style["angle"]
    cx, cy = bx + block_w / 2, by + block_h / 2
    for (layers, ib), text in zip(rendered, texts):
        lw = ib[2] - ib[0]
        x = bx + (block_w - lw) // 2 if kind != "news" or rs.random() < 0.5 else bx
        ox, oy = x - ib[0], y - ib[1]  # local canvas origin in the frame
        if abs(angle) > 0.01:
            lc = (cx - ox, cy - oy)
            layers = {k: _rotate(v, angle, lc)[0] for k, v in layers.items()}
            M = cv2.getRotationMatrix2D(lc, angle, 1.0)
        lid = len(c.lines_meta) + 1
        paint_line(c.canvas, layers, style, ox, oy)
        # masks, in frame coordinates
        lf = np.zeros((H, W), np.float32)
        lo = np.zeros((H, W), np.float32)
        la = np.zeros((H, W), np.float32)
        _paste_max(lf, layers["fill"], ox, oy)
        _paste_max(lo, np.maximum(layers["outline"], layers["outline2"]), ox, oy)
        _paste_max(la, np.maximum(layers["shadow"], np.maximum(layers["outline2"], layers["fill"])), ox, oy)
        np.maximum(c.fill_m, lf, out=c.fill_m)
        np.maximum(c.out_m, lo, out=c.out_m)
        np.maximum(c.foot_m, la, out=c.foot_m)
        c.line_ids[(la >= 0.25) & (c.line_ids == 0)] = lid
        # geometry of the ink (fill + outlines), what a detector should find
        ys, xs = np.nonzero(lo >= 0.5)
        if len(xs) == 0:
            y += (ib[3] - ib[1]) + gap
            continue
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        if abs(angle) > 0.01:
            corners = np.array([[ib[0], ib[1]], [ib[2], ib[1]], [ib[2], ib[3]], [ib[0], ib[3]]], np.float32)
            pts = cv2.transform(corners[None], M)[0] + np.array([ox, oy], np.float32)
            poly = [[int(round(px)), int(round(py))] for px, py in pts]
        else:
            poly = [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]]
        c.lines_meta.append({"text": text, "box": box, "polygon": poly, "angle": angle,
                             "style": dict(style), "font": {"family": face.family, "style": face.style,
                                                            "path": face.path, "index": face.index},
                             "caption": cap_i})
        y += (ib[3] - ib[1]) + gap


def _draw_caption(c: _Canvas, rs: random.Random, faces: list[FontFace], kind: str, cap_i: int) -> None:
    H, W = c.line_ids.shape
    style = sample_style(rs, kind, H)
    nlines = rs.choice([1, 1, 2]) if kind == "drama" else 1
    got = _caption_texts(rs, faces, kind, nlines)
    if got is None:
        return
    face, texts = got
    rendered = [_text_layers(face, t, style) for t in texts]
    line_h = max(b[3] - b[1] for _, b in rendered)
    gap = int(line_h * 0.25)
    block_w = max(b[2] - b[0] for _, b in rendered)
    block_h = sum(b[3] - b[1] for _, b in rendered) + gap * (nlines - 1)
    if block_w > W * 0.95:
        return
    spot = _place_block(rs, kind, W, H, block_w, block_h, c.occupied)
    if spot is None:
        return
    bx, by, cand = spot
    c.occupied.append(cand)
    if style["banner"]:
        pad = int(style["size"] * style["banner"]["pad"])
        bb = [max(0, bx - pad), max(0, by - pad), min(W, bx + block_w + pad), min(H, by + block_h + pad)]
        a = np.full((bb[3] - bb[1], bb[2] - bb[0]), style["banner"]["opacity"], np.float32)
        _composite(c.canvas, a, style["banner"]["color"], bb[0], bb[1])
        c.banners.append(bb)
    _paint_lines(c, rs, rendered, texts, face, style, kind, cap_i, bx, by, block_w, block_h, gap)


def render_frame(seed: int, index: int, split: str = "train", size: tuple[int, int] | None = None,
                 kinds: list[str] | None = None, fonts: str = "set-up") -> SynthFrame:
    """Render frame `index` of a dataset: a pure function of its arguments."""
    rs = random.Random(f"{seed}:{index}:{split}")
    rng = np.random.default_rng(rs.getrandbits(63))
    W, H = size or rs.choice([(1280, 720), (1280, 720), (1920, 1080), (960, 540), (854, 480)])
    bg, bg_name = make_background(rng, H, W, split)
    faces = require_fonts(split, fonts)
    c = _Canvas(bg.astype(np.float32), np.zeros((H, W), np.float32), np.zeros((H, W), np.float32),
                np.zeros((H, W), np.float32), np.zeros((H, W), np.uint8))
    kinds = kinds or [rs.choice(["drama", "drama", "variety", "news"])]
    if kinds == ["variety"] or (kinds[0] == "variety" and rs.random() < 0.5):
        kinds = kinds + ["variety"] * rs.randint(0, 2)
    if rs.random() < 0.05:
        kinds = []  # some frames carry no caption at all
    for cap_i, kind in enumerate(kinds):
        _draw_caption(c, rs, faces, kind, cap_i)
    # the clean target: the background with the banners re-applied exactly as drawn, no ink
    clean = _banner_plate(bg, c.banners, c.lines_meta)
    img = np.clip(c.canvas, 0, 255).astype(np.uint8)
    img, clean = _degrade(rng, img, clean)
    label = np.zeros((H, W), np.uint8)
    label[c.foot_m >= 0.25] = 1
    label[c.out_m >= 0.5] = 2
    label[c.fill_m >= 0.5] = 3
    c.line_ids[label == 0] = 0
    meta = {"width": W, "height": H, "split": split, "background": bg_name,
            "lines": c.lines_meta, "banners": c.banners, "seed": seed, "index": index}
    return SynthFrame(img, clean, label, c.line_ids, _jsonable(meta))


def _banner_plate(bg: np.ndarray, banners: list[list[int]], lines_meta: list[dict]) -> np.ndarray:
    out = bg.astype(np.float32)
    styles = {}
    for lm in lines_meta:
        styles.setdefault(lm["caption"], lm["style"])
    banner_styles = [s for _, s in sorted(styles.items()) if s.get("banner")]
    for bb, s in zip(banners, banner_styles):
        a = np.full((bb[3] - bb[1], bb[2] - bb[0]), s["banner"]["opacity"], np.float32)
        _composite(out, a, s["banner"]["color"], bb[0], bb[1])
    return np.clip(out, 0, 255).astype(np.uint8)


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return round(float(o), 4)
    if isinstance(o, np.integer):
        return int(o)
    return o


def write_frame(fr: SynthFrame, out_dir: Path, stem: str) -> None:
    cv2.imwrite(str(out_dir / f"{stem}.png"), fr.image[..., ::-1])
    cv2.imwrite(str(out_dir / f"{stem}.clean.png"), fr.clean[..., ::-1])
    cv2.imwrite(str(out_dir / f"{stem}.label.png"), fr.label)
    cv2.imwrite(str(out_dir / f"{stem}.lines.png"), fr.line_ids)
    (out_dir / f"{stem}.json").write_text(json.dumps(fr.meta, ensure_ascii=False))


def read_frame(data_dir: Path, stem: str) -> SynthFrame:
    img = cv2.imread(str(data_dir / f"{stem}.png"), cv2.IMREAD_COLOR)[..., ::-1]
    clean_p = data_dir / f"{stem}.clean.png"
    clean = cv2.imread(str(clean_p), cv2.IMREAD_COLOR)[..., ::-1] if clean_p.exists() else img
    label = cv2.imread(str(data_dir / f"{stem}.label.png"), cv2.IMREAD_UNCHANGED)
    lines = cv2.imread(str(data_dir / f"{stem}.lines.png"), cv2.IMREAD_UNCHANGED)
    meta = json.loads((data_dir / f"{stem}.json").read_text())
    return SynthFrame(np.ascontiguousarray(img), np.ascontiguousarray(clean), label, lines, meta)


def generate(out_dir: Path, n: int, seed: int = 0, split: str = "train", start: int = 0,
             progress=None, fonts: str = "set-up") -> list[str]:
    """Write frames start..n-1 to out_dir (skipping ones already there, so runs resume).

    Resuming a folder made with another seed, split or font set would mix two datasets under
    one manifest, so that is refused before anything is written."""
    if split == "eval" and fonts != "set-up":
        raise ValueError("--fonts installed is for the train split (eval uses only the held-out families)")
    man = out_dir / "manifest.json"
    if man.exists():
        try:
            old = json.loads(man.read_text())
        except (OSError, ValueError):
            old = {}
        was = (old.get("seed"), old.get("split"), old.get("font_set", fonts))  # older manifests: no font set
        if old and was != (seed, split, fonts):
            raise ValueError(f"it holds seed {was[0]}, split {was[1]}, fonts {was[2]}; resume with those, "
                             "or use another folder")
    faces = require_fonts(split, fonts)  # before the folder exists: a refusal writes nothing
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = []
    for i in range(start, n):
        stem = f"{split}_{i:06d}"
        stems.append(stem)
        if not (out_dir / f"{stem}.json").exists():
            write_frame(render_frame(seed, i, split, fonts=fonts), out_dir, stem)
        if progress:
            progress(i)
    manifest = {"version": 1, "seed": seed, "n": n, "split": split, "font_set": fonts,
                "faces": len(faces),
                "fonts": sorted({f.family for f in faces}),
                "backgrounds": (PHOTOS_EVAL + PROCEDURAL_EVAL) if split == "eval" else (PHOTOS_TRAIN + PROCEDURAL_TRAIN),
                "frames": stems}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return stems


def list_frames(data_dir: Path) -> list[str]:
    man = data_dir / "manifest.json"
    if man.exists():
        return json.loads(man.read_text())["frames"]
    return sorted(p.name[:-5] for p in data_dir.glob("*.json") if p.name != "manifest.json")
