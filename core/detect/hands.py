"""Hands: MediaPipe Hands on several views of the photo, merged; hands that cannot be real are dropped.

The palm detector misses hands depending on how the photo is framed (large hands entering from the frame edge
in first-person photos, hands over faces), and which framing finds a hand varies from photo to photo. So the
Hands solution looks at the photo, its mirror image (on the second core, alongside the faces) and, when the photo
shows hands, its lower part; hands found in several views are merged. Hands that cannot be real are dropped: one
lying inside a face's mesh outline, or one far smaller than a face it touches.
"""
from __future__ import annotations

import cv2
import numpy as np

from .geometry import hand_scale
from ..types import Detection
from . import graphs
from .geometry import box_intersection, box_iou, box_of


def hands_in(rgb: np.ndarray, conf: float, complexity: int = 0, view: str = "photo", offset=(0, 0)) -> list:
    """MediaPipe Hands on `rgb`: [(box, handedness score, 21 points, "left"|"right")], in the coordinates of
    the photo `rgb` was cut from at `offset`. Each view has its own graph so that views can run at once."""
    h, w = rgb.shape[:2]
    res = graphs.run(("hands", int(complexity), graphs.hands_confidence(conf), view), rgb)
    out = []
    for lms, handed in zip(res.multi_hand_landmarks or [], res.multi_handedness or []):
        pts = np.array([(p.x * w + offset[0], p.y * h + offset[1]) for p in lms.landmark], np.float64)
        cls = handed.classification[0]
        # MediaPipe labels handedness as if the photo were mirrored (selfie); ordinary photos are not.
        side = {"Left": "right", "Right": "left"}.get(cls.label, cls.label.lower())
        out.append((box_of(pts), float(cls.score), pts, side))
    return out


def mirrored_hands(rgb: np.ndarray, conf: float, complexity: int = 0) -> list:
    w = rgb.shape[1]
    out = []
    for box, score, pts, side in hands_in(np.ascontiguousarray(rgb[:, ::-1]), conf, complexity, view="mirror"):
        pts = pts.copy()
        pts[:, 0] = w - 1 - pts[:, 0]
        out.append((box_of(pts), score, pts, {"left": "right", "right": "left"}.get(side, side)))
    return out


# The lower view: the bottom 60% of the photo. Measured on the shared hand photos (egohands + hand_over_face,
# lite model): photo + mirror found 28/30 hands, + this view 30/30; mean hand IoU on egohands 0.630 -> 0.732.
# Caution: which framing recovers a missed hand is erratic (lower 50% found a different 2 of the 4 misses, 70%
# and 80% one or none), so expect a smaller gain on other photos than on these.
LOWER_SHARE = 0.6


def lower_hands(rgb: np.ndarray, conf: float, complexity: int = 0) -> list:
    y0 = int(round((1 - LOWER_SHARE) * rgb.shape[0]))
    return hands_in(np.ascontiguousarray(rgb[y0:]), conf, complexity, view="lower", offset=(0, y0))


def merge_hands(found: list, more: list) -> list:
    """Hands of `found` plus those of `more` that are not already there. The earlier view's landmarks are kept
    for a hand found twice (the photo's own view is the most accurate)."""
    out = list(found)
    for hand in more:
        if not any(_same_hand(hand, h) for h in out):
            out.append(hand)
    return out


def _same_hand(a, b) -> bool:
    """Two detections of one hand: boxes overlapping (IoU >= 0.3), or one a part of the other (a crop's palm
    detector can take a hand's fingers for a hand of their own): mostly inside it and much smaller."""
    if box_iou(a[0], b[0]) >= 0.3:
        return True
    small, large = (a, b) if hand_scale(a[2]) <= hand_scale(b[2]) else (b, a)
    sx0, sy0, sx1, sy1 = small[0]
    inside = box_intersection(small[0], large[0]) / max((sx1 - sx0) * (sy1 - sy0), 1e-6)
    return inside >= 0.7 and hand_scale(small[2]) < 0.6 * hand_scale(large[2])


# A hand is at least this share of a face's size (sqrt of its box area) when it touches the face: a hand beside
# a face is about as large as the face (palm scale / face size 0.25..1.1 on the shared photos), while the lite
# model's "hands" on ears and noses of heads in profile measured 0.08..0.18 (17 of 18 on FASSEG multipose).
MIN_HAND_TO_FACE = 0.2
MAX_INSIDE_FACE = 0.9  # share of a hand's landmarks inside a face mesh's outline (real hands over faces: <= 0.3)


def implausible_hand(hand, faces) -> bool:
    """True for a "hand" that cannot be one: tiny next to a face it touches, or lying inside a face's mesh.

    Only faces that FaceMesh confirmed can rule a hand out: an unconfirmed face may itself be false (first-person
    frames: 31 of 340 labelled hands were dropped beside large false faces of score 0.51-0.69)."""
    box, _, pts, _ = hand
    for face in faces:
        if face.landmark_kind != "face_mesh":
            continue
        fx0, fy0, fx1, fy1 = face.box
        size = np.sqrt(max(fx1 - fx0, 1.0) * max(fy1 - fy0, 1.0))
        cx, cy, hw, hh = (fx0 + fx1) / 2, (fy0 + fy1) / 2, 0.65 * (fx1 - fx0), 0.65 * (fy1 - fy0)
        touches = min(box[2], cx + hw) > max(box[0], cx - hw) and min(box[3], cy + hh) > max(box[1], cy - hh)
        if touches and hand_scale(pts) < MIN_HAND_TO_FACE * size:
            return True
        if touches:
            hull = cv2.convexHull(face.landmarks.astype(np.float32))
            inside = sum(cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in pts)
            if inside >= MAX_INSIDE_FACE * len(pts):
                return True
    return False


def hand_detections(found: list, max_hands: int) -> list:
    return [Detection("hand", box, score, pts, "hand_21", "hands", side) for box, score, pts, side in found[:max_hands]]
