"""Faces: BlazeFace short- and full-range, merged; FaceMesh on each face's crop; Pose for heads in profile.

The short-range model finds faces in full profile (all 182 FASSEG multipose photos, yaw -90..+90) where the
full-range one does not. FaceMesh on the whole photo misses small faces, so it runs on each detected face's crop;
its 468 points give the face's outline. Group photos (two faces, or one small one) also get tiles at two scales,
on which faces too small for BlazeFace's 128-192 px view of the whole photo are found. A face the mesh does not
confirm is kept only with other evidence (`confirmed_faces`). Only when nothing at all is found does the (slow,
~22 ms) Pose model look for a head.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..types import Detection
from . import graphs
from .geometry import box_crop, box_iou, box_of


def detect_faces(rgb: np.ndarray, min_confidence: float = 0.5, max_faces: int = 20, tiles: bool = True) -> list:
    """Faces in the photo, strongest first, each with mesh points when FaceMesh confirms it."""
    h, w = rgb.shape[:2]
    short, full = faces_in(rgb, 0, min_confidence), faces_in(rgb, 1, min_confidence)
    faces = non_max_suppression(short + full, 0.3)
    if tiles and _looks_like_a_group(faces, h):
        faces = non_max_suppression(faces + _faces_on_tiles(rgb, min_confidence), 0.3)
        faces = non_max_suppression(faces + _faces_on_fine_tiles(rgb, faces, min_confidence), 0.3)
    faces = faces[:max_faces]
    both = [any(box_iou(f[0], a[0]) > 0.3 for a in short) and any(box_iou(f[0], b[0]) > 0.3 for b in full)
            for f in faces]
    return confirmed_faces(rgb, [face_detection(rgb, f) for f in faces], both)


# A face that FaceMesh does not confirm needs more evidence than a detector score of 0.5: on random-noise photos
# BlazeFace reports "faces" at 0.50-0.64 (9 of 16 640x480 noise images), and on first-person frames large false
# faces at 0.51-0.69 lie over the players' hands. Real faces go without a mesh too: heads in profile (FASSEG, 0.50
# to 0.93) and small or masked faces in crowds (the mesh confirms about half of the real crowd faces under 32 px,
# and 80% above). So an unconfirmed face is kept with one independent piece of evidence:
SURE_FACE_SCORE = 0.75  # the detector itself is sure (noise peaked at 0.64)
POSE_AGREEMENT = 0.3  # the Pose model puts a head there (box IoU with the head Pose outlines)
# In a group (two or more faces found), where faces too small or too covered for the mesh are common, a score
# above what noise gets is enough, for a face no larger than COMPANY_SIZE times the largest mesh-confirmed one (the
# mesh fails on small faces, not on large ones). Crowd photos, unconfirmed faces at >= 0.65: 201 on labelled faces,
# 51 away from any label (some of them real, unlabelled faces), against 260 and 205 at >= 0.5.
GROUP_FACE_SCORE = 0.65
COMPANY_SIZE = 1.5


def confirmed_faces(rgb: np.ndarray, faces: list, both_ranges: list | None = None) -> list:
    """Faces confirmed by FaceMesh, or by one other piece of evidence: a sure score, both BlazeFace ranges, a
    group's score, or a head found by Pose at the same place."""
    both_ranges = both_ranges or [False] * len(faces)

    def size(f):
        return float(np.sqrt(max(f.box[2] - f.box[0], 1.0) * max(f.box[3] - f.box[1], 1.0)))

    meshed = [size(f) for f in faces if f.landmark_kind == "face_mesh"]
    group = len(faces) >= 2

    def grouped(f) -> bool:
        return group and f.score >= GROUP_FACE_SCORE and (not meshed or size(f) <= COMPANY_SIZE * max(meshed))

    unsure = [f for f, both in zip(faces, both_ranges)
              if f.landmark_kind != "face_mesh" and f.score < SURE_FACE_SCORE and not both and not grouped(f)]
    if not unsure:
        return faces
    heads = [head[0] for head in faces_from_pose(rgb)]
    return [f for f in faces if f not in unsure or any(box_iou(f.box, b) >= POSE_AGREEMENT for b in heads)]


def faces_in(rgb: np.ndarray, selection: int, conf: float, offset=(0, 0), view: str = "photo") -> list:
    """BlazeFace (0: short range, 1: full range) on `rgb`: [(box, score, keypoints, "face_detection")] with
    score >= conf, in the coordinates of the photo `rgb` was cut from at `offset`."""
    h, w = rgb.shape[:2]
    res = graphs.run(("face_detection", selection, view), rgb)
    out = []
    ox, oy = offset
    for det in res.detections or []:
        score = float(det.score[0])
        if score < conf:
            continue
        rb = det.location_data.relative_bounding_box
        box = (rb.xmin * w + ox, rb.ymin * h + oy, (rb.xmin + rb.width) * w + ox, (rb.ymin + rb.height) * h + oy)
        kps = np.array([(k.x * w + ox, k.y * h + oy) for k in det.location_data.relative_keypoints], np.float64)
        out.append((box, score, kps, "face_detection"))
    return out


