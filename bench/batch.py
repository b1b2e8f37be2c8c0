"""Batch throughput: photos per second of `python -m core DIR --out OUT` with 1..N worker processes.

    python -m bench.batch [--data ../shared/data] [--sources egohands,fasseg_frontal,...] [--workers 1,2]
                          [--backend landmarks] [--format png,coco]

Runs the real CLI in a subprocess per setting (a fresh output folder each time, so nothing is skipped) and reports
wall time from process start to exit (interpreter and worker start-up included) and the steady rate after the
first photo finished, which is what a long batch converges to.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .data import DEFAULT_DATA

REPO = Path(__file__).resolve().parent.parent


def run_once(folders, workers: int, backend: str, formats: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "core", *map(str, folders), "--out", out, "--workers", str(workers),
               "--backend", backend, "--format", formats, "--no-progress"]
        t0 = time.perf_counter()
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # a line per photo as it finishes, for the steady rate
        err = tempfile.TemporaryFile("w+")  # a file, not a pipe: MediaPipe's native logs can never block a worker
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        stamps = []
        for line in proc.stdout:  # one line per finished photo, then the summary
            if " -> " in line:
                stamps.append(time.perf_counter() - t0)
        proc.wait()
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1) or not stamps:  # 1 = some photos unreadable; none done = broken
            err.seek(0)
            raise SystemExit(f"batch failed ({proc.returncode}): {err.read()[-2000:]}")
    n = len(stamps)
    steady = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else float("nan")
    return {"workers": workers, "photos": n, "wall_s": wall, "photos_per_s": n / wall, "steady_per_s": steady}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--sources", default="egohands,hand_over_face,celebamask_hq,fasseg_frontal")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--backend", default="landmarks")
    ap.add_argument("--format", default="png,coco")
    args = ap.parse_args(argv)
    folders = [Path(args.data) / s / "images" for s in args.sources.split(",")]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"no photos at {', '.join(missing)}")
    print(f"{'workers':>7} {'photos':>6} {'wall s':>7} {'photos/s':>9} {'steady/s':>9}")
    for w in (int(v) for v in args.workers.split(",")):
        r = run_once(folders, w, args.backend, args.format)
        print(f"{r['workers']:>7} {r['photos']:>6} {r['wall_s']:>7.1f} {r['photos_per_s']:>9.2f} "
              f"{r['steady_per_s']:>9.2f}")


if __name__ == "__main__":
    main()
