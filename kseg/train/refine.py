"""Training text-SAM's edge refiner (``kseg train --stage refiner``).

The refiner (kseg/segment/refine.py) corrects the decoder's logits after they are pasted
back onto the frame, so it is trained on exactly that: a frozen text-SAM is run once over
the training frames, as `kseg segment` runs it (the chosen output of every line, prompted
by its true box or by a box jittered the way a detector errs), and the refiner learns, on
crops around the stroke edges, to turn those logits into the footprint. Freezing SAM keeps
this stage minutes long on a CPU and leaves the decoder's multimask ranking untouched.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..segment.refine import window_tensors
from ..synth import list_frames, read_frame
from . import RunLog, cosine_lr, detector_like_lines

CROP = 96  # training crop side, frame pixels


@dataclass
class Window:
    """One line's tile rectangle on the frame: what the refiner sees at inference."""

    image: np.ndarray  # (h,w,3) uint8
    logits: np.ndarray  # (h,w) float16, the decoder's chosen output pasted onto the frame
    target: np.ndarray  # (h,w) bool footprint of this line
    valid: np.ndarray  # (h,w) bool: not another line's pixel (those count for neither side)


def collect_windows(seg, data_dir: Path, limit: int | None, rng: random.Random, jitter: float = 0.5,
                    progress=None) -> list[Window]:
    """Run the frozen segmenter over the frames; half the prompts jittered like CRAFT's boxes."""
    out: list[Window] = []
    stems = list_frames(data_dir)[:limit]
    for n, stem in enumerate(stems):
        fr = read_frame(data_dir, stem)
        metas = fr.meta["lines"]
        if metas:
            H, W = fr.label.shape
            tl, logits, _iou, _stab, idx = seg._run(fr.image, detector_like_lines(metas, rng, W, H, jitter))
            for i, t in enumerate(tl):
                vals, (x0, y0, x1, y1) = seg.pasted_logits(fr.image, logits[i, int(idx[i])], t)
                if not vals.size:
                    continue
                ids = fr.line_ids[y0:y1, x0:x1]
                out.append(Window(np.ascontiguousarray(fr.image[y0:y1, x0:x1]), vals.astype(np.float16),
                                  (ids == i + 1) & (fr.label[y0:y1, x0:x1] >= 1), (ids == 0) | (ids == i + 1)))
        if progress:
            progress(n + 1, len(stems))
    return out


