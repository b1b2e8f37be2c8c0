"""Find faces and hands with MediaPipe's bundled `mp.solutions` models (mediapipe 0.10.21).

`detect(rgb, options)` is the one entry point: faces (`faces.py`) and hands (`hands.py`) run on both cores, on a
bounded set of graphs (`graphs.py`), and come back as `Detection`s with landmarks in input pixels.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .faces import detect_faces, face_detection, faces_from_pose
from .geometry import box_iou
from .hands import hand_detections, hands_in, implausible_hand, lower_hands, merge_hands, mirrored_hands

__all__ = ["DetectOptions", "detect", "warm_up", "box_iou"]


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
    face_tiles: bool = True  # large photos: also look for small faces on a 3x3 grid of overlapping half-size tiles


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="detect")


def warm_up(options: DetectOptions = DetectOptions()) -> None:
    """Create the graphs and run them once, so the first user request is not the slow one."""
    detect(np.full((256, 256, 3), 127, np.uint8), options)


def detect(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list:
    """All faces and hands in the photo, each with landmarks in input pixels."""
    conf, cx = options.min_confidence, options.hand_complexity
    # Faces and the hand views are independent graphs whose C++ work releases the GIL: run them on both cores.
    faces_future = _POOL.submit(detect_faces, rgb, conf, options.max_faces, options.face_tiles)
    mirrored = _POOL.submit(mirrored_hands, rgb, conf, cx) if options.mirror_hands else None
    found = hands_in(rgb, conf, cx)
    if found and options.lower_view:  # hands in the photo: look again for the ones the first view missed
        found = merge_hands(found, lower_hands(rgb, conf, cx))
    if mirrored is not None:
        found = merge_hands(found, mirrored.result())
    faces = faces_future.result()
    found = [h for h in found if not implausible_hand(h, faces)]
    hands = hand_detections(found, options.max_hands)
    if not faces and not hands and options.profile_faces:
        faces = [face_detection(rgb, f) for f in faces_from_pose(rgb)]
    return faces + hands
