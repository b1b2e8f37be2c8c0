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
from typing import NamedTuple, Optional

import cv2
import numpy as np

from .detect.geometry import box_intersection, mask_bounds

# One colour for every label one photo can hold: faces face-1..40 and hands hand-1..24 (core.options' limits) are
# 64 labels, and `label_colour` gives each its own entry. The first seven are Okabe-Ito's colour-blind-friendly hues
# (without black), ordered so face-1..3 and hand-1..3 keep the colours they had before (faces and hands alternate:
# face-n at 2(n-1), hand-n at 2(n-1)+1). The other 57 were picked greedily from vivid HSV samples (saturation
# 0.45, 0.6, 0.75, 0.9; value 0.5, 0.65, 0.8, 0.95; hue in 4 degree steps), each the one farthest in CIELAB
# (OpenCV's float Lab) from all chosen before it: no near-black or grey fills. Any two entries differ by >= 20 dE76
# and >= 33 in RGB (Euclidean), and the earlier entries (the labels seen most) differ most.
PALETTE = [
    (230, 159, 0), (240, 228, 66), (86, 180, 233), (0, 114, 178), (0, 158, 115), (213, 94, 0), (204, 121, 167),
    (24, 24, 242), (24, 242, 24), (242, 24, 213), (66, 13, 128), (128, 108, 70), (242, 24, 97), (86, 166, 17),
    (128, 32, 38), (24, 111, 242), (24, 242, 141), (97, 242, 242), (242, 199, 133), (166, 17, 126), (199, 133, 242),
    (13, 120, 128), (191, 242, 133), (128, 128, 13), (143, 20, 204), (170, 242, 24), (242, 148, 133), (101, 70, 128),
    (242, 24, 39), (133, 242, 184), (166, 91, 41), (121, 166, 91), (61, 73, 242), (128, 70, 89), (133, 155, 242),
    (166, 17, 17), (204, 82, 106), (242, 97, 203), (126, 242, 97), (17, 76, 166), (242, 24, 141), (13, 128, 43),
    (128, 13, 74), (139, 66, 166), (155, 97, 242), (242, 235, 133), (17, 17, 166), (112, 192, 204), (166, 156, 91),
    (223, 97, 242), (70, 128, 101), (70, 101, 128), (166, 17, 166), (242, 155, 97), (166, 124, 41), (173, 204, 51),
    (213, 24, 242), (242, 107, 97), (204, 173, 51), (166, 101, 91), (112, 204, 112), (20, 204, 180), (242, 97, 165),
    (20, 204, 33),
]
LABEL_SLOTS = {"face": 40, "hand": 24}  # labels with a colour of their own; beyond, colours repeat

# How opaque a mask's fill looks: 40% lets the skin, the hair line and the fingers show through, so a visitor can
# judge how tight the mask is, and still marks the region clearly.
FILL_OPACITY = 0.40
# Gradio's AnnotatedImage paints each mask as an RGBA layer whose alpha is `uint8(mask_value * 255)` (truncated),
# and its CSS shows every layer at `opacity: .85` (1 for the hovered legend entry). So the preview's mask value is
#   0.85 * floor(v * 255) / 255 = 0.40  ->  floor(v * 255) = 120  ->  v = 120.5 / 255 (half a step above 120, so
#   float rounding can never truncate it to 119); shown opacity 0.85 * 120 / 255 = 0.400.
GRADIO_MASK_OPACITY = 0.85
PREVIEW_FILL = (round(FILL_OPACITY / GRADIO_MASK_OPACITY * 255) + 0.5) / 255
WEBP_MAX_SIDE = 16383  # the most pixels a WebP image may have on a side (what gr.AnnotatedImage sends)

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
    """A colour fixed by the label alone ("face-2", "hand-1 (left)"; a hand's side does not change it), so every view
    of a result agrees on colours: face-1..40 and hand-1..24 all differ (see PALETTE). Faces and hands alternate
    over the first 48 entries (face-n and hand-n always differ), faces 25-40 take the last 16; numbers past the
    limits (a long video's track numbers) repeat their kind's colours."""
    kind, _, rest = label.partition("-")
    digits = "".join(ch for ch in rest.split(" ")[0] if ch.isdigit())
    n = int(digits) - 1 if digits else 0
    if kind == "hand":
        return colour(2 * (n % LABEL_SLOTS["hand"]) + 1)
    n %= LABEL_SLOTS["face"]
    return colour(2 * n if n < LABEL_SLOTS["hand"] else 2 * LABEL_SLOTS["hand"] + n - LABEL_SLOTS["hand"])


