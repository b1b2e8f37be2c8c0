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


def test_error_shares_split_what_iou_misses_by_where_it_lies():
    """bench.hand_errors: extra pixels inside the landmark hull are web, outside it spill; missed pixels outside it
    are edge misses; with the misses inside the hull they add up to 1 - IoU."""
    from bench.hand_errors import error_shares, landmark_hull, wrist_reach
    from bench.mask_metrics import iou

    # A hand whose landmarks' hull is the rectangle x 120-280, y 120-300: wrist (0) at the bottom, the middle
    # finger's base (9) straight above it at the top, the rest at the corners and inside.
    lm = np.array([[200, 300]] + [[120 + 40 * (i % 5), 120 + 45 * (i // 5)] for i in range(20)], float)
    lm[9], lm[20] = (200, 120), (280, 300)
    lm[6] = (120, 300)
    hull = landmark_hull(SHAPE, [lm])
    assert hull[120:300, 120:280].all() and not hull[:, 285:].any() and not hull[:115].any()
    truth = np.zeros(SHAPE, bool)
    truth[150:290, 140:260] = True
    truth[200:220, 290:295] = True  # labelled outside the hull and missed: an edge miss (100 px)
    pred = truth.copy()
    pred[200:220, 290:295] = False
    pred[125:150, 150:250] = True  # in the hull, not labelled: webbing (2500 px)
    pred[150:200, 300:330] = True  # outside the hull: spill (1500 px)
    pred[250:290, 140:180] = False  # missed in the hull (1600 px)
    s = error_shares(pred, truth, [lm])
    union = (pred | truth).sum()
    assert s["web"] == pytest.approx(2500 / union) and s["spill"] == pytest.approx(1500 / union)
    assert s["edge miss"] == pytest.approx(100 / union) and s["hull miss"] == pytest.approx(1600 / union)
    assert s["web"] + s["spill"] + s["edge miss"] + s["hull miss"] == pytest.approx(1 - iou(pred, truth))
    # The wrist (landmark 0 at y=300, the middle finger's base at y=120: one palm length is 180 px) and below it
    # the mask runs 36 px more: 0.2 palm lengths.
    arm = np.zeros(SHAPE, bool)
    arm[120:337, 190:210] = True
    assert wrist_reach(arm, lm) == pytest.approx(36 / 180, abs=0.01)


def test_edges_where_apart_says_whose_outline_follows_the_photo():
    """A pale hand-sized square on a noisy dark table: the outline drawn on its edge reads strong, one drawn 8 px
    inside it (a coarse polygon, a cut across skin) weak, whichever of the two is the label."""
    from bench.hand_errors import edges_where_apart

    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(60, 6, (200, 200, 3)), 0, 255).astype(np.uint8)
    exact = np.zeros((200, 200), bool)
    exact[50:150, 60:140] = True
    photo[exact] = np.clip(rng.normal(190, 6, (int(exact.sum()), 3)), 0, 255).astype(np.uint8)
    inside = np.zeros_like(exact)
    inside[58:142, 68:132] = True
    ours, label = edges_where_apart(exact, inside, photo, 3)
    assert ours > 0.8 and label < 0.4
    ours, label = edges_where_apart(inside, exact, photo, 3)
    assert ours < 0.4 and label > 0.8
    assert edges_where_apart(exact, exact, photo, 3) is None  # the outlines never part
