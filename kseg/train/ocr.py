"""Training the caption-line recogniser (``kseg train-ocr``): CRNN + CTC on rendered lines.

Data: ``kseg.synth.lines`` shards (pre-rendered once, because rendering a line costs about as
much CPU as a training step on it), or a *stream* of fresh lines rendered by worker processes
while training runs (``LineStream``): on a machine with many cores and a GPU the network does
not cycle through a fixed set, which is what closed most of the gap to unseen fonts. Batches
take lines of similar width (less padding, the CPU cost is the padded width), with a random
width stretch as augmentation since fonts differ most in advance width. Conventions as ``kseg train``: resumable ``ckpt.pt``
(loaded with ``weights_only=True``), ``log.jsonl``, a ``progress(step, steps, record)`` hook,
``model.safetensors`` exported at the end.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
import multiprocessing as mp
import os
import random
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..evaluate.metrics import edit_distance
from ..recognize.kseg_ocr import CRNN, Codec, OCRConfig, save_model, tight, to_tensor
from ..synth.corpus import default_charset
from . import cosine_lr


def cache_paths(data: Path) -> list[Path]:
    return sorted(p for p in Path(data).glob("*.npz") if not p.name.endswith(".tmp.npz"))


def _items(data: Path, cfg: OCRConfig) -> list[tuple[np.ndarray, str]]:
    """(network-height input HxWxC uint8, text) for every cached line, in RAM."""
    from ..synth.lines import load_cache

    out = []
    for col, msk, text, _ in load_cache(cache_paths(data)):
        img = tight(msk) if cfg.input == "mask" else (col if cfg.in_ch == 3 else cv2.cvtColor(col, cv2.COLOR_RGB2GRAY))
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(4, round(w * cfg.height / h)), cfg.height), interpolation=cv2.INTER_AREA)
        out.append((img if img.ndim == 3 else img[..., None], text))
    return out


def _augment(img: np.ndarray, rng: random.Random, colour: bool) -> np.ndarray:
    h, w = img.shape[:2]
    s = rng.uniform(0.8, 1.2)
    img = cv2.resize(img, (max(4, round(w * s)), h), interpolation=cv2.INTER_LINEAR)
    if img.ndim == 2:
        img = img[..., None]
    if colour and rng.random() < 0.5:
        img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    return img


def make_batch(items, order: list[int], rng: random.Random, batch: int, codec: Codec, colour: bool,
               max_w: int = 1024):
    """A batch of similar-width lines: ``order`` is the items sorted by width."""
    i = rng.randrange(len(order))
    lo, hi = max(0, i - 4 * batch), min(len(order), i + 4 * batch)
    pick = rng.sample(order[lo:hi], min(batch, hi - lo))
    imgs, labels, lens = [], [], []
    for k in pick:
        img = _augment(items[k][0], rng, colour)[:, :max_w]
        imgs.append(img)
        lab = codec.encode(items[k][1])
        labels.extend(lab)
        lens.append(len(lab))
    x = to_tensor(imgs)
    in_lens = torch.tensor([min(x.shape[-1], im.shape[1]) // 4 for im in imgs])
    return x, torch.tensor(labels, dtype=torch.long), torch.tensor(lens), in_lens


def _render_input(job: tuple[int, int, str, int, int]) -> tuple[np.ndarray, str]:
    """Worker: line ``index`` of the train stream, preprocessed exactly as inference does."""
    from ..recognize.kseg_ocr import prepare
    from ..synth.broadcast import render_any

    seed, index, input, in_ch, height, engine = job
    s = render_any(seed, index, "train", engine)
    cfg = OCRConfig(height=height, in_ch=in_ch, input=input)
    return prepare(s.strip, s.footprint, cfg), s.text


def _worker_init(setup, args) -> None:
    # one thread per worker: the workers already fill the cores
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if setup is not None:
        setup(*args)


class LineStream:
    """Fresh training lines from ``workers`` processes into a ring buffer the trainer samples.

    Why a buffer and not one pass: rendering is the bottleneck (~40 lines/s per core), a GPU
    step is not, so each line is reused a few times while newer ones replace the oldest. Work
    is handed out in bounded blocks because ``Pool.imap`` would drain an endless iterator.
    Lines come from ``render_line(seed, first + k)``: deterministic content, arrival order not.
    """

    def __init__(self, cfg: OCRConfig, workers: int, size: int = 50_000, seed: int = 0, first: int = 1_000_000,
                 block: int = 1024, setup=None, setup_args: tuple = (), engine: str = "lines"):
        self.items: list[tuple[np.ndarray, str]] = []
        self.size, self.rendered, self._next = size, 0, first
        self._job = (seed, cfg.input, cfg.in_ch, cfg.height, engine)
        self._block = block
        self._stop = threading.Event()
        # spawn, not fork: a forked child can inherit a lock another thread held (it hung under
        # pytest) and CUDA state; ``setup(*setup_args)`` runs in each worker for anything the
        # renderer needs configured (tools/train_ocr_gpu.py points it at carried fonts)
        self._pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=(setup, setup_args))
        self._thread = threading.Thread(target=self._fill, daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        seed, input, in_ch, height, engine = self._job
        while not self._stop.is_set():
            a, self._next = self._next, self._next + self._block
            jobs = [(seed, i, input, in_ch, height, engine) for i in range(a, a + self._block)]
            try:
                for item in self._pool.imap_unordered(_render_input, jobs, chunksize=16):
                    if len(self.items) < self.size:
                        self.items.append(item)
                    else:  # replace the oldest: a ring over the list
                        self.items[self.rendered % self.size] = item
                    self.rendered += 1
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - pool closed under us at shutdown
                return

    def wait(self, n: int, timeout: float = 600.0) -> None:
        t0 = time.time()
        while len(self.items) < n:
            if not self._thread.is_alive():
                raise RuntimeError("line stream stopped before it rendered enough lines")
            if time.time() - t0 > timeout:
                raise RuntimeError(f"line stream rendered only {len(self.items)} lines in {timeout:.0f}s")
            time.sleep(0.2)

    def order(self) -> list[int]:
        n = len(self.items)
        return sorted(range(n), key=lambda k: self.items[k][0].shape[1])

    def close(self) -> None:
        self._stop.set()
        self._pool.terminate()
        self._pool.join()


def _from_model_file(path: Path, charset: str, device: torch.device) -> tuple[CRNN, OCRConfig]:
    """Start from a shipped model file (fine-tuning): its architecture, its weights."""
    from ..recognize.kseg_ocr import load_model

    from ..recognize.kseg_ocr import remap_head

    model, cfg, codec = load_model(Path(path))
    if codec.charset != charset:
        if not set(codec.charset) <= set(charset):
            raise ValueError(f"{path}: its charset has characters the one being trained lacks")
        model = remap_head(model, codec.charset, charset)
        cfg.n_classes = len(charset) + 1
    return model.float().train().to(device), cfg


@torch.inference_mode()
def quick_cer(model: CRNN, cfg: OCRConfig, codec: Codec, val: list[tuple[np.ndarray, str]]) -> float:
    model.eval()
    errs = tot = 0
    for img, text in val:
        ids = model(to_tensor([img]).to(next(model.parameters()).device))[0].argmax(-1)
        t = " ".join(text.split())
        errs += edit_distance(codec.decode(ids.tolist()), t)
        tot += len(t)
    model.train()
    return errs / max(1, tot)


@dataclass
class _Run:
    """The model, optimiser and where a (possibly resumed) run starts."""

    model: CRNN
    cfg: OCRConfig
    codec: Codec
    charset: str
    opt: torch.optim.Optimizer
    start: int = 0
    spent: float = 0.0


def _start_run(ckpt_path: Path, cfg: OCRConfig, lr: float, seed: int, dev: torch.device, init: Path | None,
               log) -> _Run:
    """A new model, ``init``'s (fine-tuning; its charset mapped onto the current one), or the
    checkpoint's when ``ckpt_path`` exists (resume)."""
    charset = default_charset()
    cfg.n_classes = len(Codec(charset))
    torch.manual_seed(seed)
    model = CRNN(cfg).to(dev)
    start, spent = 0, 0.0
    if init is not None and not ckpt_path.exists():
        model, cfg = _from_model_file(init, charset, dev)
        log(f"initialised from {init} (its architecture: width {cfg.width}, hidden {cfg.hidden})")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=True)
        cfg = OCRConfig.from_json(ck["config"])
        charset = ck.get("charset", charset)
        model = CRNN(cfg).to(dev)
        model.load_state_dict(ck["model"])
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        opt.load_state_dict(ck["opt"])
        start, spent = int(ck["step"]), float(ck.get("seconds", 0.0))
        log(f"resumed from {ckpt_path} at step {start}")
    return _Run(model, cfg, Codec(charset), charset, opt, start, spent)


