"""The offline masks of a clip: a tracked face or hand is refined on a keyframe, and in the frames after it its
refined mask is moved with its landmarks for as long as they move as one rigid piece.

Why: refining every instance on every frame (GrabCut, the hands' person silhouettes) cost more than MediaPipe's
own tracking did (bench.video: ~7 ms a face and ~6 ms a hand a frame, beside ~14 ms of raw MediaPipe), and from one
frame to the next a face or a hand mostly just moves: the camera pans or zooms, a head turns a little, a hand is
carried. The landmarks say whether that is all that happened: the least-squares similarity (shift, turn, scale)
from the keyframe's landmarks to this frame's leaves a residual, relative to the instance's size, that is MediaPipe's
jitter when the instance moved rigidly and larger when fingers bent, the mouth opened or the head turned away. A
mask is moved, not refined, only while that residual is small, its neighbours kept their place around it, the
frame's border cut none of it at the keyframe, and the keyframe is recent; the landmarks' own evidence (a hand's
bones, its wrist line, a face's features) is applied to the moved mask as refinement would apply it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..backends.base import Backend, Candidates
from ..backends.landmarks import LandmarksBackend

# The residual of the similarity fit (RMS over the landmarks, share of the instance's size) up to which an instance
# counts as moved rigidly. On the bench.video pan clip (rigid by construction) MediaPipe's jitter alone leaves the
# faces' meshes under 0.015 and 130 of 170 hand fits under 0.01. On the ASL example (a signer turning her head,
# fingers moving) faces moved at 0.01-0.03 agreed with their per-frame refinement at IoU 0.82-0.93, so 0.03 lost
# there (mean IoU against per-frame masks, face / hand: 0.944 / 0.969 at 0.03, 0.967 / 0.999 at 0.01).
RIGID_RESIDUAL = 0.01
MAX_SCALE_CHANGE = 0.15  # |log scale| since the keyframe past which the moved mask is refined afresh
# A keyframe refines an instance at least this often (frames): the clip's light, background and the border
# between instances drift even when the landmarks do not. At most one instance a frame is refreshed for its age
# (the oldest), so keyframes spread over the frames rather than arriving together.
KEY_EVERY = 8
NEIGHBOUR_SHIFT = 0.1  # a neighbour (instance touching this one's window) moved this share of its size against it
BORDER_SLACK = 2.0  # pixels: a keyframe mask cut by the frame's border is moved only while that cut stays outside


@dataclass
class _Key:
    """An instance's keyframe: its landmarks, its refined mask (a crop of it) and the neighbours around it."""

    landmarks: np.ndarray
    landmark_kind: str
    mask: np.ndarray  # uint8 0/255, the refined mask's bounding rectangle
    origin: tuple  # (x0, y0) of `mask` in the frame
    shape: tuple  # the frame's (h, w)
    cut_points: np.ndarray  # mask pixels (x + iy) on the frame's border at the keyframe (where the frame cut it)
    neighbours: dict  # {instance key: landmark centre} of the instances touching its window
    age: int = 0


class ReusedRefinement(Backend):
    """The offline (`landmarks`) backend of one clip, keeping each tracked instance's keyframe mask. Not shared:
    one per `VideoSegmenter`. Counts `refined` and `moved` masks (tests read them)."""

    name = "landmarks"

    def __init__(self, key_every: int | None = None):
        self.key_every = int(KEY_EVERY if key_every is None else key_every)
        self.keys: dict = {}
        self.refined = self.moved = 0

    def propose(self, image: np.ndarray, prompts: list, refine: bool = True, **_) -> Candidates:
        if not refine:
            return Candidates(per_prompt=[[p.prior] for p in prompts], trusted=True)
        ids = [_instance_key(p) for p in prompts]
        neighbours = [_neighbours(p, prompts, ids) for p in prompts]
        for k in self.keys.values():
            k.age += 1
        masks = [self._moved(image, p, i, n) if i is not None else None
                 for p, i, n in zip(prompts, ids, neighbours)]
        self._refresh_oldest(ids, masks)
        todo = [j for j, m in enumerate(masks) if m is None]
        fresh = LandmarksBackend().propose(image, [prompts[j] for j in todo]).per_prompt if todo else []
        for j, (mask,) in zip(todo, fresh):
            masks[j] = mask
            if ids[j] is not None:
                self._keep(ids[j], prompts[j], mask, image.shape, neighbours[j])
        self.refined += len(todo)
        self.moved += len(prompts) - len(todo)
        self.keys = {i: k for i, k in self.keys.items() if i in ids}  # ended tracks leave no key behind
        return Candidates(per_prompt=[[m] for m in masks], trusted=True)

    def _refresh_oldest(self, ids, masks) -> None:
        """The oldest moved mask past KEY_EVERY frames is refined again on this frame (one a frame)."""
        due = [j for j, m in enumerate(masks) if m is not None and self.keys[ids[j]].age >= self.key_every]
        if due:
            masks[max(due, key=lambda j: self.keys[ids[j]].age)] = None

    def _moved(self, image: np.ndarray, prompt, ident, neighbours: dict):
        """The keyframe's mask moved to this frame, or None when the instance must be refined."""
        key = self.keys.get(ident)
        det = prompt.detection
        if key is None or det.source == "carried" or _has_visitor_points(prompt) or \
                key.landmark_kind != det.landmark_kind or \
                key.shape != image.shape[:2] or len(key.landmarks) != len(det.landmarks):
            return None
        size = _size(det.landmarks)
        z, t, residual = similarity(key.landmarks, det.landmarks)
        if residual > RIGID_RESIDUAL * size or abs(np.log(max(abs(z), 1e-6))) > MAX_SCALE_CHANGE:
            return None
        if set(neighbours) != set(key.neighbours) or any(
                abs(neighbours[n] - (z * key.neighbours[n] + t)) > NEIGHBOUR_SHIFT * size for n in neighbours):
            return None
        if len(key.cut_points) and _inside(z * key.cut_points + t, image.shape, BORDER_SLACK):
            return None  # the frame's border cut the keyframe's mask, and that cut would now show
        mask = _warp(key, z, t, image.shape[:2])
        if prompt.sure is not None:
            mask |= prompt.sure
        if prompt.limit is not None:
            mask &= prompt.limit
        return mask

    def _keep(self, ident, prompt, mask: np.ndarray, shape, neighbours: dict) -> None:
        """A fresh refinement becomes the instance's keyframe (not one shaped by a visitor's points: the landmarks
        alone could not say when it stops fitting)."""
        byte_mask = mask.astype(np.uint8)
        x, y, w, h = cv2.boundingRect(byte_mask)
        if w == 0 or h == 0 or _has_visitor_points(prompt):
            self.keys.pop(ident, None)
            return
        H, W = shape[:2]
        edge = [(xx, 0) for xx in np.flatnonzero(mask[0])] + [(xx, H - 1) for xx in np.flatnonzero(mask[H - 1])] + \
            [(0, yy) for yy in np.flatnonzero(mask[:, 0])] + [(W - 1, yy) for yy in np.flatnonzero(mask[:, W - 1])]
        cut = np.array([complex(px, py) for px, py in edge], np.complex128)
        self.keys[ident] = _Key(_complex(prompt.detection.landmarks), prompt.detection.landmark_kind,
                                byte_mask[y:y + h, x:x + w] * 255, (x, y), (H, W), cut, neighbours)


