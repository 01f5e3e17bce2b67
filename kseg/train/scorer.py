"""Training text-SAM's mask scorer (``kseg train --stage scorer``).

The scorer (kseg/segment/scorer.py) predicts the IoU of the refined outputs 1 and 2 from
measurements of the refined masks. This stage freezes the whole --init model, runs it over
training frames exactly as `kseg segment` does (half the boxes jittered like a detector's),
refines both outputs of every line, measures them and their true IoUs, and fits the MLPs.

The loss is what the choice needs. The score is fgIoU accumulated over all pixels, so a line
matters in proportion to how much picking the wrong output costs there: a weighted logistic
loss on which output is better (weight: the gain in pixels, with the union weighed at the
target's level J), plus a light MSE that keeps each output's prediction an IoU.
"""
from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..evaluate import fgiou_of_picks, line_iu, line_truth
from ..segment.scorer import FEATURES, IOU_AT, PER_OUTPUT, MaskScorer, line_features
from . import RunLog
from .iouhead import cached_lines, run_frames
from .refine import sam_digest

J = 0.9  # the fgIoU level at which a pixel of intersection trades against a pixel of union
SHARP = 50.0  # predicted IoU difference -> logit of "output 1 is better" (median gap is ~0.02)


def collect_scorer_targets(seg, data_dir: Path, limit: int | None, rng: random.Random, jitter: float = 0.5,
                           progress=None, version: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, FEATURES[version]) features and (N, 2, 2) intersection and union of refined outputs 1 and 2."""
    xs, ys = [], []
    for fr, lines, tl, logits, iou, stab, _idx in run_frames(seg, data_dir, limit, rng, jitter, progress):
        for i, (ln, t) in enumerate(zip(lines, tl)):
            (v1, rect), (v2, _) = (seg.pasted_logits(fr.image, logits[i, k], t) for k in (1, 2))
            if not v1.size:
                continue
            x0, y0, x1, y1 = rect
            xs.append(line_features(fr.image[y0:y1, x0:x1], v1, v2, ln.box, iou[i].tolist(), stab[i].tolist(),
                                     version))
            truth = line_truth(fr, i, fr.meta["lines"][i]["box"])
            ys.append([line_iu(seg.frame_mask(fr.image.shape, v, rect), truth) for v in (v1, v2)])
    if not xs:
        return torch.zeros(0), torch.zeros(0)
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys, dtype=torch.float32)


def picked_fgiou(q: torch.Tensor, iu: torch.Tensor) -> float:
    """Accumulated fgIoU when each line keeps the output with the higher prediction."""
    return fgiou_of_picks(iu.detach().double().numpy(), (q[:, 1] >= q[:, 0]).long().numpy())


def fit_scorer(scorer: MaskScorer, x: torch.Tensor, iu: torch.Tensor, steps: int = 500, lr: float = 1e-2,
               seed: int = 0, mse_weight: float = 0.1, weight_decay: float = 1e-2, step_log=None) -> dict:
    """Full-batch AdamW on all lines, each member from its own seed (seed, seed + 1, ...).

    A 16-unit MLP on ~2,000 lines: weight decay, not early stopping, keeps it smooth (the lines
    where the choice matters are too few to hold out), and averaging members steadies the pick.
    """
    scorer.mu.copy_(x.mean(0))
    scorer.sd.copy_(x.std(0) + 1e-6)
    y = torch.where(iu[..., 1] > 0, iu[..., 0] / iu[..., 1].clamp(min=1), torch.ones_like(iu[..., 0]))
    gain = (iu[:, 0, 0] - J * iu[:, 0, 1]) - (iu[:, 1, 0] - J * iu[:, 1, 1])  # > 0: output 1 is better
    w = gain.abs() / gain.abs().mean().clamp(min=1e-6)
    better1 = (gain > 0).float()
    before = picked_fgiou(x[:, [IOU_AT, PER_OUTPUT + IOU_AT]], iu)  # the decoder head's IoUs, 1 vs 2
    n = len(scorer.members)
    scorer.train()
    for k, net in enumerate(scorer.members):
        torch.manual_seed(seed + k)
        for layer in net:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        for p in net.parameters():
            p.requires_grad_(True)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        for step in range(steps):
            q = scorer.member(k, x)
            rank = (F.binary_cross_entropy_with_logits(SHARP * (q[:, 0] - q[:, 1]), better1, reduction="none")
                    * w).mean()
            loss = rank + mse_weight * F.mse_loss(q, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step_log:
                step_log(k * steps + step + 1, n * steps, member=k, loss=round(loss.item(), 5),
                         iou_ranked=round(picked_fgiou(q.detach(), iu), 4))
    scorer.eval()
    for p in scorer.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        after = picked_fgiou(scorer(x), iu)
    fixed2 = fgiou_of_picks(iu.double().numpy(), np.ones(len(iu), int))
    return {"fit_head": before, "fit_scorer": after, "fit_output2": fixed2}


def train_scorer(data_dir: Path, out_dir: Path, init: str, steps: int = 500, lr: float = 1e-2, seed: int = 0,
                 device: str = "cpu", limit: int | None = None, hidden: int = 16, members: int = 6,
                 mse_weight: float = 0.1, features: int = 2, masks_from: list[str] | None = None,
                 log=print, progress=None) -> Path:
    """Fit a mask scorer (``members`` MLPs of ``hidden`` units, ``steps`` each, on feature set
    ``features``) for the refined outputs of ``init``; returns a checkpoint in kseg's format.

    ``masks_from``: other models (other refiners behind the same SAM) whose refined outputs on
    the same frames are measured too and fitted on beside ``init``'s. The scorer has to judge
    masks from fonts its training never showed, which its own refiner renders differently;
    a scorer that has seen more than one refiner's masks of each line ranked better on unseen
    fonts than one fitted on its own refiner's masks alone (docs/experiments/text-sam-history.md).

    The measured lines are kept in OUT/scorer_targets.pt (and .1.pt, .2.pt … for
    ``masks_from``; collecting is the slow part), so a rerun with the same models, data, limit
    and seed reuses them.
    """
    from ..segment import TextSegmenter, registry
    from ..segment.textsam import TextSamConfig, build_text_sam

    if features not in FEATURES:
        raise ValueError(f"--scorer-features must be one of {sorted(FEATURES)}")
    sources = [init, *(masks_from or [])]
    segs, init_digest = [], None
    for k, src in enumerate(sources):  # every model is loaded and checked before the slow part
        s = TextSegmenter(src, device, refine=True, score=False)
        if s.kind != "text-sam" or s.refiner is None:
            what = "--init" if k == 0 else f"--scorer-masks-from {src}"
            raise ValueError(f"--stage scorer ranks refined masks: {what} must be a text-SAM with an edge refiner")
        # the scorer's inputs include the decoder's own IoUs and stability, and its choice is
        # between that decoder's outputs: masks from another SAM would teach it someone else's
        if k:
            init_digest = init_digest or sam_digest(segs[0].sam)  # hashed once, and only when needed
            if sam_digest(s.sam) != init_digest:
                raise ValueError(f"--scorer-masks-from {src}: its SAM differs from --init's; only the refiner may differ")
        segs.append(s)
    seg = segs[0]
    parts = [cached_lines(out_dir / ("scorer_targets.pt" if k == 0 else f"scorer_targets.{k}.pt"),
                          functools.partial(collect_scorer_targets, version=features),
                          s, src, data_dir, limit, seed, log, key_extra={"features": features})
             for k, (s, src) in enumerate(zip(segs, sources))]
    x, iu = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    # the same model with a scorer of this width; every other weight is the --init model's
    cfg = TextSamConfig.from_json(seg.sam.kseg_config.to_json())
    cfg.scorer, cfg.scorer_members, cfg.scorer_features = hidden, members, features
    sam = build_text_sam(cfg)
    got = sam.load_state_dict({k: v for k, v in seg.sam.state_dict().items() if not k.startswith("scorer.")},
                              strict=False)
    assert not got.unexpected_keys and all(k.startswith("scorer.") for k in got.missing_keys), got
    (out_dir / "log.jsonl").unlink(missing_ok=True)  # each run fits afresh: its own log
    runlog = RunLog(out_dir, log, progress)
    try:
        res = fit_scorer(sam.scorer, x, iu, steps, lr, seed, mse_weight, step_log=runlog.step)
    finally:
        runlog.close()
    log(f"training lines' fgIoU (outputs 1 or 2): IoU head's pick {res['fit_head']:.4f}, output 2 "
        f"{res['fit_output2']:.4f}, scorer's pick {res['fit_scorer']:.4f}")
    ckpt = out_dir / "ckpt.pt"
    meta = {"scorer_masks": json.dumps([{"model": str(src), "sha256": registry.sha256_file(registry.resolve(src)[1])}
                                        for src in sources])}
    RunLog.checkpoint(ckpt, {"model": sam.state_dict(), "step": steps, "config": cfg.to_json(), "meta": meta})
    return ckpt
