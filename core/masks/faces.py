"""A face's mask, offline: a smooth outline from its landmarks, then the photo's own colours at the forehead.

The mesh stops below the hairline and its outline, drawn as a few hull points, has corners; the box template of
faces without a mesh is a polygon too. Here every outline is a densely resampled, smoothed closed curve; the
forehead between the mesh's top and a generous limit above it is left to a colour model of this photo (skin goes
on up to the hair), and the mesh's interior (eyes, brows, nose, mouth) is never given up.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..types import Detection, Prompt
from .refine import GUIDE_SIDE, largest_component

FACE_TOP, FACE_CHIN = 10, 152
# The face's inner features, one point group each (right eye, left eye, right brow, left brow, nose, lips; the
# mesh's own FACEMESH_* groups): each group's hull is face whatever the colours say.
FACE_FEATURES = [
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246],
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466],
    [46, 52, 53, 55, 63, 65, 66, 70, 105, 107],
    [276, 282, 283, 285, 293, 295, 296, 300, 334, 336],
    [1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294, 326, 327, 344, 440],
    [0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270,
     291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415]]
# The eyebrows' mesh points (the brow groups above): the forehead starts above them (the outline's push towards
# the hairline tapers to nothing at their height, at the temples).
FACE_BROWS = FACE_FEATURES[2] + FACE_FEATURES[3]
# The features' hulls are shrunk by this share of the face's size before they are certain face: their mesh points
# lie on the features' borders, and in profile the mesh overshoots the silhouette at the nose and lips. FASSEG
# profiles (yaw 75-90) precision 0.859 -> 0.881 (coverage 0.976 -> 0.946; 0.915 before the interior was kept);
# CelebAMask IoU 0.937 -> 0.942; multipose precision 0.903 -> 0.913.
INTERIOR_MARGIN = 0.06
FOREHEAD_EXTRA = 0.10  # the prior's forehead: the mesh's top rows pushed up by this share of the face's length
# How far above the mesh's top the hairline may be (face lengths); skin colour decides up to there. 0.2 / 0.3 /
# 0.4: CelebAMask boundary F 0.735 / 0.742 / 0.718, crowd-sized faces without a mesh IoU 0.721 / 0.747 / 0.749,
# FASSEG unchanged within 0.002.
FOREHEAD_LIMIT = 0.30
OUTLINE_SAMPLES = 160  # points of a resampled outline: corners become smooth curves, not new corners
OUTLINE_SMOOTH = 0.015  # Gaussian smoothing of an outline along its length (share of its perimeter)


@lru_cache(maxsize=1)
def face_oval() -> np.ndarray:
    """The mesh's face-oval ring in order (MediaPipe's FACEMESH_FACE_OVAL edges chained), from the top point."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    nxt = dict(FACEMESH_FACE_OVAL)
    ring = [FACE_TOP]
    while nxt[ring[-1]] != FACE_TOP:
        ring.append(nxt[ring[-1]])
    return np.array(ring)


def face_prior(det: Detection, shape) -> np.ndarray:
    """Face-shaped prior: the smooth outline of `face_outline` with the forehead grown by FOREHEAD_EXTRA."""
    return fill(face_outline(det, FOREHEAD_EXTRA), shape)


def face_outline(det: Detection, forehead: float) -> np.ndarray:
    """The face's outline as a smooth closed curve (float x, y points), the forehead pushed `forehead` face
    lengths up. From the mesh: the hull of all 468 points (in profile the nose and lips stick out past the oval;
    FASSEG multipose feature coverage 0.68 with the oval alone, 0.97 with the hull) and of the oval ring with its
    forehead pushed up along the face's up axis, tapering to nothing at the brows' height (the temples)."""
    if det.landmark_kind == "face_mesh":
        pts = det.landmarks
        ring = pts[face_oval()]
        up = pts[FACE_TOP] - pts[FACE_CHIN]
        length = max(float(np.linalg.norm(up)), 1.0)
        ring = _push_up(ring, up / length, pts[FACE_BROWS].mean(0), pts[FACE_TOP], forehead * length)
        poly = cv2.convexHull(np.vstack([pts, ring]).astype(np.float32))[:, 0]
    else:
        poly, up, base, top = _keypoint_outline(det)
        length = max(float(np.linalg.norm(up)), 1.0)
        poly = _push_up(poly, up / length, base, top, (forehead - FOREHEAD_EXTRA) * length)
    return smooth_outline(poly)


