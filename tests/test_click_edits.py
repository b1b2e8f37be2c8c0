"""A visitor's edits through `core.segment(photo, hints=..., edits=...)`: what a click finds takes the next free
number, a cut point takes part of a mask off, an added point completes a part the mask missed (with every
backend), and removals keep everyone else's label."""
from __future__ import annotations

import numpy as np
import pytest

import core
from core.backends.sam2 import prompt_inputs
from core.masks.clicks import owner, with_points
from core.masks.prompts import build_prompts
from core.masks.skeleton import skeleton_coverage
from core.detect import detect

from .conftest import EXAMPLES_DIR, data_path

WOMAN = EXAMPLES_DIR / "02_woman_hand_at_neck_publicdomainpictures.jpg"
APOLLO = EXAMPLES_DIR / "04_apollo11_crew_nasa.jpg"
COLLINS_HANDS = (280, 285)  # Collins's clasped hands: the automatic pass misses them, a click finds them


def _boxes(result) -> dict:
    return {inst.label: inst.box for inst in result.instances}


def test_a_hand_found_by_a_click_takes_the_next_number_and_nobody_else_changes():
    auto = core.segment(str(APOLLO), draw=False)
    hinted = core.segment(str(APOLLO), draw=False, hints=[COLLINS_HANDS])
    before, after = _boxes(auto), _boxes(hinted)
    new = [label for label in after if label not in before]
    assert len(new) == 1 and new[0].startswith(f"hand-{len(auto.hands) + 1} "), (sorted(before), sorted(after))
    assert {label: after[label] for label in before} == before  # every earlier label names the same box


def _index_finger_point(hand) -> tuple:
    lm = hand.landmarks
    return tuple(float(v) for v in (lm[7] + lm[8]) / 2)  # the index finger's last bone, halfway


def test_a_cut_point_takes_part_of_a_hand_off_and_an_added_point_puts_it_back():
    auto = core.segment(str(WOMAN), draw=False)
    hand = auto.hands[0]
    x, y = _index_finger_point(hand)
    assert hand.mask[int(y), int(x)] and skeleton_coverage(hand.mask, hand.landmarks) == 1.0

    cut = core.segment(str(WOMAN), draw=False, edits={"cut": [(x, y)]})
    cut_hand = next(i for i in cut.hands if i.label == hand.label)
    assert not cut_hand.mask[int(y), int(x)]
    assert skeleton_coverage(cut_hand.mask, hand.landmarks) < 0.99
    assert cut_hand.area < hand.area and [i.label for i in cut.instances] == [i.label for i in auto.instances]

    # The added point, elsewhere on the same finger, wins back what the cut took there.
    back = core.segment(str(WOMAN), draw=False, edits={"cut": [(x, y)], "add": [tuple(hand.landmarks[6])]})
    back_hand = next(i for i in back.hands if i.label == hand.label)
    assert back_hand.mask[int(hand.landmarks[6][1]), int(hand.landmarks[6][0])]


def _deepest(part: np.ndarray) -> tuple:
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(part.astype(np.uint8), connectivity=8)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    dist = cv2.distanceTransform((labels == k).astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return (float(x), float(y)), labels == k


def test_an_added_point_completes_the_part_of_a_labelled_hand_the_mask_missed():
    """EgoHands 17: the largest piece of labelled hand outside every hand mask (a hand's side cut by the wrist
    line); one added point at its middle wins most of it back, and the photo's hand IoU rises."""
    photo = data_path("egohands/images/17.jpg")
    truth = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(data_path("egohands/masks/17_hand.png"))
                       .convert("L")) > 127
    auto = core.segment(str(photo), backend="landmarks", draw=False)
    union = np.any([i.mask for i in auto.hands], axis=0)
    point, missed = _deepest(truth & ~union)
    added = core.segment(str(photo), backend="landmarks", draw=False, edits={"add": [point]})
    after = np.any([i.mask for i in added.hands], axis=0)
    assert (after & missed).sum() > 0.5 * missed.sum()

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    assert iou(after, truth) > iou(union, truth) + 0.01


def test_the_points_reach_every_backend():
    """sam2 gets them as point prompts (positive for added, negative for cut) on the instance they belong to."""
    from core.loading import load_image

    rgb = load_image(str(WOMAN))
    prompts = build_prompts(detect(rgb), rgb.shape)
    hand = next(p for p in prompts if p.detection.kind == "hand")
    x, y = _index_finger_point(hand.detection)
    i = owner(prompts, x, y)
    assert prompts[i] is hand
    edited = with_points(hand, add=[(x, y + 5)], cut=[(x, y)])
    points, labels, _ = prompt_inputs([edited])
    assert [x, y + 5] in points[0] and labels[0][points[0].index([x, y + 5])] == 1
    assert [x, y] in points[0] and labels[0][points[0].index([x, y])] == 0
    assert not edited.sure[int(y), int(x)] and edited.background[int(y), int(x)]


def test_a_removal_by_label_keeps_the_other_labels():
    auto = core.segment(str(APOLLO), draw=False)
    gone = auto.hands[0].label
    edited = core.segment(str(APOLLO), draw=False, edits={"remove": [gone]})
    assert _boxes(edited) == {k: v for k, v in _boxes(auto).items() if k != gone}


@pytest.mark.parametrize("edits, words", [
    ("add a finger", "Edits must be a dict"),
    ({"erase": [(1, 2)]}, "not 'erase'"),
    ({"add": [(1e308 * 10, 5)]}, "Added points must be finite"),
    ({"cut": ["xy"]}, "Cut points must be a list"),
    ({"remove": [3]}, 'Each entry of "remove"'),
    ({"add": 5}, "Added points must be a list"),
    ({"cut": [(1, 1)] * 25}, "Cut points are at most 24"),
    ({"remove": "hand-1"}, '"remove" must be a list'),
])
def test_bad_edits_get_one_sentence(edits, words):
    with pytest.raises(ValueError, match=words) as info:
        core.segment(str(WOMAN), draw=False, edits=edits)
    assert "\n" not in str(info.value) and len(str(info.value)) < 160


def test_a_point_next_to_nothing_is_said():
    result = core.segment(str(WOMAN), draw=False, edits={"add": [(5, 5)]})
    assert any("(5, 5) is not on or next to a face or hand" in m for m in result.messages)
