"""SRT and ASS subtitle files: write the caption events, read a user's English SRT.

Hand-written rather than a library (pysubs2, srt) because the two formats are a few lines
each, and what matters here is ours to decide: times from frame boundaries, and ASS lines
placed with ``\\pos`` in the burned-in caption's colours so that a player shows them over an
``--erase-only`` video where the Korean was.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kseg.errors import InputError
from kseg.imageio import write_text


@dataclass
class Cue:
    start: float  # seconds
    end: float
    text: str  # lines joined with "\n"


def _ts(t: float, sep: str = ",") -> str:
    ms = max(0, int(round(t * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


# What players read as markup inside an SRT cue: HTML-like tags (<i>, <font color=...>) and ASS
# override blocks ({\an8}); text from a translator or OCR is shown as text, never as markup.
_SRT_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|\{\\[^{}]*\}")


def _srt_escape(s: str) -> str:
    return _SRT_MARKUP.sub("", s).replace("-->", "->")


def srt_text(cues: list[Cue]) -> str:
    out = []
    for k, c in enumerate(sorted(cues, key=lambda c: (c.start, c.end)), 1):
        text = _srt_escape(c.text.replace("\r", ""))
        body = "\n".join(line for line in text.split("\n") if line.strip()) or " "
        out.append(f"{k}\n{_ts(c.start)} --> {_ts(max(c.end, c.start + 0.001))}\n{body}\n")
    return "\n".join(out)


def write_srt(path: str | os.PathLike[str], cues: list[Cue]) -> Path:
    return write_text(path, srt_text(cues))


_TIME = re.compile(r"(\d+):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?")
_ARROW = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")


def _parse_ts(s: str) -> float | None:
    m = _TIME.fullmatch(s.strip())
    if not m:
        return None
    h, mi, se, ms = m.groups()
    return int(h) * 3600 + int(mi) * 60 + int(se) + (int(ms.ljust(3, "0")) / 1000 if ms else 0.0)


def read_srt(path: str | os.PathLike[str]) -> list[Cue]:
    """Cues of an SRT file (UTF-8 with or without BOM, CRLF, HTML/ASS tags stripped)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such subtitle file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp949")  # Korean Windows subtitle files
        except UnicodeDecodeError:
            raise InputError(f"{p}: not UTF-8 text (save the SRT as UTF-8)") from None
    cues: list[Cue] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        m = _ARROW.match(lines[i])
        if not m:
            i += 1
            continue
        a, b = _parse_ts(m.group(1)), _parse_ts(m.group(2))
        if a is None or b is None:
            raise InputError(f"{p}:{i + 1}: bad SRT time line {lines[i].strip()!r}")
        i += 1
        body = []
        while i < len(lines) and lines[i].strip():
            if _ARROW.match(lines[i]):
                break
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        # a cue number directly before the next time line is not text
        if body and body[-1].isdigit() and i < len(lines) and _ARROW.match(lines[i]):
            body.pop()
        cues.append(Cue(a, b, "\n".join(x for x in body if x)))
    if not cues and text.strip():
        raise InputError(f"{p}: no SRT cues found (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm' lines)")
    return cues


# ------------------------------------------------------------------------------------ ASS

def _ass_colour(rgb, alpha: int = 0) -> str:
    r, g, b = (int(v) for v in rgb)
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def _ass_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", "\\N")


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


def ass_text(lines: list[AssLine], width: int, height: int, font: str = "Noto Sans") -> str:
    head = [
        "[Script Info]",
        "; written by kseg translate-video",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{font},{max(8, height // 18)},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        "0,0,0,0,100,100,0,0,1,2,0,2,10,10,10,1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]

    def t(x: float) -> str:  # ASS: H:MM:SS.cc
        cs = max(0, int(round(x * 100)))
        h, cs = divmod(cs, 360000)
        m, cs = divmod(cs, 6000)
        s, cs = divmod(cs, 100)
        return f"{h}:{m:02d}:{s:02d}.{cs:02d}"

    body = []
    for ln in sorted(lines, key=lambda a: (a.start, a.end)):
        tags = [f"\\an{ln.align}", f"\\pos({int(ln.pos[0])},{int(ln.pos[1])})", f"\\fs{int(ln.size)}",
                f"\\b{1 if ln.bold else 0}", f"\\1c&H{_ass_colour(ln.fill)[4:]}&"]
        if ln.outline is not None and ln.outline_width > 0:
            tags += [f"\\3c&H{_ass_colour(ln.outline)[4:]}&", f"\\bord{ln.outline_width:.1f}"]
        else:
            tags.append("\\bord0")
        if ln.shadow is not None and ln.shadow_depth > 0:
            tags += [f"\\4c&H{_ass_colour(ln.shadow)[4:]}&", f"\\shad{ln.shadow_depth:.1f}"]
        else:
            tags.append("\\shad0")
        if abs(ln.angle) >= 0.5:
            tags.append(f"\\frz{ln.angle:.1f}")
        body.append(f"Dialogue: 0,{t(ln.start)},{t(max(ln.end, ln.start + 0.01))},Default,,0,0,0,,"
                    f"{{{''.join(tags)}}}{_ass_escape(ln.text)}")
    return "\n".join(head + body) + "\n"


def write_ass(path: str | os.PathLike[str], lines: list[AssLine], width: int, height: int) -> Path:
    return write_text(path, ass_text(lines, width, height))
