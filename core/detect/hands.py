"""Hands: MediaPipe Hands on several views of the photo, merged; hands that cannot be real are dropped.

The palm detector misses hands depending on how the photo is framed (large hands entering from the frame edge
in first-person photos, hands over faces), and which framing finds a hand varies from photo to photo. So the
Hands solution looks at the photo and, where a hand may be lost (`plan.py`), its mirror image, the photo zoomed
out (for a hand that fills the frame) and, when the photo shows hands, its lower part; hands found in several
views are merged. A photo larger than HANDS_SIDE is given to Hands as an area-averaged copy (`hands_input`), and
also as it is, so that no hand raw MediaPipe finds is lost. Hands that cannot be real are dropped: one lying inside
a face's mesh outline, or one far smaller than a face it touches, where the face is one BlazeFace is sure of.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..types import Detection
from . import graphs, trace
from .faces import SURE_FACE_SCORE
from .geometry import box_intersection, box_iou, box_of, hand_scale

# MediaPipe shrinks what it is given to the palm detector's 192 px square (and each hand to the landmark model's
# 224 px) by bilinear sampling, with no smoothing first. From a 12 MP photo that reads about one pixel in 20, so the
# photo's noise and fine texture alias into what the models see. On 51 12 MP framings of shared hand photos (43 hands
# found without noise) raw Hands at full size found 32 / 25 hands once mild sensor-like noise (sigma 4 / 8 grey
# levels) was added; on an area-averaged copy of longer side 1280 it found 43 / 42 (copies of 640 to 1280 px alike,
# 2048 px: 42 / 41). The copy's longer side lies in 640..1280 px; photos up to 1280 px (webcams, 1280x720 frames)
# are given as they are.
HANDS_SIDE = 1280
MIN_SHRUNK_SIDE = 8  # the copy's shorter side is never below this (the loader's smallest accepted side)


def hands_factor(shape) -> int:
    """k of `hands_input` for a photo of this shape, without shrinking it (1: given as it is)."""
    h, w = shape[:2]
    return max(min(-(-max(h, w) // HANDS_SIDE), min(h, w) // MIN_SHRUNK_SIDE), 1)  # a strip (32766x8) stays


def hands_input(rgb: np.ndarray) -> tuple:
    """(what Hands is given for `rgb`, how many of `rgb`'s pixels one of its pixels spans): `rgb` itself up to
    HANDS_SIDE, else the mean of every k x k block, k the smallest whole factor that brings it to HANDS_SIDE (a
    whole factor is exact and fast: 12 MP in ~12 ms; the last k-1 rows and columns at most are left out). The
    views of one photo share one copy (`shrunk` below): a 12 MP photo is shrunk once, not once per view."""
    h, w = rgb.shape[:2]
    k = hands_factor(rgb.shape)
    if k <= 1:
        return rgb, 1
    return cv2.resize(rgb[:h - h % k, :w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA), k


def hands_in(rgb: np.ndarray, conf: float, complexity: int = 0, view: str = "photo", offset=(0, 0),
             full_size: bool = False, shrunk=None) -> list:
    """MediaPipe Hands on `rgb` (on `hands_input(rgb)`, or `shrunk` when given, unless `full_size`): [(box,
    handedness score, 21 points, "left"|"right")], in the coordinates of the photo `rgb` was cut from at
    `offset`. Each view has its own graph so that views can run at once."""
    small, k = (rgb, 1) if full_size else (shrunk or hands_input(rgb))
    h, w = small.shape[0] * k, small.shape[1] * k  # the part of `rgb` that Hands saw
    trace.count("hands")
    res = graphs.run(("hands", int(complexity), graphs.hands_confidence(conf), view), small)
    out = []
    for lms, handed in zip(res.multi_hand_landmarks or [], res.multi_handedness or []):
        pts = np.array([(p.x * w + offset[0], p.y * h + offset[1]) for p in lms.landmark], np.float64)
        cls = handed.classification[0]
        # MediaPipe labels handedness as if the photo were mirrored (selfie); ordinary photos are not.
        side = {"Left": "right", "Right": "left"}.get(cls.label, cls.label.lower())
        out.append((box_of(pts), float(cls.score), pts, side))
    return out


def full_size_hands(rgb: np.ndarray, conf: float, complexity: int = 0, view: str = "photo") -> list:
    """Hands on a photo larger than HANDS_SIDE as raw MediaPipe sees it, at full size; [] for a photo Hands is given
    as it is. Aliasing hides most of the hands the area-averaged copy finds, but by chance it shows a few that the
    copy's views do not (3 of the 86 that raw Hands found on noisy 12 MP framings), and a hand raw Hands finds must
    not be lost. Its hands come first, so such a hand keeps raw Hands' landmarks: the copy's are as good on average
    (box IoU with labelled hands 0.733 vs 0.734 on 1280x720 frames upscaled 3.15x) but differ hand by hand, and the
    masks follow the landmarks. `detect` runs it on the second core, on the mirror view's graph, before that view."""
    if hands_factor(rgb.shape) == 1:
        return []
    return hands_in(rgb, conf, complexity, view=view, full_size=True)


# The lite palm detector misses a hand that fills most of its 192 px view (a phone photo of one hand): on 12 MP
# framings of shared hand photos, 16 hands whose longer side was 60-85% of the frame's shorter side were found by the
# full model (complexity 1) and not by the lite one. Shrunk to this share and centred on a black canvas of the same
# size, all 16 were found. On first-person frames (egohands_csv, 340 boxed hands) this view added 6 hands and 1 false
# one; on heads (FASSEG, 217 photos) its 18 "hands" all lie on faces BlazeFace is sure of and are dropped.
ZOOM_OUT = 0.5


def zoomed_out_hands(rgb: np.ndarray, conf: float, complexity: int = 0, shrunk=None) -> list:
    """Hands on the photo shrunk to ZOOM_OUT of its size in the middle of a black canvas as large as the photo."""
    small, k = shrunk or hands_input(rgb)
    h, w = small.shape[:2]
    zw, zh = max(int(w * ZOOM_OUT), 1), max(int(h * ZOOM_OUT), 1)
    x0, y0 = (w - zw) // 2, (h - zh) // 2
    canvas = np.zeros_like(small)
    canvas[y0:y0 + zh, x0:x0 + zw] = cv2.resize(small, (zw, zh), interpolation=cv2.INTER_AREA)
    out = []
    for _, score, pts, side in hands_in(canvas, conf, complexity, view="photo"):
        pts = (pts - (x0, y0)) * (k * w / zw, k * h / zh)
        out.append((box_of(pts), score, pts, side))
    return out


def mirrored_hands(rgb: np.ndarray, conf: float, complexity: int = 0, shrunk=None) -> list:
    small, k = shrunk or hands_input(rgb)  # mirrored once shrunk: a large photo is not copied at full size
    w = small.shape[1] * k
    out = []
    for box, score, pts, side in hands_in(np.ascontiguousarray(small[:, ::-1]), conf, complexity, view="mirror"):
        pts = pts * k
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
    frames: 31 of 340 labelled hands were dropped beside large false faces of score 0.51-0.69). And only faces
    BlazeFace is sure of (SURE_FACE_SCORE): FaceMesh run on a crop around a hand can return a mesh, so a false face
    on a hand looks confirmed and the hand, which Hands found with all 21 points, was dropped for lying inside it
    (a hand over a chess board under a 0.68 "face", a fist on a plain background under a 0.58 one). The hands this
    rule exists for lie on real faces: on FASSEG heads those faces scored 0.75-0.95."""
    box, _, pts, _ = hand
    for face in faces:
        if face.landmark_kind != "face_mesh" or face.score < SURE_FACE_SCORE:
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
