"""A visitor's corrections to one photo's result: points where something was missed, masks they removed.

Hints go back through `segment(..., hints=...)` (a fresh detection that also looks at each point). Removals are
kept as the removed instances' boxes, not labels: after a new hint the instances are numbered again, left to right,
so "face-2" may name another face, while a box still finds the same one.
"""
from __future__ import annotations

import dataclasses

from .detect.geometry import box_iou
from .render import annotate

SAME_INSTANCE_IOU = 0.5  # boxes of one instance in two runs of the same photo overlap almost fully


@dataclasses.dataclass(frozen=True)
class Edits:
    hints: tuple = ()  # (x, y) points in the photo's pixels, in the order clicked
    removed: tuple = ()  # (x0, y0, x1, y1) boxes of the instances removed

    def with_hint(self, x: float, y: float) -> "Edits":
        return dataclasses.replace(self, hints=self.hints + ((float(x), float(y)),))

    def without(self, instance) -> "Edits":
        return dataclasses.replace(self, removed=self.removed + (tuple(int(v) for v in instance.box),))

    def __bool__(self) -> bool:
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
