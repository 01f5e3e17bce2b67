"""Fine-tuning an official SAM (ViT-B/L/H) on `kseg synth` data (``kseg train --arch vit_b --init PATH``).

The same recipe as text-SAM (kseg.train: focal+dice 20:1, minimum over the three
outputs, IoU-head MSE, jittered boxes, point prompts, a corrective round), on the
mask decoder only (optionally the prompt encoder too); the ViT image encoder is
frozen, so its embeddings are computed without gradients.

The input geometry is exactly what `TextSegmenter` does at inference for official
models: caption tiles ``OFFICIAL_TILE_H`` tall stacked into a canvas, the canvas
through SamPredictor's ``ResizeLongestSide(1024).apply_image`` and ``sam.preprocess``
(normalise, pad to 1024x1024), boxes and points through ``apply_*_torch``. The
decoder's 256x256 logits are brought back to canvas resolution with
``sam.postprocess_masks`` -- what inference thresholds -- and compared with the
exact canvas targets: thin strokes survive there, whereas on the low-res grid a
cell is 4-8 canvas pixels and most strokes would vanish from the targets. Its cost
is small next to the frozen ViT forward pass.

Files in OUT: ``ckpt.pt`` (resumable: the *trained* modules' tensors only, the
optimiser, the step, and the arch/init it started from -- the frozen encoder is
re-read from ``init`` on resume, so a checkpoint is megabytes, not the ViT's
hundreds), ``log.jsonl``, and ``model.safetensors``: the full fine-tuned state dict,
plain tensors, which ``kseg segment --model OUT/model.safetensors`` recognises as
the same ViT architecture.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import ModelError
from ..segment import registry
from . import corrective_points, load_items, make_batch, mask_losses, true_iou

OFFICIAL_TILE_H = 128  # TextSegmenter's tile height for official models (kseg/segment/__init__.py)
TRAINABLE = {"decoder": ("mask_decoder",), "decoder+prompt": ("mask_decoder", "prompt_encoder")}


def _trained_state(sam, parts) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in sam.state_dict().items() if k.split(".", 1)[0] in parts}


def export_safetensors(sam, path: Path, meta: dict[str, str] | None = None) -> Path:
    """The full state dict as plain tensors (no kseg_config: registry.detect_kind sees a ViT)."""
    from safetensors.torch import save_file

    sd = {k: v.detach().contiguous().cpu() for k, v in sam.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(sd, str(tmp), metadata={"format": "kseg-sam-finetune-1", **(meta or {})})
    os.replace(tmp, path)
    return path


def finetune_official(data_dir: Path, out_dir: Path, arch: str = "vit_b", init: Path | None = None,
                      steps: int = 2000, batch: int = 4, lr: float = 1e-4, seed: int = 0, device: str = "cpu",
                      limit: int | None = None, log=print, ckpt_every: int = 100, train: str = "decoder",
                      max_w: int = 1024, progress=None) -> Path:
    """Fine-tune (or resume) an official SAM's decoder; returns OUT/model.safetensors.

    ``progress(step, steps, record)``, when given, is called after every step (as in kseg.train.train);
    otherwise every 20th record goes to ``log``.
    """
    from segment_anything import sam_model_registry
    from segment_anything.utils.transforms import ResizeLongestSide

    if arch not in registry.OFFICIAL:
        raise ModelError(f"unknown official architecture {arch!r} (vit_b, vit_l or vit_h)")
    if train not in TRAINABLE:
        raise ModelError(f"unknown --train {train!r} ({', '.join(TRAINABLE)})")
    if init is None:
        raise ModelError(f"fine-tuning {arch} needs --init PATH (the official checkpoint to start from)")
    parts = TRAINABLE[train]
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    rng = random.Random(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = torch.device(device)

    sam = sam_model_registry[arch](checkpoint=None)
    sd, _ = registry.load_state_dict(Path(init))
    try:
        sam.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{init} does not fit the {arch} architecture: {str(e).splitlines()[0][:200]}") from None
    del sd
    for name, p in sam.named_parameters():
        p.requires_grad_(name.split(".", 1)[0] in parts)
    sam.to(dev)
    params = [p for p in sam.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    start = 0
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        if ck.get("arch") != arch or ck.get("train") != train:
            raise ModelError(f"{ckpt_path} is a {ck.get('arch')}/{ck.get('train')} run, not {arch}/{train}; "
                             "use another --out")
        missing = set(_trained_state(sam, parts)) - set(ck["model"])
        if missing:
            raise ModelError(f"{ckpt_path} lacks {len(missing)} trained tensors (e.g. {sorted(missing)[0]})")
        sam.load_state_dict(ck["model"], strict=False)
        opt.load_state_dict(ck["opt"])
        start = int(ck["step"])
        rng = random.Random(seed + start)
        gen.manual_seed(seed + start)
        log(f"resumed from {ckpt_path} at step {start}")
    else:
        log(f"initialised {arch} from {init}; training {' + '.join(parts)}")
    sam.image_encoder.eval()  # frozen: no dropout, no grads
    sam.mask_decoder.train()

    t_load = time.time()
    items = load_items(data_dir, limit, random.Random(seed))
    log(f"{len(items)} training items from {data_dir} in {time.time() - t_load:.0f}s")
    if not items:
        raise ValueError(f"no caption lines found in {data_dir}")
    transform = ResizeLongestSide(sam.image_encoder.img_size)
    warm = min(100, steps // 10 + 1)
    sched = lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))

    def decode(emb, in_hw, hw, boxes=None, points=None, mask_input=None):
        sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        low, iou = sam.mask_decoder(image_embeddings=emb, image_pe=sam.prompt_encoder.get_dense_pe(),
                                    sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                    multimask_output=True)
        return low, sam.postprocess_masks(low, in_hw, hw), iou

    logf = open(out_dir / "log.jsonl", "a")
    t0 = time.time()
    done = start
    try:
        for step in range(start, steps):
            for g in opt.param_groups:
                g["lr"] = lr * sched(step)
            imgs, tg, fl, boxes = make_batch(items, rng, batch, OFFICIAL_TILE_H, max_w)
            H, W = imgs.shape[-2:]
            # exactly SamPredictor.set_image: resize the uint8 canvas, then normalise and pad
            x = np.stack([transform.apply_image(np.ascontiguousarray(im.permute(1, 2, 0).numpy())) for im in imgs])
            x = torch.as_tensor(x, device=dev).permute(0, 3, 1, 2).contiguous()
            in_hw = tuple(x.shape[-2:])
            with torch.no_grad():
                emb = sam.image_encoder(sam.preprocess(x))
            tg, boxes = tg.to(dev), boxes.to(dev)
            total = torch.zeros((), device=dev)
            ious_all, stats = [], []
            for b in range(imgs.shape[0]):
                pts = None
                bx = transform.apply_boxes_torch(boxes[b], (H, W))
                if rng.random() < 0.1:  # a click on the text instead of a box
                    coords, labels = [], []
                    for j in range(boxes.shape[1]):
                        idx = fl[b, j].flatten().nonzero()
                        if len(idx):
                            y, xx = divmod(int(idx[torch.randint(len(idx), (1,), generator=gen)]), W)
                            coords.append([xx + 0.5, y + 0.5]); labels.append(1)
                        else:
                            coords.append([0.0, 0.0]); labels.append(-1)
                    c = transform.apply_coords_torch(torch.tensor(coords, device=dev), (H, W))
                    pts = (c[:, None], torch.tensor(labels, device=dev)[:, None])
                    bx = None
                low, logits, iou_pred = decode(emb[b:b + 1], in_hw, (H, W), boxes=bx, points=pts)
                target = tg[b]
                ml = mask_losses(logits, target)
                best = ml.argmin(dim=1)
                loss = ml.gather(1, best[:, None]).mean()
                tiou = true_iou(logits.detach(), target)
                loss = loss + F.mse_loss(iou_pred, tiou)
                if rng.random() < 0.2:  # corrective round: a click in the error, previous low-res logits in
                    ar = torch.arange(len(best), device=dev)
                    coords, labels = corrective_points(logits.detach()[ar, best].cpu(), target.cpu(), gen)
                    c = transform.apply_coords_torch(coords.to(dev), (H, W))
                    prev = low.detach()[ar, best][:, None]
                    _, logits2, iou2 = decode(emb[b:b + 1], in_hw, (H, W), boxes=transform.apply_boxes_torch(boxes[b], (H, W)),
                                              points=(c, labels.to(dev)), mask_input=prev)
                    ml2 = mask_losses(logits2, target)
                    loss = loss + ml2.min(dim=1).values.mean() + F.mse_loss(iou2, true_iou(logits2.detach(), target))
                total = total + loss / imgs.shape[0]
                ious_all.append(tiou.gather(1, best[:, None]).mean().item())
                stats.append(tiou[torch.arange(len(best)), iou_pred.argmax(1)].mean().item())
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            done = step + 1
            rec = {"step": step + 1, "loss": round(total.item(), 4), "iou_best": round(float(np.mean(ious_all)), 4),
                   "iou_ranked": round(float(np.mean(stats)), 4), "lr": round(lr * sched(step), 7),
                   "k": int(boxes.shape[1]), "w": int(W), "sec": round(time.time() - t0, 1)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            if progress is not None:
                progress(step + 1, steps, rec)
            elif (step + 1) % 20 == 0:
                log(" ".join(f"{k}={v}" for k, v in rec.items()))
            if (step + 1) % ckpt_every == 0 or step + 1 == steps:
                tmp = ckpt_path.with_suffix(".tmp")
                torch.save({"model": _trained_state(sam, parts), "opt": opt.state_dict(), "step": step + 1,
                            "arch": arch, "train": train, "init": str(init)}, tmp)
                os.replace(tmp, ckpt_path)
    finally:
        logf.close()
    return export_safetensors(sam, out_dir / "model.safetensors",
                              {"arch": arch, "init": str(init), "train": train, "steps": str(done),
                               "data": str(data_dir), "seed": str(seed)})