def _ctc_step(model: CRNN, opt: torch.optim.Optimizer, ctc: nn.CTCLoss, x: torch.Tensor, labels: torch.Tensor,
              lens: torch.Tensor, in_lens: torch.Tensor) -> torch.Tensor:
    logp = model(x).log_softmax(-1).transpose(0, 1)  # (T, B, C)
    loss = ctc(logp, labels, in_lens.clamp(max=logp.shape[0]), lens)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss


def _val_lines(cfg: OCRConfig, seed: int, n_val: int, engine: str) -> list[tuple[np.ndarray, str]]:
    """A few held-out-font lines to watch generalisation as it trains; with a broadcast engine
    every other one is in a held-out display face."""
    from ..recognize.kseg_ocr import prepare
    from ..synth.broadcast import render_any

    val = []
    for i in range(n_val):
        s = (render_any(10_000 + seed, i, "display", "broadcast") if engine != "lines" and i % 2
             else render_any(10_000 + seed, i, "eval", "lines"))
        val.append((prepare(s.strip, s.footprint, cfg), s.text))
    return val


def _training_items(data: Path | None, cfg: OCRConfig, workers: int, buffer: int, seed: int, first: int,
                    worker_setup, worker_setup_args: tuple, engine: str, log):
    """(items, width order, stream or None): cached shards in RAM, or a live ``LineStream``."""
    t_load = time.time()
    if data is None:
        return [], [], LineStream(cfg, workers, buffer, seed=seed, first=first, setup=worker_setup,
                                  setup_args=worker_setup_args, engine=engine), t_load
    items = _items(Path(data), cfg)
    if not items:
        raise ValueError(f"no line shards (*.npz) in {data}; render them with kseg train-ocr SEED")
    log(f"{len(items)} training lines from {data} in {time.time() - t_load:.0f}s; input {cfg.input}")
    return items, sorted(range(len(items)), key=lambda k: items[k][0].shape[1]), None, t_load