class Tag(NamedTuple):
    """One label tag: its text, colour, place (x0, y0, x1, y1; end-exclusive pixels), font, text origin and leader
    line ((x, y) on the tag's edge, (x, y) on its mask), None when the tag sits right at its mask."""

    text: str
    colour: tuple
    rect: tuple
    scale: float
    thickness: int
    origin: tuple  # where cv2.putText starts the text (left end of its baseline)
    leader: Optional[tuple] = None


def annotate(image: np.ndarray, instances: list, alpha: float = FILL_OPACITY) -> np.ndarray:
    """Return a new RGB uint8 image with every instance drawn; the input is not modified.

    Fills first, then every outline and box, then the leader lines, then every label tag, so no fill or line ever
    covers a label.
    Blending works on each mask's bounding box only, so drawing costs little on large photos."""
    out = image.copy()
    bounds = [_bounds(inst.mask) for inst in instances]
    if alpha > 0:
        for inst, (x0, y0, x1, y1) in zip(instances, bounds):
            if x1 <= x0:
                continue
            region, m = out[y0:y1, x0:x1], inst.mask[y0:y1, x0:x1]
            # OpenCV fills, blends and copies under the mask; NumPy's broadcast fill of a colour triple and its
            # masked copy took 4 of annotate's 6 ms on a 1 MP portrait.
            tint = cv2.merge([np.full(region.shape[:2], v, np.uint8) for v in label_colour(inst.label)])
            blended = cv2.addWeighted(region, 1 - alpha, tint, alpha, 0)
            region[:] = cv2.copyTo(blended, (m > 0).view(np.uint8), region.copy())
    _outline(out, instances, bounds)
    draw_tags(out, label_tags(out.shape, instances, bounds))
    return out


def preview(image: np.ndarray, instances: list, max_pixels: int, max_side: int = WEBP_MAX_SIDE) -> tuple:
    """(base image, [(float32 mask, label), ...]) for `gr.AnnotatedImage`, at most `max_pixels` large and `max_side`
    a side (Gradio sends the base and every mask as WebP, which refuses a side above 16383 px: a 20000x8 photo
    answered with Gradio's internal error).

    The base has the outlines, boxes, leader lines and label tags; each mask is PREVIEW_FILL inside the instance
    (40% shown opacity once Gradio has drawn it) and 0 elsewhere and under every label tag, so labels stay above all
    fills.
    A viewer shows a few megapixels at most; drawing and encoding a 24 MP overlay plus one full-size RGBA layer per
    instance (what `gr.AnnotatedImage` makes of each mask) cost seconds and gigabytes. Downloads keep full size."""
    image, instances = fit(image, instances, max_pixels, max_side)
    base = image.copy()
    bounds = [_bounds(inst.mask) for inst in instances]
    _outline(base, instances, bounds)
    tags = label_tags(base.shape, instances, bounds)
    draw_tags(base, tags)
    layers = []
    for inst in instances:
        layer = inst.mask * np.float32(PREVIEW_FILL)  # float32, PREVIEW_FILL inside, 0 outside
        for x0, y0, x1, y1 in (t.rect for t in tags):
            layer[y0:y1, x0:x1] = 0.0
        layers.append((layer, inst.label))
    return base, layers


