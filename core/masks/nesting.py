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


class Shape:
    """One candidate (a bool crop) with what its looser cuts are measured against, computed once when asked."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        self.area = int(mask.sum())
        self._dist = self._hull = self._box = None

    @property
    def dist(self) -> np.ndarray:
        """Distance of every pixel from the mask."""
        if self._dist is None:
            self._dist = cv2.distanceTransform((~self.mask).astype(np.uint8), cv2.DIST_L2, 3)
        return self._dist

    @property
    def hull(self) -> np.ndarray:
        """The mask's convex hull, filled (a hand with the gaps between its spread fingers filled)."""
        if self._hull is None:
            contours, _ = cv2.findContours(self.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull = np.zeros(self.mask.shape, np.uint8)
            if contours:
                cv2.fillPoly(hull, [cv2.convexHull(np.concatenate(contours))], 1)
            self._hull = hull > 0
        return self._hull

    @property
    def box(self) -> np.ndarray:
        """The mask's bounding box, filled."""
        if self._box is None:
            x, y, w, h = cv2.boundingRect(self.mask.astype(np.uint8))
            self._box = np.zeros(self.mask.shape, bool)
            self._box[y:y + h, x:x + w] = True
        return self._box


def is_rim(small: Shape, big: np.ndarray) -> bool:
    """Whether `big` is `small` grown by a band of about even width all around."""
    shell = big & ~small.mask
    if shell.sum() < 4:
        return False
    width = float(np.percentile(small.dist[shell], 90))
    ring = (small.dist > 0) & (small.dist <= RIM_RING * width)
    ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = False  # the crop's border: nothing to see beyond it
    return bool(ring.any()) and (big & ring).sum() >= RIM_HELD * ring.sum()


def fills(small: Shape, big: np.ndarray) -> bool:
    """Whether `big` is `small` with its outline straightened: its convex hull or its bounding box, filled."""
    return iou(big, small.hull) >= FILLED or iou(big, small.box) >= FILLED


def looser_cut(small: Shape, big: np.ndarray) -> bool:
    """Whether `big` is `small` cut more loosely: grown by an even rim, or filled to its hull or its box."""
    return holds(big, small.mask) and (is_rim(small, big) or fills(small, big))


def tightest(crops: list) -> list:
    """Indices of the candidates (bool crops) that are no looser cut of another candidate; all of them when every
    one is (nothing is left out of a choice for it)."""
    shapes = [Shape(c) for c in crops]
    keep = [i for i, big in enumerate(shapes)
            if not any(j != i and SMALLEST * big.area <= small.area < (1 - NESTED) * big.area
                       and looser_cut(small, big.mask) for j, small in enumerate(shapes))]
    return keep or list(range(len(crops)))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
