"""The lab commands: ``kseg synth``, ``kseg train``, ``kseg eval``, ``kseg train-ocr``, ``kseg train-fill``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from kseg.errors import KsegError

from .common import app, Device, LM, LM_HELP, _emit_json, _error, _progress, _stderr


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder (created; existing "
                                      "frames are kept, so an interrupted run resumes).")],
    n: Annotated[int, typer.Option("-n", help="Number of frames.", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Dataset seed: same seed, same frames.")] = 0,
    split: Annotated[str, typer.Option("--split", help="train, or eval (held-out fonts and "
                                       "backgrounds that training never sees).")] = "train",
    fonts: Annotated[str, typer.Option("--fonts", help="set-up: the 39 training faces of set-up's "
                                       "font packages, recorded in kseg.synth.TRAIN_FACES (the same "
                                       "frames whatever else is installed); installed: every installed "
                                       "Korean face outside the held-out families (train split only).")] = "set-up",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Render caption frames with exact masks (the data engine; format in kseg/synth).

    Example: kseg synth -o data/eval -n 200 --seed 1 --split eval
    """
    from kseg.synth import FONT_SETS, generate

    if split not in ("train", "eval"):
        _error(f"--split must be train or eval, not {split!r}")
        raise typer.Exit(2)
    if fonts not in FONT_SETS:
        _error(f"--fonts must be {' or '.join(FONT_SETS)}, not {fonts!r}")
        raise typer.Exit(2)
    bar, task = _progress(f"rendering {split}", n, quiet)
    with bar:
        try:
            generate(out, n, seed=seed, split=split, fonts=fonts,
                     progress=lambda i: bar.update(task, completed=i + 1))
        except ValueError as e:  # a usage error found by generate: eval with installed fonts, a mixed resume
            _error(f"{out}: {e}")
            raise typer.Exit(2)
        except (OSError, RuntimeError) as e:
            _error(f"{out}: {e}")
            raise typer.Exit(1)
    typer.echo(str(out))


# kseg train's options, one alias each (typer reads the Annotated metadata through the alias)
TDataOpt = Annotated[Path, typer.Argument(help="A `kseg synth` training dataset; for --stage sam also an "
    "items pack (python -m kseg.train.pack: the lines alone, small "
    "enough to carry to a GPU machine).")]
TOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Run folder: ckpt.pt (resumable), "
    "log.jsonl, and the exported model.safetensors.")]
TStepsOpt = Annotated[int | None, typer.Option("--steps", help="Total optimiser steps; default 3000 "
    "(2000 for --stage iou-head, 500 for --stage scorer).", min=1)]
TBatchOpt = Annotated[int, typer.Option("--batch", help="Canvases per step.", min=1)]
TLrOpt = Annotated[float | None, typer.Option("--lr", help="Peak learning rate (AdamW, cosine); "
    "default 2e-3 for text-sam (1e-3 for --stage iou-head, 1e-2 for --stage scorer), 1e-4 for official archs.")]
TSeedOpt = Annotated[int, typer.Option("--seed")]
TLimitOpt = Annotated[int | None, typer.Option("--limit", help="Use only the first N frames (of an "
    "items pack: the first N items).")]
TWorkersOpt = Annotated[int, typer.Option("--workers", help="--stage sam: threads cutting the next "
    "batches while the model trains (a GPU waits for them "
    "otherwise); 0 cuts them in line.", min=0)]
TMinutesOpt = Annotated[float | None, typer.Option("--minutes", help="--stage sam: stop after this much "
    "training time; the cosine follows time and --steps "
    "is ignored (a GPU lease of fixed length).",
    min=0.1)]
TArchOpt = Annotated[Literal["text-sam", "vit_b", "vit_l", "vit_h"], typer.Option(
    "--arch", help="text-sam (train kseg's own model) or an official SAM to fine-tune (needs --init).")]
