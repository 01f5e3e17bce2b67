"""Calibrating text-SAM's IoU head to the masks it actually delivers (``kseg train --stage iou-head``).

SAM ranks its three outputs by the IoU its head predicts, and the head learned that IoU
for the decoder's own masks. With an edge refiner behind the decoder that is the wrong
target: refining lifts some outputs more than others (a tight output whose edges the
refiner completes can end up better than a loose one it cannot trim), so the head ranks
masks the user never sees. This stage freezes everything but the head's small MLP, runs
the model over training frames exactly as `kseg segment` does (boxes jittered like a
detector's half the time), measures the true IoU of every *refined* output, and fits
the head to those IoUs with SAM's MSE. The masks themselves do not change, so the refiner
stays valid; only the choice between them does.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from ..evaluate import fgiou_of_picks, line_iu, line_truth
from ..synth import list_frames, read_frame
from . import RunLog, detector_like_lines


def run_frames(seg, data_dir: Path, limit: int | None, rng: random.Random, jitter: float = 0.5, progress=None):
    """Yields (frame, lines, tiles, logits, iou, stab, chosen) for every frame with captions,
    run as `kseg segment` runs it; a ``jitter`` share of the boxes erred the way CRAFT's do.
    The stages that learn from the frozen model's answers (refiner, iou-head, scorer) collect
    their lines through it."""
    stems = list_frames(data_dir)[:limit]
    for n, stem in enumerate(stems):
        fr = read_frame(data_dir, stem)
        metas = fr.meta["lines"]
        if metas:
            H, W = fr.label.shape
            lines = detector_like_lines(metas, rng, W, H, jitter)
            yield fr, lines, *seg._run(fr.image, lines)
        if progress:
            progress(n + 1, len(stems))


def collect_iou_targets(seg, data_dir: Path, limit: int | None, rng: random.Random, jitter: float = 0.5,
                        progress=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, dim) IoU-token features and (N, 3, 2) intersection and union of each refined output."""
    feats: list[torch.Tensor] = []
    head = seg.sam.mask_decoder.iou_prediction_head
    hook = head.register_forward_hook(lambda _m, inp, _out: feats.append(inp[0].detach().clone()))
    xs: list[torch.Tensor] = []
    ys: list[list[list[float]]] = []
    try:
        for fr, lines, tl, logits, _iou, _stab, _idx in run_frames(seg, data_dir, limit, rng, jitter, progress):
            tokens = torch.cat(feats)  # one decoder call per line, in order (per-tile decoding)
            feats.clear()
            for i, t in enumerate(tl):
                truth = line_truth(fr, i, fr.meta["lines"][i]["box"])
                xs.append(tokens[i])
                # as ``segment`` pastes it (a one-syllable line's widened prompt cut back to its sides)
                ys.append([line_iu(seg._paste(fr.image, logits[i, k], t, box=lines[i].box), truth)
                           for k in range(logits.shape[1])])
    finally:
        hook.remove()
    if not xs:
        return torch.zeros(0), torch.zeros(0)
    return torch.stack(xs).float().cpu(), torch.tensor(ys, dtype=torch.float32)


