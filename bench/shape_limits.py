"""Find the image shapes each MediaPipe graph can take without aborting the process.

A graph given a shape it cannot handle raises an uncaught C++ error and the process exits with SIGABRT, so every
probe runs in its own subprocess. For each graph and orientation (wide W x 8, tall 8 x H, and with a 64 px short
side) this bisects the longest side that still works; `core.loading` refuses shapes beyond the smallest of them.

    python -m bench.shape_limits            # all graphs, prints one row per graph and shape family
    python -m bench.shape_limits --probe fd0 32767 8   # one probe: exit code 0 ok, -6 (SIGABRT) crashed
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

GRAPHS = ("fd0", "fd1", "mesh", "hands0", "hands1", "pose")


def _graph(name: str):
    import mediapipe as mp

    s = mp.solutions
    if name in ("fd0", "fd1"):
        return s.face_detection.FaceDetection(model_selection=int(name[-1]), min_detection_confidence=0.5)
    if name == "mesh":
        return s.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, min_detection_confidence=0.3)
    if name in ("hands0", "hands1"):
        return s.hands.Hands(static_image_mode=True, max_num_hands=6, model_complexity=int(name[-1]))
    if name == "pose":
        return s.pose.Pose(static_image_mode=True, model_complexity=1)
    raise ValueError(name)


def probe(name: str, w: int, h: int) -> None:
    import numpy as np

    graph = _graph(name)
    img = np.full((h, w, 3), 127, np.uint8)
    graph.process(img)


def _ok(name: str, w: int, h: int) -> bool:
    env = dict(os.environ, GLOG_minloglevel="3", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "bench.shape_limits", "--probe", name, str(w), str(h)],
                          env=env, capture_output=True, timeout=300)
    return proc.returncode == 0


def largest_side(name: str, short: int, wide: bool, lo: int = 1024, hi: int = 65536) -> int:
    """The largest long side (short side fixed) that works, by bisection between lo (works) and hi (fails)."""
    def ok(n):
        return _ok(name, n, short) if wide else _ok(name, short, n)

    if not ok(lo):
        return -1
    if ok(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", nargs=3)
    ap.add_argument("--graphs", default=",".join(GRAPHS))
    args = ap.parse_args()
    if args.probe:
        name, w, h = args.probe
        probe(name, int(w), int(h))
        return
    cases = [(g, short, wide) for g in args.graphs.split(",") for short in (8, 64) for wide in (True, False)]
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda c: largest_side(*c), cases))
    for (g, short, wide), side in zip(cases, found):
        shape = f"N x {short}" if wide else f"{short} x N"
        print(f"{g:7s} {shape:9s} largest working N = {side}")


if __name__ == "__main__":
    main()
