"""The still-frame commands: ``kseg segment``, ``kseg erase``, ``kseg translate``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kseg.errors import KsegError

from .common import app, AllTextOpt, StillOverlaysOpt, DetectOpt, Device, LM, LM_HELP, Recognizer, run_batch, _check_font, _check_font_scale, _error, _short, _warn


def _make_pipeline(model: str | None, recognizer: str, device: str, lm: str = "auto",
                   detect: str = "still", all_text: bool = False, include_overlays: bool = False) -> Any:
    """The one place the CLI builds the segment pipeline (tests replace it)."""
    from kseg.pipeline import SegmentPipeline

    return SegmentPipeline(model=model, recognizer=recognizer, device=device, lm=lm, detect=detect,
                           all_text=all_text, include_overlays=include_overlays)


@app.command()
def segment(
    paths: Annotated[list[Path], typer.Argument(
        help="Image files (PNG, JPEG, WebP, BMP, TIFF; one still frame each), folders of them, or globs.",
        show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder (created if missing). For each input NAME.ext it "
        "gets NAME.mask.png, NAME.overlay.png and NAME.json; inputs from different folders "
        "with the same NAME get NAME-2, NAME-3, ...")] = Path("."),
    as_json: Annotated[bool, typer.Option(
        "--json", help="Also print each result to stdout as one JSON line, with an "
        "\"outputs\" field listing the files written.")] = False,
    model: Annotated[str | None, typer.Option(
        "--model", help="SAM model: the embedded text model (default), an official "
        "checkpoint name (vit_b, vit_l, vit_h; see `kseg models list`) or a checkpoint path.",
        show_default=False)] = None,
    recognizer: Annotated[Recognizer, typer.Option(
        "--recognizer", help="Who reads the text: the best available (auto), one by name, "
        "or none (empty text).")] = "auto",
    lm: Annotated[LM, typer.Option("--lm", help=LM_HELP)] = "auto",
    detect: DetectOpt = "still",
    all_text: AllTextOpt = False,
    include_overlays: StillOverlaysOpt = False,
    device: Annotated[Device, typer.Option(
        "--device", help="Where models run; auto uses CUDA when available.")] = "auto",
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress on stderr (errors are still printed).")] = False,
) -> None:
    """Mask every burned-in caption of each frame: OCR boxes -> SAM -> IoU-ranked masks.

    Exit status: 0 every input done, 1 some failed (the others are still written),
    2 usage error.

    Example: kseg segment ep01/frames/ -o out --json > ep01.jsonl
    """
    from kseg.imageio import load_image
    from kseg.pipeline import write_outputs

    def work(pipe: Any, name: str, out_dir: Path, stem: str) -> dict[str, Any]:
        image = load_image(name)
        result = pipe.process(image, name)
        written = write_outputs(result, image, out_dir, stem)
        return {**result.to_json(), "outputs": {k: str(v) for k, v in written.items()}}

    code = run_batch(paths, out, lambda: _make_pipeline(model, recognizer, device, lm, detect, all_text, include_overlays), work,
                     as_json=as_json, quiet=quiet, label="segmenting")
    raise typer.Exit(code)


# --------------------------------------------------------------------- erase / translate

# kseg.erase.METHODS, written out so that building the help does not import OpenCV
# (tests/test_cli.py checks the two agree)
ERASE_METHODS = ("auto", "harmonic", "telea", "ns")


def _erase_methods() -> list[str]:
    return list(ERASE_METHODS)


@app.command()
def erase(
    paths: Annotated[list[Path], typer.Argument(
        help="Image files (PNG, JPEG, WebP, BMP, TIFF), folders of them, or globs.", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder (created if missing): NAME.erased.png per input "
        "(NAME-2... when names collide, as for segment).")] = Path("."),
    method: Annotated[str, typer.Option(
        "--method", help="Inpainting method: " + ", ".join(_erase_methods()) +
        " (auto = the best measured in bench/bench_erase.py).")] = "auto",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print each result (the segment JSON plus \"outputs\") as one JSON line.")] = False,
    model: Annotated[str | None, typer.Option(
        "--model", help="SAM model, as for segment.", show_default=False)] = None,
    recognizer: Annotated[Recognizer, typer.Option(
        "--recognizer", help="Who reads the text (only reported; erasing does not need it).")] = "auto",
    device: Annotated[Device, typer.Option("--device", help="Where models run.")] = "auto",
    detect: DetectOpt = "still",
    all_text: AllTextOpt = False,
    include_overlays: StillOverlaysOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Remove every burned-in caption: inpaint exactly the SAM caption masks, never whole boxes.

    Exit status: 0 every input done, 1 some failed, 2 usage error.

    Example: kseg erase 'shots/*.png' -o clean
    """
    from kseg.imageio import load_image, write_png
    from kseg.pipeline import CaptionPipeline

    if method not in _erase_methods():
        _error(f"--method must be one of {', '.join(_erase_methods())}, not {method!r}")
        raise typer.Exit(2)

    def work(pipe: Any, name: str, out_dir: Path, stem: str) -> dict[str, Any]:
        image = load_image(name)
        result, erased = pipe.erase(image, name)
        dest = write_png(out_dir / f"{stem}.erased.png", erased)
        return {**result.to_json(), "outputs": {"erased": str(dest)}}

    setup = lambda: CaptionPipeline(_make_pipeline(model, recognizer, device, "auto", detect, all_text, include_overlays),  # noqa: E731
                                    erase_method=method)
    raise typer.Exit(run_batch(paths, out, setup, work, as_json=as_json, quiet=quiet, label="erasing"))


