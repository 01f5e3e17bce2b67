"""``kseg train``'s dispatch as a library call: which trainer a stage runs, with which defaults.

    dest = train_stage(Path("data/train"), Path("runs/x"), TrainOptions(stage="refiner", init="m.safetensors"))
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STEPS = {"iou-head": 2000, "scorer": 500}  # full-batch stages; the others: 3000
LR = {"iou-head": 1e-3, "scorer": 1e-2}  # text-SAM's sam / refiner stages: 2e-3; official archs: 1e-4
LIMIT = {"refiner": 700, "scorer": 1464}  # frames the frozen model is run over


@dataclass
class TrainOptions:
    """One `kseg train` run; None means the stage's default (``STEPS``, ``LR``, ``LIMIT``)."""

    stage: str = "sam"  # sam | refiner | iou-head | scorer
    arch: str = "text-sam"  # or vit_b | vit_l | vit_h (fine-tune an official SAM, needs init)
    steps: int | None = None
    batch: int = 8
    lr: float | None = None
    seed: int = 0
    limit: int | None = None
    workers: int = 0
    minutes: float | None = None
    iou_weight: float = 1.0
    init: str | None = None
    tune: str = "decoder"
    refiner_channels: int = 16
    refiner_context: int = 0
    warm_refiner: bool = False
    refiner_augment: bool = False
    refiner_outputs: str = "chosen"
    scorer_features: int = 2
    scorer_masks_from: list[str] | None = None
    device: str = "auto"

    def usage_problem(self, data: Path) -> str | None:
        """Why this combination cannot run (a usage error), or None."""
        if self.arch != "text-sam" and not self.init:
            return (f"--arch {self.arch} fine-tunes an official SAM checkpoint: pass --init PATH "
                    "(e.g. sam_vit_b_01ec64.pth)")
        if self.stage != "sam" and (self.arch != "text-sam" or not self.init):
            return (f"--stage {self.stage} trains part of a text-SAM: pass --init PATH to its weights "
                    "(e.g. models/text-sam.safetensors), with --arch text-sam")
        if Path(data).is_file() and (self.stage != "sam" or self.arch != "text-sam"):
            return (f"{data} is a file: items packs serve text-SAM's sam stage only; --stage {self.stage} "
                    f"and --arch {self.arch} need a `kseg synth` folder")
        return None

    def total_steps(self) -> int:
        return STEPS.get(self.stage, 3000) if self.steps is None else self.steps

    def peak_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.arch != "text-sam" else LR.get(self.stage, 2e-3)


def train_stage(data: Path, out: Path, o: TrainOptions, log: Callable[[str], None] = print,
                progress: Callable | None = None) -> Path:
    """Run one stage (resuming from ``out/ckpt.pt``) and return the exported model file."""
    from kseg.segment import pick_device

    problem = o.usage_problem(data)
    if problem:
        raise ValueError(problem)
    dev = str(pick_device(o.device))
    steps, lr = o.total_steps(), o.peak_lr()
    if o.arch != "text-sam":
        from kseg.train.official import finetune_official

        return finetune_official(data, out, arch=o.arch, init=Path(o.init), steps=steps, batch=o.batch, lr=lr,
                                 seed=o.seed, device=dev, limit=o.limit, log=log, train=o.tune,
                                 progress=progress)
    limit = LIMIT.get(o.stage) if o.limit is None else o.limit
    if o.stage == "refiner":
        from kseg.train.refine import train_refiner

        ck = train_refiner(data, out, init=o.init, steps=steps, batch=o.batch, lr=lr, seed=o.seed, device=dev,
                           channels=o.refiner_channels, context=o.refiner_context, warm=o.warm_refiner,
                           augment=o.refiner_augment, outputs=o.refiner_outputs, limit=limit, log=log,
                           progress=progress)
    elif o.stage == "iou-head":
        from kseg.train.iouhead import train_iou_head

        ck = train_iou_head(data, out, init=o.init, steps=steps, lr=lr, seed=o.seed, device=dev, limit=limit,
                            log=log, progress=progress)
    elif o.stage == "scorer":
        from kseg.train.scorer import train_scorer

        ck = train_scorer(data, out, init=o.init, steps=steps, lr=lr, seed=o.seed, device=dev, limit=limit,
                          features=o.scorer_features, masks_from=o.scorer_masks_from, log=log, progress=progress)
    else:
        from kseg.train import train

        ck = train(data, out, steps=steps, batch=o.batch, lr=lr, seed=o.seed, device=dev, limit=limit,
                   init=o.init, log=log, progress=progress, iou_weight=o.iou_weight, workers=o.workers,
                   minutes=o.minutes)
    from kseg.train import export

    return export(ck, Path(out) / "model.safetensors", {"data": str(data), "seed": str(o.seed), "stage": o.stage})
