"""`kseg train`: a tiny text-SAM learns on a few synthetic frames, checkpoints load back and resume,
the export segments; an official SAM's decoder is fine-tuned with its encoder frozen.

Everything runs on a handful of 640x360 frames with one torch thread: the machine is shared.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from kseg.cli import app
from kseg.segment import TextSegmenter, registry
from kseg.segment.textsam import TextSamConfig
from kseg.synth import read_frame, render_frame, write_frame
from kseg.train import train
from kseg.train.official import finetune_official
from kseg.types import TextLine

TINY = TextSamConfig(dim=32, widths=(8, 16, 32, 48), depths=(1, 1, 1), decoder_mlp=64, decoder_heads=2)
QUIET = lambda m: None  # noqa: E731


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth")
    for i in range(6):
        write_frame(render_frame(0, i, "train", size=(640, 360)), d, f"train_{i:06d}")
    return d


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def _lines(data: Path, stem: str = "train_000000"):
    fr = read_frame(data, stem)
    boxes = [tuple(int(round(v)) for v in ln["box"]) for ln in fr.meta["lines"]]
    assert boxes, "the test frame should carry a caption"
    lines = [TextLine(box=b, polygon=[(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3])], score=1.0)
             for b in boxes]
    return fr.image, lines


def _export_text_sam(ck: Path, dest: Path) -> Path:
    from kseg.train import export

    return export(ck, dest)


# ------------------------------------------------------------------------------------ text-SAM

@pytest.mark.slow
def test_text_sam_loss_falls_checkpoint_loads_and_export_segments(frames, tmp_path):
    out = tmp_path / "run"
    ck = train(frames, out, steps=30, batch=2, lr=1e-2, seed=0, cfg=TINY, max_w=256, log=QUIET)
    recs = _log(out)
    assert [r["step"] for r in recs] == list(range(1, 31))
    losses = [r["loss"] for r in recs]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses

    state = torch.load(ck, map_location="cpu", weights_only=True)
    assert state["step"] == 30
    assert TextSamConfig.from_json(state["config"]) == TINY

    model = _export_text_sam(ck, tmp_path / "tiny.safetensors")
    seg = TextSegmenter(model=str(model), device="cpu")
    assert seg.kind == "text-sam" and seg.tile_h == TINY.tile_h
    image, lines = _lines(frames)
    masks = seg.segment(image, lines)
    assert len(masks) == len(lines)
    for m in masks:
        assert m.mask.shape == image.shape[:2] and m.mask.dtype == bool
        assert len(m.iou_predictions) == 3 and 0 <= m.chosen < 3


def test_text_sam_resumes_from_checkpoint(frames, tmp_path):
    out = tmp_path / "run"
    msgs: list[str] = []
    train(frames, out, steps=10, batch=2, lr=1e-2, seed=0, cfg=TINY, max_w=256, log=msgs.append)
    assert torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)["step"] == 10
    assert not any("resumed" in m for m in msgs)
    msgs.clear()
    train(frames, out, steps=12, batch=2, lr=1e-2, seed=0, cfg=TINY, max_w=256, log=msgs.append)
    assert any("resumed" in m and "at step 10" in m for m in msgs), msgs
    assert [r["step"] for r in _log(out)] == list(range(1, 13))
    assert torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)["step"] == 12


def test_decoder_runs_the_prompts_of_many_canvases_in_one_call():
    from kseg.segment.textsam import STRIDE, build_text_sam, decode

    torch.manual_seed(0)
    sam = build_text_sam(TINY).eval()
    emb = torch.randn(2, TINY.dim, 24, 64)
    boxes = torch.tensor([[10.0, 20, 200, 70], [30, 10, 150, 80], [5, 5, 250, 90]])
    of = torch.tensor([0, 1, 1])
    with torch.no_grad():
        one = [decode(sam, emb[i:i + 1], (96, 256), STRIDE, boxes=boxes[j:j + 1]) for j, i in enumerate(of.tolist())]
        many = decode(sam, emb[of], (96, 256), STRIDE, boxes=boxes)
        for j, (logits, iou) in enumerate(one):
            assert torch.allclose(many[0][j:j + 1], logits, atol=1e-4)
            assert torch.allclose(many[1][j:j + 1], iou, atol=1e-5)
        with pytest.raises(ValueError, match="2 embeddings for 3 prompts"):
            decode(sam, emb, (96, 256), STRIDE, boxes=boxes)


class _Script:
    """A random.Random stand-in that returns scripted draws (which canvas gets which round)."""

    def __init__(self, draws):
        self.draws = list(draws)

    def random(self):
        return self.draws.pop(0)


def test_batch_loss_is_the_mean_of_the_canvases_losses(frames):
    """One decoder call for a whole batch trains exactly as one call per canvas did: canvas 0
    is prompted by a click, canvas 1 gets a corrective round, canvas 2 neither."""
    from kseg.segment.textsam import STRIDE, build_text_sam, decode, normalize
    from kseg.train import batch_loss, load_items, make_batch

    import random

    torch.manual_seed(0)
    sam = build_text_sam(TINY).eval()
    imgs, tg, fl, boxes = make_batch(load_items(frames, 3), random.Random(1), 3, TINY.tile_h, 256)
    B = boxes.shape[0]
    H, W = imgs.shape[-2:]
    with torch.no_grad():
        emb = sam.image_encoder(normalize(sam, imgs))

    def run_on(first):  # canvas 0 of the batch given is the embedding's row ``first``
        def run(rows, bx, pts, mask_input):
            logits, iou = decode(sam, emb[rows + first], (H, W), STRIDE, boxes=bx, points=pts,
                                 mask_input=mask_input)
            return logits, logits, iou
        return run

    click, fix = [0.05, 0.5, 0.5], [0.5, 0.1, 0.5]
    with torch.no_grad():
        together = batch_loss(run_on(0), boxes, tg, fl, _Script(click + fix), torch.Generator().manual_seed(3))
        gen = torch.Generator().manual_seed(3)
        alone = [batch_loss(run_on(b), boxes[b:b + 1], tg[b:b + 1], fl[b:b + 1], _Script([click[b], fix[b]]), gen)
                 for b in range(B)]
    for i in range(3):
        assert together[i].item() == pytest.approx(np.mean([a[i].item() for a in alone]), rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_batches_do_not_depend_on_workers_and_a_resumed_run_continues_exactly(frames, tmp_path):
    kw = dict(steps=6, batch=2, lr=1e-2, seed=0, cfg=TINY, max_w=256, log=QUIET)
    train(frames, tmp_path / "a", **kw)
    train(frames, tmp_path / "b", workers=2, **kw)

    def interrupt(step, steps, rec):
        if step == 4:
            raise KeyboardInterrupt  # after the checkpoint at step 3

    with pytest.raises(KeyboardInterrupt):
        train(frames, tmp_path / "c", ckpt_every=3, progress=interrupt, **kw)
    assert torch.load(tmp_path / "c" / "ckpt.pt", weights_only=True)["step"] == 3
    train(frames, tmp_path / "c", ckpt_every=3, **kw)
    a, b, c = (_log(tmp_path / x) for x in "abc")
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r["loss"] for r in c[:3] + c[4:]] == [r["loss"] for r in a]
    final = [torch.load(tmp_path / x / "ckpt.pt", weights_only=True)["model"] for x in "abc"]
    for other in final[1:]:
        assert all(torch.equal(final[0][n], other[n]) for n in final[0])


def test_minutes_end_the_run_on_time_and_keep_a_checkpoint(frames, tmp_path):
    out = tmp_path / "run"
    ck = train(frames, out, steps=10, batch=1, lr=1e-2, seed=0, cfg=TINY, max_w=256, log=QUIET, minutes=0.03)
    recs = _log(out)
    state = torch.load(ck, weights_only=True)
    assert recs and state["step"] == recs[-1]["step"] == len(recs)
    assert state["seconds"] >= 1.8 and state["seconds"] < 30
    assert recs[0]["lr"] < 1e-2 / 100  # a time budget warms up over 200 steps, whatever --steps says


def test_items_pack_round_trips_and_trains(frames, tmp_path):
    from kseg.train import load_items
    from kseg.train.pack import main as pack_main, read_pack

    items = load_items(frames)
    dest = tmp_path / "items.npz"
    pack_main([str(frames), "-o", str(dest), "--quality", "95"])
    back = read_pack(dest)
    assert len(back) == len(items)
    for a, b in zip(items, back):
        assert a.box == pytest.approx(b.box)
        assert np.array_equal(a.target, b.target) and np.array_equal(a.fill, b.fill)
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 4
    assert len(read_pack(dest, limit=2)) == 2
    r = CliRunner().invoke(app, ["train", str(dest), "-o", str(tmp_path / "run"), "--steps", "2", "--batch", "1",
                                 "--device", "cpu", "--threads", "1", "--workers", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert len(_log(tmp_path / "run")) == 2


def test_a_file_that_is_not_a_pack_is_one_clear_error(tmp_path):
    bad = tmp_path / "frame.npz"
    bad.write_bytes(b"not a zip at all")
    r = CliRunner().invoke(app, ["train", str(bad), "-o", str(tmp_path / "run"), "--steps", "2", "-q"])
    assert r.exit_code == 1
    assert "not a kseg items pack" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run" / "model.safetensors").exists()
    with pytest.raises(SystemExit):
        from kseg.train.pack import main as pack_main
        pack_main([str(tmp_path), "-o", str(tmp_path / "x.zip")])
    # the frozen-SAM stages run the whole frames: a pack cannot serve them
    r = CliRunner().invoke(app, ["train", str(bad), "--stage", "refiner", "--init", "m.safetensors",
                                 "-o", str(tmp_path / "ref")])
    assert r.exit_code == 2 and "sam stage only" in r.output
    assert not (tmp_path / "ref").exists()


# ------------------------------------------------------------------------------- official SAM

def _sd(path: Path) -> dict[str, torch.Tensor]:
    return registry.load_state_dict(path)[0]


def _check_only_decoder_moved(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved, "nothing was trained"
    assert all(k.startswith("mask_decoder.") for k in moved), sorted(moved)[:5]
    assert any(k.startswith("mask_decoder.output_hypernetworks_mlps") for k in moved)
    assert any(k.startswith("mask_decoder.iou_prediction_head") for k in moved)


@pytest.fixture
def tiny_vit_b(monkeypatch):
    """vit_b's widths (768-wide patch embedding, 256-d neck, the real decoder) with one windowed
    ViT block, so the official path runs in seconds. Patched into segment_anything's registry,
    which both kseg.train.official and kseg.segment (TextSegmenter) build from."""
    import segment_anything
    from segment_anything.build_sam import _build_sam

    def build(checkpoint=None):
        return _build_sam(encoder_embed_dim=768, encoder_depth=1, encoder_num_heads=2,
                          encoder_global_attn_indexes=(), checkpoint=checkpoint)

    monkeypatch.setitem(segment_anything.sam_model_registry, "vit_b", build)
    return build


@pytest.mark.slow
def test_official_finetune_decoder_only_resume_and_export(frames, tmp_path, tiny_vit_b):
    torch.manual_seed(0)
    init = tmp_path / "init.pt"
    torch.save(tiny_vit_b().state_dict(), init)
    out = tmp_path / "ft"
    msgs: list[str] = []
    model = finetune_official(frames, out, arch="vit_b", init=init, steps=2, batch=1, lr=1e-3, seed=0,
                              device="cpu", max_w=256, log=msgs.append)
    assert model == out / "model.safetensors"
    assert [r["step"] for r in _log(out)] == [1, 2]
    _check_only_decoder_moved(_sd(init), _sd(model))

    ck = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)
    assert ck["step"] == 2 and ck["arch"] == "vit_b" and ck["train"] == "decoder"
    assert ck["model"] and all(k.startswith("mask_decoder.") for k in ck["model"])

    msgs.clear()
    finetune_official(frames, out, arch="vit_b", init=init, steps=3, batch=1, lr=1e-3, seed=0,
                      device="cpu", max_w=256, log=msgs.append)
    assert any("resumed" in m and "at step 2" in m for m in msgs), msgs
    assert [r["step"] for r in _log(out)] == [1, 2, 3]

    # the export is a plain official state dict: detected as vit_b, and `--model PATH` segments with it
    sd, meta = registry.load_state_dict(model)
    assert registry.detect_kind(sd, meta) == "vit_b"
    seg = TextSegmenter(model=str(model), device="cpu")
    assert seg.kind == "vit_b" and seg.predictor is not None
    image, lines = _lines(frames)
    masks = seg.segment(image, lines)
    assert len(masks) == len(lines) and all(m.mask.shape == image.shape[:2] for m in masks)


@pytest.mark.slow
def test_official_vit_b_random_weights(frames, tmp_path):
    """The real ViT-B (random weights: the official file cannot be fetched here). 50-65 s on 2 loaded
    cores, hence `slow` (deselect with -m "not slow")."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    init = tmp_path / "sam_vit_b_random.pth"
    torch.save(sam_model_registry["vit_b"](checkpoint=None).state_dict(), init)
    model = finetune_official(frames, tmp_path / "ft", arch="vit_b", init=init, steps=2, batch=1, lr=1e-3,
                              seed=0, device="cpu", max_w=256, log=QUIET)
    before, after = _sd(init), _sd(model)
    _check_only_decoder_moved(before, after)
    assert registry.detect_kind(after, {}) == "vit_b"


