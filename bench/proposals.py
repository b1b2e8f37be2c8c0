"""How well each source of hand proposals finds a hand the first pass missed, each measured on its own.

    python -m bench.proposals [--sources egohands_csv] [--limit N]

A miss is simulated where the truth is known: for every hand the first pass found in a photo, the pass is run
again as if that hand had been missed (it is left out of the found hands), and the proposal source is asked
where to look. A hand counts as recovered when the second look finds a hand with box IoU >= 0.3 with it.
Columns per source: hidden hands, proposals made per photo, hands recovered, median ms of the second look.
"""
from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.detect.plan import detect_faces  # noqa: E402
from core.detect import hands as hand_finder  # noqa: E402
from core.detect import proposals  # noqa: E402
from core.detect.geometry import box_iou  # noqa: E402
from core.loading import load_image  # noqa: E402

from .data import samples  # noqa: E402
from .recall import boxed_photos  # noqa: E402

SOURCES = {"skin": lambda rgb, faces, hands: proposals.skin_proposals(rgb, faces, hands),
           "pose": lambda rgb, faces, hands: proposals.pose_proposals(rgb, faces, hands)}


def photos(sources, limit):
    out = [str(s.image) for s in samples(sources=["egohands", "hand_over_face"])] if "shared" in sources else []
    out += [str(p.image) for p in boxed_photos(sources=[s for s in sources if s != "shared"] or None, limit=limit)
            if p.kind == "hand"] if any(s != "shared" for s in sources) else []
    return out


def run(paths):
    stats = defaultdict(lambda: defaultdict(list))
    for path in paths:
        rgb = load_image(path)
        faces = detect_faces(rgb)
        found = [h for h in hand_finder.hands_in(rgb, 0.5) if not hand_finder.implausible_hand(h, faces)]
        for k, hidden in enumerate(found):
            rest = found[:k] + found[k + 1:]
            for name, propose in SOURCES.items():
                t = time.perf_counter()
                props = propose(rgb, faces, rest)
                again = proposals.look_again(rgb, props, 0.5)
                ms = (time.perf_counter() - t) * 1000
                s = stats[name]
                s["recovered"].append(any(box_iou(h[0], hidden[0]) >= 0.3 for h in again))
                s["proposals"].append(len(props))
                s["ms"].append(ms)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default="shared,egohands_csv",
                    help="shared (the labelled hand photos) and/or box-labelled sources")
    ap.add_argument("--limit", type=int, default=40, help="box-labelled photos per source (0 = all)")
    args = ap.parse_args(argv)
    stats = run(photos(args.sources.split(","), args.limit))
    print(f"{'proposals':10} {'hidden':>7} {'recovered':>16} {'proposals/hand':>15} {'ms':>6}")
    for name, s in stats.items():
        n, r = len(s["recovered"]), int(sum(s["recovered"]))
        print(f"{name:10} {n:>7} {f'{r / max(n, 1):.1%} ({r}/{n})':>16} {np.mean(s['proposals']):>15.2f} "
              f"{np.median(s['ms']):>6.1f}")


if __name__ == "__main__":
    main()
