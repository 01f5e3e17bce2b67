"""Rebuild bench/real's frames from clones of the source repositories.

    python bench/real/extract.py OUT_DIR --clones DIR [--source NAME ...]

For every ``bench/real/annotations/*.json`` it reads ``path`` at ``commit`` from the clone of
``repo`` (``git show COMMIT:PATH``, so a bare mirror or a normal clone both work, at whatever
branch it is on) and writes ``OUT_DIR/<source>/<id>.png``; a video file's ``frame_index`` is
decoded with PyAV. Clones are looked up under ``--clones`` as ``owner+repo``, ``owner__repo``,
``repo`` or ``owner/repo`` (a git directory or a work tree). The frames are not committed:
their licences mostly do not allow it (see manifest.json).

Exit status: 0 all frames written, 1 some missing (each named on stderr), 2 usage.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
VIDEO_EXT = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".ts", ".m4v", ".flv"}


def find_clone(root: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for cand in (root / f"{owner}+{name}", root / f"{owner}__{name}", root / name, root / owner / name):
        if not cand.exists():
            continue
        for g in (cand, cand / ".git", *sorted(cand.glob("*.git")), *sorted(cand.glob("*/"))):
            if (g / "HEAD").is_file() and (g / "objects").is_dir():
                return g
    return None


def git_bytes(gitdir: Path, commit: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(gitdir), "show", f"{commit}:{path}"],
                          check=True, capture_output=True).stdout


def decode(data: bytes, path: str, frame_index: int | None) -> np.ndarray:
    if frame_index is None and Path(path).suffix.lower() not in VIDEO_EXT:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("not a readable image")
        return img
    import av

    with tempfile.NamedTemporaryFile(suffix=Path(path).suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        with av.open(tmp.name) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i == (frame_index or 0):
                    return f.to_ndarray(format="bgr24")
    raise ValueError(f"video has no frame {frame_index}")


def manifest(ann_dir: Path) -> dict:
    """``manifest.json``: every source's repository, commit, licence, genre and frame paths."""
    out = {"format": "bench/real/FORMAT.md", "sources": []}
    for f in sorted(ann_dir.glob("*.json")):
        a = json.loads(f.read_text())
        lines = [ln for fr in a["frames"] for ln in fr["lines"]]
        out["sources"].append({
            "source": a["source"], "repo": a["repo"], "commit": a["commit"], "licence": a["licence"],
            "channel": a.get("channel", ""), "genre": a.get("genre", "other"), "frames": len(a["frames"]),
            "lines": {k: sum(ln["kind"] == k for ln in lines) for k in ("caption", "logo", "bar", "scene")},
            "paths": sorted({fr["path"] for fr in a["frames"]})})
    return out


def _clips(out: Path, clones: Path) -> None:
    """bench/real/clips.json's clips, byte for byte from their repositories."""
    out.mkdir(parents=True, exist_ok=True)
    for c in json.loads((HERE / "clips.json").read_text())["clips"]:
        git = find_clone(clones, c["repo"])
        if git is None:
            print(f"extract: clip {c['clip']}: no clone of {c['repo']} under {clones}", file=sys.stderr)
            continue
        dst = out / f"{c['clip']}{Path(c['path']).suffix}"
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.write_bytes(git_bytes(git, c["commit"], c["path"]))
        tmp.replace(dst)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--clones", type=Path, required=True, help="folder holding the source clones")
    ap.add_argument("--annotations", type=Path, default=HERE / "annotations")
    ap.add_argument("--source", action="append", help="only these sources (repeatable)")
    ap.add_argument("--clips", action="store_true",
                    help="also copy the video clips of bench/real/clips.json to OUT/clips/ (for bench/bench_video.py --real)")
    ap.add_argument("--write-manifest", action="store_true",
                    help="(maintainers) rewrite bench/real/manifest.json from the annotations, then exit")
    a = ap.parse_args(argv)
    if a.write_manifest:
        (HERE / "manifest.json").write_text(json.dumps(manifest(a.annotations), ensure_ascii=False, indent=1) + "\n")
        return 0
    if a.clips:
        _clips(a.out / "clips", a.clones)
    files = sorted(a.annotations.glob("*.json"))
    if not files:
        print(f"extract: no annotations in {a.annotations}", file=sys.stderr)
        return 2
    bad = done = 0
    for f in files:
        ann = json.loads(f.read_text())
        if a.source and ann["source"] not in a.source:
            continue
        git = find_clone(a.clones, ann["repo"])
        if git is None:
            print(f"extract: {ann['source']}: no clone of {ann['repo']} under {a.clones}", file=sys.stderr)
            bad += len(ann["frames"])
            continue
        out = a.out / ann["source"]
        out.mkdir(parents=True, exist_ok=True)
        cache: dict[str, bytes] = {}
        for fr in ann["frames"]:
            dst = out / f"{fr['id']}.png"
            try:
                if fr["path"] not in cache:
                    cache = {fr["path"]: git_bytes(git, ann["commit"], fr["path"])}
                img = decode(cache[fr["path"]], fr["path"], fr.get("frame_index"))
                if img.shape[:2] != (fr["height"], fr["width"]):
                    raise ValueError(f"decoded {img.shape[1]}x{img.shape[0]}, annotated {fr['width']}x{fr['height']}")
                tmp = dst.with_name(dst.name + ".tmp.png")
                cv2.imwrite(str(tmp), img)
                tmp.replace(dst)
                done += 1
            except (subprocess.CalledProcessError, ValueError, OSError) as e:
                msg = e.stderr.decode(errors="replace").strip() if isinstance(e, subprocess.CalledProcessError) else e
                print(f"extract: {ann['source']}/{fr['id']} ({fr['path']}): {msg}", file=sys.stderr)
                bad += 1
    print(f"extract: {done} frames written to {a.out}, {bad} missing", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
