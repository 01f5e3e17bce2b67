"""The broadcast line engine: caption lines that look like real episodes, for the recogniser.

Why a second engine: ``lines.render_line`` draws the project's first caption styles in 39
plain faces over ten photos, and a model trained on it reads its own held-out lines at CER
0.026 but real broadcasts at 0.3-0.5 (issue 20). What real footage has and that engine lacks:
- faces: every Korean face Debian packages (BM, alee, Lexi, D2Coding, all Noto CJK weights,
  Un extra) plus the OFL display families ``tools/fetch_fonts.py`` brings from npm;
- text: real Korean words (Tesseract ``kor``'s word list, 79k forms) besides the caption
  corpus, with the symbols captions use (※ ♥ ★ ♪ ㅋㅋ ㅠㅠ !! ~);
- styles: white fill with only a soft grey drop shadow, thin grey outlines, thick
  multi-layer outlines, 3D extrusions, two colours in one line, plates;
- a real codec round trip: libx264 through PyAV (4:2:0, CRF 18-38), 1080p<->720p rescales
  and JPEG, at the sizes real episodes use.

``render_broadcast_line(seed, index, split)`` returns the same ``LineSample`` as
``render_line``, so the trainer and ``kseg eval`` take either. Splits: ``train`` (all faces but
the held-out ones), ``eval`` (the original held-out families), ``display`` (held-out display
faces, never trained on: the issue's "display faces held out from training").
"""
from __future__ import annotations

import colorsys
import random
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import (EVAL_FAMILIES, FontFace, _composite, _supported, _text_layers, korean_fonts, make_background,
               paint_line)
from .corpus import LATIN, caption_text, random_syllables

# Display faces held out of broadcast training (the ``display`` split): two BM faces (Yeon
# Sung under both its Debian and its Fontsource name: one design, two files), an alee face,
# two OFL display families from npm and a handwriting-like one.
DISPLAY_HELDOUT = {"BM YEONSUNG", "yeon-sung", "Guseul", "gugi", "sunflower", "gaegu", "BM HANNA 11yrs old"}
SYMBOLS = ["!", "!!", "?", "?!", "~", "~~", "…", "♥", "♡", "★", "☆", "♪", "※", "ㅋㅋ", "ㅋㅋㅋ", "ㅠㅠ",
           "ㅎㅎ", "^^", "(", ")", "「", "」", "[", "]", "<", ">", "#", "+", "/", "·", "...", "%", "→"]
KINDS = ["drama", "drama", "vlog", "vlog", "variety", "variety", "variety", "news"]
# Training-only variations (the eval and display splits are rendered as before, so their scores
# stay comparable): runs of full stops as real captions type them ("말문이 턱...", "응..?"), which
# the recogniser read as one or two dots, and horizontally condensed faces (captions set narrow
# to fit a line), which read better once widened (kseg.recognize.kseg_ocr.STRETCH).
DOT_RUNS = ["..", "...", "...", "...", "....", "...?", "..?", "...!", "..."]
CONDENSE = (0.35, 0.68, 0.95)  # share of training lines condensed, and the width factor's range
# Captions seen small: thumbnails, collages, 480p uploads and phone screenshots put real caption
# lines at 10-20 px of ink, where bench/real reads worst (CER 0.59 under 16 px, 0.21 above); the
# engine draws at broadcast sizes. A share of training lines is shrunk to such a height and back.
TINY = (0.15, 10, 20)  # share of training lines, and the range of line heights (px) they pass through
# What real strips hold that the engine's did not (the errors left on bench/real): display faces
# heavier than any installed one (variety titles in ultra-black faces, whose counters close up),
# drawn as a face's strokes thickened by a share of its size; and the next caption line of a
# stack, whose descenders or top reach into the strip's margin. Each from its own random stream.
BOLD = (0.2, 0.015, 0.04)  # share of training lines emboldened, and the stroke's range (x font size)
NEIGHBOUR = (0.25, 0.05, 0.45)  # share with a line above or below, and its gap (x line height)
# Fills that are not one flat colour, as variety titles draw them and the engine did not (the
# display-face errors left on bench/real, and the MBC clip's `들은 ... 웃겨` read `들육 ... 웃지`):
# ``grunge`` (blotches and cracks of another colour through the letters), ``neon`` (a pale core
# along the strokes' centre lines, the colour at their edges: pink letters with a white core)
# and ``gloss`` (a lighter band across the upper third; on white letters a darker lower half).
# Training lines only, from their own random stream.
TEXTURE = (0.2, 0.3, 0.75)  # share of training lines, and the decoration's strength range


