"""Choose each instance's mask from a backend's candidates by agreement with its landmarks.

Every backend is judged the same way. A candidate (or a union of a few: a face split into skin pieces, a hand
split into fingers) is scored against the instance's landmark prior:

    fit   = F1 of (share of the prior it covers, share of it inside the prior grown by a margin)
    score = fit + W_COVER * landmark coverage - W_SPILL * share outside the expanded box
            - W_STEAL * share of other instances' landmark points it covers

(landmark coverage: for a hand, of points along its 20 bones). The chosen mask is then repaired with what the
landmarks prove (`Prompt.sure`, a hand's bones) when it misses part of them: a model's mask that cuts off a finger
gets the finger back.

The margin exists because a prior is drawn from landmarks (a face oval, a hand skeleton) and is thinner than the
real thing; plain IoU with it prefers a piece of a hand over the whole hand. So a background blob, the neck, a
whole head with hair, a hand with its arm or a face+hand merge lose to the face or hand itself, which a
rectangle-IoU rule (the peers') does not see. When nothing fits, the prior is used and the note says so.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..backends.base import Candidates
from .prompts import bone_width
from .skeleton import missing_fingers, skeleton_mask, skeleton_points

MIN_AGREEMENT = 0.5  # below this fit with the prior (of the best choice), the prior is used instead
W_COVER, W_SPILL, W_STEAL = 0.25, 0.6, 0.5
MARGIN = {"face": 0.06, "hand": 0.18}  # prior grown by this share of the instance's size before judging precision
W_MODEL = 1e-3  # model scores only break near-ties
MAX_PARTS = 6  # most candidates a union may join
POOL = 16  # candidates considered for unions (best scores first)
JUDGE_SIDE = 256  # the ROI is judged on at most this many samples a side
STARTS = 4  # unions are grown from each of this many best candidates
MIN_GAIN = 0.005
FALLBACK_NOTE = "no candidate matched the landmarks; used the landmark mask"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter / union) if union else 0.0


class _Judge:
    """One prompt's scoring, computed inside a region of interest (the expanded box grown by half) sampled every
    `step` pixels (at most JUDGE_SIDE samples a side), so that scoring a hundred full-photo candidates costs
    small crops, not photos. Areas are counted in samples; only ratios matter."""

    def __init__(self, prompt, others: list, shape):
        h, w = shape[:2]
        x0, y0, x1, y1 = prompt.expanded_box
        gx, gy = (x1 - x0) // 4 + 2, (y1 - y0) // 4 + 2
        self.roi = (max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy))
        rx, ry = self.roi[0], self.roi[1]
        self.step = k = max(1, -(-max(self.roi[2] - rx, self.roi[3] - ry) // JUDGE_SIDE))
        self.box = ((x0 - rx) // k, (y0 - ry) // k, -(-(x1 - rx) // k), -(-(y1 - ry) // k))
        self.prior = self._crop(prompt.prior)
        self.prior_area = max(int(self.prior.sum()), 1)
        size = max(x1 - x0, y1 - y0) / 1.5  # the detection's size (boxes are expanded 1.5x by default)
        r = max(1, int(round(MARGIN.get(prompt.detection.kind, 0.1) * size / k)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        self.grown = cv2.dilate(self.prior.astype(np.uint8), kernel) > 0
        det = prompt.detection
        # A hand is judged on its bones (points along them), not only its 21 joints: a candidate that cuts off a
        # finger between its joints loses this share.
        self.own = self._points(skeleton_points(det.landmarks) if len(det.landmarks) == 21 else det.landmarks)
        self.others = self._points(np.concatenate([o for o in others if len(o)], 0) if any(len(o) for o in others)
                                   else np.zeros((0, 2)))

    def _crop(self, m):
        x0, y0, x1, y1 = self.roi
        return m[y0:y1:self.step, x0:x1:self.step]

    def _points(self, pts) -> tuple:
        """(rows, cols) in the sampled ROI of the points that fall inside it."""
        pts = np.asarray(pts, np.float64).reshape(-1, 2) - [self.roi[0], self.roi[1]]
        pts = np.floor(pts / self.step).astype(int)
        h, w = self.prior.shape
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        return pts[keep, 1], pts[keep, 0]

    def view(self, mask: np.ndarray) -> tuple:
        """(sampled crop of the candidate, its estimated area outside the ROI, in samples)."""
        crop = self._crop(mask)
        return crop, max(0.0, mask.sum() / self.step ** 2 - crop.sum())

    def score(self, crop: np.ndarray, outside: float) -> tuple:
        """(score, fit with the prior) of a candidate given by its ROI crop and its area outside the ROI."""
        area = crop.sum() + outside
        if area <= 0:
            return -1.0, 0.0
        recall = np.logical_and(crop, self.prior).sum() / self.prior_area
        precision = np.logical_and(crop, self.grown).sum() / area
        agree = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        bx0, by0, bx1, by1 = self.box
        spill = 1.0 - crop[by0:by1, bx0:bx1].sum() / area
        cover = crop[self.own].mean() if len(self.own[0]) else 0.0
        steal = crop[self.others].mean() if len(self.others[0]) else 0.0
        return float(agree + W_COVER * cover - W_SPILL * spill - W_STEAL * steal), float(agree)


def choose(prompts: list, cands: Candidates) -> list:
    """Per prompt: (mask, note). Picks the best candidate or union of candidates by agreement with the landmarks;
    falls back to the prior (note says so) when no candidate agrees."""
    if not prompts:
        return []
    shape = prompts[0].prior.shape
    out = []
    for i, prompt in enumerate(prompts):
        own = list(cands.per_prompt[i]) if i < len(cands.per_prompt) else []
        if cands.trusted and own:
            out.append((own[0], ""))
            continue
        scores = list(cands.scores[i]) if cands.scores and i < len(cands.scores) and cands.scores[i] is not None \
            else []
        options = [(m, float(scores[k]) if k < len(scores) else 0.0) for k, m in enumerate(own)]
        options += [(m, 0.0) for m in cands.shared]
        others = [p.positive_points for p in prompts if p is not prompt]
        mask, agree = best_mask(prompt, options, others, shape)
        if mask is None or agree < MIN_AGREEMENT:
            out.append((prompt.prior.copy(), FALLBACK_NOTE))
        else:
            out.append((repair(prompt, mask), ""))
    return out


REPAIR_BELOW = 0.5  # a finger a model's mask holds less than half of is cut off: its bones are added


def repair(prompt, mask: np.ndarray) -> np.ndarray:
    """The mask with the fingers it cuts off added back (a hand's bones from `Prompt.sure`), or a face's features
    when it misses half of them. What the mask holds is left as it is: the model's border is finer than drawn
    bones."""
    if prompt.sure is None:
        return mask
    if prompt.detection.kind == "face":  # a face's features: all of them, when the mask misses much of them
        held = (mask & prompt.sure).sum() / max(int(prompt.sure.sum()), 1)
        return mask if held >= REPAIR_BELOW else mask | prompt.sure
    if len(prompt.detection.landmarks) != 21:
        return mask
    missing = missing_fingers(mask, prompt.detection.landmarks, REPAIR_BELOW)
    if not missing:
        return mask
    reach = skeleton_mask(prompt.detection.landmarks, mask.shape, 4.0 * bone_width(prompt.detection), missing)
    return mask | (prompt.sure & reach)


def best_mask(prompt, options: list, others: list, shape) -> tuple:
    """(mask, fit with the prior) of the best single candidate or greedy union; (None, 0) if none overlaps.
    `options`: [(bool mask, model score)]."""
    judge = _Judge(prompt, others, shape)
    views = []
    for m, model_score in options:
        if m is None or m.shape != tuple(shape[:2]):
            continue
        crop, outside = judge.view(m)
        if not np.logical_and(crop, judge.prior).any():
            continue  # touches nothing of this instance
        s, agree = judge.score(crop, outside)
        views.append((s + W_MODEL * model_score, agree, crop, outside, m))
    if not views:
        return None, 0.0
    views.sort(key=lambda v: -v[0])
    pool = views[:POOL]
    # Greedy unions grown from each of the best few starts (the best single candidate may be a hand with its
    # arm, while two pieces together are the hand): add the piece that raises the score most, while any does.
    best_s, best_agree, parts = pool[0][0], pool[0][1], [0]
    for start in range(min(STARTS, len(pool))):
        s, agree, chosen = _grow(judge, pool, start)
        if s > best_s + 1e-9:
            best_s, best_agree, parts = s, agree, chosen
    if len(parts) == 1:
        return pool[parts[0]][4], best_agree
    mask = np.zeros(shape[:2], bool)
    for k in parts:
        mask |= pool[k][4]
    return mask, best_agree


def _grow(judge, pool: list, start: int) -> tuple:
    cur_s, cur_agree, cur, cur_out, _ = pool[start]
    parts = [start]
    while len(parts) < MAX_PARTS:
        gain, pick = MIN_GAIN, None
        for k, (_, _, crop, outside, _) in enumerate(pool):
            if k in parts:
                continue
            s, agree = judge.score(cur | crop, cur_out + outside)
            if s - cur_s > gain:
                gain, pick = s - cur_s, (k, s, agree)
        if pick is None:
            break
        k, cur_s, cur_agree = pick
        parts.append(k)
        cur, cur_out = cur | pool[k][2], cur_out + pool[k][3]
    return cur_s, cur_agree, parts


def rectangle_choice(prompt, options: list) -> np.ndarray:
    """The peers' rule, kept for benchmarks: the candidate with the highest IoU with the expanded rectangle."""
    x0, y0, x1, y1 = prompt.expanded_box
    rect = np.zeros(prompt.prior.shape, bool)
    rect[y0:y1, x0:x1] = True
    best, best_iou = None, -1.0
    for m in options:
        v = iou(m, rect)
        if v > best_iou:
            best, best_iou = m, v
    return best


def make_exclusive(prompts: list, masks: list) -> list:
    """Each pixel belongs to at most one instance: a hand's own bones stay with it (the landmarks say it is there);
    hands win over faces (hands are in front of faces); otherwise the instance whose prior contains the pixel,
    then the smaller instance."""
    if len(masks) < 2:
        return masks
    order = sorted(range(len(masks)), key=lambda i: (prompts[i].detection.kind != "hand", int(masks[i].sum())))
    taken = np.zeros_like(masks[0], dtype=bool)
    out = [None] * len(masks)
    for rank, i in enumerate(order):
        m = masks[i] & ~taken
        # Pixels a lower-priority instance's prior owns but this one's does not go to that instance instead.
        for j in order[rank + 1:]:
            if prompts[j].detection.kind == prompts[i].detection.kind:
                m &= ~(prompts[j].prior & ~prompts[i].prior & masks[j])
            if prompts[j].detection.kind == "hand" and prompts[j].sure is not None:  # another hand's bones
                m &= ~(prompts[j].sure if prompts[i].sure is None else prompts[j].sure & ~prompts[i].sure)
        if not m.any():  # never drop a detected instance: keep what its prior has that nobody took
            m = prompts[i].prior & ~taken
            if not m.any():
                m = masks[i].copy()
        out[i] = m
        taken |= m
    return out
