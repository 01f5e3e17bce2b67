"""The ``kseg translate-video`` command."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import AllTextOpt, _check_font, _check_font_scale, _emit_json, _error, _failure_text, _stderr, _warn
from .progress import _progress


# One alias per option, so the command reads as a list of names (typer reads the Annotated
# metadata through the alias).
SrcOpt = Annotated[list[Path], typer.Argument(
    help="Input video (any container/codec FFmpeg reads), or a season: several videos, folders of "
    "them (*.mp4, *.mkv, *.mov, *.m4v, *.avi, *.webm, *.ts, *.m2ts, ...) or globs.", show_default=False)]
OutOpt = Annotated[Path, typer.Option(
    "--out", "-o", help="Output video (.mp4, .mkv, .mov), written under a temporary name in the same "
    "folder and renamed when complete. For a season (several inputs, a folder, or OUT ending in / "
    "or an existing folder): the output folder; each episode becomes OUT/NAME.EXT (the input's "
    "container, .mkv for others).", show_default=False)]
TranslatorOpt = Annotated[str | None, typer.Option(
    "--translator", "-t", help="Where the English comes from: tm:FILE (translation memory, "
    "Korean<TAB>English), srt:FILE (your English subtitles, placed by time), openai:URL, deepl.",
    show_default=False)]
SrtOpt = Annotated[Path | None, typer.Option(
    "--srt", help="Also write the English captions as SRT subtitles. For a season, a path with {name} "
    "(the episode's file name without extension): --srt 'subs/{name}.en.srt'.", show_default=False)]
SrtSourceOpt = Annotated[Path | None, typer.Option(
    "--srt-source", help="Also write the recognised Korean captions as SRT subtitles ({name} as for "
    "--srt).", show_default=False)]
AssOpt = Annotated[Path | None, typer.Option(
    "--ass", help="Also write the English as ASS subtitles placed where the Korean was, one named "
    "style per caption look (for players over an --erase-only video, or to restyle in Aegisub; "
    "{name} as for --srt).", show_default=False)]
EraseOnlyOpt = Annotated[bool, typer.Option(
    "--erase-only", help="Only remove the Korean captions; draw nothing (no translator needed "
    "unless --srt/--ass are asked for).")]
StartOpt = Annotated[float | None, typer.Option(
    "--start", help="Process from this time (seconds); the output starts there.", min=0.0,
    show_default=False)]
EndOpt = Annotated[float | None, typer.Option(
    "--end", help="Process up to this time (seconds); the output ends there.", min=0.0,
    show_default=False)]
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Continue an interrupted or failed run from OUT.kseg/ (its finished "
    "caption analysis and translations are reused; the video is encoded again).")]
CodecOpt = Annotated[str, typer.Option("--codec", help="Video encoder (FFmpeg name).")]
CrfOpt = Annotated[int, typer.Option("--crf", help="Quality for x264/x265/VP9: lower is better "
    "and bigger (18 is visually lossless).", min=0, max=63)]
PresetOpt = Annotated[str, typer.Option("--preset", help="x264/x265 speed preset.")]
TemporalOpt = Annotated[bool, typer.Option(
    "--temporal/--no-temporal", help="Fill erased pixels from earlier frames where the moving "
    "background showed them (motion-compensated), spatial inpainting elsewhere.")]
SampleEveryOpt = Annotated[float, typer.Option(
    "--sample-every", help="Seconds between safety-net detections when nothing on screen "
    "changes (captions are otherwise found by change detection).", min=0.2)]
LlmModelOpt = Annotated[str | None, typer.Option(
    "--llm-model", help="Model name for --translator openai:URL.", show_default=False)]
GlossaryOpt = Annotated[Path | None, typer.Option(
    "--glossary", help="Names and terms (Korean<TAB>English) the translator must keep.",
    show_default=False)]
CacheOpt = Annotated[Path | None, typer.Option(
    "--cache", help="SQLite translation cache (default: translations.sqlite in $KSEG_CACHE or "
    "the user cache dir).", show_default=False)]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per translator request.",
    min=0.1)]
RetriesOpt = Annotated[int, typer.Option("--retries", help="Retries (with back-off) per request.",
    min=0)]
FontOpt = Annotated[Path | None, typer.Option(
    "--font", help="Font for the English (.ttf/.otf/.ttc); default: the bundled Noto Sans.",
    show_default=False)]
FontScaleOpt = Annotated[float, typer.Option(
    "--font-scale", help="English this much larger (or smaller) than the size matched to the Korean "
    "ink height, its width budget alike (0.25-4).")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="SAM model, as for segment.", show_default=False)]
RecognizerOpt = Annotated[str, typer.Option(
    "--recognizer", help="Who reads the Korean: auto, kseg, easyocr, tesseract, none.")]
LmOpt = Annotated[str, typer.Option("--lm", help="Korean language model for kseg's recogniser: "
    "auto, kiwi, none (as for segment).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Where models run: auto, cpu, cuda.")]
AsJsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON line per caption event to stdout, then a summary line.")]
IncludeOverlaysOpt = Annotated[bool, typer.Option(
    "--include-overlays", help="Treat text that stays in place for most of the video, or in a top corner "
    "from the first frame on for 3 s (channel logo, programme bar, watermark), and the text of a still "
    "picture (3 or more texts that come and go with a picture that does not move: a map's names, a "
    "screenshot's lines) as captions: erase and translate it too. By default it is left as it is and "
    "listed under \"overlays\" and \"scene_text\" in the summary.")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Fail (exit 1) when the input decodes to fewer frames than its container announces "
    "(a truncated or damaged file); without it that is a warning.")]
LowMemoryOpt = Annotated[bool, typer.Option(
    "--low-memory", help="Analyse the whole video first, then render, instead of both at once: "
    "60-400 MB less memory at its peak at 1080p, up to 10 % slower on 2 cores.")]
SubsMuxOpt = Annotated[bool, typer.Option(
    "--subs-mux", help="Also put the English into the output video as a soft subtitle track (ASS with "
    "the captions' styles and places in .mkv, mov_text in .mp4/.mov; language eng), and with "
    "--srt-source the Korean (kor). With --erase-only the English is only soft (and shown by "
    "default); otherwise it is burned in as well.")]
OverwriteOpt = Annotated[bool, typer.Option(
    "--overwrite", help="Season: also redo episodes whose output exists (by default they are "
    "skipped; unfinished ones are always resumed). A single input's output file is always replaced "
    "(once the new one is complete).")]
RayOpt = Annotated[str | None, typer.Option(
    "--ray", help="Season: run the episodes as Ray tasks. auto: the running Ray cluster (RAY_ADDRESS, "
    "or a head on this machine), else a local one on this machine's cores; or a cluster address "
    "(ray://HOST:10001, HOST:6379). Every node needs kseg and the same paths (docs/seasons.md).",
    show_default=False)]
RayCpusOpt = Annotated[int, typer.Option(
    "--ray-cpus", help="CPUs each episode's Ray task reserves (and its torch threads).", min=1)]
ChunkOpt = Annotated[float, typer.Option(
    "--chunk-minutes", help="With --ray: an episode longer than twice this is split into chunks of about "
    "this length, cut at keyframes with no caption on screen, run as separate tasks and joined without "
    "re-encoding. 0: never split.", min=0.0)]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress on stderr (errors are still printed).")]


def translate_video(
    src: SrcOpt,
    out: OutOpt,
    translator: TranslatorOpt = None,
    srt: SrtOpt = None,
    srt_source: SrtSourceOpt = None,
    ass: AssOpt = None,
    erase_only: EraseOnlyOpt = False,
    start: StartOpt = None,
    end: EndOpt = None,
    resume: ResumeOpt = False,
    codec: CodecOpt = "libx264",
    crf: CrfOpt = 18,
    preset: PresetOpt = "veryfast",
    temporal: TemporalOpt = True,
    sample_every: SampleEveryOpt = 4.0,
    llm_model: LlmModelOpt = None,
    glossary: GlossaryOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    timeout: TimeoutOpt = 30.0,
    retries: RetriesOpt = 3,
    font: FontOpt = None,
    font_scale: FontScaleOpt = 1.0,
    model: ModelOpt = None,
    recognizer: RecognizerOpt = "auto",
    lm: LmOpt = "auto",
    device: DeviceOpt = "auto",
    as_json: AsJsonOpt = False,
    strict: StrictOpt = False,
    include_overlays: IncludeOverlaysOpt = False,
    low_memory: LowMemoryOpt = False,
    all_text: AllTextOpt = False,
    subs_mux: SubsMuxOpt = False,
    overwrite: OverwriteOpt = False,
    ray: RayOpt = None,
    ray_cpus: RayCpusOpt = 1,
    chunk_minutes: ChunkOpt = 20.0,
    quiet: QuietOpt = False,
) -> None:
    """Replace the burned-in Korean captions of a video (or a season of them) with English ones,
    keeping the sound.

    Captions are found once per caption event (appearance to disappearance), translated once,
    and each frame only gets the erase and the drawing. Exit status: 0 done, 1 failed
    (OUT is not written; --resume continues; for a season: some episodes failed), 2 usage
    error, 130 interrupted.

    Example: kseg translate-video ep01.mp4 -o ep01.en.mp4 -t tm:ep01.tsv --srt ep01.en.srt --resume

    Season: kseg translate-video season1/ -o season1.en/ -t tm:s1.tsv --srt 'season1.en/{name}.en.srt'
    """
    problem = _usage_problem(srt, ass, erase_only, translator, recognizer, device, lm) or \
        ("--subs-mux needs --translator SPEC for the English track" if subs_mux and not translator else None)
    if problem:
        _error(problem)
        raise typer.Exit(2)
    from kseg.video import VideoOptions

    _check_font(font)
    _check_font_scale(font_scale)
    tr_opts: dict[str, Any] = {"cache": cache, "no_cache": no_cache, "timeout": timeout,
                               "retries": retries, **({"llm_model": llm_model} if llm_model else {}),
                               **({"glossary": glossary} if glossary else {})}
    options = VideoOptions(translator=translator, srt=srt, srt_source=srt_source, ass=ass,
                           erase_only=erase_only, start=start, end=end, resume=resume, codec=codec,
                           crf=crf, preset=preset, sample_every=sample_every, font=font,
                           font_scale=font_scale, temporal=temporal, translator_options=tr_opts, strict=strict,
                           include_overlays=include_overlays, subs_mux=subs_mux, overlap=not low_memory)
    inputs, season = _season_inputs(src, out)
    if season or ray is not None:
        from .season import run_season

        raise typer.Exit(run_season(inputs, out, options, overwrite=overwrite, ray=ray, ray_cpus=ray_cpus,
                                    chunk_seconds=chunk_minutes * 60 or None,
                                    pipeline_options={"model": model, "recognizer": recognizer,
                                                      "device": device, "lm": lm,
                                                      **({"all_text": True} if all_text else {})},
                                    as_json=as_json, quiet=quiet))
    if ray_cpus != 1:
        _error("--ray-cpus is for Ray tasks: give --ray too")
        raise typer.Exit(2)
    # --overwrite needs no check here: a single input's output file is always replaced
    # (atomically, once the new one is complete); seasons skip finished episodes without it
    _single(inputs[0], out, options, _pipeline(model, recognizer, device, lm, all_text), as_json, quiet)


def _season_inputs(src: list[Path], out: Path) -> tuple[list[Path], bool]:
    """The input videos, and whether this is a season (several inputs, a folder or glob, or an
    output folder); a folder or glob with no video is a usage error."""
    from .common import expand_inputs

    from kseg.video.season import VIDEO_SUFFIXES

    found = expand_inputs(src, VIDEO_SUFFIXES, "videos")
    bad = [f for f in found if isinstance(f, str)]
    if bad:
        _error(bad[0])
        raise typer.Exit(2)
    import glob

    season = (len(found) > 1 or any(p.is_dir() or (not p.exists() and glob.has_magic(str(p))) for p in src)
              or out.is_dir()
              or str(out).endswith(("/", os.sep)))
    return [Path(p) for p in found], season


def _single(src: Path, out: Path, options: Any, pipeline: Any, as_json: bool, quiet: bool) -> None:
    from kseg.errors import KsegError
    from kseg.video import translate_video as run

    progress_bar, progress = _progress(quiet)
    events: list[dict[str, Any]] = []

    def on_event(ev: Any) -> None:
        events.append(ev.to_json())

    old = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up like Ctrl-C
    try:
        if progress_bar is not None:
            progress_bar.start()
        summary = run(src, out, options, warn=_warn, on_event=on_event, progress=progress, pipeline=pipeline)
    except KeyboardInterrupt:
        if progress_bar is not None:
            progress_bar.stop()
        _error(f"{src}: interrupted; {out} was not written. Run the same command with --resume "
               "to continue from the finished captions")
        raise typer.Exit(130)
    except KsegError as e:
        if progress_bar is not None:
            progress_bar.stop()
        state = out.with_name(out.name + ".kseg")
        hint = f" (finished work is kept in {state}: add --resume to continue)" if state.is_dir() else ""
        _error(str(e) + hint)
        raise typer.Exit(1)
    except Exception as e:  # unexpected: one line, traceback with KSEG_DEBUG=1
        if progress_bar is not None:
            progress_bar.stop()
        _error(_failure_text(str(src), e))
        raise typer.Exit(1)
    finally:
        signal.signal(signal.SIGTERM, old)
        if progress_bar is not None:
            progress_bar.stop()
    _report(summary, events, as_json, quiet)


def _usage_problem(srt: Path | None, ass: Path | None, erase_only: bool, translator: str | None,
                   recognizer: str, device: str, lm: str) -> str | None:
    if (srt is not None or ass is not None) and erase_only and not translator:
        return "--srt/--ass with --erase-only need --translator SPEC for the English"
    if not erase_only and not translator:
        return "no translator: pass --translator SPEC (tm:FILE, srt:FILE, openai:URL, deepl) or --erase-only"
    if recognizer not in ("auto", "kseg", "easyocr", "tesseract", "none") or \
            device not in ("auto", "cpu", "cuda") or lm not in ("auto", "kiwi", "none"):
        return ("--recognizer must be auto|kseg|easyocr|tesseract|none, --lm auto|kiwi|none "
                "and --device auto|cpu|cuda")
    return None


def _pipeline(model: str | None, recognizer: str, device: str, lm: str, all_text: bool = False) -> Any:
    """The image pipeline when an option asks for a non-default one (else translate_video's own)."""
    from kseg.errors import KsegError

    if model is None and recognizer == "auto" and device == "auto" and lm == "auto" and not all_text:
        return None
    try:
        from kseg.pipeline import SegmentPipeline

        return SegmentPipeline(model=model, recognizer=recognizer, device=device, lm=lm, detect="video",
                               all_text=all_text)
    except KsegError as e:
        _error(str(e))
        raise typer.Exit(1)


def _report(summary: dict[str, Any], events: list[dict[str, Any]], as_json: bool, quiet: bool) -> None:
    if as_json:
        for rec in events:
            _emit_json(rec)
        _emit_json({"summary": summary})
    if not quiet:
        s = summary
        _stderr.print(f"kseg: {s['output']}: {s['frames']} frames, {s['events']} caption events "
                      f"({s['translated']} translated), {s['detections']} detector runs, "
                      f"{s['seconds']['total']:.1f} s ({s['fps']:.1f} frames/s)", markup=False)
        for k, v in s["outputs"].items():
            if k != "video":
                _stderr.print(f"kseg: wrote {v}", markup=False)
