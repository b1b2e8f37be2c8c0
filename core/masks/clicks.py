"""A visitor's points on a mask, as in the Segment Anything demo: "add" (this is part of it) and "cut" (this is not).

A point is evidence about one instance, the one it belongs to (`owner`): among the instances whose expanded box
holds it, the one whose landmark prior is nearest, relative to its size. Each backend uses it its own way:

- the offline refinement takes an added point as certain foreground (a small disc) with a reach around it, and the
  way from it to the instance, as "maybe foreground", so the colour model decides how much of the finger or
  forehead to take; a cut point is certain background, so the colours like it go too;
- `sam2` gets them as positive and negative point prompts;
- a backend without point prompts (Replicate's automatic masks) has its candidates judged as before, then the
  smallest candidate holding an added point joins the mask and the smallest part holding a cut point leaves it.

Whatever the backend, the final mask holds every added disc and no cut disc (`enforce`): the visitor said so.
Sizes are shares of the instance's own size (a hand's palm width, the square root of a face's prior area), so a
click means the same on a small and a large photo.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from ..detect.geometry import hand_scale
from ..types import Prompt

# The disc a point makes certain (radius, share of the instance's size): a hand's finger is about a quarter of its
# palm wide (core.backends.landmarks.FINGER), so 0.06 stays inside a finger clicked anywhere near its middle; a
# face's features are larger.
SURE = {"hand": 0.06, "face": 0.04}
# How far from an added point the mask may grow ("maybe foreground"): a finger's last two joints are about half a
# palm long; a forehead's top is about a third of a face above the brows.
REACH = {"hand": 0.5, "face": 0.35}
# The way from an added point to its instance's prior is maybe-foreground this wide: a finger's width.
PATH_WIDTH = {"hand": 0.25, "face": 0.15}


def instance_size(prompt: Prompt) -> float:
    det = prompt.detection
    if det.kind == "hand" and len(det.landmarks) == 21:
        return hand_scale(det.landmarks)
    return float(max(np.sqrt(prompt.prior.sum()), 1.0))


def owner(prompts: list, x: float, y: float):
    """The index of the prompt a point at (x, y) belongs to, or None when it is in no instance's expanded box.

    The nearest prior relative to its instance's size wins, except that a hand within its reach of the point wins
    over a face: hands are in front of faces (as in `make_exclusive`), so a finger over a cheek that the hand's
    mask missed lies inside the face's prior, and is still the hand's."""
    near = []
    for i, p in enumerate(prompts):
        x0, y0, x1, y1 = p.expanded_box
        if x0 <= x < x1 and y0 <= y < y1:
            near.append((_distance_to_prior(p, x, y) / instance_size(p), int(p.prior.sum()), i))
    hands = [n for n in near if prompts[n[2]].detection.kind == "hand" and n[0] <= REACH["hand"]]
    return min(hands or near)[2] if near else None


def with_points(prompt: Prompt, add: list, cut: list) -> Prompt:
    """The prompt with a visitor's points in it: added points join its positive points and certain foreground,
    with a maybe-foreground reach (and its wrist limit opened there); cut points join its negative points and
    certain background (and leave the certain foreground, even a hand's bones: the visitor outranks landmarks)."""
    if not add and not cut:
        return prompt
    shape = prompt.prior.shape
    kind = prompt.detection.kind
    size = instance_size(prompt)
    sure_r = max(SURE[kind] * size, 1.5)
    added = _discs(shape, add, sure_r)
    reach = _discs(shape, add, max(REACH[kind] * size, sure_r))
    for x, y in add:
        reach |= _path(prompt.prior, (x, y), max(PATH_WIDTH[kind] * size, 2.0))
    cuts = _discs(shape, cut, sure_r)
    sure = added if prompt.sure is None else (prompt.sure | added)
    maybe = reach & ~cuts if prompt.maybe is None else (prompt.maybe | reach) & ~cuts
    background = cuts if prompt.background is None else (prompt.background | cuts)
    limit = None if prompt.limit is None else (prompt.limit | reach) & ~cuts
    pos = np.vstack([np.asarray(prompt.positive_points, np.float64).reshape(-1, 2), np.reshape(add, (-1, 2))])
    neg = np.vstack([np.asarray(prompt.negative_points, np.float64).reshape(-1, 2), np.reshape(cut, (-1, 2))])
    return dataclasses.replace(prompt, sure=sure & ~cuts, maybe=maybe, background=background, limit=limit,
                               positive_points=pos, negative_points=neg, added=added, cut=cuts,
                               add_points=tuple(prompt.add_points) + tuple(map(tuple, add)),
                               cut_points=tuple(prompt.cut_points) + tuple(map(tuple, cut)))


def enforce(prompts: list, masks: list) -> list:
    """Every mask holds its added discs and none of its cut discs; an added disc belongs to its instance alone."""
    out = []
    for i, (p, m) in enumerate(zip(prompts, masks)):
        m = m.copy()
        if p.added is not None:
            m |= p.added
        if p.cut is not None:
            m &= ~p.cut
        for j, q in enumerate(prompts):
            if j != i and q.added is not None:
                m &= ~q.added
        out.append(m)
    return out


def with_model_candidates(prompt: Prompt, mask: np.ndarray, candidates: list) -> np.ndarray:
    """For a backend without point prompts: the smallest candidate holding an added point joins the mask (if it is
    no larger than the instance's expanded box), the smallest candidate holding a cut point and smaller than half
    the mask leaves it."""
    x0, y0, x1, y1 = prompt.expanded_box
    box_area = (x1 - x0) * (y1 - y0)
    out = mask.copy()
    for (x, y), joins in [(pt, True) for pt in prompt.add_points] + [(pt, False) for pt in prompt.cut_points]:
        xi, yi = int(x), int(y)
        holding = [c for c in candidates if c is not None and c.shape == mask.shape and c[yi, xi]]
        limit = box_area if joins else 0.5 * mask.sum()
        holding = sorted((c for c in holding if c.sum() <= limit), key=lambda c: int(c.sum()))
        if holding:
            out = out | holding[0] if joins else out & ~holding[0]
    return out


def _discs(shape, points, radius: float) -> np.ndarray:
    out = np.zeros(shape[:2], np.uint8)
    for x, y in points:
        cv2.circle(out, (int(round(x)), int(round(y))), int(round(radius)), 1, -1)
    return out.astype(bool)


def _distance_to_prior(prompt: Prompt, x: float, y: float) -> float:
    """Pixels from (x, y) to the nearest pixel of the prompt's prior, looked for in its expanded box."""
    x0, y0, x1, y1 = prompt.expanded_box
    crop = prompt.prior[y0:y1, x0:x1]
    xi, yi = int(x) - x0, int(y) - y0
    if crop[yi, xi]:
        return 0.0
    if not crop.any():
        return float(np.hypot(x1 - x0, y1 - y0))
    dist = cv2.distanceTransform((~crop).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[yi, xi])


def _path(prior: np.ndarray, point, width: float) -> np.ndarray:
    """A line `width` wide from `point` to the nearest pixel of `prior` (empty when the point is on it)."""
    out = np.zeros(prior.shape, np.uint8)
    ys, xs = np.nonzero(prior)
    if not len(xs):
        return out.astype(bool)
    k = int(np.argmin((xs - point[0]) ** 2 + (ys - point[1]) ** 2))
    cv2.line(out, (int(round(point[0])), int(round(point[1]))), (int(xs[k]), int(ys[k])), 1,
             max(int(round(width)), 1))
    return out.astype(bool)
