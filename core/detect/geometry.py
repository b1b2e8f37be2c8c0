"""Box arithmetic, crops, mask bounds and hand size, shared by the detectors and by what reads their results."""
from __future__ import annotations

import numpy as np


def box_intersection(a, b) -> float:
    """The area two (x0, y0, x1, y1) boxes share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_overlap(a, b) -> float:
    """The area two boxes share over the smaller one's area (a small box inside a large one: 1)."""
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return box_intersection(a, b) / smaller if smaller > 0 else 0.0


def box_iou(a, b) -> float:
    inter = box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mask_bounds(mask: np.ndarray):
    """(x0, y0, x1, y1) of the mask's True pixels (x1, y1 exclusive), or None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def hand_scale(pts: np.ndarray) -> float:
    """A size for the hand that does not depend on finger pose: palm width and palm length."""
    palm_w = np.linalg.norm(pts[5] - pts[17])
    palm_l = np.linalg.norm(pts[0] - pts[9])
    return float(max(palm_w, 0.6 * palm_l, 1.0))


def box_of(points: np.ndarray) -> tuple:
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


def square_crop(rgb: np.ndarray, centre, side: float):
    """(crop, x0, y0): a square of `side` pixels centred on `centre`, zero-padded where it leaves the photo;
    crop is None when the square misses the photo entirely."""
    cx, cy = centre
    s = max(int(round(side)), 16)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None, x0, y0
    crop = np.zeros((s, s, 3), np.uint8)
    crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return crop, x0, y0


def scaled_box_crop(rgb: np.ndarray, box, scale: float, side: int):
    """(crop, x0, y0, factor): the square `box_crop` would cut, resized to `side` pixels (zero-padded where it
    leaves the photo) without first copying it at full size: a crop pixel (u, v) is photo pixel
    (x0 + u / factor, y0 + v / factor). crop is None when the square misses the photo."""
    import cv2

    full = max(box[2] - box[0], box[3] - box[1]) * scale
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = cx - full / 2, cy - full / 2
    h, w = rgb.shape[:2]
    sx0, sy0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    sx1, sy1 = min(int(np.ceil(x0 + full)), w), min(int(np.ceil(y0 + full)), h)
    if sx1 <= sx0 or sy1 <= sy0 or full < 1:
        return None, x0, y0, 1.0
    f = side / full
    part = rgb[sy0:sy1, sx0:sx1]
    pw, ph = max(int(round((sx1 - sx0) * f)), 1), max(int(round((sy1 - sy0) * f)), 1)
    part = cv2.resize(part, (pw, ph), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    crop = np.zeros((side, side, 3), np.uint8)
    ox, oy = max(int(round((sx0 - x0) * f)), 0), max(int(round((sy0 - y0) * f)), 0)
    pw, ph = min(pw, side - ox), min(ph, side - oy)
    crop[oy:oy + ph, ox:ox + pw] = part[:ph, :pw]
    return crop, x0, y0, f


def box_crop(rgb: np.ndarray, box, scale: float):
    """A square crop around `box`, `scale` times its longer side (see `square_crop`)."""
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return square_crop(rgb, centre, max(box[2] - box[0], box[3] - box[1]) * scale)