def _push_up(poly: np.ndarray, up: np.ndarray, base, top, amount: float) -> np.ndarray:
    """Move each point above `base` (along unit `up`) up by `amount` times a smooth weight: 0 at the base's
    height, 1 at the top's, so the forehead rises as an arch and the temples stay where they are."""
    if amount == 0:
        return poly
    h = (poly - base) @ up
    w = np.clip(h / max(float((top - base) @ up), 1e-6), 0.0, 1.0)
    w = w * w * (3 - 2 * w)  # smoothstep: no kink where the push starts
    return poly + np.outer(amount * w, up)


def smooth_outline(poly: np.ndarray, samples: int = OUTLINE_SAMPLES, smooth: float = OUTLINE_SMOOTH) -> np.ndarray:
    """A closed polygon resampled evenly along its length and smoothed with a circular Gaussian: its corners
    become arcs (a hexagon becomes a rounded outline), its long sides stay where they were."""
    poly = np.asarray(poly, np.float64)
    closed = np.vstack([poly, poly[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    total = float(seg.sum())
    if total <= 0:
        return poly.astype(np.float32)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(0.0, total, samples, endpoint=False)
    pts = np.stack([np.interp(s, at, closed[:, 0]), np.interp(s, at, closed[:, 1])], 1)
    sigma = smooth * samples
    radius = int(np.ceil(3 * sigma))
    if radius < 1:
        return pts.astype(np.float32)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    wrapped = np.vstack([pts[-radius:], pts, pts[:radius]])
    out = np.stack([np.convolve(wrapped[:, i], k, mode="valid") for i in range(2)], 1)
    return out.astype(np.float32)


def fill(poly: np.ndarray, shape) -> np.ndarray:
    """A bool mask of a float polygon, drawn with sub-pixel vertices (no rounding of each vertex to the grid)."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(poly) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


# The face's outline relative to BlazeFace's box (x in box widths, y in box heights, from the box's centre; right
# half, top to bottom, mirrored for the left): the mean mesh-based prior of 462 mesh-confirmed faces (portraits,
# profiles, crowds) in box coordinates. The box spans brow to chin, so the face reaches above it (the forehead)
# and is a little narrower. Used when FaceMesh cannot confirm the face (small, masked, blurred), where the sparse
# keypoints alone drew a poorer outline: downscaled CelebAMask faces of 28-77 px, IoU 0.67 -> 0.8+.
_BOX_FACE_RIGHT = [(0.13, -0.63), (0.30, -0.58), (0.38, -0.50), (0.42, -0.40), (0.455, -0.20), (0.44, 0.10),
                   (0.40, 0.21), (0.34, 0.33), (0.15, 0.46)]
BOX_FACE = np.array(_BOX_FACE_RIGHT + [(-x, y) for x, y in reversed(_BOX_FACE_RIGHT)])
BOX_FACE_BROWS = -0.40  # the template's brow height (box heights from the centre): its forehead starts above


def _keypoint_outline(det: Detection) -> tuple:
    """A face outline without a mesh, with the face's up vector (chin to the outline's top), the height the
    forehead starts at and the outline's top: (polygon, up, base, top). From BlazeFace (box + 6 keypoints): the
    mean face outline placed in its box. From Pose's 11 head keypoints (profiles: no box of BlazeFace's kind):
    eyes/nose/mouth/ears, grown up to the brow and down to the chin by the eye-mouth distance."""
    if det.landmark_kind == "face_keypoints":
        x0, y0, x1, y1 = det.box
        centre, size = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), np.array([x1 - x0, y1 - y0])
        poly = (centre + BOX_FACE * size).astype(np.float32)
        top, chin = centre + [0, BOX_FACE[:, 1].min() * size[1]], centre + [0, BOX_FACE[:, 1].max() * size[1]]
        return poly, top - chin, centre + [0, BOX_FACE_BROWS * size[1]], top
    pts = det.landmarks
    eyes, mouth = pts[1:7], pts[9:11]
    eye_c, mouth_c = eyes.mean(0), mouth.mean(0)
    down = mouth_c - eye_c
    unit = max(np.linalg.norm(down), 1.0)
    down = down / unit
    side = np.array([-down[1], down[0]])
    extra = [eye_c - 1.0 * unit * down, mouth_c + 0.9 * unit * down]
    extra += [p - 0.6 * unit * down for p in eyes] + [p + 0.5 * unit * down + s * 0.4 * unit * side
                                                      for p in mouth for s in (-1, 1)]
    hull = cv2.convexHull(np.vstack([pts, np.array(extra)]).astype(np.float32))[:, 0, :]
    top, chin = eye_c - 1.0 * unit * down, mouth_c + 0.9 * unit * down
    return hull, top - chin, eye_c - 0.3 * unit * down, top


def face_interior(det: Detection, shape) -> np.ndarray:
    """Where the face is whatever the colours say (bool HxW): the hull of each of the mesh's features (eyes,
    brows, nose, lips); without a mesh, the hull of the detector's eye, nose and mouth keypoints. One hull over
    all the features would take in background beside a profile's nose and lips."""
    mask = np.zeros(shape[:2], bool)
    for hull in _feature_hulls(det):
        mask |= fill(hull, shape)
    return mask


