"""SAM's looser cuts of one object: a candidate that is another grown by an even rim, or filled to its convex hull
or bounding box, adds what surrounds the object, not more of it.

Segment Anything returns around one face or hand a family of nested masks (`../shared/DESIGN.md`): the object, the
same object cut more loosely (a rim of background all around), the object with its outline straightened (the gaps
between spread fingers filled, a filled box), and bigger things (an arm, a neck, the person). The first two kinds
are recognised by their shape relative to a smaller candidate inside them, whatever the photo shows: a rim holds
the ring around the smaller one evenly; a hull or a box is the smaller one's hull or box. Measured on the shared
photos' candidates (`bench.selection`), every rim (96 of 96) holds 0.85 or more of the ring at 0.6 of its width,
while a filled box, a filled hull, an arm or the rest of a hand around a piece of it do in at most 3% of cases.
"""
from __future__ import annotations

import cv2
import numpy as np

NESTED = 0.05  # a candidate holds another when it misses at most this share of it
RIM_RING = 0.6  # a rim holds the ring this share of its width around the smaller candidate ...
RIM_HELD = 0.85  # ... at least this fully
FILLED = 0.95  # a candidate this close (IoU) to another's convex hull or bounding box is that one filled
SMALLEST = 0.3  # a candidate is judged a looser cut only of candidates at least this share of its area


def holds(big: np.ndarray, small: np.ndarray) -> bool:
    """Whether `big` holds `small` (misses at most NESTED of it)."""
    return (small & ~big).sum() <= NESTED * small.sum()


def is_rim(small: np.ndarray, big: np.ndarray) -> bool:
    """Whether `big` is `small` grown by a band of about even width all around."""
    shell = big & ~small
    if shell.sum() < 4:
        return False
    dist = cv2.distanceTransform((~small).astype(np.uint8), cv2.DIST_L2, 3)
    width = float(np.percentile(dist[shell], 90))
    ring = (dist > 0) & (dist <= RIM_RING * width)
    ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = False  # the crop's border: nothing to see beyond it
    return bool(ring.any()) and (big & ring).sum() >= RIM_HELD * ring.sum()


def fills(small: np.ndarray, big: np.ndarray) -> bool:
    """Whether `big` is `small` with its outline straightened: its convex hull or its bounding box, filled."""
    pts = cv2.findNonZero(small.astype(np.uint8))
    if pts is None:
        return False
    hull = np.zeros(small.shape, np.uint8)
    cv2.fillPoly(hull, [cv2.convexHull(pts)], 1)
    x, y, w, h = cv2.boundingRect(pts)
    box = np.zeros(small.shape, bool)
    box[y:y + h, x:x + w] = True
    return _iou(big, hull > 0) >= FILLED or _iou(big, box) >= FILLED


def looser_cut(small: np.ndarray, big: np.ndarray) -> bool:
    """Whether `big` is `small` cut more loosely: grown by an even rim, or filled to its hull or its box."""
    return holds(big, small) and (is_rim(small, big) or fills(small, big))


def tightest(crops: list) -> list:
    """Indices of the candidates (bool crops) that are no looser cut of another candidate; all of them when every
    one is (nothing is left out of a choice for it)."""
    areas = [int(c.sum()) for c in crops]
    keep = [i for i, c in enumerate(crops)
            if not any(j != i and SMALLEST * areas[i] <= areas[j] < (1 - NESTED) * areas[i]
                       and looser_cut(crops[j], c) for j in range(len(crops)))]
    return keep or list(range(len(crops)))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
