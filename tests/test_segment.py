"""The segment stage: tiles, IoU ranking, model resolution and safe loading."""
from __future__ import annotations

import dataclasses
import http.server
import json
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from kseg.errors import ModelError
from kseg.segment import TextSegmenter, choose, save_random, tiles
from kseg.segment import registry
from kseg.segment.textsam import TextSamConfig
from kseg.types import TextLine


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    return save_random(tmp_path_factory.mktemp("m") / "text-sam.safetensors")


def test_tile_zooms_line_to_tile_height():
    t = tiles.tile_for_box((100, 600, 700, 640), tile_h=96)
    text_h_in_tile = 40 * t.scale
    assert text_h_in_tile == pytest.approx(96 / (1 + 2 * tiles.CONTEXT), rel=1e-6)
    assert t.width % 16 == 0
    box = t.to_tile((100, 600, 700, 640))
    assert 0 <= box[0] < box[2] <= t.width and 0 <= box[1] < box[3] <= t.height


def test_very_long_line_is_capped():
    t = tiles.tile_for_box((0, 0, 20000, 40), tile_h=96)
    assert t.width <= tiles.MAX_TILE_W


def test_cut_then_paste_returns_the_same_pixels():
    h, w = 360, 640
    m = np.zeros((h, w), np.float32)
    m[300:330, 200:420] = 1.0
    t = tiles.tile_for_box((200, 300, 420, 330), tile_h=96)
    tile_vals = tiles.cut(m, t, border_value=0)
    back, (x0, y0, x1, y1) = tiles.paste(tile_vals * 2 - 1, t, w, h)
    full = np.zeros((h, w), bool)
    full[y0:y1, x0:x1] = back > 0
    inter = (full & (m > 0)).sum()
    union = (full | (m > 0)).sum()
    assert inter / union > 0.97


def test_canvas_stacks_tiles_and_sets_rows():
    img = np.zeros((360, 640, 3), np.uint8)
    ts = [tiles.tile_for_box(b, 96) for b in [(10, 10, 200, 40), (10, 300, 600, 340)]]
    canvas = tiles.build_canvas(img, ts)
    assert canvas.shape == (192, max(t.width for t in ts), 3)
    assert [t.row for t in ts] == [0, 96]


def test_choose_ranks_by_predicted_iou_and_breaks_ties_by_stability():
    iou = torch.tensor([[0.2, 0.9, 0.5], [0.8, 0.8, 0.1]])
    stab = torch.tensor([[0.99, 0.1, 0.9], [0.5, 0.9, 1.0]])
    assert choose(iou, stab).tolist() == [1, 1]


def test_segmenter_returns_one_full_size_mask_per_line(random_model):
    seg = TextSegmenter(str(random_model), "cpu")
    img = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    lines = [TextLine((100, 280, 540, 320), [], 0.9), TextLine((150, 40, 400, 70), [], 0.8)]
    out = seg.segment(img, lines)
    assert len(out) == 2
    for lm in out:
        assert lm.mask.shape == (360, 640) and lm.mask.dtype == bool
        assert len(lm.iou_predictions) == 3 and len(lm.stability) == 3
        assert lm.chosen == int(np.argmax(lm.iou_predictions)) or \
            abs(max(lm.iou_predictions) - lm.iou_predictions[lm.chosen]) <= 1e-3
    assert seg.segment(img, []) == []
    assert set(seg.timings) == {"encode", "decode"}


def test_each_box_is_decoded_on_its_own_tile(random_model):
    seg = TextSegmenter(str(random_model), "cpu")
    img = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    one = [TextLine((100, 280, 540, 320), [], 0.9)]
    two = one + [TextLine((150, 40, 400, 70), [], 0.8)]
    tl, logits, iou, _, _ = seg._run(img, two)
    # one decoder pass per tile: nothing outside a box's own tile
    for i, t in enumerate(tl):
        outside = torch.ones(logits.shape[-2:], dtype=torch.bool)
        outside[:t.height, :t.width] = False  # each box's logits are its own tile's
        assert (logits[i][:, outside] == -20).all()
    # a lone line: its tile is the whole canvas, so both ways are the same call
    _, a, ia, _, _ = seg._run(img, one)
    seg.per_tile = False
    _, b, ib, _, _ = seg._run(img, one)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(ia, ib, atol=1e-6)
    # with several lines the old batched call also gives every line a mask of its own
    _, c, _, _, _ = seg._run(img, two)
    assert c.shape == logits.shape


def test_a_frames_logits_grow_with_its_lines_not_their_square(random_model):
    """Each line's logits are kept on its own tile: a frame of N lines holds N tiles of them,
    not N canvases of N tiles (a 1080p news frame's 11 lines: 150 MB more at the peak)."""
    seg = TextSegmenter(str(random_model), "cpu")
    img = np.random.default_rng(4).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    lines = [TextLine((100, 40 + 60 * k, 700, 80 + 60 * k), [], 0.9) for k in range(8)]
    tl, logits, _, stab, _ = seg._run(img, lines)
    assert logits.shape[:2] == (8, 3) and logits.shape[2] == max(t.height for t in tl)
    assert stab.shape == (8, 3)
    masks = seg.segment(img, lines)
    assert len(masks) == 8 and all(m.mask.shape == img.shape[:2] for m in masks)


