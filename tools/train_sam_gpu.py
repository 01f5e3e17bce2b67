"""Run text-SAM's SAM stage (`kseg train`'s default stage) on a lent GPU machine.

Why this wrapper exists: such a machine has torch but none of kseg's other packages, and
`kseg`'s CLI imports the video stage and with it PyAV (too big to carry). This calls the same
library functions the CLI calls: `kseg.train.train`, then `kseg.train.export`. The data is an
items pack (`python -m kseg.train.pack`), since the frames and their fonts do not fit the
64 MiB that travels.

    python tools/train_sam_gpu.py PACK OUT --init MODEL [--minutes M] [--batch B] [--lr LR]
        [--iou-weight W] [--workers N] [--seed S] [--steps N] [--ckpt-every N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--init", required=True)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--iou-weight", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=500)
    a = ap.parse_args(argv)

    import torch

    from kseg.train import export, train

    torch.set_float32_matmul_precision("high")  # TF32 matmuls on a GPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device {device}: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}", flush=True)
    ck = train(a.pack, a.out, steps=a.steps, batch=a.batch, lr=a.lr, seed=a.seed, device=device,
               init=a.init, iou_weight=a.iou_weight, workers=a.workers, minutes=a.minutes,
               ckpt_every=a.ckpt_every, log=lambda m: print(m, flush=True))
    print(export(ck, a.out / "model.safetensors", {"data": str(a.pack), "seed": str(a.seed), "stage": "sam"}))


if __name__ == "__main__":
    main()
