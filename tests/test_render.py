"""Render stage: English drawn in the measured style, fitted, anchored, composited."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from kseg.errors import InputError
from kseg.render import (BOLD_WEIGHT, BUNDLED_BOLD, BUNDLED_REGULAR, SYMBOLS_BOLD, SYMBOLS_REGULAR, RenderInfo,
                         load_family, load_font, prepare, render_caption)
from kseg.types import Banner, Caption, ColourRun, Shadow, Style

GREY = (90, 90, 90)
RED, BLUE, GREEN, YELLOW = (230, 20, 20), (20, 40, 220), (20, 200, 40), (250, 240, 30)


def canvas(w: int = 640, h: int = 360) -> np.ndarray:
    c = np.empty((h, w, 3), np.uint8)
    c[:] = GREY
    return c


def caption(box=(200, 100, 440, 140), **kw) -> Caption:
    st = dict(fill=RED, text_height=30.0, stroke_width=2.4)  # weight 0.08: regular
    st.update(kw)
    return Caption(regions=[0], box=box, text="가나다", style=Style(**st))


def subtitle(w: int = 640, h: int = 360, **kw) -> Caption:
    """A one-line drama subtitle, centred in the lower part of a w x h frame."""
    return caption(box=(w // 2 - 120, int(h * 0.84), w // 2 + 120, int(h * 0.84) + 30),
                   **{"text_height": 24.0, **kw})


def near(img: np.ndarray, color, tol: int = 6) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(color)) <= tol).all(axis=2)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).any(axis=2)


def bbox(m: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# ------------------------------------------------------------------------- style

def test_fill_and_outline_colours_where_expected():
    c = canvas()
    cap = caption(outline=BLUE, outline_width=3.0)
    info = render_caption(c, cap, "Hello there")
    fill, ring = near(c, RED), near(c, BLUE)
    assert fill.sum() > 300 and ring.sum() > 300
    # the outline surrounds the fill: no fill pixel touches the grey background
    bg = near(c, GREY, 0)
    touch = cv2.dilate(fill.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & bg
    assert touch.sum() == 0
    # all changes lie in the reported box (no shadow here)
    x0, y0, x1, y1 = bbox(changed(canvas(), c))
    bx0, by0, bx1, by1 = info.box
    assert bx0 - 1 <= x0 and by0 - 1 <= y0 and x1 <= bx1 + 1 and y1 <= by1 + 1


def test_second_outline_outside_the_first():
    c = canvas()
    render_caption(c, caption(outline=BLUE, outline_width=2.0, outline2=YELLOW, outline2_width=3.0),
                   "Wow")
    fill, o1, o2 = near(c, RED), near(c, BLUE), near(c, YELLOW)
    assert fill.sum() > 100 and o1.sum() > 100 and o2.sum() > 100
    d_fill = cv2.distanceTransform((~fill).astype(np.uint8), cv2.DIST_L2, 5)
    assert np.median(d_fill[o2]) > np.median(d_fill[o1])  # yellow ring lies further out


def test_text_height_matched_to_korean_ink():
    c = canvas()
    render_caption(c, caption(text_height=40.0), "held")  # ascenders only, no descenders
    x0, y0, x1, y1 = bbox(near(c, RED, 40))
    assert abs((y1 - y0) - 40) <= 2


def test_bold_for_heavy_korean_regular_for_light():
    heavy = caption(stroke_width=30.0 * (BOLD_WEIGHT + 0.03))
    light = caption(stroke_width=30.0 * (BOLD_WEIGHT - 0.03))
    sb, sr = prepare(heavy, "Hello", (360, 640)), prepare(light, "Hello", (360, 640))
    assert sb.bold and Path(sb.font).name == BUNDLED_BOLD.name
    assert not sr.bold and Path(sr.font).name == BUNDLED_REGULAR.name
    assert (sb.rgba[..., 3] > 128).sum() > 1.3 * (sr.rgba[..., 3] > 128).sum()


def test_gradient_top_and_bottom_differ():
    c = canvas()
    render_caption(c, caption(fill=YELLOW, fill2=BLUE, text_height=40.0), "HIHIHI")
    ink = changed(canvas(), c)
    x0, y0, x1, y1 = bbox(ink)
    top = c[y0 + 2:y0 + 6][ink[y0 + 2:y0 + 6]].mean(0)
    bot = c[y1 - 6:y1 - 2][ink[y1 - 6:y1 - 2]].mean(0)
    assert top[0] > bot[0] + 60 and bot[2] > top[2] + 60  # yellow-ish on top, blue-ish below


def test_a_line_in_two_colours_is_drawn_in_two_colours_word_by_word():
    """A pink word then yellow ones in the Korean: the English words take the run at their
    place in the line, whole words, outlines included; one run draws one colour."""
    runs = [ColourRun(0.0, 0.4, RED), ColourRun(0.4, 1.0, YELLOW)]
    c = canvas()
    info = render_caption(c, caption(box=(60, 100, 580, 140), fill=RED, text_height=36.0, outline=BLUE,
                                     outline_width=2.0, runs=runs), "Huge news now")
    assert len(info.lines) == 1
    red, yellow = near(c, RED, 30), near(c, YELLOW, 30)
    assert red.sum() > 200 and yellow.sum() > 200
    rx0, _, rx1, _ = bbox(red)
    yx0, _, yx1, _ = bbox(yellow)
    assert rx1 <= yx0  # "Huge" red, then "news now" yellow: no word split between the two
    assert (yx1 - yx0) > 1.5 * (rx1 - rx0)
    plain = canvas()
    render_caption(plain, caption(box=(60, 100, 580, 140), fill=RED, text_height=36.0, outline=BLUE, outline_width=2.0,
                                  runs=[ColourRun(0.0, 1.0, RED)]), "Huge news now")
    assert near(plain, YELLOW, 30).sum() == 0


def test_font_scale_sizes_the_english_and_its_width_budget_alike():
    cap = caption(text_height=24.0)
    base = prepare(cap, "Hello there friend", (360, 640, 3))
    big = prepare(cap, "Hello there friend", (360, 640, 3), font_scale=1.5)
    assert abs(big.info.font_size / base.info.font_size - 1.5) <= 0.1
    assert len(big.info.lines) == len(base.info.lines)  # the budget grew with it: not wrapped more
    for bad in (0, 0.1, 5, float("nan")):
        with pytest.raises(ValueError, match="font scale"):
            prepare(cap, "Hello", (360, 640, 3), font_scale=bad)


def test_shadow_falls_down_right_in_its_colour():
    c = canvas()
    info = render_caption(c, caption(fill=(255, 255, 255), text_height=40.0,
                                     shadow=Shadow(color=(0, 0, 0), dx=4, dy=4)), "Shadow")
    dark = (c.max(axis=2) < 60)
    assert dark.sum() > 200
    x0, y0, x1, y1 = bbox(dark)
    wx0, wy0, wx1, wy1 = bbox(near(c, (255, 255, 255), 30))
    assert x1 >= wx1 + 3 and y1 >= wy1 + 3 and x0 >= wx0  # offset to the bottom right
    assert wx0 >= info.box[0] - 1 and wx1 <= info.box[2] + 1


# ------------------------------------------------------------------------ layout

def test_subtitle_keeps_centre_and_bottom_edge():
    cap = subtitle(outline=(0, 0, 0), outline_width=2.0)
    info = prepare(cap, "You came all this way for me?", (360, 640)).info
    # wrapped to stay within 1.1x the Korean line, at most 10 % smaller than its ink height
    assert info.lines == ["You came all", "this way for me?"] and info.fitted and info.scale >= 0.9
    assert info.box[2] - info.box[0] <= 1.1 * (cap.box[2] - cap.box[0]) + 1
    short = prepare(cap, "For me?", (360, 640)).info
    assert short.lines == ["For me?"] and short.scale == 1.0
    assert abs((info.box[0] + info.box[2]) / 2 - (cap.box[0] + cap.box[2]) / 2) <= 1.5
    # the last baseline (plus outline) sits on the Korean bottom edge; descenders hang below
    assert cap.box[3] <= info.box[3] <= cap.box[3] + 0.4 * info.font_size
    assert info.box[0] >= 0 and info.box[2] <= 640


def test_subtitle_grows_upward_and_wraps_to_at_most_two_lines():
    cap = subtitle()
    long = "I never thought I would see you again after everything that happened last winter at the lake"
    info = prepare(cap, long, (360, 640)).info
    assert len(info.lines) == 2 and " ".join(info.lines) == long
    one = prepare(cap, "See you again", (360, 640)).info
    assert abs(info.box[3] - one.box[3]) <= 2 and info.box[1] < one.box[1] - 10


@pytest.mark.parametrize("align", ["left", "right"])
def test_left_and_right_aligned_keep_their_edge(align):
    cap = caption(box=(100, 60, 260, 95), align=align)
    info = prepare(cap, "Oh really", (360, 640)).info
    edge = 0 if align == "left" else 2
    assert abs(info.box[edge] - cap.box[edge]) <= 1


def test_too_long_text_wraps_to_the_korean_width_then_shrinks_then_reports():
    cap = caption(box=(200, 100, 440, 140))  # 240 px wide: 264 px wanted (1.1x), 312 px allowed (1.3x)
    short = prepare(cap, "Okay then", (360, 640)).info
    assert short.lines == ["Okay then"] and short.fitted and short.scale == 1.0
    # wrapped at the Korean's size rather than run wider than the caption it replaces
    two = prepare(cap, "We should go home", (360, 640)).info
    assert two.lines == ["We should", "go home"] and two.scale == 1.0 and two.box[2] - two.box[0] <= 1.1 * 240
    # one line more than the Korean at most (no towers): past that, the allowed width, a little smaller
    longer = prepare(cap, "We should leave before it gets dark", (360, 640)).info
    assert len(longer.lines) == 2 and 0.8 <= longer.scale < 1.0 and longer.box[2] - longer.box[0] <= 1.3 * 240 + 2
    # longer still: three lines, shrunk within the allowed width
    shrunk = prepare(cap, "We should really leave this place before it gets dark and cold outside "
                     "tonight", (360, 640)).info
    assert len(shrunk.lines) == 3 and 0.6 <= shrunk.scale < 0.9 and shrunk.fitted
    assert shrunk.box[2] - shrunk.box[0] <= 1.3 * 240 + 2
    over = prepare(cap, "We should really leave this place before it gets dark and cold outside "
                   "because the road back down the mountain is long and the night is", (360, 640)).info
    assert not over.fitted and over.scale == pytest.approx(0.6, abs=0.05) and len(over.lines) == 3
    assert json.loads(json.dumps(over.to_json()))["fitted"] is False


def test_max_lines_and_min_scale_are_honoured():
    cap = caption(box=(200, 100, 440, 140))
    text = "We should leave before it gets dark"
    one = prepare(cap, text, (360, 640), max_lines=1).info
    assert len(one.lines) == 1 and one.scale < 1.0
    stiff = prepare(cap, text, (360, 640), max_lines=1, min_scale=0.95).info
    assert not stiff.fitted and stiff.scale >= 0.95


def test_whitespace_is_collapsed_and_words_kept():
    info = prepare(caption(), "  Hi,\n  you\tthere ", (360, 640)).info
    assert info.lines == ["Hi, you there"]


def test_rotation_follows_style_angle():
    def slope(angle: float) -> float:
        c = canvas()
        render_caption(c, caption(box=(180, 120, 460, 170), text_height=30.0, angle=angle),
                       "IIIIIIIIIIIIIIIIII")
        ys, xs = np.nonzero(near(c, RED, 60))
        return float(np.polyfit(xs, ys, 1)[0])

    assert abs(slope(0.0)) < 0.01
    s = slope(10.0)  # counter-clockwise: the right end rises (y decreases)
    assert s == pytest.approx(-np.tan(np.radians(10.0)), abs=0.03)
    assert slope(-10.0) == pytest.approx(-s, abs=0.03)


# ------------------------------------------------------------------------- banner

def test_banner_enlarged_with_its_colour_outside_the_old_plate():
    c = canvas()
    plate = (250, 90, 390, 150)
    c[plate[1]:plate[3], plate[0]:plate[2]] = GREEN  # the plate erase left behind
    cap = caption(box=(270, 105, 370, 135), fill=(255, 255, 255), text_height=22.0,
                  banner=Banner(box=plate, color=GREEN, opacity=1.0))
    before = c.copy()
    info = render_caption(c, cap, "Heavy rain expected across the whole capital region")
    green = near(c, GREEN, 2)
    assert info.box[0] < plate[0] and info.box[2] > plate[2]  # the English is wider
    gx0, gy0, gx1, gy1 = bbox(green)
    assert gx0 <= info.box[0] - 15 and gx1 >= info.box[2] + 15  # margins kept (20 px)
    # the plate is one rectangle: no grey left inside it
    assert not near(c[gy0:gy1, gx0:gx1], GREY, 0).any()
    assert (before[:gy0] == c[:gy0]).all() and (before[gy1:] == c[gy1:]).all()


def test_an_opaque_plate_drawn_again_larger_covers_the_old_plates_rim():
    """The old plate's rim lies outside its box (``Banner.rim``): an opaque plate drawn again
    larger for the English covers it too, or it shows above and below the new plate (the MBC
    clip's silver bar); a translucent plate, drawn only outside the old box, leaves it."""
    plate, rim = (250, 90, 390, 150), (3, 4, 3, 6)
    for opacity in (1.0, 0.6):
        c = canvas()
        c[plate[1] - rim[1]:plate[3] + rim[3], plate[0] - rim[0]:plate[2] + rim[2]] = (20, 20, 20)
        c[plate[1]:plate[3], plate[0]:plate[2]] = GREEN
        cap = caption(box=(270, 105, 370, 135), fill=(255, 255, 255), text_height=22.0,
                      banner=Banner(box=plate, color=GREEN, opacity=opacity, rim=rim))
        render_caption(c, cap, "Heavy rain expected across the whole capital region")
        dark = (c[plate[1] - rim[1]:plate[3] + rim[3], plate[0] - rim[0]:plate[2] + rim[2]] == 20).all(axis=-1)
        if opacity == 1.0:
            assert not dark.any()  # the old rim is under the new plate
        else:
            assert dark.sum() > 0


def test_translucent_banner_not_doubled_inside_old_plate():
    c = canvas()
    plate = (200, 95, 440, 145)
    inside = (127, 127, 127)
    c[plate[1]:plate[3], plate[0]:plate[2]] = inside  # 50 % white over grey, already there
    cap = caption(box=(220, 105, 420, 135), fill=(0, 0, 0), text_height=20.0,
                  banner=Banner(box=plate, color=(164, 164, 164), opacity=0.5))
    before = c.copy()
    info = render_caption(c, cap, "Taller than the plate it sits on, by far")
    assert len(info.lines) == 2  # more lines than the plate was made for: it grows
    # a pixel inside the old plate but away from the text keeps its value
    assert (c[plate[1] + 2, plate[0] + 3] == before[plate[1] + 2, plate[0] + 3]).all()
    # outside the old plate, the new plate blends the banner colour at the same opacity
    x0, y0, x1, y1 = bbox(changed(before, c))
    assert y0 < plate[1] and y1 > plate[3]
    for y in (y0, y1 - 1):
        assert (before[y, plate[0] + 3] == GREY).all()
        assert abs(int(c[y, plate[0] + 3, 0]) - 127) <= 2


def test_banner_text_that_fits_leaves_plate_alone():
    c = canvas()
    plate = (150, 80, 490, 160)
    c[plate[1]:plate[3], plate[0]:plate[2]] = GREEN
    before = c.copy()
    cap = caption(box=(200, 105, 440, 135), fill=(255, 255, 255), text_height=20.0,
                  banner=Banner(box=plate, color=GREEN, opacity=1.0))
    render_caption(c, cap, "News")
    diff = changed(before, c)
    x0, y0, x1, y1 = bbox(diff)
    assert plate[0] < x0 and x1 < plate[2] and plate[1] < y0 and y1 < plate[3]


def _on_green_plate(plate, box, text_height: float):
    """A canvas with an opaque green plate (what erase left), its copy, and a white caption on it."""
    c = canvas()
    c[plate[1]:plate[3], plate[0]:plate[2]] = GREEN
    cap = caption(box=box, fill=(255, 255, 255), text_height=text_height,
                  banner=Banner(box=plate, color=GREEN, opacity=1.0))
    return c, c.copy(), cap


def test_english_well_inside_a_loose_plate_does_not_grow_it():
    """One plate behind a block of lines (a real translucent rounded plate with four lines):
    English a little wider than its Korean line but far inside the plate. Keeping the Korean's
    100-px margins grew the plate into rectangles round the rounded one; the margins kept are
    capped at a text height (``PLATE_PAD``)."""
    plate = (100, 40, 540, 220)
    c, before, cap = _on_green_plate(plate, (280, 105, 360, 135), 22.0)
    info = render_caption(c, cap, "Rain in the city today")
    assert info.box[0] < 280 and info.box[2] > 360  # wider than the Korean line
    x0, y0, x1, y1 = bbox(changed(before, c))
    assert plate[0] <= x0 and x1 <= plate[2] and plate[1] <= y0 and y1 <= plate[3]
    # and the plate's width is the English's to use, up to those margins: one line at the
    # Korean's size (the line's own 80 px wrapped it to two at a smaller size)
    assert len(info.lines) == 1 and info.scale == 1.0


def test_a_translucent_plate_grown_for_the_english_keeps_its_edge_where_it_does_not_grow():
    """A translucent plate is drawn again outside its old box only, overlapping the box's 1-px
    edge to hide the seam; on the sides it does not grow past, that edge was drawn too, a frame
    of double plate round a rounded card's box (bench/real's vlog card)."""
    plate = (100, 60, 540, 112)
    c = canvas()
    c[plate[1]:plate[3], plate[0]:plate[2]] = (c[plate[1]:plate[3], plate[0]:plate[2]] * 0.4 + np.array(GREEN) * 0.6)
    before = c.copy()
    cap = caption(box=(250, 72, 390, 100), fill=(255, 255, 255), text_height=24.0,
                  banner=Banner(box=plate, color=GREEN, opacity=0.6))
    info = render_caption(c, cap, "Heavy rain tonight in the whole city and all the hills around it")
    assert len(info.lines) == 2  # taller than the plate: it grows up or down, not sideways
    ch = changed(before, c)
    assert ch[:plate[1]].any() or ch[plate[3]:].any()
    rows = slice(plate[1] + 2, plate[3] - 2)
    assert not ch[rows, plate[0]].any() and not ch[rows, plate[2] - 1].any()


# ----------------------------------------------------------------------- drawing

def test_empty_text_renders_nothing():
    for text in ("", "   \n "):
        c = canvas()
        s = prepare(caption(), text, c.shape)
        s.draw(c)
        assert s.rgba.size == 0 and s.info.lines == [] and s.info.fitted
        assert (c == canvas()).all()


def test_sprite_draw_equals_render_caption_and_is_reusable():
    cap = caption(outline=BLUE, outline_width=2.0, fill2=YELLOW,
                  shadow=Shadow((10, 10, 10), 2, 3))
    a, b, c2 = canvas(), canvas(), canvas()
    info = render_caption(a, cap, "Same pixels every frame")
    s = prepare(cap, "Same pixels every frame", b.shape)
    assert s.rgba.dtype == np.uint8 and s.rgba.ndim == 3 and s.rgba.shape[2] == 4
    s.draw(b)
    s.draw(c2)
    assert (a == b).all() and (b == c2).all() and s.info == info
    assert isinstance(info, RenderInfo)


def test_draw_is_straight_alpha_blend():
    s = prepare(caption(), "Blend", (360, 640))
    c = canvas()
    s.draw(c)
    a = s.rgba[..., 3:].astype(np.float64) / 255
    want = s.rgba[..., :3] * a + np.array(GREY) * (1 - a)
    h, w = s.rgba.shape[:2]
    got = c[s.y:s.y + h, s.x:s.x + w].astype(np.float64)
    assert np.abs(got - want).max() <= 1.0


def test_clipping_at_frame_edges():
    s = prepare(caption(), "Clipped at every edge", (360, 640))
    h, w = s.rgba.shape[:2]
    for x, y in [(-w // 2, -h // 2), (640 - w // 2, 360 - h // 2), (-w - 5, 10), (700, 400)]:
        c = canvas()
        s2 = replace(s, x=x, y=y)
        s2.draw(c)
        ref = np.zeros((360 + 2 * h, 640 + 2 * w, 3), np.uint8)
        ref[:] = GREY
        replace(s, x=x + w, y=y + h).draw(ref)
        assert (c == ref[h:h + 360, w:w + 640]).all()


def test_caption_near_edge_is_shifted_inside_the_frame():
    cap = caption(box=(560, 20, 640, 50), align="right")
    info = prepare(cap, "A rather longer English line", (360, 640)).info
    assert info.fitted and info.box[0] >= 0 and info.box[2] <= 640 and info.box[1] >= 0


def test_tiny_frame_does_not_crash():
    c = np.zeros((6, 8, 3), np.uint8)
    info = render_caption(c, caption(box=(1, 1, 7, 5), text_height=3.0), "Hello world, long line")
    assert not info.fitted
    c = np.zeros((1, 1, 3), np.uint8)
    render_caption(c, caption(box=(0, 0, 1, 1), text_height=40.0), "Hi")


def test_bad_canvas_and_frame_shape():
    s = prepare(caption(), "x", (360, 640))
    with pytest.raises(ValueError):
        s.draw(np.zeros((360, 640), np.uint8))
    with pytest.raises(ValueError):
        prepare(caption(), "x", (0, 640))


def test_unmeasured_text_height_falls_back_to_the_box():
    info = prepare(caption(box=(200, 100, 440, 140), text_height=float("nan")), "Hi", (360, 640)).info
    assert info.fitted and 20 <= info.font_size <= 50


# -------------------------------------------------------------------------- fonts

def test_missing_and_corrupt_font_is_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file") as e:
        prepare(caption(), "Hi", (360, 640), font=tmp_path / "nope.ttf")
    assert "\n" not in str(e.value) and "nope.ttf" in str(e.value)
    bad = tmp_path / "bad.ttf"
    bad.write_text("not a font\n")
    with pytest.raises(InputError, match="bad.ttf") as e:
        prepare(caption(), "Hi", (360, 640), font=bad)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError):
        load_font(tmp_path)  # a folder
    with pytest.raises(InputError):
        render_caption(canvas(), caption(), "Hi", font=str(tmp_path / "gone.otf"))


def test_user_font_with_bold_sibling_and_without(tmp_path):
    d = tmp_path / "fam"
    d.mkdir()
    shutil.copy(BUNDLED_REGULAR, d / "Mine-Regular.ttf")
    shutil.copy(BUNDLED_BOLD, d / "Mine-Bold.ttf")
    fam = load_family(d / "Mine-Regular.ttf")
    assert fam.bold[0].endswith("Mine-Bold.ttf") and not fam.faux_bold
    heavy = caption(stroke_width=30.0 * 0.15)
    assert prepare(heavy, "Hi", (360, 640), font=d / "Mine-Regular.ttf").font.endswith("Mine-Bold.ttf")

    lone = tmp_path / "Lone.ttf"
    shutil.copy(BUNDLED_REGULAR, lone)
    fam = load_family(lone)
    assert fam.faux_bold and fam.bold == fam.regular
    sb = prepare(heavy, "Hello", (360, 640), font=lone)
    sr = prepare(caption(), "Hello", (360, 640), font=lone)
    assert sb.bold and (sb.rgba[..., 3] > 128).sum() > 1.1 * (sr.rgba[..., 3] > 128).sum()


def test_bundled_fonts_and_licence_ship():
    d = BUNDLED_REGULAR.parent
    ofl = (d / "OFL.txt").read_text()
    assert ofl.startswith("Copyright") and "SIL OPEN FONT LICENSE" in ofl
    for p in (BUNDLED_REGULAR, BUNDLED_BOLD):
        assert load_font(p, 20).getname() == ("Noto Sans", "Bold" if "Bold" in p.name else "Regular")
    assert "Bitstream Vera" in (d / "DejaVu-LICENSE.txt").read_text()
    for p in (SYMBOLS_REGULAR, SYMBOLS_BOLD):
        assert load_font(p, 20).getname() == ("DejaVu Sans", "Bold" if "Bold" in p.name else "Book")


def _ink(text: str, bold: bool = False, font=None) -> np.ndarray:
    """The English drawn white on black, cropped to its ink."""
    c = np.zeros((120, 400, 3), np.uint8)
    heavy = 0.2 if bold else 0.05
    render_caption(c, caption(box=(40, 40, 360, 80), fill=(255, 255, 255), text_height=30.0,
                              stroke_width=heavy * 30.0), text, font=font)
    m = c[..., 0] > 128
    x0, y0, x1, y1 = bbox(m)
    return m[y0:y1, x0:x1]


@pytest.mark.parametrize("bold", [False, True])
def test_marks_the_english_face_lacks_are_drawn_not_left_as_empty_boxes(bold):
    """Captions keep their marks in translation (♪, ♥, ★, →); Noto Sans has none of them, and a
    character a face lacks is drawn as its empty box. They come from the bundled DejaVu Sans."""
    tofu = _ink("\ue000", bold)  # a private-use character no bundled face has: the empty box
    for mark in "♪♥★→":
        got = _ink(mark, bold)
        assert got.shape != tofu.shape or (got != tofu).any(), mark
    # the line is cut where the face changes; the mark is measured by the face that draws it
    face = load_family().face(bold, 40)
    runs = face.runs("Love you ♪ so")
    assert [r for _, r in runs] == ["Love you ", "♪", " so"]
    assert runs[1][0].getname()[0] == "DejaVu Sans" and runs[0][0].getname()[0] == "Noto Sans"
    assert face.getlength("Love you ♪ so") == pytest.approx(sum(f.getlength(r) for f, r in runs))
    assert face.runs("Hello") == [(face.main, "Hello")]  # text the face covers: the face alone


def test_a_user_font_lacking_a_mark_gets_it_from_the_fallback(tmp_path):
    mine = tmp_path / "Mine.ttf"  # a face without ♪ (Noto Sans under another name)
    shutil.copy(BUNDLED_REGULAR, mine)
    assert (_ink("Hi ♪", font=mine).shape != _ink("Hi \ue000", font=mine).shape
            or (_ink("Hi ♪", font=mine) != _ink("Hi \ue000", font=mine)).any())


def test_banner_prefers_shrinking_inside_the_plate_to_growing_it():
    plate = (150, 80, 490, 160)
    c, before, cap = _on_green_plate(plate, (200, 105, 440, 135), 20.0)
    info = render_caption(c, cap, "Heavy rain warning tonight")
    assert len(info.lines) == 1 and 0.6 <= info.scale < 1.0 and info.fitted
    x0, y0, x1, y1 = bbox(changed(before, c))
    assert plate[0] <= x0 and x1 <= plate[2] and plate[1] <= y0 and y1 <= plate[3]
    free = prepare(replace(cap, style=replace(cap.style, banner=None)), "Heavy rain warning tonight",
                   c.shape).info
    # without a plate a free caption wraps at the Korean's size to keep to its width (1.1x)
    assert len(free.lines) == 2 and free.scale == 1.0 and free.box[2] - free.box[0] <= 1.1 * 240


def test_a_full_width_band_lends_its_width_instead_of_growing_over_the_picture():
    """A letterbox band or edge-to-edge bar has the frame's margins, not a design kept around
    the Korean: long English runs along it on one line rather than wrapping and growing the
    band over the picture."""
    c = canvas()
    band = (0, 310, 640, 360)
    c[band[1]:band[3]] = (0, 0, 0)
    before = c.copy()
    text = "Today I arrived in Vienna, the city of music"
    cap = caption(box=(250, 322, 390, 346), fill=(255, 255, 255), text_height=20.0,
                  banner=Banner(box=band, color=(0, 0, 0), opacity=1.0))
    info = render_caption(c, cap, text)
    assert len(info.lines) == 1 and info.scale >= 0.9 and info.fitted
    x0, y0, x1, y1 = bbox(changed(before, c))
    assert band[1] <= y0 and y1 <= band[3] and x1 - x0 > 2 * 140
    # the same plate made narrower than the frame keeps the Korean's margins: it wraps or shrinks
    narrow = replace(cap, style=replace(cap.style, banner=Banner(box=(150, 310, 490, 360), color=(0, 0, 0),
                                                                  opacity=1.0)))
    info = prepare(narrow, text, c.shape).info
    assert len(info.lines) > 1 or info.scale < 0.9


# ------------------------------------------------------------------------- a frame's captions together

def _clear(sprites, shape=(360, 640)) -> bool:
    """No pixel drawn by two of the sprites."""
    drawn = np.zeros(shape, int)
    for s in sprites:
        if s is not None and s.rgba.size:
            layer = np.zeros((shape[0], shape[1], 3), np.uint8)
            before = layer.copy()
            s.draw(layer)
            drawn += (layer != before).any(axis=2)
    return int(drawn.max()) <= 1


def test_a_frames_captions_do_not_cover_each_other():
    """A one-word label just above a line (a name tag over a quote): the line's English wraps
    upward and the label's runs down; laid out together, neither covers the other, and each
    keeps its text."""
    from kseg.render import place

    label = caption(box=(60, 238, 130, 258), fill=(255, 255, 255), text_height=16.0)
    line = caption(box=(60, 262, 420, 300), fill=(255, 220, 0), text_height=30.0)
    texts = ["Voice actor replaced", "A tone of voice that breaks the immersion"]
    alone = [prepare(c, t, (360, 640, 3)) for c, t in zip([label, line], texts)]
    assert not _clear(alone)  # the case: laid out alone they overlap
    sprites = place([label, line], texts, (360, 640, 3))
    assert _clear(sprites)
    assert [" ".join(s.info.lines) for s in sprites] == texts and all(s.info.fitted for s in sprites)
    assert all(s.info.scale >= 0.5 for s in sprites)
    # a caption left in Korean (no translation) is kept clear too, and gets no sprite
    sprites = place([label, line], [None, texts[1]], (360, 640, 3))
    from kseg.render import sprite_rect

    r = sprite_rect(sprites[1])
    assert sprites[0] is None and not (r[1] < label.box[3] and label.box[1] < r[3] and r[0] < label.box[2])
    # one caption alone is exactly what prepare gives
    one = place([line], [texts[1]], (360, 640, 3))[0]
    assert (one.x, one.y, one.info) == (alone[1].x, alone[1].y, alone[1].info)


def test_english_that_runs_into_a_neighbour_stays_on_its_own_line():
    """A tag sits just above a caption at the bottom of a frame (real variety layout: 현실 직시
    over 아나 완전 큰일 났다). The caption's English wraps to two lines that grow up into the tag;
    moved above the tag it would land on the speaker's face: it stays where the Korean was (the
    tag's English or its own drawn smaller) and still covers nothing."""
    from kseg.render import place, sprite_rect

    shape = (318, 564, 3)
    # the styles kseg measured on that frame (a translucent plate under the tag; a gradient
    # line with a hard shadow)
    tag = caption(box=(135, 227, 198, 249), fill=(36, 64, 75), text_height=21.0, stroke_width=2.0,
                  banner=Banner(box=(129, 223, 244, 251), color=(0, 19, 99), opacity=0.449))
    line = caption(box=(125, 239, 440, 293), fill=(255, 255, 215), fill2=(204, 65, 0), outline=(14, 2, 0),
                   outline_width=1.0, shadow=Shadow((3, 2, 9), 3.0, 3.0), text_height=53.0, stroke_width=5.25)
    texts = ["That's my style", "Thank you so much"]
    alone = prepare(line, texts[1], shape)
    assert len(alone.info.lines) == 2 and sprite_rect(alone)[1] < tag.box[3]  # the case: it grows into the tag
    sprites = place([tag, line], texts, shape)
    assert _clear(sprites, shape[:2])
    r = sprite_rect(sprites[1])
    shared = min(r[3], line.box[3]) - max(r[1], line.box[1])
    assert shared >= 0.5 * min(r[3] - r[1], line.box[3] - line.box[1])  # on its own line
    assert [" ".join(s.info.lines) for s in sprites] == texts and all(s.info.fitted for s in sprites)
    assert all(s.info.scale >= 0.5 for s in sprites)  # never below CLASH_MIN_SCALE


def test_a_caption_on_its_plate_is_not_moved_off_it():
    from kseg.render import place

    plate = Banner(box=(40, 250, 600, 320), color=(20, 40, 160), opacity=1.0)
    tag = caption(box=(60, 228, 160, 250), fill=(255, 255, 255), text_height=16.0)
    line = caption(box=(120, 268, 520, 302), fill=(255, 255, 255), text_height=26.0, banner=plate)
    texts = ["Manager Jung (41)", "Honestly I just did it without knowing what it was at all"]
    sprites = place([tag, line], texts, (360, 640, 3))
    b = sprites[1].info.box
    assert plate.box[1] <= b[1] and b[3] <= plate.box[3] + 2  # still on the plate
    assert _clear(sprites)


def test_english_keeps_clear_of_other_text_on_screen():
    """A channel logo or programme bar (``obstacles``) is not a caption, but the English grown
    for a caption beside it must not cover it either."""
    from kseg.render import place, sprite_rect

    line = caption(box=(60, 262, 420, 300), fill=(255, 220, 0), text_height=30.0)
    text = "A tone of voice that breaks the immersion"
    alone = prepare(line, text, (360, 640, 3))
    r = sprite_rect(alone)
    logo = (r[0], r[1], r[0] + 60, r[1] + 20)  # where the wrapped English's first line lands
    sp = place([line], [text], (360, 640, 3), obstacles=[logo])[0]
    a = sp.rgba[..., 3] > 25
    ys, xs = np.nonzero(a)
    ys, xs = ys + sp.y, xs + sp.x
    assert not ((xs >= logo[0]) & (xs < logo[2]) & (ys >= logo[1]) & (ys < logo[3])).any()
    assert " ".join(sp.info.lines) == text and sp.info.fitted
    # an empty translation (erase only) is an empty sprite, and no obstacle to the others
    empty, other = place([line, caption(box=(60, 200, 420, 238))], ["", "Hello"], (360, 640, 3))
    assert empty.rgba.size == 0 and other.info.lines == ["Hello"]


def _label_and_bar():
    """The styles kseg measures on 무한도전's name label flush on its silver subtitle bar
    (bench/real mudozzal/0006, 850 x 382): the Korean line sits on the bar's left half, the bar
    ends in a slanted cap left of it."""
    label = caption(box=(252, 293, 356, 316), fill=(65, 29, 48), text_height=17.0, stroke_width=1.5,
                    banner=Banner(box=(251, 294, 360, 317), color=(232, 162, 36), opacity=1.0))
    bar = caption(box=(259, 319, 591, 348), fill=(2, 0, 0), text_height=21.0, stroke_width=2.0,
                  banner=Banner(box=(235, 318, 765, 349), color=(255, 255, 255), opacity=0.517))
    return (382, 850, 3), [label, bar], ["Manager Jung Junha (41)", "Honestly, I just did it without knowing what it was"]


def test_a_name_labels_english_runs_wider_rather_than_shrink_onto_its_bar():
    """The label's English wrapped to two lines ran down onto the bar; laid out again it could
    only shrink inside the label's plate (11 px, half its size): a plate grown past the label's
    ends touched the bar's by the gap kept round English, and the width was held to 1.3 Korean
    lines. A caption that clashes may run wider over free space, and two plates may touch: the
    label's English keeps most of its size on one line, and neither covers the other."""
    from kseg.render import place

    shape, caps, texts = _label_and_bar()
    sprites = place(caps, texts, shape)
    assert _clear(sprites, shape[:2])
    label = sprites[0].info
    assert label.lines == [texts[0]] and label.scale >= 0.8 and label.fitted, label
    assert sprites[1].info.scale >= 0.6, sprites[1].info


def test_english_slides_along_its_plate_rather_than_grow_it_past_an_end():
    """English wider than its Korean line, centred on it, ran past the bar's left end (the line
    sits left on a long bar) and a plate was drawn over the bar's slanted cap; the bar had room
    on the right. It slides along the plate, keeping the Korean's margin at that end."""
    from kseg.render import sprite_rect

    shape, caps, texts = _label_and_bar()
    sp = prepare(caps[1], texts[1], shape)
    plate = caps[1].style.banner.box
    r = sprite_rect(sp)
    assert plate[0] <= r[0] and r[2] <= plate[2], (r, plate)
    assert sp.info.box[0] >= plate[0] + 20  # a margin (the Korean's, up to a text height) at the end
    assert sp.info.box[2] - sp.info.box[0] > caps[1].box[2] - caps[1].box[0]  # wider than the Korean