def _feature_hulls(det: Detection) -> list:
    pts = det.landmarks
    if det.landmark_kind == "face_mesh":
        groups = [pts[g] for g in FACE_FEATURES]
    elif det.landmark_kind == "face_keypoints":
        groups = [pts[:4]]  # BlazeFace: right eye, left eye, nose tip, mouth centre (5 and 6 are the ears)
    else:
        groups = [pts[[0, 1, 2, 3, 4, 5, 6, 9, 10]]]  # Pose: nose, eyes, mouth (7 and 8 are the ears)
    hulls = [cv2.convexHull(g.astype(np.float32))[:, 0] for g in groups]
    if INTERIOR_MARGIN > 0:
        size = np.sqrt(max(cv2.contourArea(cv2.convexHull(pts.astype(np.float32))), 1.0))
        hulls = [_shrink(h, INTERIOR_MARGIN * size) for h in hulls]
    return [h for h in hulls if len(h) >= 3]


def _shrink(poly: np.ndarray, by: float) -> np.ndarray:
    """A convex polygon with every point moved `by` pixels towards its centroid (at most halfway)."""
    c = poly.mean(0)
    d = poly - c
    r = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    return (c + d * np.maximum(1 - by / r, 0.5)[:, None]).astype(np.float32)


# The prior's border may move this far in / out (share of the face's size, sqrt of its area): as measured for the
# old GrabCut band, (0.12, 0.04) trims hair and background at profile silhouettes.
REFINE_INNER, REFINE_OUTER = 0.12, 0.04
# Refinement works on a crop scaled so the face is this many pixels across (up or down, at most MAX_UPSCALE up):
# the border then spans several working pixels at every face size. 48 -> 64: CelebAMask boundary F 0.742 -> 0.752,
# straight-edge share of small faces (examples, crowd-sized faces) 0.11-0.15 -> 0.08-0.11, FASSEG unchanged.
WORK_FACE = 64
# The background's colours are learnt from a ring this wide (share of the face's size) around the prior, not from
# the whole 1.5x expanded box: nearer colours, and GrabCut's cost grows with the window's area. Measured against the
# expanded box: CelebAMask IoU 0.942 -> 0.947, boundary F 0.770 -> 0.799; FASSEG frontal precision 0.953 -> 0.954,
# multipose 0.912 -> 0.914 (coverage 0.979 -> 0.980); straight-edge share 0.014 -> 0.008 and 0.024 -> 0.023.
# (0.15: CelebAMask bF lower; 0.4: between.) WORK_FACE 48 and 56 cost less but lost bF on CelebAMask (0.72, 0.75).
CONTEXT = 0.25
MAX_UPSCALE = 4.0
WORK_SMOOTH = 1.0  # the working mask is blurred by this many working pixels before its upscale
CONTOUR_SMOOTH = 0.01  # the final outline is smoothed along its length by this share of its perimeter


