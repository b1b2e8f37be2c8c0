"""Find faces and hands with MediaPipe's bundled `mp.solutions` models (mediapipe 0.10.21).

Faces: BlazeFace short- and full-range (close-ups and group photos), merged; then FaceMesh on each face's
expanded crop (the whole-photo mesh misses small faces). The short-range model finds faces in full profile
(all 182 FASSEG multipose photos, yaw -90..+90) where the full-range one does not. Only when nothing at all is
found does the (slow, ~22 ms) Pose model look for a head. Group photos (two or more small faces) also get a 3x3
grid of half-size tiles, on which faces too small for BlazeFace's 128-192 px view of the whole photo are found.

Hands: the palm detector misses hands depending on how the photo is framed (large hands entering from the frame
edge in first-person photos, hands over faces), and which framing finds a hand varies from photo to photo. So the
Hands solution looks at up to three views: the photo, its mirror image (on the second core, alongside the faces)
and, when the photo shows hands, the photo's lower part (where the rest are, in photos of people and first-person
views); hands found in several views are merged. Photos without hands (portraits) pay for two views, not three.
Hands that cannot be real are dropped: one lying inside a face's mesh outline, or one far smaller than a face it
touches (a hand beside a face is about as large as the face; the lite model sees "hands" on ears and profiles).

MediaPipe graphs keep internal state, so each model is created once per process and used under a lock.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from .prompts import hand_scale
from .types import Detection


@dataclass(frozen=True)
class DetectOptions:
    min_confidence: float = 0.5  # face and hand detection confidence
    max_hands: int = 6
    max_faces: int = 20
    profile_faces: bool = True  # when no face and no hand is found, look for a head with the Pose model
    mirror_hands: bool = True  # also look for hands on the mirrored photo (merged with the photo's hands)
    lower_view: bool = True  # when the photo shows hands, look for more on its lower part (LOWER_SHARE of height)
    # Hands model: the lite palm detector + landmarks (0) found more hands on the shared photos than the full
    # one (1) (26/30 vs 23/30 ground-truth hands at confidence 0.5) and costs less per found hand.
    hand_complexity: int = 0
    face_tiles: bool = True  # large photos: also look for small faces on a 3x3 grid of overlapping half-size tiles


_MODELS: dict = {}
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="detect")
_MODELS_LOCK = threading.Lock()


def _model(key, factory):
    """One MediaPipe graph per key per process, each with its own lock (graphs are not thread-safe)."""
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = (factory(), threading.Lock())
        return _MODELS[key]


def _run(key, factory, rgb):
    model, lock = _model(key, factory)
    with lock:
        return model.process(rgb)


def _face_detector(model_selection: int, conf: float):
    import mediapipe as mp

    return ("fd", model_selection, conf), lambda: mp.solutions.face_detection.FaceDetection(
        min_detection_confidence=conf, model_selection=model_selection)


def _face_mesh():
    import mediapipe as mp

    return ("mesh",), lambda: mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.3)


def _hands(max_hands: int, conf: float, complexity: int = 1):
    import mediapipe as mp

    return ("hands", max_hands, conf, complexity), lambda: mp.solutions.hands.Hands(
        static_image_mode=True, max_num_hands=max_hands, model_complexity=complexity, min_detection_confidence=conf)


def _pose():
    import mediapipe as mp

    return ("pose",), lambda: mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=1, enable_segmentation=False, min_detection_confidence=0.5)


def warm_up(options: DetectOptions = DetectOptions()) -> None:
    """Create the graphs and run them once, so the first user request is not the slow one."""
    blank = np.full((256, 256, 3), 127, np.uint8)
    detect(blank, options)


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _box_of(points: np.ndarray) -> tuple:
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


def detect(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list:
    """All faces and hands in the photo, each with landmarks in input pixels."""
    # Faces and the hand views are independent graphs whose C++ work releases the GIL: run them on both cores.
    faces_future = _POOL.submit(detect_faces, rgb, options)
    mirrored = _POOL.submit(_mirrored_hands, rgb, options) if options.mirror_hands else None
    found = _hands_in(rgb, options)
    if found and options.lower_view:  # hands in the photo: look again for the ones the first view missed
        found = _merge_hands(found, _lower_hands(rgb, options))
    if mirrored is not None:
        found = _merge_hands(found, mirrored.result())
    faces = faces_future.result()
    found = [h for h in found if not _implausible_hand(h, faces)]
    hands = _hand_detections(found, options)
    if not faces and not hands and options.profile_faces:
        faces = [_face_detection(rgb, f) for f in _faces_from_pose(rgb, options)]
    return faces + hands


# ----------------------------------------------------------------------------------------------- faces

def detect_faces(rgb: np.ndarray, options: DetectOptions = DetectOptions()) -> list:
    h, w = rgb.shape[:2]
    found = []  # (box, score, keypoints, source)
    for selection in (0, 1):
        found += _faces_in(rgb, selection, options.min_confidence)
    faces = _non_max_suppression(found, 0.3)
    if options.face_tiles and max(h, w) >= TILE_MIN_SIDE and _looks_like_a_group(faces, h):
        faces = _non_max_suppression(faces + _faces_on_tiles(rgb, options.min_confidence), 0.3)
    return [_face_detection(rgb, f) for f in faces[: options.max_faces]]


def _faces_in(rgb: np.ndarray, selection: int, conf: float, offset=(0, 0), graph: str = "photo") -> list:
    h, w = rgb.shape[:2]
    key, factory = _face_detector(selection, conf)
    res = _run(key + (graph,), factory, rgb)
    out = []
    for det in res.detections or []:
        rb = det.location_data.relative_bounding_box
        ox, oy = offset
        box = (rb.xmin * w + ox, rb.ymin * h + oy, (rb.xmin + rb.width) * w + ox, (rb.ymin + rb.height) * h + oy)
        kps = np.array([(k.x * w + ox, k.y * h + oy) for k in det.location_data.relative_keypoints], np.float64)
        out.append((box, float(det.score[0]), kps, "face_detection"))
    return out


# Group photos at least this large also get a 3x3 grid of half-size tiles: BlazeFace sees the photo at 128 or 192 px,
# so in a group photo or a crowd a face of 60-100 px shrinks below what it can find; on a half-size tile it is
# twice as big.
TILE_MIN_SIDE = 640


def _looks_like_a_group(faces: list, height: int) -> bool:
    """Tiles cost nine detector passes, so they run only where more small faces are likely: two or more faces
    already found, none of them large (portraits and close-ups skip the tiles)."""
    return len(faces) >= 2 and max(f[0][3] - f[0][1] for f in faces) < 0.2 * height


def _faces_on_tiles(rgb: np.ndarray, conf: float, grid: int = 3) -> list:
    """Full-range BlazeFace on a grid x grid set of tiles, each half the photo's size (so neighbours overlap and
    every face lies whole inside some tile); a face cut by a tile's inner edge is left to the tile that holds it."""
    h, w = rgb.shape[:2]
    th, tw = h // 2, w // 2
    out = []
    for y0 in np.linspace(0, h - th, grid).astype(int):
        for x0 in np.linspace(0, w - tw, grid).astype(int):
            tile = np.ascontiguousarray(rgb[y0:y0 + th, x0:x0 + tw])
            for box, score, kps, source in _faces_in(tile, 1, conf, (x0, y0), graph="tile"):
                if not _touches_inner_edge(box, x0, y0, tw, th, w, h):
                    out.append((box, score, kps, source))
    return out


