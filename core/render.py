"""Draw a Result: semi-transparent per-instance colours, the mask outline, the box and a readable label."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

# Distinct, colour-blind-friendly hues (Okabe-Ito without black), RGB.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167)]


def colour(index: int) -> tuple:
    return PALETTE[index % len(PALETTE)]


def label_colour(label: str) -> tuple:
    """A colour fixed by the label ("face-2", "hand-1 (left)"), so every view of a result agrees on colours.
    Faces start at the palette's first colour, hands at its fourth."""
    kind, _, rest = label.partition("-")
    digits = "".join(ch for ch in rest.split(" ")[0] if ch.isdigit())
    n = int(digits) - 1 if digits else 0
    return colour(n + (3 if kind == "hand" else 0))


def annotate(image: np.ndarray, instances: list, alpha: float = 0.45) -> np.ndarray:
    """Return a new RGB uint8 image with every instance drawn; the input is not modified.

    Blending works on each mask's bounding box only, so drawing costs little on large photos."""
    out = image.copy()
    h, w = image.shape[:2]
    for inst in instances:
        x0, y0, x1, y1 = _bounds(inst.mask)
        if x1 <= x0:
            continue
        region, m = out[y0:y1, x0:x1], inst.mask[y0:y1, x0:x1]
        tint = np.empty_like(region)
        tint[:] = label_colour(inst.label)
        blended = cv2.addWeighted(region, 1 - alpha, tint, alpha, 0)
        np.copyto(region, blended, where=m[:, :, None])
    thick = max(1, int(round(max(h, w) / 500)))
    font_scale = max(0.4, max(h, w) / 1400)
    placed: list = []
    for inst in instances:
        c = tuple(int(v) for v in label_colour(inst.label))
        x0, y0, x1, y1 = _bounds(inst.mask)
        if x1 > x0:
            contours, _ = cv2.findContours(inst.mask[y0:y1, x0:x1].astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
            cv2.drawContours(out, contours, -1, c, thick, cv2.LINE_AA)
        box = tuple(int(v) for v in inst.box)
        cv2.rectangle(out, box[:2], box[2:], c, thick, cv2.LINE_AA)
        _label(out, inst.label, box, c, font_scale, thick, placed)
    return out


def _bounds(mask: np.ndarray) -> tuple:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _label(img, text, box, c, scale, thick, placed: list):
    """Draw a filled tag with the label: above the box, else inside its top, else below it; the first spot that
    does not cover a label already drawn (`placed`), so labels of touching hands stay readable."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    tag_w, tag_h = tw + 4, th + base + 4
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    x = int(min(max(x0, 0), max(w - tag_w, 0)))
    spots = [y0 - tag_h, y0, y1, y1 - tag_h, y0 - 2 * tag_h, y1 + tag_h]
    spots = [int(min(max(t, 0), max(h - tag_h, 0))) for t in spots]

    def clear(top):
        return all(top + tag_h <= a[1] or top >= a[3] or x + tag_w <= a[0] or x >= a[2] for a in placed)

    top = next((t for t in spots if clear(t)), spots[0])
    placed.append((x, top, x + tag_w, top + tag_h))
    cv2.rectangle(img, (x, top), (x + tag_w, top + tag_h), c, -1)
    dark = sum(c) > 380  # dark text on light colours, white text on dark ones
    cv2.putText(img, text, (x + 2, top + th + 2), font, scale, (0, 0, 0) if dark else (255, 255, 255), thick,
                cv2.LINE_AA)


def preview(image: np.ndarray, instances: list, max_pixels: int) -> tuple:
    """(outlined image, [(bool mask, label), ...]) for display, at most `max_pixels` large.

    A viewer shows a few megapixels at most; drawing and encoding a 24 MP overlay plus one full-size RGBA layer per
    instance (what `gr.AnnotatedImage` makes of each mask) cost seconds and gigabytes. Downloads keep full size."""
    h, w = image.shape[:2]
    s = min(1.0, (max_pixels / (w * h)) ** 0.5)
    if s < 1.0:
        size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        instances = [dataclasses.replace(
            inst, box=tuple(v * s for v in inst.box),
            mask=cv2.resize(inst.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool))
            for inst in instances]
    outlines = annotate(image, instances, alpha=0.0)
    return outlines, [(inst.mask, inst.label) for inst in instances]
