"""Choose each instance's mask from a backend's candidates by what its landmarks and the photo can explain.

Segment Anything offers, around one face or hand, a family of nested masks: the exact one beside the object grown by
a rim of background, its filled box, a hand with the gaps between its fingers filled, a hand with its forearm, a face
with its neck or hair, halves and pieces (a hand split into palm and fingers), the whole person. Every backend's
candidates are chosen among the same way, in three steps:

1. Looser cuts go (`nesting`): a candidate that is another grown by an even rim, or filled to its hull or its box,
   adds what surrounds the object, whatever else it holds.
2. The best candidate, or union of a few (pieces that rebuild the object), by `judge.Judge.score`: among those that
   hold the instance's parts (a hand's palm and fingers, a face's features), the tightest, where a pixel beyond
   the landmarks' reach (an arm, a neck, hair, the next hand) or with the background's colours costs more. A
   finger MediaPipe guessed where the photo shows none (a fist's, a hand's behind cards: `Judge.guessed`) is
   asked of no candidate, so a bigger mask with a strip of table does not win for it.
3. The photo settles the border among nested candidates (`_settle`): the shell between the choice and a nested
   candidate is judged by a colour model learnt on both sides of it; the choice moves out when the shell looks like
   its inside (the rest of a hand a piece missed) and the new border lies on the photo's edges as much as the one
   it gives up (`edges`), and in when the shell looks like what surrounds it.

The chosen mask is then repaired when it misses what the landmarks prove: a finger a model's mask cuts off gets that
finger back, drawn at finger width where the photo's colours say hand (repair adds; it never replaces the model's
border; a guessed finger is not added). When no candidate agrees with the prior at all, the prior is used and the
note says so.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.geometry import hand_scale
from ..types import Candidates
from .colour import colour_codes
from .judge import W_COVER, Judge
from .nesting import NESTED, holds, iou, tightest
from .prompts import bone_width
from .skeleton import finger_bones, missing_fingers, skeleton_mask

MIN_AGREEMENT = 0.5  # below this fit with the prior (of the best choice), the prior is used instead
W_MODEL = 1e-3  # model scores only break near-ties
MAX_PARTS = 6  # most candidates a union may join
POOL = 16  # candidates considered for unions (best scores first)
STARTS = 4  # unions are grown from each of this many best candidates
MIN_GAIN = 0.005  # a union grows only by pieces that raise the score this much
MAX_MOVES = 4  # steps the photo may move the choice along its nested candidates
SHELL_OUT = 0.3  # the choice moves out when the shell looks this much like its inside (mean log-likelihood ratio)
FAR_VETO = 0.5  # ... and the landmarks rule out less than this share of the shell
EDGE_SLACK = 0.1  # ... and the border it draws lies on edges at most this much less than the one it gives up (0-1)
PART_SLACK = 0.1  # the choice moves in to a candidate holding at most this much less of the parts
REPAIR_BELOW = 0.5  # a finger a model's mask holds less than half of is cut off: it is added
FINGER = 0.25  # a finger's width as a share of the hand's size: what repair draws, where the colours say hand
FALLBACK_NOTE = "no candidate matched the landmarks; used the landmark mask"


def choose(prompts: list, cands: Candidates, image: np.ndarray | None = None) -> list:
    """Per prompt: (mask, note). Picks the candidate or union of candidates that best holds that instance and
    nothing else, judged by its landmarks and, given the photo, its colours; falls back to the prior (note says so)
    when no candidate agrees with the landmarks."""
    if not prompts:
        return []
    shape = prompts[0].prior.shape
    shared = [(m, 0.0, int(m.sum())) for m in cands.shared if m is not None and m.shape == tuple(shape[:2])]
    out = []
    for i, prompt in enumerate(prompts):
        own = list(cands.per_prompt[i]) if i < len(cands.per_prompt) else []
        if cands.trusted and own:
            out.append((own[0], ""))
            continue
        scores = list(cands.scores[i]) if cands.scores and i < len(cands.scores) and cands.scores[i] is not None \
            else []
        options = [(m, float(scores[k]) if k < len(scores) else 0.0) for k, m in enumerate(own)] + shared
        judge = Judge(prompt, [p for p in prompts if p is not prompt], shape, image)
        mask, agree = best_mask(judge, options, shape)
        if mask is None or agree < MIN_AGREEMENT:
            out.append((prompt.prior.copy(), FALLBACK_NOTE))
        else:
            out.append((repair(prompt, mask, image, judge), ""))
    return out


def repair(prompt, mask: np.ndarray, image: np.ndarray | None = None, judge: Judge | None = None) -> np.ndarray:
    """The mask with the fingers it cuts off added back, or a face's features when it misses half of them. A
    missing finger is its bones (`Prompt.sure`) and, given the photo's colours, the finger's width around them
    where the colours say hand. What the mask holds is left as it is: the model's border is finer than anything
    drawn, and repair only adds; and a finger the photo does not show (`Judge.guessed`) is not added."""
    if prompt.sure is None:
        return mask
    if prompt.detection.kind == "face":  # a face's features: all of them, when the mask misses much of them
        held = (mask & prompt.sure).sum() / max(int(prompt.sure.sum()), 1)
        return mask if held >= REPAIR_BELOW else mask | prompt.sure
    if len(prompt.detection.landmarks) != 21:
        return mask
    pts = prompt.detection.landmarks
    missing = missing_fingers(mask, pts, REPAIR_BELOW)
    if missing and judge is not None:
        guessed = judge.guessed(judge.crop(mask))
        missing = [i for i in missing if i not in guessed]
    if not missing:
        return mask
    bones = [b for i in missing for b in finger_bones(i)]
    added = prompt.sure & skeleton_mask(pts, mask.shape, 4.0 * bone_width(prompt.detection), bones)
    colour = judge.colour if judge is not None else None
    if image is not None and colour is not None and colour.ready:  # the photo's colours say where the finger is
        finger = skeleton_mask(pts, mask.shape, max(FINGER * hand_scale(pts), 1.0), bones)
        if prompt.limit is not None:
            finger &= prompt.limit
        x, y, w, h = cv2.boundingRect(finger.astype(np.uint8))
        if w and h:
            box = (slice(y, y + h), slice(x, x + w))
            added[box] |= finger[box] & (colour.evidence(colour_codes(image[box])) > 0)
    return mask | added


def best_mask(judge: Judge, options: list, shape) -> tuple:
    """(mask, fit with the prior) of the best single candidate or greedy union, settled by the photo; (None, 0) if
    none overlaps the instance. `options`: [(bool mask, model score)] or [(bool mask, model score, pixel count)]."""
    views = []
    for m, model_score, *area in options:
        if m is None or m.shape != tuple(shape[:2]):
            continue
        crop, outside = judge.view(m, *area)
        if not np.logical_and(crop, judge.prior).any():
            continue  # touches nothing of this instance
        s, agree = judge.score(crop, outside)
        views.append((s + W_MODEL * model_score, agree, crop, outside, m))
    if not views:
        return None, 0.0
    views = [views[k] for k in tightest([v[2] for v in views])]
    views.sort(key=lambda v: -v[0])
    pool = views[:POOL]
    # Greedy unions grown from each of the best few starts (the best single candidate may be a piece of the hand,
    # while two pieces together are the hand): add the piece that raises the score most, while any does.
    best_s, best_agree, parts = pool[0][0], pool[0][1], [0]
    for start in range(min(STARTS, len(pool))):
        s, agree, chosen = _grow(judge, pool, start)
        if s > best_s + 1e-9:
            best_s, best_agree, parts = s, agree, chosen
    if len(parts) == 1:
        crop, outside, mask = pool[parts[0]][2], pool[parts[0]][3], pool[parts[0]][4]
    else:
        mask = np.zeros(shape[:2], bool)
        for k in parts:
            mask |= pool[k][4]
        crop, outside = judge.view(mask)
    # The photo's word on the fingers MediaPipe guessed: the best candidates are judged again, none blamed for a
    # finger it leaves out that its own colours say is not there (`Judge.guessed`). Only those that would win if
    # every finger they leave out were a guess are asked.
    def unblamed(score, crop, plain, skip):
        return score + W_COVER * (judge.cover(crop, skip=skip) - plain)

    best = (unblamed(best_s, crop, judge.cover(crop), judge.guessed(crop)), best_agree, crop, outside, mask)
    for v in pool:
        plain = judge.cover(v[2])
        if unblamed(v[0], v[2], plain, judge.left_out(v[2])) > best[0]:
            s = unblamed(v[0], v[2], plain, judge.guessed(v[2]))
            if s > best[0]:
                best = (s,) + v[1:]
    _, best_agree, crop, outside, mask = best
    return _settle(judge, views, crop, outside, mask, best_agree)


def _grow(judge: Judge, pool: list, start: int) -> tuple:
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


def _settle(judge: Judge, views: list, crop, outside, mask, agree) -> tuple:
    """Let the photo move the choice along the nested candidates around it: out to a larger one when the shell
    between them looks like the choice's inside (the rest of a hand a piece missed) and the landmarks do not rule
    the shell out; in to a smaller one when the shell looks like what surrounds it and the smaller still holds the
    parts, not counting parts whose points lie where the shell looks like the outside (a finger MediaPipe guessed
    under the other hand was never there). The strongest move first, a few at most."""
    if judge.codes is None:
        return mask, agree
    for _ in range(MAX_MOVES):
        area = crop.sum() + outside
        move, strength = None, 0.0
        for _, v_agree, v_crop, v_out, v_mask in views:
            v_area = v_crop.sum() + v_out
            if v_area > (1 + NESTED) * area and holds(v_crop, crop):
                ev, far, _ = judge.shell(crop, v_crop)
                if ev - SHELL_OUT > strength and far < FAR_VETO and v_out <= 0.5 * (v_area - area) \
                        and _edges_allow(judge, crop, v_crop):
                    move, strength = (v_crop, v_out, v_mask, v_agree), ev - SHELL_OUT
            elif v_area < (1 - NESTED) * area and holds(crop, v_crop):
                ev, _, unlike = judge.shell(v_crop, crop)
                if -ev > strength and judge.cover(v_crop, unlike) >= judge.cover(crop, unlike) - PART_SLACK:
                    move, strength = (v_crop, v_out, v_mask, v_agree), -ev
        if move is None:
            break
        crop, outside, mask, agree = move
    return mask, agree


def _edges_allow(judge: Judge, small: np.ndarray, big: np.ndarray) -> bool:
    """Growing out is the rest of the object only if the border it draws lies on the photo's edges about as much
    as the border it gives up: a dark game piece past the fingertips can look like the hand's shadowed fingers,
    but the straight sides of a mask reaching for it cross the table where nothing changes."""
    new, gone = judge.border_trade(small, big)
    return new >= gone - EDGE_SLACK


FOREARM = 0.15  # a model's mask that runs this share of itself past the wrist limit has taken the forearm


def within_wrist(prompt, mask: np.ndarray, forearm: float = FOREARM) -> np.ndarray:
    """A chosen mask, cut at the hand's wrist limit when it runs up the forearm (past the limit by more than
    `forearm` of itself). A model's own border past the limit by less is the wrist's end (labelled hands end a
    median 0.27-0.39 palm lengths behind the wrist point, around the limit): finer than a straight cut, it stays.
    `forearm=0`: any part past the limit goes (the offline masks, drawn from the prior, end there)."""
    if prompt.limit is None:
        return mask
    if forearm <= 0:
        return mask & prompt.limit
    past = mask & ~prompt.limit
    return mask & prompt.limit if past.sum() > forearm * mask.sum() else mask


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
    order = sorted(range(len(masks)), key=lambda i: (prompts[i].detection.kind != "hand", np.count_nonzero(masks[i])))
    taken = np.zeros_like(masks[0], dtype=bool)
    out = [None] * len(masks)
    for rank, i in enumerate(order):
        # Only the mask's own box can change (a frame's full-size masks, several instances a frame)
        x, y, w, h = cv2.boundingRect(masks[i].view(np.uint8))
        box = (slice(y, y + h), slice(x, x + w))
        m = masks[i][box] & ~taken[box]
        # Pixels a lower-priority instance's prior owns but this one's does not go to that instance instead.
        for j in order[rank + 1:]:
            if prompts[j].detection.kind == prompts[i].detection.kind:
                m &= ~(prompts[j].prior[box] & ~prompts[i].prior[box] & masks[j][box])
            if prompts[j].detection.kind == "hand" and prompts[j].sure is not None:  # another hand's bones
                sure = prompts[j].sure[box]
                m &= ~(sure if prompts[i].sure is None else sure & ~prompts[i].sure[box])
        if m.any():
            out[i] = np.zeros_like(taken)
            out[i][box] = m
            taken[box] |= m
        else:  # never drop a detected instance: keep what its prior has that nobody took
            out[i] = prompts[i].prior & ~taken
            if not out[i].any():
                out[i] = masks[i].copy()
            taken |= out[i]
    return out
