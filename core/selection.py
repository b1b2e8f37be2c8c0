"""Choose each instance's mask from a backend's candidates by agreement with its landmark prior.

Every backend is judged the same way: a candidate must overlap the landmark prior, and a mask that runs far
outside the expanded box (a background blob, the neck, a face+hand merge) scores low. Shared by all backends.
"""
from __future__ import annotations

import numpy as np

from .backends.base import Candidates

MIN_AGREEMENT = 0.35  # below this IoU with the prior, no candidate is trusted and the prior is used


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter / union) if union else 0.0


def agreement(candidate: np.ndarray, prompt) -> float:
    """How well a candidate matches a prompt: IoU with the prior, minus the share of it outside the box."""
    x0, y0, x1, y1 = prompt.expanded_box
    area = candidate.sum()
    if area == 0:
        return 0.0
    outside = 1.0 - candidate[y0:y1, x0:x1].sum() / area
    return iou(candidate, prompt.prior) - 0.5 * outside


def choose(prompts: list, cands: Candidates) -> list:
    """Per prompt: (mask, note). Falls back to the prior (note says so) when no candidate agrees."""
    out = []
    for i, prompt in enumerate(prompts):
        options = list(cands.per_prompt[i]) if i < len(cands.per_prompt) else []
        if cands.trusted and options:
            out.append((options[0], ""))
            continue
        options += list(cands.shared)
        scored = [(agreement(m, prompt), m) for m in options if m is not None and m.any()]
        if scored:
            best_score, best = max(scored, key=lambda t: t[0])
            if best_score >= MIN_AGREEMENT:
                out.append((best, ""))
                continue
        out.append((prompt.prior.copy(), "no candidate matched the landmarks; used the landmark mask"))
    return out


def make_exclusive(prompts: list, masks: list) -> list:
    """Each pixel belongs to at most one instance: hands win over faces (hands are in front of faces);
    otherwise the instance whose prior contains the pixel, then the smaller instance."""
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
        if not m.any():  # never drop a detected instance: keep what its prior has that nobody took
            m = prompts[i].prior & ~taken
            if not m.any():
                m = masks[i].copy()
        out[i] = m
        taken |= m
    return out
