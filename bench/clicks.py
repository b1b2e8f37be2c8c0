"""What one click does to a mask: a visitor's "add" point on the largest part of a labelled hand or face that the
mask missed, and a "cut" point on the largest part of a mask outside the label, per source.

    python -m bench.clicks [--data ../shared/data] [--sources egohands hand_over_face celebamask_hq]

For each photo: segment it; the largest connected part of the label the masks miss (the "miss") gets an add
point at its deepest pixel (farthest from its border), when that pixel is on or next to a found instance; the
largest part of a mask outside the label (the "spill") gets a cut point at its deepest pixel. Each click is scored
on its own: the share of the miss (or spill) it fixed, and how the photo's IoU changed. A click's effect on the
rest of the mask shows in the IoU: taking background too lowers it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402
from bench.data import DEFAULT_DATA, samples  # noqa: E402
from bench.mask_metrics import iou, union_of  # noqa: E402

CLASSES = {"egohands": "hand", "hand_over_face": "hand", "celebamask_hq": "face"}
MIN_PART = 0.002  # a miss or spill smaller than this share of the photo is not worth a click


def deepest_part(mask: np.ndarray):
    """(x, y, part) of the largest connected part of `mask` and its pixel farthest from the part's border."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    part = labels == k
    if part.sum() < MIN_PART * mask.size:
        return None
    dist = cv2.distanceTransform(part.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x), float(y), part


def union(result, kind: str) -> np.ndarray:
    return union_of(result.image.shape[:2], [inst.mask for inst in result.instances if inst.kind == kind])


def one_click(sample, kind: str, truth: np.ndarray, which: str):
    """(IoU before, IoU after, share of the part fixed, point) for one add or cut click, or None."""
    before = core.segment(str(sample.image), backend="landmarks", draw=False)
    pred = union(before, kind)
    if not pred.any():
        return None
    found = deepest_part(truth & ~pred) if which == "add" else deepest_part(pred & ~truth)
    if found is None:
        return None
    x, y, part = found
    after = core.segment(str(sample.image), backend="landmarks", draw=False, edits={which: [(x, y)]})
    if any("not on or next to" in m for m in after.messages):
        return None
    new = union(after, kind)
    fixed = (new & part).mean() / part.mean() if which == "add" else 1 - (new & part).sum() / part.sum()
    return iou(pred, truth), iou(new, truth), float(fixed), (x, y)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--sources", nargs="*", default=sorted(CLASSES))
    args = ap.parse_args(argv)
    rows = []
    for src in args.sources:
        kind = CLASSES[src]
        for which in ("add", "cut"):
            got = []
            for s in samples(args.data, [src]):
                if kind not in s.masks:
                    continue
                r = one_click(s, kind, s.mask(kind), which)
                if r is not None:
                    got.append(r)
                    print(f"  {src} {s.stem} {which} at ({r[3][0]:.0f}, {r[3][1]:.0f}): IoU {r[0]:.3f} -> {r[1]:.3f}, "
                          f"part fixed {r[2]:.0%}", flush=True)
            if got:
                a = np.array([g[:3] for g in got])
                rows.append((src, which, len(got), a[:, 0].mean(), a[:, 1].mean(), float(np.median(a[:, 2])),
                             int((a[:, 1] < a[:, 0] - 0.005).sum())))
    print("\n| source | click | photos | IoU before | IoU after | part fixed (median) | photos worse |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for src, which, n, b, a, f, worse in rows:
        print(f"| {src} | {which} | {n} | {b:.3f} | {a:.3f} | {f:.0%} | {worse} |")


if __name__ == "__main__":
    main()
