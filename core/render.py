"""Draw a Result: semi-transparent per-instance colours, a crisp mask outline, the box and a readable label.

Two outputs share one layout (`label_tags`), so the photo a visitor downloads and the one the app shows agree:
- `annotate()`: one RGB image with everything drawn in it (the downloadable `annotated.png`, video frames);
- `preview()`: what `gr.AnnotatedImage` shows: a base image with outlines, boxes and label tags, and one float mask
  per instance that Gradio paints as a translucent layer on top of the base, with a hole under every label tag.

Sizes are shares of the photo's longer side, not pixels: the app shows a photo 320-650 px large whatever its size,
and a downloaded photo is looked at fit to the screen, so a label must be the same share of the picture to be read.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import cv2
import numpy as np

from .detect.geometry import mask_bounds

# Distinct, colour-blind-friendly hues (Okabe-Ito without black), RGB.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167)]

# How opaque a mask's fill looks: 40% lets the skin, the hair line and the fingers show through, so a visitor can
# judge how tight the mask is, and still marks the region clearly.
FILL_OPACITY = 0.40
# Gradio's AnnotatedImage paints each mask as an RGBA layer whose alpha is `uint8(mask_value * 255)` (truncated),
# and its CSS shows every layer at `opacity: .85` (1 for the hovered legend entry). So the preview's mask value is
#   0.85 * floor(v * 255) / 255 = 0.40  ->  floor(v * 255) = 120  ->  v = 120.5 / 255 (half a step above 120, so
#   float rounding can never truncate it to 119); shown opacity 0.85 * 120 / 255 = 0.400.
GRADIO_MASK_OPACITY = 0.85
PREVIEW_FILL = (round(FILL_OPACITY / GRADIO_MASK_OPACITY * 255) + 0.5) / 255

# Label text size, as a share of the picture's longer side. The app shows the preview about 320-650 px on its longer
# side (measured in Chromium: 324 px wide on a phone 390 CSS px wide, 382 px tall for an upright photo), and text
# under ~10 CSS px cannot be read on a phone. The font's line height (capital top to descender bottom, as
# cv2.getTextSize counts it) is 2.8% of the side; with the stroke, a label's ink from the top of "(" to its bottom is
# 3.1-3.2%: 10 px at 324 px shown, 20 px at 650. The same share keeps a downloaded photo's labels readable viewed fit
# to the screen, at any size.
LABEL_TEXT_SHARE = 0.028
# Below this many pixels Hershey glyphs turn into smudges, however the picture is scaled afterwards.
LABEL_MIN_TEXT_PX = 10
# Label stroke width over the line height (see `_font`).
LABEL_STROKE_SHARE = 0.1
# Mask outline width over the longer side: 1/300 is 1.1-2.2 px once the preview is shown 324-650 px large.
OUTLINE_SHARE = 1 / 300

FONT = cv2.FONT_HERSHEY_SIMPLEX


def _line_height(scale: float, thickness: int) -> int:
    """The font's line height in pixels: capital top to descender bottom (getTextSize's height plus baseline)."""
    (_, th), base = cv2.getTextSize("Hg(", FONT, scale, thickness)
    return th + base


_LINE_AT_SCALE_1 = _line_height(1.0, 1)  # 32 px for FONT_HERSHEY_SIMPLEX


def colour(index: int) -> tuple:
    return PALETTE[index % len(PALETTE)]


def label_colour(label: str) -> tuple:
    """A colour fixed by the label ("face-2", "hand-1 (left)"), so every view of a result agrees on colours.
    Faces start at the palette's first colour, hands at its fourth."""
    kind, _, rest = label.partition("-")
    digits = "".join(ch for ch in rest.split(" ")[0] if ch.isdigit())
    n = int(digits) - 1 if digits else 0
    return colour(n + (3 if kind == "hand" else 0))


class Tag(NamedTuple):
    """One label tag: its text, colour, place (x0, y0, x1, y1; end-exclusive pixels), font and text origin."""

    text: str
    colour: tuple
    rect: tuple
    scale: float
    thickness: int
    origin: tuple  # where cv2.putText starts the text (left end of its baseline)


def annotate(image: np.ndarray, instances: list, alpha: float = FILL_OPACITY) -> np.ndarray:
    """Return a new RGB uint8 image with every instance drawn; the input is not modified.

    Fills first, then every outline and box, then every label tag, so no fill or line ever covers a label.
    Blending works on each mask's bounding box only, so drawing costs little on large photos."""
    out = image.copy()
    bounds = [_bounds(inst.mask) for inst in instances]
    if alpha > 0:
        for inst, (x0, y0, x1, y1) in zip(instances, bounds):
            if x1 <= x0:
                continue
            region, m = out[y0:y1, x0:x1], inst.mask[y0:y1, x0:x1]
            tint = np.empty_like(region)
            tint[:] = label_colour(inst.label)
            blended = cv2.addWeighted(region, 1 - alpha, tint, alpha, 0)
            np.copyto(region, blended, where=m[:, :, None])
    _outline(out, instances, bounds)
    for tag in label_tags(out.shape, instances):
        _draw_tag(out, tag)
    return out


