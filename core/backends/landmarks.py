"""The embedded offline default: masks drawn from MediaPipe landmarks, refined with image evidence.

Needs no network, no token and no weights beyond what the mediapipe wheel ships. Faces: `core.masks.faces`. A hand
is refined with three kinds of evidence: its landmarks (the bones are certain foreground), a person silhouette
(certain background where the hand meets what is not a person) and the photo's colours (everything in between).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..detect.geometry import hand_scale
from ..masks.faces import refine_face
from ..masks.refine import refine_with_grabcut
from ..masks.silhouette import certain_background
from ..masks.skeleton import skeleton_points
from ..masks.webbing import close_rings, finger_gaps
from .base import Backend, Candidates

# A hand's uncertain band (fraction of its size) that refinement may move the border within: (inside, outside).
HAND_BAND = (0.12, 0.10)
# GrabCut's working resolution (longer side of the downscaled crop); hands at 96 px, measured: hand_over_face
# 0.675 -> 0.701, egohands +0.004 over 64 px. A finger is kept several working pixels wide whatever the crop's size.
HAND_WORK_SIDE = 96
# A finger is about a quarter of the palm's width (hand_scale): the thinnest part a hand's mask must keep.
FINGER = 0.25


class LandmarksBackend(Backend):
    name = "landmarks"

    def propose(self, image: np.ndarray, prompts: list, refine: bool = True, **_) -> Candidates:
        if not refine:
            return Candidates(per_prompt=[[p.prior] for p in prompts], trusted=True)
        # Instances are refined independently, and GrabCut and the graphs release the GIL: both cores share them.
        if len(prompts) > 1:
            masks = list(_POOL.map(lambda p: refine_one(image, p), prompts))
        else:
            masks = [refine_one(image, p) for p in prompts]
        return Candidates(per_prompt=[[m] for m in masks], trusted=True)


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="refine")


def refine_one(image: np.ndarray, prompt) -> np.ndarray:
    return refine_hand(image, prompt) if prompt.detection.kind == "hand" else refine_face(image, prompt)


def refine_hand(image: np.ndarray, prompt) -> np.ndarray:
    """A hand's mask: the prior refined by colour, with its bones kept and the silhouette's background removed."""
    pts = prompt.detection.landmarks
    size = hand_scale(pts)
    background = certain_background(image, prompt.detection.box, skeleton_points(pts, 4))
    if background is not None and prompt.maybe is not None:  # a visitor's added point outranks the silhouette
        background = background & ~prompt.maybe
    if prompt.background is not None:  # where a visitor cut
        background = prompt.background if background is None else background | prompt.background
    inner, outer = HAND_BAND
    # Between spread fingers: background where the photo shows it (the hand's bones against what lies beyond the
    # band the refinement may reach).
    gaps = None
    if prompt.sure is not None:
        gaps = finger_gaps(image, pts, prompt.expanded_box, prompt.sure, prompt.prior, outer * size)
    if gaps is not None and prompt.maybe is not None:
        gaps &= ~prompt.maybe
    if gaps is not None:
        if background is None:
            background = gaps
        else:  # the gaps lie in the refinement's window: merge them there (no pass over a large photo)
            if background is prompt.background:
                background = background.copy()
            x0, y0, x1, y1 = prompt.expanded_box
            background[y0:y1, x0:x1] |= gaps[y0:y1, x0:x1]
    mask = refine_with_grabcut(image, prompt.prior, prompt.expanded_box, inner, outer, work_side=HAND_WORK_SIDE,
                               limit=prompt.limit, sure=prompt.sure, background=background, detail=FINGER * size,
                               maybe=prompt.maybe, keep=prompt.added)
    return mask if gaps is None else close_rings(mask, gaps)
