"""The data that flows through the pipeline: one Detection per face/hand, one Instance per mask, one Result.

Like supervision's `Detections`, a single small type travels from detection to export; drawing and exporting
read it and never reach back into detection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

@dataclass
class Detection:
    """What MediaPipe (or a recall helper) found: a face or a hand with its landmarks, before any mask."""

    kind: str  # "face" | "hand"
    box: tuple  # (x0, y0, x1, y1) float pixels, tight around the landmarks/detection
    score: float
    landmarks: np.ndarray  # (N, 2) float pixels (x, y); 468 face-mesh points, 21 hand points, or a few keypoints
    landmark_kind: str  # "face_mesh" | "face_keypoints" | "pose_keypoints" | "hand_21"
    source: str  # which detector found it, e.g. "face_detection", "pose", "hands"
    handedness: Optional[str] = None  # "left" | "right" for hands
    track_id: Optional[int] = None  # video: the instance's number, stable while it is tracked (label kind-N)


@dataclass
class Prompt:
    """Everything a backend needs for one instance, built before any backend runs."""

    index: int
    detection: Detection
    expanded_box: tuple  # int pixels, clipped to the image
    prior: np.ndarray  # bool HxW landmark-shaped mask (the offline answer and the judge of candidates)
    positive_points: np.ndarray  # (K, 2) pixels inside the instance
    negative_points: np.ndarray  # (M, 2) pixels on neighbouring instances
    # Where the mask may lie at all (bool HxW), or None for anywhere: a hand's mask ends across its wrist.
    limit: Optional[np.ndarray] = None
    # Certain foreground drawn from the landmarks (bool HxW), or None: a hand's bones, a face's features. Every backend
    # keeps it (selection repairs a model mask that misses it).
    sure: Optional[np.ndarray] = None
    # A visitor's points on this instance (`core.masks.clicks`): (x, y) points, the discs they make certain
    # (foreground for added points, background for cut ones), and where an added point lets the mask grow.
    add_points: tuple = ()
    cut_points: tuple = ()
    added: Optional[np.ndarray] = None
    cut: Optional[np.ndarray] = None
    maybe: Optional[np.ndarray] = None
    background: Optional[np.ndarray] = None


@dataclass
class Instance:
    """One labelled mask in the result."""

    kind: str
    label: str  # "face-1", "hand-2 (left)"
    box: tuple  # (x0, y0, x1, y1) int pixels of the input image
    score: float
    mask: np.ndarray  # bool HxW of the (loaded) input image
    landmarks: np.ndarray
    landmark_kind: str
    handedness: Optional[str]
    backend: str  # which backend produced this mask ("landmarks" when a backend fell back to the prior)
    source: str
    note: str = ""
    track_id: Optional[int] = None  # video: stable number of this face or hand through the clip

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def to_dict(self) -> dict:
        """JSON-ready summary (no mask pixels)."""
        return {
            "label": self.label,
            "kind": self.kind,
            "box": [int(v) for v in self.box],
            "score": round(float(self.score), 4),
            "handedness": self.handedness,
            "area": self.area,
            "backend": self.backend,
            "detector": self.source,
            "landmarks": self.landmark_kind,
            "note": self.note,
            **({"track_id": self.track_id} if self.track_id is not None else {}),
        }


@dataclass
class Result:
    """What `core.segment` returns."""

    image: np.ndarray  # the RGB uint8 photo as loaded (EXIF-rotated)
    instances: list
    backend: str  # the backend that actually ran
    timings: dict  # stage -> milliseconds
    annotated: Optional[np.ndarray] = None  # RGB uint8 overlay
    messages: list = field(default_factory=list)  # user-facing notes, e.g. why a backend fell back
    # Backends "auto" passed over because they are not set up here (name -> why). Their notes are also in
    # `messages`; a Space shows them to its owner (log, README), not to visitors, who cannot act on them.
    skipped: dict = field(default_factory=dict)
    frame_index: Optional[int] = None  # video: 0-based frame number
    time_s: Optional[float] = None  # video: the frame's time stamp in seconds
    # Which detection passes ran (`core/detect/plan.py`), in order: name -> {"ms", "calls": {model: n}, "found": n}
    passes: dict = field(default_factory=dict)

    @property
    def faces(self) -> list:
        return [i for i in self.instances if i.kind == "face"]

    @property
    def hands(self) -> list:
        return [i for i in self.instances if i.kind == "hand"]

    def found(self) -> str:
        """What was found: '1 face and 2 hands', or 'No face or hand found'."""
        nf, nh = len(self.faces), len(self.hands)
        if not self.instances:
            return "No face or hand found"
        return f"{nf} face{'s' if nf != 1 else ''} and {nh} hand{'s' if nh != 1 else ''}"

    def headline(self) -> str:
        """What was found, by which backend, how fast: '1 face and 2 hands · backend: landmarks · 95 ms'."""
        return f"{self.found()} · backend: {self.backend} · {self.timings.get('total', 0):.0f} ms"

    def summary(self) -> str:
        """The headline and, after it, why a backend was not used or fell back (one line, for logs and CLIs)."""
        return " ".join([self.headline()] + list(self.messages))

    def to_dict(self) -> dict:
        h, w = self.image.shape[:2]
        return {
            "width": int(w),
            "height": int(h),
            "backend": self.backend,
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings.items()},
            "messages": list(self.messages),
            "instances": [i.to_dict() for i in self.instances],
        }


@dataclass
class Candidates:
    """What a mask backend proposes for a photo's prompts; `core.masks.selection` picks each instance's mask."""

    per_prompt: list  # per prompt: list of bool HxW masks proposed for that instance
    shared: list = field(default_factory=list)  # bool HxW masks any instance may take (may be split pieces)
    scores: list = None  # optional per-prompt model scores, aligned with per_prompt
    trusted: bool = False  # True when per_prompt[i][0] is already the final answer (no selection needed)
