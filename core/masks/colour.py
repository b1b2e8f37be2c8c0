"""A colour model of one instance against its surroundings, learnt from this photo alone.

What the landmarks prove is the instance (a hand's bones, a face's core) gives its colours; the place around it
that no instance's prior reaches gives the background's. Each colour's log-likelihood ratio then says, for any
pixel, whether it looks more like this face or hand than like what surrounds it: the evidence that a model's mask
holds background (a rim around the hand, the gaps between spread fingers, the corners of a box) or only the object.
Joint RGB histograms (8 levels a channel) are learnt in a few hundred microseconds and generalise as far as the
photo's own lighting does, which is the point: no skin colour is assumed.
"""
from __future__ import annotations

import numpy as np

LEVELS = 8  # histogram bins per channel
MIN_SAMPLES = 24  # fewer pixels than this on either side: no model (every pixel is neutral)
CLIP = 2.0  # |log-likelihood ratio| beyond this is as sure as colour gets


class ColourModel:
    """`evidence(codes)` -> per-pixel log-likelihood ratio (instance vs surroundings), clipped to +-CLIP. Pixels are
    given as colour `codes` (one per pixel), computed once per image and shared by every model learnt on it."""

    def __init__(self, codes: np.ndarray, inside: np.ndarray, outside: np.ndarray):
        fg, bg = codes[inside], codes[outside]
        self.ready = len(fg) >= MIN_SAMPLES and len(bg) >= MIN_SAMPLES
        if not self.ready:
            return
        n = LEVELS ** 3
        # Add-half smoothing: a colour seen on neither side is neutral, not infinitely telling.
        p_fg = (np.bincount(fg, minlength=n) + 0.5) / (len(fg) + 0.5 * n)
        p_bg = (np.bincount(bg, minlength=n) + 0.5) / (len(bg) + 0.5 * n)
        self.table = np.clip(np.log(p_fg / p_bg), -CLIP, CLIP).astype(np.float32)

    def evidence(self, codes: np.ndarray) -> np.ndarray:
        if not self.ready:
            return np.zeros(codes.shape, np.float32)
        return self.table[codes]


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's histogram bin (RGB at LEVELS levels a channel)."""
    q = (np.asarray(rgb, np.uint8) // (256 // LEVELS)).astype(np.int32)
    return (q[..., 0] * LEVELS + q[..., 1]) * LEVELS + q[..., 2]
