"""Video: frames in, one `Result` per frame out, with labels kept stable by tracking.

The MediaPipe graphs are created for one video and closed at its end (never the photo graphs of
`core.detect.graphs`, never shared with another request or webcam visitor). Hands run in MediaPipe's video
(tracking) mode, which follows each hand from the previous frame's landmarks. Faces are followed the same way by
hand: FaceMesh (or, where it sees none, CenterFace) on the crop where each face is heading, with BlazeFace (full
range, so small faces too) looking for new faces every few frames and whenever a face is lost, and CenterFace on
the whole frame now and then for the masked and turned faces BlazeFace misses. A face is tracked only under the
photo rule (`core.detect.faces`): BlazeFace and CenterFace agree, or CenterFace is sure and sees the face again
at its own scale; BlazeFace's "faces" on fists and on hands holding cards never get a number.

A small tracker gives every face and hand a number for as long as it is seen: detections are matched to tracks by
distance to where the track was heading (and handedness for hands), a track missed for a few frames is carried on
its last landmarks (moved by its recent velocity) so one missed frame does not renumber anyone, one that reappears
within a second near where it was lost takes its number back, a new face or hand gets the next unused number, and
a scene cut ends every track. The numbered detections then go through the photo
pipeline's own later stages (`pipeline.finish`: prompts, backend, selection, labels, drawing), which keep each
detection's number in its label. Detection of frame i+1 runs on another thread while frame i is masked and drawn.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Iterator, Optional

import cv2
import numpy as np

from ..detect.faces import AGREE_IOU, CENTERFACE_AGREE, CENTERFACE_SURE, centerface_agrees, centerface_near, \
    centerface_on_photo
from ..detect.geometry import box_crop, box_iou as _iou, box_of as _box_of
from ..pipeline import _Timer, finish
from ..types import Detection, Result

OFFLINE = "landmarks"
CARRY_FRAMES = 4  # a track missed for up to this many frames is drawn on its carried landmarks
MAX_MATCH_COST = 1.0  # centre distance / instance size above which a detection is not that track (one frame)
MISSED_GATE = 0.5  # ... grown by this much per frame the track has been missed (it may have moved further)
SIDE_PENALTY = 0.35  # added to a hand's matching cost when its handedness disagrees with the track's
TENTATIVE_HITS = 3  # a track seen fewer times than this that is lost gives its number back (a one-off false hit)
REVIVE_FRAMES = 30  # a track lost for up to this many frames takes its number back if it reappears where it was
REVIVE_COST = 1.5  # ... within this many instance sizes of where it was last seen (same side for hands)
CUT_DIFFERENCE = 40.0  # mean grey-level change (0..255) of 32x18 thumbnails between frames that counts as a cut
FACE_DETECT_EVERY = 5  # BlazeFace looks for new faces at least this often (frames) while faces are tracked
MESH_SIDE = 256  # face crops are resized to this for FaceMesh (its landmark model looks at 192 px)
DUPLICATE_IOU = 0.5  # two detections of one kind overlapping more than this in one frame are one instance
# A detection that would start a track but lies mostly inside an instance already tracked in this frame (its box
# over the smaller box's area, the share that ends a carried track there) is a second detection of that instance:
# tracking mode reported the ASL example's left hand twice in frame 40, boxes at IoU 0.498 (under DUPLICATE_IOU),
# one inside the other, and the second took a number of its own.
INSIDE_TRACKED = 0.5
# A hand must look like skin where the frame's own face shows that skin looks like skin under this light: the
# median chrominance inside the hand's landmark outline lies in Chai and Ngan's skin range in YCrCb ("Face
# segmentation using skin-color map in videophone applications", 1999: Cr 133..173, Cb 77..127), the range the
# face's own outline also lies in. Tracking mode's palm detector took the ASL signer's orange sleeve at the elbow
# for a hand (frames 16-27, Cr 171-174 / Cb 47-55; her face 140 / 117, her hands 142-150 / 107-116) and the
# landmark model followed it for 8 frames as a third hand (and, once it was kept from starting a track, the left
# hand's track, lost for two frames, jumped onto it). The signer's real hands, fingers spread over the sleeve,
# stayed at Cb >= 107. No face, or a face out of the range (coloured light): no check. A gloved hand beside a bare
# face is not tracked.
SKIN_CR = (133, 173)
SKIN_CB = (77, 127)
# Faces in video follow the photo rule: a face BlazeFace reports away from every tracked face starts a track only if
# CenterFace agrees on a crop at its scale (`centerface_agrees`, ~6 ms); a tracked face is not checked again. On
# 30-frame pans over the 120 EgoHands frames, BlazeFace's tracked "faces" lay on a labelled hand in 628 frames before
# the rule, in none after it.
REJECT_FRAMES = 15  # a face CenterFace rejected is not looked at again for this many frames (a fist, followed by
# its box): half a second at 30 fps, so one ~6 ms look per half second per fist, and a real face CenterFace could
# not see at first (half hidden) gets another look soon
# CenterFace on the whole frame, on a shot's first frame and every FRAME_LOOK_EVERY frames, finds the masked and
# turned faces BlazeFace misses. 60-frame passes over 25 masked-crowd photos (facemask_kaggle, faces entering and
# leaving, 640x360; share of labelled faces found per frame): 41.8% before, 46.2% with a look at the first frame
# only, 50.3% every 30 frames, 53.5% every 15 (a look: 16 ms, ~1 ms a frame), 54.7% every 15 at 640 px (37 ms a look).
# Looking again whenever a tracked face is lost found 52.7% at a higher cost (faces leave the frame all the time).
FRAME_LOOK_EVERY = 15
FRAME_LOOK_SIDE = 448  # the look's longer side at most (a 640x360 frame: 6 ms at 256 px, 16 ms at 448, 37 at 640)


# ------------------------------------------------------------------------------------------- MediaPipe graphs

class VideoGraphs:
    """The graphs of one video: Hands in tracking mode; faces found by BlazeFace full range (which sees the small
    faces that FaceMesh's own short-range detector misses, e.g. a signer 12% of the frame wide) and outlined by
    FaceMesh on each face's crop, where the face was last seen too (so a face BlazeFace misses for a frame, in
    profile, is still followed). Faces and hands run at once on both cores."""

    def __init__(self, max_faces: int = 4, max_hands: int = 6, min_confidence: float = 0.5,
                 hand_complexity: int = 0, selfie: bool = False):
        import mediapipe as mp

        from ..native_logs import opened  # built quietly (MEDIAPIPE_LOGS=1 shows MediaPipe's start-up lines)

        conf = float(min(max(min_confidence, 0.05), 0.95))
        self.selfie, self.face_conf, self.max_faces = selfie, conf, int(max_faces)
        self.face_detector = opened(lambda: mp.solutions.face_detection.FaceDetection(
            min_detection_confidence=min(conf, 0.3), model_selection=1)) if max_faces > 0 else None
        self.mesh = opened(lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=0.3)) if max_faces > 0 else None
        self.hands = opened(lambda: mp.solutions.hands.Hands(
            static_image_mode=False, max_num_hands=max(1, int(max_hands)), model_complexity=int(hand_complexity),
            min_detection_confidence=conf, min_tracking_confidence=0.5)) if max_hands > 0 else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-faces")
        self._lock = threading.Lock()
        self._since_detector = FACE_DETECT_EVERY
        self._since_frame_look = FRAME_LOOK_EVERY  # CenterFace looks at the first frame
        self._rejected: list = []  # [(box, frames since)]: BlazeFace faces CenterFace did not confirm

    def faces(self, rgb: np.ndarray, last_seen=()) -> list:
        """[(box, score, points, landmark kind)]: faces under the photo rule, each with its mesh (or keypoints
        when FaceMesh does not confirm one), plus faces re-found where a track was (`last_seen`: [(box, score,
        meshed last frame)], every one a face already confirmed).

        Like MediaPipe's own tracking mode, the detector is skipped while every tracked face is followed by its
        mesh: BlazeFace runs on every `FACE_DETECT_EVERY`-th frame (to find newcomers), when there is no face, or
        when a face was not meshed in the last frame or is lost in this one. A BlazeFace face away from every
        tracked one counts only where CenterFace agrees (`_confirmed`); CenterFace looks at the whole frame on a
        shot's first frame and every `FRAME_LOOK_EVERY` frames for the faces BlazeFace misses."""
        if self.face_detector is None:
            return []
        self._since_detector += 1
        self._since_frame_look += 1
        self._rejected = [(box, n + 1) for box, n in self._rejected if n + 1 < REJECT_FRAMES]
        if last_seen and self._since_detector < FACE_DETECT_EVERY and self._since_frame_look < FRAME_LOOK_EVERY \
                and all(fresh for _, _, fresh in last_seen):
            out = []
            for box, score, _ in last_seen[:self.max_faces]:
                mesh = self._mesh_on_crop(rgb, box)
                if mesh is None:
                    break
                out.append((_box_of(mesh), score, mesh, "face_mesh"))
            else:
                return out
        self._since_detector = 0
        h, w = rgb.shape[:2]
        found = []
        for det in self.face_detector.process(rgb).detections or []:
            score = float(det.score[0])
            rb = det.location_data.relative_bounding_box
            box = (rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h)
            kps = np.array([(k.x * w, k.y * h) for k in det.location_data.relative_keypoints], np.float64)
            if score >= self.face_conf and all(_iou(box, f[0]) < 0.3 for f in found):
                found.append((box, score, kps))
        out = []
        for box, score, kps in sorted(found, key=lambda f: -f[1]):
            if len(out) >= self.max_faces:
                break
            tracked = any(_iou(box, seen) >= AGREE_IOU for seen, _, _ in last_seen)
            if not tracked and not self._confirmed(rgb, box):
                continue
            mesh = self._mesh_on_crop(rgb, box)
            out.append((_box_of(mesh), score, mesh, "face_mesh") if mesh is not None
                       else (box, score, kps, "face_keypoints"))
        for box, score, meshed in last_seen:  # a tracked face BlazeFace did not report this frame
            if len(out) >= self.max_faces or any(_iou(box, f[0]) > 0.2 for f in out):
                continue
            face = self._follow(rgb, box, score, meshed)
            if face is not None:
                out.append(face)
        if self._since_frame_look >= FRAME_LOOK_EVERY:
            out += self._look_at_frame(rgb, out)
        return out

    def cut(self) -> None:
        """A new shot: CenterFace looks at its first frame, and nothing rejected in the last shot stays rejected."""
        self._since_frame_look, self._rejected = FRAME_LOOK_EVERY, []

    def _confirmed(self, rgb: np.ndarray, box) -> bool:
        """Whether a BlazeFace face that no track holds is a face: CenterFace agrees on a crop at its scale. A face
        CenterFace rejects stays rejected, following its box, for REJECT_FRAMES frames (a fist is not re-checked on
        every frame that BlazeFace runs)."""
        for i, (seen, n) in enumerate(self._rejected):
            if _iou(box, seen) >= AGREE_IOU:
                self._rejected[i] = (box, n)
                return False
        if centerface_agrees(rgb, box) >= CENTERFACE_AGREE:
            return True
        self._rejected.append((box, 0))
        return False

    def _follow(self, rgb: np.ndarray, box, score: float, meshed: bool):
        """A tracked face where it was: its mesh on the crop, or where FaceMesh sees none (a masked face, a turned
        one), CenterFace's face on a crop at its scale; None when neither sees it there. A face FaceMesh did not
        see last frame goes to CenterFace first (on masked crowds FaceMesh failed again on nearly every frame, at
        ~4 ms a try); BlazeFace, which runs on every such frame, brings its mesh back when it finds it again."""
        mesh = self._mesh_on_crop(rgb, box) if meshed else None
        if mesh is None:
            near = centerface_near(rgb, box)
            if near is not None:
                return near[0], score, near[2], "face_keypoints"
            mesh = None if meshed else self._mesh_on_crop(rgb, box)
        return None if mesh is None else (_box_of(mesh), score, mesh, "face_mesh")

    def _look_at_frame(self, rgb: np.ndarray, known: list) -> list:
        """CenterFace's faces on the whole frame that are not among `known`, under the photo rule: those it is
        sure of and sees again at their own scale, and those it sees at CENTERFACE_AGREE that FaceMesh confirms
        (FaceMesh counts as BlazeFace).
        Taking only sure ones lost turned heads (30-frame pans over 24 FASSEG and other face photos: 572 of 720
        frames with the face, 511 so) and on the 120 EgoHands pans took away one face, on a shirt's pattern."""
        self._since_frame_look = 0
        out = []
        for box, score, kps, _ in centerface_on_photo(rgb, min(FRAME_LOOK_SIDE / max(rgb.shape[:2]), 1.0)):
            if len(known) + len(out) >= self.max_faces:
                break
            if any(_iou(box, f[0]) > 0.2 for f in known + out):
                continue
            mesh = self._mesh_on_crop(rgb, box)
            if mesh is not None:
                out.append((_box_of(mesh), score, mesh, "face_mesh"))
            elif score >= CENTERFACE_SURE and centerface_agrees(rgb, box) >= CENTERFACE_AGREE:
                out.append((box, score, kps, "face_keypoints"))
        return out

    def _mesh_on_crop(self, rgb: np.ndarray, box):
        """468 points of the face in `box` from FaceMesh on a square crop twice the box, or None."""
        crop, x0, y0 = box_crop(rgb, box, 2.0)
        if crop is None:
            return None
        side = crop.shape[0]
        interp = cv2.INTER_AREA if side > MESH_SIDE else cv2.INTER_LINEAR
        res = self.mesh.process(cv2.resize(crop, (MESH_SIDE, MESH_SIDE), interpolation=interp))
        if not res.multi_face_landmarks:
            return None
        pts = np.array([(p.x * side + x0, p.y * side + y0) for p in res.multi_face_landmarks[0].landmark])
        return pts if _iou(_box_of(pts), box) >= 0.2 else None

    def hands_in(self, rgb: np.ndarray) -> list:
        """[(box, handedness score, 21 points, "left"|"right")]."""
        if self.hands is None:
            return []
        h, w = rgb.shape[:2]
        res = self.hands.process(rgb)
        out = []
        for lms, handed in zip(res.multi_hand_landmarks or [], res.multi_handedness or []):
            pts = np.array([(p.x * w, p.y * h) for p in lms.landmark], np.float64)
            cls = handed.classification[0]
            side = cls.label.lower()
            if not self.selfie:  # MediaPipe labels handedness as if the frame were mirrored (a selfie view)
                side = {"left": "right", "right": "left"}.get(side, side)
            out.append((_box_of(pts), float(cls.score), pts, side))
        return out

    def detect(self, rgb: np.ndarray, last_faces=()) -> tuple:
        """(faces, hands) of one frame; faces and hands run at once (their C++ work releases the GIL)."""
        with self._lock:
            rgb = np.ascontiguousarray(rgb)
            faces = self._pool.submit(self.faces, rgb, last_faces)
            hands = self.hands_in(rgb)
            return faces.result(), hands

    def close(self) -> None:
        """Close the graphs and hand the memory they held back to the kernel (glibc keeps freed graphs in its free
        lists otherwise: RSS stayed ~340 MB up 60 s after 4 clips and 20 webcam streams, bench.soak --mix)."""
        from ..malloc import give_back_freed_memory

        with self._lock:
            self._pool.shutdown(wait=True)
            for g in (self.face_detector, self.mesh, self.hands):
                if g is not None:
                    g.close()
            self.face_detector = self.mesh = self.hands = None
        give_back_freed_memory()


