"""Fetch the freely licensed Korean display families the broadcast data engine adds to
Debian's faces, from the npm registry, into ``.cache/fonts`` (not committed).

    python tools/fetch_fonts.py [--out .cache/fonts]

Why npm: it is one of the registries set-up can reach, and Fontsource republishes the Google
Fonts Korean families (all SIL OFL 1.1) there, Pretendard publishes its own OTFs. Fontsource
splits each face into a ``korean`` and a ``latin`` subset (WOFF); fontTools merges the two
into one TTF that Pillow/FreeType draw from. Each face's licence is written to
``.cache/fonts/licences.json`` next to the files (``docs/fonts.md`` lists them).
Idempotent: packages already unpacked and faces already merged are kept.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

# (npm package, family name) -- Korean families on Fontsource (OFL-1.1) and Pretendard (OFL-1.1).
# Google's Dokdo has no @fontsource/dokdo on the npm registry (404): no model was drawn with it.
FONTSOURCE = [
    "black-han-sans", "do-hyeon", "jua", "gugi", "sunflower", "gothic-a1", "ibm-plex-sans-kr",
    "gowun-dodum", "gowun-batang", "dongle", "gasoek-one", "bagel-fat-one", "single-day", "gaegu",
    "poor-story", "stylish", "yeon-sung", "cute-font", "hi-melody", "east-sea-dokdo",
    "song-myung", "hahmlet", "orbit", "gamja-flower", "kirang-haerang", "black-and-white-picture",
    "nanum-gothic", "noto-sans-kr", "noto-serif-kr", "moirai-one", "diphylleia", "grandiflora-one",
]
PRETENDARD = "pretendard"


def npm_pack(pkg: str, dest: Path) -> Path:
    d = dest / re.sub(r"[^a-z0-9-]", "_", pkg)
    if (d / "package" / "package.json").exists():
        return d / "package"
    d.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["npm", "pack", pkg, "--silent"], cwd=d, capture_output=True, text=True, check=True).stdout
    tgz = d / out.strip().splitlines()[-1]
    with tarfile.open(tgz) as t:
        t.extractall(d, filter="data")
    tgz.unlink()
    return d / "package"


def merge(parts: list[Path], dest: Path) -> None:
    from fontTools.merge import Merger
    from fontTools.ttLib import TTFont

    if len(parts) == 1:
        f = TTFont(str(parts[0]))
    else:
        f = Merger().merge([str(p) for p in parts])
    f.flavor = None
    tmp = dest.with_suffix(".tmp")
    f.save(str(tmp))
    tmp.replace(dest)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(".cache/fonts"))
    a = ap.parse_args()
    try:
        import fontTools  # noqa: F401  (merges each face's Korean and Latin subsets)
    except ImportError:
        print("fetch_fonts: needs fontTools: pip install -e '.[train]' (or run `make fonts`)", file=sys.stderr)
        return 2
    npm, ttf = a.out / "npm", a.out / "ttf"
    ttf.mkdir(parents=True, exist_ok=True)
    lic: dict[str, dict] = {}
    lic_path = a.out / "licences.json"
    if lic_path.exists():
        lic = json.loads(lic_path.read_text())
    bad = 0
    for name in FONTSOURCE:
        pkg = f"@fontsource/{name}"
        try:
            root = npm_pack(pkg, npm)
            meta = json.loads((root / "package.json").read_text())
            files = sorted((root / "files").glob("*-korean-*-normal.woff"))
            for kor in files:
                m = re.match(rf"{re.escape(name)}-korean-(\d+)-normal\.woff$", kor.name)
                if not m:
                    continue
                weight = m.group(1)
                lat = root / "files" / f"{name}-latin-{weight}-normal.woff"
                dest = ttf / f"{name}-{weight}.ttf"
                if not dest.exists():
                    merge([kor] + ([lat] if lat.exists() else []), dest)
                lic[dest.name] = {"package": f"{pkg}@{meta['version']}", "licence": meta.get("license", "?"),
                                  "family": name, "weight": int(weight)}
        except (subprocess.CalledProcessError, OSError, ValueError, KeyError) as e:
            print(f"fetch_fonts: {pkg}: {e}", file=sys.stderr)
            bad += 1
    try:
        root = npm_pack(PRETENDARD, npm)
        meta = json.loads((root / "package.json").read_text())
        for otf in sorted((root / "dist" / "public" / "static").glob("Pretendard-*.otf")):
            dest = ttf / otf.name
            if not dest.exists():
                dest.write_bytes(otf.read_bytes())
            lic[dest.name] = {"package": f"pretendard@{meta['version']}", "licence": meta.get("license", "OFL-1.1"),
                              "family": "pretendard", "weight": otf.stem.split("-")[1]}
    except (subprocess.CalledProcessError, OSError, ValueError, KeyError) as e:
        print(f"fetch_fonts: pretendard: {e}", file=sys.stderr)
        bad += 1
    lic_path.write_text(json.dumps(lic, indent=1, sort_keys=True))
    print(f"fetch_fonts: {len(lic)} faces in {ttf}, {bad} packages failed", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
