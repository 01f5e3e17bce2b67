"""kseg's own recogniser: CTC codec, charset, line renderer, training, model file, registry."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kseg.recognize import get_recognizer
from kseg.recognize.kseg_ocr import (
    CRNN, Codec, KsegOCRRecognizer, OCRConfig, load_model, prepare, save_model, to_tensor,
)
from kseg.synth.corpus import default_charset, ks_x_1001_syllables
from kseg.synth.lines import build_cache, load_cache, render_line
from kseg.types import Recognition

pytestmark = pytest.mark.skipif(not __import__("kseg.synth", fromlist=["fonts_for"]).fonts_for("train"),
                                reason="no Korean fonts installed")


def tiny_cfg(codec: Codec, input: str = "mask") -> OCRConfig:
    return OCRConfig(height=32, in_ch=1 if input == "mask" else 3, input=input, width=0.25, hidden=32,
                     n_classes=len(codec))


def test_codec_round_trip_keeps_spaces():
    codec = Codec(default_charset())
    text = "괜찮아? 많이 놀랐지… OK 100%"
    ids = codec.encode(text)
    assert codec.index[" "] in ids
    # CTC output: repeats separated by blanks, runs of the same label, leading/trailing blanks
    ctc = [0]
    for i in ids:
        ctc += [i, i, 0]
    assert codec.decode(ctc) == text
    assert codec.decode([5, 5, 5]) == codec.charset[4]  # a run is one character


def test_charset_covers_ks_x_1001_and_corpus():
    cs = set(default_charset())
    assert len(ks_x_1001_syllables()) == 2350
    assert set(ks_x_1001_syllables()) <= cs
    assert set("ㅋ♡…?!~\"'.,:()%- ABCxyz0189") <= cs
    assert len(default_charset()) == len(cs)  # no duplicates: class ids are unambiguous


def test_line_renderer_is_deterministic_and_split():
    a, b = render_line(3, 7, "train"), render_line(3, 7, "train")
    assert a.text == b.text and a.font == b.font
    assert np.array_equal(a.strip, b.strip) and np.array_equal(a.footprint, b.footprint)
    assert a.strip.shape[:2] == a.footprint.shape == a.fill.shape
    assert a.fill.any() and (a.fill & ~a.footprint).sum() <= 0.02 * a.fill.sum()
    from kseg.synth import EVAL_FAMILIES

    assert all(render_line(0, i, "eval").font in EVAL_FAMILIES for i in range(4))
    assert all(render_line(0, i, "train").font not in EVAL_FAMILIES for i in range(4))


def test_tiny_model_learns_rendered_lines():
    torch.manual_seed(0)
    codec = Codec(default_charset())
    cfg = tiny_cfg(codec)
    samples = [render_line(1, i, "train") for i in range(4)]
    x = to_tensor([prepare(s.strip, s.footprint, cfg) for s in samples])
    labels = [codec.encode(s.text) for s in samples]
    tg = torch.tensor([i for lab in labels for i in lab])
    lens = torch.tensor([len(lab) for lab in labels])
    model = CRNN(cfg)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    losses = []
    for _ in range(25):
        logp = model(x).log_softmax(-1).transpose(0, 1)
        loss = ctc(logp, tg, torch.full((len(samples),), logp.shape[0]), lens)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])


def test_safetensors_round_trip(tmp_path):
    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    model = CRNN(cfg).eval()
    path = tmp_path / "m.safetensors"
    save_model(model, cfg, codec.charset, path, {"steps": 3})
    loaded, cfg2, codec2 = load_model(path)
    assert cfg2 == cfg and codec2.charset == codec.charset
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=0.05)  # fp16 weights
    assert path.read_bytes()[:8] != b"PK\x03\x04"  # not a zip/pickle checkpoint
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    from kseg.errors import ModelError

    with pytest.raises(ModelError):
        load_model(bad)


def test_kseg_recognizer_plugs_into_registry(tmp_path, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv("KSEG_MODELS", str(models))
    codec = Codec(default_charset())
    cfg = tiny_cfg(codec)
    save_model(CRNN(cfg), cfg, codec.charset, models / "kseg-ocr.safetensors")
    rec = get_recognizer("kseg")
    assert isinstance(rec, KsegOCRRecognizer) and rec.name == "kseg"
    assert isinstance(get_recognizer("auto"), KsegOCRRecognizer)
    s = render_line(0, 0, "eval")
    r = rec.recognize(s.image, s.line, s.mask)
    assert isinstance(r, Recognition) and r.recognizer == "kseg" and 0.0 <= r.score <= 1.0
    assert isinstance(rec.recognize(s.image, s.line, None).text, str)  # no mask: Otsu fallback


def test_cache_and_train_resume(tmp_path):
    from kseg.train.ocr import train_ocr

    data = tmp_path / "lines"
    paths = build_cache(data, 6, seed=2, shard=4)
    assert len(paths) == 2 and len(load_cache(paths)) == 6
    assert build_cache(data, 6, seed=2, shard=4) == paths  # resumable: existing shards kept
    codec = Codec(default_charset())
    run = tmp_path / "run"
    train_ocr(data, run, steps=4, stop_at=2, batch=3, cfg=tiny_cfg(codec), n_val=2, val_every=2, log=lambda m: None)
    train_ocr(data, run, steps=4, batch=3, cfg=tiny_cfg(codec), n_val=2, val_every=2, log=lambda m: None)
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4] and "val_cer" in recs[-1]
    model, cfg, _ = load_model(run / "model.safetensors")
    assert cfg.width == 0.25
    # --minutes: time ends the run, not --steps (a 4,000-step default once cut a run off half-annealed)
    timed = tmp_path / "timed"
    train_ocr(data, timed, steps=2, minutes=0.02, batch=3, cfg=tiny_cfg(codec), n_val=1, val_every=10_000,
              export_every=0, log=lambda m: None)
    recs = [json.loads(line) for line in (timed / "log.jsonl").read_text().splitlines()]
    assert len(recs) > 2 and recs[-1]["lr"] < 0.05 * 1.5e-3  # ran past --steps, annealed to ~0


@pytest.mark.slow
def test_stream_training_renders_fresh_lines_and_fine_tunes(tmp_path):
    """``kseg train-ocr stream``: workers render lines while it trains; ``--init`` fine-tunes."""
    from kseg.train.ocr import train_ocr

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    run = tmp_path / "run"
    train_ocr(None, run, steps=3, batch=4, cfg=cfg, workers=1, buffer=100, n_val=2, val_every=3,
              log=lambda m: None, export_every=0)
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and recs[-1]["lines"] >= 100
    first, _, _ = load_model(run / "model.safetensors")
    # a new run from that file starts from its weights (fp16 in the file, so compare loosely)
    run2 = tmp_path / "run2"
    train_ocr(None, run2, steps=1, batch=4, lr=1e-9, workers=1, buffer=100,
              n_val=1, init=run / "model.safetensors", log=lambda m: None, export_every=0)
    second, _, _ = load_model(run2 / "model.safetensors")
    a, b = dict(first.named_parameters()), dict(second.named_parameters())  # (BN statistics move in a step)
    assert all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)
    _, cfg2, _ = load_model(run2 / "model.safetensors")
    assert cfg2.width == 0.25 and cfg2.hidden == 32  # the file's architecture, not the cfg passed
    with pytest.raises(ValueError, match="no training data"):
        train_ocr(None, tmp_path / "run4", steps=1, cfg=cfg, workers=0, log=lambda m: None)


@pytest.mark.slow
def test_train_ocr_cli_stream_and_bad_init(tmp_path):
    from typer.testing import CliRunner

    from kseg.cli import app

    runner = CliRunner()
    run = tmp_path / "run"
    r = runner.invoke(app, ["train-ocr", "stream", "-o", str(run), "--workers", "1", "--buffer", "100",
                            "--steps", "2", "--batch", "4", "--width", "0.25", "--hidden", "16", "--device", "cpu",
                            "--quiet"])
    assert r.exit_code == 0, r.output
    _, cfg, _ = load_model(run / "model.safetensors")
    assert cfg.width == 0.25 and cfg.hidden == 16 and cfg.input == "colour"
    r = runner.invoke(app, ["train-ocr", "stream", "-o", str(tmp_path / "x"), "--init", str(tmp_path / "nope"),
                            "--quiet"])
    assert r.exit_code == 2 and "no such model file" in r.output


@pytest.mark.parametrize("input", ["colour", "mask"])
def test_views_are_aligned_reframings_of_the_input(input):
    from kseg.recognize.kseg_ocr import VIEW_TRIMS, views

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, input)
    s = render_line(0, 5, "eval")
    base = prepare(s.strip, s.footprint, cfg)
    assert len(views(s.strip, s.footprint, cfg, 1)) == 1
    vs = views(s.strip, s.footprint, cfg, len(VIEW_TRIMS) + 1)
    assert np.array_equal(vs[0], base)
    assert all(v.shape == base.shape and v.dtype == np.uint8 for v in vs)  # CTC columns line up
    assert not any(np.array_equal(v, base) for v in vs[1:])  # each one is framed differently
    tiny = np.full((5, 40, 3), 200, np.uint8)  # too few rows to trim: the base view repeats
    tv = views(tiny, None, cfg, 3)
    assert len(tv) == 3 and all(v.shape == tv[0].shape for v in tv)


def test_recognizer_views_option(tmp_path):
    from kseg.recognize.kseg_ocr import VIEWS

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    path = tmp_path / "m.safetensors"
    save_model(CRNN(cfg), cfg, codec.charset, path)
    assert KsegOCRRecognizer(path).views == VIEWS == 3
    for bad in (0, 6):
        with pytest.raises(ValueError, match="views"):
            KsegOCRRecognizer(path, views=bad)
    s = render_line(0, 1, "eval")
    assert isinstance(KsegOCRRecognizer(path, views=5).recognize(s.image, s.line, s.mask).text, str)



def test_recognize_best_keeps_the_most_confident_box_of_a_line():
    """Of several boxes of one line (a still frame's moved-in boxes), the reading of the one the
    reader is surest of is kept, whatever their order; the others are never decoded."""
    from kseg.recognize import kseg_model_path
    from kseg.types import TextLine

    rec = KsegOCRRecognizer(kseg_model_path(), lm="none")
    s = render_line(0, 1, "eval")
    x0, y0, x1, y1 = s.line.box
    cut = y0 + (y1 - y0) // 3  # the top third of the letters only
    top = TextLine((x0, y0, x1, cut), [(x0, y0), (x1, y0), (x1, cut), (x0, cut)], 1.0)
    whole, part = rec.recognize(s.image, s.line, s.mask), rec.recognize(s.image, top, s.mask)
    assert whole.score > part.score and whole.text != part.text
    for boxes in ([s.line, top], [top, s.line]):
        assert rec.recognize_best(s.image, boxes, s.mask) == whole
    assert rec.recognize_best(s.image, [top], s.mask) == part
    with pytest.raises(ValueError, match="at least one box"):
        rec.recognize_best(s.image, [], s.mask)


def test_eval_ocr_cli_table_json_and_bad_views(tmp_path):
    from typer.testing import CliRunner

    from kseg.cli import app

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    path = tmp_path / "m.safetensors"
    save_model(CRNN(cfg), cfg, codec.charset, path)
    r = CliRunner().invoke(app, ["eval", "--task", "ocr", "--model", str(path), "--limit", "2", "--views", "2",
                                 "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["views"] == 2 and res["lines"] == 2
    assert set(res["rows"]["kseg"]) >= {"all"} and 0 <= res["rows"]["kseg"]["all"]["cer"]
    assert CliRunner().invoke(app, ["eval", "--task", "ocr", "--views", "9"]).exit_code == 2
    bad = CliRunner().invoke(app, ["eval", "--task", "ocr", "--model", str(tmp_path / "none.safetensors"),
                                   "--limit", "1", "-q"])
    assert bad.exit_code == 1 and "cannot load kseg-ocr model" in bad.output


@pytest.mark.slow  # real models: in make test, not make test-fast
def test_reading_wider_than_training_reads_held_out_lines_better():
    # STRETCH widens the network input at reading time only; the shipped model reads held-out
    # synthetic lines at least as well with it (bench/real shows the larger gain).
    from kseg.evaluate.metrics import edit_distance
    from kseg.recognize import kseg_model_path
    from kseg.recognize.kseg_ocr import STRETCH
    from kseg.synth.broadcast import render_any

    assert STRETCH > 1.0
    path = kseg_model_path()
    wide, plain = KsegOCRRecognizer(path, lm="none"), KsegOCRRecognizer(path, lm="none", stretch=1.0)
    errs = {"wide": 0, "plain": 0}
    for i in range(60):
        s = render_any(0, i, "eval", "lines")
        for name, rec in (("wide", wide), ("plain", plain)):
            errs[name] += edit_distance(rec.recognize(s.image, s.line, s.mask).text, s.text)
    assert errs["wide"] <= errs["plain"]
    for bad in (0.1, 5.0):
        with pytest.raises(ValueError, match="stretch"):
            KsegOCRRecognizer(path, stretch=bad)


def test_bfloat16_convolutions_read_as_float32_does():
    """The recogniser runs its convolutions in bfloat16 on CPUs that have them natively (8x
    faster); the readings of held-out lines must be what float32 reads, near enough."""
    from kseg._inference import Bf16Part
    from kseg.evaluate.metrics import edit_distance
    from kseg.recognize import kseg_model_path
    from kseg.synth.broadcast import render_any

    path = kseg_model_path()
    bf16 = KsegOCRRecognizer(path, lm="none", dtype="bfloat16")
    fp32 = KsegOCRRecognizer(path, lm="none", dtype="float32")
    assert isinstance(bf16.model.cnn, Bf16Part) and bf16.dtype == "bfloat16"
    assert not isinstance(fp32.model.cnn, Bf16Part) and fp32.dtype == "float32"
    errs, same, worst = {"bf16": 0, "fp32": 0}, 0, 0.0
    for i in range(40):
        s = render_any(0, i, "eval", "lines")
        a, b = bf16.recognize(s.image, s.line, s.mask), fp32.recognize(s.image, s.line, s.mask)
        errs["bf16"] += edit_distance(a.text, s.text)
        errs["fp32"] += edit_distance(b.text, s.text)
        same += a.text == b.text
        worst = max(worst, abs(a.score - b.score))
    assert same >= 38 and worst < 0.05
    assert errs["bf16"] <= errs["fp32"] + 2
    with pytest.raises(ValueError, match="dtype"):
        KsegOCRRecognizer(path, dtype="float16")


def test_a_model_file_can_name_its_own_reading_width(tmp_path):
    from kseg.errors import ModelError
    from kseg.recognize.kseg_ocr import STRETCH

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    plain, named, bad = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "c.safetensors"
    save_model(CRNN(cfg), cfg, codec.charset, plain)
    save_model(CRNN(cfg), cfg, codec.charset, named, extra={"read_stretch": 1.1})
    save_model(CRNN(cfg), cfg, codec.charset, bad, extra={"read_stretch": "wide"})
    assert KsegOCRRecognizer(plain).stretch == STRETCH
    assert KsegOCRRecognizer(named).stretch == 1.1
    assert KsegOCRRecognizer(named, stretch=1.0).stretch == 1.0  # the caller's choice wins
    with pytest.raises(ModelError, match="read_stretch"):
        KsegOCRRecognizer(bad)


def test_ocr_soup_averages_one_runs_checkpoints(tmp_path):
    from kseg.errors import ModelError
    from kseg.train.ocr_soup import main, soup

    codec = Codec(default_charset())
    cfg = tiny_cfg(codec, "colour")
    a, b = CRNN(cfg), CRNN(cfg)
    save_model(a, cfg, codec.charset, tmp_path / "a.safetensors", extra={"seed": 3})
    save_model(b, cfg, codec.charset, tmp_path / "b.safetensors")
    out = soup([tmp_path / "a.safetensors", tmp_path / "b.safetensors"], tmp_path / "s.safetensors", 1.1)
    m, _, _ = load_model(out)
    k = next(k for k, v in a.state_dict().items() if v.is_floating_point() and v.ndim > 1)
    want = (a.state_dict()[k].half().float() + b.state_dict()[k].half().float()) / 2
    assert torch.allclose(m.state_dict()[k], want, atol=1e-3)
    rec = KsegOCRRecognizer(out)
    assert rec.stretch == 1.1
    other = OCRConfig(height=32, in_ch=3, input="colour", width=0.5, hidden=32, n_classes=len(codec))
    save_model(CRNN(other), other, codec.charset, tmp_path / "c.safetensors")
    with pytest.raises(ModelError, match="config or charset"):
        soup([tmp_path / "a.safetensors", tmp_path / "c.safetensors"], tmp_path / "x.safetensors")
    assert main(["-o", str(tmp_path / "y.safetensors"), str(tmp_path / "missing.safetensors")]) == 1


def test_fused_frames_read_as_each_would_alone():
    """Fusion sends all frames of a caption through the network in one batch; no strip's
    log-probabilities may change for it (no padding, framings kept with their strip), and a
    caption fused from copies of one frame reads exactly as that frame."""
    from kseg.recognize import kseg_model_path
    from kseg.recognize.kseg_ocr import _at_width, _source

    rec = KsegOCRRecognizer(kseg_model_path(), lm="none")
    strips = [(s.strip, s.footprint) for s in (render_line(3, i, "eval") for i in range(4))]
    srcs = [_source(s, f, rec.cfg) for s, f in strips]
    w = int(np.median([rec._base(src).shape[1] for src in srcs]))
    bases = [_at_width(rec._base(src), w, rec.cfg.height) for src in srcs]
    batched = rec._framed(srcs, bases, rec._logp(bases))
    alone = [rec.strip_logp(s, f, width=w) for s, f in strips]
    unsure = sum(not torch.equal(b, rec._logp([base])[0]) for b, base in zip(batched, bases))
    assert unsure >= 1  # some strip took the extra framings, so that path is covered
    for b, a in zip(batched, alone):
        assert torch.allclose(b, a, atol=1e-4)
    s, f = strips[0]
    assert rec.fuse([(s, f)] * 3)[0] == rec.read_strip(s, f)[0]
    assert rec.fuse(strips)[0] == rec.fuse(strips[::-1])[0]
