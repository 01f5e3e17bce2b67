"""Training text-SAM's edge refiner (``kseg train --stage refiner``).

The refiner (kseg/segment/refine.py) corrects the decoder's logits after they are pasted
back onto the frame, so it is trained on exactly that: a frozen text-SAM is run once over
the training frames, as `kseg segment` runs it (the chosen output of every line, prompted
by its true box or by a box jittered the way a detector errs), and the refiner learns, on
crops around the stroke edges, to turn those logits into the footprint. Freezing SAM keeps
this stage minutes long on a CPU and leaves the decoder's multimask ranking untouched.
"""
from __future__ import annotations

import hashlib
import pickle
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..segment.refine import window_tensors
from . import RunLog, cosine_lr
from .iouhead import run_frames

CROP = 96  # training crop side, frame pixels


@dataclass
class Window:
    """One line's tile rectangle on the frame: what the refiner sees at inference."""

    image: np.ndarray  # (h,w,3) uint8
    logits: np.ndarray  # (h,w) float16, the decoder's chosen output pasted onto the frame
    target: np.ndarray  # (h,w) bool footprint of this line
    valid: np.ndarray  # (h,w) bool: not another line's pixel (those count for neither side)


def collect_windows(seg, data_dir: Path, limit: int | None, rng: random.Random, jitter: float = 0.5,
                    progress=None, outputs: str = "chosen") -> list[Window]:
    """Run the frozen segmenter over the frames; half the prompts jittered like CRAFT's boxes.

    ``outputs="both"`` keeps a window for each of outputs 1 and 2 of every line whose chosen
    output is not the empty one: with a mask scorer choosing between them, the refiner must
    serve both, not only the one the IoU head mostly picks."""
    out: list[Window] = []
    for fr, _lines, tl, logits, _iou, _stab, idx in run_frames(seg, data_dir, limit, rng, jitter, progress):
        for i, t in enumerate(tl):
            chosen = int(idx[i])
            for k in ((1, 2) if outputs == "both" and chosen in (1, 2) else (chosen,)):
                vals, (x0, y0, x1, y1) = seg.pasted_logits(fr.image, logits[i, k], t)
                if not vals.size:
                    continue
                ids = fr.line_ids[y0:y1, x0:x1]
                out.append(Window(np.ascontiguousarray(fr.image[y0:y1, x0:x1]), vals.astype(np.float16),
                                  (ids == i + 1) & (fr.label[y0:y1, x0:x1] >= 1), (ids == 0) | (ids == i + 1)))
    return out


def sam_digest(sam: torch.nn.Module) -> str:
    """sha256 of a model's weights without its refiner and scorer: what the collected windows depend on."""
    h = hashlib.sha256()
    for k, v in sorted(sam.state_dict().items()):
        if not k.startswith(("refiner.", "scorer.")):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _save_windows(path: Path, key: dict, windows: list[Window]) -> None:
    """Windows as plain tensors, so the cache reads back with ``weights_only=True``."""
    RunLog.checkpoint(path, {"key": key, "windows": [
        {"image": torch.from_numpy(w.image), "logits": torch.from_numpy(w.logits),
         "target": torch.from_numpy(w.target), "valid": torch.from_numpy(w.valid)} for w in windows]})


def _load_windows(path: Path, key: dict) -> list[Window] | None:
    """The cached windows, or None when there are none for this key (or the file is unreadable:
    then they are collected again and the file rewritten, rather than the run failing)."""
    if not path.exists():
        return None
    try:
        got = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError):
        return None
    if not isinstance(got, dict) or got.get("key") != key:
        return None
    return [Window(d["image"].numpy(), d["logits"].numpy(), d["target"].numpy(), d["valid"].numpy())
            for d in got["windows"]]


@dataclass
class Jitter:
    """One sample's augmentation, applied alike to its crop and to its whole line window (the context).

    Why: the refiner learns on the training fonts, where the frozen SAM is better than on
    fonts it never saw, so its logits there are nearly right and the head learns to trust
    them; longer schedules then fit the training fonts (held-out fgIoU fell from 0.896 to
    0.888 between 2,200 and 8,000 steps). Rescaled and shifted logits are meant to make it
    read the frame's pixels instead, and photometric jitter (as the SAM stages use) to keep
    it off the training palette. Measured (docs/experiments/text-sam-history.md): within the noise on the
    held-out sets, so the shipped refiner is trained without it.
    """

    gain: float = 1.0  # image contrast
    bias: float = 0.0  # image brightness
    channels: tuple[int, int, int] = (0, 1, 2)
    temp: float = 1.0  # logit scale: an over- or under-confident decoder
    offset: float = 0.0  # logit offset: a decoder that draws too fat or too thin
    shift: tuple[int, int] = (0, 0)  # logits misaligned by a pixel

    @classmethod
    def draw(cls, rng: random.Random) -> "Jitter":
        j = cls()
        if rng.random() < 0.5:
            j.gain, j.bias = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
        if rng.random() < 0.2:
            j.channels = tuple(rng.sample([0, 1, 2], 3))
        if rng.random() < 0.5:
            j.temp, j.offset = rng.uniform(0.6, 1.5), rng.uniform(-1.5, 1.5)
        if rng.random() < 0.3:
            j.shift = (rng.choice((-1, 0, 1)), rng.choice((-1, 0, 1)))
        return j

    def image(self, img: np.ndarray) -> np.ndarray:
        if self.gain != 1.0 or self.bias != 0.0:
            img = np.clip(img.astype(np.float32) * self.gain + self.bias, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img[..., list(self.channels)]) if self.channels != (0, 1, 2) else img

    def logits(self, lg: np.ndarray, shift: bool = True) -> np.ndarray:
        shift = shift and self.shift != (0, 0)
        if self.temp == 1.0 and self.offset == 0.0 and not shift:
            return lg  # as image(): the identity copies nothing (the unaugmented run's hot path)
        out = lg.astype(np.float32)
        if self.temp != 1.0 or self.offset != 0.0:
            # only where the decoder saw something: the -20 background of the paste stays put
            out = np.where(out > -19, out * self.temp + self.offset, out)
        if shift:
            out = np.roll(out, self.shift, axis=(0, 1))
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


