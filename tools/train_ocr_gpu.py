"""Run ``kseg train-ocr stream`` on a lent GPU machine that has no fontconfig and no net.

Why this wrapper exists: the line renderer finds fonts through ``fc-list``, background
photos through ``skimage.data``, the broadcast engine its display faces in ``.cache/fonts`` and
its words in Tesseract's data; a bare GPU machine has none of them. This script points the
renderers at a carried copy instead (``tools/pack_fonts.py`` writes it: the same faces and
family names, subset to the recogniser's charset) and then calls the ordinary trainer.

    python tools/train_ocr_gpu.py PACK_DIR OUT_DIR [kseg train-ocr options as key=value ...]
"""
from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np


def use_pack(pack: Path) -> None:
    import os

    fonts = Path("/tmp/kseg-fonts")
    if not fonts.exists():
        with tarfile.open(pack / "fonts.tar.xz") as t:
            t.extractall(fonts.with_suffix(".part"), filter="data")
        fonts.with_suffix(".part").replace(fonts)  # workers start at once: never see half a pack
    os.environ["KSEG_FONT_DIRS"] = str(fonts / "extra")
    os.environ["KSEG_CACHE"] = str(fonts / "cache")
    import kseg.synth as synth
    import kseg.synth.broadcast as broadcast

    man = json.loads((fonts / "fonts" / "manifest.json").read_text())
    faces = tuple(synth.FontFace(str(fonts / "fonts" / Path(m["path"]).name), 0, m["family"], m["style"])
                  for m in man)
    synth.korean_fonts = broadcast.korean_fonts = lambda: faces  # broadcast holds its own binding
    broadcast.extra_fonts.cache_clear()
    broadcast.broadcast_faces.cache_clear()

    def photo(name: str) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(pack / "photos" / f"{name}.png")), cv2.COLOR_BGR2RGB)

    synth._photo = photo


def main() -> None:
    pack, out = Path(sys.argv[1]), Path(sys.argv[2])
    opts = dict(a.split("=", 1) for a in sys.argv[3:])
    use_pack(pack)
    import torch

    from kseg.recognize.kseg_ocr import OCRConfig
    from kseg.train.ocr import train_ocr

    torch.backends.cudnn.benchmark = False
    cfg = OCRConfig(input="colour", in_ch=3, width=float(opts.pop("width", 0.75)), hidden=int(opts.pop("hidden", 128)))
    init, engine = opts.pop("init", None), opts.pop("engine", "lines")
    train_ocr(None, out, steps=int(opts.pop("steps", 10**6)), batch=int(opts.pop("batch", 128)),
              lr=float(opts.pop("lr", 2e-3)), seed=int(opts.pop("seed", 0)),
              device="cuda" if torch.cuda.is_available() else "cpu", cfg=cfg,
              workers=int(opts.pop("workers", 7)), buffer=int(opts.pop("buffer", 60000)),
              init=Path(init) if init else None, minutes=float(opts.pop("minutes", 7)),
              ckpt_every=int(opts.pop("ckpt_every", 10**9)), export_every=int(opts.pop("export_every", 0)),
              val_every=int(opts.pop("val_every", 500)), log=lambda m: print(m, flush=True),
              worker_setup=use_pack, worker_setup_args=(pack,), engine=engine)
    if opts:
        raise SystemExit(f"unknown options: {sorted(opts)}")


if __name__ == "__main__":
    main()
