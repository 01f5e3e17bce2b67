"""Training text-SAM on `kseg synth` data (``kseg train``), with SAM's recipe.

- focal + dice (20:1) on masks, the minimum over the three multimask outputs,
  MSE between the IoU head and each output's true IoU (so the head learns to rank);
- box prompts jittered the way a detector errs (loose, tight, shifted, clipped,
  two lines merged), some point prompts, and a second, corrective round with a
  click in the error region and the previous logits as mask input, as the SAM
  paper simulates interactive annotation;
- resumable checkpoints (model, optimiser, step; each step's random streams derive from the seed
  and the step) and a JSON-lines log.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torchvision.ops import sigmoid_focal_loss

from ..segment import tiles
from ..segment.textsam import STRIDE, TextSamConfig, build_text_sam, decode, normalize
from .items import Item, load_items  # noqa: F401 - the training items, re-exported

PAD_FILL = (124, 116, 104)  # ~SAM pixel mean: padding normalises to ~0


def jitter_box(box, rng: random.Random, pw: int, ph: int):
    """Perturb a box like a text detector would."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    mode = rng.random()
    if mode < 0.5:  # ordinary noise, SAM uses 10% of the side with a 20 px cap
        d = [rng.gauss(0, 0.08) * h, rng.gauss(0, 0.12) * h, rng.gauss(0, 0.08) * h, rng.gauss(0, 0.12) * h]
    elif mode < 0.7:  # loose
        d = [-rng.uniform(0, 0.4) * h, -rng.uniform(0, 0.4) * h, rng.uniform(0, 0.4) * h, rng.uniform(0, 0.4) * h]
    elif mode < 0.85:  # tight (CRAFT boxes hug the glyph centres)
        d = [rng.uniform(0, 0.15) * h, rng.uniform(0, 0.2) * h, -rng.uniform(0, 0.15) * h, -rng.uniform(0, 0.2) * h]
    else:  # clipped on one end
        d = [0.0, 0.0, 0.0, 0.0]
        if rng.random() < 0.5:
            d[0] = rng.uniform(0, 0.25) * w
        else:
            d[2] = -rng.uniform(0, 0.25) * w
    nx0, ny0 = min(max(0.0, x0 + d[0]), pw - 2), min(max(0.0, y0 + d[1]), ph - 2)
    nx1, ny1 = max(min(pw, x1 + d[2]), nx0 + 2), max(min(ph, y1 + d[3]), ny0 + 2)
    return (nx0, ny0, nx1, ny1)


def detector_like_lines(metas: list[dict], rng: random.Random, W: int, H: int, jitter: float = 0.5) -> list:
    """A synth frame's lines as `segment` would be prompted: each box, with probability
    ``jitter``, perturbed the way CRAFT's boxes err (what the frozen-SAM stages train on)."""
    from ..types import TextLine

    return [TextLine(tuple(jitter_box(lm["box"], rng, W, H)) if rng.random() < jitter else tuple(lm["box"]),
                     [], 1.0, lm["angle"]) for lm in metas]


def make_tile(item: Item, rng: random.Random, tile_h: int, max_w: int):
    """Cut the jittered tile: image, target, fill and the prompt box in tile coordinates."""
    ph, pw = item.target.shape
    box = jitter_box(item.box, rng, pw, ph)
    t = tiles.tile_for_box(box, tile_h)
    img = tiles.cut(item.image, t, border_value=PAD_FILL)
    tgt = tiles.cut(item.target * 255, t, border_value=0) >= 128
    fill = tiles.cut(item.fill * 255, t, border_value=0) >= 128
    pbox = t.to_tile(box)
    if t.width > max_w:  # keep a window of a very long line; the prompt is clipped with it
        x = rng.randrange(0, t.width - max_w + 1)
        img, tgt, fill = img[:, x:x + max_w], tgt[:, x:x + max_w], fill[:, x:x + max_w]
        pbox = np.array([max(0, pbox[0] - x), pbox[1], min(max_w, pbox[2] - x), pbox[3]], np.float32)
    # photometric jitter: brightness/contrast and occasional inversion-free channel swap
    if rng.random() < 0.5:
        img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        img = np.ascontiguousarray(img[..., rng.sample([0, 1, 2], 3)])
    return img, tgt, fill, pbox


