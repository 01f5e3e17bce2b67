"""The rendering pass: erase each live event's footprint, draw its English (laid out once per
event), encode; and the ASS lines that place the same English for players."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kseg.video import io
from kseg.video.events import Event
from kseg.video.state import Warn
from kseg.video.subtitles import AssLine


@dataclass
class _Plan:
    ev: Event
    sprite: Any | None  # kseg.render.Sprite, None: erase only
    crop: tuple[int, int, int, int]  # region erased (box + margin)
    mask_crop: np.ndarray
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # every pixel it changes (crop + English), even corners
    # on a plate (crop = the plate), until its first frame finds the plate's rows do not
    # predict it (kseg.erase.erase_plate); then the region its rows fill on every frame. Only on
    # a plate: a row fill on every frame of every caption costs more than the temporal fill's
    # reuse of one fill of a still picture (docs/experiments, thirty-third session)
    plated: bool = False
    rows: np.ndarray | None = None


_libc: Any = None


def _trim() -> None:
    """Hand freed heap back to the system (glibc's malloc_trim) when an event ends: the crops of a
    finished caption are freed in the middle of long-lived allocations, and without this the
    resident size creeps up over an episode although nothing is held. A no-op elsewhere."""
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


@dataclass
class _Spent:
    """What is kept of a drawn sprite once its event is over: its layout, for the ASS lines
    (the pixels would otherwise stay in memory for the whole episode)."""

    info: Any
    bold: bool


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _together(a: Event, b: Event) -> bool:
    return a.erase_from <= b.erase_to and b.erase_from <= a.erase_to


def _sprites(events: list[Event], shape: tuple[int, int], font: Any, font_scale: float,
             live: list[_Plan], settled: list[Event]) -> dict[int, Any]:
    """Each translated event's sprite, laid out with the events on screen at the same time
    (``kseg.render.place``) so that their English does not cover each other, nor a caption
    left in Korean, nor what events settled before show then: the English of ``live`` plans,
    the text of ``settled`` events left as they are (logos and bars, untranslated captions)."""
    from kseg.render import place

    H, W = shape
    groups: list[list[Event]] = []
    for ev in sorted(events, key=lambda e: e.erase_from):  # events that overlap in time, chained
        if groups and any(_together(ev, e) for e in groups[-1]):
            groups[-1].append(ev)
        else:
            groups.append([ev])
    out: dict[int, Any] = {}
    for g in groups:
        ids = {e.id for e in g}
        shown: list[Any] = [p.sprite for p in live if getattr(p.sprite, "rgba", None) is not None
                            and p.sprite.rgba.size and any(_together(p.ev, e) for e in g)]
        shown += [tuple(int(v) for v in e.box) for e in settled
                  if e.id not in ids and e.translation is None and any(_together(e, f) for f in g)]
        sprites = place([e.caption for e in g], [e.translation for e in g], (H, W, 3), obstacles=shown,
                        font=font, font_scale=font_scale)
        out.update({e.id: sp for e, sp in zip(g, sprites) if sp is not None})
    return out


def _plans(events: list[Event], shape: tuple[int, int], erase_only: bool, font: Any,
           font_scale: float = 1.0, live: list[_Plan] = (), settled: list[Event] = ()) -> list[_Plan]:
    from kseg.erase import row_crop
    from kseg.pipeline import plate_mask
    from kseg.style import plate_box

    H, W = shape
    plans = []
    sprites = {} if erase_only else _sprites(events, shape, font, font_scale, list(live), list(settled))
    for ev in events:
        sprite = None
        if not erase_only:
            if ev.translation is None:
                continue  # nothing to say instead: the Korean stays
            sprite = sprites[ev.id]
        x0, y0, x1, y1 = ev.box
        # context for inpainting and the eraser's growth (the crop stills' row check reads)
        cx0, cy0, cx1, cy1 = row_crop(ev.box, (H, W))
        mc = np.zeros((cy1 - cy0, cx1 - cx0), bool)
        mc[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] = ev.mask
        plate = plate_box(ev.caption, (H, W)) if ev.caption is not None else None
        if plate is not None:  # erased inside its plate alone, as on stills
            L, T, R, B = max(plate[0], cx0), max(plate[1], cy0), min(plate[2], cx1), min(plate[3], cy1)
            if L < R and T < B and mc[T - cy0:B - cy0, L - cx0:R - cx0].any():
                mc = plate_mask(mc[T - cy0:B - cy0, L - cx0:R - cx0], ev.caption.style.text_height)
                cx0, cy0, cx1, cy1 = L, T, R, B
            else:
                plate = None
        box = (cx0, cy0, cx1, cy1)
        if sprite is not None:
            sh, sw = sprite.rgba.shape[:2]
            sbox = (max(0, sprite.x), max(0, sprite.y), min(W, sprite.x + sw), min(H, sprite.y + sh))
            if sbox[0] < sbox[2] and sbox[1] < sbox[3]:
                box = _union([box, sbox])
        plans.append(_Plan(ev, sprite, (cx0, cy0, cx1, cy1), mc, io.even_box(box, (W, H)), plated=plate is not None))
    return plans


def _plate_rows(p: _Plan, crop: np.ndarray, grow: int | None) -> bool:
    """Fill a plated event's crop along the plate's rows if its first frame chose that (as
    stills do, ``kseg.erase.erase_plate``); every frame then gets the same region and fill.
    ``grow``: the eraser's, so that the region is the one it would fill."""
    from kseg.erase import erase_plate, erase_region

    if p.rows is None:
        region = erase_region(crop, p.mask_crop, grow)
        filled = erase_plate(crop, p.mask_crop, region=region)
        if filled is None:
            p.plated = False  # the plate's rows do not predict it: the usual fill from now on
            return False
        p.rows = region
        crop[:] = filled
        return True
    crop[:] = erase_plate(crop, p.mask_crop, region=p.rows, check=False)
    return True


def _draw(sprite: Any, canvas: np.ndarray, a: float, origin: tuple[int, int] = (0, 0)) -> None:
    """Draw ``sprite`` at visibility ``a`` on ``canvas``, a box of the frame at ``origin``."""
    if origin != (0, 0):
        sprite = copy.copy(sprite)  # shares the pixels; only the position moves
        sprite.x -= origin[0]
        sprite.y -= origin[1]
    if a >= 0.999:
        sprite.draw(canvas)
        return
    h, w = sprite.rgba.shape[:2]
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, sprite.x), max(0, sprite.y), min(W, sprite.x + w), min(H, sprite.y + h)
    if x0 >= x1 or y0 >= y1:
        return
    before = canvas[y0:y1, x0:x1].astype(np.float32)
    sprite.draw(canvas)
    after = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(before + a * (after - before) + 0.5, 0, 255).astype(np.uint8)