def preview(image: np.ndarray, instances: list, max_pixels: int) -> tuple:
    """(base image, [(float32 mask, label), ...]) for `gr.AnnotatedImage`, at most `max_pixels` large.

    The base has the outlines, boxes and label tags; each mask is PREVIEW_FILL inside the instance (40% shown
    opacity once Gradio has drawn it) and 0 elsewhere and under every label tag, so labels stay above all fills.
    A viewer shows a few megapixels at most; drawing and encoding a 24 MP overlay plus one full-size RGBA layer per
    instance (what `gr.AnnotatedImage` makes of each mask) cost seconds and gigabytes. Downloads keep full size."""
    image, instances = fit(image, instances, max_pixels)
    base = image.copy()
    _outline(base, instances, [_bounds(inst.mask) for inst in instances])
    tags = label_tags(base.shape, instances)
    for tag in tags:
        _draw_tag(base, tag)
    layers = []
    for inst in instances:
        layer = inst.mask * np.float32(PREVIEW_FILL)  # float32, PREVIEW_FILL inside, 0 outside
        for x0, y0, x1, y1 in (t.rect for t in tags):
            layer[y0:y1, x0:x1] = 0.0
        layers.append((layer, inst.label))
    return base, layers


def fit(image: np.ndarray, instances: list, max_pixels: int) -> tuple:
    """(image, instances) scaled down to at most `max_pixels` (unchanged when already that small): what
    `preview` draws on."""
    h, w = image.shape[:2]
    s = min(1.0, (max_pixels / (w * h)) ** 0.5)
    if s >= 1.0:
        return image, instances
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    instances = [dataclasses.replace(
        inst, box=tuple(v * s for v in inst.box),
        mask=cv2.resize(inst.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool))
        for inst in instances]
    return image, instances


def label_tags(shape: tuple, instances: list) -> list:
    """Where each instance's label tag goes on a picture of `shape`: above its box, else inside its top, else
    below it; the first spot that does not cover a tag already placed, so labels of touching hands stay readable.
    Every tag lies inside the picture (a label wider than the picture gets a smaller font)."""
    h, w = shape[:2]
    scale, thick = _font(h, w)
    placed: list = []
    tags = []
    for inst in instances:
        text = inst.label
        s, t = scale, thick
        (tw, th), base = cv2.getTextSize(text, FONT, s, t)
        pad = max(2, int(round(0.2 * (th + base))))
        if tw + 2 * pad > w:  # a tiny picture: shrink this label to fit across it
            s *= max(w - 2 * pad, 1) / (tw + 1)
            t = max(1, int(round(t * s / scale)))
            (tw, th), base = cv2.getTextSize(text, FONT, s, t)
        tag_w, tag_h = min(tw + 2 * pad, w), min(th + base + 2 * pad, h)
        x0, y0, x1, y1 = (int(round(v)) for v in inst.box)
        x = min(max(x0, 0), w - tag_w)
        spots = [y0 - tag_h, y0, y1, y1 - tag_h, y0 - 2 * tag_h, y1 + tag_h]
        spots = [min(max(top, 0), h - tag_h) for top in spots]

        def clear(top):
            return all(top + tag_h <= a[1] or top >= a[3] or x + tag_w <= a[0] or x >= a[2] for a in placed)

        top = next((top for top in spots if clear(top)), spots[0])
        rect = (x, top, x + tag_w, top + tag_h)
        placed.append(rect)
        origin = (x + (tag_w - tw) // 2, top + (tag_h - th - base) // 2 + th)
        tags.append(Tag(text, tuple(int(v) for v in label_colour(text)), rect, s, t, origin))
    return tags


def text_colour(c: tuple) -> tuple:
    """Dark text on light colours, white text on dark ones."""
    return (0, 0, 0) if sum(c) > 380 else (255, 255, 255)


def _font(h: int, w: int) -> tuple:
    """(font scale, stroke thickness) for labels on an h x w picture."""
    line_px = max(LABEL_MIN_TEXT_PX, LABEL_TEXT_SHARE * max(h, w))
    # Strokes a tenth of the line: bolder than Hershey's usual scale-1-per-pixel, so that text stays solid when the
    # browser shrinks the picture by half or more (a thin stroke fades to grey there).
    return line_px / _LINE_AT_SCALE_1, max(1, int(round(line_px * LABEL_STROKE_SHARE)))


def _outline(img: np.ndarray, instances: list, bounds: list) -> None:
    """Each instance's mask outline (OUTLINE_SHARE of the longer side) and its box (half as wide), in place."""
    thick = max(1, int(round(max(img.shape[:2]) * OUTLINE_SHARE)))
    box_thick = max(1, thick // 2)
    # Anti-aliasing a 1 px line is cheap and keeps it smooth; from 2 px on it costs 4x the drawing time (0.3 ms a
    # photo) and blurs the edge, while plain 8-connected lines that wide look crisp and show no steps.
    line = cv2.LINE_AA if thick == 1 else cv2.LINE_8
    for inst, (x0, y0, x1, y1) in zip(instances, bounds):
        c = tuple(int(v) for v in label_colour(inst.label))
        if x1 > x0:
            contours, _ = cv2.findContours(inst.mask[y0:y1, x0:x1].astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
            cv2.drawContours(img, contours, -1, c, thick, line)
        box = tuple(int(round(v)) for v in inst.box)
        cv2.rectangle(img, box[:2], box[2:], c, box_thick, line)


def _draw_tag(img: np.ndarray, tag: Tag) -> None:
    x0, y0, x1, y1 = tag.rect
    sub = img[y0:y1, x0:x1]  # text drawn into the tag only: its anti-aliased edges never spill outside it
    sub[:] = tag.colour
    cv2.putText(sub, tag.text, (tag.origin[0] - x0, tag.origin[1] - y0), FONT, tag.scale, text_colour(tag.colour),
                tag.thickness, cv2.LINE_AA)


def _bounds(mask: np.ndarray) -> tuple:
    """The mask's bounds; (0, 0, 0, 0) for an empty mask (nothing to fill or outline)."""
    return mask_bounds(mask) or (0, 0, 0, 0)