def refine_face(image: np.ndarray, prompt: Prompt) -> np.ndarray:
    """The face's final offline mask from its prompt: GrabCut on a crop scaled so the face is WORK_FACE pixels
    across. Certain face: the prior's core and the features' hulls (kept whatever GrabCut says); maybe face: the
    prior, and skin-coloured pixels (this face's own skin model) up to FOREHEAD_LIMIT above the mesh, so the
    forehead reaches the hairline; maybe background: a thin ring outside the prior; hair above the forehead and
    everything further out is background. The working mask comes back as a smooth outline (`_smooth_upscale`)."""
    det, prior = prompt.detection, prompt.prior
    area = float(prior.sum())
    if area < 16:
        return prior
    size = np.sqrt(area)
    limit = face_outline(det, FOREHEAD_LIMIT)
    inner = _feature_hulls(det)
    H, W = prior.shape
    grow = max(REFINE_OUTER, CONTEXT) * size + 4
    x, y, w, h = cv2.boundingRect(prior.astype(np.uint8))
    lx0, ly0 = np.floor(limit.min(0)).astype(int)
    lx1, ly1 = np.ceil(limit.max(0)).astype(int)
    if prompt.maybe is not None and prompt.maybe.any():  # a visitor's added point: the window holds its reach
        mx, my, mw, mh = cv2.boundingRect(prompt.maybe.astype(np.uint8))
        lx0, ly0, lx1, ly1 = min(lx0, mx), min(ly0, my), max(lx1, mx + mw), max(ly1, my + mh)
    x0 = max(0, int(min(x - grow, lx0 - 2)))
    y0 = max(0, int(min(y - grow, ly0 - 2)))
    x1 = min(W, int(max(x + w + grow, lx1 + 2)))
    y1 = min(H, int(max(y + h + grow, ly1 + 2)))
    s = min(MAX_UPSCALE, WORK_FACE / size)
    sw, sh = max(int(round((x1 - x0) * s)), 8), max(int(round((y1 - y0) * s)), 8)
    sx, sy = sw / (x1 - x0), sh / (y1 - y0)

    def small_poly(poly):
        return (np.asarray(poly) - [x0, y0]) * [sx, sy]

    small_img = cv2.resize(image[y0:y1, x0:x1], (sw, sh),
                           interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    small_prior = cv2.resize(prior[y0:y1, x0:x1].astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0.5
    ssize = size * s
    r_in, r_out = max(int(round(REFINE_INNER * ssize)), 1), max(int(round(REFINE_OUTER * ssize)), 1)
    core = cv2.erode(small_prior.astype(np.uint8), _disc(r_in)) > 0
    grown = cv2.dilate(small_prior.astype(np.uint8), _disc(r_out)) > 0
    sure = np.zeros((sh, sw), bool)
    for hull in inner:
        sure |= fill(small_poly(hull), (sh, sw))
    gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    forehead = fill(small_poly(limit), (sh, sw)) & ~grown
    gc[grown] = cv2.GC_PR_BGD
    skin = _skin_like(small_img, core & ~cv2.dilate(sure.astype(np.uint8), _disc(1)).astype(bool))
    gc[forehead & skin] = cv2.GC_PR_FGD  # skin above the mesh may be forehead; anything else there is hair
    gc[small_prior] = cv2.GC_PR_FGD
    visitor = _visitor_points(prompt, (x0, y0, x1, y1), (sw, sh))
    if visitor is not None:  # a visitor's points: the reach of an added one may be face, a cut one is not
        maybe, added, cut = visitor
        gc[maybe & (gc != cv2.GC_FGD)] = cv2.GC_PR_FGD
        sure = (sure | added) & ~cut
        core = core & ~cut
    gc[core | sure] = cv2.GC_FGD
    if visitor is not None:
        gc[visitor[2]] = cv2.GC_BGD
    if (gc == cv2.GC_FGD).sum() < 4 or (gc == cv2.GC_BGD).sum() < 4:
        return prior
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means: same photo, same mask
        cv2.grabCut(cv2.cvtColor(small_img, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 1,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return prior
    small = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    small = _fill_holes(largest_component(small | sure, None if visitor is None else visitor[1]))
    if visitor is not None:
        small &= ~visitor[2]
    out = _smooth_upscale(small, image[y0:y1, x0:x1], (x0, y0), (sx, sy), prior.shape)
    out |= prompt.sure if prompt.sure is not None else face_interior(det, prior.shape)
    return out if prompt.cut is None else out & ~prompt.cut


def _visitor_points(prompt: Prompt, window, size):
    """(maybe, added, cut) of a visitor's points at the working size, or None when there are none."""
    if prompt.maybe is None and prompt.cut is None:
        return None
    x0, y0, x1, y1 = window

    def small(m):
        if m is None:
            return np.zeros((size[1], size[0]), bool)
        return cv2.resize(m[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0

    return small(prompt.maybe), small(prompt.added), small(prompt.cut)


SKIN_CHI2 = 11.3  # skin-coloured: within this squared Mahalanobis distance of the skin model (99% of a 3-D Gaussian)


def _skin_like(rgb: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Pixels whose colour fits a Gaussian skin model (CIE Lab) learnt from `sample`, this face's own skin."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    x = lab[sample.ravel()]
    if len(x) < 8:
        return np.zeros(rgb.shape[:2], bool)
    mean = x.mean(0)
    # The covariance and its inverse without BLAS or LAPACK: OpenBLAS hands even a 3x3 inverse to its threads,
    # which wait for a core while the other instances' refinements hold both (2 ms a face under load, 10 us idle).
    centred = x - mean
    cov = np.einsum("ij,ik->jk", centred, centred) / max(len(x) - 1, 1)
    cov += np.eye(3) * 4.0  # a floor: flat-lit skin must not give a singular model
    d = lab - mean
    d2 = np.einsum("ij,jk,ik->i", d, cv2.invert(cov, flags=cv2.DECOMP_LU)[1], d)
    return (d2 < SKIN_CHI2).reshape(rgb.shape[:2])


def _smooth_upscale(small: np.ndarray, crop: np.ndarray, origin, scale, shape) -> np.ndarray:
    """The working mask at the photo's size, without the working grid's stairs or the graph cut's axis-parallel
    runs: blurred by WORK_SMOOTH working pixels, upscaled as a soft map, snapped to the photo's own edges with a
    guided filter where each working pixel covers several photo pixels, thresholded, and its outline smoothed
    along its length (CONTOUR_SMOOTH of its perimeter) and drawn with sub-pixel vertices."""
    h, w = crop.shape[:2]
    soft = cv2.GaussianBlur(small.astype(np.float32), (0, 0), WORK_SMOOTH)
    g = min(1.0, GUIDE_SIDE / max(h, w))
    gw, gh = max(int(round(w * g)), 1), max(int(round(h * g)), 1)
    soft = cv2.resize(soft, (gw, gh), interpolation=cv2.INTER_LINEAR)
    up = g / min(scale)
    if up > 1.5 and hasattr(cv2, "ximgproc"):
        guide = crop if g == 1.0 else cv2.resize(crop, (gw, gh), interpolation=cv2.INTER_AREA)
        soft = cv2.ximgproc.guidedFilter(guide, soft, max(2, int(round(up))), 1e-3)
    cs, _ = cv2.findContours((soft > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not cs:
        return np.zeros(shape[:2], bool)
    c = max(cs, key=cv2.contourArea)[:, 0].astype(np.float64)
    c = smooth_outline(c, max(len(c), 32), CONTOUR_SMOOTH) if CONTOUR_SMOOTH > 0 else c
    return fill((c + 0.5) / g - 0.5 + origin, shape)


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every enclosed hole filled (an open mouth, a glint on the glasses)."""
    outside = np.pad(~mask, 1, constant_values=True)
    n, labels = cv2.connectedComponents(outside.astype(np.uint8), connectivity=4)
    keep = labels == labels[0, 0]
    return ~keep[1:-1, 1:-1]