# ------------------------------------------------------------------------------------------------- tracking

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
        """`frame` (RGB), when given, lets hands be checked for skin colour (`_skin_check`)."""
        self.lost = [(t, n + 1) for t, n in self.lost if n < REVIVE_FRAMES]
        out = []
        for kind in ("face", "hand"):
            dets = [d for d in detections if d.kind == kind]
            skin = _skin_check(frame, [d for d in out if d.source != "carried"]) \
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
            if any(_overlap(d.box, o.box) > INSIDE_TRACKED for o in out):
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
                    any(_overlap(box, o.box) > 0.5 for o in out):  # something found there now
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


def _skin_check(frame: np.ndarray, faces: list):
    """A test `ok(hand detection)`: skin-coloured (SKIN_CR, SKIN_CB), when a face
    meshed in this frame is itself skin-coloured under this light; None (no check) otherwise."""
    if not any(f.landmark_kind == "face_mesh" and _in_skin_range(_chroma(frame, f.landmarks)) for f in faces):
        return None
    return lambda d: _in_skin_range(_chroma(frame, d.landmarks))


def _chroma(frame: np.ndarray, pts: np.ndarray):
    """Median (Cr, Cb) of the frame's pixels inside the convex outline of `pts`, or None when it is empty."""
    h, w = frame.shape[:2]
    x0, y0 = (int(max(np.floor(v), 0)) for v in pts.min(axis=0))
    x1, y1 = int(min(np.ceil(pts[:, 0].max()) + 1, w)), int(min(np.ceil(pts[:, 1].max()) + 1, h))
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(np.round(pts - (x0, y0)).astype(np.int32))], 1)
    crcb = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1, :3]), cv2.COLOR_RGB2YCrCb)[:, :, 1:][mask > 0]
    return None if not len(crcb) else np.median(crcb, axis=0)