def test_a_lines_mask_does_not_depend_on_the_other_lines_in_the_frame(random_model):
    """The tiles of one canvas are encoded as a batch: the encoder's convolutions would
    otherwise reach from one line's tile into the next, and a caption's mask (in video, the
    same caption on frames with other text) would change with what else is on screen."""
    seg = TextSegmenter(str(random_model), "cpu")
    img = np.random.default_rng(2).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    one = [TextLine((100, 280, 540, 320), [], 0.9)]
    two = one + [TextLine((300, 40, 380, 70), [], 0.8)]  # a narrower tile: no padding added to the first
    t1, a, ia, _, _ = seg._run(img, one)
    t2, b, ib, _, _ = seg._run(img, two)
    assert t2[1].width <= t2[0].width and t2[0].row == 0
    h, w = t1[0].height, t1[0].width
    assert torch.allclose(a[0][:, :h, :w], b[0][:, :h, :w], atol=1e-4) and torch.allclose(ia[0], ib[0], atol=1e-5)


def test_missing_embedded_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_MODELS", str(tmp_path))
    with pytest.raises(ModelError, match="kseg train"):
        registry.resolve(None)


def test_official_model_not_downloaded_points_to_pull(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="kseg models pull vit_b"):
        registry.resolve("vit_b")


def test_unknown_model_spec(tmp_path):
    with pytest.raises(ModelError, match="unknown model"):
        registry.resolve(str(tmp_path / "nope.pth"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump({"x": Evil()}, f)
    with pytest.raises(ModelError, match="cannot load"):
        registry.load_state_dict(p)


def test_corrupt_and_wrong_checkpoints(tmp_path, random_model):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(random_model.read_bytes()[:1000])
    with pytest.raises(ModelError):
        TextSegmenter(str(bad), "cpu")
    other = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(3)}, other)
    with pytest.raises(ModelError, match="unrecognised checkpoint"):
        TextSegmenter(str(other), "cpu")


def test_cuda_requested_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from kseg.segment import pick_device

    with pytest.raises(ModelError, match="no CUDA"):
        pick_device("cuda")


class _Server:
    """A loopback HTTP server serving fixed bytes, to test downloads without the network."""

    def __init__(self, body: bytes):
        body_ = body

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sam_vit_b_01ec64.pth"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_pull_checks_sha256_and_leaves_nothing_on_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path))
    srv = _Server(b"not the checkpoint")
    try:
        monkeypatch.setitem(registry.OFFICIAL, "vit_b", (srv.url, "0" * 64, 18))
        with pytest.raises(ModelError, match="SHA-256"):
            registry.pull("vit_b")
    finally:
        srv.close()
    assert not list((tmp_path / "sam").glob("*"))


def test_pull_installs_a_verified_file(tmp_path, monkeypatch):
    import hashlib

    body = b"pretend checkpoint bytes"
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path))
    srv = _Server(body)
    try:
        monkeypatch.setitem(registry.OFFICIAL, "vit_b", (srv.url, hashlib.sha256(body).hexdigest(), len(body)))
        p = registry.pull("vit_b")
    finally:
        srv.close()
    assert p.read_bytes() == body and [x.name for x in p.parent.iterdir()] == [p.name]


def test_pull_offline_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path))
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    monkeypatch.setitem(registry.OFFICIAL, "vit_b", ("http://127.0.0.1:9/sam.pth", "0" * 64, 1))
    with pytest.raises(ModelError, match="offline"):
        registry.pull("vit_b", timeout=5)
    with pytest.raises(ModelError, match="unknown model"):
        registry.pull("vit_x")


def test_pull_easyocr_korean_verifies_the_md5_of_the_pth_inside_the_zip(tmp_path, monkeypatch):
    import hashlib
    import io
    import zipfile

    payload = b"korean recogniser weights"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("korean_g2.pth", payload)
    monkeypatch.setenv("KSEG_CACHE", str(tmp_path))
    srv = _Server(buf.getvalue())
    try:
        spec = {"filename": "korean_g2.pth", "url": srv.url, "md5sum": hashlib.md5(payload).hexdigest()}
        monkeypatch.setattr(registry, "easyocr_spec", lambda: spec)
        p = registry.pull("easyocr-korean")
        assert p.read_bytes() == payload and not p.with_suffix(".zip").exists()
        p.unlink()
        monkeypatch.setattr(registry, "easyocr_spec", lambda: {**spec, "md5sum": "0" * 32})
        with pytest.raises(ModelError, match="checksum"):
            registry.pull("easyocr-korean")
        assert not p.exists()
    finally:
        srv.close()


def test_fused_attention_matches_segment_anythings():
    from segment_anything.modeling.transformer import Attention

    from kseg.segment.textsam import build_text_sam

    torch.manual_seed(0)
    sam = build_text_sam()
    attns = [m for m in sam.mask_decoder.modules() if isinstance(m, Attention)]
    assert attns
    with torch.no_grad():
        for a in attns:
            kk = torch.randn(2, 7, a.k_proj.in_features)
            qq = torch.randn(2, 50, a.q_proj.in_features)
            assert torch.allclose(a(qq, kk, kk), Attention.forward(a, qq, kk, kk), atol=1e-5)


def test_plate_spilling_output_is_not_chosen():
    """A caption on a light banner: SAM's top-ranked output takes the whole plate (fills the
    line box and spills past it); the output that stays on the text is kept instead, while
    a thick-outlined caption that merely fills its box keeps its choice."""
    import torch

    from kseg.segment import TextSegmenter
    from kseg.segment.tiles import Tile

    seg = TextSegmenter.__new__(TextSegmenter)
    seg.sam = type("S", (), {"mask_threshold": 0.0})()
    t = Tile(crop=(0.0, 0.0), scale=1.0, width=64, height=32, row=0)
    boxes = np.array([[16, 8, 48, 24]], np.float32)  # 32 x 16 line box
    logits = -torch.ones(1, 3, 32, 64)
    logits[0, 1, 10:22, 18:46:3] = 1  # strokes: ~30% of the box
    logits[0, 2, 2:30, 4:60] = 1  # the plate: all of the box and far beyond
    iou = torch.tensor([[0.0, 0.5, 0.7]])
    idx = torch.tensor([2])
    seg._avoid_plates(logits, boxes, [t], iou, idx)
    assert int(idx[0]) == 1
    logits2 = -torch.ones(1, 3, 32, 64)
    logits2[0, 1, 10:22, 18:46:3] = 1
    logits2[0, 2, 8:24, 15:50] = 1  # fills the box, hardly spills: thick outline, not a plate
    idx2 = torch.tensor([2])
    seg._avoid_plates(logits2, boxes, [t], iou, idx2)
    assert int(idx2[0]) == 2