TIouWeightOpt = Annotated[float, typer.Option("--iou-weight", help="Weight of the IoU-head MSE "
    "(SAM: 1); a late phase with more teaches it to rank outputs.")]
TInitOpt = Annotated[str | None, typer.Option("--init", help="Start from these weights: text-SAM weights, or "
    "for --arch vit_b|vit_l|vit_h the official checkpoint (required).")]
TTuneOpt = Annotated[Literal["decoder", "decoder+prompt"], typer.Option(
    "--tune", help="Official archs: what to train; the image encoder stays frozen.")]
TStageOpt = Annotated[Literal["sam", "refiner", "iou-head", "scorer"], typer.Option(
    "--stage", help="text-sam: sam (encoder, prompt encoder and decoder); refiner (only the edge "
    "refiner, the high-resolution mask head, on the frozen --init model; --batch counts 96-px crops, "
    "--limit defaults to 700 frames); iou-head (only the IoU head's MLP, fitted to the true IoUs "
    "of the --init model's refined outputs, so ranking picks the best delivered mask; full-batch, "
    "--steps 2000); or scorer (a mask scorer that predicts the IoU of the --init model's "
    "refined outputs 1 and 2 from the refined masks and re-ranks them; full-batch, --steps 500, "
    "--limit defaults to 1464 frames).")]
TRefinerChannelsOpt = Annotated[int, typer.Option("--refiner-channels", min=4,
    help="--stage refiner: width of the refiner.")]
TRefinerContextOpt = Annotated[int, typer.Option("--refiner-context", min=0, help="--stage refiner: width "
    "of the line-context branch (whole-window shadow / plate "
    "cues); 0 = none.")]
TWarmRefinerOpt = Annotated[bool, typer.Option("--warm-refiner", help="--stage refiner: start the dense "
    "layers from the --init model's own refiner (same shape), and "
    "its context branch when that has the --refiner-context width.")]
TRefinerAugmentOpt = Annotated[bool, typer.Option("--refiner-augment", help="--stage refiner: jitter each "
    "crop (brightness, contrast, channel order; logit scale, "
    "offset and a 1-px shift) so the head reads the pixels "
    "rather than trusting the frozen SAM.")]
TRefinerOutputsOpt = Annotated[Literal["chosen", "both"], typer.Option(
    "--refiner-outputs", help="--stage refiner: learn to refine the output the IoU head chooses, or "
    "both non-empty outputs (1 and 2) of every line, for a model whose mask scorer chooses between "
    "them.")]
TScorerFeaturesOpt = Annotated[int, typer.Option(
    "--scorer-features", min=1, max=2, help="--stage scorer: 1, the masks' shape and edge measurements; "
    "2 (the shipped scorer's), those plus colour (does the ring where outputs 1 and 2 disagree look "
    "like the caption or its surroundings).")]
TScorerMasksFromOpt = Annotated[list[str] | None, typer.Option(
    "--scorer-masks-from", help="--stage scorer (repeatable): also measure this model's refined outputs "
    "on the same frames and fit on them beside --init's: another edge refiner behind the same SAM (checked), "
    "e.g. the one --init's refiner was fine-tuned from.")]
TDeviceOpt = Annotated[Device, typer.Option("--device")]
TThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads for torch.")]
TQuietOpt = Annotated[bool, typer.Option("--quiet", "-q")]


