"""Speed on the shared photos: median per-stage and end-to-end ms of `segment()`, against raw MediaPipe.

    python -m bench.speed [--backend landmarks] [--data ../shared/data] [--per-source 10]

"raw" is what a naive pipeline pays: one BlazeFace (full-range) pass and one Hands pass on the photo. The ratio
column is segment() end to end divided by raw, per photo, then the median. Peak RSS is the process's maximum.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.loading import load_image  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402


def raw_mediapipe(rgb, fd, hands) -> float:
    t = time.perf_counter()
    fd.process(rgb)
    hands.process(rgb)
    return (time.perf_counter() - t) * 1000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--backend", default="landmarks")
    ap.add_argument("--per-source", type=int, default=10, help="photos per source (0 = all)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per photo (median kept)")
    args = ap.parse_args(argv)

    import mediapipe as mp

    fd = mp.solutions.face_detection.FaceDetection(model_selection=1)
    hands = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=6)
    by_source = defaultdict(list)
    for s in samples(args.data):
        if not args.per_source or len(by_source[s.source]) < args.per_source:
            by_source[s.source].append(s)
    photos = [s for group in by_source.values() for s in group]

    first = load_image(photos[0].image)
    t = time.perf_counter()
    segment(first, backend=args.backend)
    cold_ms = (time.perf_counter() - t) * 1000
    raw_mediapipe(first, fd, hands)

    rows = defaultdict(list)
    for s in photos:
        path = str(s.image)
        rgb = load_image(path)
        raw = np.median([raw_mediapipe(rgb, fd, hands) for _ in range(args.repeat)])
        runs = [segment(path, backend=args.backend).timings for _ in range(args.repeat)]
        stages = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        for k, v in stages.items():
            rows[(s.source, k)].append(v)
            rows[("ALL", k)].append(v)
        for key in (s.source, "ALL"):
            rows[(key, "raw mediapipe")].append(raw)
            rows[(key, "ratio")].append(stages["total"] / raw)
            rows[(key, "megapixels")].append(rgb.shape[0] * rgb.shape[1] / 1e6)

    stage_names = [k for k in runs[0] if k != "total"] + ["total", "raw mediapipe", "ratio", "megapixels"]
    sources = list(by_source) + ["ALL"]
    print(f"backend={args.backend}  photos={len(photos)}  repeat={args.repeat}  cold first call={cold_ms:.0f} ms")
    print(f"{'stage (median ms)':18}" + "".join(f"{s[:16]:>18}" for s in sources))
    for k in stage_names:
        print(f"{k:18}" + "".join(f"{np.median(rows[(s, k)]):>18.2f}" for s in sources))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