def test_edge_refiner_starts_as_identity_and_its_window_is_exact():
    from kseg.segment.refine import FLOOR, EdgeRefiner, refine_window

    torch.manual_seed(0)
    ref = EdgeRefiner(8).eval()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (60, 120, 3), dtype=np.uint8)
    logits = np.full((60, 120), -12.0, np.float32)
    logits[25:35, 40:80] = rng.normal(0, 3, (10, 40))
    # zero-initialised last layer: an untrained refiner changes nothing
    assert np.array_equal(refine_window(ref, image, logits), logits)
    torch.nn.init.normal_(ref.body[-1].weight, std=0.5)
    out = refine_window(ref, image, logits)
    with torch.inference_mode():
        dense = ref(torch.from_numpy(image).permute(2, 0, 1)[None].float(), torch.from_numpy(logits)[None])[0].numpy()
    cand = logits > FLOOR
    # computing only around the candidates gives the dense answer there, and leaves the rest alone
    assert np.allclose(out[cand], dense[cand], atol=1e-4)
    assert np.array_equal(out[:10], logits[:10])
    assert not np.allclose(out[cand], logits[cand])


def test_context_refiner_starts_as_identity_and_reads_the_whole_window():
    from kseg.segment.refine import FLOOR, EdgeRefiner, refine_window

    torch.manual_seed(0)
    ref = EdgeRefiner(8, context=4).eval()
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (60, 160, 3), dtype=np.uint8)
    logits = np.full((60, 160), -12.0, np.float32)
    logits[25:35, 40:80] = rng.normal(0, 3, (10, 40))
    # FiLM and the last layer start at zero: the untrained branch changes nothing
    assert np.array_equal(refine_window(ref, image, logits), logits)
    for p in (ref.body[-1].weight, ref.film.weight, ref.film.bias):
        torch.nn.init.normal_(p, std=0.5)
    out = refine_window(ref, image, logits)
    timg = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        ctx = ref.line_context(timg, torch.from_numpy(logits)[None])
        dense = ref(timg, torch.from_numpy(logits)[None], ctx)[0].numpy()
    cand = logits > FLOOR
    # the dense layers run only around the candidates, but their context is the whole window's
    assert np.allclose(out[cand], dense[cand], atol=1e-4)
    assert np.array_equal(out[:10], logits[:10])
    # pixels far beyond the dense layers' reach change the answer through the context
    far = image.copy()
    far[:, 130:] = 0
    assert not np.allclose(refine_window(ref, far, logits)[cand], out[cand])


def test_config_from_before_the_refiner_loads_without_one():
    from kseg.segment.textsam import build_text_sam

    old = json.loads(TextSamConfig().to_json())
    del old["refiner"], old["refiner_dilations"], old["refiner_context"]
    cfg = TextSamConfig.from_json(json.dumps(old))
    assert cfg.refiner == 0 and not hasattr(build_text_sam(cfg), "refiner")


def test_bootstrap_interval_brackets_the_score_and_the_lead_between_columns():
    from kseg.evaluate import bootstrap_ci

    rng = np.random.default_rng(0)
    union = rng.integers(500, 5000, 200)
    a = (union * rng.uniform(0.85, 0.95, 200)).astype(np.int64)  # column 0: about 0.90
    b = (union * rng.uniform(0.75, 0.85, 200)).astype(np.int64)  # column 1: about 0.80
    pf = np.stack([np.stack([a, union], 1), np.stack([b, union], 1)], 1)
    lo, hi = bootstrap_ci(pf, 0)
    point = a.sum() / union.sum()
    assert lo < point < hi and hi - lo < 0.02
    dlo, dhi = bootstrap_ci(pf, 0, 1)
    assert 0.05 < dlo < dhi < 0.15  # column 0 leads by about 0.10, clearly
    assert bootstrap_ci(pf, 0) == [lo, hi], "fixed seed: the same interval every run"
    same = bootstrap_ci(pf, 0, 0)
    assert same == [0.0, 0.0]


def test_oracle_is_the_best_any_per_line_choice_can_reach():
    import itertools

    from kseg.evaluate import oracle_fgiou

    # per-line best IoU is not the answer: line 0's perfect tiny output loses to its big good one
    iu = np.array([[[1, 1], [90, 100], [0, 0]], [[0, 1000], [0, 1000], [0, 1000]]], np.float64)
    assert abs(oracle_fgiou(iu) - 90 / 1100) < 1e-12
    rng = np.random.default_rng(0)
    for _ in range(20):
        u = rng.integers(1, 500, (5, 3)).astype(np.float64)
        x = np.stack([np.floor(u * rng.random((5, 3))), u], -1)
        brute = max(sum(x[i, c[i], 0] for i in range(5)) / sum(x[i, c[i], 1] for i in range(5))
                    for c in itertools.product(range(3), repeat=5))
        assert abs(oracle_fgiou(x) - brute) < 1e-9
    assert oracle_fgiou(np.zeros((0, 3, 2))) == 1.0