def _in_skin_range(chroma) -> bool:
    return chroma is None or (SKIN_CR[0] <= chroma[0] <= SKIN_CR[1] and SKIN_CB[0] <= chroma[1] <= SKIN_CB[1])


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area (a small box inside a large one: 1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def _centre(pts: np.ndarray) -> np.ndarray:
    return pts.mean(axis=0)


def _visible_share(box, w, h) -> float:
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 1.0) * max(y1 - y0, 1.0)
    ix = max(0.0, min(x1, w) - max(x0, 0.0))
    iy = max(0.0, min(y1, h) - max(y0, 0.0))
    return ix * iy / area


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


# -------------------------------------------------------------------------------------------- the segmenter

class VideoSegmenter:
    """Stateful per-video (or per-webcam-visitor) segmenter: `process(rgb)` one frame after another, then
    `close()`. Owns its MediaPipe graphs and its tracker; not shared between videos or visitors."""

    def __init__(self, backend: str = OFFLINE, *, min_confidence: float = 0.5, max_hands: int = 6,
                 max_faces: int = 4, box_scale: float = 1.5, refine: bool = True, draw: bool = True,
                 carry_frames: int = CARRY_FRAMES, hand_complexity: int = 0, selfie: bool = False,
                 **backend_options):
        self.backend, self.messages = _video_backend(backend, backend_options)
        self.options = dict(box_scale=box_scale, refine=refine, draw=draw, **backend_options)
        self.max_faces, self.max_hands = int(max_faces), int(max_hands)
        self.graphs = VideoGraphs(max_faces, max_hands, min_confidence, hand_complexity, selfie)
        self.tracker = Tracker(carry_frames)
        self.frames = 0
        self._thumb = None

    def detect(self, rgb: np.ndarray) -> list:
        """The frame's numbered detections (tracked), before any mask."""
        last = [(t.predicted_box(), t.detection.score, t.missed == 0 and t.detection.landmark_kind == "face_mesh")
                for t in self.tracker.tracks if t.kind == "face"]
        if self._scene_cut(rgb):
            self.tracker.cut()
            self.graphs.cut()
            last = []
        faces, hands = self.graphs.detect(rgb, last)
        dets = [Detection("face", box, score, pts, kind, "face_detection") for box, score, pts, kind in faces]
        dets += [Detection("hand", box, score, pts, "hand_21", "hands", side)
                 for box, score, pts, side in hands[:self.max_hands]]
        return self.tracker.update(dets, rgb.shape, rgb)

    def _scene_cut(self, rgb: np.ndarray) -> bool:
        """True when this frame looks nothing like the last one (a cut in an edited clip): the mean difference of
        32x18 grey thumbnails is above CUT_DIFFERENCE. A pan or a moving hand stays far below it."""
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        thumb = thumb.astype(np.int16)
        prev, self._thumb = self._thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) > CUT_DIFFERENCE

    def process(self, rgb: np.ndarray, time_s: Optional[float] = None, frame_index: Optional[int] = None,
                messages: Optional[list] = None) -> Result:
        """Detect, track and mask one frame (frames must come in order)."""
        t = _Timer()
        detections = self.detect(rgb)
        t.lap("detect")
        return self.finish(rgb, detections, t, time_s, frame_index, messages)

    def finish(self, rgb, detections, t: Optional[_Timer] = None, time_s=None, frame_index=None,
               messages=None) -> Result:
        """The pipeline's stages after detection for one frame's tracked detections."""
        t = t or _Timer()
        msgs = list(messages or [])
        if self.frames == 0:
            msgs = self.messages + msgs
        result = finish(rgb, detections, self.backend, msgs, t, **self.options)
        result.frame_index = self.frames if frame_index is None else int(frame_index)
        result.time_s = time_s
        self.frames += 1
        return result

    def close(self) -> None:
        self.graphs.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _video_backend(requested: str, options: dict) -> tuple:
    """(backend to run per frame, messages). Replicate's image models would be one paid prediction per frame, so
    video uses the offline masks unless the local SAM2 backend is asked for by name."""
    requested = requested or "auto"
    if requested in ("auto", OFFLINE):
        return OFFLINE, []
    from .. import backends

    backends.get(requested)  # unknown names: a ValueError with the choices
    if requested == "replicate":
        return OFFLINE, ["replicate not used: video would cost one paid prediction per frame; "
                         "used the offline landmarks backend."]
    return requested, []


