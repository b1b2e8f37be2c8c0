"""The embedded offline default: masks drawn from MediaPipe landmarks, refined with image evidence.

Needs no network, no token and no weights beyond what the mediapipe wheel ships.
"""
from __future__ import annotations

import numpy as np

from ..masks.faces import refine_face
from ..masks.refine import refine_with_grabcut
from .base import Backend, Candidates

# Uncertain band (fraction of the instance's size) that refinement may move the border within: (inside, outside).
# Face: measured on CelebAMask (IoU) and FASSEG (precision, feature coverage); (0.12, 0.04) trims hair and
# background at profile silhouettes without losing the forehead the prior adds.
REFINE_BAND = {"face": (0.12, 0.04), "hand": (0.12, 0.10)}
# GrabCut's working resolution (longer side of the downscaled crop). Fingers are thin: at 64 px a finger of a
# hand seen at arm's length is ~2 px wide. Hands at 96 px, measured: hand_over_face 0.675 -> 0.701, egohands +0.004.
WORK_SIDE = {"face": 64, "hand": 96}


class LandmarksBackend(Backend):
    name = "landmarks"

    def propose(self, image: np.ndarray, prompts: list, refine: bool = True, **_) -> Candidates:
        masks = []
        for p in prompts:
            mask = p.prior
            if refine and p.detection.kind == "face":
                mask = refine_face(image, p)
            elif refine:
                inner, outer = REFINE_BAND[p.detection.kind]
                kind = p.detection.kind
                mask = refine_with_grabcut(image, p.prior, p.expanded_box, inner, outer,
                                           work_side=WORK_SIDE.get(kind, 64), limit=p.limit)
            masks.append([mask])
        return Candidates(per_prompt=masks, trusted=True)
