"""Inference-only rewrites of loaded networks (never of a model being trained or saved)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(net: nn.Module) -> int:
    """Fold each eval-mode BatchNorm2d into the Conv2d right before it in an ``nn.Sequential``
    (in place); returns how many were folded.

    Why: CRAFT (VGG16-BN) and the recogniser run a BatchNorm pass over every activation after
    its convolution, 5-9 % of their time on this CPU; with the statistics folded into the
    convolution's weights the output is the same up to float rounding. (Text-SAM's encoder, on
    96-px tiles, gains nothing measurable and is not folded.) torch supplies the folding of one pair
    (``fuse_conv_bn_eval``) but no walk over an eager model; ``torch.fx``'s fuser would trace
    and replace the whole module. The fold is done in float32 and cast back, so a bfloat16
    network does not lose precision in its weights twice."""
    folded = 0
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and not conv.training
                    and not bn.training and bn.track_running_stats and bn.running_mean is not None):
                dtype = conv.weight.dtype
                fused = fuse_conv_bn_eval(conv.float(), bn.float()).to(dtype)
                seq._modules[a] = fused
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded


class _SignClampReLU(nn.Module):
    """ReLU for bfloat16 activations as an int16 clamp on the same bits.

    Why: torch's CPU ``relu_`` on bfloat16 is not vectorised in the builds kseg runs on (a
    64 x 384 x 672 activation: 14 ms on one thread, against 1.2 ms for this and 9 ms for the
    AMX convolution before it), so CRAFT spent a fifth of its time in ReLUs. A bfloat16 is
    negative exactly when its sign bit is set, i.e. when its bits read as an int16 are
    negative, so clamping them at 0 gives ReLU's values (relu keeps a -0.0 that this makes +0.0:
    equal in every later sum; CRAFT's heatmaps come out bit for bit the same)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.bfloat16 or torch.is_grad_enabled():
            return torch.relu(x)
        x.view(torch.int16).clamp_(min=0)  # in place, as the nn.ReLU(inplace=True) it replaces
        return x


def fast_cpu_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN's AMX / AVX512-BF16
    kernels: several times float32's speed); elsewhere they are emulated and far slower."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


class Bf16Part(nn.Module):
    """``part`` of an inference-only network run in bfloat16 (channels-last, its ReLUs made
    fast), taking and giving float32, so the rest of the network is unchanged.

    Why: the recogniser's convolutions in float32 are four fifths of its time on this CPU; in
    bfloat16 on AMX the same part runs 8x faster, and its features differ by about 1 % (the
    readings measured in docs/experiments). The LSTM after it stays in float32."""

    def __init__(self, part: nn.Module):
        super().__init__()
        self.part = part.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        fast_bf16_relu(self.part)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        return self.part(x).float()


def fast_bf16_relu(net: nn.Module) -> int:
    """Replace each in-place ``nn.ReLU`` of an inference-only network by ``_SignClampReLU``
    (in place); returns how many were replaced. Out-of-place ReLUs are left alone (their input
    may be used again)."""
    swapped = 0
    for parent in net.modules():
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.ReLU) and child.inplace:
                parent._modules[name] = _SignClampReLU()
                swapped += 1
    return swapped


__all__ = ["Bf16Part", "fast_bf16_relu", "fast_cpu_bf16", "fold_batchnorm"]