def segment_video(source, backend: str = OFFLINE, *, fps: float = 30.0, max_seconds: Optional[float] = None,
                  min_confidence: float = 0.5, max_hands: int = 6, max_faces: int = 4, box_scale: float = 1.5,
                  refine: bool = True, draw: bool = True, carry_frames: int = CARRY_FRAMES,
                  profile_faces: bool = True, mirror_hands: bool = True, **backend_options) -> Iterator[Result]:
    """Every face and hand in every frame of a clip: an iterator of `Result`, one per frame, in order.

    `source`: a path to a video file (mp4, mov, webm, avi, gif, ...), a `core.video.VideoReader` of one, or an
    iterable of RGB uint8 frames (then `fps` gives their time stamps). Each Result has `frame_index` and `time_s`;
    labels (`face-1`, `hand-2 (left)`) stay with the same face or hand while it is tracked, through brief misses,
    and a new one gets the next unused number (`Instance.track_id`). Frames stream: nothing of earlier frames is kept.

    Options as for `core.segment` (`profile_faces` and `mirror_hands` are photo-only and ignored). `backend`:
    "landmarks" (offline, the default; "auto" means it too) or "sam2" (local, one model run per frame).
    Raises `core.VideoLoadError` (one sentence) for an unusable file; a file that breaks off part-way yields its
    good frames and the last Result's messages say where it stopped.
    """
    from .reader import VideoReader

    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        source = VideoReader(source, max_seconds=max_seconds)
    if isinstance(source, VideoReader):  # process_video passes its own, already probed: one probe per file
        reader = source
        frames = iter(reader)
    else:
        reader = None
        step = 1.0 / fps if fps and fps > 0 else 1.0 / 30
        frames = ((i, round(i * step, 6), np.asarray(f)) for i, f in enumerate(source))
    seg = VideoSegmenter(backend, min_confidence=min_confidence, max_hands=max_hands, max_faces=max_faces,
                         box_scale=box_scale, refine=refine, draw=draw, carry_frames=carry_frames,
                         **backend_options)
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-detect")

    def detect(rgb):
        t0 = time.perf_counter()
        return seg.detect(rgb), (time.perf_counter() - t0) * 1000

    try:
        # Pipelined: while frame i goes through masks and drawing here, frame i+1 is read and its faces and hands
        # are found on the other thread(s). At most two frames are in flight, so memory stays flat. Knowing the
        # next frame also tells whether a file broke off before the last Result is handed out.
        pending = next(frames, None)
        job = ahead.submit(detect, _check_frame(pending[2])) if pending is not None else None
        while pending is not None:
            index, ts, rgb = pending
            detections, detect_ms = job.result()
            pending = next(frames, None)
            if pending is not None:
                job = ahead.submit(detect, _check_frame(pending[2]))
            notes = [reader.warning] if (pending is None and reader is not None and reader.warning) else []
            timer = _Timer()
            timer.laps["detect"] = detect_ms
            yield seg.finish(np.ascontiguousarray(rgb[:, :, :3]), detections, timer, ts, index, notes)
    finally:
        ahead.shutdown(wait=True)
        seg.close()
        if reader is not None:
            frames.close()  # its decoding child is stopped now, not when the generator is collected


def _check_frame(rgb) -> np.ndarray:
    from ..loading import ImageLoadError

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ImageLoadError(f"Video frames must be RGB uint8 arrays (HxWx3); got {rgb.dtype} {rgb.shape}.")
    if max(rgb.shape[:2]) >= 32767 or min(rgb.shape[:2]) < 8:
        raise ImageLoadError(f"A video frame of {rgb.shape[1]}x{rgb.shape[0]} pixels cannot be processed.")
    return np.ascontiguousarray(rgb[:, :, :3])
