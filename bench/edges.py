"""Straight-edge figure: how much of a mask's outline is an axis-parallel straight cut.

Masks built inside a rectangular window (a refinement window, a box) end in straight horizontal or vertical cuts
where the window ends; real face and hand outlines almost never do (hand-drawn ground truth scores about 0.03).
The figure is the share of a mask's outline pixels that lie on a horizontal run longer than a quarter of the mask's
box width or on a vertical run longer than a quarter of its box height. Outline pixels on the photo's border are
left out: a mask may be cut straight where the photo ends.

    from bench.edges import straight_edge_share
    straight_edge_share(mask)  # 0.0 for a disc, about 1.0 for a filled rectangle, None for an empty mask
"""
from __future__ import annotations

from typing import Optional

import numpy as np

RUN_SHARE_OF_SIDE = 0.25  # a straight run counts as a cut when longer than this share of the box side


def straight_edge_share(mask: np.ndarray) -> Optional[float]:
    """Share of the mask's outline (off the photo border) on long axis-parallel runs; None if there is no outline."""
    mask = np.asarray(mask, bool)
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    h, w = mask.shape
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box_h, box_w = y1 - y0, x1 - x0
    # Work on the box plus one pixel of background (where the photo allows): same answer, far fewer pixels.
    cy0, cy1, cx0, cx1 = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
    crop = mask[cy0:cy1, cx0:cx1]
    # Beyond the photo counts as "more of the same", so the photo's border itself never makes an outline.
    padded = np.pad(crop, 1, mode="edge")
    inner = padded[1:-1, 1:-1]
    # Pixels of a horizontal edge have background above or below; of a vertical edge, left or right.
    on_horizontal_edge = inner & (~padded[:-2, 1:-1] | ~padded[2:, 1:-1])
    on_vertical_edge = inner & (~padded[1:-1, :-2] | ~padded[1:-1, 2:])

    off_border = np.ones_like(crop)
    rows, cols = np.arange(cy0, cy1), np.arange(cx0, cx1)
    off_border[(rows == 0) | (rows == h - 1), :] = False
    off_border[:, (cols == 0) | (cols == w - 1)] = False

    outline = (on_horizontal_edge | on_vertical_edge) & off_border
    total = int(outline.sum())
    if not total:
        return None
    straight = _on_long_runs(on_horizontal_edge, RUN_SHARE_OF_SIDE * box_w)
    straight |= _on_long_runs(on_vertical_edge.T, RUN_SHARE_OF_SIDE * box_h).T
    return float((straight & outline).sum() / total)


def _on_long_runs(a: np.ndarray, min_length: float) -> np.ndarray:
    """Pixels of `a` lying on a horizontal run of True longer than `min_length`."""
    rows, cols = a.shape
    # One False column after each row keeps runs from wrapping onto the next row.
    flat = np.pad(a, ((0, 0), (0, 1))).ravel().astype(np.int8)
    step = np.diff(np.concatenate(([0], flat, [0])))
    starts, ends = np.flatnonzero(step == 1), np.flatnonzero(step == -1)
    long = (ends - starts) > min_length
    marks = np.zeros(flat.size + 1, np.int32)
    np.add.at(marks, starts[long], 1)
    np.add.at(marks, ends[long], -1)
    on_run = np.cumsum(marks)[:-1] > 0
    return on_run.reshape(rows, cols + 1)[:, :cols]
