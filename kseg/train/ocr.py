"""Training the caption-line recogniser (``kseg train-ocr``): CRNN + CTC on rendered lines.

Data: ``kseg.synth.lines`` shards (pre-rendered once, because rendering a line costs about as
much CPU as a training step on it). Batches take lines of similar width (less padding,
the CPU cost is the padded width), with a random width stretch as augmentation since
fonts differ most in advance width. Conventions as ``kseg train``: resumable ``ckpt.pt``
(loaded with ``weights_only=True``), ``log.jsonl``, a ``progress(step, steps, record)`` hook,
``model.safetensors`` exported at the end.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..recognize.kseg_ocr import CRNN, Codec, OCRConfig, default_charset, save_model, tight, to_tensor


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cache_paths(data: Path) -> list[Path]:
    return sorted(p for p in Path(data).glob("*.npz") if not p.name.endswith(".tmp.npz"))


def _items(data: Path, cfg: OCRConfig) -> list[tuple[np.ndarray, str]]:
    """(network-height input HxWxC uint8, text) for every cached line, in RAM."""
    from ..synth.lines import load_cache

    out = []
    for col, msk, text, _ in load_cache(cache_paths(data)):
        img = tight(msk) if cfg.input == "mask" else (col if cfg.in_ch == 3 else cv2.cvtColor(col, cv2.COLOR_RGB2GRAY))
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(4, round(w * cfg.height / h)), cfg.height), interpolation=cv2.INTER_AREA)
        out.append((img if img.ndim == 3 else img[..., None], text))
    return out


def _augment(img: np.ndarray, rng: random.Random, colour: bool) -> np.ndarray:
    h, w = img.shape[:2]
    s = rng.uniform(0.8, 1.2)
    img = cv2.resize(img, (max(4, round(w * s)), h), interpolation=cv2.INTER_LINEAR)
    if img.ndim == 2:
        img = img[..., None]
    if colour and rng.random() < 0.5:
        img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    return img


def make_batch(items, order: list[int], rng: random.Random, batch: int, codec: Codec, colour: bool,
               max_w: int = 1024):
    """A batch of similar-width lines: ``order`` is the items sorted by width."""
    i = rng.randrange(len(order))
    lo, hi = max(0, i - 4 * batch), min(len(order), i + 4 * batch)
    pick = rng.sample(order[lo:hi], min(batch, hi - lo))
    imgs, labels, lens = [], [], []
    for k in pick:
        img = _augment(items[k][0], rng, colour)[:, :max_w]
        imgs.append(img)
        lab = codec.encode(items[k][1])
        labels.extend(lab)
        lens.append(len(lab))
    x = to_tensor(imgs)
    in_lens = torch.tensor([min(x.shape[-1], im.shape[1]) // 4 for im in imgs])
    return x, torch.tensor(labels, dtype=torch.long), torch.tensor(lens), in_lens


@torch.inference_mode()
def quick_cer(model: CRNN, cfg: OCRConfig, codec: Codec, val: list[tuple[np.ndarray, str]]) -> float:
    model.eval()
    errs = tot = 0
    for img, text in val:
        ids = model(to_tensor([img]))[0].argmax(-1)
        t = " ".join(text.split())
        errs += edit_distance(codec.decode(ids.tolist()), t)
        tot += len(t)
    model.train()
    return errs / max(1, tot)


def train_ocr(data: Path, out_dir: Path, steps: int = 4000, batch: int = 32, lr: float = 1.5e-3,
              input: str = "colour", seed: int = 0, device: str = "cpu", cfg: OCRConfig | None = None,
              stop_at: int | None = None, ckpt_every: int = 200, val_every: int = 250, n_val: int = 64,
              export_every: int = 500, log=print, progress=None) -> Path:
    """Train (or resume) the recogniser on line shards in ``data``; returns the exported model.

    ``stop_at`` ends the run early at that step while keeping the LR schedule of ``steps``
    (a short run that is comparable, step for step, with a full one); ``model-stepN.safetensors``
    is exported every ``export_every`` steps so such a run has a same-step counterpart.
    """
    from ..synth.lines import mask_input, render_line, to_height

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    charset = default_charset()
    codec = Codec(charset)
    cfg = cfg or OCRConfig(input=input, in_ch=1 if input == "mask" else 3, width=0.75, hidden=128)
    cfg.n_classes = len(codec)
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = CRNN(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    start = 0
    rng = random.Random(seed)
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        cfg = OCRConfig.from_json(ck["config"])
        charset = ck.get("charset", charset)
        codec = Codec(charset)
        model = CRNN(cfg).to(dev)
        model.load_state_dict(ck["model"])
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        opt.load_state_dict(ck["opt"])
        start = int(ck["step"])
        rng = random.Random(seed + start)
        log(f"resumed from {ckpt_path} at step {start}")
    t_load = time.time()
    items = _items(Path(data), cfg)
    if not items:
        raise ValueError(f"no line shards (*.npz) in {data}; render them with kseg train-ocr SEED")
    order = sorted(range(len(items)), key=lambda k: items[k][0].shape[1])
    val = []  # a few held-out-font lines, to watch generalisation as it trains
    for i in range(n_val):
        s = render_line(10_000 + seed, i, "eval")
        img = tight(mask_input(s.strip, s.footprint)) if cfg.input == "mask" else s.strip
        if cfg.input != "mask" and cfg.in_ch == 1:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        img = to_height(img, cfg.height)
        val.append((img if img.ndim == 3 else img[..., None], s.text))
    log(f"{len(items)} training lines from {data} in {time.time() - t_load:.0f}s; input {cfg.input}")
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    warm = min(300, steps // 10 + 1)
    sched = lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))
    end = min(steps, stop_at or steps)
    logf = open(out_dir / "log.jsonl", "a")
    model.train()
    t0 = time.time()
    colour = cfg.input != "mask"

    def save(step: int) -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "config": cfg.to_json(), "charset": charset}, tmp)
        os.replace(tmp, ckpt_path)

    for step in range(start, end):
        for g in opt.param_groups:
            g["lr"] = lr * sched(step)
        x, labels, lens, in_lens = make_batch(items, order, rng, batch, codec, colour)
        logp = model(x.to(dev)).log_softmax(-1).transpose(0, 1)  # (T, B, C)
        loss = ctc(logp, labels, in_lens.clamp(max=logp.shape[0]), lens)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        rec = {"step": step + 1, "loss": round(loss.item(), 4), "lr": round(lr * sched(step), 6),
               "w": int(x.shape[-1]), "sec": round(time.time() - t0, 1)}
        if (step + 1) % val_every == 0 or step + 1 == end:
            rec["val_cer"] = round(quick_cer(model, cfg, codec, val), 4)
        logf.write(json.dumps(rec) + "\n")
        logf.flush()
        if progress is not None:
            progress(step + 1, end, rec)
        elif (step + 1) % 50 == 0 or "val_cer" in rec:
            log(" ".join(f"{k}={v}" for k, v in rec.items()))
        if (step + 1) % ckpt_every == 0 or step + 1 == end:
            save(step + 1)
        if export_every and (step + 1) % export_every == 0:
            save(step + 1)
            export(ckpt_path, out_dir / f"model-step{step + 1}.safetensors", {"data": str(data), "seed": seed})
    logf.close()
    return export(ckpt_path, out_dir / "model.safetensors", {"data": str(data), "seed": seed})


def export(ckpt_path: Path, dest: Path, extra: dict | None = None) -> Path:
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    cfg = OCRConfig.from_json(ck["config"])
    model = CRNN(cfg)
    model.load_state_dict(ck["model"])
    save_model(model, cfg, ck.get("charset") or default_charset(), dest, {"steps": ck["step"], **(extra or {})})
    return dest
