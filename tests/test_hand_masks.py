"""Every finger inside its hand's mask: a hand whose landmarks were found keeps its bones, with every backend.

Skeleton kept = the share of points along a hand's 20 bones (from its own 21 landmarks) inside its mask. Before
the bones were evidence, the offline refinement cut off fingers whose landmarks were right: the card thrower's
raised index finger (0.85 and 0.71 of the skeleton kept), the fingers at the woman's neck (0.78).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.data import DEFAULT_DATA, samples
from bench.hand_errors import error_shares
from core import segment
from core.backends.base import Candidates
from core.backends.landmarks import HAND_BAND
from core.detect import detect
from core.detect.geometry import hand_scale
from core.loading import load_image
from core.masks.prompts import build_prompts
from core.masks.selection import choose, make_exclusive
from core.masks.skeleton import skeleton_coverage, skeleton_mask
from core.masks.webbing import CLEAR, finger_gaps

from .conftest import EXAMPLES_DIR, data_path

EXAMPLES = sorted(EXAMPLES_DIR.glob("*.jpg"))
MIN_KEPT = 0.98


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_hand_in_the_examples_holds_its_skeleton(path):
    r = segment(path, backend="landmarks", draw=False)
    assert r.hands, "every example shows hands"
    kept = {i.label: skeleton_coverage(i.mask, i.landmarks) for i in r.hands}
    assert all(v >= MIN_KEPT for v in kept.values()), kept


@pytest.mark.parametrize("source", ["egohands", "hand_over_face"])
def test_every_hand_on_the_labelled_photos_holds_the_bones_its_label_agrees_with(source):
    data_path(source)
    low = {}
    for s in samples(DEFAULT_DATA, [source]):
        truth = s.mask("hand")
        r = segment(load_image(s.image), backend="landmarks", draw=False)
        for i in r.hands:
            kept = skeleton_coverage(i.mask, i.landmarks, within=truth)
            if kept is not None and kept < MIN_KEPT:
                low[f"{s.stem} {i.label}"] = round(kept, 3)
    assert not low, low


def test_a_model_mask_that_cuts_off_a_finger_gets_it_back():
    """Selection repairs a backend's mask that misses a finger: the finger's bones are added, nothing else."""
    rgb = load_image(EXAMPLES_DIR / "01_card_thrower_gesturing_pxhere.jpg")
    prompts = build_prompts([d for d in detect(rgb) if d.kind == "hand"], rgb.shape)
    p = prompts[0]
    pts = p.detection.landmarks
    finger = skeleton_mask(pts, rgb.shape, 12.0, bones=[(6, 7), (7, 8)])  # the index finger past its middle joint
    cut = p.prior & ~finger
    assert skeleton_coverage(cut, pts) < 0.95
    (mask, note), = choose([p], Candidates(per_prompt=[[cut]], shared=[]))
    assert note == ""
    assert skeleton_coverage(mask, pts) >= MIN_KEPT
    assert (mask & ~cut).sum() <= p.sure.sum()  # only bones were added


def test_a_hand_keeps_its_bones_where_a_smaller_hand_overlaps_it():
    """make_exclusive gives a pixel to the smaller hand first; another hand's bones are not the smaller hand's to
    take (egohands 11: two hands holding cards, one kept 0.67 of its bones)."""
    rgb = load_image(EXAMPLES_DIR / "03_asl_sorry_frame_intel.jpg")
    a, b = build_prompts([d for d in detect(rgb) if d.kind == "hand"], rgb.shape)
    grabby = a.prior | b.sure  # a smaller hand's mask that runs over the other hand's bones
    out = make_exclusive([a, b], [grabby, b.prior])
    assert not (out[0] & out[1]).any()
    assert skeleton_coverage(out[1], b.detection.landmarks) >= MIN_KEPT


# Webbing and spill (`bench.hand_errors`, as `python -m bench.quality` reports them): per photo, the share of its union
# of labelled and predicted hand pixels that is predicted but not labelled inside the hands' landmark hulls (the gaps
# between fingers, mostly) and outside them (a neck, a held card, a rim of table), mean per source. Issue 31 aims at
# web <= 0.03 and spill <= 0.04 on every source; these bounds hold today's figures (egohands web 0.037, spill 0.100;
# hand_over_face 0.011 and 0.043) so that neither grows back. Before the gaps between spread fingers were read from
# the photo, egohands' web was 0.054.
WEB_SPILL_BOUNDS = {"egohands": (0.042, 0.105), "hand_over_face": (0.015, 0.046)}


@pytest.mark.parametrize("source", sorted(WEB_SPILL_BOUNDS))
def test_webbing_and_spill_per_source_stay_within_their_bounds(source):
    data_path(source)
    shares = []
    for s in samples(DEFAULT_DATA, [source]):
        truth = s.mask("hand")
        r = segment(load_image(s.image), backend="landmarks", draw=False)
        pred = np.zeros_like(truth)
        for i in r.hands:
            pred |= i.mask
        shares.append(error_shares(pred, truth, [i.landmarks for i in r.hands]))
    web, spill = np.mean([x["web"] for x in shares]), np.mean([x["spill"] for x in shares])
    max_web, max_spill = WEB_SPILL_BOUNDS[source]
    assert web <= max_web and spill <= max_spill, (round(web, 3), round(spill, 3))


def _gap_cover(mask, landmarks, a, b) -> float:
    """The share of the gap between two fingers' chains (farther than webbing.CLEAR from every bone) that `mask`
    holds."""
    lm = np.asarray(landmarks, float)
    bones = skeleton_mask(lm, mask.shape, 1.0)
    far = cv2.distanceTransform((~bones).astype(np.uint8), cv2.DIST_L2, 3) > CLEAR * hand_scale(lm)
    wedge = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(wedge, [np.round(np.vstack([lm[list(a)], lm[list(b)][::-1]])).astype(np.int32)], 1)
    gap = (wedge > 0) & far
    assert gap.sum() > 100, "the fingers are spread in this photo"
    return float(mask[gap].mean())


INDEX, MIDDLE, RING = (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16)


@pytest.mark.parametrize("example, label, most", [
    ("02_woman_hand_at_neck_publicdomainpictures.jpg", "hand-1", 0.15),  # the neck between her fingers (0.88, 1.00)
    ("01_card_thrower_gesturing_pxhere.jpg", "hand-2", 0.20),  # the green behind and the held card (0.39, 0.74)
])
def test_the_gaps_between_spread_fingers_are_not_hand(example, label, most):
    r = segment(EXAMPLES_DIR / example, backend="landmarks", draw=False)
    hand = next(i for i in r.hands if i.label.startswith(label))
    covers = [_gap_cover(hand.mask, hand.landmarks, a, b) for a, b in ((INDEX, MIDDLE), (MIDDLE, RING))]
    assert max(covers) <= most, covers
    assert skeleton_coverage(hand.mask, hand.landmarks) >= MIN_KEPT


def test_a_gap_that_shows_the_fingers_own_colour_is_left_to_the_refinement():
    """The gaps are decided by the photo's colours, the hand's own against its surroundings'. Give the woman's hand a
    purple glove (its bones and the gap between index and middle finger painted, a colour nothing around has) and that
    gap shows the fingers' colour: it is no longer cut, while the neck in the gap beside it still is."""
    rgb = load_image(EXAMPLES_DIR / "02_woman_hand_at_neck_publicdomainpictures.jpg")
    p = next(p for p in build_prompts(detect(rgb), rgb.shape) if p.detection.kind == "hand")
    pts, size = p.detection.landmarks, hand_scale(p.detection.landmarks)
    reach = HAND_BAND[1] * size
    cut = finger_gaps(rgb, pts, p.expanded_box, p.sure, p.prior, reach)
    assert cut is not None
    wedge = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(wedge, [np.round(np.vstack([pts[list(INDEX)], pts[list(MIDDLE)][::-1]])).astype(np.int32)], 1)
    other = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(other, [np.round(np.vstack([pts[list(MIDDLE)], pts[list(RING)][::-1]])).astype(np.int32)], 1)
    wedge, other = wedge > 0, (other > 0) & (wedge == 0)
    assert (cut & wedge).sum() > 1000 and (cut & other).sum() > 1000
    gloved = rgb.copy()
    gloved[p.sure | wedge] = (150, 60, 200)
    again = finger_gaps(gloved, pts, p.expanded_box, p.sure, p.prior, reach)
    assert again is not None and (again & wedge).sum() == 0
    assert (again & other).sum() > 1000
