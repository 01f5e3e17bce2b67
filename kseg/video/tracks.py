"""Caption tracks: the captions of a video drawn at one place in one look share one style.

A broadcaster or a subtitle tool draws every line of a track alike; kseg measures each caption
event on its own frame, and what one frame shows, another can hide. A real subtitled
slideshow's white subtitles have a black outline: measured over a light map it is there (5-6
px), measured over the black surround of the next pictures it cannot be seen, so 10 of 13
English lines were drawn without one and the ASS file got six styles for one track. Their ink
heights and stroke widths differ by a pixel or two from line to line as well, and so did the
English's size and weight.

So each event joins the earlier events at its place with its fill and size (``same_track``)
and takes the track's look (``shared_style``): the median size, weight and fill; the outline
or shadow the track shows on at least ``SEEN`` of its lines, where this line's backdrop (the
colour just outside its letters, ``Style.backdrop``) would hide it (``_hides``), and in the
track's median width, colour and offset where its own agrees; and the track's line (the bottom
of lower captions, the top of upper ones) where its own differs by a pixel or two. Only events that ended before it began count,
so a run that renders as it analyses and one that analyses first decide alike; the measured
style is kept in ``Event.measured``.
"""
from __future__ import annotations

import dataclasses
import statistics

from kseg.style import delta_e as _dist
from kseg.style import lightness as _light
from kseg.types import RGB, Caption, Shadow, Style
from kseg.video.events import Event

TRACK_FILL = 12.0  # Lab distance of fills within a track
TRACK_HEIGHT = 1.15  # ink heights within this ratio
TRACK_EDGE = 0.5  # anchoring edges (bottom of lower captions, top of upper) within this many ink heights
LINE_SNAP = 0.25  # an edge this close (ink heights) to the track's is the track's, drawn there
HIDDEN = 15.0  # Lab distance of a backdrop from an outline / shadow colour that hides it
SHADOW_OFFSET = 1.5  # px: shadows of a track fall within this of their median offset
TRACK_LINES = 30  # the latest lines of a track that set its look (the cost stays flat over an episode)
SEEN = 2  # lines of the track that show an outline (a shadow) before a line that cannot show it takes it


def _hides(backdrop: RGB | None, ring: RGB, fill: RGB) -> bool:
    """Whether an outline or shadow of colour ``ring`` round letters of ``fill`` could not be
    seen on ``backdrop``: about its colour, or (a ring darker than the letters) about as dark or
    darker, (a lighter ring) about as light or lighter. A soft shadow is a darkening whose
    measured colour takes the backdrop's tint; on a darker backdrop nothing of it shows."""
    if backdrop is None:
        return False
    if _dist(backdrop, ring) <= HIDDEN:
        return True
    lb, lr = _light(backdrop), _light(ring)
    return lb <= lr + HIDDEN if lr < _light(fill) else lb >= lr - HIDDEN


def _lower(c: Caption, height: int) -> bool:
    """Anchored by its bottom (subtitles grow upward), as ``kseg.render`` anchors the English."""
    return (c.box[1] + c.box[3]) / 2 >= height / 2


def same_track(a: Caption, b: Caption, height: int) -> bool:
    """One look at one place: fills within TRACK_FILL, ink heights within TRACK_HEIGHT, both on
    a plate or neither, level, one colour each, the same alignment, anchoring edges within
    TRACK_EDGE ink heights and overlapping columns (a subtitle's width follows its text)."""
    sa, sb = a.style, b.style
    ha, hb = max(1.0, sa.text_height), max(1.0, sb.text_height)
    if max(ha, hb) > TRACK_HEIGHT * min(ha, hb) or sa.align != sb.align:
        return False
    if (sa.banner is None) != (sb.banner is None) or sa.runs or sb.runs:
        return False
    if abs(sa.angle) >= 1.0 or abs(sb.angle) >= 1.0 or _lower(a, height) != _lower(b, height):
        return False
    edge = abs(a.box[3] - b.box[3]) if _lower(a, height) else abs(a.box[1] - b.box[1])
    if edge > TRACK_EDGE * max(ha, hb) or min(a.box[2], b.box[2]) <= max(a.box[0], b.box[0]):
        return False
    return _dist(sa.fill, sb.fill) <= TRACK_FILL