def fit(image: np.ndarray, instances: list, max_pixels: int, max_side: Optional[int] = None) -> tuple:
    """(image, instances) scaled down to at most `max_pixels` and, when given, `max_side` a side (unchanged when
    already that small): what `preview` draws on."""
    h, w = image.shape[:2]
    s = min(1.0, (max_pixels / (w * h)) ** 0.5, max_side / max(w, h) if max_side else 1.0)
    if s >= 1.0:
        return image, instances
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    if max_side:
        size = (min(size[0], max_side), min(size[1], max_side))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    instances = [dataclasses.replace(
        inst, box=tuple(v * s for v in inst.box),
        mask=cv2.resize(inst.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool))
        for inst in instances]
    return image, instances


def label_tags(shape: tuple, instances: list, bounds: Optional[list] = None) -> list:
    """Where each instance's label tag goes on a picture of `shape`, in the order of `instances`.

    A tag never covers a pixel of its own instance's mask nor another tag, and lies inside the picture (a label
    wider than the picture gets a smaller font). Among such spots it takes the cheapest: its distance from the
    mask's bounds in tag heights, plus TAG_ON_OTHER_MASK times (the share of the tag lying on other instances'
    masks + the share of each other mask it hides). So a tag sits right at its mask's bounds (above, below, beside
    or at a corner; the bounds' top-left first) unless that spot is taken or hides another face or hand; then it
    goes anywhere on a grid of a third of a tag height over the picture, with a leader line to the mask's nearest
    pixel when that is more than LEADER_GAP tag heights away.

    Only when every spot covers its own mask or another tag (a mask filling nearly the whole picture, or more
    labels than the picture holds) does a tag cover them: it takes the spot covering the fewest grid cells of other
    tags, then the fewest of its own mask (then the cheapest).

    Cost: the spots at the bounds are tested on the masks' pixels in their rectangles only (a few slices); the grid,
    when needed, on each mask pooled to cells (cached for the call). `bounds`: each mask's `_bounds`, when the
    caller has them already (finding them scans every mask: 60 ms for 15 masks of 22 MP)."""
    h, w = shape[:2]
    scale, thick = _font(h, w)
    if bounds is None:
        bounds = [_bounds(inst.mask) for inst in instances]
    bounds = [b if b[2] > b[0] else _box_bounds(inst.box, w, h) for b, inst in zip(bounds, instances)]
    placer = _Placer(instances, bounds, w, h)
    tags = []
    for i, inst in enumerate(instances):
        text = inst.label
        s, t = scale, thick
        (tw, th), base = cv2.getTextSize(text, FONT, s, t)
        pad = max(2, int(round(0.2 * (th + base))))
        if tw + 2 * pad > w:  # a tiny picture: shrink this label to fit across it
            s *= max(w - 2 * pad, 1) / (tw + 1)
            t = max(1, int(round(t * s / scale)))
            (tw, th), base = cv2.getTextSize(text, FONT, s, t)
        tag_w, tag_h = min(tw + 2 * pad, w), min(th + base + 2 * pad, h)
        rect, leader = placer.place(i, tag_w, tag_h)
        x, top = rect[:2]
        origin = (x + (tag_w - tw) // 2, top + (tag_h - th - base) // 2 + th)
        tags.append(Tag(text, tuple(int(v) for v in label_colour(text)), rect, s, t, origin, leader))
    return tags


# A tag lying wholly on other instances' masks costs as much as one this many tag heights further from its own mask,
# and as much again for each other mask it hides wholly (so a tag does not hide a small face in a crowd).
TAG_ON_OTHER_MASK = 4.0
# How many of the grid's cheapest spots are weighed exactly (with their leader lines) when no spot at the bounds fits.
GRID_TRIES = 12
# A tag whose nearest own-mask pixel is further than this many tag heights gets a leader line to it.
LEADER_GAP = 0.5


class _Placer:
    """Places tags one after another (see `label_tags`): the tags placed so far and each mask's pooled cells."""

    def __init__(self, instances: list, bounds: list, w: int, h: int):
        self.masks, self.bounds, self.w, self.h = [inst.mask for inst in instances], bounds, w, h
        self.placed: list = []
        self.leaders: list = []
        self.pooled: dict = {}  # (instance, cell) -> float32 share of each cell the mask covers
        self.areas = [max(1, int(np.count_nonzero(m[b[1]:b[3], b[0]:b[2]]))) for m, b in zip(self.masks, bounds)]

    def place(self, i: int, tw: int, th: int) -> tuple:
        bx0, by0, bx1, by1 = self.bounds[i]
        near = [j for j, (x0, y0, x1, y1) in enumerate(self.bounds)
                if j != i and x0 < bx1 + tw and x1 > bx0 - tw and y0 < by1 + th and y1 > by0 - th]
        best = None
        for order, (x, y) in enumerate(self._spots(i, tw, th)):
            rect = (x, y, x + tw, y + th)
            key = self._key(i, near, rect, th, order, best[0] if best else None)
            if key is not None and (best is None or key < best[0]):
                best = (key, rect)
        leader = _leader(self.masks[i], self.bounds[i], best[1], th)
        if best[0][:3] != (0, 0, 0) or best[0][4] or leader is not None:  # taken or on a mask: look further
            everyone = list(range(len(self.masks)))
            for rect in self._grid(i, tw, th):
                key = self._key(i, everyone, rect, th, 0, best[0])
                if key is None:
                    continue
                line = _leader(self.masks[i], self.bounds[i], rect, th)
                if line is not None and any(_crosses(line, a) for a in self.placed):  # a tag would hide it
                    key = key[:2] + (key[2] + 1,) + key[3:]
                if key < best[0]:
                    best, leader = (key, rect), line
        self.placed.append(best[1])
        if leader is not None:
            self.leaders.append(leader)
        return best[1], leader

    def _spots(self, i: int, tw: int, th: int) -> list:
        """Spots touching the mask's bounds, in order of preference, moved inside the picture."""
        bx0, by0, bx1, by1 = self.bounds[i]
        xs, ys = (bx0, (bx0 + bx1 - tw) // 2, bx1 - tw), (by0, (by0 + by1 - th) // 2, by1 - th)
        spots = [(x, by0 - th) for x in xs] + [(x, by1) for x in xs]
        spots += [(bx1, y) for y in ys] + [(bx0 - tw, y) for y in ys]
        spots += [(bx0 - tw, by0 - th), (bx1, by0 - th), (bx0 - tw, by1), (bx1, by1)]
        out = []
        for x, y in spots:
            spot = (min(max(x, 0), self.w - tw), min(max(y, 0), self.h - th))
            if spot not in out:
                out.append(spot)
        return out

    def _key(self, i: int, near: list, rect: tuple, th: int, order: int, beat: Optional[tuple] = None):
        """(pixels on other tags, pixels on its own mask, leader lines covered, cost, pixels on other masks): smaller
        is better. None as soon as it is clear the key cannot be below `beat`."""
        x0, y0, x1, y1 = rect
        on_tags = sum(box_intersection(rect, a) for a in self.placed)
        if beat is not None and on_tags > beat[0]:
            return None
        own = int(np.count_nonzero(self.masks[i][y0:y1, x0:x1]))
        if beat is not None and (on_tags, own) > beat[:2]:
            return None
        lines = sum(_crosses(line, rect) for line in self.leaders)
        others, hidden = 0, 0.0
        for j in near:
            a = self.bounds[j]
            if a[0] < x1 and a[2] > x0 and a[1] < y1 and a[3] > y0:
                n = int(np.count_nonzero(self.masks[j][max(y0, a[1]):min(y1, a[3]), max(x0, a[0]):min(x1, a[2])]))
                others, hidden = others + n, hidden + n / self.areas[j]
        cost = (_gap(rect, self.bounds[i]) / th + TAG_ON_OTHER_MASK * (others / ((x1 - x0) * (y1 - y0)) + hidden)
                + 0.01 * order)
        return on_tags, own, lines, cost, others

    def _grid(self, i: int, tw: int, th: int) -> list:
        """The GRID_TRIES cheapest spots on a grid of cells a third of a tag height large, cheapest first: spots
        wholly on cells free of tags, of its own mask and of leader lines (a cell counts as covered when any pixel
        of it is), else the fewest such cells. The caller weighs them exactly, and whether their own leader line
        would run under a tag."""
        c = max(1, th // 3)
        gh, gw = -(-self.h // c), -(-self.w // c)
        nh, nw = -(-th // c), -(-tw // c)
        if nh > gh or nw > gw:
            return []
        own = (self._pool(i, c, gh, gw) > 0).astype(np.float32)
        others = np.zeros((gh, gw), np.float32)  # per cell: its share on other masks + the shares of them it holds
        for j in range(len(self.masks)):
            if j != i:
                others += self._pool(j, c, gh, gw) * np.float32(1 + nh * nw * c * c / self.areas[j])
        tags = np.zeros((gh, gw), np.float32)
        for x0, y0, x1, y1 in self.placed:
            tags[y0 // c:-(-y1 // c), x0 // c:-(-x1 // c)] = 1
        lines = np.zeros((gh, gw), np.float32)
        for (ax, ay), (bx, by) in self.leaders:
            cv2.line(lines, (ax // c, ay // c), (bx // c, by // c), 1.0, 1)
        own_n, tags_n, lines_n, others_n = (_window_sums(a, nh, nw) for a in (own, tags, lines, others))
        gy, gx = np.mgrid[0:own_n.shape[0], 0:own_n.shape[1]]
        x0, y0 = gx * c, gy * c
        bx0, by0, bx1, by1 = self.bounds[i]
        dx = np.maximum(np.maximum(bx0 - (x0 + tw), x0 - bx1), 0)
        dy = np.maximum(np.maximum(by0 - (y0 + th), y0 - by1), 0)
        cost = np.hypot(dx, dy) / th + TAG_ON_OTHER_MASK * others_n / (nh * nw)
        key = tags_n * 1e12 + own_n * 1e8 + np.minimum(lines_n, 1) * 1e4 + cost
        key[(x0 + tw > self.w) | (y0 + th > self.h)] = np.inf
        flat = key.ravel()
        best = np.argpartition(flat, GRID_TRIES)[:GRID_TRIES] if flat.size > GRID_TRIES else np.arange(flat.size)
        best = best[np.argsort(flat[best])]
        return [(int(x0.flat[k]), int(y0.flat[k]), int(x0.flat[k]) + tw, int(y0.flat[k]) + th)
                for k in best if np.isfinite(flat[k])]

    def _pool(self, j: int, c: int, gh: int, gw: int) -> np.ndarray:
        """Mask j as the share of each c x c cell it covers (gh x gw), cached."""
        got = self.pooled.get((j, c))
        if got is None:
            got = np.zeros((gh, gw), np.float32)
            bx0, by0, bx1, by1 = self.bounds[j]
            cx0, cy0, cx1, cy1 = bx0 // c, by0 // c, -(-bx1 // c), -(-by1 // c)
            if bx1 > bx0 and by1 > by0:
                crop = np.zeros(((cy1 - cy0) * c, (cx1 - cx0) * c), np.float32)
                part = self.masks[j][cy0 * c:cy1 * c, cx0 * c:cx1 * c]
                crop[:part.shape[0], :part.shape[1]] = part
                got[cy0:cy1, cx0:cx1] = crop.reshape(cy1 - cy0, c, cx1 - cx0, c).mean(axis=(1, 3))
            self.pooled[(j, c)] = got
        return got


def _window_sums(a: np.ndarray, nh: int, nw: int) -> np.ndarray:
    """Sum of every nh x nw window of `a`, indexed by the window's top-left cell."""
    s = cv2.integral(a, sdepth=cv2.CV_64F)
    return s[nh:, nw:] - s[:-nh, nw:] - s[nh:, :-nw] + s[:-nh, :-nw]


def _crosses(line: tuple, rect: tuple) -> bool:
    """Whether the segment `line` ((x, y), (x, y)) passes through the end-exclusive rectangle (Liang-Barsky)."""
    (ax, ay), (bx, by) = line
    x0, y0, x1, y1 = rect[0], rect[1], rect[2] - 1, rect[3] - 1
    lo, hi = 0.0, 1.0
    for p, q in ((ax - bx, ax - x0), (bx - ax, x1 - ax), (ay - by, ay - y0), (by - ay, y1 - ay)):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            lo = max(lo, q / p)
        else:
            hi = min(hi, q / p)
    return lo <= hi


def _gap(rect: tuple, bounds: tuple) -> float:
    """Distance in pixels between two end-exclusive rectangles (0 when they touch or overlap)."""
    dx = max(bounds[0] - rect[2], rect[0] - bounds[2], 0)
    dy = max(bounds[1] - rect[3], rect[1] - bounds[3], 0)
    return (dx * dx + dy * dy) ** 0.5


def _leader(mask: np.ndarray, bounds: tuple, rect: tuple, th: int) -> Optional[tuple]:
    """((x, y) on the tag's edge, (x, y) the mask's pixel nearest to the tag) when that pixel is more than
    LEADER_GAP tag heights away, else None. The mask is searched every few pixels (at most ~100 x 100 points)."""
    bx0, by0, bx1, by1 = bounds
    crop = mask[by0:by1, bx0:bx1]
    if not crop.size:
        return None
    step = max(1, max(crop.shape) // 100)
    ys, xs = np.nonzero(crop[::step, ::step])
    if not len(ys):
        ys, xs = np.nonzero(crop)
        step = 1
        if not len(ys):
            return None
    px, py = bx0 + xs * step, by0 + ys * step
    x0, y0, x1, y1 = rect
    dx = np.maximum(np.maximum(x0 - px, px - (x1 - 1)), 0)
    dy = np.maximum(np.maximum(y0 - py, py - (y1 - 1)), 0)
    k = int(np.argmin(dx * dx + dy * dy))
    if dx[k] ** 2 + dy[k] ** 2 <= (LEADER_GAP * th) ** 2:
        return None
    p = (int(px[k]), int(py[k]))
    return (min(max(p[0], x0), x1 - 1), min(max(p[1], y0), y1 - 1)), p


def text_colour(c: tuple) -> tuple:
    """Black or white text, whichever contrasts more with the tag colour `c` (WCAG relative luminance): at least
    4.6:1 on any colour, 5.6:1 or more on every PALETTE colour."""
    return (0, 0, 0) if _luminance(c) > _BLACK_OR_WHITE else (255, 255, 255)


def _luminance(c: tuple) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0 black .. 1 white)."""
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in (x / 255 for x in c[:3])]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


# Luminance where black and white text contrast equally: (L + 0.05) / 0.05 = 1.05 / (L + 0.05).
_BLACK_OR_WHITE = 1.05 ** 0.5 * 0.05 ** 0.5 - 0.05


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


def draw_tags(img: np.ndarray, tags: list) -> None:
    """`label_tags`' tags drawn in place: every leader line first, then every tag, so no line crosses a label."""
    _draw_leaders(img, tags)
    for tag in tags:
        _draw_tag(img, tag)


def _draw_leaders(img: np.ndarray, tags: list) -> None:
    """Each tag's leader line, as wide as a mask outline, in the tag's colour, ending in a dot on the mask."""
    thick = max(1, int(round(max(img.shape[:2]) * OUTLINE_SHARE)))
    for tag in tags:
        if tag.leader is not None:
            cv2.line(img, tag.leader[0], tag.leader[1], tag.colour, thick, cv2.LINE_AA)
            cv2.circle(img, tag.leader[1], thick + 1, tag.colour, -1, cv2.LINE_AA)


def _bounds(mask: np.ndarray) -> tuple:
    """The mask's bounds; (0, 0, 0, 0) for an empty mask (nothing to fill or outline)."""
    return mask_bounds(mask) or (0, 0, 0, 0)


def _box_bounds(box: tuple, w: int, h: int) -> tuple:
    """An instance's box as end-exclusive bounds inside a w x h picture (for an instance with an empty mask)."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    return x0, y0, max(x0 + 1, min(x1 + 1, w)), max(y0 + 1, min(y1 + 1, h))
