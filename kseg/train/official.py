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

import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelError
from ..segment import registry
from ..segment.textsam import run_decoder
from . import RunLog, batch_loss, cosine_lr, load_items, make_batch, step_rngs

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


def _start_official(arch: str, init: Path, parts: tuple[str, ...], train: str, lr: float, dev: torch.device,
                    ckpt_path: Path, log):
    """(model, trained parameters, optimiser, first step): the official checkpoint with only
    ``parts`` trainable, resumed from ``ckpt_path`` when it holds this run."""
    from segment_anything import sam_model_registry

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
        log(f"resumed from {ckpt_path} at step {start}")
    else:
        log(f"initialised {arch} from {init}; training {' + '.join(parts)}")
    return sam, params, opt, start


def finetune_official(data_dir: Path, out_dir: Path, arch: str = "vit_b", init: Path | None = None,
                      steps: int = 2000, batch: int = 4, lr: float = 1e-4, seed: int = 0, device: str = "cpu",
                      limit: int | None = None, log=print, ckpt_every: int = 100, train: str = "decoder",
                      max_w: int = 1024, progress=None) -> Path:
    """Fine-tune (or resume) an official SAM's decoder; returns OUT/model.safetensors.

    ``progress(step, steps, record)``, when given, is called after every step (as in kseg.train.train);
    otherwise every 20th record goes to ``log``.
    """
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
    torch.manual_seed(seed)
    dev = torch.device(device)

    sam, params, opt, start = _start_official(arch, init, parts, train, lr, dev, ckpt_path, log)
    sam.image_encoder.eval()  # frozen: no dropout, no grads
    sam.mask_decoder.train()

    t_load = time.time()
    items = load_items(data_dir, limit, random.Random(seed))
    log(f"{len(items)} training items from {data_dir} in {time.time() - t_load:.0f}s")
    if not items:
        raise ValueError(f"no caption lines found in {data_dir}")
    transform = ResizeLongestSide(sam.image_encoder.img_size)
    warm = min(100, steps // 10 + 1)

    def decode(emb, in_hw, hw, boxes=None, points=None, mask_input=None):
        sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        low, iou = run_decoder(sam, emb, sparse, dense)
        return low, sam.postprocess_masks(low, in_hw, hw), iou

    runlog = RunLog(out_dir, log, progress)
    done = start
    try:
        for step in range(start, steps):
            for g in opt.param_groups:
                g["lr"] = lr * cosine_lr(step, steps, warm)
            brng, rng, gen = step_rngs(seed, step)
            imgs, tg, fl, boxes = make_batch(items, brng, batch, OFFICIAL_TILE_H, max_w)
            H, W = imgs.shape[-2:]
            # exactly SamPredictor.set_image: resize the uint8 canvas, then normalise and pad
            x = np.stack([transform.apply_image(np.ascontiguousarray(im.permute(1, 2, 0).numpy())) for im in imgs])
            x = torch.as_tensor(x, device=dev).permute(0, 3, 1, 2).contiguous()
            in_hw = tuple(x.shape[-2:])
            with torch.no_grad():
                emb = sam.image_encoder(sam.preprocess(x))
            tg, boxes = tg.to(dev), boxes.to(dev)

            def run(rows, bx, pts, mask_input):
                return decode(emb[rows], in_hw, (H, W), boxes=bx, points=pts, mask_input=mask_input)

            total, ib, ir = batch_loss(run, boxes, tg, fl, rng, gen,
                                       map_boxes=lambda t: transform.apply_boxes_torch(t, (H, W)),
                                       map_coords=lambda t: transform.apply_coords_torch(t, (H, W)))
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            done = step + 1
            runlog.step(step + 1, steps, loss=round(total.item(), 4), iou_best=round(ib.item(), 4),
                        iou_ranked=round(ir.item(), 4), lr=round(lr * cosine_lr(step, steps, warm), 7),
                        k=int(boxes.shape[1]), w=int(W))
            if (step + 1) % ckpt_every == 0 or step + 1 == steps:
                RunLog.checkpoint(ckpt_path, {"model": _trained_state(sam, parts), "opt": opt.state_dict(),
                                              "step": step + 1, "arch": arch, "train": train, "init": str(init)})
    finally:
        runlog.close()
    return export_safetensors(sam, out_dir / "model.safetensors",
                              {"arch": arch, "init": str(init), "train": train, "steps": str(done),
                               "data": str(data_dir), "seed": str(seed)})