@app.command()
def train(
    data: TDataOpt,
    out: TOutOpt = Path("runs/text-sam"),
    steps: TStepsOpt = None,
    batch: TBatchOpt = 8,
    lr: TLrOpt = None,
    seed: TSeedOpt = 0,
    limit: TLimitOpt = None,
    workers: TWorkersOpt = 0,
    minutes: TMinutesOpt = None,
    arch: TArchOpt = "text-sam",
    iou_weight: TIouWeightOpt = 1.0,
    init: TInitOpt = None,
    tune: TTuneOpt = "decoder",
    stage: TStageOpt = "sam",
    refiner_channels: TRefinerChannelsOpt = 16,
    refiner_context: TRefinerContextOpt = 0,
    warm_refiner: TWarmRefinerOpt = False,
    refiner_augment: TRefinerAugmentOpt = False,
    refiner_outputs: TRefinerOutputsOpt = "chosen",
    scorer_features: TScorerFeaturesOpt = 2,
    scorer_masks_from: TScorerMasksFromOpt = None,
    device: TDeviceOpt = "auto",
    threads: TThreadsOpt = None,
    quiet: TQuietOpt = False,
) -> None:
    """Train text-SAM, or fine-tune an official SAM's decoder (--arch vit_b --init PATH).

    Resumes from OUT/ckpt.pt, then exports OUT/model.safetensors (usable as `kseg segment --model`).

    Example: kseg train data/train -o runs/text-sam --steps 3000 --batch 6
    """
    from kseg.train.stages import TrainOptions

    o = TrainOptions(stage=stage, arch=arch, steps=steps, batch=batch, lr=lr, seed=seed, limit=limit,
                     workers=workers, minutes=minutes, iou_weight=iou_weight, init=init, tune=tune,
                     refiner_channels=refiner_channels, refiner_context=refiner_context,
                     warm_refiner=warm_refiner, refiner_augment=refiner_augment,
                     refiner_outputs=refiner_outputs, scorer_features=scorer_features,
                     scorer_masks_from=scorer_masks_from, device=device)
    problem = o.usage_problem(data)
    if problem:
        _error(problem)
        raise typer.Exit(2)
    import torch

    from kseg.train.stages import train_stage

    if threads:
        torch.set_num_threads(threads)
    log = (lambda m: None) if quiet else (lambda m: _stderr.print(f"kseg: {m}", markup=False))
    # a live bar (loss, IoU) on a terminal; on a pipe or log file every 20th step is logged instead
    live = not quiet and _stderr.is_terminal
    bar, task = _progress("training", o.total_steps(), not live)

    def show(step: int, total: int, rec: dict) -> None:
        bar.update(task, completed=step, total=total,
                   description=f"training loss {rec['loss']:.3f} IoU {rec['iou_ranked']:.3f}")

    try:
        with bar:
            dest = train_stage(data, out, o, log=log, progress=show if live else None)
    except (KsegError, ValueError, OSError) as e:
        _error(str(e))
        raise typer.Exit(1)
    typer.echo(str(dest))