def test_scorer_features_measure_the_refined_masks():
    from kseg.segment.scorer import BAND, N_FEATURES, PER_OUTPUT, line_features

    win = np.zeros((40, 100, 3), np.uint8)
    win[10:30, 20:60] = 255  # a bright block: strong gradient on its edge
    v1 = np.full((40, 100), -8.0, np.float32)
    v1[10:30, 20:60] = 8.0  # a sure mask on the block
    v2 = v1.copy()
    v2[10:30, 60:80] = 1.0  # plus an unsure strip beside it, on flat background
    f = line_features(win, v1, v2, (20, 10, 100, 30), [0.1, 0.8, 0.7], [0.0, 0.95, 0.9])
    assert f.shape == (N_FEATURES,) and f.dtype == np.float32
    a1, a2 = f[:PER_OUTPUT], f[PER_OUTPUT:2 * PER_OUTPUT]
    assert a1[0] == pytest.approx(800 / 1600) and a2[0] == pytest.approx(1200 / 1600)  # area over the box
    assert a1[1] == 0 and a1[2] == BAND  # no uncertain band
    assert a2[1] == pytest.approx(400 / 1200) and a2[2] == pytest.approx(1.0)
    assert a1[3] > a2[3]  # output 1's edge lies on the image's edge; output 2's partly on flat ground
    assert list(a1[4:]) == pytest.approx([0.8, 0.95]) and list(a2[4:]) == pytest.approx([0.7, 0.9])
    assert np.allclose(f[2 * PER_OUTPUT:3 * PER_OUTPUT], a1 - a2)
    assert f[-1] == pytest.approx(800 / 1200)  # the masks' overlap
    assert line_features(win, v1, v1, (20, 10, 100, 30), [0, 1, 1], [0, 1, 1])[-1] == 1.0


def test_colour_features_tell_an_outline_from_a_halo_of_background():
    """Feature set 2: a ring that output 2 adds is far in colour from the surroundings when it
    is the caption's dark outline, and near them when it is only background."""
    from kseg.segment.scorer import COLOUR_FEATURES, FEATURES, N_FEATURES, line_features

    rng = np.random.default_rng(0)
    bg = rng.integers(90, 110, (40, 100, 3)).astype(np.uint8)  # grey, a little noisy
    v1 = np.full((40, 100), -8.0, np.float32)
    v1[15:25, 30:70] = 8.0  # the white fill
    v2 = np.full((40, 100), -8.0, np.float32)
    v2[12:28, 27:73] = 8.0  # fill plus a 3-px ring
    outlined, halo = bg.copy(), bg.copy()
    outlined[12:28, 27:73] = 10  # the ring is a black outline
    for w in (outlined, halo):
        w[15:25, 30:70] = 250
    fo = line_features(outlined, v1, v2, (30, 15, 70, 25), [0.1, 0.8, 0.7], [0.0, 0.9, 0.9], version=2)
    fh = line_features(halo, v1, v2, (30, 15, 70, 25), [0.1, 0.8, 0.7], [0.0, 0.9, 0.9], version=2)
    assert fo.shape == fh.shape == (FEATURES[2],) == (N_FEATURES + COLOUR_FEATURES,)
    assert np.array_equal(fo[:N_FEATURES], line_features(outlined, v1, v2, (30, 15, 70, 25), [0.1, 0.8, 0.7],
                                                         [0.0, 0.9, 0.9]))  # set 1 is set 2's start
    ring_out, ring_core = -2, -1
    assert fo[ring_out] > 5 * fh[ring_out]  # an outline stands apart from the ground; a halo is ground
    assert fh[ring_core] > 1 and fo[ring_core] > 1  # both differ from the white fill
    assert fo[-3] == pytest.approx(fh[-3]) == pytest.approx(1 - 400 / 736)  # the ring's share of the union
    # output 2's edge (outline against grey) has contrast; in the halo case it lies on flat ground
    assert fo[N_FEATURES + 2] > 3 * fh[N_FEATURES + 2]


def test_weights_with_nan_are_refused_with_one_line(tmp_path, monkeypatch):
    """A damaged model file must not give empty masks and exit 0 (issue 24)."""
    from safetensors.torch import load_file, save_file
    from typer.testing import CliRunner

    from kseg.cli import app
    from kseg.errors import ModelError
    from kseg.recognize.kseg_ocr import load_model
    from kseg.segment import TextSegmenter, save_random

    good = tmp_path / "good" / "text-sam.safetensors"
    good.parent.mkdir()
    save_random(good)
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
    sd = load_file(str(good))
    name = next(k for k, v in sd.items() if v.is_floating_point())
    sd[name] = sd[name].clone()
    sd[name].view(-1)[0] = float("nan")
    bad = tmp_path / "bad" / "text-sam.safetensors"
    bad.parent.mkdir()
    save_file(sd, str(bad), metadata=meta)
    with pytest.raises(ModelError, match="NaN or infinite"):
        TextSegmenter(str(bad), "cpu")
    root = Path(__file__).resolve().parents[1]
    ocr = load_file(str(root / "models" / "kseg-ocr.safetensors"))
    with safe_open(str(root / "models" / "kseg-ocr.safetensors"), framework="pt") as f:
        ocr_meta = f.metadata()
    k = next(k for k, v in ocr.items() if v.is_floating_point())
    ocr[k] = ocr[k].clone()
    ocr[k].view(-1)[-1] = float("inf")
    save_file(ocr, str(tmp_path / "ocr.safetensors"), metadata=ocr_meta)
    with pytest.raises(ModelError, match="NaN or infinite"):
        load_model(tmp_path / "ocr.safetensors")
    img = tmp_path / "f.png"
    import cv2

    cv2.imwrite(str(img), np.full((72, 128, 3), 90, np.uint8))
    monkeypatch.setenv("KSEG_MODELS", str(bad.parent))
    r = CliRunner().invoke(app, ["segment", str(img), "-o", str(tmp_path / "out"), "-q"])
    assert r.exit_code == 1 and "NaN or infinite" in r.output and r.output.count("\n") == 1


