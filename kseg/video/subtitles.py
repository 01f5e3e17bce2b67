"""SRT and ASS subtitle files: write the caption events, read a user's English SRT.

The formats themselves are pysubs2's (the ecosystem's subtitle library: parsing, time codes,
ASS sections and colours). What is decided here: times from frame boundaries; text from OCR
or a translator is always text, never markup; and in ASS one named style per caption style
(colours, outline, shadow, size, alignment), so that a subtitler restyles a whole group of
captions in Aegisub at once, with ``\\pos`` only on lines that sit elsewhere than their style's
place.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from kseg.errors import InputError
from kseg.imageio import write_text


@dataclass
class Cue:
    start: float  # seconds
    end: float
    text: str  # lines joined with "\n"


def _ms(t: float) -> int:
    return max(0, int(round(t * 1000)))


# What players read as markup inside an SRT cue: HTML-like tags (<i>, <font color=...>) and ASS
# override blocks ({\an8}); text from a translator or OCR is shown as text, never as markup.
_SRT_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|\{\\[^{}]*\}")


def _srt_escape(s: str) -> str:
    return _SRT_MARKUP.sub("", s).replace("-->", "->")


def srt_text(cues: list[Cue]) -> str:
    subs = pysubs2.SSAFile()
    for c in sorted(cues, key=lambda c: (c.start, c.end)):
        text = _srt_escape(c.text.replace("\r", ""))
        body = "\n".join(line for line in text.split("\n") if line.strip()) or " "
        # pysubs2 turns ASS override blocks into SRT tags: give it text with none (braces kept
        # as brackets) and \N for the line breaks
        body = _ass_escape(body)
        subs.append(pysubs2.SSAEvent(start=_ms(c.start), end=max(_ms(c.end), _ms(c.start) + 1), text=body))
    return subs.to_string("srt")


def write_srt(path: str | os.PathLike[str], cues: list[Cue]) -> Path:
    return write_text(path, srt_text(cues))


def _decode(p: Path) -> str:
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such subtitle file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp949")  # Korean Windows subtitle files
        except UnicodeDecodeError:
            raise InputError(f"{p}: not UTF-8 text (save the SRT as UTF-8)") from None


def read_srt(path: str | os.PathLike[str]) -> list[Cue]:
    """Cues of an SRT file (UTF-8 with or without BOM, or CP949; CRLF; HTML/ASS tags stripped)."""
    p = Path(path)
    text = _decode(p)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_="srt")
    except (pysubs2.Pysubs2Error, ValueError) as e:
        raise InputError(f"{p}: not an SRT file ({e})") from None
    cues = [Cue(ev.start / 1000, ev.end / 1000,
                "\n".join(x.strip() for x in ev.plaintext.split("\n") if x.strip()))
            for ev in subs if not ev.is_comment]
    if not cues and text.strip():
        raise InputError(f"{p}: no SRT cues found (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm' lines)")
    return cues


# ------------------------------------------------------------------------------------ ASS

def _colour(rgb, alpha: int = 0) -> pysubs2.Color:
    r, g, b = (int(v) for v in rgb)
    return pysubs2.Color(r, g, b, alpha)


def _ass_escape(s: str) -> str:
    return s.replace("\\", "/").replace("{", "(").replace("}", ")").replace("\n", "\\N")


def _coloured(ln: AssLine) -> str:
    """The line's text, with ``\\1c`` overrides where a word takes another colour run than the
    style's fill (as the burned-in English draws it: ``kseg.render.word_runs``)."""
    if not ln.runs or len(ln.runs) < 2:
        return _ass_escape(ln.text)
    from kseg.render import word_runs

    lines = ln.text.split("\n")
    cur = tuple(int(v) for v in ln.fill)  # the style's colour, until a word needs another
    out = []
    for s, words in zip(lines, word_runs(lines, ln.runs)):
        part, at = [], 0
        for a, b, run in words:
            col = tuple(int(v) for v in run.fill)
            part.append(_ass_escape(s[at:a]))
            if col != cur:
                part.append("{\\1c&H%02X%02X%02X&}" % (col[2], col[1], col[0]))  # inline tags are BGR
                cur = col
            part.append(_ass_escape(s[a:b]))
            at = b
        part.append(_ass_escape(s[at:]))
        out.append("".join(part))
    return "\\N".join(out)


