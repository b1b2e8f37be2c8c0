"""How close a predicted mask is to a labelled one: area overlap (IoU) and outline agreement (boundary F).

IoU is dominated by a mask's bulk: a hand mask that loses two fingers, or a face mask with a ragged hairline,
keeps a high IoU because fingers and hairlines are few pixels. A person looks at the outline instead. Boundary F
(the contour measure of the DAVIS benchmark) scores the outline: the share of the predicted outline lying near the
true one (precision), the share of the true outline lying near the predicted one (recall), and their harmonic
mean. "Near" is a tolerance of 0.8% of the photo's diagonal, so the figure means the same on photos of any size.

    from bench.mask_metrics import boundary_f, iou
    boundary_f(pred, truth)             # tolerance from the photo's size
    boundary_f(pred, truth, tolerance=3)
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

TOLERANCE_SHARE = 0.008  # boundary match tolerance as a share of the photo diagonal (DAVIS's choice)


def iou(a, b) -> float:
    """Intersection over union of two bool masks; 1.0 when both are empty (nothing to find, nothing found)."""
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


def union_of(shape, masks) -> np.ndarray:
    """One bool mask covering all `masks` (an empty one of `shape` when there are none)."""
    out = np.zeros(shape, bool)
    for m in masks:
        out |= m
    return out


def boundary_tolerance(shape) -> int:
    """Pixels within which two outlines agree on a photo of `shape`: 0.8% of its diagonal, at least 1."""
    h, w = shape[:2]
    return max(1, int(round(TOLERANCE_SHARE * float(np.hypot(h, w)))))


def boundary(mask: np.ndarray) -> np.ndarray:
    """The mask's one-pixel outline: its pixels with a 4-neighbour outside it. Beyond the photo counts as more of
    the same, so a mask is not outlined where the photo ends (nobody drew that edge)."""
    m = np.asarray(mask, np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    inner = cv2.erode(m, cross, borderType=cv2.BORDER_REPLICATE)
    return (m > inner)


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance: Optional[int] = None) -> float:
    """DAVIS contour F of two bool masks: harmonic mean of outline precision and recall within `tolerance` pixels
    (default `boundary_tolerance` of the photo). 1.0 when neither has an outline and they agree (both empty,
    or both the whole photo), 0.0 when only one has one."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in size: {pred.shape} vs {truth.shape}")
    tol = boundary_tolerance(pred.shape) if tolerance is None else tolerance
    pb, tb = boundary(pred), boundary(truth)
    if not pb.any() or not tb.any():
        if pb.any() or tb.any():
            return 0.0
        return 1.0 if pred.any() == truth.any() else 0.0
    precision = float((_distance_to(tb)[pb] <= tol).mean())
    recall = float((_distance_to(pb)[tb] <= tol).mean())
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _distance_to(outline: np.ndarray) -> np.ndarray:
    """Each pixel's Euclidean distance to the nearest pixel of `outline` (OpenCV measures to the nearest zero)."""
    return cv2.distanceTransform(np.where(outline, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