# ---------------------------------------------------------------------------------------- CLI

def test_cli_official_arch_needs_init(tmp_path):
    r = CliRunner().invoke(app, ["train", str(tmp_path), "--arch", "vit_b", "-o", str(tmp_path / "o")])
    assert r.exit_code != 0
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "--init" in err and err.startswith("kseg: error:"), err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_official_arch_runs(frames, tmp_path, tiny_vit_b):
    torch.manual_seed(0)
    init = tmp_path / "init.pt"
    torch.save(tiny_vit_b().state_dict(), init)
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["train", str(frames), "--arch", "vit_b", "--init", str(init), "-o", str(out),
                                 "--steps", "1", "--batch", "1", "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(out / "model.safetensors")
    assert registry.detect_kind(*registry.load_state_dict(out / "model.safetensors")) == "vit_b"


# ------------------------------------------------------------------------ edge refiner stage

@pytest.mark.slow
def test_refiner_stage_learns_keeps_sam_frozen_resumes_and_exports(frames, tmp_path):
    ck = train(frames, tmp_path / "sam", steps=20, batch=2, lr=3e-3, seed=0, cfg=TINY, max_w=256, log=QUIET)
    init = _export_text_sam(ck, tmp_path / "tiny.safetensors")
    out = tmp_path / "ref"
    args = ["train", str(frames), "--stage", "refiner", "--init", str(init), "-o", str(out),
            "--batch", "4", "--refiner-channels", "8", "--device", "cpu", "--threads", "1", "--quiet"]
    r = CliRunner().invoke(app, args + ["--steps", "60"])
    assert r.exit_code == 0, r.output
    losses = [rec["loss"] for rec in _log(out)]
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]), losses

    # resumes where it stopped
    r = CliRunner().invoke(app, args + ["--steps", "64"])
    assert r.exit_code == 0, r.output
    assert [rec["step"] for rec in _log(out)] == list(range(1, 65))

    model = out / "model.safetensors"
    assert r.stdout.strip() == str(model)
    before, after = _sd(init), _sd(model)
    assert {k for k in after if k.startswith("refiner.")}, "the export carries the refiner"
    assert all(torch.equal(before[k], after[k]) for k in before), "SAM itself stays frozen"
    seg = TextSegmenter(model=str(model), device="cpu")
    assert seg.refiner is not None and seg.sam.kseg_config.refiner == 8
    image, lines = _lines(frames)
    masks = seg.segment(image, lines)
    assert len(masks) == len(lines) and masks[0].mask.shape == image.shape[:2]
    assert seg.timings["refine"] > 0
    # kseg eval scores it with its refiner, and without it on request
    runs = {}
    for extra in ([], ["--no-refine"]):
        r = CliRunner().invoke(app, ["eval", str(frames), "--model", str(model), "--device", "cpu", "--json", "-q",
                                     "--limit", "3", *extra])
        assert r.exit_code == 0, r.output
        runs[bool(extra)] = json.loads(r.stdout)
    assert runs[False]["refiner"] and not runs[True]["refiner"]
    lo, hi = runs[False]["ci95"]["fgIoU"]
    assert lo <= runs[False]["rows"]["text-sam"]["all"]["fgIoU"] <= hi
    allrow = runs[False]["rows"]["text-sam"]["all"]  # pixel counts, so sets can be pooled
    assert 0 < allrow["intersection"] <= allrow["union"]
    assert allrow["fgIoU"] == pytest.approx(allrow["intersection"] / allrow["union"])
    assert len(runs[False]["ci95"]["ranked_minus_best_fixed"]) == 2
    head = runs[False]["iou_head"]
    assert head["oracle"] >= max(head["ranked"], head["fixed_0"], head["fixed_1"], head["fixed_2"]) - 1e-9
    assert runs[False]["rows"]["text-sam"] != runs[True]["rows"]["text-sam"]
    # a SAM run started from a model with a refiner keeps it (same architecture, same keys)
    ck2 = train(frames, tmp_path / "again", steps=2, batch=1, lr=1e-3, seed=0, init=str(model), max_w=256, log=QUIET)
    state = torch.load(ck2, map_location="cpu", weights_only=True)
    assert TextSamConfig.from_json(state["config"]).refiner == 8
    assert any(k.startswith("refiner.") for k in state["model"])

    # a context refiner, warm-started from this one's dense layers
    ctx_out = tmp_path / "ctx"
    cargs = ["train", str(frames), "--stage", "refiner", "--init", str(model), "-o", str(ctx_out), "--batch", "4",
             "--refiner-channels", "8", "--refiner-context", "4", "--warm-refiner", "--steps", "3",
             "--device", "cpu", "--threads", "1", "--quiet"]
    r = CliRunner().invoke(app, cargs)
    assert r.exit_code == 0, r.output
    seg = TextSegmenter(model=str(ctx_out / "model.safetensors"), device="cpu")
    assert seg.sam.kseg_config.refiner_context == 4 and seg.refiner.context == 4
    assert len(seg.segment(image, lines)) == len(lines)
    sd = _sd(ctx_out / "model.safetensors")
    assert any(k.startswith("refiner.ctx.") for k in sd) and "refiner.film.weight" in sd
    # the frozen SAM's windows are cached with the run; another recipe on the same init reuses them
    assert (ctx_out / "windows.pt").exists()
    aug_out = tmp_path / "aug"
    aug_out.mkdir()
    (aug_out / "windows.pt").write_bytes((ctx_out / "windows.pt").read_bytes())
    aug_args = [str(aug_out) if a == str(ctx_out) else a for a in cargs if a != "--quiet"]
    r = CliRunner().invoke(app, aug_args + ["--refiner-augment"])
    assert r.exit_code == 0, r.output
    assert "reused" in r.stderr
    assert TextSegmenter(model=str(aug_out / "model.safetensors"), device="cpu").refiner.context == 4
    # warm start needs a refiner of the same shape: one line, exit 1, nothing written
    bad = CliRunner().invoke(app, ["train", str(frames), "--stage", "refiner", "--init", str(model), "-o",
                                   str(tmp_path / "bad"), "--refiner-channels", "16", "--warm-refiner", "--steps", "3",
                                   "--device", "cpu", "--threads", "1", "--quiet"])
    assert bad.exit_code == 1 and "--warm-refiner" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_refiner_jitter_keeps_the_paste_background_and_the_identity_is_exact():
    import random

    from kseg.train.refine import Jitter

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    lg = np.full((20, 30), -20.0, np.float32)
    lg[5:15, 5:25] = rng.normal(0, 4, (10, 20))
    ident = Jitter()
    assert ident.image(img) is img and np.array_equal(ident.logits(lg), lg)
    seen_shift = seen_scale = False
    r = random.Random(0)
    for _ in range(200):
        j = Jitter.draw(r)
        out = j.logits(lg, shift=False)
        assert np.array_equal(out[lg <= -19], lg[lg <= -19]), "the paste's -20 background stays put"
        assert j.image(img).shape == img.shape and j.image(img).dtype == np.uint8
        # pointwise photometric jitter: a crop of the jittered window is the jittered crop
        assert np.array_equal(j.image(img)[2:9, 3:17], j.image(img[2:9, 3:17]))
        if j.shift != (0, 0):
            seen_shift = True
            assert np.array_equal(j.logits(lg), np.roll(out, j.shift, axis=(0, 1)))
        seen_scale |= j.temp != 1.0
    assert seen_shift and seen_scale


