"""Where an unfound hand may be, and a second look there at the right scale.

The palm detector sees the whole photo at 192 px, so whether it finds a hand depends on the hand's size and
place in the frame; run on a square crop about twice the hand's size around it, it finds most of the hands it
missed. Proposals say where to crop:
- skin: a colour model learnt from this photo's own found faces and hands (their landmark outlines are skin)
  marks regions of the same colour that no found instance explains and that are large enough to be a hand;
- hints: a point a user clicked, looked at in crops of three sizes for a face or a hand.
A photo with no proposal pays nothing extra. `pose_proposals` (the wrists of the one person Pose finds) is kept for
`bench.proposals`, which measures each source on its own: it recovered 18% of simulated misses against the skin
model's 59%, at twice the cost, so `detect` does not use it.
"""
from __future__ import annotations

import cv2
import numpy as np

from .faces import SURE_FACE_SCORE, face_detection, faces_in
from .geometry import box_of, hand_scale, square_crop
from .hands import hands_in
from .trace import submit

SKIN_SIDE = 160  # the colour model works on the photo shrunk to this longer side (regions, not edges)
SKIN_BINS = 32  # Cr x Cb histogram bins: chrominance only, so shading and light level matter little
SKIN_RATIO = 4.0  # a pixel is skin-like where its colour is this many times likelier on found skin than overall
MAX_PROPOSALS = 3  # second looks per photo (each costs one Hands pass on a crop, ~5-10 ms; two run at once)
CROP_SCALE = 2.0  # crop side / proposed hand size (the palm detector wants context around the hand)
# Skin next to a found instance that is explained by it: a hand's own wrist and forearm (a wide margin), a face's
# ears and neck (a narrow one: hands over and beside faces are what this search is for).
HAND_MARGIN, FACE_MARGIN = 0.25, 0.15
MIN_BLOB_SHARE = 0.25  # a skin region is a proposal when its area is at least this share of a found hand's area


def skin_proposals(rgb: np.ndarray, faces: list, hands: list) -> list:
    """[(centre_xy, crop_side)] for skin-coloured regions not covered by any found face or hand."""
    return skin_evidence(rgb, faces, hands)[0]