@app.command("eval")
def eval_cmd(
    data: Annotated[list[Path] | None, typer.Argument(help="A `kseg synth` dataset (use --split eval), or "
                                                      "several, pooled into one score; --task ocr renders "
                                                      "its own lines instead.", show_default=False)] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model to evaluate (as for segment; "
                                              "--task ocr: a kseg-ocr .safetensors).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N frames of each dataset "
                                              "(--task ocr: N held-out lines, default 300).", min=1)] = None,
    task: Annotated[Literal["sam", "ocr"], typer.Option(
        "--task", help="sam: masks vs box baselines; ocr: recognisers (kseg, Tesseract raw and "
        "mask-cleaned) on held-out rendered lines.")] = "sam",
    seed: Annotated[int, typer.Option("--seed", help="--task ocr: seed of the eval lines.")] = 0,
    device: Annotated[Device, typer.Option("--device")] = "auto",
    end_to_end: Annotated[bool, typer.Option("--end-to-end", help="Also prompt with the CRAFT "
                                             "detector's boxes and score whole frames (what `segment` gives).")] = False,
    no_refine: Annotated[bool, typer.Option("--no-refine", help="Score text-SAM's decoder alone, without "
                                            "the model's edge refiner (to measure what the refiner adds).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON line.")] = False,
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads for torch (ms per line "
                                                "depends on it when other work shares the cores).",
                                                min=1)] = None,
    views: Annotated[int | None, typer.Option("--views", help="--task ocr: framings the kseg recogniser "
                                              "averages on an unsure line (1 = off; default 3, as in the pipeline).",
                                              min=1, max=5)] = None,
    lines_from: Annotated[Literal["eval", "display"], typer.Option(
        "--lines-from", help="--task ocr: eval = the first engine's held-out font families; display = "
        "the broadcast engine (real-episode styles and codecs) in held-out display faces.")] = "eval",
    lm: Annotated[LM, typer.Option("--lm", help="--task ocr: " + LM_HELP)] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """fgIoU / F / boundary F of text-SAM vs the box and Otsu-in-box baselines, per style.

    Prompts are the true ink boxes (segmentation quality alone); --end-to-end adds detection.
    Several datasets are pooled: every figure is over all their frames, as one set.
    --task ocr: CER / exact-line accuracy / ms per line of the recognisers instead.

    Example: kseg eval data/eval --end-to-end; kseg eval --task ocr --lines-from display
    """
    if threads:
        import torch

        torch.set_num_threads(threads)
    if task == "ocr":
        _eval_ocr(model, limit or 300, seed, "cpu" if device == "auto" else device, as_json, quiet, views,
                  lines_from, lm)
        return
    if not data:
        _error("kseg eval --task sam needs a dataset folder")
        raise typer.Exit(2)
    from kseg.evaluate import evaluate_sam

    bar, task = _progress("evaluating", None, quiet)
    try:
        with bar:
            res = evaluate_sam(data, model, device, limit, end_to_end=end_to_end, refine=not no_refine,
                               progress=lambda i, n: bar.update(task, completed=i, total=n))
    except (KsegError, OSError, FileNotFoundError) as e:
        _error(str(e))
        raise typer.Exit(1)
    if as_json:
        _emit_json(res)
        return
    from rich.table import Table

    t = Table(title=f"{res['model']} on {res['dataset']} ({res['frames']} frames, {res['lines']} lines)")
    for c in ("method", "style", "fgIoU", "F", "boundary F"):
        t.add_column(c)
    for method, styles in res["rows"].items():
        for style, m in styles.items():
            t.add_row(method, style, f"{m['fgIoU']:.3f}", f"{m['F']:.3f}", f"{m['bF']:.3f}")
    out = Console(highlight=False, emoji=False, width=120)
    out.print(t)
    h = res["iou_head"]
    scored = (f" (decoder's IoU head alone {h['head_only']:.3f}, then the mask scorer on refined outputs)"
              if res.get("scorer") else "")
    out.print(f"IoU head: chosen by predicted IoU {h['ranked']:.3f}{scored}; fixed index 0/1/2 "
              f"{h['fixed_0']:.3f}/{h['fixed_1']:.3f}/{h['fixed_2']:.3f}; "
              f"oracle (each line's best output) {h['oracle']:.3f}; "
              f"Spearman(predicted, true IoU) {h['spearman']:.3f}")
    ci = res["ci95"]
    out.print(f"95% bootstrap intervals over frames: text-SAM fgIoU [{ci['fgIoU'][0]:.3f}, {ci['fgIoU'][1]:.3f}]; "
              f"ranked minus best fixed index [{ci['ranked_minus_best_fixed'][0]:+.4f}, "
              f"{ci['ranked_minus_best_fixed'][1]:+.4f}]")
    out.print(f"model time {res['ms_per_line']:.1f} ms per line (encoder + decoder"
              f"{'' if no_refine else ' + refiner, which eval runs on all three outputs'}; this machine; "
              "bench/bench_segment.py times the pipeline)")
    if "end_to_end" in res:
        e = res["end_to_end"]
        out.print(f"end to end (CRAFT boxes -> SAM), whole frames: fgIoU {e['fgIoU']:.3f} "
                  f"F {e['F']:.3f} boundary F {e['bF']:.3f}")


