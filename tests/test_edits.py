"""A visitor's corrections (core/edits.py): removed masks stay removed when a click renumbers the instances, and
removing redraws the overlay without touching the original result."""
import numpy as np

from core import segment
from core.edits import MAX_HINTS, MAX_MISSES, Edits, apply_removals

from .conftest import face_and_hands


def test_removed_hand_stays_removed_after_a_hint_renumbers():
    path = face_and_hands()
    auto = segment(path, backend="landmarks", max_hands=1)
    assert [i.label for i in auto.instances] == ["face-1", auto.hands[0].label] and len(auto.hands) == 1
    both = segment(path, backend="landmarks").hands
    missed = next(h for h in both if abs(h.box[0] - auto.hands[0].box[0]) > 50)
    # The visitor removes the face, then clicks the hand the automatic pass missed.
    edits = Edits().without(auto.faces[0]).with_hint((missed.box[0] + missed.box[2]) / 2,
                                                      (missed.box[1] + missed.box[3]) / 2)
    hinted = segment(path, backend="landmarks", max_hands=1, hints=edits.hints)
    shown = apply_removals(hinted, edits.removed)
    assert len(hinted.faces) == 1 and len(hinted.hands) == 2
    assert shown.faces == [] and len(shown.hands) == 2  # the face is gone, both hands are there
    assert edits and not Edits()


def test_removal_redraws_the_overlay_and_leaves_the_result_alone():
    result = segment(face_and_hands(), backend="landmarks")
    hand = result.hands[0]
    shown = apply_removals(result, Edits().without(hand).removed)
    assert [i.label for i in shown.instances] == [i.label for i in result.instances if i is not hand]
    inside = hand.mask & ~np.any([i.mask for i in result.instances if i is not hand], axis=0)
    # Under the removed hand the new overlay shows the photo itself again; the original overlay still tints it.
    assert np.abs(shown.annotated[inside].astype(int) - result.image[inside]).mean() < 2
    assert np.abs(result.annotated[inside].astype(int) - result.image[inside]).mean() > 10
    assert len(result.instances) == 3  # not modified


def test_no_removals_is_the_same_result():
    result = segment(face_and_hands(), backend="landmarks", draw=False)
    assert apply_removals(result, ()) is result


def test_a_click_at_an_earlier_ones_place_is_that_click():
    """Two clicks within SAME_CLICK_SHARE of the shorter side are one; misses are kept apart from hints and
    bounded, and change nothing in the result."""
    edits = Edits().with_hint(100, 100).with_miss(400, 300)
    assert edits.earlier_click(104, 103, 465) == (100.0, 100.0)  # 5 px on a 465 px side (radius 9.3 px)
    assert edits.earlier_click(400, 309, 465) == (400.0, 300.0)
    assert edits.earlier_click(400, 310, 465) is None and edits.earlier_click(120, 100, 465) is None
    assert edits.hints == ((100.0, 100.0),) and not Edits().with_miss(1, 1)
    many = Edits()
    for n in range(MAX_MISSES + 5):
        many = many.with_miss(n * 50, 0)
    assert len(many.misses) == MAX_MISSES and many.misses[-1] == ((MAX_MISSES + 4) * 50.0, 0.0)
    assert not Edits(hints=((0, 0),) * (MAX_HINTS - 1)).full and Edits(hints=((0, 0),) * MAX_HINTS).full