def _windows(seg, data_dir: Path, limit: int | None, seed: int, outputs: str, cache: Path, log) -> list:
    """The frozen model's line windows: from ``cache`` when it was made by the same SAM weights,
    data, limit and seed (collecting is minutes), else collected and saved there."""
    t0 = time.time()
    key = {"sam_sha256": sam_digest(seg.sam), "data": str(Path(data_dir).resolve()),
           "limit": -1 if limit is None else limit, "seed": seed, **({"outputs": outputs} if outputs != "chosen" else {})}
    windows = _load_windows(cache, key)
    if windows is not None:
        log(f"{len(windows)} line windows reused from {cache}")
        return windows
    with torch.inference_mode():
        windows = collect_windows(seg, data_dir, limit, random.Random(seed), outputs=outputs)
    log(f"{len(windows)} line windows from {data_dir} in {time.time() - t0:.0f}s")
    if not windows:
        raise ValueError(f"no caption lines found in {data_dir}")
    _save_windows(cache, key, windows)
    return windows


def train_refiner(data_dir: Path, out_dir: Path, init: str, steps: int = 3000, batch: int = 16, lr: float = 2e-3,
                  seed: int = 0, device: str = "cpu", channels: int = 16, limit: int | None = 700,
                  dilations: tuple[int, ...] | None = None, context: int = 0, warm: bool = False,
                  augment: bool = False, outputs: str = "chosen", ckpt_every: int = 200, log=print,
                  progress=None) -> Path:
    """Train (or resume) the edge refiner on a frozen text-SAM; returns the checkpoint path.

    The checkpoint holds the whole model (SAM from ``init`` plus the refiner), so the CLI
    exports it the same way as a SAM run. ``context`` adds the line-context branch;
    ``warm`` starts the dense layers from ``init``'s own refiner when it has the same shape
    (and the context branch, when ``init``'s has the same width);
    ``augment`` jitters every crop (:class:`Jitter`); ``outputs`` says which decoder outputs
    it learns to refine (:func:`collect_windows`). The frozen model's windows are kept in
    OUT/windows.pt, keyed by the SAM's weights (refiner excluded), data, limit and seed:
    collecting them is minutes, so a resumed run, or another refiner recipe on the same SAM
    (copy the file into its folder), skips it.
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
    # a mask scorer learned the old refiner's masks: it does not carry over to a new one
    cfg = replace(seg.sam.kseg_config, refiner=channels, refiner_context=context, scorer=0, scorer_members=1)
    if getattr(seg.sam, "scorer", None) is not None:
        log("the --init model's mask scorer is left out (it scored the old refiner's masks): "
            "run --stage scorer on this run's model")
    if dilations:
        cfg = replace(cfg, refiner_dilations=tuple(dilations))
    ref = EdgeRefiner(channels, cfg.refiner_dilations, context).to(dev)
    if warm:
        if old is None or {k: v.shape for k, v in old.body.state_dict().items()} != \
                {k: v.shape for k, v in ref.body.state_dict().items()}:
            raise ValueError("--warm-refiner needs an --init whose refiner has the same channels and dilations")
        ref.body.load_state_dict(old.body.state_dict())
        if context and getattr(old, "context", 0) == context:
            ref.ctx.load_state_dict(old.ctx.state_dict())
            ref.film.load_state_dict(old.film.state_dict())
            log("dense layers and context branch start from the --init model's refiner")
        else:
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
    windows = _windows(seg, data_dir, limit, seed, outputs, out_dir / "windows.pt", log)
    rng = random.Random(seed + start)
    warmup = min(100, steps // 10 + 1)
    runlog = RunLog(out_dir, log, progress)
    sam_state = {k: v for k, v in seg.sam.state_dict().items() if not k.startswith(("refiner.", "scorer."))}
    ref.train()
    try:
        for step in range(start, steps):
            for g in opt.param_groups:
                g["lr"] = lr * cosine_lr(step, steps, warmup)
            picked = [rng.choice(windows) for _ in range(batch)]
            crops = [_crop(w, rng) for w in picked]
            jit = [Jitter.draw(rng) if augment else Jitter() for _ in picked]
            if augment:
                crops = [(j.image(c[0]), j.logits(c[1]), c[2], c[3]) for j, c in zip(jit, crops)]
            img, lg, tg, va = (torch.from_numpy(np.stack(x)).to(dev) for x in zip(*crops))
            ctx = None
            if context:  # from each crop's whole line window, as refine_window does at inference
                ctx = torch.cat([ref.line_context(*window_tensors(j.image(w.image), j.logits(w.logits, False), dev))
                                 for j, w in zip(jit, picked)])
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