def similarity(a, b) -> tuple:
    """(z, t, rms residual): the least-squares similarity b ~ z * a + t of two point sets (complex numbers, or
    (N, 2) arrays): z holds scale and turn, t the shift."""
    a, b = _complex(a), _complex(b)
    ma, mb = a.mean(), b.mean()
    da, db = a - ma, b - mb
    z = complex(np.vdot(da, db) / max(float(np.vdot(da, da).real), 1e-9))
    t = mb - z * ma
    return z, t, float(np.sqrt(np.mean(np.abs(z * a + t - b) ** 2)))


def _warp(key: _Key, z: complex, t: complex, shape) -> np.ndarray:
    """The keyframe's mask under p -> z p + t, as a bool mask of `shape` (bilinear, then halved: smooth borders)."""
    H, W = shape
    h, w = key.mask.shape
    x0, y0 = key.origin
    corners = z * (np.array([0, w, w * 1j, w + h * 1j]) + complex(x0, y0)) + t
    dx0, dy0 = max(int(np.floor(corners.real.min())) - 1, 0), max(int(np.floor(corners.imag.min())) - 1, 0)
    dx1, dy1 = min(int(np.ceil(corners.real.max())) + 2, W), min(int(np.ceil(corners.imag.max())) + 2, H)
    out = np.zeros((H, W), bool)
    if dx1 <= dx0 or dy1 <= dy0:
        return out
    shift = z * complex(x0, y0) + t - complex(dx0, dy0)
    m = np.array([[z.real, -z.imag, shift.real], [z.imag, z.real, shift.imag]], np.float64)
    out[dy0:dy1, dx0:dx1] = cv2.warpAffine(key.mask, m, (dx1 - dx0, dy1 - dy0), flags=cv2.INTER_LINEAR) > 127
    return out


def _instance_key(prompt):
    det = prompt.detection
    return None if det.track_id is None else (det.kind, det.track_id)


def _neighbours(prompt, prompts: list, ids: list) -> dict:
    """{instance key: landmark centre} of the other tracked instances whose box meets this one's window."""
    x0, y0, x1, y1 = prompt.expanded_box
    out = {}
    for other, ident in zip(prompts, ids):
        bx0, by0, bx1, by1 = other.detection.box
        if other is not prompt and ident is not None and bx0 < x1 and bx1 > x0 and by0 < y1 and by1 > y0:
            out[ident] = _complex(other.detection.landmarks).mean()
    return out


def _has_visitor_points(prompt) -> bool:
    return bool(len(prompt.add_points) or len(prompt.cut_points))


def _inside(points: np.ndarray, shape, slack: float) -> bool:
    """Whether any point lies more than `slack` pixels inside the frame's border."""
    H, W = shape[:2]
    x, y = points.real, points.imag
    return bool(np.any((x > slack) & (x < W - 1 - slack) & (y > slack) & (y < H - 1 - slack)))


def _complex(pts) -> np.ndarray:
    pts = np.asarray(pts)
    return pts if np.iscomplexobj(pts) else pts[:, 0] + 1j * pts[:, 1]


def _size(pts: np.ndarray) -> float:
    """sqrt of the landmarks' box area: the scale their residual is judged against."""
    w, h = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    return float(max(np.sqrt(max(w, 1.0) * max(h, 1.0)), 8.0))