def _make_translator(spec: str, **kw: Any) -> Any:
    """The one place the CLI builds a translator (tests use loopback servers through it)."""
    from kseg.translate import get_translator

    return get_translator(spec, **kw)


@app.command()
def translate(
    paths: Annotated[list[Path], typer.Argument(
        help="Image files, folders or globs, in viewing order (earlier frames' captions are context for later ones).",
        show_default=False)],
    translator: Annotated[str, typer.Option(
        "--translator", "-t", help="tm:FILE (your translation memory, TSV or JSON), openai:URL "
        "(any OpenAI-compatible chat endpoint; key from OPENAI_API_KEY, needs --llm-model), "
        "deepl or deepl:URL (key from DEEPL_AUTH_KEY).", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder: NAME.en.png (English captions) and NAME.json "
        "(segment JSON plus \"style\", \"translation\" per region and \"captions\").")] = Path("."),
    llm_model: Annotated[str | None, typer.Option(
        "--llm-model", help="Model name for openai:URL, e.g. qwen2.5:7b.", show_default=False)] = None,
    glossary: Annotated[Path | None, typer.Option(
        "--glossary", help="TSV of Korean<TAB>English names and terms the LLM must keep.",
        show_default=False)] = None,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="SQLite translation cache (default: translations.sqlite in the kseg "
        "cache folder, $KSEG_CACHE or the user cache dir).", show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per translator request.", min=0.1)] = 30.0,
    retries: Annotated[int, typer.Option("--retries", help="Retries (with back-off) per request.", min=0)] = 3,
    strict: Annotated[bool, typer.Option(
        "--strict", help="A caption the translator has no translation for (TM miss) fails its "
        "frame instead of being left untouched.")] = False,
    font: Annotated[Path | None, typer.Option(
        "--font", help="Font for the English (.ttf/.otf/.ttc); default: the bundled Noto Sans.",
        show_default=False)] = None,
    font_scale: Annotated[float, typer.Option(
        "--font-scale", help="English this much larger (or smaller) than the size matched to the "
        "Korean ink height, its width budget alike (0.25-4).")] = 1.0,
    erase_method: Annotated[str, typer.Option(
        "--erase-method", help="Inpainting method, as for erase --method.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print each frame's JSON as one line.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="SAM model, as for segment.",
                                              show_default=False)] = None,
    recognizer: Annotated[Recognizer, typer.Option("--recognizer", help="Who reads the Korean.")] = "auto",
    lm: Annotated[LM, typer.Option("--lm", help=LM_HELP)] = "auto",
    detect: DetectOpt = "still",
    all_text: AllTextOpt = False,
    include_overlays: StillOverlaysOpt = False,
    device: Annotated[Device, typer.Option("--device", help="Where models run.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Erase the Korean captions and draw their English translation in the same style.

    Captions the translator has no translation for are reported and left as they are
    (--strict: fail the frame). Exit status: 0 every input done, 1 some failed, 2 usage.

    Example: kseg translate ep01/frames/ -o en --translator tm:ep01.tsv
    """
    from kseg.imageio import load_image, write_json, write_png
    from kseg.pipeline import CaptionPipeline
    from kseg.render import missing_warning

    if erase_method not in _erase_methods():
        _error(f"--erase-method must be one of {', '.join(_erase_methods())}, not {erase_method!r}")
        raise typer.Exit(2)
    _check_font(font)
    _check_font_scale(font_scale)
    scheme = translator.split(":", 1)[0]
    if scheme not in ("tm", "openai", "deepl"):
        _error(f"--translator {translator!r}: use tm:FILE, openai:URL or deepl[:URL]")
        raise typer.Exit(2)
    if scheme == "openai" and not llm_model:
        _error("--translator openai:URL needs --llm-model NAME (e.g. --llm-model qwen2.5:7b)")
        raise typer.Exit(2)
    try:  # a bad TM file or key is the user's to fix before any model loads
        # strict is enforced by the pipeline, after its line-by-line fallback for two-line blocks
        tr = _make_translator(translator, llm_model=llm_model, glossary=glossary, cache=cache,
                              no_cache=no_cache, timeout=timeout, retries=retries)
    except KsegError as e:
        _error(str(e))
        raise typer.Exit(1)

    def work(pipe: Any, name: str, out_dir: Path, stem: str) -> dict[str, Any]:
        image = load_image(name)
        pipe.fuzzy_hits.clear()
        result, image_out, problems = pipe.translate(image, name)
        for ko, entry, ratio in pipe.fuzzy_hits:
            _warn(f"{name}: {_short(ko)!r} is not in the translation memory; used the "
                  f"{ratio:.0%} similar entry {_short(entry)!r}")
        for ko in problems["untranslated"]:
            _warn(f"{name}: no translation for {_short(ko)!r}; left as it is")
        for en in problems["unfitted"]:
            _warn(f"{name}: {_short(en)!r} does not fit the caption's width even at the "
                  "smallest size; drawn wider")
        for en, chars in problems.get("missing", []):
            _warn(f"{name}: {_short(en)!r} {missing_warning(chars)}")
        png = write_png(out_dir / f"{stem}.en.png", image_out)
        js = write_json(out_dir / f"{stem}.json", result.to_json())
        return {**result.to_json(), "outputs": {"en": str(png), "json": str(js)}}

    def setup() -> Any:
        return CaptionPipeline(_make_pipeline(model, recognizer, device, lm, detect, all_text, include_overlays), tr,
                               erase_method=erase_method, font=font, font_scale=font_scale, strict=strict)

    raise typer.Exit(run_batch(paths, out, setup, work, as_json=as_json, quiet=quiet,
                               label="translating"))