def _crop(w: Window, rng: random.Random):
    """A CROP-square crop, nine times in ten centred on an uncertain or true pixel (the edges)."""
    h, wd = w.logits.shape
    if rng.random() < 0.9:
        ys, xs = np.nonzero((np.abs(w.logits) < 3) | w.target)
    else:
        ys = xs = np.zeros(0, int)
    if len(ys):
        j = rng.randrange(len(ys))
        cy, cx = int(ys[j]), int(xs[j])
    else:
        cy, cx = rng.randrange(h), rng.randrange(wd)
    y0 = min(max(0, cy - CROP // 2), max(0, h - CROP))
    x0 = min(max(0, cx - CROP // 2), max(0, wd - CROP))
    sl = (slice(y0, y0 + CROP), slice(x0, x0 + CROP))
    ch, cw = w.logits[sl].shape
    img = np.full((CROP, CROP, 3), 128, np.uint8)
    lg = np.full((CROP, CROP), -20.0, np.float32)
    tg = np.zeros((CROP, CROP), np.float32)
    va = np.zeros((CROP, CROP), np.float32)
    img[:ch, :cw], lg[:ch, :cw], tg[:ch, :cw], va[:ch, :cw] = w.image[sl], w.logits[sl], w.target[sl], w.valid[sl]
    return img, lg, tg, va


def refiner_loss(out: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """BCE over valid pixels plus 1 - soft IoU (the metric the footprint is scored by)."""
    bce = (F.binary_cross_entropy_with_logits(out, target, reduction="none") * valid).sum() / valid.sum().clamp(min=1)
    p = out.sigmoid() * valid
    soft_iou = ((p * target).sum() + 1) / ((p + target - p * target).sum() + 1)
    return bce + 1 - soft_iou


def train_refiner(data_dir: Path, out_dir: Path, init: str, steps: int = 3000, batch: int = 16, lr: float = 2e-3,
                  seed: int = 0, device: str = "cpu", channels: int = 16, limit: int | None = 700,
                  dilations: tuple[int, ...] | None = None, context: int = 0, warm: bool = False,
                  ckpt_every: int = 200, log=print, progress=None) -> Path:
    """Train (or resume) the edge refiner on a frozen text-SAM; returns the checkpoint path.

    The checkpoint holds the whole model (SAM from ``init`` plus the refiner), so the CLI
    exports it the same way as a SAM run. ``context`` adds the line-context branch;
    ``warm`` starts the dense layers from ``init``'s own refiner when it has the same shape.
    """
    from ..segment import TextSegmenter
    from ..segment.refine import EdgeRefiner

    ckpt_path = out_dir / "ckpt.pt"
    torch.manual_seed(seed)
    dev = torch.device(device)
    seg = TextSegmenter(init, device, refine=False)
    if seg.kind != "text-sam":
        raise ValueError(f"--stage refiner needs a text-SAM --init, not {seg.kind}")
    old = getattr(seg.sam, "refiner", None)
    cfg = replace(seg.sam.kseg_config, refiner=channels, refiner_context=context)
    if dilations:
        cfg = replace(cfg, refiner_dilations=tuple(dilations))
    ref = EdgeRefiner(channels, cfg.refiner_dilations, context).to(dev)
    if warm:
        if old is None or {k: v.shape for k, v in old.body.state_dict().items()} != \
                {k: v.shape for k, v in ref.body.state_dict().items()}:
            raise ValueError("--warm-refiner needs an --init whose refiner has the same channels and dilations")
        ref.body.load_state_dict(old.body.state_dict())
        log("dense layers start from the --init model's refiner")
    opt = torch.optim.Adam(ref.parameters(), lr=lr)
    out_dir.mkdir(parents=True, exist_ok=True)  # after every check on the arguments: a refusal writes nothing
    start = 0
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        ref.load_state_dict({k[len("refiner."):]: v for k, v in ck["model"].items() if k.startswith("refiner.")})
        opt.load_state_dict(ck["opt"])
        start = int(ck["step"])
        log(f"resumed from {ckpt_path} at step {start}")
    t0 = time.time()
    with torch.inference_mode():
        windows = collect_windows(seg, data_dir, limit, random.Random(seed))
    log(f"{len(windows)} line windows from {data_dir} in {time.time() - t0:.0f}s")
    if not windows:
        raise ValueError(f"no caption lines found in {data_dir}")
    rng = random.Random(seed + start)
    warmup = min(100, steps // 10 + 1)
    runlog = RunLog(out_dir, log, progress)
    sam_state = {k: v for k, v in seg.sam.state_dict().items() if not k.startswith("refiner.")}
    ref.train()
    try:
        for step in range(start, steps):
            for g in opt.param_groups:
                g["lr"] = lr * cosine_lr(step, steps, warmup)
            picked = [rng.choice(windows) for _ in range(batch)]
            crops = [_crop(w, rng) for w in picked]
            img, lg, tg, va = (torch.from_numpy(np.stack(x)).to(dev) for x in zip(*crops))
            ctx = None
            if context:  # from each crop's whole line window, as refine_window does at inference
                ctx = torch.cat([ref.line_context(*window_tensors(w.image, w.logits, dev)) for w in picked])
            out = ref(img.permute(0, 3, 1, 2).float(), lg, ctx)
            loss = refiner_loss(out, tg, va)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                p, t = (out > 0) & (va > 0), tg > 0
                p0 = (lg > 0) & (va > 0)
                iou = float((p & t).sum() / (p | t).sum().clamp(min=1))
                iou0 = float((p0 & t).sum() / (p0 | t).sum().clamp(min=1))
            runlog.step(step + 1, steps, loss=round(loss.item(), 4), iou_ranked=round(iou, 4),
                        iou_unrefined=round(iou0, 4), lr=round(lr * cosine_lr(step, steps, warmup), 6))
            if (step + 1) % ckpt_every == 0 or step + 1 == steps:
                model = {**sam_state, **{f"refiner.{k}": v for k, v in ref.state_dict().items()}}
                RunLog.checkpoint(ckpt_path, {"model": model, "opt": opt.state_dict(), "step": step + 1,
                                              "config": cfg.to_json()})
    finally:
        runlog.close()
    return ckpt_path
