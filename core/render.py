"""Draw a Result: semi-transparent per-instance colours, the mask outline, the box and a readable label."""
from __future__ import annotations

import cv2
import numpy as np

# Distinct, colour-blind-friendly hues (Okabe-Ito without black), RGB.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167)]


def colour(index: int) -> tuple:
    return PALETTE[index % len(PALETTE)]


def annotate(image: np.ndarray, instances: list, alpha: float = 0.45) -> np.ndarray:
    """Return a new RGB uint8 image with every instance drawn; the input is not modified."""
    out = image.astype(np.float32)
    h, w = image.shape[:2]
    for k, inst in enumerate(instances):
        c = np.array(colour(k), np.float32)
        m = inst.mask
        out[m] = out[m] * (1 - alpha) + c * alpha
    out = np.clip(out, 0, 255).astype(np.uint8)
    thick = max(1, int(round(max(h, w) / 500)))
    font_scale = max(0.4, max(h, w) / 1400)
    for k, inst in enumerate(instances):
        c = tuple(int(v) for v in colour(k))
        contours, _ = cv2.findContours(inst.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, c, thick, cv2.LINE_AA)
        x0, y0, x1, y1 = (int(v) for v in inst.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), c, thick, cv2.LINE_AA)
        _label(out, inst.label, x0, y0, c, font_scale, thick)
    return out


def _label(img, text, x, y, c, scale, thick):
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    h, w = img.shape[:2]
    x = int(min(max(x, 0), max(w - tw - 4, 0)))
    top = y - th - base - 4
    if top < 0:  # no room above the box: put the label inside it
        top = y
    top = int(min(max(top, 0), max(h - th - base - 4, 0)))
    cv2.rectangle(img, (x, top), (x + tw + 4, top + th + base + 4), c, -1)
    dark = sum(c) > 380  # dark text on light colours, white text on dark ones
    cv2.putText(img, text, (x + 2, top + th + 2), font, scale, (0, 0, 0) if dark else (255, 255, 255), thick,
                cv2.LINE_AA)
