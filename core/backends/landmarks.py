"""The embedded offline default: masks drawn from MediaPipe landmarks, refined with image evidence.

Needs no network, no token and no weights beyond what the mediapipe wheel ships. A hand is refined with three
kinds of evidence: its landmarks (the bones are certain foreground), a person silhouette (certain background where
the hand meets what is not a person) and the photo's colours (everything in between).
"""
from __future__ import annotations

import numpy as np

from ..detect.geometry import hand_scale
from ..masks.refine import refine_with_grabcut
from ..masks.silhouette import certain_background
from ..masks.skeleton import skeleton_points
from .base import Backend, Candidates

# Uncertain band (fraction of the instance's size) that refinement may move the border within: (inside, outside).
# Face: measured on CelebAMask (IoU) and FASSEG (precision, feature coverage); (0.12, 0.04) trims hair and
# background at profile silhouettes without losing the forehead the prior adds.
REFINE_BAND = {"face": (0.12, 0.04), "hand": (0.12, 0.10)}
# GrabCut's working resolution (longer side of the downscaled crop). Fingers are thin: at 64 px a finger of a
# hand seen at arm's length is ~2 px wide. Hands at 96 px, measured: hand_over_face 0.675 -> 0.701, egohands +0.004.
WORK_SIDE = {"face": 64, "hand": 96}
# A finger is about a quarter of the palm's width (hand_scale): the thinnest part a hand's mask must keep.
FINGER = 0.25
class LandmarksBackend(Backend):
    name = "landmarks"

    def propose(self, image: np.ndarray, prompts: list, refine: bool = True, **_) -> Candidates:
        masks = []
        for p in prompts:
            det = p.detection
            if det.kind == "hand":
                mask = refine_hand(image, p) if refine else p.prior
            else:
                mask = p.prior
                if refine:
                    inner, outer = REFINE_BAND["face"]
                    mask = refine_with_grabcut(image, p.prior, p.expanded_box, inner, outer,
                                               work_side=WORK_SIDE["face"], limit=p.limit)
            masks.append([mask])
        return Candidates(per_prompt=masks, trusted=True)


def refine_hand(image: np.ndarray, prompt) -> np.ndarray:
    """A hand's mask: the prior refined by colour, with its bones kept and the silhouette's background removed."""
    pts = prompt.detection.landmarks
    size = hand_scale(pts)
    background = certain_background(image, prompt.detection.box, skeleton_points(pts, 4))
    inner, outer = REFINE_BAND["hand"]
    return refine_with_grabcut(image, prompt.prior, prompt.expanded_box, inner, outer, work_side=WORK_SIDE["hand"],
                               limit=prompt.limit, sure=prompt.sure, background=background, detail=FINGER * size)
