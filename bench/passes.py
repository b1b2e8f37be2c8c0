"""What each detection pass costs and what it finds that no other pass found, per source.

    python -m bench.passes [--data ../shared/data] [--boxes ../shared/data_boxes] [--limit N] [--sources a,b]

Runs `core.detect.detect` with a `Trace` on every photo (detection only: no masks) and prints, per source and per
pass of `core.detect.PLAN`: on how many photos it ran, its median ms where it ran, its model invocations per
photo, and its own finds: final faces and hands that this pass proposed and no other pass did (so leaving it out
would lose them). On the box-labelled sources a final instance counts as labelled when it matches a labelled box
(box IoU >= 0.3), so "own (labelled)" says how many of a pass's own finds are real. A pass that finds nothing on a
kind of photo should not run there. The last rows: the whole of detect and the model invocations per photo.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.detect import PLAN, DetectOptions, Trace, detect  # noqa: E402
from core.detect.plan import NOT_FINDERS  # noqa: E402
from core.detect.geometry import box_iou  # noqa: E402
from core.loading import load_image  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402
from .recall import DEFAULT_BOX_DATA, boxed_photos  # noqa: E402

SAME_IOU = 0.3


def same_place(a, b) -> bool:
    """One instance: boxes overlap (IoU 0.3), or the centre of each lies in the other (a mesh box inside
    BlazeFace's box, a hand's landmark box inside a crop's)."""
    if box_iou(a, b) >= SAME_IOU:
        return True
    inside = lambda p, q: q[0] <= (p[0] + p[2]) / 2 <= q[2] and q[1] <= (p[1] + p[3]) / 2 <= q[3]  # noqa: E731
    return inside(a, b) and inside(b, a)


def own_finds(dets: list, trace: Trace) -> dict:
    """pass -> [final detection] that only this pass proposed."""
    out = defaultdict(list)
    for d in dets:
        by = [name for name, rec in trace.passes.items() if name not in NOT_FINDERS
              and any(kind == d.kind and same_place(box, d.box) for kind, box in rec.found)]
        if len(by) == 1:
            out[by[0]].append(d)
    return out


def photos(data, boxes, sources, limit):
    out = []
    counts = defaultdict(int)
    for s in samples(data):
        if (not sources or s.source in sources) and (not limit or counts[s.source] < limit):
            counts[s.source] += 1
            out.append((s.source, s.image, None))
    for p in boxed_photos(boxes, sources, limit):
        out.append((p.source, p.image, p.boxes))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--boxes", default=str(DEFAULT_BOX_DATA))
    ap.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="photos per source (0 = all)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    sources = [s for s in args.sources.split(",") if s] or None
    todo = photos(args.data, args.boxes, sources, args.limit)
    if not todo:
        sys.exit("No photos found.")
    opts = DetectOptions()
    detect(load_image(todo[0][1]), opts)  # warm up the graphs
    ran, ms, calls, own, own_true = (defaultdict(int), defaultdict(list), defaultdict(int), defaultdict(int),
                                     defaultdict(int))
    n_photos, total_ms, total_calls = defaultdict(int), defaultdict(list), defaultdict(int)
    for n, (source, image, truth) in enumerate(todo, 1):
        rgb = load_image(image)
        trace = Trace()
        t = time.perf_counter()
        dets = detect(rgb, opts, trace)
        total_ms[source].append((time.perf_counter() - t) * 1000)
        n_photos[source] += 1
        for name, rec in trace.passes.items():
            ran[source, name] += 1
            ms[source, name].append(rec.ms)
            calls[source, name] += sum(rec.calls.values())
            total_calls[source] += sum(rec.calls.values())
        for name, found in own_finds(dets, trace).items():
            own[source, name] += len(found)
            if truth is not None:
                own_true[source, name] += sum(any(box_iou(d.box, b) >= SAME_IOU for b in truth) for d in found)
        if not args.quiet and n % 50 == 0:
            print(f"  {n}/{len(todo)} photos", file=sys.stderr, flush=True)
    labelled = {src for src, _, truth in todo if truth is not None}
    head = f"{'source':17} {'pass':18} {'ran':>9} {'ms (median)':>11} {'calls/photo':>11} {'own finds':>9} " \
           f"{'own (labelled)':>14}"
    print(head)
    print("-" * len(head))
    for source in n_photos:
        for p in PLAN:
            if not ran[source, p.name]:
                print(f"{source:17} {p.name:18} {'0/' + str(n_photos[source]):>9}")
                continue
            truth_cell = f"{own_true[source, p.name]:>14}" if source in labelled else f"{'-':>14}"
            print(f"{source:17} {p.name:18} {f'{ran[source, p.name]}/{n_photos[source]}':>9} "
                  f"{np.median(ms[source, p.name]):>11.1f} {calls[source, p.name] / n_photos[source]:>11.2f} "
                  f"{own[source, p.name]:>9} {truth_cell}")
        print(f"{source:17} {'detect (all)':18} {n_photos[source]:>9} {np.median(total_ms[source]):>11.1f} "
              f"{total_calls[source] / n_photos[source]:>11.2f}")
        print()


if __name__ == "__main__":
    main()