def test_a_box_sam_calls_empty_is_kept_only_when_the_reader_reads_korean_in_it():
    # text-SAM's empty answer drops a box; on real footage it gives it to real captions too, so
    # a box the reader reads as Korean (sure enough) gets SAM's best non-empty output instead.
    from conftest import FakeDetector
    from kseg.pipeline import RESCUE_SCORE, SegmentPipeline
    from kseg.types import LineMask, Recognition

    img = np.zeros((90, 200, 3), np.uint8)
    img[10:20, 20:80] = 255  # three white "lines"
    img[40:50, 20:80] = 255
    img[70:80, 20:80] = 255
    reads = {10: ("안녕하세요", 0.9), 40: ("MBC", 0.95), 70: ("안녕", RESCUE_SCORE - 0.1)}

    class Refusing:
        name = "refusing"

        def _masks(self, rgb, lines, ink):
            out = []
            for ln in lines:
                m = np.zeros(rgb.shape[:2], bool)
                if ink:
                    x0, y0, x1, y1 = ln.box
                    m[y0:y1, x0:x1] = True
                out.append(LineMask(m, [0.9, 0.5, 0.4], [0.0, 0.9, 0.9], 0 if not ink else 1))
            return out

        def segment(self, rgb, lines):
            return self._masks(rgb, lines, ink=False)

        def segment_forced(self, rgb, lines):
            self.forced = [ln.box[1] for ln in lines]
            return self._masks(rgb, lines, ink=True)

    class Reader:
        def recognize(self, image, line, mask):
            text, score = reads[line.box[1]]
            return Recognition(text, "fake", score)

    seg = Refusing()
    res = SegmentPipeline(detector=FakeDetector(), segmenter=seg, recognizer_impl=Reader()).process(img)
    assert [r.line.box[1] for r in res.regions] == [10]
    assert seg.forced == [10] and res.regions[0].mask.mask.any()
    # kseg-fill's letters in the box (its strip margin round it), or text-SAM's forced output
    ys, xs = np.nonzero(res.regions[0].mask.mask)
    assert ys.min() >= 10 - 4 and ys.max() < 20 + 4 and xs.min() >= 20 - 4 and xs.max() < 80 + 4
    assert "rescue" in res.seconds

    # a segmenter that cannot be asked again keeps the old rule: no ink, no region
    del Refusing.segment_forced
    res = SegmentPipeline(detector=FakeDetector(), segmenter=Refusing(), recognizer_impl=Reader()).process(img)
    assert res.regions == []


def test_a_refused_box_craft_scored_high_is_kept_when_the_reader_reads_hangul_still_profile_only():
    # big display captions: text-SAM refuses them and the reader is unsure, but CRAFT scored the
    # line well above the refused non-captions; the still profile keeps them, the video one not
    from conftest import FakeDetector
    from kseg.pipeline import RESCUE_CRAFT, RESCUE_SCORE, SegmentPipeline
    from kseg.types import LineMask, Recognition

    img = np.zeros((90, 200, 3), np.uint8)
    img[10:20, 20:80] = 255
    img[40:50, 20:80] = 255
    img[70:80, 20:80] = 255
    th = RESCUE_CRAFT["still"]
    craft = {10: th + 0.02, 40: th + 0.02, 70: th - 0.02}
    reads = {10: ("정색", RESCUE_SCORE - 0.2), 40: ("EN", RESCUE_SCORE - 0.2), 70: ("헤!", RESCUE_SCORE - 0.2)}

    class Scored(FakeDetector):
        def __init__(self, profile):
            self.profile = profile

        def detect(self, rgb):
            return [dataclasses.replace(ln, score=craft[ln.box[1]]) for ln in super().detect(rgb)]

    class Refusing:
        name = "refusing"

        def segment(self, rgb, lines):
            return [LineMask(np.zeros(rgb.shape[:2], bool), [0.9], [0.0], 0) for _ in lines]

        def segment_forced(self, rgb, lines):
            out = []
            for ln in lines:
                m = np.zeros(rgb.shape[:2], bool)
                x0, y0, x1, y1 = ln.box
                m[y0:y1, x0:x1] = True
                out.append(LineMask(m, [0.9], [0.9], 0))
            return out

    class Reader:
        def recognize(self, image, line, mask):
            text, score = reads[line.box[1]]
            return Recognition(text, "fake", score)

    def kept(profile):
        res = SegmentPipeline(detector=Scored(profile), segmenter=Refusing(), recognizer_impl=Reader()).process(img)
        return [r.line.box[1] for r in res.regions]

    assert kept("still") == [10]  # Hangul in a high-scoring line; not Latin, not a low-scoring line
    assert kept("video") == []


def test_segment_forced_refuses_the_empty_answer():
    from kseg.detect.synthetic import background
    from kseg.segment import TextSegmenter
    from kseg.types import TextLine

    seg = TextSegmenter(device="cpu")
    img = background(1280, 720, seed=4)  # no text: the embedded model answers "no caption"
    ln = TextLine((500, 600, 800, 650), [(500, 600), (800, 600), (800, 650), (500, 650)], 1.0)
    said = seg.segment(img, [ln])[0]
    forced = seg.segment_forced(img, [ln])[0]
    assert said.chosen == 0 and not said.mask.any()
    assert forced.chosen in (1, 2) and forced.iou_predictions == said.iou_predictions
    assert seg.segment_forced(img, []) == []


