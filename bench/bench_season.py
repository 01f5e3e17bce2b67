"""A season through translate-video: here one episode after another, and as Ray tasks with 1, 2 ...
workers on a local Ray instance. Episodes per hour against the number of workers.

    .venv/bin/python bench/bench_season.py [--episodes 4] [--size 640x360] [--workers 1,2] [--runs 1]

The episodes are the example clip of examples/make_clip.py (captions over pans, cuts, fades;
AAC audio) rendered at --size, translated with its TM. "local" is ``translate_season`` in this
process (models loaded once, torch on all cores); "ray N" starts a local Ray instance with N
CPUs and runs every episode as a task of 1 CPU (``--ray auto --ray-cpus 1``), so N episodes
run side by side; each worker loads the models once. The baseline of the ratio column is
"ray 1". Outputs of every run are compared byte for byte with the local run's.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.mp4"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runs", type=int, default=1, help="runs per row (median)")
    args = ap.parse_args()
    import ray
    from make_clip import Clip, write_clip
    from rich.console import Console
    from rich.table import Table

    from kseg.video.season import translate_season

    w, h = (int(v) for v in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = Clip((w, h), 24)
        eps = []
        (tmp / "season").mkdir()
        for k in range(args.episodes):
            eps.append(tmp / "season" / f"ep{k + 1:02d}.mp4")
            write_clip(eps[-1], clip)
        truth = clip.truth()
        tm = tmp / "clip.tm.tsv"
        tm.write_text("".join(f"{e['text']}\t{e['translation']}\n" for e in truth["events"]))
        seconds_of_video = clip.n / clip.fps
        opts = dict(translator=f"tm:{tm}", translator_options={"no_cache": True})
        reference = None
        for mode in ["local", *[f"ray {n}" for n in args.workers.split(",")]]:
            walls = []
            for r in range(args.runs):
                out = tmp / f"out-{mode.replace(' ', '')}-{r}"
                t0 = time.perf_counter()
                if mode == "local":
                    recs = translate_season(eps, out, **opts)
                else:
                    n = int(mode.split()[1])
                    ray.init(num_cpus=n, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
                    try:
                        recs = translate_season(eps, out, ray="auto", ray_cpus=1, **opts)
                    finally:
                        ray.shutdown()
                walls.append(time.perf_counter() - t0)
                assert all(x["status"] == "done" for x in recs), recs
                got = _digests(out)
                reference = reference or got
                same = got == reference
            wall = statistics.median(walls)
            rows.append((mode, wall, args.episodes / wall * 3600, same))
        base = next((r[2] for r in rows if r[0] == "ray 1"), rows[0][2])
        t = Table(title=f"{args.episodes} episodes of {args.size} ({seconds_of_video:.1f} s of video each), "
                        f"median of {args.runs}")
        for c in ("mode", "wall s", "episodes/hour", "vs ray 1", "outputs = local run"):
            t.add_column(c)
        for mode, wall, eph, same in rows:
            t.add_row(mode, f"{wall:.1f}", f"{eph:.1f}", f"{eph / base:.2f}x", "yes" if same else "NO")
        Console().print(t)


if __name__ == "__main__":
    main()