def cached_lines(cache: Path, collect, seg, init: str, data_dir: Path, limit: int | None, seed: int,
                 log=print, key_extra: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``collect(seg, data_dir, limit, rng)``'s (features, intersections and unions), kept in
    ``cache`` keyed by the model file, data, limit and seed (and ``key_extra``): collecting is
    the slow part of the stages that fit a ranker, so a rerun (an interrupted one, or a new
    --lr) only refits."""
    from ..segment import registry

    key = {"init_sha256": registry.sha256_file(registry.resolve(init)[1]),
           "data": str(Path(data_dir).resolve()), "limit": -1 if limit is None else limit, "seed": seed,
           **(key_extra or {})}
    got = torch.load(cache, map_location="cpu", weights_only=True) if cache.exists() else None
    if got is not None and got.get("key") == key:
        log(f"{len(got['x'])} lines' measurements reused from {cache}")
        return got["x"], got["iu"]
    t0 = time.time()
    with torch.inference_mode():
        x, iu = collect(seg, data_dir, limit, random.Random(seed))
    if not len(x):
        raise ValueError(f"no caption lines found in {data_dir}")
    x, iu = x.clone(), iu.clone()  # out of inference mode: autograd may save them
    cache.parent.mkdir(parents=True, exist_ok=True)
    RunLog.checkpoint(cache, {"key": key, "x": x, "iu": iu})
    log(f"{len(x)} lines' refined outputs measured in {data_dir} in {time.time() - t0:.0f}s")
    return x, iu


def iou_of(iu: torch.Tensor) -> torch.Tensor:
    """(N,3,2) intersections and unions -> (N,3) IoU (an empty prediction of an empty line is 1)."""
    return torch.where(iu[..., 1] > 0, iu[..., 0] / iu[..., 1].clamp(min=1), torch.ones_like(iu[..., 0]))


def _ranked_iou(pred: torch.Tensor, iu: torch.Tensor) -> float:
    """Accumulated fgIoU of the outputs the head would pick, as `kseg eval` scores it."""
    return fgiou_of_picks(iu.detach().cpu().double().numpy(), pred.argmax(1).cpu().numpy())


def fit_iou_head(head: torch.nn.Module, x: torch.Tensor, iu: torch.Tensor, steps: int = 2000, lr: float = 1e-3,
                 seed: int = 0, holdout: float = 0.15, weighted: bool = True, step_log=None) -> dict:
    """Fit SAM's IoU-head MLP (its outputs 1..3, the multimask ones) to the measured IoUs.

    Full-batch Adam; the weights kept are those with the lowest error on a held-out share of
    the lines (a small MLP on a few thousand samples overfits soon). ``weighted`` weights
    each line by its size (the smallest union of its outputs, at least its footprint): the
    score is accumulated over pixels, so a wrong pick on a large caption costs more.
    """
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(x) * holdout)) if len(x) > 4 else 0
    val, tr = perm[:n_val], perm[n_val:]
    y = iou_of(iu)
    w = iu[..., 1].min(dim=1).values.clamp(min=1) if weighted else torch.ones(len(x))
    w = w / w[tr].mean()
    for p in head.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(head.parameters(), lr=lr)

    def loss_on(idx):
        err = (head(x[idx])[:, 1:] - y[idx]) ** 2  # the head's output 0 is the single-mask one
        return (err.mean(dim=1) * w[idx]).mean()

    with torch.no_grad():
        before = _ranked_iou(head(x[val])[:, 1:], iu[val]) if n_val else 0.0
        best = (float(loss_on(val)) if n_val else float("inf"), 0, {k: v.clone() for k, v in head.state_dict().items()})
    head.train()
    for step in range(steps):
        loss = loss_on(tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            v = float(loss_on(val)) if n_val else loss.item()
            ranked = _ranked_iou(head(x[val])[:, 1:], iu[val]) if n_val else 0.0
        if v < best[0]:
            best = (v, step + 1, {k: t.clone() for k, t in head.state_dict().items()})
        if step_log:
            step_log(step + 1, steps, loss=round(loss.item(), 5), iou_ranked=round(ranked, 4), val_mse=round(v, 5))
    head.load_state_dict(best[2])
    head.eval()
    for p in head.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        after = _ranked_iou(head(x[val])[:, 1:], iu[val]) if n_val else 0.0
    return {"kept_step": best[1], "val_loss": best[0], "val_ranked_before": before, "val_ranked_after": after}


def train_iou_head(data_dir: Path, out_dir: Path, init: str, steps: int = 2000, lr: float = 1e-3, seed: int = 0,
                   device: str = "cpu", limit: int | None = None, holdout: float = 0.15, weighted: bool = True,
                   log=print, progress=None) -> Path:
    """Fit the IoU head of ``init`` to refined-mask IoUs; returns a checkpoint in kseg's format.

    The measured targets are kept in OUT/targets.pt: collecting is the slow part, so a rerun
    with the same model, data, limit and seed (an interrupted one, or a new --lr) reuses them.
    """
    from ..segment import TextSegmenter

    seg = TextSegmenter(init, device, refine=True, score=False)
    if seg.kind != "text-sam":
        raise ValueError(f"--stage iou-head needs a text-SAM --init, not {seg.kind}")
    torch.manual_seed(seed)
    x, iu = cached_lines(out_dir / "targets.pt", collect_iou_targets, seg, init, data_dir, limit, seed, log)
    for p in seg.sam.parameters():
        p.requires_grad_(False)
    (out_dir / "log.jsonl").unlink(missing_ok=True)  # each run fits afresh: its own log
    runlog = RunLog(out_dir, log, progress)
    try:
        res = fit_iou_head(seg.sam.mask_decoder.iou_prediction_head, x.to(seg.device), iu.to(seg.device),
                           steps, lr, seed, holdout, weighted, runlog.step)
    finally:
        runlog.close()
    log(f"kept step {res['kept_step']} (held-out loss {res['val_loss']:.5f}); held-out lines' fgIoU with the "
        f"head's picks {res['val_ranked_before']:.4f} before, {res['val_ranked_after']:.4f} after")
    ckpt = out_dir / "ckpt.pt"
    RunLog.checkpoint(ckpt, {"model": seg.sam.state_dict(), "step": steps,
                             "config": seg.sam.kseg_config.to_json()})
    return ckpt
