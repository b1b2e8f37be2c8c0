"""Hands in video must look like skin where the frame's own face shows what skin looks like under this light."""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.proposals import in_skin_range

# A hand must look like skin where the frame's own face shows that skin looks like skin under this light: the
# median chrominance inside the hand's landmark outline lies in Chai and Ngan's skin range in YCrCb ("Face
# segmentation using skin-color map in videophone applications", 1999: Cr 133..173, Cb 77..127), the range the
# face's own outline also lies in. Tracking mode's palm detector took the ASL signer's orange sleeve at the elbow
# for a hand (frames 16-27, Cr 171-174 / Cb 47-55; her face 140 / 117, her hands 142-150 / 107-116) and the
# landmark model followed it for 8 frames as a third hand (and, once it was kept from starting a track, the left
# hand's track, lost for two frames, jumped onto it). The signer's real hands, fingers spread over the sleeve,
# stayed at Cb >= 107. No face, or a face out of the range (coloured light): no check. A gloved hand beside a bare
# face is not tracked. The range is the one the photo's own skin evidence uses (`core.detect.proposals`).


def skin_check(frame: np.ndarray, faces: list):
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
    return chroma is None or bool(in_skin_range(chroma[0], chroma[1]))
