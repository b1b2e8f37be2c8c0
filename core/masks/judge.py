"""How well one candidate mask is one instance: what its landmarks prove it must hold, what it costs, and whether the
shell between two nested candidates is more of the instance or what surrounds it.

A candidate is judged inside a region of interest (the expanded box grown by half) sampled every `step` pixels
(at most JUDGE_SIDE samples a side), so judging a hundred full-photo candidates costs small crops, not photos.

    score = W_COVER * parts held - W_AREA * cost of its samples - W_STEAL * share of others' landmarks it holds

Parts: a hand's palm and its five fingers (points along their bones, from the 21 landmarks), a face's features; a
part counts as whole from HELD of its points on, and the last stretch of a bone at a fingertip or the wrist is left
out (TRIM): there the landmark sits on the outline, and a model's exact mask must not lose a part to a rim for a
point a pixel outside it. Cost: every sample a candidate holds costs one, so among candidates that hold the parts
the tightest wins; beyond the prior grown by a margin, past a hand's wrist or on another instance's prior (a neck,
an arm, the next hand) a sample costs W_FAR; and more where this instance's colour model says background. A hand in
front of a face may hold the face's place and features.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.geometry import hand_scale
from .colour import ColourModel, colour_codes
from .edges import border_trade, edge_map
from .skeleton import FINGER_CHAINS, part_points

MARGIN = {"face": 0.06, "hand": 0.18}  # beyond the prior grown by this share of the instance's size: not it
JUDGE_SIDE = 256  # the ROI is judged on at most this many samples a side
W_COVER = 3.0  # holding every part of the instance
W_AREA = 0.5  # per prior's area of samples held (at cost one each)
W_FAR = 1.5  # cost of a sample beyond the grown prior, past the wrist, on another's prior or outside the ROI
W_UNLIKE = 1.0  # extra cost of a sample whose colour says background, at the colour model's clip
W_STEAL = 0.5  # holding every landmark point of the other instances
FINGER_R = 0.12  # half a finger's width, as a share of the hand's size
REACH = 0.5  # the band around a candidate its own colours are told from, as a share of the hand's size
GUESS = 0.5  # a left-out finger is a guess when its colours side with the surroundings by this much (a quarter of
# the colour model's clip): skin over skin (a finger on a face or on the other hand) is no evidence either way, and
# there the landmarks stand
HELD = 0.9  # a part this much of whose points a mask holds is whole
TRIM = 0.3  # share of a fingertip's or a wrist's bone, next to the landmark, that no mask is asked to hold
# A hand's parts: its palm (the bones from the wrist to the knuckles) and each finger (the bones past its knuckle).
HAND_PARTS = (((0, 1), (0, 5), (0, 9), (0, 13), (0, 17)),) + tuple(
    tuple(zip(chain[1:], chain[2:])) for chain in FINGER_CHAINS)
_NEAR = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))  # a shell is compared with what lies 4 samples off


class Judge:
    """One prompt's judge: `view` a candidate, then `score` it, `cover` its parts, or test a `shell`."""

    def __init__(self, prompt, others: list, shape, image: np.ndarray | None = None):
        h, w = shape[:2]
        x0, y0, x1, y1 = prompt.expanded_box
        gx, gy = (x1 - x0) // 4 + 2, (y1 - y0) // 4 + 2
        self.roi = (max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy))
        rx, ry = self.roi[0], self.roi[1]
        self.step = k = max(1, -(-max(self.roi[2] - rx, self.roi[3] - ry) // JUDGE_SIDE))
        self.prior = self.crop(prompt.prior)
        self.prior_area = max(int(self.prior.sum()), 1)
        det = prompt.detection
        size = max(x1 - x0, y1 - y0) / 1.5  # the detection's size (boxes are expanded 1.5x by default)
        r = max(1, int(round(MARGIN.get(det.kind, 0.1) * size / k)))
        self.grown = cv2.dilate(self.prior.astype(np.uint8), _disk(r)) > 0
        self.finger_r = self.reach = 0  # a hand's half finger width and its band's width, in samples
        self._guessed = {}  # `guessed`, per candidate asked
        names = [None]  # which finger each part is (0 thumb ... 4 little; None: a palm, a face's features)
        if det.kind == "hand" and len(det.landmarks) == 21:
            parts = [self._points(part_points(det.landmarks, bones, trim=TRIM)) for bones in HAND_PARTS]
            names += list(range(len(FINGER_CHAINS)))
            scale = hand_scale(det.landmarks) / k
            self.finger_r, self.reach = max(1, int(round(FINGER_R * scale))), max(2, int(round(REACH * scale)))
        elif prompt.sure is not None and self.crop(prompt.sure).any():
            parts = [np.nonzero(self.crop(prompt.sure))]
        else:
            parts = [self._points(det.landmarks)]
        self.names = [n for n, p in zip(names, parts) if len(p[0])]
        self.parts = [p for p in parts if len(p[0])]
        # Whose place this is not: every other instance's, but a hand in front of a face may cover the face.
        rivals = [o for o in others if not (det.kind == "hand" and o.detection.kind == "face")]
        points = [o.positive_points for o in rivals if len(o.positive_points)]
        self.others = self._points(np.concatenate(points, 0) if points else np.zeros((0, 2)))
        points = [o.positive_points for o in others if len(o.positive_points)]
        self.anyone = self._points(np.concatenate(points, 0) if points else np.zeros((0, 2)))  # faces too
        cost = np.where(self.grown, 1.0, W_FAR).astype(np.float32)
        if prompt.limit is not None:
            cost[~self.crop(prompt.limit)] = W_FAR
        for o in rivals:
            cost[self.crop(o.prior) & ~self.prior] = W_FAR
        self.colour, self.codes = None, None
        self._image, self._edges = image, None  # the edge map is drawn when a shell first asks for it
        if image is not None:
            self.codes = colour_codes(self.crop(image))
            # The instance's colours from what its landmarks prove (a hand's bones; a face's core, as its features
            # alone are few and not skin), the surroundings' from where no instance's prior reaches.
            sure = self.crop(prompt.sure) if prompt.sure is not None else np.zeros_like(self.prior)
            inside = sure if det.kind == "hand" else _core(self.prior)
            taken = self.grown.copy()
            for o in others:
                taken |= self.crop(o.prior)
            self.colour = ColourModel(self.codes, inside & self.prior, ~taken)
            cost += W_UNLIKE * np.clip(-self.colour.evidence(self.codes), 0, None) / 2.0
        self.cost = cost

    def crop(self, m: np.ndarray) -> np.ndarray:
        """A photo-sized array sampled on the ROI."""
        x0, y0, x1, y1 = self.roi
        return m[y0:y1:self.step, x0:x1:self.step]

    def _points(self, pts) -> tuple:
        """(rows, cols) in the sampled ROI of the points that fall inside it."""
        pts = np.asarray(pts, np.float64).reshape(-1, 2) - [self.roi[0], self.roi[1]]
        pts = np.floor(pts / self.step).astype(int)
        h, w = self.prior.shape
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        return pts[keep, 1], pts[keep, 0]

    def view(self, mask: np.ndarray, area: int | None = None) -> tuple:
        """(sampled crop of the candidate, its estimated area outside the ROI, in samples). `area`: the mask's
        pixel count, when known (a shared candidate is viewed by every instance)."""
        crop = self.crop(mask)
        area = mask.sum() if area is None else area
        return crop, max(0.0, area / self.step ** 2 - crop.sum())

    def cover(self, crop: np.ndarray, ignore: np.ndarray | None = None, skip=()) -> float:
        """How much of the instance's parts a candidate holds (each whole from HELD of its points on); points where
        `ignore` is set do not count, nor the fingers in `skip`."""
        held = []
        for name, p in zip(self.names, self.parts):
            if name in skip:
                continue
            pts = p if ignore is None else (p[0][~ignore[p]], p[1][~ignore[p]])
            if len(pts[0]):
                held.append(min(1.0, crop[pts].mean() / HELD))
        return float(np.mean(held)) if held else 1.0

    def left_out(self, crop: np.ndarray) -> list:
        """The fingers a candidate does not hold whole."""
        return [n for n, p in zip(self.names, self.parts) if n is not None and crop[p].mean() < HELD]

    def guessed(self, crop: np.ndarray) -> list:
        """The fingers a candidate leaves out that, by the candidate's own colours, are not in the photo: where its
        inside and a band around it (the left-out fingers' places in neither) disagree on their points off the
        candidate, the band wins clearly (GUESS). [] without the photo or when it leaves no finger out.

        MediaPipe guesses the fingers of a fist, or of a hand behind cards, onto the table, a shadow or the cards.
        A model's exact mask leaves such a guess out and must not lose to a bigger mask (the hand with a strip of
        table) nor be repaired for it; a finger a model really cut off looks like the rest of its hand and counts.
        The hand's colours are this candidate's: a model learnt on the landmarks' bones learns the guess as hand."""
        if self.codes is None or not self.finger_r:
            return []
        key = hash(crop.tobytes())  # the choice is asked again by repair
        if key not in self._guessed:
            self._guessed[key] = self._guess(crop)
        return self._guessed[key]

    def _guess(self, crop: np.ndarray) -> list:
        out_of = self.left_out(crop)
        left = [(n, p) for n, p in zip(self.names, self.parts) if n in out_of]
        if not left:
            return []
        places = np.zeros(crop.shape, np.uint8)
        for _, p in left:
            places[p] = 1
        places = cv2.dilate(places, _disk(self.finger_r)) > 0
        near = cv2.distanceTransform((~crop).astype(np.uint8), cv2.DIST_L2, 3) <= self.reach
        model = ColourModel(self.codes, crop & ~places, near & ~crop & ~places)
        if not model.ready:
            return []
        out = []
        for n, (rows, cols) in left:
            off = ~crop[rows, cols]
            if off.any() and model.evidence(self.codes[rows[off], cols[off]]).mean() < -GUESS:
                out.append(n)
        return out

    def score(self, crop: np.ndarray, outside: float) -> tuple:
        """(score, fit with the prior) of a candidate given by its ROI crop and its area outside the ROI. The fit (F1
        of the prior's share it covers and its share inside the grown prior) says whether it is this instance at
        all."""
        area = crop.sum() + outside
        if area <= 0:
            return -1.0, 0.0
        recall = np.logical_and(crop, self.prior).sum() / self.prior_area
        precision = np.logical_and(crop, self.grown).sum() / area
        agree = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        steal = crop[self.others].mean() if len(self.others[0]) else 0.0
        cost = (float(self.cost[crop].sum()) + W_FAR * outside) / self.prior_area
        return float(W_COVER * self.cover(crop) - W_AREA * cost - W_STEAL * steal), float(agree)

    def shell(self, small: np.ndarray, big: np.ndarray) -> tuple:
        """(evidence, far, unlike) for the shell between two nested candidates (`big` minus `small`).

        evidence: the shell next to `small`, judged by a colour model learnt on the spot from the inside of `small`
        next to it and the outside of `big` next to it (mean log-likelihood ratio: > 0 like the object, < 0 like
        what surrounds it; a model learnt at a border speaks for what lies near it). far: the share of the shell
        the landmarks rule out (beyond the grown prior, past the wrist, another's place). unlike: where in the
        whole shell the colours side with the outside."""
        shell = big & ~small
        none = np.zeros_like(shell)
        if self.codes is None or shell.sum() < 4:
            return 0.0, 0.0, none
        far = float((self.cost[shell] >= W_FAR).mean())
        if len(self.anyone[0]) and shell[self.anyone].any():
            far = 1.0  # the shell holds another instance's landmarks: it is that one's
        close = shell & (cv2.dilate(small.astype(np.uint8), _NEAR) > 0)
        if close.sum() < 4:
            return 0.0, far, none
        near = cv2.dilate(close.astype(np.uint8), _NEAR) > 0
        model = ColourModel(self.codes, small & near, near & ~big)
        if not model.ready:
            return 0.0, far, none
        llr = model.evidence(self.codes)
        return float(llr[close].mean()), far, shell & (llr <= 0)

    def border_trade(self, small: np.ndarray, big: np.ndarray) -> tuple:
        """`edges.border_trade` for two nested candidates' crops: (edge strength along the border `big` adds,
        along the border of `small` it swallows); (1, 0), no objection, without the photo."""
        if self._image is None:
            return 1.0, 0.0
        if self._edges is None:
            x0, y0, x1, y1 = self.roi
            self._edges = edge_map(self._image[y0:y1, x0:x1], self.step, self.prior.shape)
        return border_trade(self._edges, small, big)


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _core(prior: np.ndarray) -> np.ndarray:
    """The prior without its outer fifth: inside the object whatever the prior's border gets wrong."""
    r = max(1, int(round(0.2 * np.sqrt(prior.sum() / np.pi))))
    return cv2.erode(prior.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) > 0