def test_text_in_a_top_corner_is_an_overlay_on_stills_unless_included():
    """A still's channel logo or programme bar (small, top corner) is read, reported under
    "overlays" and left out of the mask; captions elsewhere, and the same text with
    include_overlays or in video (which tells overlays by time), are kept."""
    from conftest import FakeDetector, FakeSegmenter
    from kseg.pipeline import SegmentPipeline, corner_overlay
    from kseg.types import Recognition

    img = np.zeros((360, 640, 3), np.uint8)
    img[10:30, 20:120] = 255  # top-left corner: a programme bar
    img[10:30, 540:620] = 255  # top-right corner: a Korean logo
    img[10:30, 270:370] = 255  # top centre: a caption
    img[300:330, 200:440] = 255  # bottom: a caption
    reads = {20: "무한상사", 540: "무한도전", 270: "1년 후", 200: "안녕하세요"}

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition(reads[line.box[0]], "fake", 0.9)

    def run(**kw):
        return SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader(),
                               **kw).process(img)

    res = run()
    assert [r.text.text for r in res.regions] == ["1년 후", "안녕하세요"]
    assert int(res.mask.astype(bool).sum()) == 20 * 100 + 30 * 240  # the corners' pixels are not in it
    js = res.to_json()
    assert sorted(o["text"] for o in js["overlays"]) == ["무한도전", "무한상사"]
    assert all(len(o["box"]) == 4 for o in js["overlays"])
    assert sorted(r.text.text for r in run(include_overlays=True).regions) == ["1년 후", "무한도전", "무한상사", "안녕하세요"]
    assert run(include_overlays=True).to_json()["overlays"] == []
    # translate-video's pipeline keeps them: its overlay rule is how long text stays
    pipe = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader())
    pipe.detector.with_profile = lambda p: pipe.detector
    assert pipe.for_video().include_overlays and not pipe.include_overlays
    # a tall corner title is not small: a caption (a variety show's big corner caption)
    assert not corner_overlay((10, 2, 150, 64), 360, 640) and corner_overlay((10, 5, 150, 25), 360, 640)
    assert not corner_overlay((10, 50, 150, 72), 360, 640)  # below the top 19 %
    # a programme bar reaches further in from the left than a logo does; a caption top right
    # (a teaser's date) starts nearer the middle
    assert corner_overlay((40, 25, 220, 60), 360, 640)
    assert not corner_overlay((460, 20, 620, 45), 360, 640) and corner_overlay((490, 20, 620, 45), 360, 640)


def test_a_collage_tiles_logo_is_an_overlay_on_stills():
    """Fans' collages of screenshots: the logo in a tile's top corner (not the frame's) is an
    overlay; each tile's caption, a caption high in the middle of a tile, and one in the
    frame's top corner but low in its tile, stay captions."""
    from conftest import FakeDetector, FakeSegmenter
    from test_detect import _picture
    from kseg.pipeline import SegmentPipeline
    from kseg.types import Recognition

    img = np.full((407, 723, 3), 0, np.uint8)
    for n, (y, x) in enumerate(((0, 0), (0, 363), (205, 0), (205, 363))):
        img[y:y + 202, x:x + 360] = np.minimum(_picture(202, 360, n), 240)  # no white: FakeDetector's "text"
    img[212:226, 375:430] = 255  # the bottom-right tile's logo: the frame's middle, its tile's top-left
    img[370:390, 450:640] = 255  # its caption
    img[215:235, 150:250] = 255  # the bottom-left tile's caption, high in the middle of its tile
    img[50:66, 30:110] = 255  # the top-left tile's caption: in the frame's top corner, not its tile's
    reads = {55: "무한도전", 190: "안녕하세요", 100: "1년 후", 80: "설이?"}  # by width: the tile is cropped below

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition(reads[line.box[2] - line.box[0]], "fake", 0.9)

    res = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(img)
    assert sorted(r.text.text for r in res.regions) == ["1년 후", "설이?", "안녕하세요"]
    assert [o["text"] for o in res.to_json()["overlays"]] == ["무한도전"]
    one = img[205:407, 363:723].copy()  # the same tile alone: its logo in the frame's corner
    res = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(one)
    assert [o["text"] for o in res.to_json()["overlays"]] == ["무한도전"]


def test_a_split_screen_screenshots_logo_is_an_overlay_in_a_collage():
    """A screenshot of a split screen (three people in a car, side by side) is cut into its
    parts by ``panels``; its logo sits in the screenshot's top corner, past the first part's
    (bench/real: the programme logo of more/0001 read as a caption). A caption low in a part
    stays one, and so does one in the top left of the collage's row of two screenshots (too wide
    to be a screenshot) outside the first screenshot's corner."""
    from conftest import FakeDetector, FakeSegmenter
    from test_detect import _picture
    from kseg.pipeline import SegmentPipeline
    from kseg.types import Recognition

    img = np.full((407, 723, 3), 0, np.uint8)
    for n, (y, x) in enumerate(((0, 0), (0, 363), (205, 0), (205, 363))):
        img[y:y + 202, x:x + 360] = np.minimum(_picture(202, 360, n), 240)  # no white: FakeDetector's "text"
    for k in range(3):  # the top-left screenshot is a split screen
        img[0:202, 120 * k:120 * (k + 1)] = np.minimum(_picture(202, 120, 10 + k), 240)
    img[8:22, 10:80] = 255  # its logo: the screenshot's corner, the first part's middle
    img[150:170, 130:230] = 255  # a caption low in the middle part
    img[8:24, 150:230] = 255  # a caption at the top of the middle part: the row's corner, no screenshot's
    reads = {70: "무한도전", 100: "안녕하세요", 80: "설이?"}

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition(reads[line.box[2] - line.box[0]], "fake", 0.9)

    res = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(img)
    assert [o["text"] for o in res.to_json()["overlays"]] == ["무한도전"]
    assert sorted(r.text.text for r in res.regions) == ["설이?", "안녕하세요"]


