"""Faces through a clip, under the photo rule: followed by FaceMesh on the crop where each face is heading (or,
where FaceMesh sees none, CenterFace), with BlazeFace and CenterFace looking for new faces when `FaceSchedule`
says so.

Faces in video follow the photo rule: a face BlazeFace reports away from every tracked face starts a track only if
CenterFace agrees on a crop at its scale (`centerface_agrees`, ~6 ms); a tracked face is not checked again. On
30-frame pans over the 120 EgoHands frames, BlazeFace's tracked "faces" lay on a labelled hand in 628 frames before
the rule, in none after it."""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.faces import AGREE_IOU, CENTERFACE_AGREE, CENTERFACE_SURE, centerface_agrees, centerface_near, \
    centerface_on_photo
from ..detect.geometry import box_crop, box_iou as _iou, box_of as _box_of
from .schedule import FaceSchedule

MESH_SIDE = 256  # face crops are resized to this for FaceMesh (its landmark model looks at 192 px)
FRAME_LOOK_SIDE = 448  # the look's longer side at most (a 640x360 frame: 6 ms at 256 px, 16 ms at 448, 37 at 640)


class FaceFollower:
    """The faces of one clip, found with the clip's own BlazeFace (`detector`) and FaceMesh (`mesh`) graphs."""

    def __init__(self, detector, mesh, max_faces: int, min_confidence: float):
        self.detector, self.mesh = detector, mesh
        self.max_faces, self.face_conf = int(max_faces), float(min_confidence)
        self.schedule = FaceSchedule()

    def faces(self, rgb: np.ndarray, last_seen=()) -> list:
        """[(box, score, points, landmark kind)]: faces under the photo rule, each with its mesh (or keypoints
        when FaceMesh does not confirm one), plus faces re-found where a track was (`last_seen`: [(box, score,
        meshed last frame)], every one a face already confirmed).

        Like MediaPipe's own tracking mode, the detector is skipped while every tracked face is followed by its
        mesh: BlazeFace runs on every `FACE_DETECT_EVERY`-th frame (to find newcomers), when there is no face, or
        when a face was not meshed in the last frame or is lost in this one. A BlazeFace face away from every
        tracked one counts only where CenterFace agrees (`_confirmed`); CenterFace looks at the whole frame on a
        shot's first frame and every `FRAME_LOOK_EVERY` frames for the faces BlazeFace misses."""
        self.schedule.next_frame()
        if self.schedule.meshes_suffice(last_seen):
            out = []
            for box, score, _ in last_seen[:self.max_faces]:
                mesh = self._mesh_on_crop(rgb, box)
                if mesh is None:
                    break
                out.append((_box_of(mesh), score, mesh, "face_mesh"))
            else:
                return out
        self.schedule.detector_ran()
        h, w = rgb.shape[:2]
        found = []
        for det in self.detector.process(rgb).detections or []:
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
        if self.schedule.frame_look_due():
            out += self._look_at_frame(rgb, out)
        return out

    def cut(self) -> None:
        self.schedule.cut()

    def _confirmed(self, rgb: np.ndarray, box) -> bool:
        """Whether a BlazeFace face that no track holds is a face: CenterFace agrees on a crop at its scale. A face
        CenterFace rejects stays rejected, following its box, for REJECT_FRAMES frames (a fist is not re-checked on
        every frame that BlazeFace runs)."""
        if self.schedule.was_rejected(box):
            return False
        if centerface_agrees(rgb, box) >= CENTERFACE_AGREE:
            return True
        self.schedule.reject(box)
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
        self.schedule.frame_looked()
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
