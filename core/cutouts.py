"""Cut-outs: each face and hand on its own, on a transparent background (RGBA), ready for a gallery, a sticker or a
dataset of crops.

A mask PNG says where an instance is; a cut-out shows it, without the rest of the photo. Like render and export it is
computed from a Result alone and never changes it. The alpha channel is the mask exactly (0 or 255, no softened
edge), so a cut-out's opaque pixels are the mask's pixels, and the colours of transparent pixels are set to 0 (a
neighbour's face in the margin is not hidden in the PNG's colour channels). An instance with an empty mask has
nothing to cut out: `cutouts` leaves it out, and `cutout` refuses it (ValueError) rather than return its box.
"""
from __future__ import annotations

import numpy as np

from .detect.geometry import mask_bounds

MARGIN = 0.04  # transparent border around the mask's bounding box, as a share of its longer side (at least 2 px)


def cutout(result, instance, margin: float = MARGIN) -> np.ndarray:
    """The instance's pixels of `result.image` as an RGBA uint8 array: alpha 255 on its mask and 0 elsewhere,
    cropped to the mask's bounding box plus `margin` (clipped to the photo). ValueError for an empty mask or a mask
    whose size is not the photo's."""
    image, mask = result.image, instance.mask
    h, w = image.shape[:2]
    if mask.shape != (h, w):
        raise ValueError(f"{instance.label}: mask is {mask.shape[1]}x{mask.shape[0]}, the photo {w}x{h}.")
    bounds = mask_bounds(mask)
    if bounds is None:
        raise ValueError(f"{instance.label}: the mask is empty, there is nothing to cut out.")
    x0, y0, x1, y1 = bounds
    pad = max(2, int(round(margin * max(x1 - x0, y1 - y0))))
    x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    m = mask[y0:y1, x0:x1]
    rgba = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
    np.copyto(rgba[:, :, :3], image[y0:y1, x0:x1, :3], where=m[:, :, None])
    rgba[:, :, 3] = m * np.uint8(255)
    return rgba


def cutouts(result, margin: float = MARGIN) -> list:
    """[(label, RGBA cut-out), ...] in the result's order; instances with an empty mask are left out."""
    return [(inst.label, cutout(result, inst, margin)) for inst in result.instances if inst.mask.any()]
