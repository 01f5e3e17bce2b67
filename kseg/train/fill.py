"""Train kseg-fill (``kseg.style.fillnet``): which pixels of a caption crop are the letters' fill.

    kseg train-fill -o runs/kseg-fill --lines 24000 --minutes 30

Lines come from both data engines (``kseg.synth.lines`` and the broadcast engine), whose
renderers know the fill layer; they are rendered once into npz shards under ``data/fill``
(resumable, one process per core) and read at ``fillnet.HEIGHT`` rows. Colours are augmented
by channel permutation and inversion (both keep which pixels are fill), so the net cannot
learn "white is fill". Checkpoints (``ckpt.pt``) resume; ``model.safetensors`` is exported at
the end and at every validation.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from kseg.style import fillnet

SHARD = 1000


def render_item(job: tuple[int, int, str]) -> tuple[np.ndarray, np.ndarray]:
    """(crop at HEIGHT rows as uint8 RGB, fill mask uint8) of one rendered line."""
    seed, index, split = job
    if index % 2:
        from kseg.synth.broadcast import render_broadcast_line as render
    else:
        from kseg.synth.lines import render_line as render
    s = render(seed, index, split)
    W = fillnet.input_width(*s.strip.shape[:2])
    rgb = cv2.resize(s.strip, (W, fillnet.HEIGHT), interpolation=cv2.INTER_AREA)
    fill = cv2.resize(s.fill.astype(np.float32), (W, fillnet.HEIGHT), interpolation=cv2.INTER_AREA)
    return rgb, (fill >= 0.5).astype(np.uint8)


def build_cache(out: Path, n: int, seed: int, split: str, workers: int,
                log: Callable[[str], None] = lambda m: None) -> list[Path]:
    """Render ``n`` lines into shards of SHARD (finished shards are kept: resumable)."""
    from multiprocessing import get_context

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    pool = get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for s0 in range(0, n, SHARD):
            p = out / f"{split}_{seed}_{s0:07d}.npz"
            paths.append(p)
            if p.exists():
                continue
            jobs = [(seed, i, split) for i in range(s0, min(n, s0 + SHARD))]
            items = pool.map(render_item, jobs, chunksize=16) if pool else [render_item(j) for j in jobs]
            offs = np.cumsum([0] + [it[0].shape[1] for it in items])
            tmp = p.with_suffix(".tmp.npz")
            np.savez(tmp, rgb=np.concatenate([it[0] for it in items], 1),
                     fill=np.concatenate([it[1] for it in items], 1), offsets=offs.astype(np.int64))
            os.replace(tmp, p)
            log(f"rendered {min(n, s0 + SHARD)}/{n} lines ({split})")
    finally:
        if pool:
            pool.close()
    return paths


def _load(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    items = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            rgb, fill, offs = z["rgb"], z["fill"], z["offsets"]
        items += [(rgb[:, a:b], fill[:, a:b]) for a, b in zip(offs[:-1], offs[1:])]
    return items


def _batch(items, rng: random.Random, batch: int, width: int):
    x = np.zeros((batch, 3, fillnet.HEIGHT, width), np.float32)
    y = np.zeros((batch, 1, fillnet.HEIGHT, width), np.float32)
    w = np.zeros((batch, 1, fillnet.HEIGHT, width), np.float32)
    for k in range(batch):
        rgb, fill = items[rng.randrange(len(items))]
        W = rgb.shape[1]
        a = rng.randrange(0, max(1, W - width + 1))
        rgb, fill = rgb[:, a:a + width], fill[:, a:a + width]
        rgb = rgb[..., rng.sample(range(3), 3)]  # colours change, which pixels are fill does not
        if rng.random() < 0.5:
            rgb = 255 - rgb
        n = rgb.shape[1]
        x[k, :, :, :n] = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0 - 0.5
        y[k, 0, :, :n] = fill
        w[k, 0, :, :n] = 1.0
    return x, y, w


def _iou(net, items) -> float:
    import torch

    inter = union = 0.0
    net.eval()
    with torch.inference_mode():
        for rgb, fill in items:
            x = torch.from_numpy((rgb.astype(np.float32) / 255.0 - 0.5).transpose(2, 0, 1)[None])
            p = net(x)[0, 0].numpy() > 0
            inter += float((p & (fill > 0)).sum())
            union += float((p | (fill > 0)).sum())
    net.train()
    return inter / max(1.0, union)


def export(net, dest: Path, extra: dict) -> Path:
    from safetensors.torch import save_file

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    meta = {"config": json.dumps({"ch": extra.get("ch", 24), "dilations": list(extra.get("dilations", fillnet.DILATIONS))}),
            "format": "kseg-fill", "height": str(fillnet.HEIGHT),
            **{k: str(v) for k, v in extra.items() if k not in ("ch", "dilations")}}
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=meta)
    os.replace(tmp, dest)
    return dest


def train_fill(out: Path, data: Path = Path("data/fill"), lines: int = 24000, val_lines: int = 400,
               seed: int = 0, steps: int = 20000, minutes: float | None = None, batch: int = 24,
               width: int = 192, lr: float = 2e-3, ch: int = 24, workers: int = 2, threads: int | None = None,
               log: Callable[[str], None] = lambda m: None) -> Path:
    """Render (or reuse) the shards, then train with AdamW and a cosine schedule over ``steps``
    (or over ``minutes`` of training time); resumes from OUT/ckpt.pt."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train = _load(build_cache(data, lines, seed, "train", workers, log))
    val = _load(build_cache(data, val_lines, seed + 1, "eval", workers, log))
    out.mkdir(parents=True, exist_ok=True)
    net = fillnet.build(ch)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    ck = out / "ckpt.pt"
    step, spent = 0, 0.0
    if ck.exists():
        state = torch.load(ck, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, spent = int(state["step"]), float(state["seconds"])
        log(f"resumed at step {step} ({spent / 60:.1f} min trained)")
    rng = random.Random(f"fill:{seed}:{step}")
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    extra = {"ch": ch, "lines": lines, "seed": seed}
    t0, last_save = time.monotonic() - spent, time.monotonic()
    logf = open(out / "log.jsonl", "a")
    net.train()
    while True:
        spent = time.monotonic() - t0
        frac = spent / (minutes * 60) if minutes else step / steps
        if frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        x, y, w = _batch(train, rng, batch, width)
        logit = net(torch.from_numpy(x))
        loss = (bce(logit, torch.from_numpy(y)) * torch.from_numpy(w)).sum() / max(1.0, float(w.sum()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            rec = {"step": step, "loss": round(loss.item(), 4), "minutes": round(spent / 60, 2)}
            if step % 500 == 0:
                rec["val_iou"] = round(_iou(net, val), 4)
                log(json.dumps(rec))
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        if time.monotonic() - last_save > 120:
            _save(ck, net, opt, step, time.monotonic() - t0)
            last_save = time.monotonic()
    _save(ck, net, opt, step, time.monotonic() - t0)
    iou = _iou(net, val)
    log(f"done: step {step}, validation fill IoU {iou:.4f}")
    logf.close()
    net.eval()
    return export(net, out / "model.safetensors", {**extra, "steps": step, "val_iou": round(iou, 4)})


def _save(path: Path, net, opt, step: int, seconds: float) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds}, tmp)
    os.replace(tmp, path)
