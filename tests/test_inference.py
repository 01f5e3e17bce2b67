"""Inference-only rewrites of loaded networks: the same outputs, never a model in training."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from kseg._inference import _SignClampReLU, fast_bf16_relu, fold_batchnorm


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


def test_the_bf16_relu_gives_torchs_relu_values():
    x = torch.randn(3, 8, 33, 47).to(torch.bfloat16)
    x[0, 0, 0, :4] = torch.tensor([-0.0, 0.0, float("-inf"), float("inf")])
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        ref = torch.relu(x)
        out = _SignClampReLU()(x.clone())
    assert torch.equal(out, ref)
    # the very bits, but for relu's -0.0, which comes out +0.0 (equal to it in every later sum)
    assert torch.equal(out.view(torch.int16), ref.view(torch.int16).clamp(min=0))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_bf16_relu_swap_keeps_the_output_and_leaves_training_alone():
    net = _net().eval()
    fold_batchnorm(net)
    net = net.to(torch.bfloat16)
    x = torch.randn(2, 3, 17, 23).to(torch.bfloat16)
    with torch.inference_mode():
        before = net(x)
        assert fast_bf16_relu(net) == 1
        after = net(x)
    assert torch.equal(before, after)
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    # with gradients on (a copy trained further) it is torch's relu, so autograd still works
    y = torch.randn(5, requires_grad=True)
    _SignClampReLU()(y * 1.0).sum().backward()
    assert torch.equal(y.grad, (y > 0).float())


def test_craft_gets_the_bf16_relu_only_in_bf16():
    from kseg.detect import Detector

    swapped = lambda d: sum(isinstance(m, _SignClampReLU) for m in d.net.modules())  # noqa: E731
    assert swapped(Detector(dtype="bfloat16")) == 23
    assert swapped(Detector(dtype="float32")) == 0


def test_triton_is_kept_out_of_a_linux_process_without_a_gpu():
    """torchvision's import chain loads Triton (60-75 MB resident) where it can never run; on a
    Linux machine without a GPU device importing kseg refuses it, KSEG_TRITON=1 keeps it."""
    import os
    import subprocess
    import sys

    gpu = any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg", "/dev/dri"))
    if not sys.platform.startswith("linux") or gpu:
        pytest.skip("only a Linux machine without a GPU refuses Triton")
    code = ("import kseg, sys\n"
            "try:\n    import triton\n    print(sys.modules['triton'] is None, 'imported')\n"
            "except ImportError:\n    print(sys.modules['triton'] is None, 'refused')")
    env = {k: v for k, v in os.environ.items() if k != "KSEG_TRITON"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "refused"]
    out = subprocess.run([sys.executable, "-c", "import kseg, sys; print(sys.modules.get('triton', 'absent') is None)"],
                         capture_output=True, text=True, env={**env, "KSEG_TRITON": "1"}, check=True)
    assert out.stdout.split() == ["False"]


def test_importing_kseg_bounds_onednns_kernel_cache_unless_the_user_set_it():
    """oneDNN keeps a kernel per input shape (1024 by default); video meets new shapes all the
    time and a 1080p episode's memory climbed past 2 GB. Importing kseg sets a bound of its own
    where the user set none, and leaves the user's value (either name) alone."""
    import os
    import subprocess
    import sys

    import kseg

    names = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
    env = {k: v for k, v in os.environ.items() if k not in names}
    code = "import kseg, os; print(os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'), os.environ.get('DNNL_PRIMITIVE_CACHE_CAPACITY'))"
    run = lambda extra: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: E731
                                       env={**env, **extra}, check=True).stdout.split()
    assert run({}) == [str(kseg.ONEDNN_CACHE), "None"]
    assert run({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "512"}) == ["512", "None"]
    assert run({"DNNL_PRIMITIVE_CACHE_CAPACITY": "8"}) == ["None", "8"]