def _touches_inner_edge(box, x0, y0, tw, th, w, h, margin: float = 2.0) -> bool:
    return ((x0 > 0 and box[0] <= x0 + margin) or (y0 > 0 and box[1] <= y0 + margin)
            or (x0 + tw < w and box[2] >= x0 + tw - margin) or (y0 + th < h and box[3] >= y0 + th - margin))


def _face_detection(rgb: np.ndarray, found) -> Detection:
    """The mesh on the face's crop when FaceMesh confirms it; else the detector's keypoints (never dropped)."""
    box, score, kps, source = found
    mesh = _mesh_on_crop(rgb, box)
    if mesh is not None:
        return Detection("face", _box_of(mesh), score, mesh, "face_mesh", source)
    kind = "pose_keypoints" if source == "pose" else "face_keypoints"
    return Detection("face", tuple(float(v) for v in box), score, kps, kind, source)


def _non_max_suppression(found: list, iou: float) -> list:
    keep = []
    for item in sorted(found, key=lambda f: -f[1]):
        if all(box_iou(item[0], k[0]) < iou for k in keep):
            keep.append(item)
    return keep


def _square_crop(rgb: np.ndarray, box, scale: float):
    """A square crop around `box`, `scale` times its longer side, padded at the borders."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * scale
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(int(round(side)), 16)
    h, w = rgb.shape[:2]
    crop = np.zeros((s, s, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None, x0, y0
    crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return crop, x0, y0


def _mesh_on_crop(rgb: np.ndarray, box) -> np.ndarray | None:
    """468 face-mesh points for the face in `box`, or None when FaceMesh does not confirm a face there."""
    crop, x0, y0 = _square_crop(rgb, box, 2.0)
    if crop is None:
        return None
    side = crop.shape[0]
    target = 384
    resized = cv2.resize(crop, (target, target), interpolation=cv2.INTER_AREA if side > target else cv2.INTER_LINEAR)
    res = _run(*_face_mesh(), resized)
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    pts = np.array([(p.x * side + x0, p.y * side + y0) for p in lm], np.float64)
    # FaceMesh found a face in the crop; accept it only if it is the face that was detected.
    if box_iou(_box_of(pts), box) < 0.2:
        return None
    return pts


# Pose landmark indices 0-10: nose, eyes (inner, centre, outer) x2, ears, mouth corners.
_POSE_HEAD = list(range(11))


def _faces_from_pose(rgb: np.ndarray, options: DetectOptions) -> list:
    """A head box from Pose keypoints: Pose sees heads in profile where BlazeFace does not."""
    res = _run(*_pose(), rgb)
    if not res.pose_landmarks:
        return []
    h, w = rgb.shape[:2]
    lm = res.pose_landmarks.landmark
    pts = np.array([(lm[i].x * w, lm[i].y * h) for i in _POSE_HEAD], np.float64)
    vis = np.array([lm[i].visibility for i in _POSE_HEAD])
    if vis[0] < 0.5 or (vis > 0.5).sum() < 5:
        return []
    # Head extent: the keypoints span eyes/ears/mouth; pad by the eye-mouth distance to reach chin and brow.
    eye_y = pts[1:7, 1].mean()
    mouth_y = pts[9:11, 1].mean()
    unit = max(abs(mouth_y - eye_y), 1.0)
    x0, x1 = pts[:, 0].min() - 0.6 * unit, pts[:, 0].max() + 0.6 * unit
    y0, y1 = eye_y - 1.6 * unit, mouth_y + 1.3 * unit
    box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
    return [(box, float(vis[0]), pts, "pose")]


# ----------------------------------------------------------------------------------------------- hands

def _hand_detections(found: list, options: DetectOptions) -> list:
    return [Detection("hand", box, score, pts, "hand_21", "hands", side)
            for box, score, pts, side in found[: options.max_hands]]


def _merge_hands(found: list, more: list) -> list:
    """Hands of `found` plus those of `more` that are not already there (box IoU below 0.3). The earlier view's
    landmarks are kept for a hand found twice (the photo's own view is the most accurate)."""
    out = list(found)
    for hand in more:
        if all(box_iou(hand[0], h[0]) < 0.3 for h in out):
            out.append(hand)
    return out


def _mirrored_hands(rgb: np.ndarray, options: DetectOptions) -> list:
    w = rgb.shape[1]
    out = []
    for box, score, pts, side in _hands_in(np.ascontiguousarray(rgb[:, ::-1]), options, graph="mirror"):
        pts = pts.copy()
        pts[:, 0] = w - 1 - pts[:, 0]
        out.append((_box_of(pts), score, pts, {"left": "right", "right": "left"}.get(side, side)))
    return out


# The lower view: the bottom 60% of the photo. Measured on the shared hand photos (egohands + hand_over_face,
# lite model): photo + mirror found 28/30 hands, + this view 30/30; mean hand IoU on egohands 0.630 -> 0.732.
# Caution: which framing recovers a missed hand is erratic (lower 50% found a different 2 of the 4 misses, 70%
# and 80% one or none), so expect a smaller gain on other photos than on these.
LOWER_SHARE = 0.6


def _lower_hands(rgb: np.ndarray, options: DetectOptions) -> list:
    y0 = int(round((1 - LOWER_SHARE) * rgb.shape[0]))
    out = []
    for box, score, pts, side in _hands_in(np.ascontiguousarray(rgb[y0:]), options, graph="lower"):
        pts = pts + (0.0, y0)
        out.append((_box_of(pts), score, pts, side))
    return out


# A hand is at least this share of a face's size (sqrt of its box area) when it touches the face: a hand beside
# a face is about as large as the face (palm scale / face size 0.25..1.1 on the shared photos), while the lite
# model's "hands" on ears and noses of heads in profile measured 0.08..0.18 (17 of 18 on FASSEG multipose).
MIN_HAND_TO_FACE = 0.2
MAX_INSIDE_FACE = 0.9  # share of a hand's landmarks inside a face mesh's outline (real hands over faces: <= 0.3)


def _implausible_hand(hand, faces) -> bool:
    """True for a "hand" that cannot be one: tiny next to a face it touches, or lying inside a face's mesh."""
    box, _, pts, _ = hand
    for face in faces:
        fx0, fy0, fx1, fy1 = face.box
        size = np.sqrt(max(fx1 - fx0, 1.0) * max(fy1 - fy0, 1.0))
        cx, cy, hw, hh = (fx0 + fx1) / 2, (fy0 + fy1) / 2, 0.65 * (fx1 - fx0), 0.65 * (fy1 - fy0)
        touches = min(box[2], cx + hw) > max(box[0], cx - hw) and min(box[3], cy + hh) > max(box[1], cy - hh)
        if touches and hand_scale(pts) < MIN_HAND_TO_FACE * size:
            return True
        if face.landmark_kind == "face_mesh" and touches:
            hull = cv2.convexHull(face.landmarks.astype(np.float32))
            inside = sum(cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in pts)
            if inside >= MAX_INSIDE_FACE * len(pts):
                return True
    return False


def _hands_in(rgb: np.ndarray, options: DetectOptions, graph: str = "photo") -> list:
    h, w = rgb.shape[:2]
    key, factory = _hands(options.max_hands, options.min_confidence, options.hand_complexity)
    res = _run(key + (graph,), factory, rgb)  # the mirrored pass has its own graph so both can run at once
    out = []
    for lms, handed in zip(res.multi_hand_landmarks or [], res.multi_handedness or []):
        pts = np.array([(p.x * w, p.y * h) for p in lms.landmark], np.float64)
        cls = handed.classification[0]
        # MediaPipe labels handedness as if the photo were mirrored (selfie); ordinary photos are not.
        side = {"Left": "right", "Right": "left"}.get(cls.label, cls.label.lower())
        out.append((_box_of(pts), float(cls.score), pts, side))
    return out