def _dot_run(ra: random.Random, text: str) -> str:
    """A quarter of training lines get a run of full stops after one of their words."""
    words = text.split(" ")
    if ra.random() < 0.25 and any(w.strip() for w in words):
        k = ra.randrange(len(words))
        words[k] = words[k].rstrip(".…") + ra.choice(DOT_RUNS)
    return " ".join(words)


def _condense(ra: random.Random, layers: dict, ib: tuple) -> tuple[dict, tuple]:
    """``CONDENSE[0]`` of training lines drawn narrower by a factor in ``CONDENSE[1:]``."""
    if ra.random() >= CONDENSE[0]:
        return layers, ib
    w = layers["fill"].shape[1]
    nw = max(4, round(w * ra.uniform(CONDENSE[1], CONDENSE[2])))
    layers = {k: cv2.resize(v, (nw, v.shape[0]), interpolation=cv2.INTER_AREA) for k, v in layers.items()}
    return layers, (int(ib[0] * nw / w), ib[1], min(nw, int(np.ceil(ib[2] * nw / w))), ib[3])


def _tiny(ra: random.Random, img: np.ndarray, line_h: int) -> np.ndarray:
    """``TINY[0]`` of training lines pass through a line height of ``TINY[1:]`` px and back."""
    if ra.random() >= TINY[0] or line_h <= TINY[2]:
        return img
    f = ra.uniform(TINY[1], TINY[2]) / line_h
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
    if ra.random() < 0.5:  # the small picture was itself a compressed upload or screenshot
        ok, buf = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, ra.randint(50, 92)])
        small = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))


def _embolden(rb: random.Random, style: dict) -> dict:
    """``BOLD[0]`` of training lines drawn with their strokes thickened by ``BOLD[1:]`` x size."""
    if rb.random() >= BOLD[0]:
        return style
    return dict(style, embolden=max(1, round(style["size"] * rb.uniform(BOLD[1], BOLD[2]))))


def _texture(rt: random.Random, style: dict) -> dict:
    """``TEXTURE[0]`` of training lines get a decorated fill (``_decorated``)."""
    if rt.random() >= TEXTURE[0]:
        return style
    return dict(style, texture={"kind": rt.choice(["grunge", "neon", "gloss"]), "seed": rt.getrandbits(32),
                                "amount": rt.uniform(TEXTURE[1], TEXTURE[2]),
                                "colour": rt.choice([(255, 255, 255), (250, 245, 225), (30, 30, 30), (110, 110, 110)])})