def skin_evidence(rgb: np.ndarray, faces: list, hands: list) -> tuple:
    """(proposals as `skin_proposals`, whether skin-coloured area that no found instance explains is left).

    The second answer gates the search for lost hands (`plan.py`). It asks less of the colour than the proposals
    do: a pixel is skin-coloured when its chrominance is among the colours that hold SKIN_MASS of the found
    instances' own skin (the proposals' likelihood ratio cannot mark skin where skin fills a large share of the
    photo, a portrait, and a hand there would go unseen), and, where the found skin lies in the standard skin
    range, in that range too (`_skin_range_if_fits`: a grey wall or dark hair is not skin of any tone). A region
    of such colour outside every found instance's margin and every found face's head (`_hair`), at least
    MIN_BLOB_SHARE of a hand's area, may be a lost hand; so may anything where nothing was found
    to learn skin from. A background of skin colour (a wooden table) is such a region: there the colour cannot rule
    a hand out, and the search runs."""
    found = [f.landmarks for f in faces] + [h[2] for h in hands]
    margins = [FACE_MARGIN] * len(faces) + [HAND_MARGIN] * len(hands)
    if not found:
        return [], True
    h, w = rgb.shape[:2]
    s = min(1.0, SKIN_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA)
    crcb = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)[:, :, 1:]
    skin = np.zeros(small.shape[:2], np.uint8)
    covered = np.zeros(small.shape[:2], np.uint8)
    for pts, margin in zip(found, margins):
        hull = cv2.convexHull(np.round(pts * s).astype(np.int32))
        cv2.fillPoly(skin, [hull], 1)
        x0, y0, x1, y1 = box_of(pts * s)
        grow = margin * max(x1 - x0, y1 - y0)
        cv2.rectangle(covered, (int(x0 - grow), int(y0 - grow)), (int(x1 + grow), int(y1 + grow)), 1, -1)
    if skin.sum() < 8:
        return [], True
    ranges = [0, 256, 0, 256]
    on_skin = cv2.calcHist([crcb], [0, 1], skin, [SKIN_BINS, SKIN_BINS], ranges)
    overall = cv2.calcHist([crcb], [0, 1], None, [SKIN_BINS, SKIN_BINS], ranges)
    ratio = (on_skin / on_skin.sum()) / np.maximum(overall / overall.sum(), 1e-6)
    bins = (crcb.astype(np.int32) * SKIN_BINS) // 256
    # The expected hand size: the found hands' palms, else half a face (a hand is about as large as a face).
    sizes = [hand_scale(hd[2]) for hd in hands] or [0.5 * np.sqrt((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                                                    for f in faces]
    palm = float(np.median(sizes)) * s
    hand_area = (1.6 * palm) ** 2  # a hand's area is about (1.6 x palm size)^2 ...
    hand_side = 2.5 * palm  # ... and its box side, fingers spread, about 2.5 x palm size
    not_hands = covered | _hair(faces, s, covered.shape) | (1 - _skin_range_if_fits(crcb, skin))
    unexplained = _skin_left(on_skin.ravel(), bins, not_hands, MIN_BLOB_SHARE * hand_area)
    likely = (ratio[bins[:, :, 0], bins[:, :, 1]] >= SKIN_RATIO).astype(np.uint8)
    likely[covered > 0] = 0
    likely = cv2.morphologyEx(likely, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, centres = cv2.connectedComponentsWithStats(likely, connectivity=8)
    blobs = [(stats[i, cv2.CC_STAT_AREA], i) for i in range(1, n)
             if stats[i, cv2.CC_STAT_AREA] >= MIN_BLOB_SHARE * hand_area]
    out = []
    for _, i in sorted(blobs, reverse=True):
        for centre in _places_in_blob(labels == i, centres[i], hand_side):
            out.append((tuple(np.asarray(centre) / s), CROP_SCALE * hand_side / s))
    return out[:MAX_PROPOSALS], bool(out) or unexplained


SKIN_MASS = 0.9  # the found skin's colours: the fewest chrominance bins that hold this share of its pixels
# Chrominance says little where there is little colour: grey walls, white, and dark hair all sit near the neutral
# Cr = Cb = 128, where pale skin's colours (32 bins of 8 levels) sit too, so on plain portraits a grey wall or the
# hair was "skin no found instance explains" and the lost-hand search ran for nothing (168 of 182 FASSEG multipose
# heads, 8 of 35 frontal ones; it found no hand of its own on any). Skin of every tone lies in the standard range
# (SKIN_CR, SKIN_CB, below), which leaves neutral colours out; so where this photo's found skin lies in it
# (FIT_SHARE of its pixels), unexplained skin must lie in it too. Where the photo's light puts its found skin
# outside the range, the range says nothing of this photo and is not asked.
FIT_SHARE = 0.5


# Hair is the other colour a face brings with it that its skin does not explain: blond, brown and red hair lie in the
# skin range (after the range test, the hair, ears and neck of 29 FASSEG heads in profile, one of two CelebAMask
# portraits and one of five Hand-over-Face ones still started the lost-hand search, which found no hand of its own on
# any of them). A head with its hair spans about half a face beyond the face on each side and above it, and long hair
# falls beside the neck to the shoulders, half a face below the chin: skin-coloured area there is the head's, as area
# over the face is (FACE_MARGIN). Under the chin is the neck, where hands are often held: it stays searched. A hand in
# the head region that the photo view misses is left to the second look (the skin proposals ask more of the colour and
# still look there); a hand reaching out of that region still starts the search (a quarter of a hand outside it is
# enough). Dropping each found hand in turn (403 on the shared hand, crowd and example photos) as if the photo view
# had missed it, the search still ran for 397 (400 before the range and head tests). The search now runs on 1 of 182
# FASSEG heads, no CelebAMask portrait and 4 of 5 Hand-over-Face ones.
HAIR_SIDE, HAIR_UP, HAIR_DOWN = 0.6, 0.6, 0.5  # shares of the face box's width, height, height


def _hair(faces: list, s: float, shape) -> np.ndarray:
    """1 over each found face's head region (`HAIR_SIDE`, ...), on the skin model's grid (photo scaled by `s`)."""
    heads = np.zeros(shape, np.uint8)
    for f in faces:
        x0, y0, x1, y1 = np.asarray(f.box, np.float64) * s
        fw, fh = x1 - x0, y1 - y0
        cv2.rectangle(heads, (int(x0 - HAIR_SIDE * fw), int(y0 - HAIR_UP * fh)),
                      (int(x1 + HAIR_SIDE * fw), int(y1 + HAIR_DOWN * fh)), 1, -1)
        cv2.rectangle(heads, (int(x0), int(y1) + 1), (int(x1), int(y1 + HAIR_DOWN * fh)), 0, -1)  # under the chin
    return heads


def _skin_range_if_fits(crcb: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """1 where a pixel may count as unexplained skin: in the standard skin range, when the found skin is (else 1
    everywhere)."""
    inside = in_skin_range(crcb[:, :, 0], crcb[:, :, 1]).astype(np.uint8)
    if inside[skin > 0].mean() < FIT_SHARE:
        return np.ones_like(inside)
    return inside


def _skin_left(on_skin: np.ndarray, bins: np.ndarray, covered: np.ndarray, min_area: float) -> bool:
    """Whether a region of the found skin's colours (SKIN_MASS) of at least `min_area` pixels lies outside every
    found instance's margin."""
    order = np.argsort(-on_skin)
    cum = np.cumsum(on_skin[order]) / on_skin.sum()
    colours = np.zeros(on_skin.size, bool)
    colours[order[:int(np.searchsorted(cum, SKIN_MASS)) + 1]] = True
    left = colours[bins[:, :, 0] * SKIN_BINS + bins[:, :, 1]].astype(np.uint8)
    left[covered > 0] = 0
    left = cv2.morphologyEx(left, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(left, connectivity=8)
    return any(stats[i, cv2.CC_STAT_AREA] >= min_area for i in range(1, n))


def _places_in_blob(blob: np.ndarray, centre, hand_side: float) -> list:
    """Where a hand may be in a skin region: its centre when it is about a hand's size; otherwise (an arm and its
    hand, two hands touching) both ends of its long axis, half a hand inside the region."""
    ys, xs = np.nonzero(blob)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    if len(pts) < 3:
        return [centre]
    mean = pts.mean(0)
    _, _, vt = np.linalg.svd(pts - mean, full_matrices=False)
    along = (pts - mean) @ vt[0]
    if along.max() - along.min() <= 1.5 * hand_side:
        return [centre]
    inset = 0.5 * hand_side
    return [mean + (along.max() - inset) * vt[0], mean + (along.min() + inset) * vt[0]]


def hands_in_crop(rgb: np.ndarray, centre, side: float, conf: float, complexity: int = 0, view: str = "crop") -> list:
    """Hands found in a square crop around `centre`, in photo coordinates (hands cut by the photo's border are
    kept: the crop is padded there)."""
    crop, x0, y0 = square_crop(rgb, centre, side)
    if crop is None:
        return []
    return hands_in(crop, conf, complexity, view=view, offset=(x0, y0))


def look_again(rgb: np.ndarray, proposals: list, conf: float, complexity: int = 0, pool=None) -> list:
    """Hands found at the proposals, two crops at a time when a thread pool is given."""
    jobs = [(c, side, f"crop{k % 2}") for k, (c, side) in enumerate(proposals)]
    if pool is not None and len(jobs) > 1:
        futures = [submit(pool, hands_in_crop, rgb, c, side, conf, complexity, view) for c, side, view in jobs]
        results = [f.result() for f in futures]
    else:
        results = [hands_in_crop(rgb, c, side, conf, complexity, view) for c, side, view in jobs]
    return [hand for found in results for hand in found]


# Pose landmarks of each arm: wrist, pinky, index (left arm 15, 17, 19; right arm 16, 18, 20).
_ARMS = ((15, 17, 19), (16, 18, 20))
POSE_VISIBLE = 0.5  # Pose's own visibility score for the wrist


def pose_proposals(rgb: np.ndarray, faces: list, hands: list) -> list:
    """[(centre_xy, crop_side)] at the wrists of the person Pose finds (one person per photo), where no found
    hand is: the hand lies around the wrist, index and pinky points, and its size follows from them."""
    from . import graphs

    res = graphs.run(("pose",), rgb)
    if not res.pose_landmarks:
        return []
    h, w = rgb.shape[:2]
    lm = res.pose_landmarks.landmark
    out = []
    for wrist, pinky, index in _ARMS:
        if lm[wrist].visibility < POSE_VISIBLE:
            continue
        pts = np.array([(lm[i].x * w, lm[i].y * h) for i in (wrist, pinky, index)])
        centre = pts.mean(0)
        size = max(np.linalg.norm(pts[1] - pts[2]), 0.5 * np.linalg.norm(pts[0] - pts[1:].mean(0)), 8.0)
        side = CROP_SCALE * 2.5 * size  # wrist-to-knuckles spans about 0.4 of a hand's length
        if any(hd[0][0] <= centre[0] <= hd[0][2] and hd[0][1] <= centre[1] <= hd[0][3] for hd in hands):
            continue
        out.append((tuple(centre), side))
    return out


HINT_SCALES = (0.25, 0.45, 0.8)  # crop sides around a hint, as shares of the photo's shorter side


# A face at a click with neither the mesh nor a sure score needs skin: at least this share of its box in the
# standard skin chrominance range (Cr 133-173, Cb 77-127; Chai and Ngan 1999, chosen across skin tones). A face's
# box is mostly skin (a masked face still shows 25-97% in the shared photos); BlazeFace's "faces" on foliage,
# walls and tables at a click show 0-3%.
HINT_FACE_SKIN = 0.25
SKIN_CR, SKIN_CB = (133, 173), (77, 127)


def in_skin_range(cr, cb):
    """Whether chrominance (Cr, Cb; arrays or numbers) lies in the standard skin range (SKIN_CR, SKIN_CB)."""
    return (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1])


def look_at_hint(rgb: np.ndarray, point, conf: float, complexity: int = 0) -> tuple:
    """(kind, found) for the face or hand nearest to a clicked point, in crops of growing size around it:
    ("hand", (box, score, pts, side)), ("face", Detection) or (None, None) when nothing there is found.

    A face needs evidence, as in the automatic pass: FaceMesh confirms it, or BlazeFace is sure, or its box is
    skin-coloured (`HINT_FACE_SKIN`). On 192 clicks beside every found instance, faces were invented at 10 before
    (foliage, a wall, cards) and 3 with this rule; of 58 missed masked faces clicked, 45 were found before, 42 now."""
    h, w = rgb.shape[:2]
    x, y = point
    for share in HINT_SCALES:
        side = share * min(h, w)
        crop, x0, y0 = square_crop(rgb, (x, y), side)
        if crop is None:
            continue
        hands = [hd for hd in hands_in(crop, conf, complexity, view="crop0", offset=(x0, y0)) if _near(hd[0], x, y)]
        if hands:
            return "hand", min(hands, key=lambda hd: _distance(hd[0], x, y))
        faces = [f for sel in (0, 1) for f in faces_in(crop, sel, conf, (x0, y0), view="hint") if _near(f[0], x, y)]
        if faces:
            face = face_detection(rgb, max(faces, key=lambda f: f[1]))
            if (face.landmark_kind == "face_mesh" or face.score >= SURE_FACE_SCORE
                    or skin_share(rgb, face.box) >= HINT_FACE_SKIN):
                return "face", face
    return None, None


def skin_share(rgb: np.ndarray, box) -> float:
    """The share of `box`'s pixels whose chrominance is in the standard skin range."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb)
    return float(in_skin_range(ycrcb[:, :, 1], ycrcb[:, :, 2]).mean())


def _near(box, x, y, margin: float = 0.15) -> bool:
    """The point lies in the box grown by `margin` of its size (a click on a hand's edge still counts)."""
    mx, my = margin * (box[2] - box[0]), margin * (box[3] - box[1])
    return box[0] - mx <= x <= box[2] + mx and box[1] - my <= y <= box[3] + my


def _distance(box, x, y) -> float:
    return float(np.hypot((box[0] + box[2]) / 2 - x, (box[1] + box[3]) / 2 - y))

