"""A hand's skeleton: its 20 bones from MediaPipe's 21 landmarks, as points and as a drawn mask.

Landmarks are evidence. Where MediaPipe Hands put a finger's joints, there is a finger, so every mask of that
hand must hold the bones between them; `skeleton_coverage` measures how much of them it holds (the share of
points sampled along the bones that lie inside the mask), and `skeleton_mask` draws them for the refinement to
keep as certain foreground.
"""
from __future__ import annotations

import cv2
import numpy as np

# Each finger is a chain from the wrist (landmark 0) to its tip: 5 chains of 4 bones.
FINGER_CHAINS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16), (0, 17, 18, 19, 20))
BONES = tuple((a, b) for chain in FINGER_CHAINS for a, b in zip(chain, chain[1:]))
TIPS = (4, 8, 12, 16, 20)


def skeleton_points(landmarks: np.ndarray, per_bone: int = 10) -> np.ndarray:
    """(20 * per_bone, 2) points evenly spaced along the bones, ends included once per bone."""
    return part_points(landmarks, BONES, per_bone)


def skeleton_coverage(mask: np.ndarray, landmarks: np.ndarray, within: np.ndarray | None = None) -> float | None:
    """Share of the skeleton's points inside `mask`. With `within` (e.g. a labelled hand mask), only points that
    lie in `within` count (bones the label agrees are hand). Points outside the photo do not count; None when
    no point counts."""
    pts = _in_photo(skeleton_points(landmarks), mask.shape)
    if within is not None:
        pts = pts[within[pts[:, 1], pts[:, 0]]]
    if not len(pts):
        return None
    return float(mask[pts[:, 1], pts[:, 0]].mean())


def missing_fingers(mask: np.ndarray, landmarks: np.ndarray, below: float) -> list:
    """The fingers (indices into FINGER_CHAINS) of whose bones past the knuckle `mask` holds less than `below` (the
    palm's bones from the wrist are left out, as a wrist-cut mask may end there)."""
    return [i for i in range(len(FINGER_CHAINS))
            if len(pts := _in_photo(part_points(landmarks, finger_bones(i), 6), mask.shape))
            and mask[pts[:, 1], pts[:, 0]].mean() < below]


def finger_bones(i: int) -> list:
    """The bones of finger `i` past its knuckle."""
    chain = FINGER_CHAINS[i]
    return list(zip(chain[1:], chain[2:]))


def _in_photo(points: np.ndarray, shape) -> np.ndarray:
    """The points as integer pixels (x, y), those outside the photo left out."""
    pts = np.floor(points).astype(int)
    h, w = shape[:2]
    return pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]


def part_points(landmarks: np.ndarray, bones, per_bone: int = 10, trim: float = 0.0) -> np.ndarray:
    """Points evenly spaced along some of the bones (a finger, the palm), `per_bone` each; with `trim`, none in that
    share of a bone next to a fingertip or the wrist, where a landmark may sit on the outline or past it."""
    pts = np.asarray(landmarks, np.float64)
    t = (np.arange(per_bone) + 0.5) / per_bone
    out = []
    for a, b in bones:
        keep = np.ones(per_bone, bool)
        if trim and b in TIPS:
            keep &= t <= 1 - trim
        if trim and a == 0:
            keep &= t >= trim
        out.append(pts[a] + t[keep, None] * (pts[b] - pts[a]))
    return np.concatenate(out, 0)


def skeleton_mask(landmarks: np.ndarray, shape, width: float, bones=BONES) -> np.ndarray:
    """The bones (all 20 unless told) drawn as lines `width` pixels thick, with round joints (bool, photo-sized)."""
    out = np.zeros(shape[:2], np.uint8)
    pts = np.round(np.asarray(landmarks, np.float64) * 4).astype(np.int32)  # 2 fractional bits: sub-pixel lines
    thick = max(int(round(width)), 1)
    for a, b in bones:
        cv2.line(out, tuple(pts[a]), tuple(pts[b]), 1, thick, cv2.LINE_8, shift=2)
    return out.astype(bool)
