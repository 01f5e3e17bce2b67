"""detect -> segment -> recognise for one frame, and the files ``kseg segment`` writes.

``SegmentPipeline`` loads every model once (in ``__init__``) so a batch of frames pays
for loading once; ``process`` is pure computation and ``write_outputs`` the only I/O.
The stages are taken from their packages lazily, and can be passed in ready-made
(tests, benchmarks, a caller that already holds a model).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kseg.imageio import write_json, write_png
from kseg.types import Box, FrameResult, LineMask, Recognition, Region, TextLine


MIN_INK = 0.02  # least fraction of its box a line's mask must cover to count as a caption
# A box text-SAM answers "no caption" for is kept when the reader reads Hangul in it at least this
# sure: on bench/real that kept 13 of the 23 captions SAM refused, and 2 of its 46 non-captions
# (0.5: 16 and 3; 0.7: 11 and 2; docs/experiments/2026-12-02-real-footage.md).
RESCUE_SCORE = 0.6
# ... or when CRAFT scored it as a line at least this high (its mean text score inside the line)
# and the reader reads Hangul in it, however unsure: big display captions that text-SAM refuses
# and the reader reads at 0.4-0.6 score 0.37-0.42 there, the refused non-captions below 0.36.
# Measured leaving one bench/real repository out at a time (threshold chosen on the other nine):
# 3 more captions found, no stray added. Set for the still profile only; the video profile's
# smaller frames score differently and were not measured, so it does not use it.
RESCUE_CRAFT = {"still": 0.36}
# A rescued line's mask is kseg-fill's letters in its box (fill probability at least
# RESCUE_LETTERS, grown by RESCUE_GROW of the box's short side), not text-SAM's best non-empty
# output: having answered "no caption", text-SAM's other outputs were blobs over the box and the
# footage round it on 6 of the 7 bench/real captions it refused (58-97 % of the box and beyond:
# the shirt behind red letters erased and measured as a 19-px outline). Chosen by looking at
# those 7 (docs/experiments/2026-12-02-real-footage.md, thirty-sixth session); text-SAM's
# output stays where kseg-fill finds too few letters or is missing.
RESCUE_LETTERS = 0.4
RESCUE_GROW = 0.0  # (at least 1 px) a wider ring of footage was measured as an outline
# A still frame's line is read from its box moved in by the detector's ``read_shrink`` and
# again moved in by each of these shares of its height (``kseg.detect.reading_line``), and the
# reading the reader is surest of kept: how far CRAFT's box overshoots the letters varies from
# line to line (outlines, shadows, tall and short syllables), and the reader's confidence tells
# which box framed the letters best. Chosen on the synthetic eval split's frames through the
# whole pipeline (120 frames, 164 lines), CER: 0.2 alone 0.0485; the surest of 0.2, 0.1 and 0.3
# 0.0418 (of 0.2 and 0.3: 0.0448). Reading is 1-3 % of a still frame's time (22 -> 43 ms of
# 1.6 s a frame there). Recognisers without ``recognize_best`` (Tesseract, EasyOCR, stand-ins)
# read the one box; video reads each event from many frames instead (``fuse``);
# docs/experiments/2026-12-02-real-footage.md, twenty-first session.
READ_SHRINKS = {"still": (0.1, 0.3)}
KEEP_EDGE = 2  # px round the letters of text left on screen that an erase next to it leaves as they are
# A plated caption's letters are erased this share of their text height beyond the mask (inside
# the plate, where the fill is near exact): news letters' soft dark halo, which the glow search
# cannot see on a plate that hugs its line, was left as a ghost of the line under the English.
PLATE_HALO = 0.15
# A still frame shows no time, so the video stage's overlay evidence (text that stays put) is
# missing; what is left is where broadcasters put their on-screen graphics: the channel logo
# and the programme's title bar sit small in a top corner. Text whose box ends in the top
# CORNER_TOP of the frame (or of its collage tile), lies within CORNER_LEFT of the left edge
# or CORNER_RIGHT of the right one and is shorter than CORNER_HEIGHT of the short side is such
# an overlay, left alone unless include_overlays. Korean variety shows keep the programme bar
# top left, reaching further in than a logo; captions do come top right (a teaser, a date),
# hence the two sides. Chosen on bench/real's regions in tile coordinates, bounds picked
# leaving one repository out at a time: 13 of 33 strays left out, 1 of 205 captions lost
# (docs/experiments/2026-12-02-real-footage.md, twenty-sixth session).
CORNER_TOP = 0.19
CORNER_LEFT = 0.36
CORNER_RIGHT = 0.25
CORNER_HEIGHT = 0.16
SCREEN_ASPECT = (1.25, 1.9)  # width / height of a screenshot: 4:3 to 16:9 and a little wider
_LATIN_OR_DIGIT = re.compile("[A-Za-z0-9]")


def not_korean(text: str) -> bool:
    """Text with no Korean in it and a Latin letter or digit: a channel logo (MBC, KBS2, LIVE,
    NEWS, HD), a clock or score, English already on screen, a lone letter or number (a name
    tag's, a jersey's). kseg replaces Korean captions, and such text has nothing to translate,
    so by default it leaves it alone; symbols alone (!!, ♥, ~~) stay captions, as the marks of
    a caption block. (Two letters were required until a name tag on a shirt, read "A", became a
    caption event on bench/real's clip.)"""
    from kseg.translate.base import HANGUL  # syllables and jamo (ㅋㅋ, ㅠㅠ)

    return not HANGUL.search(text) and _LATIN_OR_DIGIT.search(text) is not None


def _unknown(lines: list[TextLine], known: list[Box]) -> list[TextLine]:
    """``lines`` less those inside a known box (nine tenths of the line, the box grown by a
    sixth of its height: detector boxes are looser than mask boxes). A known caption that a
    new line of a similar height touches (within one line height: it may be the caption's
    next line) keeps its lines, so that it is grouped and read whole."""
    def grow(k: Box) -> Box:
        m = max(4, (k[3] - k[1]) // 6)
        return (k[0] - m, k[1] - m, k[2] + m, k[3] + m)

    from kseg.detect.panels import panel_of

    boxes = [grow(k) for k in known]
    holders = [panel_of(ln.box, boxes) for ln in lines]
    home = [None if k is None else boxes.index(k) for k in holders]
    # the line height of each known caption, from its lines found again
    height = {n: float(np.median([b.box[3] - b.box[1] for b, hh in zip(lines, home) if hh == n]))
              for n in set(home) if n is not None}
    growing = set()
    for ln, h in zip(lines, home):
        if h is not None:
            continue
        x0, y0, x1, y1 = ln.box
        g = y1 - y0
        for n, lh in height.items():
            k = boxes[n]
            if 0.6 * lh <= g <= 1.6 * lh and x0 < k[2] and k[0] < x1 and y0 - g < k[3] and k[1] < y1 + g:
                growing.add(n)
    return [ln for ln, h in zip(lines, home) if h is None or h in growing]


def corner_overlay(box: Box, height: int, width: int, tiles: list[Box] | None = None,
                   outer: list[Box] | None = None) -> bool:
    """Whether a line's box is where a still frame's logo or programme bar sits (CORNER_*): in
    the top corner of the collage tile that holds it (``tiles``, from ``kseg.detect.panels``:
    fans' collages of screenshots keep each one's logo and bar), else of the frame. In a
    collage the frame's corner is not asked about: its top fifth is the first screenshots'
    captions as much as their graphics. ``outer``: tiles that ``panels`` split again; one shaped
    like a screenshot (SCREEN_ASPECT) is one holding a split screen, whose logo sits in its own
    corner, not in the part's (a row of two screenshots is too wide to be asked)."""
    from kseg.detect.panels import panel_of

    def corner(x0: int, y0: int, x1: int, y1: int, height: int, width: int) -> bool:
        return (y1 <= CORNER_TOP * height and (x1 <= CORNER_LEFT * width or x0 >= (1 - CORNER_RIGHT) * width)
                and y1 - y0 < CORNER_HEIGHT * min(height, width))

    def in_corner_of(tile: Box) -> bool:
        x0, y0, x1, y1 = box
        return corner(x0 - tile[0], y0 - tile[1], x1 - tile[0], y1 - tile[1], tile[3] - tile[1], tile[2] - tile[0])

    tile = panel_of(box, tiles) if tiles and len(tiles) > 1 else None
    if tile is None:
        return corner(*box, height, width)
    screens = [t for t in outer or [] if SCREEN_ASPECT[0] <= (t[2] - t[0]) / max(1, t[3] - t[1]) <= SCREEN_ASPECT[1]]
    return in_corner_of(tile) or any(in_corner_of(t) for t in screens if panel_of(box, [t]) is not None)


def _box_area(box) -> int:
    return max(1, (box[2] - box[0]) * (box[3] - box[1]))


class SegmentPipeline:
    """The ``kseg segment`` stages; see issue 2 for the contract of each."""

    def __init__(
        self,
        model: str | None = None,
        recognizer: str = "auto",
        device: str = "auto",
        detector_options: dict[str, Any] | None = None,
        *,
        detector: Any = None,
        segmenter: Any = None,
        recognizer_impl: Any = None,
        lm: str = "auto",
        detect: str = "still",
        all_text: bool = False,
        include_overlays: bool = False,
    ):
        """``detect``: the text detector's profile, "still" (images: finer, enlarges small
        frames) or "video" (translate-video: fast); see ``kseg.detect``. ``all_text``: keep
        regions with no Korean in them too (``not_korean``), which are left out by default.
        ``include_overlays``: keep text in a top corner (``corner_overlay``: a logo, a
        programme bar) or repeated near the top of a collage's tiles (``repeated_in_tiles``) too;
        by default it is left out and listed in ``FrameResult.overlays``."""
        self.all_text = all_text
        self.include_overlays = include_overlays
        # Most likely to fail first (a missing model file), so the user is not kept waiting.
        if segmenter is None:
            from kseg.segment import TextSegmenter

            segmenter = TextSegmenter(model=model, device=device)
        if recognizer_impl is None:
            from kseg.recognize import get_recognizer

            recognizer_impl = get_recognizer(recognizer, device, lm=lm)
        if detector is None:
            from kseg.detect import Detector

            detector = Detector(device=device, **{"profile": detect, **(detector_options or {})})
        self.detector = detector
        self.segmenter = segmenter
        self.recognizer = recognizer_impl

    def for_video(self) -> "SegmentPipeline":
        """This pipeline with the video detector profile (same loaded models) and no still
        overlay rule; itself when it is that already (a detector without profiles, a stand-in,
        keeps its own)."""
        with_profile = getattr(self.detector, "with_profile", None)
        video = with_profile is None or getattr(self.detector, "profile", None) == "video"
        # the video stage tells overlays by how long text stays (kseg.video.job), which a
        # corner rule for stills would pre-empt: a short caption in a corner is still a caption,
        # and a logo left out of every frame's analysis is never reported as an overlay
        if video and self.include_overlays:
            return self
        other = copy.copy(self)
        if not video:
            other.detector = with_profile("video")
        other.include_overlays = True
        return other

    @property
    def model_name(self) -> str:
        """The SAM model's name, as recorded in each result's ``"model"``."""
        return str(getattr(self.segmenter, "name", type(self.segmenter).__name__))

    def process(self, image: np.ndarray, name: str = "<array>", known: list[Box] | None = None,
                rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None) -> FrameResult:
        """Run the stages on one uint8 frame (RGB, grey or RGBA: the alpha is dropped);
        ``name`` is recorded as ``"image"``. A bad array is a one-line InputError.

        ``known``: boxes of captions the caller already has, shown unchanged in this frame
        (video's live events): detected lines inside them are not segmented, read or styled
        again, unless a new line sits next to one (a caption growing by a line is read whole).
        ``rows``, ``cols``: (top, bottom) and (left, right) of the only window where new text
        can be (video's trigger saw it rise there); a detector that takes them reads just that."""
        from kseg.imageio import as_rgb

        image = as_rgb(image, "SegmentPipeline.process")
        h, w = image.shape[:2]
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        window: dict[str, tuple[int, int]] = {}
        if rows is not None or cols is not None:
            takes = inspect.signature(self.detector.detect).parameters
            window = {k: v for k, v in (("rows", rows), ("cols", cols)) if v is not None and k in takes}
        lines: list[TextLine] = list(self.detector.detect(image, **window))
        tiles: list[Box] | None = None
        outer: list[Box] = []  # tiles split again (panels)
        found: tuple[list[Box], list[Box]] | None = None  # (tiles, outer) where panels looked
        collage = getattr(self.detector, "detect_collage", None)
        if collage is not None and not window and getattr(self.detector, "profile", None) == "still":
            from kseg.detect.panels import panels

            tiles = panels(image, outer=outer)
            found = (tiles, outer)
            lines = list(collage(image, tiles, lines))
        if known:
            lines = _unknown(lines, known)
        t1 = time.perf_counter()
        seconds["detect"] = t1 - t0

        masks: list[LineMask] = list(self.segmenter.segment(image, lines))
        t2 = time.perf_counter()
        if len(masks) != len(lines):
            raise RuntimeError(f"segmenter returned {len(masks)} masks for {len(lines)} lines")
        # TextSegmenter splits its time ({"encode", "decode"}, "refine" where the model has a
        # refiner, "score" where it has a mask scorer); other segmenters get one figure.
        split = getattr(self.segmenter, "timings", None)
        if isinstance(split, dict) and split:
            seconds.update({k: float(v) for k, v in split.items()})
        else:
            seconds["segment"] = t2 - t1
        # A box where SAM finds (almost) no caption ink is a detector false alarm (a texture,
        # a logo edge): dropping it keeps a caption-free frame at "regions": [] (unless the
        # reader says it is Korean text: _rescue).
        keep = [i for i, (ln, m) in enumerate(zip(lines, masks)) if m.area >= MIN_INK * _box_area(ln.box)]
        t_rescue = time.perf_counter()
        keep = sorted(keep + self._rescue(image, lines, masks, keep))
        t2 = time.perf_counter()
        seconds["rescue"] = t2 - t_rescue
        lines, masks = [lines[i] for i in keep], [masks[i] for i in keep]

        _separate_lines(lines, masks)
        texts: list[Recognition] = [self._read(image, line, m.mask) for line, m in zip(lines, masks)]
        t3 = time.perf_counter()
        seconds["recognize"] = t3 - t2
        left_out: list[Box] = []
        if not self.all_text:
            korean = [i for i, t in enumerate(texts) if not not_korean(t.text)]
            left_out = [lines[i].box for i in range(len(lines)) if i not in korean]
            lines, masks, texts = [lines[i] for i in korean], [masks[i] for i in korean], [texts[i] for i in korean]
        overlays: list[Region] = []
        if not self.include_overlays:
            from kseg.detect.panels import panels, repeated_in_tiles

            if tiles is None and lines:
                tiles = panels(image, outer=outer)
                found = (tiles, outer)
            tiles = tiles if lines else []
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if len(tiles) > 1 else None
            overlay = [corner_overlay(ln.box, h, w, tiles, outer) or (gray is not None and repeated_in_tiles(gray, ln.box, tiles))
                       for ln in lines]
            overlays = [Region(line=l, mask=m, text=t) for l, m, t, o in zip(lines, masks, texts, overlay) if o]
            kept = [i for i, o in enumerate(overlay) if not o]
            lines, masks, texts = [lines[i] for i in kept], [masks[i] for i in kept], [texts[i] for i in kept]

        full = np.zeros((h, w), np.uint8)
        for m in masks:
            if m.mask.shape != (h, w):
                raise RuntimeError(f"mask shape {m.mask.shape} != frame {(h, w)}")
            full[m.mask] = 255
        seconds["total"] = time.perf_counter() - t0
        regions = [Region(line=l, mask=m, text=t) for l, m, t in zip(lines, masks, texts)]
        return FrameResult(image=name, width=w, height=h, model=self.model_name,
                           regions=regions, mask=full, seconds=seconds, left_out=left_out, overlays=overlays,
                           panels=found)


    def reading_line(self, line: TextLine) -> TextLine:
        """The box a detected line is read from: the detector's moved in by its ``read_shrink``
        (CRAFT's boxes are taller than the letters, ``kseg.detect.reading_line``); a stand-in
        detector's boxes as they are."""
        from kseg.detect import reading_line

        return reading_line(line, float(getattr(self.detector, "read_shrink", 0.0)))

    def _read(self, image: np.ndarray, line: TextLine, mask: np.ndarray) -> Recognition:
        """A kept line's reading: from ``reading_line``'s box, or, on still frames with a reader
        that can choose (``recognize_best``), the most confident of it and ``READ_SHRINKS``' boxes."""
        from kseg.detect import reading_line

        box = self.reading_line(line)
        best = getattr(self.recognizer, "recognize_best", None)
        more = READ_SHRINKS.get(getattr(self.detector, "profile", None), ())
        if best is None or not more or box is line:  # no shrink declared, or a box it leaves as is
            return self.recognizer.recognize(image, box, mask)
        return best(image, [box, *(reading_line(line, s) for s in more)], mask)

    def _rescue(self, image: np.ndarray, lines: list[TextLine], masks: list[LineMask], keep: list[int]) -> list[int]:
        """Lines SAM found no ink in that the reader reads as Korean (sure of it, ``RESCUE_SCORE``, or
        in a line CRAFT scored high, ``RESCUE_CRAFT``): their masks become SAM's best non-empty
        output (in place); returns their indices.

        Why a second judge: text-SAM learned its empty answer on rendered false alarms, and on
        real footage it also gives it to real captions (handwriting on a translucent plate,
        captions inside starbursts), which were then neither erased nor translated."""
        from kseg.recognize.lm import has_hangul

        forced = getattr(self.segmenter, "segment_forced", None)
        kept = set(keep)
        dropped = [i for i in range(len(lines)) if i not in kept]
        if forced is None or not dropped:
            return []
        craft = RESCUE_CRAFT.get(getattr(self.detector, "profile", None))
        sure = []
        for i in dropped:
            r = self.recognizer.recognize(image, self.reading_line(lines[i]), None)
            if has_hangul(r.text) and (r.score >= RESCUE_SCORE or (craft is not None and lines[i].score >= craft)):
                sure.append(i)
        if not sure:
            return []
        out = []
        for i, m in zip(sure, forced(image, [lines[i] for i in sure])):
            letters = rescued_letters(image, lines[i].box)
            if letters is not None:
                m = dataclasses.replace(m, mask=letters)
            if m.area >= MIN_INK * _box_area(lines[i].box):
                masks[i] = m
                out.append(i)
        return out


def rescued_letters(image: np.ndarray, box: Box) -> np.ndarray | None:
    """A frame-sized mask of the letters kseg-fill finds in ``box`` (``line_probability``),
    grown by RESCUE_GROW: the mask of a line text-SAM refused and the reader rescued
    (``RESCUE_LETTERS``). None without the model, for a box taller than wide, or where the
    letters cover less than MIN_INK of the box (text-SAM's output is kept then)."""
    from kseg.style.fillnet import line_probability

    x0, y0, x1, y1 = (int(v) for v in box)
    if y1 - y0 > x1 - x0:
        return None  # a stacked column: kseg-fill reads level strips (at 32 px tall), not columns
    got = line_probability(image, box)
    if got is None:
        return None
    p, (bx0, by0, bx1, by1) = got
    r = max(1, int(round(RESCUE_GROW * min(y1 - y0, x1 - x0))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = np.zeros(image.shape[:2], bool)
    out[by0:by1, bx0:bx1] = cv2.dilate((p >= RESCUE_LETTERS).astype(np.uint8), k) > 0
    return out if out.sum() >= MIN_INK * _box_area(box) else None


def _separate_lines(lines: list[TextLine], masks: list[LineMask]) -> None:
    """Give each line only its own ink: a line's tile includes context, so its mask can
    reach into the line above or below; pixels inside another line's box and outside
    this line's box belong to the other line. Without this a two-line subtitle's first
    mask holds both lines, and its style (text height, colours) is measured on both."""
    if len(lines) < 2:
        return
    boxes = [tuple(int(v) for v in ln.box) for ln in lines]
    for i, mi in enumerate(masks):
        x0, y0, x1, y1 = boxes[i]
        lh = y1 - y0
        for j, (a0, b0, a1, b1) in enumerate(boxes):
            if j == i or a1 <= x0 - lh or a0 >= x1 + lh or b1 <= y0 - lh or b0 >= y1 + lh:
                continue  # itself, or far apart
            # clear the other box, keeping what lies inside this line's own box
            ox0, oy0, ox1, oy1 = max(a0, x0, 0), max(b0, y0, 0), min(a1, x1), min(b1, y1)
            keep = mi.mask[oy0:oy1, ox0:ox1].copy() if ox0 < ox1 and oy0 < oy1 else None
            mi.mask[max(0, b0):b1, max(0, a0):a1] = False
            if keep is not None:
                mi.mask[oy0:oy1, ox0:ox1] = keep


_PALETTE = [(255, 64, 64), (64, 160, 255), (255, 200, 0), (200, 64, 255), (0, 220, 120)]


def overlay(image: np.ndarray, result: FrameResult, alpha: float = 0.5) -> np.ndarray:
    """The frame with each region's mask tinted and its box and polygon drawn (for people)."""
    out = image.copy()
    thick = max(1, round(min(result.width, result.height) / 360))
    for i, r in enumerate(result.regions):
        color = np.array(_PALETTE[i % len(_PALETTE)], np.float32)
        m = r.mask.mask
        out[m] = (out[m] * (1 - alpha) + color * alpha).astype(np.uint8)
    for i, r in enumerate(result.regions):
        color = _PALETTE[i % len(_PALETTE)]
        x0, y0, x1, y1 = (int(v) for v in r.line.box)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), color, thick)
        if len(r.line.polygon) >= 3 and r.line.angle:
            pts = np.array(r.line.polygon, np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, (255, 255, 255), max(1, thick // 2))
    return out


def output_paths(out_dir: str | os.PathLike[str], stem: str) -> dict[str, Path]:
    d = Path(out_dir)
    return {"mask": d / f"{stem}.mask.png", "overlay": d / f"{stem}.overlay.png",
            "json": d / f"{stem}.json"}


def write_outputs(result: FrameResult, image: np.ndarray, out_dir: str | os.PathLike[str],
                  stem: str) -> dict[str, Path]:
    """Write mask, overlay and JSON atomically; JSON last, so its presence means "complete"."""
    paths = output_paths(out_dir, stem)
    write_png(paths["mask"], result.mask)
    write_png(paths["overlay"], overlay(image, result))
    write_json(paths["json"], result.to_json())
    return paths


def output_stems(paths: Sequence[str | os.PathLike[str]],
                 out_dir: str | os.PathLike[str] | None = None,
                 taken: Iterable[str] = ()) -> list[str]:
    """``NAME`` for each ``NAME.ext``; a later input whose NAME is already used gets
    ``NAME-2``, ``NAME-3``... (ep1/f.png and ep2/f.png must not overwrite each other,
    and refusing would fail half of a typical multi-folder batch). Compared case-folded
    so outputs do not collide on case-insensitive file systems either. With ``out_dir``,
    a stem whose output would land on one of the inputs (``a.png`` next to an input
    ``a.mask.png``) is bumped too: inputs are never modified."""
    used = {t.casefold() for t in taken}
    inputs = {os.path.realpath(p) for p in paths} if out_dir is not None else set()

    def clashes(stem: str) -> bool:
        if stem.casefold() in used:
            return True
        return out_dir is not None and any(
            os.path.realpath(q) in inputs for q in output_paths(out_dir, stem).values())

    stems = []
    for p in paths:
        base = Path(p).stem or "image"
        stem, n = base, 1
        while clashes(stem):
            n += 1
            stem = f"{base}-{n}"
        used.add(stem.casefold())
        stems.append(stem)
    return stems


# ------------------------------------------------------------ erase / translate (issue 5)

def caption_styles(image: np.ndarray, result: FrameResult) -> list[Any]:
    """Measure every region's style and group the lines into captions.

    Adds ``"style"`` and ``"caption"`` (the caption's index) to each region's JSON.
    """
    from kseg.style import measure_captions

    styles, captions = measure_captions(image, result)
    for r, s in zip(result.regions, styles):
        r.extra["style"] = s.to_json()
    for k, c in enumerate(captions):
        for i in c.regions:
            result.regions[i].extra["caption"] = k
    return captions


TILE_ASPECT = (1.0, 2.5)  # width / height of a collage's screenshot, cropped ones included


def caption_tiles(image: np.ndarray, boxes: list[Box], found: tuple[list[Box], list[Box]] | None = None
                  ) -> list[Box | None] | None:
    """For a collage (a sheet of screenshots, ``kseg.detect.panels``), the screenshot each caption
    box lies in: the smallest tile, or tile split again, that holds nine tenths of it and is
    shaped like a screen (TILE_ASPECT: not a row of screenshots, nor one third of a split
    screen), None where none is. None for a frame that is one picture. ``found``: the frame's
    (tiles, tiles split again) as ``FrameResult.panels`` has them (looking again cost 35-60 ms
    a still)."""
    from kseg.detect.panels import panel_of, panels

    if found is not None:
        tiles, outer = found
    else:
        outer = []
        tiles = panels(image, outer=outer)
    if len(tiles) < 2:
        return None
    screens = sorted((t for t in set(tiles) | set(outer)
                      if TILE_ASPECT[0] <= (t[2] - t[0]) / max(1, t[3] - t[1]) <= TILE_ASPECT[1]),
                     key=lambda t: (t[2] - t[0]) * (t[3] - t[1]))
    return [panel_of(b, screens) for b in boxes]


def union_mask(result: FrameResult, regions: Iterable[int] | None = None) -> np.ndarray:
    """Bool footprint of the chosen regions (all when None): what erasing removes."""
    idx = range(len(result.regions)) if regions is None else regions
    out = np.zeros((result.height, result.width), bool)
    for i in idx:
        out |= result.regions[i].mask.mask
    return out


def plate_mask(mask: np.ndarray, text_height: float) -> np.ndarray:
    """A plated caption's mask grown by PLATE_HALO of its text height (translate and
    translate-video erase this inside the plate)."""
    from kseg.erase import grow_mask

    halo = round(PLATE_HALO * text_height)
    return grow_mask(mask, halo) if halo > 0 and mask.any() else mask.copy()


def kept_text(result: FrameResult, erased: set[int]) -> np.ndarray:
    """The letters (grown by KEEP_EDGE) of text left on screen, which an erase beside it must not
    reach: the regions not in ``erased`` (a caption with no translation) and the overlays (a
    logo). The grown region erased round the line below `대한민국의 영웅이`, left in Korean,
    cut into its letters (bench/real's hahabus collage)."""
    from kseg.erase import grow_mask

    keep = union_mask(result, [i for i in range(len(result.regions)) if i not in erased])
    for o in result.overlays:
        if o.mask.mask.shape == keep.shape:
            keep |= o.mask.mask
    return grow_mask(keep, KEEP_EDGE) & ~union_mask(result, erased) if keep.any() else keep


def _erase_captions(image: np.ndarray, result: FrameResult, captions: list[Any], method: str) -> np.ndarray:
    """Erase ``captions``: one on a plate inside the plate alone (``kseg.style.plate_box``), along
    its rows where the plate is even along them (``kseg.erase.erase_plate``), the rest together."""
    from kseg.erase import default_grow, erase, erase_plate
    from kseg.style import plate_box

    grow = default_grow(np.zeros(image.shape[:2], bool))  # the frame's, not a plate's
    plates = [plate_box(c, image.shape) for c in captions]
    rest = [i for c, p in zip(captions, plates) if p is None for i in c.regions]
    keep = kept_text(result, {i for c in captions for i in c.regions})
    out = erase(image, union_mask(result, rest), method=method, grow=grow, keep=keep) if rest else image.copy()
    for c, p in zip(captions, plates):
        if p is not None:
            L, T, R, B = p
            m = plate_mask(union_mask(result, c.regions)[T:B, L:R], c.style.text_height) & ~keep[T:B, L:R]
            crop = np.ascontiguousarray(out[T:B, L:R])
            filled = erase_plate(crop, m, grow=grow) if method == "auto" else None
            out[T:B, L:R] = filled if filled is not None else erase(crop, m, method=method, grow=grow, keep=keep[T:B, L:R])
    return out


class CaptionPipeline:
    """``kseg erase`` / ``kseg translate`` for still frames, on top of ``SegmentPipeline``.

    Kept separate from the segment stages so a caller holding a FrameResult (the video
    stage, a script that fixed the masks by hand) can run just erase / style / render.
    ``history`` carries the last captions across frames of a batch, so an episode's frames
    given in order are translated with their neighbours as context.
    """

    CONTEXT = 3  # captions of context on each side

    def __init__(self, segment: SegmentPipeline, translator: Any = None, *,
                 erase_method: str = "auto", font: str | os.PathLike[str] | None = None, font_scale: float = 1.0,
                 strict: bool = False):
        self.segment = segment
        self.strict = strict
        if translator is not None:
            from kseg.translate import as_translator

            translator = as_translator(translator)
        self.translator = translator
        self.erase_method = erase_method
        self.font = font
        from kseg.render import check_font_scale

        self.font_scale = check_font_scale(font_scale)
        self.history: list[str] = []
        self.fuzzy_hits: list[tuple[str, str, float]] = []  # (caption, TM entry, similarity)

    def erase(self, image: np.ndarray, name: str) -> tuple[FrameResult, np.ndarray]:
        """Segment, then inpaint every caption found: (result, erased RGB frame).

        Unlike ``translate``, not inside each caption's plate: with nothing drawn over the plate
        afterwards, text past a plate edge found short (a descender, a label the mask took in)
        left legible costs more than a hole in the rim (measured with bench/bench_erase_real.py,
        docs/experiments)."""
        from kseg.erase import erase

        result = self.segment.process(image, name)
        t0 = time.perf_counter()
        erased = erase(image, union_mask(result), method=self.erase_method,
                       keep=kept_text(result, set(range(len(result.regions))))) if result.regions \
            else image.copy()
        result.seconds["erase"] = time.perf_counter() - t0
        result.seconds["total"] = result.seconds.get("total", 0.0) + result.seconds["erase"]
        return result, erased

    def translate(self, image: np.ndarray, name: str) -> tuple[FrameResult, np.ndarray, dict[str, list[Any]]]:
        """Segment, style, translate, erase the translated captions, render the English.

        Returns the result (JSON gains ``translation``/``style`` per region and a
        ``captions`` list), the output image, and the problems to report:
        ``{"untranslated": [korean...], "unfitted": [english...], "missing": [(english, characters no
        face draws)...]}``. Captions without a
        translation (a TM miss, no readable text) are left as they are, not erased.
        """
        from kseg.render import place
        from kseg.translate.captions import CaptionText, translate_captions

        if self.translator is None:
            raise RuntimeError("CaptionPipeline.translate needs a translator")
        result = self.segment.process(image, name)
        t0 = time.perf_counter()
        captions = caption_styles(image, result)
        t1 = time.perf_counter()
        texts = [c.text for c in captions]
        translations, hits = translate_captions(
            self.translator, [CaptionText(c.text, [result.regions[i].text.text for i in c.regions])
                              for c in captions], context=self.CONTEXT, history=self.history)
        self.fuzzy_hits.extend((h.caption, h.entry, h.similarity) for h in hits)
        t2 = time.perf_counter()
        if self.strict:
            from kseg.translate import TranslatorError

            for c, tr in zip(captions, translations):
                if not (isinstance(tr, str) and tr.strip()):
                    raise TranslatorError(f"no translation for caption {c.text!r} (--strict)")
        problems: dict[str, list[Any]] = {"untranslated": [], "unfitted": [], "missing": []}
        done = []
        for c, tr in zip(captions, translations):
            c.translation = tr.strip() if isinstance(tr, str) and tr.strip() else None
            for i in c.regions:
                result.regions[i].extra["translation"] = c.translation
            if c.translation is None:
                problems["untranslated"].append(c.text)
            else:
                done.append(c)
        out = _erase_captions(image, result, done, self.erase_method)
        t3 = time.perf_counter()
        rendered: dict[int, dict[str, Any]] = {}  # caption index -> how its English was drawn
        # other text on screen (logos, programme bars, English already there) is kept clear too
        on_screen = [tuple(int(v) for v in o.line.box) for o in result.overlays] + \
            [tuple(int(v) for v in b) for b in result.left_out]
        sprites = place(captions, [c.translation for c in captions], out.shape, obstacles=on_screen,
                        bounds=caption_tiles(image, [c.box for c in captions], result.panels) if done else None,
                        font=self.font, font_scale=self.font_scale)
        for k, (c, sp) in enumerate(zip(captions, sprites)):
            if sp is None:
                continue
            sp.draw(out)
            rendered[k] = sp.info.to_json()
            if not sp.info.fitted:
                problems["unfitted"].append(c.translation)
            if sp.info.missing:
                problems["missing"].append((c.translation, sp.info.missing))
        t4 = time.perf_counter()
        result.extra["captions"] = [{**c.to_json(), **({"render": rendered[k]} if k in rendered else {})}
                                    for k, c in enumerate(captions)]
        self.history = (self.history + texts)[-self.CONTEXT:]
        result.seconds.update({"style": t1 - t0, "translate": t2 - t1, "erase": t3 - t2,
                               "render": t4 - t3})
        result.seconds["total"] = result.seconds.get("total", 0.0) + (t4 - t0)
        return result, out, problems
