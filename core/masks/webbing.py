"""The gaps between spread fingers: background, unless the photo says otherwise.

GrabCut works a hand at a few working pixels per finger, and its smoothness term (and the prior's thick fingers)
fills the narrow wedge between two spread fingers: the hand grows webbing. The landmarks say where the gaps are:
between two adjacent fingers' bones, farther from both than a finger's half width. What fills a gap is read from
the photo, per gap: a colour model of this hand's own bones against its surroundings. A gap whose pixels are not
clearly the fingers' colours (log-likelihood ratio under HAND_EVIDENCE, on average and pixel by pixel) is
background there: what shows between the fingers is the table, a held card, or skin no more typical of this hand
than of what surrounds it (the neck or face behind it); colours that mark this hand out from its surroundings
(a glove's, this hand's own shade) are left to the refinement. A gap whose fingertips touch, or that the refined
mask encloses, is closed: the fingers ring a hole there, which labels count as hand, so it is not cut.

Measured (`python -m bench.quality`, web = predicted-not-labelled share inside the landmark hull): egohands web
0.054 -> 0.037, IoU 0.749 -> 0.756, boundary F 0.764 -> 0.795; hand_over_face (hands of ~30 px, gaps of a pixel
or two) web 0.013 -> 0.011, IoU 0.716 -> 0.717, boundary F 0.653 -> 0.662. On the examples, the neck between the
spread fingers at the woman's throat and the card held between the card thrower's fingers leave the hands.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect.geometry import hand_scale
from .colour import ColourModel, colour_codes
from .refine import GUIDE_SIDE, _shrink
from .skeleton import skeleton_mask

# Adjacent fingers' chains past their knuckles (the thumb from its MCP): the gap lies between each pair.
GAPS = (((2, 3, 4), (5, 6, 7, 8)), ((5, 6, 7, 8), (9, 10, 11, 12)), ((9, 10, 11, 12), (13, 14, 15, 16)),
        ((13, 14, 15, 16), (17, 18, 19, 20)))
# A finger is about a quarter of the palm's width (hand_scale) wide: a gap pixel lies farther than this from both
# fingers' bones (a little over half a finger's width: the finger's own side is not the gap).
CLEAR = 0.16
# A cut narrower than this many photo pixels either way is a shadow line between touching fingers, or a gap the
# photo does not resolve (nor labels draw); an opening with this radius drops it.
SLIT_PX = 1
# Where the landmarks put a gap, background is expected: a gap pixel is kept for the refinement only when its
# colour is clear evidence of the hand, a log-likelihood ratio of at least this (e = 2.7 times likelier under the
# hand's colours than under its surroundings'). At 0 (the even-odds boundary), colours seen on neither side (a held
# card's face, jewellery, a suit's shadow) stayed: egohands web 0.048 there, 0.037 at 1; hand_over_face 0.011 both.
HAND_EVIDENCE = 1.0
# The gaps are read on the refinement's window at up to the resolution the photo guides a mask's border at
# (colours area-averaged): a finger stays ~15 pixels wide, and a large hand costs what a small one does (the woman's
# hand in examples/02: 23 ms at full size, under 3 ms so). Only the box around the gaps is read closely.
WORK_SIDE = GUIDE_SIDE


def finger_gaps(image: np.ndarray, landmarks: np.ndarray, window, inside: np.ndarray, prior: np.ndarray,
                reach: float):
    """Bool HxW: the pixels between spread fingers that the photo shows as background, or None where no gap does.

    `window` (x0, y0, x1, y1) is where to look (the refinement's box). The colour model learns the hand from
    `inside` (bool HxW, certain hand: its bones) and its surroundings from the window beyond `prior` (bool HxW)
    grown by `reach` pixels (the band the refinement may move the border within)."""
    pts = np.asarray(landmarks, np.float64)
    x0, y0, x1, y1 = window
    h, w = y1 - y0, x1 - x0
    if h < 8 or w < 8:
        return None
    g = min(1.0, WORK_SIDE / max(h, w))
    size = hand_scale(pts) * g
    sw, sh = max(int(round(w * g)), 8), max(int(round(h * g)), 8)
    local = (pts - [x0, y0]) * [sw / w, sh / h]
    wedges = np.zeros((sh, sw), np.uint8)  # gap k's wedge is labelled k + 1
    for k, (a, b) in enumerate(GAPS):
        if np.linalg.norm(local[a[-1]] - local[b[-1]]) < 2 * CLEAR * size:
            continue  # the fingertips touch: what lies between is a hole the fingers close (an OK sign), not a web
        poly = np.round(np.vstack([local[list(a)], local[list(b)][::-1]]) * 4).astype(np.int32)
        cv2.fillPoly(wedges, [poly], k + 1, shift=2)
    bx, by, bw, bh = cv2.boundingRect((wedges > 0).astype(np.uint8))
    if bw == 0 or bh == 0:
        return None
    # Only the wedges' box is looked at closely; the bones are drawn with a margin so that a bone just outside it
    # still keeps its side from being a gap.
    m = int(np.ceil(CLEAR * size)) + 1
    fx0, fy0, fx1, fy1 = max(bx - m, 0), max(by - m, 0), min(bx + bw + m, sw), min(by + bh + m, sh)
    bones = skeleton_mask(local - [fx0, fy0], (fy1 - fy0, fx1 - fx0), 1.0)
    far = cv2.distanceTransform((~bones).astype(np.uint8), cv2.DIST_L2, 3) > CLEAR * size
    far = far[by - fy0:by - fy0 + bh, bx - fx0:bx - fx0 + bw]
    labels = wedges[by:by + bh, bx:bx + bw] * far
    if np.count_nonzero(labels) < 4:
        return None  # fingers side by side: no gap to read
    crop = image[y0:y1, x0:x1]
    small = crop if g == 1.0 else cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
    away = cv2.distanceTransform((~_shrink(prior[y0:y1, x0:x1], (sw, sh))).astype(np.uint8), cv2.DIST_L2, 3) > reach * g
    model = ColourModel(colour_codes(small), _shrink(inside[y0:y1, x0:x1], (sw, sh)), away)
    if not model.ready:
        return None
    llr = model.evidence(colour_codes(small[by:by + bh, bx:bx + bw]))
    out = np.zeros((sh, sw), np.uint8)
    part = out[by:by + bh, bx:bx + bw]
    for k in range(1, len(GAPS) + 1):
        gap = labels == k
        if gap.sum() < 4 or llr[gap].mean() >= HAND_EVIDENCE:
            continue
        part[gap & (llr < HAND_EVIDENCE)] = 1
    if not part.any():
        return None
    r = int(round(SLIT_PX * g))
    if r >= 1:
        out = cv2.morphologyEx(out, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
        if not out.any():
            return None
    if g < 1.0:
        out = cv2.resize(out.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    full = np.zeros(image.shape[:2], bool)
    full[y0:y1, x0:x1] = out > 0
    return full


def close_rings(mask: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """`mask` with the holes it encloses that a gap cut made filled again (a copy when there is one, else `mask`
    itself): a web is open to the outside; a gap the fingers close all round (a thumb curled to the index) is
    counted as hand, as labels draw it. Only the mask's bounding box is looked at (a hole lies inside it)."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0 or h == 0:
        return mask
    box = (slice(y, y + h), slice(x, x + w))
    outside = np.pad(~mask[box], 1, constant_values=True).astype(np.uint8)
    _, labels = cv2.connectedComponents(outside, connectivity=4)
    labels = labels[1:-1, 1:-1]  # the padding joins everything open to the outside into label labels[0, 0] had
    hit = np.unique(labels[gaps[box] & (labels > 0)])
    ring = np.isin(labels, hit[hit != 1])  # label 1: the padding's component, the open outside
    if not ring.any():
        return mask
    out = mask.copy()
    out[box] |= ring
    return out