def test_lines_are_read_from_the_detectors_box_moved_in_by_its_read_shrink():
    """CRAFT's boxes are taller than the letters: the reader gets them moved in by the
    detector's read_shrink (the mask, the region and the JSON keep the detector's box); a
    detector that does not declare one is read from its own boxes."""
    from conftest import FakeDetector, FakeSegmenter
    from kseg.pipeline import SegmentPipeline
    from kseg.types import Recognition

    img = np.zeros((120, 200, 3), np.uint8)
    img[40:80, 20:180] = 255
    seen = []

    class Reader:
        def recognize(self, image, line, mask):
            seen.append(line.box)
            return Recognition("안녕", "fake", 0.9)

    class Loose(FakeDetector):
        read_shrink = 0.25

    res = SegmentPipeline(detector=Loose(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(img)
    assert seen == [(20, 45, 180, 75)] and res.regions[0].line.box == (20, 40, 180, 80)
    seen.clear()
    SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(img)
    assert seen == [(20, 40, 180, 80)]

    class Refusing(FakeSegmenter):  # text-SAM says "no caption": the rescue reads the same box
        def segment(self, rgb, lines):
            out = super().segment(rgb, lines)
            for m in out:
                m.mask[:] = False
            return out

        def segment_forced(self, rgb, lines):
            return super().segment(rgb, lines)

    seen.clear()
    res = SegmentPipeline(detector=Loose(), segmenter=Refusing(), recognizer_impl=Reader()).process(img)
    assert seen == [(20, 45, 180, 75)] * 2 and len(res.regions) == 1


def test_still_lines_are_read_from_the_most_confident_of_several_moved_in_boxes():
    """On a still frame a reader that can choose (recognize_best) gets the detector's moved-in box
    first, then the box moved in by each of READ_SHRINKS; other readers, and video, read one box."""
    from conftest import FakeDetector, FakeSegmenter
    from kseg.pipeline import READ_SHRINKS, SegmentPipeline
    from kseg.types import Recognition

    assert READ_SHRINKS["still"] == (0.1, 0.3) and "video" not in READ_SHRINKS
    img = np.zeros((120, 200, 3), np.uint8)
    img[40:80, 20:180] = 255
    offered, single = [], []

    class Chooser:
        def recognize(self, image, line, mask):
            single.append(line.box)
            return Recognition("안녕", "fake", 0.9)

        def recognize_best(self, image, lines, mask):
            offered.append([ln.box for ln in lines])
            return Recognition("반가워", "fake", 0.95)

    class Plain:
        def recognize(self, image, line, mask):
            single.append(line.box)
            return Recognition("안녕", "fake", 0.9)

    class Still(FakeDetector):
        read_shrink, profile = 0.2, "still"

    class Video(Still):
        profile = "video"

    res = SegmentPipeline(detector=Still(), segmenter=FakeSegmenter(), recognizer_impl=Chooser()).process(img)
    # a 40-px box: 0.2 moves each edge 4 px, 0.1 2 px, 0.3 6 px
    assert offered == [[(20, 44, 180, 76), (20, 42, 180, 78), (20, 46, 180, 74)]] and not single
    assert res.regions[0].text.text == "반가워" and res.regions[0].line.box == (20, 40, 180, 80)
    offered.clear()
    SegmentPipeline(detector=Still(), segmenter=FakeSegmenter(), recognizer_impl=Plain()).process(img)
    SegmentPipeline(detector=Video(), segmenter=FakeSegmenter(), recognizer_impl=Chooser()).process(img)
    SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Chooser()).process(img)
    assert not offered and single == [(20, 44, 180, 76), (20, 44, 180, 76), (20, 40, 180, 80)]


def test_text_with_no_korean_is_left_alone_unless_all_text():
    from conftest import FakeDetector, FakeSegmenter
    from kseg.pipeline import SegmentPipeline, not_korean
    from kseg.types import Recognition

    assert [not_korean(t) for t in ("MBC", "KBS2", "10:23:52", "I'm Korea", "baby가", "ㅋㅋ", "!!", "♥", "A", "3", "")] \
        == [True, True, True, True, False, False, False, False, True, True, False]
    img = np.zeros((90, 200, 3), np.uint8)
    img[10:20, 20:80] = 255
    img[40:50, 20:80] = 255
    img[70:80, 20:80] = 255
    reads = {10: "MBC", 40: "안녕하세요!!", 70: "!!!"}

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition(reads[line.box[1]], "fake", 0.9)

    def run(**kw):
        res = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader(),
                              **kw).process(img)
        return [r.text.text for r in res.regions], int(res.mask.astype(bool).sum())

    texts, ink = run()
    assert texts == ["안녕하세요!!", "!!!"] and ink == 1200  # the logo's pixels are not in the mask
    assert run(all_text=True) == (["MBC", "안녕하세요!!", "!!!"], 1800)
    # where the left-out text was is reported beside the result (video stops watching there)
    res = SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(img)
    assert len(res.left_out) == 1 and res.left_out[0][1] <= 10 < res.left_out[0][3]
    assert "left_out" not in res.to_json()


