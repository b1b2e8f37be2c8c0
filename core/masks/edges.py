"""Where the photo has an edge, on the judge's samples: whether a candidate's border lies where the photo changes.

A model's exact mask ends where the object does, and there the photo changes (the hand against the table, a
fingertip's shadow). A looser cut ends where nothing changes: a rectangle's straight sides across the table, a rim's
outline in the background, a box edge. Colour alone cannot tell a dark game piece past the fingertips from a hand's
shadowed fingers; the edge between them can.

The edge map is the strongest Lab colour gradient (Scharr, per channel) inside each sample's pixels, let through to
the next sample either way (a border a sample off its edge still sits on it), on a 0-1 scale by the region's own
strong edges (its 90th percentile), so the scale is this photo's and this region's, not a fixed contrast.
"""
from __future__ import annotations

import cv2
import numpy as np

STRONG = 90  # percentile of the region's gradients that counts as a full edge (1.0)
FINE = 2  # the gradients are taken at most this many pixels a sample (a larger region is downscaled first)
_SQUARE = np.ones((3, 3), np.uint8)


def edge_map(region: np.ndarray, step: int, shape) -> np.ndarray:
    """(rows, cols) = `shape` float32 in [0, 1]: edge strength per sample of `region` (an RGB crop sampled every
    `step` pixels, as `Judge.crop` samples masks)."""
    if step > FINE:  # gradients at FINE pixels a sample at most: a large photo's hand costs what a small one's does
        h, w = region.shape[:2]
        size = (max(1, round(w * FINE / step)), max(1, round(h * FINE / step)))
        region, step = cv2.resize(np.ascontiguousarray(region), size, interpolation=cv2.INTER_AREA), FINE
    lab = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2LAB).astype(np.float32)
    grad = np.zeros(lab.shape[:2], np.float32)
    for c in range(3):
        gx = cv2.Scharr(lab[..., c], cv2.CV_32F, 1, 0)
        gy = cv2.Scharr(lab[..., c], cv2.CV_32F, 0, 1)
        grad = np.maximum(grad, cv2.magnitude(gx, gy))
    rows, cols = shape
    if step > 1:  # the strongest edge inside each sample's pixels: a thin edge between samples is not lost
        block = np.zeros((rows * step, cols * step), np.float32)
        h, w = min(grad.shape[0], rows * step), min(grad.shape[1], cols * step)
        block[:h, :w] = grad[:h, :w]
        grad = block.reshape(rows, step, cols, step).max(axis=(1, 3))
    grad = cv2.dilate(grad[:rows, :cols], _SQUARE)
    return np.clip(grad / (np.percentile(grad, STRONG) + 1e-6), 0.0, 1.0)


def outline(mask: np.ndarray) -> np.ndarray:
    """A mask's own border samples, without those on the region's frame (a cut there is the region's, not the
    model's)."""
    m = mask.astype(np.uint8)
    border = (m - cv2.erode(m, _SQUARE)) > 0
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = False
    return border


def border_trade(edges: np.ndarray, small: np.ndarray, big: np.ndarray) -> tuple:
    """(new, gone) for growing `small` to `big` (nested): the mean edge strength along the border `big` draws
    beyond `small`, and along the border of `small` that `big` swallows. The rest of a hand a piece missed trades a
    cut across the hand (no edge) for the hand's outline (edges); a bigger mask with background trades the hand's
    outline for a line across the table. (1, 0) when either border is too short to say."""
    new = outline(big) & ~(cv2.dilate(small.astype(np.uint8), _SQUARE) > 0)
    gone = outline(small) & (cv2.erode(big.astype(np.uint8), _SQUARE) > 0)
    if new.sum() < 4 or gone.sum() < 4:
        return 1.0, 0.0
    return float(edges[new].mean()), float(edges[gone].mean())