# Group photos get a 3x3 grid of half-size tiles: BlazeFace sees the photo at 128 or 192 px, so in a group photo
# or a crowd a face of a tenth of the photo's height shrinks below what it can find; on a half-size tile it is
# twice as big. Then the short-range model looks at small tiles about FINE_TILE_FACES faces across, sized from
# the faces found: it finds most remaining crowd faces of 32-64 px (64 of 86 misses found on crops 2x their size).
FINE_TILE_FACES = 3.0
MAX_FINE_TILES = 48


def _looks_like_a_group(faces: list, height: int) -> bool:
    """Tiles cost extra detector passes, so they run only where more small faces are likely: two or more faces
    found, or one small face (a portrait or close-up, one large face, skips the tiles)."""
    return len(faces) >= 2 or (len(faces) == 1 and faces[0][0][3] - faces[0][0][1] < 0.2 * height)


def _faces_on_fine_tiles(rgb: np.ndarray, faces: list, conf: float) -> list:
    """Short-range BlazeFace on overlapping square tiles FINE_TILE_FACES times the median found face's size
    (larger tiles when that would take more than MAX_FINE_TILES); faces cut by a tile's inner edge are left to
    the tile that holds them whole."""
    h, w = rgb.shape[:2]
    face = float(np.median([max(f[0][2] - f[0][0], f[0][3] - f[0][1]) for f in faces]))
    side = max(FINE_TILE_FACES * face, 48.0)
    while (np.ceil(w / (side / 2)) * np.ceil(h / (side / 2))) > MAX_FINE_TILES:
        side *= 1.25
    t = int(round(min(side, w, h)))
    out = []
    for y0 in _starts(h, t):
        for x0 in _starts(w, t):
            tile = np.ascontiguousarray(rgb[y0:y0 + t, x0:x0 + t])
            for found in faces_in(tile, 0, conf, (x0, y0), view="tile"):
                if not _touches_inner_edge(found[0], x0, y0, t, t, w, h):
                    out.append(found)
    return out


def _starts(length: int, tile: int) -> list:
    """Tile origins along one side: half-tile steps, the last tile flush with the end."""
    if tile >= length:
        return [0]
    n = int(np.ceil((length - tile) / (tile / 2))) + 1
    return [int(v) for v in np.linspace(0, length - tile, n)]


def _faces_on_tiles(rgb: np.ndarray, conf: float, grid: int = 3) -> list:
    """Full-range BlazeFace on a grid x grid set of tiles, each half the photo's size (so neighbours overlap and
    every face lies whole inside some tile); a face cut by a tile's inner edge is left to the tile that holds it."""
    h, w = rgb.shape[:2]
    th, tw = h // 2, w // 2
    out = []
    for y0 in np.linspace(0, h - th, grid).astype(int):
        for x0 in np.linspace(0, w - tw, grid).astype(int):
            tile = np.ascontiguousarray(rgb[y0:y0 + th, x0:x0 + tw])
            for box, score, kps, source in faces_in(tile, 1, conf, (x0, y0), view="tile"):
                if not _touches_inner_edge(box, x0, y0, tw, th, w, h):
                    out.append((box, score, kps, source))
    return out


def _touches_inner_edge(box, x0, y0, tw, th, w, h, margin: float = 2.0) -> bool:
    return ((x0 > 0 and box[0] <= x0 + margin) or (y0 > 0 and box[1] <= y0 + margin)
            or (x0 + tw < w and box[2] >= x0 + tw - margin) or (y0 + th < h and box[3] >= y0 + th - margin))


def face_detection(rgb: np.ndarray, found) -> Detection:
    """The mesh on the face's crop when FaceMesh confirms it; else the detector's keypoints."""
    box, score, kps, source = found
    mesh = mesh_on_crop(rgb, box)
    if mesh is not None:
        return Detection("face", box_of(mesh), score, mesh, "face_mesh", source)
    kind = "pose_keypoints" if source == "pose" else "face_keypoints"
    return Detection("face", tuple(float(v) for v in box), score, kps, kind, source)


def non_max_suppression(found: list, iou: float) -> list:
    keep = []
    for item in sorted(found, key=lambda f: -f[1]):
        if all(box_iou(item[0], k[0]) < iou for k in keep):
            keep.append(item)
    return keep


MESH_SIDE = 384  # FaceMesh's crop is resized to this (its detector looks at 128 px, its landmark model 192 px)


def mesh_on_crop(rgb: np.ndarray, box) -> np.ndarray | None:
    """468 face-mesh points for the face in `box`, or None when FaceMesh does not confirm a face there."""
    crop, x0, y0 = box_crop(rgb, box, 2.0)
    if crop is None:
        return None
    side = crop.shape[0]
    interp = cv2.INTER_AREA if side > MESH_SIDE else cv2.INTER_LINEAR
    res = graphs.run(("face_mesh",), cv2.resize(crop, (MESH_SIDE, MESH_SIDE), interpolation=interp))
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    pts = np.array([(p.x * side + x0, p.y * side + y0) for p in lm], np.float64)
    # FaceMesh found a face in the crop; accept it only if it is the face that was detected.
    if box_iou(box_of(pts), box) < 0.2:
        return None
    return pts


# Pose landmark indices 0-10: nose, eyes (inner, centre, outer) x2, ears, mouth corners.
_POSE_HEAD = list(range(11))


def faces_from_pose(rgb: np.ndarray) -> list:
    """A head box from Pose keypoints: Pose sees heads in profile where BlazeFace does not."""
    res = graphs.run(("pose",), rgb)
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
