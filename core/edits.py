"""A visitor's corrections to one photo's result: points where something was missed, masks they removed.

Hints go back through `segment(..., hints=...)` (a fresh detection that also looks at each point), so only clicks
that found a face or hand are kept as hints, at most MAX_HINTS: one that found nothing would find nothing again and
only cost every later click its look (60 clicks on one background point made the 60th take 7.5 s instead of 0.8 s).
Those are kept apart as misses, just to answer a click at the same place at once. Removals are kept as the removed
instances' boxes, not labels: after a new hint the instances are numbered again, left to right, so "face-2" may name
another face, while a box still finds the same one.
"""
from __future__ import annotations

import dataclasses
import math

from .detect.geometry import box_iou
from .render import annotate

SAME_INSTANCE_IOU = 0.5  # boxes of one instance in two runs of the same photo overlap almost fully
MAX_HINTS = 12  # clicks that found something, looked at again on every later click (~0.1 s each on 2 cores)
MAX_MISSES = 24  # clicks that found nothing, remembered only to answer a click there again without a look
# Two clicks closer than this share of the photo's shorter side are one: a hint is looked for in crops of 25-80% of
# that side around it (core.detect.proposals.HINT_SCALES), so a few pixels more or less find the same thing.
SAME_CLICK_SHARE = 0.02


@dataclasses.dataclass(frozen=True)
class Edits:
    hints: tuple = ()  # (x, y) points in the photo's pixels where a click found a face or hand, in click order
    removed: tuple = ()  # (x0, y0, x1, y1) boxes of the instances removed
    misses: tuple = ()  # (x, y) points where a click found nothing; never given to segment again

    def with_hint(self, x: float, y: float) -> "Edits":
        return dataclasses.replace(self, hints=self.hints + ((float(x), float(y)),))

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
        return bool(self.hints or self.removed)


def same_instance(box_a, box_b) -> bool:
    """Whether two boxes from runs on the same photo are one face or hand."""
    return box_iou(box_a, box_b) >= SAME_INSTANCE_IOU


def is_removed(instance, removed) -> bool:
    return any(same_instance(instance.box, box) for box in removed)


def apply_removals(result, removed, draw: bool = True):
    """A copy of `result` without the removed instances (labels of the others unchanged) and, with `draw`, its
    overlay drawn again. The original is not modified."""
    if not removed:
        return result
    kept = [inst for inst in result.instances if not is_removed(inst, removed)]
    annotated = annotate(result.image, kept) if draw and result.annotated is not None else result.annotated
    return dataclasses.replace(result, instances=kept, annotated=annotated)
