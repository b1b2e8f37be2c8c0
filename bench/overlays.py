"""Pictures to check bench.quality's figures by eye: every mask, the labelled outline, and each hand's bones.

A table says a hand kept 0.91 of its skeleton; the overlay shows which finger was cut. Each predicted mask is
filled lightly in its label's colour with a solid outline, the labelled outline (when there is one) is white, and
the points `skeleton_coverage` samples along each hand's bones are dots: green inside that hand's mask, red
outside. Small photos are enlarged first (nearest neighbour, so no mask edge is blurred) until their longer side
is at least VIEW_MIN_SIDE, or dots and outlines would cover the fingers they mark.

    from bench.overlays import overlay, write_cutouts
    cv2.imwrite(path, overlay(rgb, result.instances, truth_outline_mask)[:, :, ::-1])
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import cv2
import numpy as np

from core.cutouts import cutout
from core.masks.skeleton import skeleton_points
from core.render import draw_tags, label_colour, label_tags

from .mask_metrics import boundary

FILL = 0.35
OUTLINE_PX = 2
TRUTH_PX = 2
VIEW_MIN_SIDE = 900  # smaller photos are enlarged by a whole factor until their longer side reaches this
DOT_SHARE = 450  # a bone point's dot radius is the picture's longer side over this (2-4 px)
INSIDE, OUTSIDE, WHITE = (0, 220, 0), (255, 30, 30), (255, 255, 255)


def hand_landmarks(instance):
    """The instance's 21 hand landmarks, or None when it is not a hand or its landmarks are of another kind."""
    if instance.kind != "hand" or instance.landmark_kind != "hand_21":
        return None
    return np.asarray(instance.landmarks, float)


def overlay(rgb: np.ndarray, instances: list, truth=None) -> np.ndarray:
    """RGB uint8 picture of `instances` (anything with kind, label, mask, landmarks, landmark_kind) on the photo,
    with the outline of the bool mask `truth` in white when given."""
    k = max(1, -(-VIEW_MIN_SIDE // max(rgb.shape[:2])))  # whole enlargement factor
    out = _enlarge(rgb, k).copy()
    masks = [_enlarge(inst.mask, k) for inst in instances]
    for inst, m in zip(instances, masks):
        tint = np.array(label_colour(inst.label), np.float32)
        out[m] = (out[m] * (1 - FILL) + tint * FILL).astype(np.uint8)
    for inst, m in zip(instances, masks):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, label_colour(inst.label), OUTLINE_PX)
    if truth is not None:
        out[_thicken(boundary(_enlarge(truth, k)), TRUTH_PX)] = WHITE
    radius = max(1, round(max(out.shape[:2]) / DOT_SHARE))
    for inst, m in zip(instances, masks):
        lm = hand_landmarks(inst)
        if lm is None:
            continue
        for x, y in skeleton_points(lm * k):
            xi, yi = int(np.floor(x)), int(np.floor(y))
            inside = 0 <= xi < m.shape[1] and 0 <= yi < m.shape[0] and m[yi, xi]
            cv2.circle(out, (xi, yi), radius, INSIDE if inside else OUTSIDE, -1, cv2.LINE_AA)
    # The product's own label layout (core.render), so the overlay shows tags where the app puts them.
    draw_tags(out, label_tags(out.shape, [dataclasses.replace(inst, mask=m, box=tuple(v * k for v in inst.box))
                                          for inst, m in zip(instances, masks)]))
    return out


def write_overlay(path: Path, rgb: np.ndarray, instances: list, truth=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), overlay(rgb, instances, truth)[:, :, ::-1])


def write_cutouts(folder: Path, stem: str, result) -> list:
    """Each instance of `result` as `<stem>__<label>.png` in `folder` (RGBA, transparent off the mask, cropped
    to the mask's box plus core.cutouts' 2 px). Returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for inst in result.instances:
        if not inst.mask.any():
            continue
        rgba = cutout(result, inst, margin=0)
        path = folder / f"{stem}__{file_safe(inst.label)}.png"
        cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        paths.append(path)
    return paths


def file_safe(label: str) -> str:
    """'hand-2 (left)' -> 'hand-2_left': letters, digits, '-' and '_' only."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", label).strip("_") or "instance"


def _enlarge(a: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return a
    return np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def _thicken(outline: np.ndarray, px: int) -> np.ndarray:
    if px <= 1:
        return outline
    return cv2.dilate(outline.astype(np.uint8), np.ones((px, px), np.uint8)).astype(bool)
