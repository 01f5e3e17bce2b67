"""Pack the line renderers' fonts, photos and word lists for a machine without fontconfig (a lent GPU).

Each installed Korean face (as ``kseg.synth.korean_fonts`` finds it) is subset to the
recogniser's charset with fontTools (hinting kept, so lines render pixel-identical to here;
14 MB of xz instead of 260 MB) and tarred with a manifest of family and style, so ``fonts_for``
splits them exactly as here. The broadcast engine's fetched display faces
(``kseg.synth.broadcast.extra_fonts``, ``tools/fetch_fonts.py``) are subset the same way under
their own file names (the engine reads family and style from the name), and Tesseract's word
lists it draws words from are copied from the cache. fontTools is only needed for this step:

    pip install fonttools && python tools/pack_fonts.py .gpu/pack
"""
from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import cv2


def _subset(path: str, index: int, chars: set[str]) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index)
    opt = subset.Options()
    opt.layout_features, opt.name_IDs, opt.notdef_outline = ["*"], ["*"], True
    s = subset.Subsetter(opt)
    s.populate(unicodes=[ord(c) for c in chars])  # hinting kept: glyphs render as here
    s.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def main() -> None:
    from kseg.paths import cache_dir
    from kseg.synth import PHOTOS_EVAL, PHOTOS_TRAIN, _photo, korean_fonts
    from kseg.synth.broadcast import extra_fonts, real_words
    from kseg.synth.corpus import default_charset

    out = Path(sys.argv[1])
    (out / "photos").mkdir(parents=True, exist_ok=True)
    chars = set(default_charset()) | {"\ue000"}
    man = []
    with tarfile.open(out / "fonts.tar.xz.tmp", "w:xz") as tar:
        for k, f in enumerate(korean_fonts()):
            name = f"fonts/f{k:02d}{'.otf' if f.path.endswith(('.otf', '.ttc')) else '.ttf'}"
            _add(tar, name, _subset(f.path, f.index, chars))
            man.append({"path": name, "index": 0, "family": f.family, "style": f.style, "orig": f.path})
        _add(tar, "fonts/manifest.json", json.dumps(man, indent=1).encode())
        extra = extra_fonts()
        for f in extra:
            _add(tar, f"extra/{Path(f.path).name}", _subset(f.path, f.index, chars))
        for lang in ("kor", "eng"):
            if real_words(lang):  # unpacks Tesseract's list into the cache once
                _add(tar, f"cache/{lang}-words.txt", (cache_dir() / f"{lang}-words.txt").read_bytes())
    (out / "fonts.tar.xz.tmp").replace(out / "fonts.tar.xz")
    for n in PHOTOS_TRAIN + PHOTOS_EVAL:
        cv2.imwrite(str(out / "photos" / f"{n}.png"), cv2.cvtColor(_photo(n), cv2.COLOR_RGB2BGR))
    print(f"{len(man)} faces, {len(extra)} display faces, {(out / 'fonts.tar.xz').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
