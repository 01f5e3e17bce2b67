"""Refiner soups: one text-SAM whose edge refiner is the weight average of several runs' refiners.

Why: refiners fine-tuned behind the same frozen SAM from the same trained refiner
(``--warm-refiner``) but on other frames, fonts or augmentations each learn that decoder's
errors a little differently. Averaging their weights (a "model soup", Wortsman et al. 2022)
keeps what they agree on and costs nothing at run time, where averaging their outputs would
refine every line twice. Refiners that only shared an older starting point, each trained
thousands of steps away from it, do not average: their channels drift apart, and such a soup
was measured far worse than either run (model card).

    python -m kseg.train.soup -o runs/soup/model.safetensors models/text-sam.safetensors runs/refiner-77/model.safetensors

Everything but the refiner (the SAM itself, and the first file's mask scorer, if it has one)
comes from the first file; the SAM weights of every file must be the same, since a refiner
only corrects the decoder it was trained behind. No library averages `segment_anything`
models with kseg's heads attached, hence this module.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..errors import ModelError
from ..segment.registry import load_state_dict, save_text_sam, sha256_file
from ..segment.textsam import TextSamConfig, build_text_sam

REFINER = "refiner."
SCORER = "scorer."


def _read(path: Path) -> tuple[dict[str, torch.Tensor], TextSamConfig]:
    sd, meta = load_state_dict(path)
    if "kseg_config" not in meta:
        raise ModelError(f"{path} is not a kseg text-SAM file (no kseg_config metadata)")
    cfg = TextSamConfig.from_json(meta["kseg_config"])
    if not cfg.refiner:
        raise ModelError(f"{path} has no edge refiner to average")
    return sd, cfg


def _refiner_shape(cfg: TextSamConfig) -> tuple:
    return cfg.refiner, tuple(cfg.refiner_dilations), cfg.refiner_context


def soup(paths: list[Path], dest: Path, weights: list[float] | None = None) -> Path:
    """Average the refiners of ``paths`` (weighted, uniform by default) into ``dest``."""
    if len(paths) < 2:
        raise ValueError("a soup needs at least two models")
    weights = weights or [1.0] * len(paths)
    if len(weights) != len(paths) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("--weights needs one non-negative weight per model, not all zero")
    base_sd, base_cfg = _read(paths[0])
    acc = {k: v.double() * weights[0] for k, v in base_sd.items() if k.startswith(REFINER)}
    for path, w in zip(paths[1:], weights[1:]):
        sd, cfg = _read(path)
        if _refiner_shape(cfg) != _refiner_shape(base_cfg):
            raise ModelError(f"{path}: its refiner's shape {_refiner_shape(cfg)} differs from "
                             f"{paths[0]}'s {_refiner_shape(base_cfg)}")
        for k, v in base_sd.items():
            if k.startswith((REFINER, SCORER)):
                continue
            if k not in sd or not torch.equal(sd[k], v):
                raise ModelError(f"{path}: its SAM differs from {paths[0]}'s ({k}); a refiner only "
                                 "corrects the decoder it was trained behind")
        for k in acc:
            acc[k] += sd[k].double() * w
    total = float(sum(weights))
    sam = build_text_sam(base_cfg)
    sam.load_state_dict({**base_sd, **{k: (v / total).to(base_sd[k].dtype) for k, v in acc.items()}})
    members = [{"file": str(p), "sha256": sha256_file(Path(p)), "weight": w}
               for p, w in zip(paths, weights)]
    save_text_sam(sam, Path(dest), {"stage": "refiner-soup", "members": json.dumps(members)})
    return Path(dest)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m kseg.train.soup", description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, nargs="+",
                    help="text-SAM files with refiners behind the same SAM; the first gives everything else")
    ap.add_argument("-o", "--out", type=Path, required=True, help="the model to write (.safetensors)")
    ap.add_argument("--weights", type=float, nargs="+", default=None,
                    help="one weight per model (default: all equal)")
    a = ap.parse_args(argv)
    if a.out.suffix != ".safetensors":
        ap.error("--out must end in .safetensors")
    try:
        soup(a.models, a.out, a.weights)
    except (ModelError, ValueError) as e:
        ap.exit(2, f"kseg soup: {e}\n")
    print(f"{a.out}: refiner averaged over {len(a.models)} models")


if __name__ == "__main__":
    main()
