"""Turn detections into prompts: expanded boxes, landmark-shaped prior masks, and point prompts.

The prior mask is both the offline answer (refined by the `landmarks` backend) and the judge that
model-based backends' candidate masks are scored against.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.geometry import hand_scale
from ..types import Detection, Prompt
from .faces import face_interior, face_prior
from .skeleton import skeleton_mask


# Face-mesh points well inside the face (nose tip, between the brows, cheeks, chin) used as positive prompts.
FACE_POSITIVE = [4, 168, 50, 280, 200]
HAND_FINGERS = [[0, 1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]]
HAND_PALM = [0, 1, 2, 5, 9, 13, 17]
HAND_POSITIVE = [0, 5, 9, 13, 17, 6, 10, 14, 18, 3]


def expand_box(box, scale: float, width: int, height: int) -> tuple:
    """Scale a box about its centre and clip it to the image (int pixels)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * scale / 2, (box[3] - box[1]) * scale / 2
    x0, y0 = max(0, int(np.floor(cx - hw))), max(0, int(np.floor(cy - hh)))
    x1, y1 = min(width, int(np.ceil(cx + hw))), min(height, int(np.ceil(cy + hh)))
    return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


FINGER_WIDTH = 0.40  # finger thickness as a share of the hand's size (palm width)
WRIST_EXTRA = 0.30  # the palm continues past landmark 0 (the wrist point sits inside the hand's outline)


def hand_prior(det: Detection, shape) -> np.ndarray:
    """Hand-shaped prior: the palm hull, extended past the wrist landmark, plus fingers as thick polylines.
    Widths were measured on the shared photos (finger 0.3 -> 0.4, wrist 0 -> 0.3 raised mean hand IoU)."""
    pts = det.landmarks
    size = hand_scale(pts)
    mask = np.zeros(shape[:2], np.uint8)
    down = pts[0] - pts[9]
    down = down / max(np.linalg.norm(down), 1e-6)
    side = np.array([-down[1], down[0]])
    wrist = pts[0] + WRIST_EXTRA * size * down
    palm = np.vstack([pts[HAND_PALM], wrist + 0.35 * size * side, wrist - 0.35 * size * side])
    cv2.fillPoly(mask, [cv2.convexHull(np.round(palm).astype(np.int32))], 1)
    width = max(int(round(FINGER_WIDTH * size)), 2)
    for chain in HAND_FINGERS:
        line = np.round(pts[chain]).astype(np.int32)
        cv2.polylines(mask, [line], False, 1, thickness=width, lineType=cv2.LINE_8)
        for p in line:
            cv2.circle(mask, (int(p[0]), int(p[1])), width // 2, 1, -1)
    return mask.astype(bool)


# A hand's mask ends across the wrist, this share of the hand's size past landmark 0 (the prior's palm reaches
# WRIST_EXTRA; refinement may grow it by its outer band, 0.10). Without a limit, skin-coloured forearms let the
# mask run up the arm until the refinement window cuts it with a straight, axis-parallel edge (egohands 01).
WRIST_CUT = WRIST_EXTRA + 0.10


def hand_limit(det: Detection, shape) -> np.ndarray:
    """The side of a line across the wrist (perpendicular to the wrist -> middle-finger axis) that holds the hand.

    The line never cuts the hand's own landmarks: in a fist seen from its back the fingers curl back past the
    wrist point along that axis (egohands 11: the line cut 44% of a hand's bones), so it moves past the last one."""
    pts = det.landmarks
    down = pts[0] - pts[9]
    down = down / max(np.linalg.norm(down), 1e-6)
    side = np.array([-down[1], down[0]])
    size = hand_scale(pts)
    reach = max(WRIST_CUT * size, float(((pts - pts[0]) @ down).max()) + BONE_WIDTH * size)
    cut = pts[0] + reach * down
    far = 4.0 * (shape[0] + shape[1])  # a polygon larger than the photo: the half-plane, clipped by fillPoly
    poly = np.array([cut + far * side, cut - far * side, cut - far * side - far * down, cut + far * side - far * down])
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask.astype(bool)


def prior_mask(det: Detection, shape) -> np.ndarray:
    return face_prior(det, shape) if det.kind == "face" else hand_prior(det, shape)


def positive_points(det: Detection) -> np.ndarray:
    if det.kind == "hand":
        return det.landmarks[HAND_POSITIVE]
    if det.landmark_kind == "face_mesh":
        return det.landmarks[FACE_POSITIVE]
    return det.landmarks.mean(0, keepdims=True)


def build_prompts(detections: list, shape, box_scale: float = 1.5) -> list:
    h, w = shape[:2]
    prompts = []
    positives = [positive_points(d) for d in detections]
    for i, det in enumerate(detections):
        ebox = expand_box(det.box, box_scale, w, h)
        neg = [p for j, pts in enumerate(positives) if j != i for p in pts
               if ebox[0] <= p[0] < ebox[2] and ebox[1] <= p[1] < ebox[3]]
        limit = hand_limit(det, shape) if det.kind == "hand" else None
        prompts.append(Prompt(i, det, ebox, prior_mask(det, shape), positives[i],
                              np.array(neg, np.float64).reshape(-1, 2), limit, certain_foreground(det, shape, limit)))
    return prompts


# The bones are drawn this wide (share of hand_scale) as certain foreground: well inside a finger (about 0.25 of
# the palm's width), so a landmark a little off the finger's axis still marks finger, not background.
BONE_WIDTH = 0.10


def certain_foreground(det: Detection, shape, limit: np.ndarray | None = None) -> np.ndarray | None:
    """What the landmarks prove is this instance: a hand's 20 bones (MediaPipe put its joints there), within its
    wrist limit; a face's features (eyes, brows, nose, lips) from its mesh or keypoints."""
    if det.kind != "hand":
        return face_interior(det, shape)
    bones = skeleton_mask(det.landmarks, shape, bone_width(det))
    return bones if limit is None else bones & limit


def bone_width(det: Detection) -> float:
    """How wide a hand's bones are drawn as certain foreground, in pixels."""
    return max(BONE_WIDTH * hand_scale(det.landmarks), 1.0)
