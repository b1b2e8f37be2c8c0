"""Where a hand mask is wrong, by kind of error, so a change is seen where it acts.

IoU and boundary F say how wrong a hand's outline is; they do not say where. The hand's own landmarks do: their
convex hull (the hull of the 21 points) holds the palm and the gaps between spread fingers, so what a mask adds
there beyond the label is mostly webbing; what it adds outside the hull is spill (a neck, a held card, a sleeve,
skin around the hand); what it misses outside the hull is the finger sides, tips and the wrist. Each is a share of
the photo's union of labelled and predicted hand pixels, the denominator of IoU, so the three (with what is missed
inside the hull, about nil) add up to 1 - IoU.

The wrist: the labels end the hand where the wrist ends. `wrist_reach` measures how far a mask runs behind the
wrist landmark (landmark 0, away from the middle finger's base, landmark 9), in palm lengths (0 to 9), within a
corridor about a wrist wide: the same figure for the label and the prediction says whether a mask stops short or
runs up the arm.

Whose outline is right where the two part: `edges_where_apart` reads the photo's edges along each outline where it
lies beyond bF's tolerance from the other. A border drawn where the object ends lies on an edge (the hand against
the table, a palm against the face it rests on); a coarse polygon or a cut across skin does not. On egohands the
labels' outline is the one off the edges (a polygon inside the hand), on hand-over-face it is ours.

    from bench.hand_errors import edges_where_apart, error_shares, wrist_reach
    error_shares(pred, truth, [landmarks, ...])   # {"web": .., "spill": .., "edge miss": .., "hull miss": ..}
    wrist_reach(mask, landmarks)                  # palm lengths behind the wrist landmark, or None
    edges_where_apart(pred, truth, rgb, 4)        # (edge strength along ours, along the label's), or None
"""
from __future__ import annotations

import cv2
import numpy as np

from core.masks.edges import edge_map

from .mask_metrics import _distance_to, boundary

WRIST_CORRIDOR = 0.25  # half-width of the corridor behind the wrist, in palm lengths (about a third of a wrist)


def landmark_hull(shape, hands) -> np.ndarray:
    """Bool mask of the union of the convex hulls of each hand's 21 landmarks ((21, 2) arrays, photo pixels)."""
    out = np.zeros(shape[:2], np.uint8)
    for lm in hands:
        hull = cv2.convexHull(np.round(np.asarray(lm, np.float64)).astype(np.int32))
        cv2.fillConvexPoly(out, hull, 1)
    return out.astype(bool)


def error_shares(pred: np.ndarray, truth: np.ndarray, hands) -> dict | None:
    """Shares of |pred | truth| by where the pixels lie against the hands' landmark hull: `web` (predicted, not
    labelled, inside the hull), `spill` (predicted, not labelled, outside), `edge miss` (labelled, not predicted,
    outside), `hull miss` (labelled, not predicted, inside). None when both masks are empty."""
    union = (pred | truth).sum()
    if not union:
        return None
    hull = landmark_hull(pred.shape, hands)
    extra, missed = pred & ~truth, truth & ~pred
    return {"web": float((extra & hull).sum() / union), "spill": float((extra & ~hull).sum() / union),
            "edge miss": float((missed & ~hull).sum() / union), "hull miss": float((missed & hull).sum() / union)}


def wrist_reach(mask: np.ndarray, landmarks) -> float | None:
    """How far `mask` runs behind the wrist landmark along the hand's axis (landmark 9 -> 0), in palm lengths
    (|0 - 9|), counting only its pixels within WRIST_CORRIDOR palm lengths of the axis (give one hand's mask: a
    label's component, an instance's mask); None when the mask has no pixel there or the palm has no length."""
    lm = np.asarray(landmarks, np.float64)
    axis = lm[0] - lm[9]
    palm = float(np.linalg.norm(axis))
    if palm < 1.0:
        return None
    down = axis / palm
    side = np.array([-down[1], down[0]])
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    rel = np.stack([xs, ys], 1) - lm[0]
    along, across = rel @ down / palm, np.abs(rel @ side) / palm
    keep = (across <= WRIST_CORRIDOR) & (along >= -1.0)
    if not keep.any():
        return None
    return float(np.clip(along[keep].max(), 0.0, 9.0))


def edges_where_apart(pred: np.ndarray, truth: np.ndarray, rgb: np.ndarray, apart: float) -> tuple | None:
    """(ours, label): the mean edge strength (`core.masks.edges.edge_map`, 0-1 by the region's own strong edges)
    along the predicted outline where it lies more than `apart` pixels from the labelled one, and along the labelled
    outline where it lies more than `apart` from the predicted one. None when the outlines never part that far."""
    ys, xs = np.nonzero(pred | truth)
    if not len(xs):
        return None
    h, w = truth.shape
    m = int(apart) + 8
    x0, y0, x1, y1 = max(xs.min() - m, 0), max(ys.min() - m, 0), min(xs.max() + m + 1, w), min(ys.max() + m + 1, h)
    p, t = pred[y0:y1, x0:x1], truth[y0:y1, x0:x1]
    edges = edge_map(rgb[y0:y1, x0:x1], 1, p.shape)
    op, ot = boundary(p), boundary(t)  # the outlines bF compares, at bF's distances
    ours, theirs = op & (_distance_to(ot) > apart), ot & (_distance_to(op) > apart)
    if not ours.any() or not theirs.any():
        return None
    return float(edges[ours].mean()), float(edges[theirs].mean())