def _median_rgb(colours: list[RGB]) -> RGB:
    return tuple(int(round(statistics.median(c[k] for c in colours))) for k in range(3))  # type: ignore[return-value]


def _agreed(colours: list[RGB]) -> RGB | None:
    """The median of colours that agree (each within HIDDEN of it), else None."""
    m = _median_rgb(colours)
    return m if all(_dist(c, m) <= HIDDEN for c in colours) else None


def _track_shadow(shadows: list[Shadow]) -> Shadow | None:
    """The shadow of a track whose shadows fall alike (offsets within SHADOW_OFFSET of the
    median), in their median colour; their colours are not compared: a translucent shadow
    takes the tint of what it falls on (a rendered vlog's soft grey shadow measured (42, 41,
    40) to (145, 121, 101))."""
    dx, dy = statistics.median(s.dx for s in shadows), statistics.median(s.dy for s in shadows)
    if any(abs(s.dx - dx) > SHADOW_OFFSET or abs(s.dy - dy) > SHADOW_OFFSET for s in shadows):
        return None
    return Shadow(_median_rgb([s.color for s in shadows]), dx, dy)


def shared_style(own: Style, track: list[Style]) -> Style:
    """``own`` with the look of its track (``track``: the measured styles of its earlier lines)."""
    group = [*track, own]
    height = statistics.median(s.text_height for s in group)
    weight = statistics.median(s.weight for s in group)
    st = dataclasses.replace(own, text_height=round(height, 2), stroke_width=round(weight * height, 2),
                             fill=_median_rgb([s.fill for s in group]) if own.fill2 is None else own.fill)
    lined = [s for s in group if s.outline is not None and s.outline_width > 0]
    if len(lined) >= SEEN and (colour := _agreed([s.outline for s in lined])) is not None:  # type: ignore[misc]
        if st.outline is not None and _dist(st.outline, colour) <= HIDDEN:
            st.outline_width = round(statistics.median(s.outline_width for s in lined), 2)
        elif st.outline is None and _hides(own.backdrop, colour, st.fill):
            st.outline, st.outline_width = colour, round(statistics.median(s.outline_width for s in lined), 2)
    shadows = [s.shadow for s in group if s.shadow is not None]
    if len(shadows) >= SEEN and (shadow := _track_shadow(shadows)) is not None:  # type: ignore[arg-type]
        mine = st.shadow
        if mine is not None and abs(mine.dx - shadow.dx) <= SHADOW_OFFSET and abs(mine.dy - shadow.dy) <= SHADOW_OFFSET:
            st.shadow = shadow
        elif mine is None and _hides(own.backdrop, shadow.color, st.fill):
            st.shadow = shadow
    return st


def _measured(ev: Event) -> Style:
    """An event's style as measured (before its track's look took its place, if it did)."""
    return ev.measured or ev.caption.style


def share_styles(new: list[Event], known: list[Event], height: int) -> None:
    """Give each of ``new`` its track's look and line (module doc), in place. ``known``: the
    captions so far (``new`` among them, or not)."""
    latest_first = sorted(known, key=lambda e: (e.start, e.id), reverse=True)
    for ev in sorted(new, key=lambda e: (e.start, e.id)):
        own = _measured(ev)
        mine = dataclasses.replace(ev.caption, style=own)
        track: list[Event] = []
        for e in latest_first:
            if len(track) >= TRACK_LINES:
                break
            if e is not ev and e.end < ev.start and same_track(
                    dataclasses.replace(e.caption, style=_measured(e)), mine, height):
                track.append(e)
        if not track:
            continue
        ev.measured = own
        style = shared_style(own, [_measured(e) for e in track])
        box = list(ev.caption.box)
        k = 3 if _lower(mine, height) else 1
        line = int(round(statistics.median([e.caption.box[k] for e in track] + [box[k]])))
        if abs(line - box[k]) <= LINE_SNAP * style.text_height:
            box[k] = line
        ev.caption = dataclasses.replace(ev.caption, style=style, box=tuple(box))
