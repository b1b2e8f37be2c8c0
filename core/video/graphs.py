"""The MediaPipe graphs of one clip or webcam visitor (never the photo graphs, never shared): opened together,
run on both cores at once, closed with their memory handed back."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..detect.geometry import box_of as _box_of
from .faces import FaceFollower


class VideoGraphs:
    """Hands in tracking mode; faces found by BlazeFace full range (which sees the small faces that FaceMesh's own
    short-range detector misses, e.g. a signer 12% of the frame wide) and outlined by FaceMesh on each face's crop,
    where the face was last seen too (`FaceFollower`: so a face BlazeFace misses for a frame, in profile, is still
    followed). Faces and hands run at once on both cores."""

    def __init__(self, max_faces: int = 4, max_hands: int = 6, min_confidence: float = 0.5,
                 hand_complexity: int = 0, selfie: bool = False):
        import mediapipe as mp

        from ..native_logs import opened  # built quietly (MEDIAPIPE_LOGS=1 shows MediaPipe's start-up lines)

        conf = float(min(max(min_confidence, 0.05), 0.95))
        self.selfie = selfie
        self.face_detector = opened(lambda: mp.solutions.face_detection.FaceDetection(
            min_detection_confidence=min(conf, 0.3), model_selection=1)) if max_faces > 0 else None
        self.mesh = opened(lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=0.3)) if max_faces > 0 else None
        self.hands = opened(lambda: mp.solutions.hands.Hands(
            static_image_mode=False, max_num_hands=max(1, int(max_hands)), model_complexity=int(hand_complexity),
            min_detection_confidence=conf, min_tracking_confidence=0.5)) if max_hands > 0 else None
        self.follower = FaceFollower(self.face_detector, self.mesh, max_faces, conf) if max_faces > 0 else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-faces")
        self._lock = threading.Lock()

    def faces(self, rgb: np.ndarray, last_seen=()) -> list:
        """[(box, score, points, landmark kind)] (`FaceFollower.faces`)."""
        return [] if self.follower is None else self.follower.faces(rgb, last_seen)

    def cut(self) -> None:
        """A new shot (`FaceSchedule.cut`)."""
        if self.follower is not None:
            self.follower.cut()

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
            self.face_detector = self.mesh = self.hands = self.follower = None
        give_back_freed_memory()