@dataclass
class AssLine:
    start: float
    end: float
    text: str  # "\n" separates lines
    pos: tuple[int, int]  # anchor point in video pixels
    align: int = 2  # numpad alignment (\an): 1 bottom-left, 2 bottom-centre, 3 bottom-right
    size: int = 40  # font size, pixels of the PlayRes
    fill: tuple[int, int, int] = (255, 255, 255)
    outline: tuple[int, int, int] | None = (0, 0, 0)
    outline_width: float = 0.0
    shadow: tuple[int, int, int] | None = None
    shadow_depth: float = 0.0
    bold: bool = False
    angle: float = 0.0
    runs: list | None = None  # the caption's colour runs (kseg.types.ColourRun): words coloured inline
    plate: tuple[int, int, int] | None = None  # the caption's plate (kseg.types.Banner) ...
    plate_opacity: float = 1.0  # ... and its opacity

    def look(self) -> tuple:
        """What makes two lines share a named style (position aside)."""
        bord = round(self.outline_width, 1) if self.outline is not None else 0.0
        shad = round(self.shadow_depth, 1) if self.shadow is not None else 0.0
        plate = (tuple(int(v) for v in self.plate), _alpha(self.plate_opacity)) if self.plate is not None else None
        outline = self.outline or (0, 0, 0)
        if plate is not None:  # a box style draws no outline: lines that differ only there share it
            outline, bord = (0, 0, 0), 0.0
        return (tuple(int(v) for v in self.fill), tuple(int(v) for v in outline), bord,
                tuple(int(v) for v in self.shadow or (0, 0, 0)), shad, int(self.size), self.bold, self.align,
                round(self.angle, 1), plate)


def _alpha(opacity: float) -> int:
    """ASS alpha (0 opaque, 255 clear) of an opacity."""
    return int(round(255 * (1.0 - min(1.0, max(0.0, float(opacity))))))


def _anchor(align: int, x: int, y: int, width: int, height: int) -> tuple[int, int, int]:
    """Margins (L, R, V) that put a style's text at (x, y) for its bottom alignment."""
    if align == 1:
        return x, 0, height - y
    if align == 3:
        return 0, width - x, height - y
    return 0, 0, height - y


# A plated caption's style is an ASS opaque box (BorderStyle 3: the box is drawn in the outline
# colour and alpha, padded by the outline width), padded by PLATE_PAD of its font size.
PLATE_PAD = 0.2


def _style(look: tuple, font: str, margins: tuple[int, int, int]) -> pysubs2.SSAStyle:
    fill, outline, bord, shadow, shad, size, bold, align, angle, plate = look
    ring, border = _colour(outline), 1
    if plate is not None:  # the plate, not an outline, round the text (as the burned-in English)
        ring, border, bord, shad = _colour(plate[0], plate[1]), 3, max(1.0, round(PLATE_PAD * size, 1)), 0.0
    return pysubs2.SSAStyle(fontname=font, fontsize=size, primarycolor=_colour(fill), secondarycolor=_colour(fill),
                            outlinecolor=ring, backcolor=_colour(shadow), bold=bold, angle=angle,
                            borderstyle=border, outline=bord, shadow=shad, alignment=pysubs2.Alignment(align),
                            marginl=margins[0], marginr=margins[1], marginv=margins[2], encoding=1)


# A style's lines differ from it by no more than measuring noise (kseg.video.tracks gives a
# track one look, but the look of its first lines is the median of fewer): fills within
# SAME_COLOUR (Lab), outline and shadow colours within SAME_RING (a dark ring's colour is the
# hardest to measure and the least seen), outline and shadow widths within SAME_WIDTH px, sizes
# within SAME_SIZE (the English shrunk to fit a long line keeps its track's style, with \fs);
# a line within SAME_PLACE of the frame height from its style's place is at it (no \pos).
SAME_COLOUR = 6.0
SAME_RING = 12.0
SAME_WIDTH = 0.5
SAME_SIZE = 0.15
SAME_PLACE = 0.004
SAME_ALPHA = 26  # plates' ASS alphas (0-255) within a tenth of opaque


