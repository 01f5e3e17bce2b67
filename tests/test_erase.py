"""The erase stage: footprint inpainting beats a box remover, touches nothing else, refuses bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from kseg.erase import METHODS, EraseError, default_grow, erase, grow_mask
from kseg.errors import KsegError
from kseg.synth import fonts_for, render_frame


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    err = float(((a[where].astype(np.float64) - b[where]) ** 2).mean())
    return 100.0 if err == 0 else 10 * np.log10(255.0 ** 2 / err)


def textured(h: int = 120, w: int = 320, seed: int = 0) -> np.ndarray:
    """A smooth gradient with mild texture: a background whose clean version we know."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([60 + 120 * xx / w, 90 + 80 * yy / h, 160 - 60 * xx / w], -1)
    tex = cv2.GaussianBlur(rng.normal(0, 12, (h, w, 3)).astype(np.float32), (0, 0), 2)
    return np.clip(base + tex, 0, 255).astype(np.uint8)


def captioned(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """clean + a white caption with a black outline (cv2 text); its footprint and ink box."""
    img = clean.copy()
    org, font, scale = (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6
    cv2.putText(img, "KSEG 123", org, font, scale, (0, 0, 0), 9, cv2.LINE_AA)
    cv2.putText(img, "KSEG 123", org, font, scale, (255, 255, 255), 3, cv2.LINE_AA)
    foot = np.abs(img.astype(int) - clean).max(-1) > 0
    ys, xs = np.nonzero(foot)
    return img, foot, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def box_baseline(img: np.ndarray, box, frac: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = box
    p = round(frac * (y1 - y0))
    area = np.zeros(img.shape[:2], bool)
    area[max(0, y0 - p):y1 + p, max(0, x0 - p):x1 + p] = True
    return cv2.inpaint(img, area.astype(np.uint8), 3, cv2.INPAINT_TELEA), area


def test_footprint_erase_beats_the_box_baseline():
    clean = textured()
    img, foot, box = captioned(clean)
    base, area = box_baseline(img, box)
    ours = erase(img, foot)
    assert psnr(ours, clean, area) >= psnr(base, clean, area) + 3.0


@pytest.mark.skipif(not fonts_for("eval"), reason="no Korean fonts installed (kseg synth needs them)")
@pytest.mark.parametrize("kind", ["drama", "news"])
def test_synth_caption_erase_beats_the_box_baseline(kind):
    fr = next(f for f in (render_frame(1, i, "eval", size=(1280, 720), kinds=[kind]) for i in range(10))
              if f.meta["lines"])
    area = np.zeros(fr.label.shape, bool)
    for ln in fr.meta["lines"]:
        x0, y0, x1, y1 = ln["box"]
        p = round(0.1 * (y1 - y0))
        area[max(0, y0 - p):y1 + p, max(0, x0 - p):x1 + p] = True
    base = cv2.inpaint(fr.image, area.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    ours = erase(fr.image, fr.label >= 1)
    assert psnr(ours, fr.clean, area) > psnr(base, fr.clean, area) + 1.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("grow", [None, 0, 2])
def test_only_the_grown_mask_changes(method, grow):
    clean = textured(seed=1)
    img, foot, _ = captioned(clean)
    before = img.copy()
    out = erase(img, foot, method=method, grow=grow)
    changed = grow_mask(foot, grow)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out[~changed], img[~changed])  # bit for bit
    assert np.array_equal(img, before)  # the input is not modified
    # and the caption is really gone: the fill is close to the clean background
    assert psnr(out, clean, foot) > psnr(img, clean, foot) + 10


@pytest.mark.parametrize("method", METHODS)
def test_each_method_restores_a_flat_plate(method):
    img, foot, _ = captioned(np.full((120, 320, 3), (30, 60, 200), np.uint8))
    err = np.abs(erase(img, foot, method=method)[foot].astype(int) - (30, 60, 200))
    assert err.mean() < 2.0 and err.max() <= (1 if method in ("auto", "harmonic") else 8)


def test_caption_coloured_gaps_inside_the_mask_are_erased_and_counters_kept():
    """SAM leaves specks of a thick caption's fill unmasked inside its strokes; erased with the
    rest, they do not bleed the caption's colour into the fill. A letter's counter, which shows
    the background, is not erased."""
    bg = (40, 120, 60)
    img = np.full((120, 200, 3), bg, np.uint8)
    img[30:90, 20:80] = (250, 30, 30)  # a thick red stroke ...
    foot = np.zeros(img.shape[:2], bool)
    foot[30:90, 20:80] = True
    foot[55:65, 45:55] = False  # ... with a speck SAM missed
    img[30:90, 120:180] = (250, 30, 30)  # a letter "O": ring of red around background
    img[45:75, 135:165] = bg
    foot[30:90, 120:180] = True
    foot[45:75, 135:165] = False
    out = erase(img, foot, grow=1)
    assert np.abs(out[30:90, 20:80].astype(int) - bg).max() <= 2  # no red left in the stroke
    assert np.array_equal(out[50:70, 140:160], img[50:70, 140:160])  # the counter is untouched


def shadowed_letters(base, dx: int, blur: float, opacity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(clean, image, letters, shadow): white "HELLO 24" over flat footage ``base`` with a grey
    drop shadow 3 px down and ``dx`` right, blurred by ``blur``, of that ``opacity``."""
    clean = np.full((120, 320, 3), base, np.uint8)
    letters = np.zeros((120, 320), np.uint8)
    cv2.putText(letters, "HELLO 24", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 3, cv2.LINE_AA)
    shadow = cv2.GaussianBlur(np.roll(np.roll(letters, 3, 0), dx, 1).astype(np.float32), (0, 0), blur) / 255.0
    img = clean.astype(np.float32) * (1 - opacity * shadow[..., None])
    img = np.where(letters[..., None] > 127, 255.0, img).astype(np.uint8)
    return clean, img, letters, shadow


def test_soft_shadow_left_out_of_the_mask_is_erased_with_the_letters():
    """White vlog letters whose blurred grey drop shadow SAM did not mask: the shadow is found
    (darker below-right than above-left of the letters) and erased too, leaving no ghost."""
    clean, img, letters, shadow = shadowed_letters((150, 170, 150), 3, 2.0, 0.7)
    foot = letters > 127
    ghost = (shadow > 0.1) & ~grow_mask(foot)
    assert np.abs(img[ghost].astype(int) - clean[ghost]).mean() > 20  # the shadow is there to see
    out = erase(img, foot)
    assert np.abs(out[ghost].astype(int) - clean[ghost]).mean() < 8
    # a dark caption casts no light "shadow": nothing beyond the grown mask changes
    dark = np.where(letters[..., None] > 127, 20, clean).astype(np.uint8)
    changed = np.any(erase(dark, foot) != dark, axis=2)
    assert not (changed & ~grow_mask(foot)).any()


def test_soft_shadow_whose_core_is_in_the_mask_is_erased_to_its_tail():
    """The mask holds white letters and their shadow's core (as text-SAM's often does): the
    shadow is still found (the letters are the mask's lightest part, not its mean), and its
    blur, which fades out well beyond any grow, is followed outwards. Left there, the fill
    smeared it back over the letters as a dark ghost (18 levels off on average before). On a
    plate (every side alike) nothing beyond the grown mask changes."""
    clean, img, letters, shadow = shadowed_letters((200, 205, 195), 2, 5.0, 0.9)
    foot = (letters > 127) | (shadow > 0.4)
    area = grow_mask(foot, 14)
    err = np.abs(erase(img, foot).astype(int) - clean)[area].mean()
    assert err < 12, err
    plate = clean.copy()
    plate[40:100, 10:300] = (40, 40, 60)
    on_plate = np.where(letters[..., None] > 127, 255, plate).astype(np.uint8)
    changed = np.any(erase(on_plate, letters > 127) != on_plate, axis=2)
    assert not (changed & ~grow_mask(letters > 127)).any()


def glowing_letters(base, glow, texture: float = 0.0, seed: int = 0):
    """(clean, image, letters): white "HELLO 24" with a dark outline and a soft ``glow`` colour
    halo on every side (blur 3 px), over footage ``base`` with fine ``texture`` (grain sd)."""
    rng = np.random.default_rng(seed)
    clean = np.clip(np.full((120, 320, 3), base, np.float32) + rng.normal(0, texture, (120, 320, 1)), 0, 255)
    letters = np.zeros((120, 320), np.uint8)
    cv2.putText(letters, "HELLO 24", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 7, cv2.LINE_AA)
    halo = np.clip(cv2.GaussianBlur(cv2.dilate(letters, np.ones((5, 5), np.uint8)).astype(np.float32), (0, 0), 3.0)
                   / 255 * 1.6, 0, 1)[..., None]
    img = clean * (1 - 0.8 * halo) + np.float32(glow) * 0.8 * halo
    inner = np.zeros_like(letters)
    cv2.putText(inner, "HELLO 24", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 3, cv2.LINE_AA)
    img = np.where(letters[..., None] > 127, (90, 20, 70), img)
    img = np.where(inner[..., None] > 127, 255, img)
    return clean.astype(np.uint8), img.astype(np.uint8), letters > 127


def test_soft_glow_around_the_letters_is_erased_with_them():
    """A variety caption's pink halo on every side of its outline, beyond the mask and the
    grow: found (every side tinted alike, fading ring by ring) and erased, where before the
    fill spread its tint over the letters as a pink silhouette. Without a halo, on grainy
    footage, or on a plate around the letters (its colour does not fade), nothing beyond the
    grown mask changes."""
    from kseg.erase import _glow_reach, erase_region

    clean, img, foot = glowing_letters((150, 110, 90), (255, 120, 200))
    area = grow_mask(foot, 14)
    halo = grow_mask(foot, 6) & ~grow_mask(foot)
    assert np.abs(img[halo].astype(int) - clean[halo]).mean() > 10  # the halo is there to see
    assert np.abs(erase(img, foot).astype(int) - clean)[area].mean() < 5  # 15.7 before
    assert (erase_region(img, foot) & ~grow_mask(foot)).any()

    for base, tex in (((150, 110, 90), 0.0), ((120, 120, 120), 14.0)):
        clean, _, foot = glowing_letters(base, (0, 0, 0), tex)
        plain = np.where(foot[..., None], 250, clean).astype(np.uint8)  # no halo at all
        assert not (erase_region(plain, foot) & ~grow_mask(foot)).any()
    for y0, y1 in ((35, 95), (41, 84)):  # the second plate ends 1-2 px beyond the grown mask
        plate = np.full((120, 320, 3), (150, 110, 90), np.uint8)
        plate[y0:y1, 15:290] = (30, 40, 160)
        on_plate = np.where(foot[..., None], 250, plate).astype(np.uint8)
        assert not (erase_region(on_plate, foot) & ~grow_mask(foot)).any()
    # a plate whose edge runs through the grown mask (the drop-shadow rule takes its darker
    # side, as it did before): the glow rule alone sees its bottom side keep its colour
    plate[:] = (150, 110, 90)
    plate[46:88, 15:290] = (30, 40, 160)
    assert _glow_reach(np.where(foot[..., None], 250, plate).astype(np.uint8), grow_mask(foot)) == 0


def test_empty_mask_returns_a_copy():
    img = textured()
    for m in (np.zeros(img.shape[:2], bool), np.zeros(img.shape[:2], np.uint8)):
        out = erase(img, m)
        assert np.array_equal(out, img) and out is not img and not np.shares_memory(out, img)


def test_uint8_mask_255_is_the_same_as_bool():
    img, foot, _ = captioned(textured())
    assert np.array_equal(erase(img, foot.astype(np.uint8) * 255), erase(img, foot))


@pytest.mark.parametrize("method", METHODS)
def test_mask_over_the_whole_frame_does_not_crash(method):
    """Nothing is known to fill from: the harmonic fill gives one flat colour, OpenCV's
    inpainting leaves the frame as it is; neither invents texture nor fails."""
    img = textured(40, 60)
    out = erase(img, np.ones(img.shape[:2], bool), method=method)
    assert out.shape == img.shape and out.dtype == np.uint8
    if method in ("auto", "harmonic"):
        assert (out == out[0, 0]).all()
    else:
        assert np.array_equal(out, img)


def test_grow_mask():
    m = np.zeros((720, 1280), bool)
    m[100, 100] = True
    assert np.array_equal(grow_mask(m, 0), m)
    disc = grow_mask(m, 2)
    assert disc.dtype == bool and disc.sum() == 13 and disc[100, 98] and not disc[98, 98]
    assert grow_mask(m).sum() == grow_mask(m, default_grow(m)).sum()
    # the default grows with the frame: 4 px up to 720p, more on 1080p
    assert default_grow(m) == 4 and default_grow(np.zeros((1080, 1920), bool)) == 5
    assert default_grow(np.zeros((480, 854), bool)) == 4


@pytest.mark.parametrize("image, mask, words", [
    (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 12), bool), "12x10"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32), "float32"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 1), bool), "2-D"),
    (np.zeros((10, 10, 3), np.uint8), [[0] * 10] * 10, "list"),
    (np.zeros((10, 10), np.uint8), np.zeros((10, 10), bool), "RGB"),
    (np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10), bool), "RGB"),
    (np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), bool), "float32"),
])
def test_bad_input_is_one_clear_error(image, mask, words):
    with pytest.raises(KsegError) as e:
        erase(image, mask)
    msg = str(e.value)
    assert words in msg and "\n" not in msg and isinstance(e.value, EraseError)


@pytest.mark.parametrize("kw, words", [({"method": "magic"}, "unknown method"),
                                        ({"grow": -1}, "grow"), ({"grow": 2.5}, "grow")])
def test_bad_options_are_one_clear_error(kw, words):
    img = textured(20, 20)
    with pytest.raises(EraseError, match=words):
        erase(img, np.zeros((20, 20), bool), **kw)


def test_remembered_groups_are_those_of_the_mask_given():
    """fill_region remembers the groups of the last few masks (video erases one region per
    frame): a different mask, or the same buffer changed in place, gets its own groups."""
    from kseg.erase.fill import _groups_of, groups

    m = np.zeros((60, 200), bool)
    m[20:30, 10:40] = True
    assert _groups_of(m) == groups(m)
    m[20:30, 150:190] = True  # changed in place: a second group
    assert _groups_of(m) == groups(m) and len(groups(m)) == 2
    others = [np.roll(m, k, axis=1) for k in range(1, 7)]  # more masks than are remembered
    for o in others + others[::-1]:
        assert _groups_of(o) == groups(o)


def _shaded_plate(h: int = 60, w: int = 420) -> np.ndarray:
    """A silver news bar: bright middle, darker towards dark rim lines, even along its rows."""
    y = np.linspace(0, 1, h)[:, None]
    grey = 225 - 80 * (1 - np.sin(np.pi * y)) ** 1.5
    plate = np.repeat(np.repeat(grey[:, :, None], w, 1), 3, 2)
    plate[:3] = plate[-3:] = 40
    return np.clip(plate, 0, 255).astype(np.uint8)


def test_a_shaded_plate_is_filled_along_its_rows():
    """Letters cover most of a shaded plate's height: the membrane fill draws the rims' dark in
    from above and below (a grey band where the letters were), the row fill restores the plate."""
    from kseg.erase import erase_plate, erase_region

    clean = _shaded_plate()
    img = clean.copy()
    cv2.putText(img, "KSEG 2024", (20, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 5, cv2.LINE_AA)
    foot = np.abs(img.astype(int) - clean).max(-1) > 0
    region = erase_region(img, foot)
    rows = erase_plate(img, foot)
    assert rows is not None
    assert psnr(rows, clean, region) > psnr(erase(img, foot, rows=False), clean, region) + 8
    assert np.array_equal(erase(img, foot), rows)  # erase itself fills such a line by rows
    assert np.array_equal(rows[~region], img[~region])  # nothing else changes
    # every frame of a video event is filled the same way, without asking again
    again = erase_plate(img, foot, region=region, check=False)
    assert np.array_equal(again, rows)


def test_a_plate_with_texture_along_its_rows_is_left_to_the_membrane_fill():
    """A translucent plate over footage has no row structure: the row fill declines (None) and
    the caller's membrane fill erases it."""
    from kseg.erase import erase_plate

    clean = textured(60, 420, seed=3)
    img = clean.copy()
    cv2.putText(img, "KSEG 2024", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 4, cv2.LINE_AA)
    foot = np.abs(img.astype(int) - clean).max(-1) > 0
    assert erase_plate(img, foot) is None
    assert erase_plate(img, np.zeros_like(foot)) is not None  # nothing to erase: a copy


def test_remembered_pyramids_fill_as_a_fresh_one():
    """The harmonic fill remembers the pyramid of the last few holes (video fills one hole per
    frame): a hole changed in place, or more holes than are remembered, fill as the first time."""
    import kseg.erase.fill as fill

    rng = np.random.default_rng(3)
    crop = rng.integers(0, 255, (40, 90, 3), dtype=np.uint8)
    hole = np.zeros((40, 90), bool)
    hole[10:30, 20:70] = True
    fill._levels_of.recent = []
    first = fill.harmonic(crop, hole)
    assert fill._levels_of(hole.copy()) is fill._levels_of(hole)  # remembered, by content
    assert np.array_equal(fill.harmonic(crop, hole), first)
    hole[12:18, 75:85] = True  # changed in place
    fill._levels_of.recent = []
    fresh = fill.harmonic(crop, hole)
    hole2 = hole.copy()
    hole2[12:18, 75:85] = False
    fill._levels_of.recent = []
    fill.harmonic(crop, hole2)
    assert np.array_equal(fill.harmonic(crop, hole), fresh)
    others = [np.roll(hole, k, axis=1) for k in range(1, 7)]  # more holes than are remembered
    expect = []
    for o in others:
        fill._levels_of.recent = []
        expect.append(fill.harmonic(crop, o))
    for o, e in zip(others + others[::-1], expect + expect[::-1]):
        assert np.array_equal(fill.harmonic(crop, o), e)
    assert not np.abs(fresh - first).max() == 0  # the changed hole did fill differently


def test_the_fine_level_solved_on_luma_fills_as_all_three_channels_would():
    """The full-resolution sweeps relax the luma only and keep the coarse answer's chroma:
    on a smooth picture with a hue change across the hole, as good as relaxing every channel."""
    import kseg.erase.fill as fill

    yy, xx = np.mgrid[0:60, 0:200].astype(np.float32)
    # a harmonic picture (planes in each channel, so the exact fill is known), hue changing
    clean = np.stack([40 + xx, 200 - 0.5 * xx + yy, 60 + 2 * yy], -1).clip(0, 255)
    crop = clean.astype(np.uint8)
    hole = np.zeros((60, 200), bool)
    hole[15:45, 30:170] = True
    got = fill.harmonic(crop, hole)
    err = np.abs(got - clean)[hole]
    assert err.mean() < 0.6 and err.max() < 2  # every channel's change across the hole kept
    luma = (got * [0.299, 0.587, 0.114]).sum(-1)
    assert np.abs(luma - (clean * [0.299, 0.587, 0.114]).sum(-1))[hole].mean() < 1.0
    # relaxation is linear: the luma of a colour fill is the fill of the picture's luma, as
    # when every channel was relaxed (a textured border, where the fine sweeps matter)
    rng = np.random.default_rng(5)
    crop = cv2.GaussianBlur(rng.integers(0, 255, (50, 160, 3), np.uint8), (0, 0), 1.5)
    hole = np.zeros((50, 160), bool)
    hole[12:38, 20:140] = True
    got = (fill.harmonic(crop, hole) * [0.299, 0.587, 0.114]).sum(-1)
    grey = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None], 3, -1)
    assert np.abs(got - fill.harmonic(grey, hole)[..., 0])[hole].max() < 0.6


def _picture_over_black_band(lines: tuple[str, ...] = ("KSEG 2024 a line",)):
    """A slideshow frame: a textured picture 420 px wide above a black band, a white subtitle
    with a black outline in the band, its first line right under the picture's edge.
    (frame, clean frame, footprint: the letters and their outline, up to the picture's edge)."""
    clean = np.zeros((240, 640, 3), np.uint8)
    clean[:100, 110:530] = textured(100, 420, seed=3)
    img = clean.copy()
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, text in enumerate(lines):
        (tw, th), _ = cv2.getTextSize(text, font, 1.2, 8)
        org = ((640 - tw) // 2, 92 + th + 45 * k)
        cv2.putText(img, text, org, font, 1.2, (0, 0, 0), 8, cv2.LINE_AA)
        cv2.putText(img, text, org, font, 1.2, (255, 255, 255), 2, cv2.LINE_AA)
    img[:100] = clean[:100]  # drawn on the band: the outline stops at the picture
    return img, clean, cv2.dilate((img.min(-1) > 200).view(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)


def test_a_subtitle_under_a_pictures_edge_on_a_black_band_is_filled_along_the_band():
    """A real subtitled slideshow: a subtitle in the black surround just under a picture. Its
    erased region reaches the picture's bottom rows, and the membrane drew them down into the
    band as a grey smear the height of the letters; each row of the band is black from end to
    end, and the row fill keeps it black. On footage the rows predict nothing: the membrane."""
    img, clean, foot = _picture_over_black_band()
    band = np.zeros(img.shape[:2], bool)
    band[104:] = True
    region = grow_mask(foot, default_grow(foot))
    out = erase(img, foot)
    smear = erase(img, foot, rows=False)
    assert np.abs(out[band & region].astype(int) - clean[band & region]).max() <= 6
    assert np.abs(smear[band & region].astype(int) - clean[band & region]).mean() > 3 * max(
        1.0, np.abs(out[band & region].astype(int) - clean[band & region]).mean())
    # a two-line subtitle whose long first line runs under the picture: the caption's border
    # is the picture's along its top and the rows lose the check on the whole caption; the
    # band's rows, one colour end to end and between the words, are still filled along
    img, clean, foot = _picture_over_black_band(("KSEG 2024 a much longer line", "second"))
    region = grow_mask(foot, default_grow(foot))
    err = lambda a: np.abs(a[band & region].astype(int) - clean[band & region])  # noqa: E731
    assert err(erase(img, foot)).max() <= 6 and err(erase(img, foot, rows=False)).mean() > 10
    # captions over footage: the rows lose the check, the fill is the membrane's
    img2, foot2, _ = captioned(textured(seed=5))
    assert np.array_equal(erase(img2, foot2), erase(img2, foot2, rows=False))


def test_a_subtitle_on_the_band_stays_filled_along_it_when_a_tall_graphic_is_erased_too():
    """A real vlog frame (a McDonald's sign over a subtitle on a black band): the sign's arches
    were erased with the subtitle, and the row check's context round the tall arches reached
    the subtitle. The subtitle's pixels in that crop were filled as the arches' crop saw them,
    and the subtitle, overlapping what was done, was never row-checked itself: the membrane drew
    the picture's bottom rows into the band. Each group is checked on its own pixels. Here the
    tall graphic stands beside the subtitle (its context reaches 130 px sideways)."""
    img, clean, foot = _picture_over_black_band()
    logo = np.zeros(foot.shape, bool)
    logo[10:230, 20:60] = True
    img[logo] = (250, 200, 40)
    band = np.zeros(img.shape[:2], bool)
    band[104:] = True
    region = grow_mask(foot, default_grow(foot))
    out = erase(img, foot | logo)
    assert np.abs(out[band & region].astype(int) - clean[band & region]).max() <= 6
    assert np.array_equal(out[band & region], erase(img, foot)[band & region])
