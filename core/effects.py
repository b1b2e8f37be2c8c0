"""Effects computed from a Result, read-only on it (like render and export): anonymising faces and hands.

`anonymise(result, "faces")` returns a new RGB image in which every face's mask (grown by a margin, so the
hairline and jaw edge go too) is blurred, pixelated or filled. The region hidden is found from the mask itself
(the box is not trusted to contain it); the instance's box stands in where its mask is empty, so a found face is
never left showing. Blur and fill leave nothing a face detector finds (MediaPipe finds no face in the results on
the test photos); pixelate keeps a face's layout, so who it is goes but a detector may still see that a face is there.
"""
from __future__ import annotations

import cv2
import numpy as np

from .detect.geometry import mask_bounds

TARGETS = ("faces", "hands", "all")
STYLES = ("blur", "pixelate", "fill")
MARGIN = 0.08  # the mask is grown by this share of the instance's size
PIXELS_ACROSS = 8  # pixelate: about this many blocks across an instance


def check(what: str, style: str = "blur") -> None:
    """ValueError, with the choices, for an unknown target or style (before any work is done)."""
    if what not in TARGETS:
        raise ValueError(f"Unknown target {what!r}. Choose from: {', '.join(TARGETS)}.")
    if style not in STYLES:
        raise ValueError(f"Unknown style {style!r}. Choose from: {', '.join(STYLES)}.")


def select(instances: list, what: str) -> list:
    """The instances an effect applies to: "faces", "hands" or "all"."""
    check(what)
    kinds = {"faces": {"face"}, "hands": {"hand"}, "all": {"face", "hand"}}[what]
    return [i for i in instances if i.kind in kinds]


def anonymise(result, what: str = "faces", style: str = "blur", image: np.ndarray | None = None) -> np.ndarray:
    """A copy of `image` (default: `result.image`) with the chosen instances hidden. `style`: blur (strong,
    scaled to each instance's size), pixelate, or fill (solid grey)."""
    check(what, style)
    src = result.image if image is None else image
    out = src.copy()
    h, w = out.shape[:2]
    for inst in select(result.instances, what):
        # The mask's own extent, not the box: a mask reaching past its box (a Result built by hand) is still hidden.
        bounds = mask_bounds(inst.mask)
        x0, y0, x1, y1 = bounds if bounds is not None else (int(v) for v in inst.box)
        size = max(x1 - x0, y1 - y0, 1)
        pad = max(2, int(round(MARGIN * size)))
        bx0, by0, bx1, by1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
        if bx1 <= bx0 or by1 <= by0:
            continue
        m = inst.mask[by0:by1, bx0:bx1]
        if bounds is not None:
            k = 2 * pad + 1
            m = cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        else:
            m = np.ones((by1 - by0, bx1 - bx0), bool)
        region = out[by0:by1, bx0:bx1]
        np.copyto(region, _hidden(src[by0:by1, bx0:bx1], style, size), where=m[:, :, None])
    return out


def _hidden(crop: np.ndarray, style: str, size: int) -> np.ndarray:
    ch, cw = crop.shape[:2]
    if style == "fill":
        return np.full_like(crop, 128)
    if style == "pixelate":
        block = max(2, size // PIXELS_ACROSS)
        small = cv2.resize(crop, (max(1, cw // block), max(1, ch // block)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (cw, ch), interpolation=cv2.INTER_NEAREST)
    # Blur: downscale, blur, upscale (cost independent of the instance's size); strong enough that features go.
    s = min(1.0, 32 / max(ch, cw))
    small = cv2.resize(crop, (max(1, int(cw * s)), max(1, int(ch * s))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(small.shape[:2]) / 6)
    return cv2.resize(small, (cw, ch), interpolation=cv2.INTER_LINEAR)