def render(src: Path, out: Path, plans: list[_Plan], *, eraser: Callable[..., np.ndarray],
           temporal: Any = None, more_plans: Callable[[int], list[_Plan]] | None = None,
           options: io.EncodeOptions, start: float | None, end: float | None, warn: Warn | None,
           progress: Callable[[int, float], None] | None = None,
           before_commit: Callable[[int], None] | None = None) -> dict[str, Any]:
    from kseg.erase import erase

    # plated events are filled along their plate's rows where that suits the plate, as on
    # stills; a caller's own eraser is used as given
    by_rows = getattr(eraser, "func", None) is erase
    grow = eraser.keywords.get("grow") if by_rows else None  # the frame's, as the eraser fills
    by_frame: dict[int, list[_Plan]] = {}
    for p in plans:
        for i in range(p.ev.erase_from, p.ev.erase_to + 1):
            by_frame.setdefault(i, []).append(p)

    def process(f: io.Frame) -> io.Patch | None:
        if more_plans is not None:  # plans of the events that analysis settled by this frame
            for p in more_plans(f.index):
                for i in range(p.ev.erase_from, p.ev.erase_to + 1):
                    by_frame.setdefault(i, []).append(p)
        todo = by_frame.pop(f.index, None)
        if not todo:
            return None
        # only the box of this frame's captions and their English is converted and changed
        bx0, by0, bx1, by1 = _union([p.box for p in todo])
        img = f.region((bx0, by0, bx1, by1))
        for p in todo:
            x0, y0, x1, y1 = p.crop
            crop = img[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]
            if by_rows and p.plated and _plate_rows(p, crop, grow):
                continue
            # a still picture's caption is filled along even rows where they run (its one fill
            # is reused, TemporalFill.fill); a caller's own eraser is called as given
            rows = {"rows": p.ev.still} if by_rows else {}
            crop[:] = (temporal.fill(id(p), f.index, crop, p.mask_crop, **rows) if temporal is not None
                       else eraser(crop, p.mask_crop, **rows))
        for p in todo:
            if p.sprite is not None:
                _draw(p.sprite, img, p.ev.visibility(f.index), (bx0, by0))
            if f.index >= p.ev.erase_to:  # the event is over: keep only what the ASS needs
                if temporal is not None:
                    temporal.drop(id(p))
                if p.sprite is not None:
                    p.sprite = _Spent(p.sprite.info, bool(getattr(p.sprite, "bold", False)))
                p.mask_crop = p.rows = None
                # the event stays listed (subtitles, summary) for the whole episode: without its
                # mask (saved for --resume when it was found), or an episode's memory grows with
                # its captions (41 KB an event on a 1080p subtitled video)
                p.ev.mask = np.zeros((0, 0), bool)
                _trim()
        return io.Patch(bx0, by0, img)

    return io.transcode(src, out, process, options=options, start=start, end=end, warn=warn,
                        before_commit=before_commit,
                        progress=progress)


def _ass_lines(plans: list[_Plan], events: list[Event], shape: tuple[int, int], font: Any,
               font_scale: float = 1.0) -> list[AssLine]:
    from kseg.render import prepare

    H, W = shape
    out = []
    sprites = {p.ev.id: p.sprite for p in plans if p.sprite is not None}
    for ev in events:
        if not ev.translation:
            continue
        sp = sprites.get(ev.id) or prepare(ev.caption, ev.translation, (H, W, 3), font=font, font_scale=font_scale)
        st = ev.caption.style
        x0, y0, x1, y1 = sp.info.box
        align = {"left": 1, "right": 3}.get(st.align, 2)
        px = {1: x0, 3: x1}.get(align, (x0 + x1) // 2)
        out.append(AssLine(ev.start_time, ev.end_time, "\n".join(sp.info.lines), (px, y1), align,
                           sp.info.font_size, st.fill, st.outline, st.outline_width,
                           st.shadow.color if st.shadow else None,
                           float(np.hypot(st.shadow.dx, st.shadow.dy)) if st.shadow else 0.0,
                           bool(getattr(sp, "bold", False)), st.angle, st.runs,
                           plate=st.banner.color if st.banner else None,
                           plate_opacity=st.banner.opacity if st.banner else 1.0))
    return out