def train_ocr(data: Path, out_dir: Path, steps: int = 4000, batch: int = 32, lr: float = 1.5e-3,
              input: str = "colour", seed: int = 0, device: str = "cpu", cfg: OCRConfig | None = None,
              stop_at: int | None = None, ckpt_every: int = 200, val_every: int = 250, n_val: int = 64,
              export_every: int = 500, log=print, progress=None, workers: int = 0, buffer: int = 50_000,
              init: Path | None = None, minutes: float | None = None, worker_setup=None,
              worker_setup_args: tuple = (), engine: str = "lines") -> Path:
    """Train (or resume) the recogniser on line shards in ``data``; returns the exported model.

    ``stop_at`` ends the run early at that step while keeping the LR schedule of ``steps``
    (a short run that is comparable, step for step, with a full one); ``model-stepN.safetensors``
    is exported every ``export_every`` steps so such a run has a same-step counterpart.
    ``data=None`` with ``workers`` > 0 trains on a ``LineStream`` instead of shards. ``init``
    starts a fresh run from a model file (its architecture and weights; ``cfg`` is ignored).
    ``minutes`` makes the run end after that much training time, the cosine following elapsed
    time; ``steps`` then only sets the warm-up and ``progress`` gets no total (a fixed machine lease).
    ``engine``: which data engine streams lines (``lines``, ``broadcast`` or ``mix``, see
    ``kseg.synth.broadcast.render_any``); with a broadcast engine half the validation lines
    come from the held-out display faces.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    if data is None and workers < 1:
        raise ValueError("no training data: give a folder of line shards or workers > 0 to stream lines")
    dev = torch.device(device)
    run = _start_run(ckpt_path, cfg or OCRConfig(input=input, in_ch=1 if input == "mask" else 3, width=0.75,
                                                  hidden=128), lr, seed, dev, init, log)
    model, cfg, codec, opt, start, spent = run.model, run.cfg, run.codec, run.opt, run.start, run.spent
    rng = random.Random(seed + start) if start else random.Random(seed)
    items, order, stream, t_load = _training_items(data, cfg, workers, buffer, seed, 1_000_000 + start * batch,
                                                   worker_setup, worker_setup_args, engine, log)
    val = _val_lines(cfg, seed, n_val, engine)
    if stream is not None:
        items = stream.items
        stream.wait(min(buffer, max(20 * batch, 2000)))
        order = stream.order()
        log(f"streaming lines from {workers} workers ({len(items)} ready after {time.time() - t_load:.0f}s); "
            f"input {cfg.input}")
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    warm = min(300, steps // 10 + 1)
    budget = minutes * 60.0 if minutes else None

    def sched(s: int) -> float:
        return cosine_lr(s, steps, warm, (spent + time.time() - t0) / budget if budget else None)

    # a time budget decides the end itself: --steps (4,000 by default) must not cut it short with
    # the cosine only part-way down (it did, at lr 3e-5, on a 105-minute run)
    total = stop_at if budget else min(steps, stop_at or steps)  # None: no step total on time alone
    end = total or (1 << 62)
    logf = open(out_dir / "log.jsonl", "a")
    model.train()
    t0 = time.time()
    colour = cfg.input != "mask"

    def save(step: int) -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "config": cfg.to_json(), "charset": run.charset, "seconds": spent + time.time() - t0}, tmp)
        os.replace(tmp, ckpt_path)

    src = "stream" if data is None else str(data)
    done = start
    try:
        for step in range(start, end):
            if budget and spent + time.time() - t0 >= budget:
                break
            for g in opt.param_groups:
                g["lr"] = lr * sched(step)
            if stream is not None and step % 200 == 0:
                order = stream.order()  # the ring has changed: re-sort by width
            x, labels, lens, in_lens = make_batch(items, order, rng, batch, codec, colour)
            loss = _ctc_step(model, opt, ctc, x.to(dev), labels, lens, in_lens)
            done = step + 1
            rec = {"step": done, "loss": round(loss.item(), 4), "lr": round(lr * sched(step), 6),
                   "w": int(x.shape[-1]), "sec": round(time.time() - t0, 1)}
            if stream is not None:
                rec["lines"] = stream.rendered
            if done % val_every == 0 or done == end:
                rec["val_cer"] = round(quick_cer(model, cfg, codec, val), 4)
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            if progress is not None:
                progress(done, total, rec)
            elif done % 50 == 0 or "val_cer" in rec:
                log(" ".join(f"{k}={v}" for k, v in rec.items()))
            if done % ckpt_every == 0 or done == end:
                save(done)
            if export_every and done % export_every == 0:
                save(done)
                export(ckpt_path, out_dir / f"model-step{done}.safetensors", {"data": src, "seed": seed})
    finally:
        if stream is not None:
            stream.close()
        logf.close()
    if done > start and not (done % ckpt_every == 0 or done == end):
        save(done)  # a time budget ends between checkpoints
    return export(ckpt_path, out_dir / "model.safetensors", {"data": src, "seed": seed})


def export(ckpt_path: Path, dest: Path, extra: dict | None = None) -> Path:
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    cfg = OCRConfig.from_json(ck["config"])
    model = CRNN(cfg)
    model.load_state_dict(ck["model"])
    save_model(model, cfg, ck.get("charset") or default_charset(), dest, {"steps": ck["step"], **(extra or {})})
    return dest