def make_batch(items, rng: random.Random, batch: int, tile_h: int, max_w: int):
    """B canvases of k stacked tiles each (k shared within a batch), padded to one size."""
    k = rng.choice([1, 1, 1, 1, 2])  # k^2 decoder cost: mostly single tiles
    canvases = []
    for _ in range(batch):
        ts = [make_tile(rng.choice(items), rng, tile_h, max_w) for _ in range(k)]
        canvases.append(ts)
    W = max(max(t[0].shape[1] for t in ts) for ts in canvases)
    W = int(math.ceil(W / 16) * 16)
    H = k * tile_h
    imgs = np.empty((batch, H, W, 3), np.uint8)
    imgs[:] = PAD_FILL
    tg = np.zeros((batch, k, H, W), bool)
    fl = np.zeros((batch, k, H, W), bool)
    boxes = np.zeros((batch, k, 4), np.float32)
    for b, ts in enumerate(canvases):
        for j, (img, tgt, fill, pbox) in enumerate(ts):
            y = j * tile_h
            imgs[b, y:y + tile_h, :img.shape[1]] = img
            tg[b, j, y:y + tile_h, :img.shape[1]] = tgt
            fl[b, j, y:y + tile_h, :img.shape[1]] = fill
            boxes[b, j] = pbox + np.array([0, y, 0, y], np.float32)
    return (torch.from_numpy(imgs).permute(0, 3, 1, 2), torch.from_numpy(tg), torch.from_numpy(fl),
            torch.from_numpy(boxes))