def test_a_still_collage_is_detected_screenshot_by_screenshot():
    """A fans' collage of screenshots gets the detector's collage reading (each screenshot as a
    frame of its own) in the still profile; the video profile and detectors without it read
    the frame whole, and the corner rule still sees the same tiles."""
    from conftest import FakeDetector, FakeSegmenter
    from kseg.pipeline import SegmentPipeline
    from kseg.types import Recognition
    from test_detect import _picture

    grid = np.zeros((404, 720, 3), np.uint8)
    for n, (y, x) in enumerate(((0, 0), (0, 360), (202, 0), (202, 360))):
        grid[y:y + 202, x:x + 360] = np.minimum(_picture(202, 360, n), 240)  # no white: no fake text
    grid[150:170, 400:600] = 255  # one caption, in the second screenshot
    calls = []

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition("안녕하세요", "fake", 0.9)

    class Still(FakeDetector):
        read_shrink, profile = 0.2, "still"

        def detect_collage(self, image, tiles, whole):
            calls.append((sorted(tiles), [ln.box for ln in whole]))
            return whole

    class Video(Still):
        profile = "video"

    res = SegmentPipeline(detector=Still(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(grid)
    assert len(calls) == 1 and len(calls[0][0]) == 4 and calls[0][1] == [(400, 150, 600, 170)]
    assert [r.line.box for r in res.regions] == [(400, 150, 600, 170)]
    SegmentPipeline(detector=Video(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(grid)
    SegmentPipeline(detector=FakeDetector(), segmenter=FakeSegmenter(), recognizer_impl=Reader()).process(grid)
    assert len(calls) == 1


def test_a_one_syllable_line_is_segmented_whole():
    """A line of one syllable (a variety show's 왜, the last syllable of a subtitle wrapped onto its
    own line) boxed tight is square; text-SAM, which learnt on lines, missed whole strokes of
    such glyphs (a real subtitle's 다 kept its top half after erasing). Its prompt is widened:
    each glyph's footprint is covered, and nothing beside the line is taken."""
    from kseg.detect import synthetic
    from kseg.segment import NECK, TextSegmenter
    from kseg.types import TextLine

    seg = TextSegmenter(device="cpu")
    img = np.full((720, 1280, 3), 12, np.uint8)
    texts = ["다", "왜", "헉", "심", "응"]
    truth: list[np.ndarray] = []
    synthetic.draw_captions(img, [synthetic.Caption(t, (160 + 240 * k, 600), 52) for k, t in enumerate(texts)], truth)
    lines = []
    for m in truth:
        ys, xs = np.nonzero(m)
        x0, y0, x1, y1 = int(xs.min()) - 3, int(ys.min()) - 3, int(xs.max()) + 4, int(ys.max()) + 4
        lines.append(TextLine((x0, y0, x1, y1), [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], 1.0))
    covered = []
    for ln, m, got in zip(lines, truth, seg.segment(img, lines)):
        covered.append((got.mask & m).sum() / m.sum())
        x0, y0, x1, y1 = ln.box
        xs = np.nonzero(got.mask.any(0))[0]
        assert xs.min() >= x0 - NECK * (y1 - y0) - 1 and xs.max() <= x1 + NECK * (y1 - y0) + 1
    assert min(covered) >= 0.85 and np.mean(covered) >= 0.9, [round(float(c), 2) for c in covered]


def test_a_rescued_line_is_masked_by_its_letters_not_by_text_sams_blob():
    """Red letters over a shirt, a starburst and skin (bench/real's `처량`): text-SAM refuses the
    box and its other outputs are blobs over the box and beyond; the rescued line's mask must be
    the letters (kseg-fill's), or the erase smears the footage round them and the style stage
    measures the shirt as an outline."""
    from PIL import Image, ImageDraw, ImageFont

    from kseg.detect.synthetic import FONT
    from kseg.pipeline import SegmentPipeline
    from kseg.style.fillnet import model_path
    from kseg.types import LineMask, Recognition, TextLine

    if not model_path().is_file():
        pytest.skip("no kseg-fill model")
    H, W = 240, 360
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :180] = (40, 160, 200)  # a blue shirt
    img[:, 180:] = (200, 150, 120)  # skin
    tri = np.array([[60, 240], [200, 120], [260, 240]], np.int32)
    import cv2

    cv2.fillPoly(img, [tri], (250, 215, 40))  # a yellow starburst's point
    pil = Image.fromarray(img)
    ImageDraw.Draw(pil).text((70, 60), "처량", font=ImageFont.truetype(FONT, 90), fill=(200, 20, 10))
    img = np.asarray(pil).copy()
    letters = (np.abs(img.astype(int) - (200, 20, 10)).sum(-1) < 60)
    ys, xs = np.nonzero(letters)
    box = (int(xs.min()) - 6, int(ys.min()) - 6, int(xs.max()) + 7, int(ys.max()) + 7)

    class Detector:
        def detect(self, rgb):
            x0, y0, x1, y1 = box
            return [TextLine(box=box, polygon=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)], score=0.9)]

    class Refusing:
        name = "refusing"

        def segment(self, rgb, lines):
            return [LineMask(np.zeros(rgb.shape[:2], bool), [0.6, 0.02, 0.2], [0.0, 0.9, 0.9], 0) for _ in lines]

        def segment_forced(self, rgb, lines):
            m = np.zeros(rgb.shape[:2], bool)
            x0, y0, x1, y1 = lines[0].box
            m[max(0, y0 - 30):y1 + 30, max(0, x0 - 30):x1 + 30] = True  # the blob
            return [LineMask(m, [0.6, 0.02, 0.2], [0.0, 0.9, 0.9], 2)]

    class Reader:
        def recognize(self, image, line, mask):
            return Recognition("처량", "fake", 0.9)

    res = SegmentPipeline(detector=Detector(), segmenter=Refusing(), recognizer_impl=Reader()).process(img)
    assert len(res.regions) == 1
    m = res.regions[0].mask.mask
    near = cv2.dilate(letters.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (m & letters).sum() >= 0.6 * letters.sum()  # the letters are in it
    assert (m & ~near).sum() <= 0.15 * m.sum()  # and little of the footage round them
