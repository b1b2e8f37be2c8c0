"""RSS growth of a warmed-up process over 30 distinct hand confidences (the one option that makes graphs).

    python -m bench.option_memory [--photo ../shared/data/egohands/images/01.jpg]

Each confidence the Hands graphs do not have yet costs new graphs (`core/detect/graphs.py`). Two fresh processes
run the same 30 values (the 0.05 grid from 0.1 to 0.9 and odd values between, in a fixed mixed order) after two
default requests: one with glibc's malloc arenas capped at 2 (as `app.py` does), one with glibc's default (the CLI
and library callers). Prints per value the Hands threshold it maps to, the graphs and threads alive, and RSS growth
over the warmed-up process; the last lines give the final and the peak growth. The target is under 200 MB (arenas
2, as the served app runs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.data import DEFAULT_DATA

REPO = Path(__file__).resolve().parent.parent
PHOTO = DEFAULT_DATA / "egohands" / "images" / "01.jpg"  # two people's hands; else the first example (a fresh clone)
if not PHOTO.exists():
    PHOTO = REPO / "examples" / "01_card_thrower_gesturing_pxhere.jpg"

GRID = [round(0.1 + 0.05 * k, 2) for k in range(17)]  # 0.1 .. 0.9, 0.5 (the default) among them
ODD = [0.11, 0.123, 0.2468, 0.29, 0.333, 0.37, 0.4444, 0.52, 0.61, 0.666, 0.71, 0.777, 0.88]
VALUES = [v for pair in zip(GRID, ODD + [None] * 4) for v in pair if v is not None]  # 30, grid and odd mixed

CHILD = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
if sys.argv[2] == "2":
    from core.malloc import limit_malloc_arenas
    limit_malloc_arenas(2)
import psutil
from core import segment
from core.detect import graphs
from core.loading import load_image
rgb = load_image(sys.argv[1])
proc = psutil.Process()
for _ in range(2):
    segment(rgb, backend="landmarks", draw=False)
base = proc.memory_info().rss
print(json.dumps({"base": base, "graphs": graphs.count(), "threads": proc.num_threads()}), flush=True)
for c in json.loads(sys.argv[3]):
    segment(rgb, backend="landmarks", draw=False, min_confidence=c)
    print(json.dumps({"c": c, "threshold": graphs.hands_confidence(c), "graphs": graphs.count(),
                      "threads": proc.num_threads(), "grown": proc.memory_info().rss - base}), flush=True)
"""


def run(photo: str, arenas: str) -> list:
    env = dict(os.environ, GLOG_minloglevel="3", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("MALLOC_ARENA_MAX", None)
    out = subprocess.run([sys.executable, "-c", CHILD, photo, arenas, json.dumps(VALUES)], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default=str(PHOTO))
    args = ap.parse_args(argv)
    capped, default = run(args.photo, "2"), run(args.photo, "default")
    mb = 2 ** 20
    print(f"photo {args.photo}")
    print(f"warmed up: {capped[0]['base'] / mb:.0f} MB, {capped[0]['graphs']} graphs, {capped[0]['threads']} threads"
          f" (arenas 2) | {default[0]['base'] / mb:.0f} MB (glibc default)")
    print(f"{'value':>7} {'hands thr':>9} | {'graphs':>6} {'threads':>7} {'RSS +MB, arenas 2':>18} | "
          f"{'RSS +MB, glibc default':>22}")
    for a, b in zip(capped[1:], default[1:]):
        print(f"{a['c']:7.4g} {a['threshold']:9.2f} | {a['graphs']:6d} {a['threads']:7d} {a['grown'] / mb:18.0f} | "
              f"{b['grown'] / mb:22.0f}")
    for name, rows in (("final", [capped[-1], default[-1]]),
                       ("peak", [max(capped[1:], key=lambda r: r["grown"]), max(default[1:], key=lambda r: r["grown"])])):
        print(f"{name:>7} {'':9} | {'':6} {'':7} {rows[0]['grown'] / mb:18.0f} | {rows[1]['grown'] / mb:22.0f}")


if __name__ == "__main__":
    main()