def mask_losses(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) logits vs (N,H,W) target -> (N,3) focal*20 + dice, per output."""
    t = target[:, None].float().expand_as(logits)
    focal = sigmoid_focal_loss(logits, t, alpha=0.25, gamma=2.0, reduction="none").mean(dim=(2, 3))
    p = logits.sigmoid()
    inter = (p * t).sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(2, 3)) + t.sum(dim=(2, 3)) + 1)
    return 20 * focal + dice


def true_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pred = logits > 0
    t = target[:, None].expand_as(pred)
    inter = (pred & t).sum(dim=(2, 3)).float()
    union = (pred | t).sum(dim=(2, 3)).float()
    # an empty target answered with an empty mask is a perfect answer
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def _click_on(mask: torch.Tensor, gen: torch.Generator) -> tuple[list[float], int]:
    """A click on a random pixel of ``mask`` (pixel centre; label 1), or SAM's "not a point" (-1)
    if it has none: the text prompt's click on a line's fill, and the corrective click."""
    idx = mask.flatten().nonzero()
    if len(idx) == 0:
        return [0.0, 0.0], -1
    y, x = divmod(int(idx[torch.randint(len(idx), (1,), generator=gen)]), mask.shape[-1])
    return [x + 0.5, y + 0.5], 1


def corrective_points(logits: torch.Tensor, target: torch.Tensor, gen: torch.Generator):
    """One click per prompt in the largest error: positive on a miss, negative on a false alarm."""
    pred = logits > 0
    fn, fp = target & ~pred, pred & ~target
    n = target.shape[0]
    coords = torch.zeros(n, 1, 2)
    labels = torch.zeros(n, 1, dtype=torch.int64)
    for i in range(n):
        use_fn = fn[i].sum() >= fp[i].sum()
        xy, found = _click_on(fn[i] if use_fn else fp[i], gen)
        coords[i, 0] = torch.tensor(xy)
        labels[i, 0] = -1 if found < 0 else int(use_fn)
    return coords, labels


def cosine_lr(step: int, steps: int, warm: int, frac: float | None = None) -> float:
    """Linear warm-up, then cosine decay to 0: the LR factor of a step. ``frac`` (the share of
    a time budget spent) replaces ``step / steps`` when a run ends on time, not on steps."""
    frac = min(1.0, step / max(1, steps)) if frac is None else min(1.0, frac)
    return min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * frac))


def batch_loss(decode_fn, boxes: torch.Tensor, target: torch.Tensor, fill: torch.Tensor,
               rng: random.Random, gen: torch.Generator, map_boxes=None, map_coords=None,
               iou_weight: float = 1.0):
    """SAM's loss for a batch of B canvases of k prompts each -> (loss, IoU of the best outputs,
    IoU of the ranked ones), the two IoUs as tensors (no sync with the device).

    ``boxes`` (B,k,4), ``target`` and ``fill`` (B,k,H,W). Every canvas holds k prompts, so the
    mean over prompts is the mean of per-canvas losses. Per canvas, as SAM simulates annotation:
    10% are prompted by a click on the text instead of a box, and 20% get a corrective round (a
    click in the error region, the previous logits as mask input). ``decode_fn(rows, boxes,
    points, mask_input)`` decodes some of the prompts, ``rows`` giving each one's canvas (its row
    of the batch's image embeddings), and returns (logits to feed back as mask input, logits at
    canvas resolution, predicted IoU); ``map_boxes``/``map_coords`` take canvas coordinates to
    the model's input frame (identity for text-SAM, SamPredictor's resize for an official ViT).
    ``iou_weight`` scales the IoU-head MSE (SAM uses 1); raising it in a late phase teaches the
    head to rank the outputs once the masks themselves are good.
    """
    ident = lambda t: t  # noqa: E731
    map_boxes, map_coords = map_boxes or ident, map_coords or ident
    dev = target.device
    n_canvas, k = boxes.shape[:2]
    canvas = [b for b in range(n_canvas) for _ in range(k)]
    rows = torch.tensor(canvas, device=dev)
    boxes, target, fill = boxes.flatten(0, 1), target.flatten(0, 1), fill.flatten(0, 1)
    click_c = [rng.random() < 0.1 for _ in range(n_canvas)]
    fix_c = [rng.random() < 0.2 for _ in range(n_canvas)]
    boxed = [j for j, c in enumerate(canvas) if not click_c[c]]
    clicked = [j for j, c in enumerate(canvas) if click_c[c]]
    parts = []
    if boxed:
        sel = torch.tensor(boxed, device=dev)
        parts.append(decode_fn(rows[sel], map_boxes(boxes[sel]), None, None))
    if clicked:
        pts = [_click_on(fill[j], gen) for j in clicked]
        coords = map_coords(torch.tensor([p for p, _ in pts], device=dev))[:, None]
        labels = torch.tensor([lab for _, lab in pts], device=dev)[:, None]
        parts.append(decode_fn(rows[torch.tensor(clicked, device=dev)], None, (coords, labels), None))
    if clicked and boxed:  # back to prompt order
        inv = torch.argsort(torch.tensor(boxed + clicked, device=dev))
        feedback, logits, iou_pred = (torch.cat([p[i] for p in parts])[inv] for i in range(3))
    else:
        feedback, logits, iou_pred = parts[0]
    ml = mask_losses(logits, target)
    best = ml.argmin(dim=1)
    ar = torch.arange(len(best), device=dev)
    tiou = true_iou(logits.detach(), target)
    loss = ml[ar, best].mean() + iou_weight * F.mse_loss(iou_pred, tiou)
    fixed = [j for j, c in enumerate(canvas) if fix_c[c]]
    if fixed:
        sel = torch.tensor(fixed, device=dev)
        coords, labels = corrective_points(logits.detach()[sel, best[sel]].cpu(), target[sel].cpu(), gen)
        _, logits2, iou2 = decode_fn(rows[sel], map_boxes(boxes[sel]), (map_coords(coords.to(dev)), labels.to(dev)),
                                     feedback.detach()[sel, best[sel]][:, None])
        t2 = target[sel]
        loss2 = mask_losses(logits2, t2).min(dim=1).values.mean() + iou_weight * F.mse_loss(
            iou2, true_iou(logits2.detach(), t2))
        loss = loss + loss2 * (sum(fix_c) / n_canvas)  # canvases without the round add nothing
    return loss, tiou[ar, best].mean(), tiou[ar, iou_pred.argmax(1)].mean()


class RunLog:
    """log.jsonl (one record a step), the progress callback or every 20th record to ``log``,
    and atomic checkpoints: what every kseg training loop reports the same way."""

    def __init__(self, out_dir: Path, log=print, progress=None):
        self.f = open(out_dir / "log.jsonl", "a")
        self.log, self.progress, self.t0 = log, progress, time.time()

    def step(self, step: int, steps: int, **fields) -> dict:
        rec = {"step": step, **fields, "sec": round(time.time() - self.t0, 1)}
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()
        if self.progress is not None:
            self.progress(step, steps, rec)
        elif step % 20 == 0:
            self.log(" ".join(f"{k}={v}" for k, v in rec.items()))
        return rec

    @staticmethod
    def checkpoint(path: Path, payload: dict) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def close(self) -> None:
        self.f.close()


def step_rngs(seed: int, step: int) -> tuple[random.Random, random.Random, torch.Generator]:
    """The batch's, the prompts' and the clicks' random streams of one step: a function of (seed,
    step) alone, so batches can be cut ahead in threads and a resumed run continues exactly."""
    return (random.Random(f"{seed}:{step}:batch"), random.Random(f"{seed}:{step}:prompts"),
            torch.Generator().manual_seed(seed * 1_000_003 + step))


def _start_sam(ckpt_path: Path, cfg: TextSamConfig | None, init: str | None, lr: float, dev: torch.device,
               log) -> tuple[Any, TextSamConfig, torch.optim.Optimizer, int, float]:
    """(model, config, optimiser, first step, seconds already spent): resumed from the
    checkpoint, started from ``init``'s weights (and architecture), or new."""
    init_sd = ck = None
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        if cfg is None and "config" in ck:
            cfg = TextSamConfig.from_json(ck["config"])
    elif init:
        from ..segment.registry import load_state_dict

        init_sd, meta = load_state_dict(Path(init))
        if cfg is None and "kseg_config" in meta:  # keep the init's architecture (and its refiner)
            cfg = TextSamConfig.from_json(meta["kseg_config"])
    cfg = cfg or TextSamConfig()
    sam = build_text_sam(cfg).to(dev)
    opt = torch.optim.AdamW(sam.parameters(), lr=lr, weight_decay=1e-4)
    start, spent = 0, 0.0
    if ck is not None:
        sam.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start, spent = int(ck["step"]), float(ck.get("seconds", 0.0))
        log(f"resumed from {ckpt_path} at step {start}")
    elif init_sd is not None:
        sam.load_state_dict(init_sd)
        log(f"initialised from {init}")
    return sam, cfg, opt, start, spent