def _decorated(col: np.ndarray, fill: np.ndarray, tex: dict, size: int) -> np.ndarray:
    """The fill's colour field ``col`` (h x w x 3 float) decorated as ``tex`` says."""
    rng = np.random.default_rng(tex["seed"])
    h, w = fill.shape
    a, other = tex["amount"], np.asarray(tex["colour"], np.float32)
    if tex["kind"] == "grunge":  # blotches at a tenth of the size, and a fine speckle
        field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), max(1.0, size / 10))
        field = field / (field.std() + 1e-6) + 0.6 * rng.standard_normal((h, w)).astype(np.float32)
        t = np.clip((field - np.quantile(field, 0.6)) * 3.0, 0, 1) * a
    elif tex["kind"] == "neon":  # pale along the centre lines, the colour at the edges
        dt = cv2.distanceTransform((fill >= 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        half = max(1.0, float(np.percentile(dt[dt > 0], 95)) if (dt > 0).any() else 1.0)
        t = np.clip(dt / half * 1.3 - 0.2, 0, 1) * a
        if col.mean() > 200:  # white letters: their edges take a colour (a neon tube's glow)
            rc = random.Random(tex["seed"])
            col = np.broadcast_to(np.float32(_hsv(rc.random(), rc.uniform(0.6, 1.0), rc.uniform(0.85, 1.0))), col.shape)
        other = np.float32([255, 255, 255])
    else:  # gloss: a lighter band across the upper part of the rows (a darker lower half on white)
        rows = np.flatnonzero(fill.max(1) >= 0.5)
        r0, r1 = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, h)
        y = (np.arange(h, dtype=np.float32) - r0) / max(1, r1 - r0)
        if col.mean() > 200:
            t = np.broadcast_to((np.clip((y - 0.45) * 4, 0, 1) * a * 0.7)[:, None], (h, w))
            other = col.mean(axis=(0, 1)) * 0.55
        else:
            t = np.broadcast_to((np.clip(1 - np.abs(y - 0.3) / 0.2, 0, 1) * a)[:, None], (h, w))
            other = np.float32([255, 255, 255])
    return col * (1 - t[..., None]) + other * t[..., None]


def _neighbour(rn: random.Random, canvas: np.ndarray, face: FontFace, style: dict, kind: str,
               ink_box: tuple[int, int, int, int]) -> None:
    """``NEIGHBOUR[0]`` of training lines get another caption line painted just above or below
    ``ink_box`` (canvas coordinates), in the same style or the same with another fill, clipped
    by the canvas: not labelled, so the recogniser learns to read past it."""
    if rn.random() >= NEIGHBOUR[0]:
        return
    for _ in range(10):
        text = broadcast_text(rn, kind)
        if text.strip() and _supported(face, text):
            break
    else:
        return
    st = style if rn.random() < 0.7 else dict(style, fill=_caption_colour(rn), gradient=None)
    layers, nb = _text_layers(face, text, st)
    if st.get("extrude"):
        layers["extrude"] = _extrude_layer(layers, st["extrude"])
    x0, y0, x1, y1 = ink_box
    gap = round((y1 - y0) * rn.uniform(NEIGHBOUR[1], NEIGHBOUR[2]))
    x = x0 + round((x1 - x0) * rn.uniform(-0.3, 0.3)) - nb[0]
    y = y0 - gap - nb[3] if rn.random() < 0.5 else y1 + gap - nb[1]
    _paint(canvas, layers, st, x, y, None)


def font_dirs() -> list[Path]:
    """Extra font folders: ``$KSEG_FONT_DIRS`` (os.pathsep-separated) or ``.cache/fonts/ttf``."""
    import os

    env = os.environ.get("KSEG_FONT_DIRS")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path(__file__).resolve().parents[2] / ".cache" / "fonts" / "ttf"]


@lru_cache(maxsize=1)
def extra_fonts() -> tuple[FontFace, ...]:
    faces = []
    for d in font_dirs():
        for p in sorted(d.glob("*.[ot]tf")):
            fam = p.stem.rsplit("-", 1)[0].lower()  # gothic-a1-700 -> gothic-a1, Pretendard-Bold -> pretendard
            faces.append(FontFace(str(p), 0, fam, p.stem.rsplit("-", 1)[-1]))
    return tuple(faces)


@lru_cache(maxsize=4)
def broadcast_faces(split: str) -> tuple[FontFace, ...]:
    """Faces of a split: ``display`` the held-out display faces, ``eval`` the original held-out
    families, ``train`` every other installed or fetched Korean face (chosen once per split and
    process: every rendered line asks)."""
    faces = list(korean_fonts()) + list(extra_fonts())
    if split == "display":
        out = [f for f in faces if f.family in DISPLAY_HELDOUT]
    elif split == "eval":
        out = [f for f in faces if f.family in EVAL_FAMILIES]
    else:
        out = [f for f in faces if f.family not in DISPLAY_HELDOUT and f.family not in EVAL_FAMILIES
               and "Coding" not in f.family]
    if not out:
        raise RuntimeError(f"no Korean fonts for the {split!r} split (make setup; python tools/fetch_fonts.py)")
    return tuple(out)


# ----------------------------------------------------------------------------- text

