"""Inference-only rewrites of loaded networks: the same outputs, never a model in training."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from kseg._inference import fold_batchnorm


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8)),  # nested, at the end of its block
        nn.BatchNorm2d(8),  # no convolution before it in its own block: left as it is
        nn.Conv2d(8, 2, 1),
    )
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # statistics a trained network would have
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net


def test_folded_network_gives_the_same_output():
    net = _net().eval()
    x = torch.randn(2, 3, 17, 23)
    with torch.inference_mode():
        before = net(x)
        assert fold_batchnorm(net) == 2
        after = net(x)
    assert torch.allclose(before, after, atol=1e-5)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 1
    assert fold_batchnorm(net) == 0  # nothing left to fold


def test_a_network_in_training_is_left_alone():
    net = _net().train()
    assert fold_batchnorm(net) == 0
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_fold_keeps_the_network_dtype(dtype):
    net = _net().eval()
    x = torch.randn(1, 3, 9, 9)
    with torch.inference_mode():
        ref = net(x)
        fold_batchnorm(net.to(dtype))
        out = net(x.to(dtype)).float()
    assert all(p.dtype == dtype for p in net.parameters())
    assert torch.allclose(ref, out, atol=0.1 if dtype == torch.bfloat16 else 1e-5)
