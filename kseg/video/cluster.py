"""Episodes as Ray tasks: ``translate-video --ray auto|ADDRESS``.

Ray is the engine (scheduling by CPUs, retries of tasks whose worker died, a cluster of any
size); kseg only says what one task is: one episode, ``run_episode`` in a worker process, which
loads the models once per worker and keeps them for its next episodes. Every node needs the
same kseg install and the same paths to the inputs and outputs (a shared folder); the
translation cache is one SQLite file there, which several processes share safely (WAL).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from kseg.errors import InputError

_PIPES: dict[Any, Any] = {}  # per worker process: the loaded pipeline, by its options


def _worker_pipeline(options: dict[str, Any], factory: Callable[[], Any] | None) -> Any:
    key = factory if factory is not None else tuple(sorted(options.items()))
    if key not in _PIPES:
        if factory is not None:
            _PIPES[key] = factory()
        else:
            from kseg.pipeline import SegmentPipeline

            _PIPES[key] = SegmentPipeline(**options)
    return _PIPES[key]


def _episode_task(ep: Any, o: Any, pipeline_options: dict[str, Any], factory: Callable[[], Any] | None,
                  threads: int) -> dict[str, Any]:
    """What one Ray task runs: the episode, with warnings returned rather than printed (they are
    the driver's to show)."""
    import torch

    from kseg.video.season import run_episode

    torch.set_num_threads(max(1, threads))
    warnings: list[str] = []
    rec = run_episode(ep, o, pipeline=_worker_pipeline(pipeline_options, factory), warn=warnings.append)
    rec["warnings"] = warnings
    rec["node"] = os.uname().nodename
    return rec


def connect(address: str, num_cpus: int | None = None) -> None:
    """``auto``: the running cluster if there is one (``RAY_ADDRESS`` or a local head), else a
    local instance on this machine's cores; otherwise ``ray://HOST:10001`` or ``HOST:6379``."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'kseg[ray]' (or pip install ray)") from None
    if ray.is_initialized():
        return
    quiet = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
            return
        except ConnectionError:
            ray.init(num_cpus=num_cpus, **quiet)
            return
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster there ({e})") from None


def run_on_ray(eps: list[Any], o: Any, address: str, *, cpus: int = 1, pipeline_options: dict[str, Any],
               pipeline_factory: Callable[[], Any] | None = None, num_cpus: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, record) for each episode as it finishes; all of them are submitted at once and
    Ray runs as many side by side as the cluster has ``cpus`` for."""
    import ray

    if not eps:
        return
    connect(address, num_cpus)
    task = ray.remote(num_cpus=cpus, max_retries=1)(_episode_task)
    refs = {}
    for k, ep in enumerate(eps):
        refs[task.remote(ep, o, pipeline_options, pipeline_factory, cpus)] = k
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        k = refs[done[0]]
        try:
            rec = ray.get(done[0])
        except ray.exceptions.RayError as e:  # the worker died (out of memory, node lost)
            rec = {"input": str(eps[k].src), "output": str(eps[k].out), "status": "failed",
                   "error": f"Ray task failed: {str(e).splitlines()[0]}"}
        yield k, rec