def test_refiner_window_cache_is_keyed(tmp_path):
    from kseg.train.refine import Window, _load_windows, _save_windows

    w = Window(np.zeros((4, 5, 3), np.uint8), np.ones((4, 5), np.float16), np.zeros((4, 5), bool), np.ones((4, 5), bool))
    key = {"sam_sha256": "a", "data": "/d", "limit": -1, "seed": 0}
    _save_windows(tmp_path / "windows.pt", key, [w])
    got = _load_windows(tmp_path / "windows.pt", key)
    assert len(got) == 1 and np.array_equal(got[0].logits, w.logits) and got[0].valid.dtype == bool
    assert _load_windows(tmp_path / "windows.pt", {**key, "sam_sha256": "b"}) is None
    assert _load_windows(tmp_path / "missing.pt", key) is None
    (tmp_path / "torn.pt").write_bytes((tmp_path / "windows.pt").read_bytes()[:100])
    assert _load_windows(tmp_path / "torn.pt", key) is None, "an unreadable cache is collected again"


def test_cli_refiner_stage_needs_a_text_sam_init(tmp_path):
    r = CliRunner().invoke(app, ["train", str(tmp_path), "--stage", "refiner", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "--init" in err and err.startswith("kseg: error:"), err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ IoU-head calibration stage

@pytest.mark.slow
def test_iou_head_stage_fits_refined_ious_and_changes_nothing_else(frames, tmp_path):
    from kseg.train.iouhead import collect_iou_targets, iou_of, train_iou_head
    import random

    ck = train(frames, tmp_path / "sam", steps=20, batch=2, lr=3e-3, seed=0, cfg=TINY, max_w=256, log=QUIET)
    init = _export_text_sam(ck, tmp_path / "tiny.safetensors")
    # the targets: intersection and union of every output, one row per line, on the token the head reads
    seg = TextSegmenter(model=str(init), device="cpu")
    with torch.inference_mode():
        x, iu = collect_iou_targets(seg, frames, 3, random.Random(0))
    n_lines = sum(len(read_frame(frames, f"train_{i:06d}").meta["lines"]) for i in range(3))
    assert x.shape == (n_lines, TINY.dim) and iu.shape == (n_lines, 3, 2)
    assert bool((iu[..., 0] <= iu[..., 1]).all()) and 0 <= float(iou_of(iu).min()) <= float(iou_of(iu).max()) <= 1

    out = tmp_path / "head"
    args = ["train", str(frames), "--stage", "iou-head", "--init", str(init), "-o", str(out),
            "--steps", "200", "--device", "cpu", "--threads", "1"]
    r = CliRunner().invoke(app, args + ["--quiet"])
    assert r.exit_code == 0, r.output
    losses = [rec["loss"] for rec in _log(out)]
    assert len(losses) == 200 and losses[-1] < losses[0] / 2, losses[::20]
    before, after = _sd(init), _sd(out / "model.safetensors")
    head = "mask_decoder.iou_prediction_head."
    assert set(before) == set(after)
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith(head)), "only the head moves"
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(head))
    # the calibrated head predicts the measured IoUs better than the decoder's own head did
    seg2 = TextSegmenter(model=str(out / "model.safetensors"), device="cpu")
    y = iou_of(iu)
    with torch.no_grad():
        err = [float(torch.nn.functional.mse_loss(s.sam.mask_decoder.iou_prediction_head(x)[:, 1:], y))
               for s in (seg, seg2)]
    assert err[1] < err[0], err
    image, lines = _lines(frames)
    assert len(seg2.segment(image, lines)) == len(lines)
    # a rerun reuses the measured targets (collecting is the slow part) and refits to the same head
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and "reused" in r.stderr, r.output
    assert len(_log(out)) == 200
    again = _sd(out / "model.safetensors")
    assert all(torch.equal(after[k], again[k]) for k in after)
    with pytest.raises(ValueError, match="no caption lines"):
        train_iou_head(tmp_path / "sam", tmp_path / "none", init=str(init), steps=2, log=QUIET)
    assert not (tmp_path / "none").exists()


