"""The outline measure of bench.quality (boundary F) and the skeleton figure it reports, on synthetic masks."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.mask_metrics import boundary, boundary_f, boundary_tolerance
from core.masks.skeleton import skeleton_coverage

SHAPE = (400, 400)  # diagonal 566 px: tolerance 5 px


def _disc(cx, cy, r=60, shape=SHAPE) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (cx, cy), r, 1, -1)
    return m.astype(bool)


def test_tolerance_is_a_share_of_the_diagonal():
    assert boundary_tolerance(SHAPE) == 5
    assert boundary_tolerance((720, 1280)) == 12
    assert boundary_tolerance((20, 20)) == 1  # never below one pixel


def test_outline_is_one_pixel_and_not_drawn_along_the_photo_edge():
    m = np.zeros((10, 10), bool)
    m[:, :5] = True  # touches the top, bottom and left edges of the photo
    b = boundary(m)
    assert b[:, 4].all() and b.sum() == 10


def test_identical_masks_score_one():
    d = _disc(200, 200)
    assert boundary_f(d, d) == 1.0


def test_shift_within_tolerance_scores_one():
    assert boundary_f(_disc(203, 200), _disc(200, 200)) == 1.0


def test_shift_beyond_tolerance_scores_low():
    # IoU stays about 0.6 here; the outline measure sees that most of the outline is off.
    assert boundary_f(_disc(225, 200), _disc(200, 200)) < 0.3


def test_a_missing_finger_costs_more_outline_than_area():
    palm = _disc(200, 200)
    finger = np.zeros(SHAPE, bool)
    finger[40:150, 190:210] = True
    hand = palm | finger
    assert boundary_f(palm, hand) < 0.85


def test_empty_masks():
    empty, d = np.zeros(SHAPE, bool), _disc(200, 200)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(d, empty) == 0.0
    assert boundary_f(empty, d) == 0.0


def test_sizes_must_agree():
    with pytest.raises(ValueError):
        boundary_f(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def _open_hand() -> np.ndarray:
    """21 landmarks of an upright open hand, wrist at the bottom, fingers spread upwards."""
    pts = [(200, 360)]
    for dx in (-80, -40, 0, 40, 80):  # thumb to little finger, 4 joints each
        pts += [(200 + dx * k / 4, 360 - 60 * k) for k in range(1, 5)]
    return np.array(pts, float)


def test_skeleton_coverage_counts_only_points_within():
    lm = _open_hand()
    top = np.zeros(SHAPE, bool)
    top[:200] = True  # the fingers' upper half
    assert skeleton_coverage(top, lm) < 0.6  # alone, the lower bones count against it
    assert skeleton_coverage(top, lm, within=top) == 1.0  # the label says only the top is hand
    assert skeleton_coverage(top, lm, within=~top) == 0.0
    assert skeleton_coverage(top, lm, within=np.zeros(SHAPE, bool)) is None
