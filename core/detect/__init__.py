"""Find faces and hands with MediaPipe's bundled `mp.solutions` models (mediapipe 0.10.21) and CenterFace.

`detect(rgb, options)` is the one entry point. It walks the plan (`plan.py`: a table of passes, each with the
condition that lets it run): faces (`faces.py`, BlazeFace with CenterFace's second opinion from `centerface.py`)
and hands (`hands.py`, `proposals.py`) run on both cores, on a bounded set of graphs (`graphs.py`), and come back
as `Detection`s with landmarks in input pixels; a `Trace` (`trace.py`) records which passes ran.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .faces import FaceSearch
from .geometry import box_iou, box_overlap
from .hands import hand_detections
from .plan import PLAN, Search, walk
from .proposals import look_at_hint
from .trace import Trace
from ..types import Detection

__all__ = ["DetectOptions", "PLAN", "Trace", "detect", "detect_hints", "warm_up", "box_iou"]


@dataclass(frozen=True)
class DetectOptions:
    min_confidence: float = 0.5  # face and hand detection confidence
    max_hands: int = 6
    max_faces: int = 20
    profile_faces: bool = True  # when no face and no hand is found, look for a head with the Pose model
    mirror_hands: bool = True  # also look for hands on the mirrored photo (merged with the photo's hands)
    lower_view: bool = True  # when the photo shows hands, look for more on its lower part
    # Hands model: the lite palm detector + landmarks (0) found more hands on the shared photos than the full
    # one (1) (26/30 vs 23/30 ground-truth hands at confidence 0.5) and costs less per found hand.
    hand_complexity: int = 0
    face_tiles: bool = True  # group photos over 800 px: BlazeFace also looks for small faces on tiles
    second_look: bool = True  # look again for hands where this photo's skin colour says one may be


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="detect")


def warm_up(options: DetectOptions = DetectOptions()) -> None:
    """Create the graphs and run them once, so the first user request is not the slow one."""
    detect(np.full((256, 256, 3), 127, np.uint8), options)


def detect(rgb: np.ndarray, options: DetectOptions = DetectOptions(), trace: Trace | None = None) -> list:
    """All faces and hands in the photo, each with landmarks in input pixels: the plan (`plan.PLAN`) walked on
    this photo. `trace`, when given, records which passes ran, their cost and what each found."""
    s = walk(Search(rgb, options, _POOL, FaceSearch(rgb, options.min_confidence, options.max_faces,
                                                    options.face_tiles)), trace)
    return s.faces + hand_detections(s.hands, options.max_hands)


def detect_hints(rgb: np.ndarray, detections: list, hints, options: DetectOptions = DetectOptions()) -> tuple:
    """(detections plus what was found at the hints, one message per hint where nothing was found).

    A hint is a point (x, y) in the photo's pixels where a user says a face or hand was missed. A hint inside an
    instance already found is satisfied; otherwise faces and hands are looked for in crops of growing size around
    it. Nothing is invented: a hint where nothing is found only adds a message."""
    out, messages = list(detections), []
    h, w = rgb.shape[:2]
    for x, y in hints:
        if not (0 <= x < w and 0 <= y < h):
            messages.append(f"The point ({x:.0f}, {y:.0f}) lies outside the {w}x{h} photo; it was ignored.")
            continue
        if any(_inside(d, x, y) for d in out):
            continue
        kind, found = look_at_hint(rgb, (x, y), options.min_confidence, options.hand_complexity)
        if kind == "hand":
            found = hand_detections([found], 1)[0]
        if kind is None:
            messages.append(f"No face or hand was found near the point ({x:.0f}, {y:.0f}).")
        elif any(d.kind == kind and _same_place(d.box, found.box) for d in out):
            # A click just beside a found face or hand (its hair, its wrist) finds that one again in the crops.
            messages.append(f"The point ({x:.0f}, {y:.0f}) is next to a {kind} already found.")
        else:
            out.append(found)
    return out, messages


def _same_place(a, b) -> bool:
    """Two boxes of one face or hand: they overlap (IoU 0.3), or the smaller lies mostly inside the larger (a mesh
    box inside BlazeFace's)."""
    return box_iou(a, b) >= 0.3 or box_overlap(a, b) >= 0.6


def _inside(det: Detection, x: float, y: float) -> bool:
    x0, y0, x1, y1 = det.box
    return x0 <= x <= x1 and y0 <= y <= y1