def train(data_dir: Path, out_dir: Path, steps: int = 4000, batch: int = 8, lr: float = 2e-3,
          seed: int = 0, device: str = "cpu", max_w: int = 512, cfg: TextSamConfig | None = None,
          limit: int | None = None, ckpt_every: int = 200, log=print, init: str | None = None,
          progress=None, iou_weight: float = 1.0, workers: int = 0, minutes: float | None = None) -> Path:
    """Train (or resume) text-SAM; returns the path of the final checkpoint.

    ``data_dir`` is a `kseg synth` folder or an items pack (`kseg.train.pack`). ``progress(step,
    steps, record)`` is called after every step when given (the CLI draws a rich bar with it);
    otherwise every 20th record goes to ``log``. ``workers`` threads cut the next batches while the
    model trains (on a GPU the cutting is the bottleneck). ``minutes`` ends the run after that much
    training time, the cosine following elapsed time instead of ``steps`` (a lent GPU's fixed lease).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    torch.manual_seed(seed)
    dev = torch.device(device)
    sam, cfg, opt, start, spent = _start_sam(ckpt_path, cfg, init, lr, dev, log)
    t_load = time.time()
    items = load_items(data_dir, limit, random.Random(seed))
    log(f"{len(items)} training items from {data_dir} in {time.time() - t_load:.0f}s")
    if not items:
        raise ValueError(f"no caption lines found in {data_dir}")
    budget = minutes * 60.0 if minutes else None
    warm = 200 if budget else min(200, steps // 10 + 1)
    end = 1 << 62 if budget else steps

    def factor(step: int) -> float:
        return cosine_lr(step, steps, warm, (spent + time.time() - t0) / budget if budget else None)

    def cut(step: int):
        return make_batch(items, step_rngs(seed, step)[0], batch, cfg.tile_h, max_w)

    pool = ThreadPoolExecutor(workers) if workers else None
    ahead: deque = deque()

    def next_batch(step: int):
        if pool is None:
            return cut(step)
        while len(ahead) < 2 * workers:
            ahead.append(pool.submit(cut, step + len(ahead)))
        return ahead.popleft().result()

    def save(step: int) -> None:
        RunLog.checkpoint(ckpt_path, {"model": sam.state_dict(), "opt": opt.state_dict(), "step": step,
                                      "config": cfg.to_json(), "seconds": spent + time.time() - t0})

    runlog = RunLog(out_dir, log, progress)
    sam.train()
    done = start
    t0 = time.time()
    try:
        for step in range(start, end):
            if budget and spent + time.time() - t0 >= budget:
                break
            f = factor(step)
            for g in opt.param_groups:
                g["lr"] = lr * f
            _, rng, gen = step_rngs(seed, step)
            imgs, tg, fl, boxes = next_batch(step)
            H, W = imgs.shape[-2:]
            imgs, tg, boxes = imgs.to(dev), tg.to(dev), boxes.to(dev)
            emb = sam.image_encoder(normalize(sam, imgs))

            def run(rows, bx, pts, mask_input):
                logits, iou = decode(sam, emb[rows], (H, W), STRIDE, boxes=bx, points=pts, mask_input=mask_input)
                return logits, logits, iou  # stride 4: the logits are already at canvas resolution

            total, ib, ir = batch_loss(run, boxes, tg, fl, rng, gen, iou_weight=iou_weight)
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(sam.parameters(), 1.0)
            opt.step()
            done = step + 1
            runlog.step(done, None if budget else steps, loss=round(total.item(), 4),
                        iou_best=round(ib.item(), 4), iou_ranked=round(ir.item(), 4), lr=round(lr * f, 6),
                        k=int(boxes.shape[1]), w=int(W))
            if done % ckpt_every == 0 or done == end:
                save(done)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        runlog.close()
    if done > start and not (done % ckpt_every == 0 or done == end):
        save(done)  # a time budget ends between checkpoints
    return ckpt_path


def export(ckpt_path: Path, dest: Path, extra: dict | None = None) -> Path:
    """A text-SAM checkpoint of any stage -> safetensors usable as `kseg segment --model`."""
    from ..segment.registry import save_text_sam

    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    sam = build_text_sam(TextSamConfig.from_json(state["config"]))
    sam.load_state_dict(state["model"])
    save_text_sam(sam, dest, {"steps": str(state["step"]), **state.get("meta", {}), **(extra or {})})
    return dest