def _eval_ocr(model: str | None, n: int, seed: int, device: str, as_json: bool, quiet: bool,
              views: int | None = None, split: str = "eval", lm: str = "auto") -> None:
    from kseg.evaluate.ocr import evaluate_ocr

    bar, task = _progress("reading lines", n, quiet)
    try:
        with bar:
            res = evaluate_ocr(n, seed, model, device=device, views=views, split=split, lm=lm,
                               progress=lambda i, t: bar.update(task, completed=i, total=t))
    except (KsegError, OSError, ValueError) as e:
        _error(str(e))
        raise typer.Exit(1)
    if as_json:
        _emit_json(res)
        return
    from rich.table import Table

    t = Table(title=f"recognisers on {res['lines']} held-out lines ({split} split, seed {seed}; "
                    f"kseg: {res['views']} framings on unsure lines, language model {lm})")
    for c in ("method", "style", "lines", "CER", "CER no space", "exact", "exact no space", "ms/line"):
        t.add_column(c)
    for method, styles in res["rows"].items():
        for style, m in styles.items():
            t.add_row(method, style, str(m["lines"]), f"{m['cer']:.4f}", f"{m['cer_nospace']:.4f}",
                      f"{m['exact']:.3f}", f"{m['exact_nospace']:.3f}", f"{m['ms_per_line']:.1f}")
    Console(highlight=False, emoji=False, width=140).print(t)


