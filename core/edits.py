"""A visitor's corrections to one photo's result: points where something was missed, points that add a part to a
mask or cut one from it, masks they removed. `segment(photo, edits=...)` takes them all (`as_edits`).

Hints go back through `segment(..., hints=...)` (a fresh detection that also looks at each point), so only clicks
that found a face or hand are kept as hints, at most MAX_HINTS: one that found nothing would find nothing again and
only cost every later click its look (60 clicks on one background point made the 60th take 7.5 s instead of 0.8 s).
Those are kept apart as misses, just to answer a click at the same place at once. What a hint finds is numbered
after the automatic instances, so labels do not change; removals are still kept as the removed instances' boxes,
which also find the same instance when the labels come from another run.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .detect.geometry import box_iou
from .render import annotate

SAME_INSTANCE_IOU = 0.5  # boxes of one instance in two runs of the same photo overlap almost fully
MAX_HINTS = 12  # clicks that found something, looked at again on every later click (~0.1 s each on 2 cores)
MAX_MISSES = 24  # clicks that found nothing, remembered only to answer a click there again without a look
MAX_POINTS = 24  # added and cut points on one photo (each is a disc in its instance's refinement)
# Two clicks closer than this share of the photo's shorter side are one: a hint is looked for in crops of 25-80% of
# that side around it (core.detect.proposals.HINT_SCALES), so a few pixels more or less find the same thing.
SAME_CLICK_SHARE = 0.02


@dataclasses.dataclass(frozen=True)
class Edits:
    hints: tuple = ()  # (x, y) points in the photo's pixels where a click found a face or hand, in click order
    removed: tuple = ()  # (x0, y0, x1, y1) boxes of the instances removed
    misses: tuple = ()  # (x, y) points where a click found nothing; never given to segment again
    add: tuple = ()  # (x, y) points on parts that belong to the face or hand next to them (an uncovered finger)
    cut: tuple = ()  # (x, y) points on parts of a mask that do not belong to it

    def with_hint(self, x: float, y: float) -> "Edits":
        return dataclasses.replace(self, hints=self.hints + ((float(x), float(y)),))

    def with_point(self, x: float, y: float, cut: bool = False) -> "Edits":
        """With an added (or cut) point; a point there of the other kind is taken back (the visitor changed
        their mind)."""
        p = (float(x), float(y))
        add = tuple(q for q in self.add if q != p)
        cuts = tuple(q for q in self.cut if q != p)
        if cut:
            return dataclasses.replace(self, add=add, cut=(cuts + (p,))[-MAX_POINTS:])
        return dataclasses.replace(self, add=(add + (p,))[-MAX_POINTS:], cut=cuts)

    def with_miss(self, x: float, y: float) -> "Edits":
        return dataclasses.replace(self, misses=(self.misses + ((float(x), float(y)),))[-MAX_MISSES:])

    def earlier_click(self, x: float, y: float, shorter_side: int):
        """The earlier click (a hint or a miss) that is the same as one at (x, y) on a photo whose shorter side is
        `shorter_side` pixels, or None."""
        near = SAME_CLICK_SHARE * shorter_side
        return next((p for p in self.hints + self.misses if math.hypot(p[0] - x, p[1] - y) <= near), None)

    @property
    def full(self) -> bool:
        """No more hints: MAX_HINTS clicks have found something."""
        return len(self.hints) >= MAX_HINTS

    def without(self, instance) -> "Edits":
        return dataclasses.replace(self, removed=self.removed + (tuple(int(v) for v in instance.box),))

    def __bool__(self) -> bool:
        """Whether the result differs from the automatic one (misses change nothing)."""
        return bool(self.hints or self.removed or self.add or self.cut)


def as_edits(value) -> Edits:
    """`segment(..., edits=...)`'s argument as Edits: None, an Edits, or a dict with the keys "hints", "add",
    "cut" and "remove" (labels such as "hand-2", or (x0, y0, x1, y1) boxes); anything else is a ValueError."""
    if value is None:
        return Edits()
    if isinstance(value, Edits):
        return value
    if not isinstance(value, dict):
        raise ValueError('Edits must be a dict with the keys "hints", "add", "cut" and "remove".')
    unknown = set(value) - {"hints", "add", "cut", "remove"}
    if unknown:
        raise ValueError(f'Edits take the keys "hints", "add", "cut" and "remove", not {sorted(unknown)[0]!r}.')
    points = {}
    for key, what in (("hints", "Hints"), ("add", "Added points"), ("cut", "Cut points")):
        got = value.get(key) or ()
        if not isinstance(got, (list, tuple, np.ndarray)):
            raise ValueError(f"{what} must be a list of (x, y) points in the photo's pixels.")
        if key != "hints" and len(got) > MAX_POINTS:
            raise ValueError(f"{what} are at most {MAX_POINTS} on one photo.")
        points[key] = tuple(tuple(p) if isinstance(p, np.ndarray) else p for p in got)
    removed = []
    remove = value.get("remove") or ()
    if not isinstance(remove, (list, tuple)):
        raise ValueError('"remove" must be a list of labels such as "hand-2" or (x0, y0, x1, y1) boxes.')
    for item in remove:
        if isinstance(item, str):
            removed.append(item)
        elif isinstance(item, (list, tuple)) and len(item) == 4:
            removed.append(tuple(item))
        else:
            raise ValueError('Each entry of "remove" must be a label such as "hand-2" or an (x0, y0, x1, y1) box.')
    return Edits(hints=points["hints"], add=points["add"], cut=points["cut"], removed=tuple(removed))


def same_instance(box_a, box_b) -> bool:
    """Whether two boxes from runs on the same photo are one face or hand."""
    return box_iou(box_a, box_b) >= SAME_INSTANCE_IOU


def is_removed(instance, removed) -> bool:
    """Whether a removal (a label, or the box of the instance when it was removed) names this instance."""
    return any(instance.label == r if isinstance(r, str) else same_instance(instance.box, r) for r in removed)


def apply_removals(result, removed, draw: bool = True):
    """A copy of `result` without the removed instances (labels of the others unchanged) and, with `draw`, its
    overlay drawn again. The original is not modified."""
    if not removed:
        return result
    kept = [inst for inst in result.instances if not is_removed(inst, removed)]
    annotated = annotate(result.image, kept) if draw and result.annotated is not None else result.annotated
    return dataclasses.replace(result, instances=kept, annotated=annotated)
