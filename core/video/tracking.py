"""Numbers for faces and hands through a clip: each detection is matched to the track it continues, a track
briefly missed is carried on its last landmarks, one lost for a moment takes its number back, and a newcomer gets
the lowest number not yet used."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from ..detect.geometry import box_intersection, box_iou as _iou, box_of as _box_of, box_overlap
from ..types import Detection
from .skin import skin_check

CARRY_FRAMES = 4  # a track missed for up to this many frames is drawn on its carried landmarks
MAX_MATCH_COST = 1.0  # centre distance / instance size above which a detection is not that track (one frame)
MISSED_GATE = 0.5  # ... grown by this much per frame the track has been missed (it may have moved further)
SIDE_PENALTY = 0.35  # added to a hand's matching cost when its handedness disagrees with the track's
TENTATIVE_HITS = 3  # a track seen fewer times than this that is lost gives its number back (a one-off false hit)
REVIVE_FRAMES = 30  # a track lost for up to this many frames takes its number back if it reappears where it was
REVIVE_COST = 1.5  # ... within this many instance sizes of where it was last seen (same side for hands)
DUPLICATE_IOU = 0.5  # two detections of one kind overlapping more than this in one frame are one instance
# A detection that would start a track but lies mostly inside an instance already tracked in this frame (its box
# over the smaller box's area, the share that ends a carried track there) is a second detection of that instance:
# tracking mode reported the ASL example's left hand twice in frame 40, boxes at IoU 0.498 (under DUPLICATE_IOU),
# one inside the other, and the second took a number of its own.
INSIDE_TRACKED = 0.5


@dataclass
class Track:
    number: int
    kind: str
    detection: Detection
    missed: int = 0
    hits: int = 1
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    side_votes: dict = field(default_factory=dict)
    side: Optional[str] = None  # the track's handedness: decided by votes, changed only by a clear majority

    @property
    def size(self) -> float:
        return _size(self.detection.box)

    def vote(self, side: Optional[str], score: float) -> None:
        """MediaPipe's handedness flickers frame to frame; a track's label keeps its side unless the other side
        has collected twice the votes (so a hand whose first frames were misread still gets corrected)."""
        if not side:
            return
        self.side_votes[side] = self.side_votes.get(side, 0.0) + max(score, 0.05)
        if self.side is None:
            self.side = side
        elif side != self.side and self.side_votes[side] > 2 * self.side_votes.get(self.side, 0.0):
            self.side = side

    def predicted(self) -> np.ndarray:
        """Where its landmarks should be in the next frame (carried tracks have been moved frame by frame)."""
        return self.detection.landmarks + self.velocity

    def predicted_box(self) -> tuple:
        """Where its box should be in the next frame."""
        vx, vy = self.velocity
        x0, y0, x1, y1 = self.detection.box
        return x0 + vx, y0 + vy, x1 + vx, y1 + vy


class Tracker:
    """Numbers faces and hands through a clip. `update(detections, shape)` returns the frame's detections with
    `track_id` set (and the track's majority handedness), plus carried detections of tracks briefly missed."""

    def __init__(self, carry_frames: int = CARRY_FRAMES):
        self.carry_frames = int(carry_frames)
        self.tracks: list = []
        self.retired = {"face": set(), "hand": set()}  # numbers of tracks that ended: never given again
        self.lost: list = []  # tracks that ended recently, (track, frames since), which may reappear

    def cut(self) -> None:
        """A scene cut: every track ends (its number is not given again); nothing is carried into the new scene."""
        for t in self.tracks:
            self.retired[t.kind].add(t.number)
        self.tracks, self.lost = [], []

    def _new_number(self, kind: str) -> int:
        """The lowest number neither in use nor retired (a tentative track that died gave its number back)."""
        taken = self.retired[kind] | {t.number for t in self.tracks if t.kind == kind}
        n = 1
        while n in taken:
            n += 1
        return n

    def update(self, detections: list, shape, frame: Optional[np.ndarray] = None) -> list:
        """`frame` (RGB), when given, lets hands be checked for skin colour (`skin_check`)."""
        self.lost = [(t, n + 1) for t, n in self.lost if n < REVIVE_FRAMES]
        out = []
        for kind in ("face", "hand"):
            dets = [d for d in detections if d.kind == kind]
            skin = skin_check(frame, [d for d in out if d.source != "carried"]) \
                if kind == "hand" and frame is not None else None
            if skin is not None:
                dets = [d for d in dets if skin(d)]
            out += self._update_kind(kind, dets, shape)
        return out

    def _update_kind(self, kind: str, dets: list, shape) -> list:
        dets = _dedupe(dets)
        tracks = [t for t in self.tracks if t.kind == kind]
        pairs = []
        for ti, t in enumerate(tracks):
            pred = t.predicted()
            for di, d in enumerate(dets):
                cost = _match_cost(t, pred, d)
                if cost <= MAX_MATCH_COST + MISSED_GATE * t.missed:
                    pairs.append((cost, ti, di))
        pairs.sort()
        used_t, used_d, out = set(), set(), []
        for cost, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t, d = tracks[ti], dets[di]
            move = _centre(d.landmarks) - _centre(t.detection.landmarks)
            t.velocity = 0.5 * t.velocity + 0.5 * move
            t.detection, t.missed, t.hits = d, 0, t.hits + 1
            t.vote(d.handedness, d.score)
            out.append(replace(d, track_id=t.number, handedness=t.side or d.handedness))
        # New instances, left to right, take the lowest numbers not in use (nor used by a track that ended).
        for di in sorted((i for i in range(len(dets)) if i not in used_d), key=lambda i: _centre(dets[i].landmarks)[0]):
            d = dets[di]
            if any(box_overlap(d.box, o.box) > INSIDE_TRACKED for o in out):
                continue  # a second detection of an instance tracked in this frame
            t = self._revive(kind, d)
            if t is None:
                t = Track(self._new_number(kind), kind, d)
            t.vote(d.handedness, d.score)
            self.tracks.append(t)
            out.append(replace(d, track_id=t.number, handedness=t.side or d.handedness))
        # Missed tracks: carried for a few frames while still in the picture, then dropped.
        h, w = shape[:2]
        for ti, t in enumerate(tracks):
            if ti in used_t:
                continue
            t.missed += 1
            pts = t.predicted()
            box = _box_of(pts)
            if t.missed > self.carry_frames or _visible_share(box, w, h) < 0.5 or \
                    any(box_overlap(box, o.box) > 0.5 for o in out):  # something found there now
                self.tracks.remove(t)
                if t.hits >= TENTATIVE_HITS:
                    self.retired[kind].add(t.number)
                    self.lost.append((t, 0))
                continue
            t.velocity = t.velocity * 0.8  # a lost track slows down rather than flying off
            t.detection = replace(t.detection, landmarks=pts, box=box)
            out.append(replace(t.detection, score=t.detection.score * 0.9, source="carried", track_id=t.number,
                               handedness=t.side or t.detection.handedness))
        return out

    def _revive(self, kind: str, d: Detection):
        """A track lost less than REVIVE_FRAMES ago, near where it was last seen (and of the same side, for a
        hand): the hand that went behind something or out of the frame for a moment keeps its number."""
        best, best_cost = None, REVIVE_COST
        for t, _ in self.lost:
            if t.kind != kind or (kind == "hand" and d.handedness and t.side and d.handedness != t.side):
                continue
            dist = float(np.linalg.norm(_centre(d.landmarks) - _centre(t.detection.landmarks)))
            cost = dist / max(t.size, _size(d.box))
            if cost < best_cost:
                best, best_cost = t, cost
        if best is None:
            return None
        self.lost = [(t, n) for t, n in self.lost if t is not best]
        self.retired[kind].discard(best.number)
        best.detection, best.missed, best.hits, best.velocity = d, 0, best.hits + 1, np.zeros(2)
        return best


def _centre(pts: np.ndarray) -> np.ndarray:
    return pts.mean(axis=0)


def _visible_share(box, w, h) -> float:
    x0, y0, x1, y1 = box
    return box_intersection(box, (0.0, 0.0, w, h)) / (max(x1 - x0, 1.0) * max(y1 - y0, 1.0))


def _match_cost(track: Track, pred: np.ndarray, det: Detection) -> float:
    """Distance between the track's predicted centre and the detection's, over the larger of their sizes (a hand
    changes shape quickly as fingers move, its centre does not), plus a small share of the change in size."""
    dist = float(np.linalg.norm(_centre(pred) - _centre(det.landmarks)))
    det_size = _size(det.box)
    size = max(track.size, det_size)
    cost = dist / size + 0.25 * abs(np.log(det_size / track.size))
    if track.kind == "hand" and det.handedness and track.side and det.handedness != track.side and track.hits >= 3:
        cost += SIDE_PENALTY
    return cost


def _dedupe(dets: list) -> list:
    """Tracking mode can report one hand twice (a re-detection beside its own track): of two detections that
    overlap or whose centres lie within half a size of each other, keep the stronger."""
    keep = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(not _same_place(d, k) for k in keep):
            keep.append(d)
    return keep


def _same_place(a: Detection, b: Detection) -> bool:
    if _iou(a.box, b.box) > DUPLICATE_IOU:
        return True
    size = min(_size(a.box), _size(b.box))
    return float(np.linalg.norm(_centre(a.landmarks) - _centre(b.landmarks))) < 0.5 * size


def _size(box) -> float:
    x0, y0, x1, y1 = box
    return float(max(np.sqrt(max(x1 - x0, 1.0) * max(y1 - y0, 1.0)), 8.0))
