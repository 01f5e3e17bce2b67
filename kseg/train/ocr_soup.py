"""kseg-ocr soups: the weight average of a run's last checkpoints, as one model file.

Why: at the end of a cosine schedule the checkpoints of one run sit in one basin, and their
average (a "model soup", Wortsman et al. 2022) reads at least as well as the best of them at no
run-time cost. Checkpoints of different runs are not averaged here: their weights need not line
up. No library averages kseg-ocr's safetensors files (with their charset and config metadata),
hence this module.

    python -m kseg.train.ocr_soup -o models/kseg-ocr.safetensors --read-stretch 1.1 \\
        runs/ocr-bc3/model-step5000.safetensors ... runs/ocr-bc3/model-step6500.safetensors
"""
from __future__ import annotations

import argparse
from pathlib import Path

from safetensors import safe_open

from ..errors import ModelError
from ..recognize.kseg_ocr import load_model, save_model


def soup(paths: list[Path], out: Path, read_stretch: float | None = None) -> Path:
    """Average ``paths`` (same config and charset) into ``out``; the first file's metadata is
    kept, with ``soup`` naming the ingredients and ``read_stretch`` set where given."""
    if not paths:
        raise ModelError("a soup needs at least one model file")
    models = [load_model(Path(p)) for p in paths]
    first, cfg, codec = models[0]
    for p, (_, c, k) in zip(paths, models):
        if c != cfg or k.charset != codec.charset:
            raise ModelError(f"{p}: another config or charset than {paths[0]}; only one run's checkpoints average")
    states = [m.state_dict() for m, _, _ in models]
    first.load_state_dict({k: sum(s[k].float() for s in states) / len(states) if v.is_floating_point() else v
                           for k, v in states[0].items()})
    with safe_open(str(paths[0]), framework="pt", device="cpu") as f:
        meta = dict(f.metadata() or {})
    extra = {k: v for k, v in meta.items() if k not in ("format", "config", "charset")}
    extra["soup"] = ",".join(Path(p).name for p in paths)
    if read_stretch is not None:
        extra["read_stretch"] = str(read_stretch)
    save_model(first, cfg, codec.charset, Path(out), extra=extra)
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--read-stretch", type=float, help="the reading width factor stored in the file")
    args = ap.parse_args(argv)
    try:
        print(soup(args.models, args.out, args.read_stretch))
    except ModelError as e:
        print(f"kseg: error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
