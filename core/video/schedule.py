"""When each face detector looks at a frame of a clip: BlazeFace every few frames or when a face is lost,
CenterFace on the whole frame now and then, and nobody again soon at a box CenterFace already rejected."""
from __future__ import annotations

from ..detect.geometry import box_iou as _iou
from ..detect.faces import AGREE_IOU

FACE_DETECT_EVERY = 5  # BlazeFace looks for new faces at least this often (frames) while faces are tracked
REJECT_FRAMES = 15  # a face CenterFace rejected is not looked at again for this many frames (a fist, followed by
# its box): half a second at 30 fps, so one ~6 ms look per half second per fist, and a real face CenterFace could
# not see at first (half hidden) gets another look soon
# CenterFace on the whole frame, on a shot's first frame and every FRAME_LOOK_EVERY frames, finds the masked and
# turned faces BlazeFace misses. 60-frame passes over 25 masked-crowd photos (facemask_kaggle, faces entering and
# leaving, 640x360; share of labelled faces found per frame): 41.8% before, 46.2% with a look at the first frame
# only, 50.3% every 30 frames, 53.5% every 15 (a look: 16 ms, ~1 ms a frame), 54.7% every 15 at 640 px (37 ms a look).
# Looking again whenever a tracked face is lost found 52.7% at a higher cost (faces leave the frame all the time).
FRAME_LOOK_EVERY = 15


class FaceSchedule:
    """Frame counters of one clip. `next_frame()` once per frame, then ask what is due."""

    def __init__(self):
        self.since_detector = FACE_DETECT_EVERY
        self.since_frame_look = FRAME_LOOK_EVERY  # CenterFace looks at the first frame
        self.rejected: list = []  # [(box, frames since)]: BlazeFace faces CenterFace did not confirm

    def next_frame(self) -> None:
        self.since_detector += 1
        self.since_frame_look += 1
        self.rejected = [(box, n + 1) for box, n in self.rejected if n + 1 < REJECT_FRAMES]

    def meshes_suffice(self, last_seen) -> bool:
        """Like MediaPipe's own tracking mode: the detector may skip this frame while every tracked face was
        meshed in the last one, unless BlazeFace's or CenterFace's turn has come."""
        return bool(last_seen) and self.since_detector < FACE_DETECT_EVERY \
            and self.since_frame_look < FRAME_LOOK_EVERY and all(fresh for _, _, fresh in last_seen)

    def detector_ran(self) -> None:
        self.since_detector = 0

    def frame_look_due(self) -> bool:
        return self.since_frame_look >= FRAME_LOOK_EVERY

    def frame_looked(self) -> None:
        self.since_frame_look = 0

    def was_rejected(self, box) -> bool:
        """Whether CenterFace rejected this box lately; a rejected box follows the face it rejected (a fist)."""
        for i, (seen, n) in enumerate(self.rejected):
            if _iou(box, seen) >= AGREE_IOU:
                self.rejected[i] = (box, n)
                return True
        return False

    def reject(self, box) -> None:
        self.rejected.append((box, 0))

    def cut(self) -> None:
        """A new shot: CenterFace looks at its first frame, and nothing rejected in the last shot stays rejected."""
        self.since_frame_look, self.rejected = FRAME_LOOK_EVERY, []