@lru_cache(maxsize=2)
def real_words(lang: str = "kor") -> tuple[str, ...]:
    """Tesseract's word list for ``lang`` (``kor``: 79k Korean forms; ``eng``: English words;
    Apache-2.0, installed by set-up), unpacked once into the cache; empty when Tesseract's tools
    or data are missing (the corpus alone is used then)."""
    import re

    from kseg.segment.registry import cache_dir

    out = cache_dir() / f"{lang}-words.txt"
    if not out.exists():
        import tempfile

        td = Path(f"/usr/share/tesseract-ocr/5/tessdata/{lang}.traineddata")
        if not td.exists():
            return ()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(["combine_tessdata", "-u", str(td), f"{tmp}/{lang}."], check=True, capture_output=True)
                subprocess.run(["dawg2wordlist", f"{tmp}/{lang}.lstm-unicharset", f"{tmp}/{lang}.lstm-word-dawg",
                                f"{tmp}/words.txt"], check=True, capture_output=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                Path(f"{tmp}/words.txt").replace(out)
        except (OSError, subprocess.CalledProcessError):
            return ()
    words = out.read_text(encoding="utf-8").split()
    if lang == "kor":
        words = [w for w in words if any("\uac00" <= c <= "\ud7a3" for c in w)]
    else:
        words = [w for w in words if re.fullmatch(r"[A-Za-z][a-z']{1,9}|[A-Z]{2,6}", w)]
    return tuple(sorted(words))


UNITS = ["년", "월", "일", "시", "분", "초", "살", "번", "등", "개", "명", "주년", "회", "%", "kg", "km", "만 원", "원", "층", "호"]


def _number(rs: random.Random) -> str:
    r = rs.random()
    if r < 0.5:
        return f"{rs.choice([rs.randint(1, 12), rs.randint(1, 100), rs.randint(100, 2030)])}{rs.choice(UNITS)}"
    if r < 0.7:
        return f"({rs.randint(5, 90)})"
    if r < 0.85:
        return f"{rs.randint(0, 23)}:{rs.randint(0, 59):02d}"
    return f"{rs.randint(1, 10)}{rs.choice(['ROUND', 'R', '위', '단계', '라운드', '차'])}"


def _english(rs: random.Random, words: tuple[str, ...]) -> str:
    w = rs.choice(words) if words else rs.choice(LATIN)
    r = rs.random()
    return w.upper() if r < 0.3 else w.capitalize() if r < 0.6 else w


@lru_cache(maxsize=1)
def _charset() -> frozenset:
    """What the recogniser can emit: a line with anything else would teach it a wrong label."""
    from .corpus import default_charset

    return frozenset(default_charset())


def render_any(seed: int, index: int, split: str, engine: str):
    """Line ``index`` of an engine's stream: ``lines`` (the first engine), ``broadcast``, or
    ``mix`` (3 in 10 from ``lines``, so the synthetic held-out score is kept while learning)."""
    from .lines import render_line

    if engine == "lines" or (engine == "mix" and index % 10 < 3):
        return render_line(seed, index, "eval" if split == "display" else split)
    return render_broadcast_line(seed, index, split)


def broadcast_text(rs: random.Random, kind: str) -> str:
    """Caption-like text: corpus lines, real-word phrases, random syllables; symbols mixed in."""
    words, eng = real_words("kor"), real_words("eng")
    r = rs.random()
    if r < 0.25 or not words:
        t = caption_text(rs, {"vlog": "drama"}.get(kind, kind))
    elif r < 0.8:
        n = rs.choice([1, 2, 2, 3, 3, 4, 5] if kind != "variety" else [1, 1, 2, 2, 3])
        parts = [rs.choice(words) for _ in range(n)]
        if rs.random() < 0.15:  # an English word inside a Korean line (baby가, OK, MVP)
            k = rs.randrange(len(parts))
            parts[k] = _english(rs, eng) + (rs.choice(["", "가", "는", "를", "의"]) if rs.random() < 0.5 else "")
        if rs.random() < 0.15:
            parts.insert(rs.randrange(len(parts) + 1), _number(rs))
        t = " ".join(parts)
    elif r < 0.88:
        t = " ".join(_english(rs, eng) for _ in range(rs.choice([1, 1, 2, 3])))
    else:
        t = random_syllables(rs, 2, 10)
    if rs.random() < (0.45 if kind == "variety" else 0.2):
        s = rs.choice(SYMBOLS)
        t = f"{s}{t}" if rs.random() < 0.25 and s not in ")」]>" else f"{t}{s}"
    return t


# ----------------------------------------------------------------------------- styles

def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def _caption_colour(rs: random.Random) -> tuple[int, int, int]:
    """Fills real variety captions use: white, yellow, cyan, pink, orange, green, black."""
    r = rs.random()
    if r < 0.35:
        return (255, 255, 255)
    if r < 0.45:
        return (20, 20, 20)
    return _hsv(rs.choice([0.0, 0.08, 0.15, 0.16, 0.33, 0.5, 0.55, 0.6, 0.83, 0.92]) + rs.uniform(-0.03, 0.03),
                rs.uniform(0.5, 1.0), rs.uniform(0.85, 1.0))


def _dark(rs: random.Random) -> tuple[int, int, int]:
    return _hsv(rs.random(), rs.uniform(0, 0.9), rs.uniform(0.0, 0.35))


def broadcast_style(rs: random.Random, kind: str, frame_h: int) -> dict:
    """One caption block's style, as seen on real episodes (keys as ``sample_style``'s, plus
    ``extrude`` (3D), ``fill2`` (second colour from a character on) and ``soft`` shadows)."""
    s: dict = {"kind": kind, "gradient": None, "outline2": None, "shadow": None, "banner": None,
               "angle": 0.0, "extrude": None, "fill2": None, "outline_w": 0, "outline": (0, 0, 0)}
    if kind == "drama":
        s["size"] = max(12, int(frame_h * rs.uniform(0.035, 0.06)))
        s["fill"] = rs.choice([(255, 255, 255)] * 4 + [(240, 240, 240), (255, 250, 200)])
        r = rs.random()
        if r < 0.45:  # thin black or grey outline, maybe a shadow
            s["outline"] = rs.choice([(0, 0, 0), (0, 0, 0), (40, 40, 40), (90, 90, 90)])
            s["outline_w"] = max(1, round(s["size"] * rs.uniform(0.03, 0.08)))
        if r >= 0.3 or rs.random() < 0.3:
            s["shadow"] = {"color": rs.choice([(0, 0, 0), (30, 30, 30), (70, 70, 70)]),
                           "dx": rs.randint(0, 3), "dy": rs.randint(1, 4), "blur": rs.uniform(0.5, 4.0),
                           "opacity": rs.uniform(0.5, 0.95)}
    elif kind == "vlog":
        s["size"] = max(12, int(frame_h * rs.uniform(0.04, 0.08)))
        r = rs.random()
        if r < 0.5:  # white with only a soft grey drop shadow (often over bright footage)
            s["fill"] = (255, 255, 255)
            s["shadow"] = {"color": rs.choice([(0, 0, 0), (60, 60, 60), (100, 100, 100)]),
                           "dx": rs.randint(0, 4), "dy": rs.randint(0, 4), "blur": rs.uniform(1.5, 6.0),
                           "opacity": rs.uniform(0.35, 0.9)}
        elif r < 0.75:  # coloured or white fill with a thin dark outline
            s["fill"] = _caption_colour(rs)
            s["outline"] = _dark(rs) if s["fill"] != (20, 20, 20) else (255, 255, 255)
            s["outline_w"] = max(1, round(s["size"] * rs.uniform(0.04, 0.1)))
        else:  # dark text on a light plate, or white on a dark one
            light = rs.random() < 0.5
            s["fill"] = (20, 20, 20) if light else (255, 255, 255)
            s["banner"] = {"color": (250, 250, 250) if light else _dark(rs), "opacity": rs.uniform(0.6, 1.0),
                           "pad": rs.uniform(0.15, 0.45)}
    elif kind == "variety":
        s["size"] = max(14, int(frame_h * rs.uniform(0.045, 0.11)))
        s["fill"] = _caption_colour(rs)
        s["outline"] = _dark(rs) if rs.random() < 0.75 else (255, 255, 255)
        if s["fill"] == (20, 20, 20):
            s["outline"] = (255, 255, 255)
        s["outline_w"] = max(2, round(s["size"] * rs.uniform(0.05, 0.15)))
        if rs.random() < 0.45:  # multi-layer outline
            s["outline2"] = {"color": rs.choice([(255, 255, 255), _caption_colour(rs), _dark(rs)]),
                             "w": max(2, round(s["size"] * rs.uniform(0.04, 0.12)))}
        if rs.random() < 0.3:
            s["extrude"] = {"color": _dark(rs), "n": rs.randint(2, max(3, s["size"] // 8)),
                            "dx": rs.choice([0, 1, 1]), "dy": 1}
        elif rs.random() < 0.4:
            s["shadow"] = {"color": _dark(rs), "dx": round(s["size"] * rs.uniform(0.02, 0.08)),
                           "dy": round(s["size"] * rs.uniform(0.03, 0.1)), "blur": rs.uniform(0.0, 3.0),
                           "opacity": rs.uniform(0.5, 1.0)}
        if rs.random() < 0.25:
            s["gradient"] = _caption_colour(rs)
        elif rs.random() < 0.25:
            s["fill2"] = _caption_colour(rs)
        if rs.random() < 0.15:
            s["banner"] = {"color": _caption_colour(rs), "opacity": rs.uniform(0.8, 1.0), "pad": rs.uniform(0.1, 0.35)}
    else:  # news: headline plates, lower thirds
        s["size"] = max(12, int(frame_h * rs.uniform(0.035, 0.065)))
        light = rs.random() < 0.6
        s["fill"] = (255, 255, 255) if light else rs.choice([(20, 20, 20), (10, 30, 90), (120, 0, 0)])
        s["banner"] = {"color": _dark(rs) if light else rs.choice([(245, 245, 245), (255, 220, 0), (230, 230, 240)]),
                       "opacity": rs.choice([1.0, rs.uniform(0.6, 0.95)]), "pad": rs.uniform(0.15, 0.5)}
        if rs.random() < 0.2:
            s["outline_w"] = 1
    return s


def _extrude_layer(layers: dict, ext: dict) -> np.ndarray:
    """A 3D extrusion: the outermost layer shifted 1..n pixels, stacked (max)."""
    base = layers["outline2"]
    out = np.zeros_like(base)
    h, w = base.shape
    for k in range(1, ext["n"] + 1):
        dx, dy = ext["dx"] * k, ext["dy"] * k
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        np.maximum(out, cv2.warpAffine(base, m, (w, h)), out=out)
    return out


def _word_gap(face: FontFace, text: str, size: int, fill: np.ndarray, ib) -> int:
    """The x (in the line's layer) of the space nearest the middle: where a second colour starts."""
    font = face.load(size)
    cut = text.rfind(" ", 0, len(text) // 2 + 1)
    cut = cut if cut > 0 else text.find(" ")
    est = ib[0] + (ib[2] - ib[0]) * font.getlength(text[:cut]) / max(1.0, font.getlength(text))
    empty = np.flatnonzero(fill.max(0) < 0.05)
    if empty.size:
        near = empty[np.abs(empty - est) < 0.15 * (ib[2] - ib[0])]
        if near.size:
            return int(near[np.argmin(np.abs(near - est))])
    return int(est)


def _paint(canvas: np.ndarray, layers: dict, style: dict, x: int, y: int, split_x: int | None) -> None:
    if style.get("extrude"):
        _composite(canvas, layers["extrude"], style["extrude"]["color"], x, y)
    two = bool(style.get("fill2")) and split_x is not None
    if two or style.get("texture"):
        hh, ww = layers["fill"].shape
        col = np.empty((hh, ww, 3), np.float32)
        col[:] = style["fill"]
        if two:
            col[:, split_x:] = style["fill2"]
        elif style["gradient"]:
            t = np.linspace(0, 1, hh, dtype=np.float32)[:, None, None]
            col = col * (1 - t) + np.asarray(style["gradient"], np.float32) * t
        if style.get("texture"):
            col = _decorated(col, layers["fill"], style["texture"], style["size"])
        st = dict(style, gradient=None)
        paint_line(canvas, dict(layers, fill=np.zeros_like(layers["fill"])), st, x, y)
        _composite(canvas, layers["fill"], col, x, y)
        return
    paint_line(canvas, layers, style, x, y)


# ----------------------------------------------------------------------------- degradations

def x264_round_trip(img: np.ndarray, crf: int, rng: np.random.Generator) -> np.ndarray:
    """Encode one RGB frame with libx264 (yuv420p, ``crf``) through PyAV and decode it back."""
    import av

    h, w = img.shape[:2]
    W, H = w + (w & 1), h + (h & 1)
    src = np.pad(img, ((0, H - h), (0, W - w), (0, 0)), mode="edge")
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = W, H, "yuv420p"
    codec.options = {"crf": str(crf), "preset": "veryfast", "tune": "film"}
    packets = list(codec.encode(av.VideoFrame.from_ndarray(src, format="rgb24")))
    packets += list(codec.encode(None))
    dec = av.CodecContext.create("h264", "r")
    out = None
    for p in packets:
        for f in dec.decode(p):
            out = f.to_ndarray(format="rgb24")
    for f in dec.decode(None):
        out = f.to_ndarray(format="rgb24")
    return img if out is None else np.ascontiguousarray(out[:h, :w])


def broadcast_degrade(rs: random.Random, rng: np.random.Generator, img: np.ndarray, frame_h: int) -> np.ndarray:
    """What an episode's frame went through: production scaling (1080p<->720p and web sizes),
    slight softness, the broadcast or web codec (libx264 4:2:0), sometimes a JPEG screenshot."""
    h, w = img.shape[:2]
    if rs.random() < 0.5:  # made at one size, delivered at another
        f = rs.choice([720 / 1080, 480 / 720, 540 / 1080, 0.75, 1080 / 720])
        small = (max(8, int(w * f)), max(8, int(h * f)))
        img = cv2.resize(img, small, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR if rs.random() < 0.5 else cv2.INTER_CUBIC)
    if rs.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rs.uniform(0.3, 1.0))
    if rs.random() < 0.3:
        noise = rng.normal(0, rs.uniform(1, 5), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    r = rs.random()
    if r < 0.55:
        try:
            img = x264_round_trip(img, rs.randint(18, 38), rng)
        except Exception:  # noqa: BLE001 - a PyAV without libx264: fall back to JPEG's 4:2:0 + DCT
            r = 0.8
    if 0.55 <= r < 0.9 or rs.random() < 0.15:
        q = rs.randint(30, 92)
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


# ----------------------------------------------------------------------------- lines

def render_broadcast_line(seed: int, index: int, split: str = "train", jitter: bool = True):
    """Line ``index`` of a (seed, split) broadcast stream, cut as the pipeline cuts lines."""
    sc = broadcast_scene(seed, index, split, neighbour=split == "train")
    img = sc.image
    if sc.ra is not None:
        img = _tiny(sc.ra, img, sc.ink_box[3] - sc.ink_box[1])
    return sc.cut(img, jitter)


@dataclass
class BroadcastScene:
    """One broadcast line drawn on its own piece of footage (the line's layers plus 0.8x its
    height of context each side), after the episode's degradations. ``clean``: the same
    footage through the same degradations without the line (``broadcast_scene(clean=True)``),
    what a perfect eraser would give back."""
    image: np.ndarray  # RGB uint8
    clean: np.ndarray | None
    foot: np.ndarray  # bool: every layer of the line (shadow, outlines, extrusion, fill) >= 0.25
    fill: np.ndarray  # bool: the fill layer >= 0.5
    ink_box: tuple[int, int, int, int]
    text: str
    kind: str
    family: str
    style: dict
    rs: random.Random
    ra: random.Random | None

    def cut(self, img: np.ndarray, jitter: bool):
        from .lines import cut_sample

        return cut_sample(self.rs, img, self.foot, self.fill, self.ink_box, jitter, self.text, self.kind,
                          self.family)


def broadcast_scene(seed: int, index: int, split: str = "train", clean: bool = False,
                    neighbour: bool = False) -> BroadcastScene:
    """The canvas of ``render_broadcast_line``'s line ``index`` (same random streams, so the
    same line), with its clean footage when ``clean``. ``neighbour`` (training lines only, and
    not with ``clean``: the clean footage would lack it) may paint a stacked line beside it."""
    import copy

    rs = random.Random(f"bline:{seed}:{index}:{split}")
    rng = np.random.default_rng(rs.getrandbits(63))
    faces = broadcast_faces(split)
    kind = rs.choice(KINDS)
    frame_h = rs.choice([480, 720, 720, 1080, 1080])
    style = broadcast_style(rs, kind, frame_h)
    known = _charset()
    for _ in range(50):
        face = rs.choice(faces)
        text = broadcast_text(rs, kind)
        if text.strip() and all(c in known for c in text) and _supported(face, text):
            break
    else:
        face, text = faces[0], "자막"
    # the training-only variations draw from their own stream, so the rest of a line is unchanged
    ra = random.Random(f"bvar:{seed}:{index}") if split == "train" else None
    if ra is not None:
        text = _dot_run(ra, text)
        style = _embolden(random.Random(f"bbold:{seed}:{index}"), style)
        style = _texture(random.Random(f"btex:{seed}:{index}"), style)
    layers, ib = _text_layers(face, text, style)
    if ra is not None:
        layers, ib = _condense(ra, layers, ib)
    split_x = None
    if style.get("extrude"):
        layers["extrude"] = _extrude_layer(layers, style["extrude"])
        ys, xs = np.nonzero(np.maximum(layers["extrude"], layers["outline2"]) > 0.5)
        ib = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else ib
    if style.get("fill2") and " " in text.strip():
        split_x = _word_gap(face, text, style["size"], layers["fill"], ib)
    lh = ib[3] - ib[1]
    ctx = int(lh * 0.8) + 4
    lH, lW = layers["fill"].shape
    H, W = lH + 2 * ctx, lW + 2 * ctx
    bg, _ = make_background(rng, H, W, "eval" if split != "train" else "train")
    if kind == "vlog" and style["fill"] == (255, 255, 255) and not style["banner"] and rs.random() < 0.6:
        # bright footage behind white captions: the hard case real vlogs have
        bg = np.clip(bg.astype(np.float32) * rs.uniform(0.3, 0.7) + rs.uniform(110, 200), 0, 255).astype(np.uint8)
    canvas = bg.astype(np.float32)
    back = bg  # the footage, before any part of the caption (its plate included) is drawn
    if style["banner"]:
        pad = int(style["size"] * style["banner"]["pad"])
        a = np.zeros((H, W), np.float32)
        a[max(0, ctx + ib[1] - pad):ctx + ib[3] + pad, max(0, ctx + ib[0] - pad * 2):ctx + ib[2] + pad * 2] = \
            style["banner"]["opacity"]
        if rs.random() < 0.5:  # rounded plates
            a = cv2.GaussianBlur(a, (0, 0), max(1.0, pad / 3))
            a = np.clip(a * 2 - 0.5, 0, 1) * style["banner"]["opacity"]
        _composite(canvas, a, style["banner"]["color"], 0, 0)
        back = np.clip(canvas, 0, 255).astype(np.uint8)  # a plate is not erased: it stays in the clean frame
    _paint(canvas, layers, style, ctx, ctx, split_x)
    if neighbour and ra is not None and not clean:
        _neighbour(random.Random(f"bnext:{seed}:{index}"), canvas, face, style, kind,
                   (ib[0] + ctx, ib[1] + ctx, ib[2] + ctx, ib[3] + ctx))
    img = np.clip(canvas, 0, 255).astype(np.uint8)
    # the clean footage goes through the same degradations, from copies of the same streams
    cleaned = broadcast_degrade(copy.deepcopy(rs), copy.deepcopy(rng), back, frame_h) if clean else None
    img = broadcast_degrade(rs, rng, img, frame_h)
    foot = np.zeros((H, W), bool)
    fill = np.zeros((H, W), bool)
    ink = np.maximum(layers["shadow"], np.maximum(layers["outline2"], layers["fill"]))
    if style.get("extrude"):
        ink = np.maximum(ink, layers["extrude"])
    foot[ctx:ctx + lH, ctx:ctx + lW] = ink >= 0.25
    fill[ctx:ctx + lH, ctx:ctx + lW] = layers["fill"] >= 0.5
    return BroadcastScene(img, cleaned, foot, fill, (ib[0] + ctx, ib[1] + ctx, ib[2] + ctx, ib[3] + ctx), text,
                          kind, face.family, style, rs, ra)


def preview(n: int, out: Path, seed: int = 0, split: str = "train") -> Path:
    """A contact sheet of ``n`` lines (to look at what the engine makes)."""
    rows = []
    for i in range(n):
        s = render_broadcast_line(seed, i, split)
        h = 48
        st = cv2.resize(s.strip, (max(8, round(s.strip.shape[1] * h / s.strip.shape[0])), h))
        rows.append(st[:, :900])
    W = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((2, 2), (0, W - r.shape[1]), (0, 0)), constant_values=128) for r in rows])
    Image.fromarray(sheet).save(out)
    return out


if __name__ == "__main__":  # python -m kseg.synth.broadcast N OUT.png [SPLIT]: look at what it makes
    import sys

    print(preview(int(sys.argv[1]), Path(sys.argv[2]), split=sys.argv[3] if len(sys.argv) > 3 else "train"))