def _near(a: tuple, b: tuple) -> bool:
    """Two looks (``AssLine.look``) one style can carry."""
    from kseg.style import delta_e

    fa, oa, ba, sa, da, za, bolda, ala, anga, pa = a
    fb, ob, bb, sb, db, zb, boldb, alb, angb, pb = b
    if (bolda, ala, anga) != (boldb, alb, angb) or (ba > 0) != (bb > 0) or (da > 0) != (db > 0):
        return False
    if (pa is None) != (pb is None) or (pa is not None and (
            delta_e(pa[0], pb[0]) > SAME_RING or abs(pa[1] - pb[1]) > SAME_ALPHA)):
        return False
    if abs(ba - bb) > SAME_WIDTH or abs(da - db) > SAME_WIDTH or abs(za - zb) > SAME_SIZE * max(za, zb):
        return False
    rings = ([(oa, ob)] if ba > 0 else []) + ([(sa, sb)] if da > 0 else [])
    return delta_e(fa, fb) <= SAME_COLOUR and all(delta_e(x, y) <= SAME_RING for x, y in rings)


def _overrides(look: tuple, style: tuple) -> str:
    """Tags for what a line draws unlike its style beyond the noise ``_near`` allows: its size."""
    return f"\\fs{look[5]}" if look[5] != style[5] else ""


def ass_file(lines: list[AssLine], width: int, height: int, font: str = "Noto Sans") -> pysubs2.SSAFile:
    """The subtitle file: styles ``Caption1``.. by frequency, each the look most of its lines
    have and placed where most of them sit; lines of a look near it (``_near``) share it; a line
    elsewhere (or centred, where margins cannot say x, away from the frame's centre) gets
    ``\\an``/``\\pos``, one drawn at another size ``\\fs``."""
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2",
                      "ScaledBorderAndShadow": "yes", "Title": "kseg translate-video"})
    subs.styles.clear()
    styles: list[tuple] = []  # each style's look, most frequent first
    of: dict[tuple, int] = {}
    for look, _ in Counter(ln.look() for ln in lines).most_common():
        k = next((k for k, st in enumerate(styles) if _near(look, st)), None)
        if k is None:
            k = len(styles)
            styles.append(look)
        of[look] = k
    near = max(1, round(SAME_PLACE * height))
    home: list[tuple[int, int]] = []
    for k, look in enumerate(styles):
        mine = [tuple(int(v) for v in ln.pos) for ln in lines if of[ln.look()] == k]
        home.append(max(mine, key=lambda p: (sum(abs(p[0] - q[0]) <= near and abs(p[1] - q[1]) <= near
                                                 for q in mine), -mine.index(p))))
        x, y = home[k]
        subs.styles[f"Caption{k + 1}"] = _style(look, font, _anchor(look[7], x, y, width, height))
    if not lines:
        subs.styles["Default"] = pysubs2.SSAStyle(fontname=font, fontsize=max(8, height // 18))
    for ln in sorted(lines, key=lambda a: (a.start, a.end)):
        look = ln.look()
        k = of[look]
        pos = tuple(int(v) for v in ln.pos)
        hx, hy = home[k]
        # a centred style's margins cannot carry x; its lines get \pos unless at the frame's centre
        placed = abs(pos[1] - hy) <= near and (abs(pos[0] - hx) <= near if ln.align != 2
                                              else abs(pos[0] - width / 2) <= max(1, near))
        tags = ("" if placed else f"\\an{ln.align}\\pos({pos[0]},{pos[1]})") + _overrides(look, styles[k])
        subs.append(pysubs2.SSAEvent(start=_ms(ln.start), end=max(_ms(ln.end), _ms(ln.start) + 10),
                                     style=f"Caption{k + 1}", text=(f"{{{tags}}}" if tags else "") + _coloured(ln)))
    return subs


def ass_text(lines: list[AssLine], width: int, height: int, font: str = "Noto Sans") -> str:
    return ass_file(lines, width, height, font).to_string("ass")


def write_ass(path: str | os.PathLike[str], lines: list[AssLine], width: int, height: int) -> Path:
    return write_text(path, ass_text(lines, width, height))