# ------------------------------------------------------------------------ mask scorer stage

def test_fit_scorer_learns_which_refined_output_is_better():
    """A feature that tells which output wins (here: the difference of the outputs' areas)
    is learned; the pick then reaches the oracle, where the decoder head's IoUs (noise) do not."""
    from kseg.segment.scorer import N_FEATURES, MaskScorer
    from kseg.train.scorer import fit_scorer, picked_fgiou

    g = torch.Generator().manual_seed(0)
    n = 400
    x = torch.rand(n, N_FEATURES, generator=g)
    one_better = x[:, 12] > 0.5  # the area difference column
    inter = torch.randint(500, 1000, (n, 2), generator=g).float()
    union = inter.clone()
    union[:, 0] += torch.where(one_better, 10.0, 200.0)
    union[:, 1] += torch.where(one_better, 200.0, 10.0)
    iu = torch.stack([inter, union], -1)
    oracle = picked_fgiou(torch.stack([one_better.float(), (~one_better).float()], 1), iu)
    res = fit_scorer(MaskScorer(16), x, iu, steps=300, seed=0)
    assert res["fit_head"] < oracle - 0.02  # the head's IoU columns are noise here
    assert res["fit_scorer"] == pytest.approx(oracle, abs=1e-3), res


@pytest.mark.slow
def test_scorer_stage_ranks_refined_outputs_and_changes_nothing_else(frames, tmp_path):
    from dataclasses import replace
    import random

    from kseg.segment.scorer import FEATURES, N_FEATURES
    from kseg.train.scorer import collect_scorer_targets

    ck = train(frames, tmp_path / "sam", steps=20, batch=2, lr=3e-3, seed=0, cfg=replace(TINY, refiner=8),
               max_w=256, log=QUIET)
    init = _export_text_sam(ck, tmp_path / "tiny.safetensors")
    seg = TextSegmenter(model=str(init), device="cpu")
    assert seg.scorer is None
    with torch.inference_mode():
        x, iu = collect_scorer_targets(seg, frames, 3, random.Random(0))
    n_lines = sum(len(read_frame(frames, f"train_{i:06d}").meta["lines"]) for i in range(3))
    assert x.shape == (n_lines, N_FEATURES) and iu.shape == (n_lines, 2, 2)
    assert bool((iu[..., 0] <= iu[..., 1]).all()) and bool(torch.isfinite(x).all())

    out = tmp_path / "scorer"
    args = ["train", str(frames), "--stage", "scorer", "--init", str(init), "-o", str(out),
            "--steps", "100", "--limit", "4", "--device", "cpu", "--threads", "1"]
    r = CliRunner().invoke(app, args + ["--quiet"])
    assert r.exit_code == 0, r.output
    recs = _log(out)
    assert len(recs) == 6 * 100 and {r["member"] for r in recs} == set(range(6))  # six members, 100 steps each
    for k in range(6):
        losses = [r["loss"] for r in recs if r["member"] == k]
        assert losses[-1] < losses[0], losses[::10]
    before, after = _sd(init), _sd(out / "model.safetensors")
    assert {k for k in after if k not in before} == {k for k in after if k.startswith("scorer.")} != set()
    assert all(torch.equal(before[k], after[k]) for k in before), "the model it scores is unchanged"
    r = CliRunner().invoke(app, args)  # a rerun reuses the measured lines
    assert r.exit_code == 0 and "reused" in r.stderr, r.output
    s1 = TextSegmenter(model=str(out / "model.safetensors"), device="cpu")
    assert s1.sam.kseg_config.scorer_features == 2 and s1.scorer.mu.shape == (FEATURES[2],)  # the default
    # feature set 1, fitted on the masks of two models: each measured afresh (the cache key
    # holds the feature set and the model), both recorded in the file, and it segments
    out2 = tmp_path / "scorer2"
    r = CliRunner().invoke(app, args[:7] + [str(out2)] + args[8:] + ["--scorer-features", "1",
                                                                     "--scorer-masks-from", str(init), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (out2 / "scorer_targets.pt").exists() and (out2 / "scorer_targets.1.pt").exists()
    a, b = (torch.load(d / "scorer_targets.pt", weights_only=True) for d in (out, out2))
    assert a["x"].shape[1] == FEATURES[2] and torch.equal(a["iu"], b["iu"])  # the same lines, measured more
    assert b["x"].shape[1] == N_FEATURES and torch.allclose(a["x"][:, :N_FEATURES], b["x"])  # set 1 is set 2's start
    meta = registry.load_state_dict(out2 / "model.safetensors")[1]
    assert [m["model"] for m in json.loads(meta["scorer_masks"])] == [str(init), str(init)]
    s2 = TextSegmenter(model=str(out2 / "model.safetensors"), device="cpu")
    assert s2.sam.kseg_config.scorer_features == 1 and s2.scorer.mu.shape == (N_FEATURES,)
    image, lines = _lines(frames)
    assert len(s2.segment(image, lines)) == len(lines) and s2.scored
    # refusals: an unknown feature set (usage), another model without a refiner (nothing written)
    r = CliRunner().invoke(app, args + ["--scorer-features", "3"])
    assert r.exit_code == 2, r.output
    no_ref = _export_text_sam(train(frames, tmp_path / "plain", steps=2, batch=2, lr=3e-3, seed=0, cfg=TINY,
                                    max_w=256, log=QUIET), tmp_path / "plain.safetensors")
    out3 = tmp_path / "scorer3"
    r = CliRunner().invoke(app, args[:7] + [str(out3)] + args[8:] + ["--scorer-masks-from", str(no_ref)])
    assert r.exit_code == 1 and "--scorer-masks-from" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert not (out3 / "model.safetensors").exists() and not (out3 / "scorer_targets.pt").exists()
    # ... and a model whose SAM differs (one decoder weight): the scorer would learn another decoder
    from kseg.segment.registry import save_text_sam

    other = TextSegmenter(model=str(init), device="cpu").sam
    with torch.no_grad():
        other.mask_decoder.iou_prediction_head.layers[0].weight[0, 0] += 1.0
    save_text_sam(other, tmp_path / "other-sam.safetensors")
    r = CliRunner().invoke(app, args[:7] + [str(out3)] + args[8:] + ["--scorer-masks-from",
                                                                     str(tmp_path / "other-sam.safetensors")])
    assert r.exit_code == 1 and "differs from --init" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert not (out3 / "model.safetensors").exists() and not (out3 / "scorer_targets.pt").exists()

    # segment re-ranks outputs 1 and 2 by the scorer; the empty output stays the decoder head's call
    seg2 = TextSegmenter(model=str(out / "model.safetensors"), device="cpu")
    assert seg2.scorer is not None and seg2.sam.kseg_config.scorer == 16 and len(seg2.scorer.members) == 6
    image, lines = _lines(frames)
    for favour in (1, 2):
        with torch.no_grad():
            for net in seg2.scorer.members:
                net[-1].weight.zero_()
                net[-1].bias.copy_(torch.tensor([1.0, 0.0] if favour == 1 else [0.0, 1.0]))
        got = seg2.segment(image, lines)
        head = seg2.decoder_choice.tolist()
        assert any(h in (1, 2) for h in head), head  # else this checks nothing
        assert [m.chosen for m in got] == [favour if h in (1, 2) else h for h in head]
        tl, logits, *_ = seg2._run(image, lines)
        for i, m in enumerate(got):  # the reused refinement is the one a fresh paste computes
            assert np.array_equal(m.mask, seg2._paste(image, logits[i, m.chosen], tl[i]))
    assert "score" in seg2.timings
    # kseg eval reports the decoder head alone beside the scorer's ranking
    r = CliRunner().invoke(app, ["eval", str(frames), "--model", str(out / "model.safetensors"), "--device", "cpu",
                                 "--limit", "2"])
    assert r.exit_code == 0 and "mask scorer" in r.stdout, r.output
    r = CliRunner().invoke(app, ["eval", str(frames), "--model", str(out / "model.safetensors"), "--device", "cpu",
                                 "--limit", "2", "--json", "-q"])
    res = json.loads(r.stdout)
    assert res["scorer"] and 0 <= res["iou_head"]["head_only"] <= 1
    # several datasets pool into one score: here the same two frames under another name, so
    # every pixel count doubles; a folder named twice counts once; a missing or empty one fails
    twin = tmp_path / "twin"
    twin.mkdir()
    for f in frames.iterdir():
        if f.name.startswith(("train_000000.", "train_000001.")):
            shutil.copy(f, twin / f.name)
    base = ["eval", "--model", str(out / "model.safetensors"), "--device", "cpu", "--limit", "2", "--json", "-q"]
    r = CliRunner().invoke(app, base + [str(frames), str(twin), str(frames)])
    assert r.exit_code == 0, r.output
    both = json.loads(r.stdout)
    assert both["frames"] == 4 and both["lines"] == 2 * res["lines"] and "+" in both["dataset"]
    one, two = res["rows"]["text-sam"]["all"], both["rows"]["text-sam"]["all"]
    assert (two["intersection"], two["union"]) == (2 * one["intersection"], 2 * one["union"])
    (tmp_path / "empty").mkdir()
    for bad, why in ((tmp_path / "missing", "no such dataset folder"), (tmp_path / "empty", "no kseg synth frames")):
        r = CliRunner().invoke(app, base + [str(frames), str(bad)])
        assert r.exit_code == 1 and why in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
        assert r.stdout == ""
    assert CliRunner().invoke(app, base[:-4] + ["--limit", "0", str(frames)]).exit_code == 2

    # a new refiner on this model leaves the scorer out (it scored the old refiner's masks) and,
    # with --refiner-outputs both, learns on outputs 1 and 2 of every line the head gave a mask
    from kseg.train.refine import collect_windows

    frozen = TextSegmenter(model=str(out / "model.safetensors"), device="cpu", refine=False)
    with torch.inference_mode():
        n_chosen = len(collect_windows(frozen, frames, 3, random.Random(0)))
        n_both = len(collect_windows(frozen, frames, 3, random.Random(0), outputs="both"))
    assert n_chosen < n_both <= 2 * n_chosen
    r = CliRunner().invoke(app, ["train", str(frames), "--stage", "refiner", "--init", str(out / "model.safetensors"),
                                 "-o", str(tmp_path / "ref2"), "--refiner-channels", "8", "--warm-refiner",
                                 "--refiner-outputs", "both", "--steps", "2", "--batch", "2", "--limit", "3",
                                 "--device", "cpu", "--threads", "1"])
    assert r.exit_code == 0 and "scorer is left out" in r.stderr, r.output
    sd = _sd(tmp_path / "ref2" / "model.safetensors")
    assert not any(k.startswith("scorer.") for k in sd) and any(k.startswith("refiner.") for k in sd)
    assert TextSegmenter(model=str(tmp_path / "ref2" / "model.safetensors"), device="cpu").scorer is None

    # a model without an edge refiner has no refined masks to score: one line, exit 1, nothing written
    plain = _export_text_sam(train(frames, tmp_path / "plain", steps=1, batch=1, cfg=TINY, max_w=256, log=QUIET),
                             tmp_path / "plain.safetensors")
    r = CliRunner().invoke(app, ["train", str(frames), "--stage", "scorer", "--init", str(plain), "-o",
                                 str(tmp_path / "none"), "--device", "cpu", "--threads", "1", "--quiet"])
    assert r.exit_code == 1 and "edge refiner" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "none").exists()


# ------------------------------------------------------------------------------ refiner soups

def _with_refiner(src: Path, dest: Path, shift: float) -> Path:
    """``src`` with every refiner weight moved by ``shift`` (as a run from the same warm start)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        sd = {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: (v + shift if k.startswith("refiner.") else v) for k, v in sd.items()}, str(dest), meta)
    return dest


def test_refiner_soup_averages_refiners_keeps_the_rest_and_segments(frames, tmp_path):
    from dataclasses import replace

    from kseg.segment import save_random
    from kseg.train.soup import main, soup

    cfg = replace(TINY, refiner=8, refiner_context=4)
    a = save_random(tmp_path / "a.safetensors", 0, cfg)
    b = _with_refiner(a, tmp_path / "b.safetensors", 0.3)
    c = _with_refiner(a, tmp_path / "c.safetensors", -0.6)
    out = soup([a, b, c], tmp_path / "soup.safetensors", [1.0, 2.0, 1.0])
    sa, so = _sd(a), _sd(out)
    assert sa.keys() == so.keys()
    for k in sa:
        want = sa[k] + (0.3 * 2 - 0.6) / 4 if k.startswith("refiner.") else sa[k]
        torch.testing.assert_close(so[k], want, rtol=0, atol=1e-6)
    seg = TextSegmenter(model=str(out), device="cpu")
    assert seg.refiner is not None
    image, lines = _lines(frames)
    assert len(seg.segment(image, lines)) == len(lines)
    meta = registry.load_state_dict(out)[1]
    assert meta["stage"] == "refiner-soup" and len(json.loads(meta["members"])) == 3

    # the CLI: uniform weights by default
    main([str(a), str(b), "-o", str(tmp_path / "ab.safetensors")])
    k = next(k for k in sa if k.startswith("refiner."))
    torch.testing.assert_close(_sd(tmp_path / "ab.safetensors")[k], sa[k] + 0.15, rtol=0, atol=1e-6)


def test_refiner_soup_refuses_refiners_behind_another_sam_with_one_line(tmp_path, capsys):
    from dataclasses import replace

    from kseg.segment import save_random
    from kseg.train.soup import main

    cfg = replace(TINY, refiner=8)
    a = save_random(tmp_path / "a.safetensors", 0, cfg)
    other = save_random(tmp_path / "other.safetensors", 1, cfg)  # another SAM altogether
    wide = save_random(tmp_path / "wide.safetensors", 0, replace(TINY, refiner=16))
    plain = save_random(tmp_path / "plain.safetensors", 0, TINY)
    for bad, says in [(other, "its SAM differs"), (wide, "refiner's shape"), (plain, "no edge refiner"),
                      (tmp_path / "missing.safetensors", "not found")]:
        dest = tmp_path / "soup.safetensors"
        with pytest.raises(SystemExit) as e:
            main([str(a), str(bad), "-o", str(dest)])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1, err
        assert not dest.exists(), "a refused soup writes nothing"
    with pytest.raises(SystemExit) as e:
        main([str(a), str(a), "-o", str(tmp_path / "x.safetensors"), "--weights", "1"])
    assert e.value.code == 2 and "one non-negative weight per model" in capsys.readouterr().err


@pytest.mark.slow
def test_train_fill_learns_resumes_and_exports_a_loadable_model(tmp_path):
    """kseg train-fill: renders shards once (reused), checkpoints, resumes where it stopped and
    exports a file the style stage loads."""
    from kseg.style import fillnet

    out, data = tmp_path / "run", tmp_path / "shards"
    args = ["train-fill", "-o", str(out), "--data", str(data), "--lines", "40", "--steps", "60",
            "--workers", "1", "--threads", "1", "--quiet"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    shards = sorted(p.name for p in data.glob("*.npz"))
    assert shards == ["eval_1_0000000.npz", "train_0_0000000.npz"]
    assert torch.load(out / "ckpt.pt", weights_only=True)["step"] == 60
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in recs] == [50] and recs[0]["loss"] < 0.7  # BCE starts at ~0.69
    r = CliRunner().invoke(app, args[:-3] + ["--steps", "100", "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert torch.load(out / "ckpt.pt", weights_only=True)["step"] == 100  # resumed, not restarted
    assert sorted(p.name for p in data.glob("*.npz")) == shards
    net = fillnet.load(out / "model.safetensors")
    assert net is not None
    p = fillnet.fill_probability(np.full((24, 80, 3), 128, np.uint8), out / "model.safetensors")
    assert p.shape == (24, 80)


def test_train_fill_rejects_bad_options():
    r = CliRunner().invoke(app, ["train-fill", "--lines", "0"])
    assert r.exit_code == 2
