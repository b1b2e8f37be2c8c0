"""Refine a landmark prior with image evidence, cheaply, inside the instance's expanded box.

The prior is right about where the face or hand is but not about its exact border (hairline, chin, fingers
apart). A colour model of the instance learnt from the prior's confident core, against the ring just outside
it, decides the uncertain band in between. GrabCut does this with Gaussian mixtures and a smoothness term; it
runs on a downscaled crop so it costs a few milliseconds per instance. Evidence from elsewhere (a hand's bones, a
person silhouette) enters as certain foreground or background.
"""
from __future__ import annotations

import cv2
import numpy as np

# Crops are refined at about this size, one GrabCut iteration, and upscaled back: ~3 ms per instance. Measured on
# the shared photos, 64 px / 1 iteration scores within 0.01 IoU of 96 px / 2 iterations at a third of the cost.
WORK_SIDE = 64
# The thinnest part the mask must keep (a finger) spans at least this many working pixels: GrabCut's smoothness
# term cuts what is one or two pixels wide, however clear its colour.
DETAIL_PIXELS = 4


def refine_with_grabcut(image: np.ndarray, prior: np.ndarray, box, inner: float, outer: float,
                        iterations: int = 1, work_side: int = WORK_SIDE, limit: np.ndarray | None = None,
                        sure: np.ndarray | None = None, background: np.ndarray | None = None,
                        detail: float | None = None, maybe: np.ndarray | None = None,
                        keep: np.ndarray | None = None) -> np.ndarray:
    """Return a refined bool mask. `inner`/`outer` are the erosion/dilation radii (fraction of instance size)
    that bound the uncertain band where GrabCut may move the border; `work_side` the crop's longer side.

    The working window is `box` (context for the background colour model) grown where needed to hold the whole
    band, so the mask can reach every place the band allows and no border of the mask is a side of the window;
    only the photo's own border may cut it straight. Outside `limit` (bool HxW, e.g. past a hand's wrist) the
    window is certain background.

    Evidence from elsewhere (bool HxW, photo-sized): `sure` is certain foreground (a hand's bones: the landmarks
    put a finger there) and is part of the answer whatever the colours say; `background` is certain background
    (where a person silhouette ends). `detail`: the width in photo pixels of the thinnest part the mask must keep
    (a finger); the crop is worked at a scale where it spans at least DETAIL_PIXELS, even above `work_side`.
    `maybe` (a visitor's added point and its reach) is maybe-foreground wherever the prior's band does not reach;
    the parts of the answer that touch `keep` stay even when they are not its largest part."""
    band = _band_box(prior, outer)
    if band is None:
        return prior
    if maybe is not None and maybe.any():
        band = _union_box(band, _band_box(maybe, 0.0))
    x0, y0, x1, y1 = min(box[0], band[0]), min(box[1], band[1]), max(box[2], band[2]), max(box[3], band[3])
    crop_prior = prior[y0:y1, x0:x1]
    if crop_prior.sum() < 16:
        return prior
    crop = image[y0:y1, x0:x1]
    h, w = crop_prior.shape
    s = min(1.0, max(work_side / max(h, w), DETAIL_PIXELS / detail if detail else 0.0))
    sw, sh = max(int(round(w * s)), 8), max(int(round(h * s)), 8)
    small_img = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
    small_prior = _shrink(crop_prior, (sw, sh))
    size = np.sqrt(small_prior.sum())
    r_in, r_out = max(int(round(inner * size)), 1), max(int(round(outer * size)), 1)
    core = cv2.erode(small_prior.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r_in + 1,) * 2))
    grown = cv2.dilate(small_prior.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r_out + 1,) * 2))
    if core.sum() < 4 or (grown == 0).sum() < 4:
        return prior
    gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    gc[grown > 0] = cv2.GC_PR_BGD
    gc[small_prior] = cv2.GC_PR_FGD
    gc[core > 0] = cv2.GC_FGD
    if maybe is not None:  # the mask may grow there, if the colours say so
        gc[_shrink(maybe[y0:y1, x0:x1], (sw, sh)) & (gc == cv2.GC_BGD)] = cv2.GC_PR_BGD
    if background is not None:
        gc[_shrink(background[y0:y1, x0:x1], (sw, sh))] = cv2.GC_BGD
    if sure is not None:
        gc[_shrink(sure[y0:y1, x0:x1], (sw, sh))] = cv2.GC_FGD
    if limit is not None:
        gc[~_shrink(limit[y0:y1, x0:x1], (sw, sh))] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means: same photo, same mask (per thread)
        cv2.grabCut(cv2.cvtColor(small_img, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return prior
    small = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    big = _upsample(small, crop, 1.0 / s)
    if sure is not None:
        big |= sure[y0:y1, x0:x1]
    if background is not None:
        big &= ~background[y0:y1, x0:x1] | (sure[y0:y1, x0:x1] if sure is not None else False)
    big = largest_component(big, None if keep is None else keep[y0:y1, x0:x1])
    out = np.zeros(prior.shape, bool)  # the window holds all of the prior (its band box): nothing of it is outside
    out[y0:y1, x0:x1] = big if limit is None else big & limit[y0:y1, x0:x1]
    return out


def _shrink(mask: np.ndarray, size) -> np.ndarray:
    """A bool mask at the working size (nearest: a pixel keeps its label)."""
    small = cv2.resize(_bytes(mask), size, interpolation=cv2.INTER_NEAREST)
    return small.view(bool) if mask.dtype == bool else small > 0


def _bytes(mask: np.ndarray) -> np.ndarray:
    """A bool mask as 0/1 bytes for OpenCV, without a copy when it is bool already."""
    return mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)


def _band_box(prior: np.ndarray, outer: float, margin: int = 4):
    """The prior's bounding box grown by the outer band (at full resolution) plus a margin, clipped to the photo."""
    x, y, w, h = cv2.boundingRect(_bytes(prior))
    if w == 0 or h == 0:
        return None
    grow = int(np.ceil(outer * np.sqrt(prior[y:y + h, x:x + w].sum()))) + margin
    H, W = prior.shape
    return max(0, x - grow), max(0, y - grow), min(W, x + w + grow), min(H, y + h + grow)


GUIDE_SIDE = 256  # the photo guides the mask's border at up to this resolution (then a smooth bilinear upscale)


def _upsample(small: np.ndarray, crop: np.ndarray, scale: float) -> np.ndarray:
    """The low-resolution mask at the crop's size without stair steps: each work pixel covers `scale` photo
    pixels, so a nearest or bilinear upscale of the binary mask draws its pixel grid as axis-parallel steps.
    The mask is smoothed by about one work pixel, upscaled as a soft map, snapped to the photo's own edges with a
    guided filter (the photo, at up to GUIDE_SIDE px, guides where the soft border falls), then thresholded."""
    h, w = crop.shape[:2]
    soft = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 0.7)
    g = min(1.0, GUIDE_SIDE / max(h, w))
    gw, gh = max(int(round(w * g)), 1), max(int(round(h * g)), 1)
    soft = cv2.resize(soft, (gw, gh), interpolation=cv2.INTER_LINEAR)
    if scale * g > 1.5 and hasattr(cv2, "ximgproc"):
        guide = crop if g == 1.0 else cv2.resize(crop, (gw, gh), interpolation=cv2.INTER_AREA)
        soft = cv2.ximgproc.guidedFilter(guide, soft, max(2, int(round(scale * g))), 1e-3)
    if (gw, gh) != (w, h):
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return soft > 0.5


def largest_component(mask: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """The mask's largest 8-connected part (bool): stray specks and islands go. Parts that touch `keep` (where a
    visitor clicked to add) stay too."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    out = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if keep is not None and keep.any():
        for k in np.unique(labels[keep & (labels > 0)]):
            out |= labels == k
    return out


def _union_box(a, b):
    return a if b is None else (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
