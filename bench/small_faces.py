"""Face masks at crowd sizes: what the mesh crop and the refinement do on small faces, with and without the mesh.

    python -m bench.small_faces [--data ../shared/data]

No labelled crowd photo has face masks, so the labelled CelebAMask portraits are shrunk until their faces are
20-80 px wide and placed three to a 640x480 canvas (a group photo, so the group tiles run too); each face mask is
scored against the shrunk truth. "mesh": the product as it is (FaceMesh on each face's crop); "keypoints": as if
FaceMesh confirmed no face (masked, blurred or turned faces in real crowds), so the outline comes from BlazeFace's
box. Each with the landmark prior alone and refined.
"""
from __future__ import annotations

import argparse
import os
from unittest import mock

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import segment  # noqa: E402
from core.detect import faces  # noqa: E402

from .data import DEFAULT_DATA, samples  # noqa: E402

SIDES = (40, 48, 64, 96, 128)  # portrait side after shrinking; the face is about 0.6 of it


def group_canvas(rgb: np.ndarray, truth: np.ndarray, side: int) -> tuple:
    small = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    small_truth = cv2.resize(truth.astype(np.uint8), (side, side), interpolation=cv2.INTER_AREA) > 0
    canvas = np.full((480, 640, 3), 120, np.uint8)
    mask = np.zeros((480, 640), bool)
    for x in (40, 260, 470):
        canvas[200:200 + side, x:x + side] = small
        mask[200:200 + side, x:x + side] = small_truth
    return canvas, mask


def score(canvas, mask, refine: bool) -> tuple:
    r = segment(canvas, backend="landmarks", draw=False, refine=refine)
    pred = np.zeros_like(mask)
    for f in r.faces:
        pred |= f.mask
    return float((pred & mask).sum() / max((pred | mask).sum(), 1)), len(r.faces)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args(argv)
    portraits = [(cv2.cvtColor(cv2.imread(str(s.image)), cv2.COLOR_BGR2RGB), s.mask("face"))
                 for s in samples(args.data, ["celebamask_hq"])]
    print(f"{'face px':>8} {'path':>10} {'prior IoU':>10} {'refined IoU':>12} {'found':>6}")
    for side in SIDES:
        for path in ("mesh", "keypoints"):
            rows = []
            with mock.patch.object(faces, "mesh_on_crop", lambda rgb, box: None) if path == "keypoints" \
                    else mock.patch.object(faces, "MESH_SIDE", faces.MESH_SIDE):
                for rgb, truth in portraits:
                    canvas, mask = group_canvas(rgb, truth, side)
                    prior, _ = score(canvas, mask, False)
                    refined, found = score(canvas, mask, True)
                    rows.append((prior, refined, found))
            prior, refined, found = np.mean(rows, 0)
            print(f"{int(0.6 * side):>8} {path:>10} {prior:>10.3f} {refined:>12.3f} {found:>6.1f}")


if __name__ == "__main__":
    main()