@app.command("train-ocr")
def train_ocr_cmd(
    data: Annotated[str, typer.Argument(help="A folder of line shards (*.npz); or a seed: render "
                                        "--lines train-split lines into data/ocr/seed-SEED first; or "
                                        "'stream': render fresh lines while training (--workers).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: ckpt.pt (resumable), log.jsonl, "
                                      "model.safetensors.")] = Path("runs/kseg-ocr"),
    steps: Annotated[int, typer.Option("--steps", help="Total optimiser steps (cosine schedule).", min=1)] = 4000,
    stop_at: Annotated[int | None, typer.Option("--stop-at", help="End at this step, keeping the "
                                                "schedule of --steps (short comparison runs).")] = None,
    batch: Annotated[int, typer.Option("--batch", help="Lines per step.", min=1)] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 1.5e-3,
    input: Annotated[Literal["mask", "colour"], typer.Option(
        "--input", help="colour: the RGB strip (wins at full length); mask: glyph fill black on white "
        "(text_pixels of the footprint; learns faster early, plateaus on its ~20% fill-split failures).")] = "colour",
    lines: Annotated[int, typer.Option("--lines", help="Lines to render when DATA is a seed.", min=1)] = 40000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[Device, typer.Option("--device")] = "auto",
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads for torch.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="With DATA 'stream': processes rendering "
                                         "lines (0: all cores but one).", min=0)] = 0,
    buffer: Annotated[int, typer.Option("--buffer", help="With DATA 'stream': lines kept for sampling; "
                                        "the newest replace the oldest.", min=100)] = 50000,
    init: Annotated[Path | None, typer.Option("--init", help="Start a new run from this kseg-ocr model "
                                              "file (fine-tuning: its architecture and weights).")] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", help="Stop after this much training "
                                                  "time; the cosine follows time and --steps is ignored.",
                                                  min=0.1)] = None,
    width: Annotated[float, typer.Option("--width", help="Channel multiplier of a new model.", min=0.1)] = 0.75,
    hidden: Annotated[int, typer.Option("--hidden", help="LSTM units per direction of a new model.",
                                        min=8)] = 128,
    engine: Annotated[Literal["lines", "broadcast", "mix"], typer.Option(
        "--engine", help="With DATA 'stream': the data engine. lines: the first engine; broadcast: "
        "real-episode faces, styles and codecs (kseg.synth.broadcast); mix: 3 in 10 lines from "
        "lines, the rest broadcast.")] = "lines",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Train kseg's caption-line recogniser (CRNN + CTC) on rendered lines; resumes from OUT/ckpt.pt
    and exports OUT/model.safetensors (copy it to models/kseg-ocr.safetensors to ship it).

    Example: kseg train-ocr stream -o runs/ocr --init models/kseg-ocr.safetensors --engine mix --minutes 60
    """
    import torch

    from kseg.segment import pick_device
    from kseg.train.ocr import train_ocr

    if threads:
        torch.set_num_threads(threads)
    log = (lambda m: None) if quiet else (lambda m: _stderr.print(f"kseg: {m}", markup=False))
    data_dir: Path | None = Path(data)
    if init is not None and not init.is_file():
        _error(f"{init}: no such model file")
        raise typer.Exit(2)
    if data == "stream" and not data_dir.is_dir():
        data_dir = None
        workers = workers or max(1, (os.cpu_count() or 2) - 1)
    elif not data_dir.is_dir():
        if not data.isdigit():
            _error(f"{data}: not a folder of line shards, nor a seed")
            raise typer.Exit(2)
        from kseg.synth.lines import build_cache

        data_dir = Path("data/ocr") / f"seed-{data}"
        bar, task = _progress("rendering lines", lines, quiet)
        with bar:
            build_cache(data_dir, lines, seed=int(data), split="train",
                        progress=lambda i: bar.update(task, completed=i))
    live = not quiet and _stderr.is_terminal
    bar, task = _progress("training", stop_at or steps, not live)
    progress = None
    if live:
        def progress(step: int, total: int, rec: dict) -> None:
            extra = f" val CER {rec['val_cer']:.3f}" if "val_cer" in rec else ""
            bar.update(task, completed=step, total=total, description=f"training loss {rec['loss']:.3f}{extra}")
    try:
        with bar:
            from kseg.recognize.kseg_ocr import OCRConfig

            cfg = OCRConfig(input=input, in_ch=1 if input == "mask" else 3, width=width, hidden=hidden)
            dest = train_ocr(data_dir, out, steps=steps, batch=batch, lr=lr, input=input, seed=seed,
                             device=str(pick_device(device)), stop_at=stop_at, log=log, progress=progress,
                             cfg=cfg, workers=workers, buffer=buffer, init=init, minutes=minutes,
                             engine=engine)
    except (KsegError, ValueError, OSError) as e:
        _error(str(e))
        raise typer.Exit(1)
    typer.echo(str(dest))


@app.command("train-fill")
def train_fill_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: ckpt.pt (resumable), log.jsonl, "
                                      "model.safetensors.")] = Path("runs/kseg-fill"),
    data: Annotated[Path, typer.Option("--data", help="Where the rendered line shards go (reused when "
                                       "present).")] = Path("data/fill"),
    lines: Annotated[int, typer.Option("--lines", help="Training lines to render (half from each "
                                       "data engine).", min=10)] = 16000,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps (cosine schedule).", min=1)] = 20000,
    minutes: Annotated[float | None, typer.Option("--minutes", help="Stop after this much training time; "
                                                  "the cosine follows time and --steps is ignored.",
                                                  min=0.1)] = None,
    batch: Annotated[int, typer.Option("--batch", min=1)] = 24,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 2e-3,
    channels: Annotated[int, typer.Option("--channels", help="Channels of each conv layer of a new model.",
                                          min=4)] = 24,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Processes rendering lines.", min=1)] = 2,
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads for torch.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Train kseg-fill, the net that tells a caption's fill from its outline, shadow and plate
    (used by the style stage); resumes from OUT/ckpt.pt and exports OUT/model.safetensors (copy it
    to models/kseg-fill.safetensors to ship it).

    Example: kseg train-fill -o runs/kseg-fill --lines 16000 --minutes 25
    """
    from kseg.train.fill import train_fill

    log = (lambda m: None) if quiet else (lambda m: _stderr.print(f"kseg: {m}", markup=False))
    try:
        dest = train_fill(out, data=data, lines=lines, seed=seed, steps=steps, minutes=minutes, batch=batch,
                          lr=lr, ch=channels, workers=workers, threads=threads, log=log)
    except (KsegError, ValueError, OSError) as e:
        _error(str(e))
        raise typer.Exit(1)
    typer.echo(str(dest))
