"""The public contract `core.segment(image, backend=...) -> Result`, on real labelled photos."""
from __future__ import annotations

import numpy as np
import pytest

import core
from core.masks.prompts import expand_box

from .conftest import data_path, face_and_hands, iou, truth



@pytest.fixture(scope="module")
def ego():
    """face-1, hand-1 (right), hand-2 (left): EgoHands 01 (one person facing the camera, two hands on cards), or
    the first example on a fresh clone."""
    return core.segment(face_and_hands())


def test_result_shape_and_labels(ego):
    h, w = ego.image.shape[:2]
    assert ego.backend == "landmarks"  # no token, no weights: the offline default runs and says so
    assert [i.label for i in ego.instances] == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    for inst in ego.instances:
        assert inst.mask.shape == (h, w) and inst.mask.dtype == bool and inst.mask.any()
        x0, y0, x1, y1 = inst.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert inst.backend == "landmarks"
    hands = ego.hands
    assert hands[0].box[0] < hands[1].box[0]  # numbered left to right
    assert ego.annotated.shape == ego.image.shape and ego.annotated.dtype == np.uint8
    assert not np.array_equal(ego.annotated, ego.image)
    assert {"load", "detect", "segment", "render", "total"} <= set(ego.timings)


def test_each_pixel_belongs_to_at_most_one_instance(ego):
    stack = np.stack([i.mask for i in ego.instances]).astype(np.int32)
    assert stack.sum(0).max() == 1


def test_masks_are_landmark_shaped_not_boxes(ego):
    for inst in ego.instances:
        x0, y0, x1, y1 = inst.box
        fill = inst.mask[y0:y1, x0:x1].mean()
        assert 0.35 < fill < 0.95, f"{inst.label} fills {fill:.2f} of its box: a rectangle, not a shape"


def test_hand_masks_match_ground_truth(ego):
    gt = truth("egohands/masks/01_hand.png")
    pred = np.logical_or.reduce([i.mask for i in ego.hands])
    assert iou(pred, gt) > 0.6  # measured 0.7+ on this photo; the box baseline scores about 0.35


def test_face_mask_on_celebamask_portrait():
    r = core.segment(data_path("celebamask_hq/images/c0.jpg"))
    assert len(r.faces) == 1 and not r.hands
    face = r.faces[0]
    h, w = r.image.shape[:2]
    ebox = expand_box(face.box, 1.5, w, h)
    inside = face.mask[ebox[1]:ebox[3], ebox[0]:ebox[2]].sum()
    assert inside == face.mask.sum()
    assert 0.05 < face.mask.mean() < 0.6
    assert iou(face.mask, truth("celebamask_hq/masks/c0_face.png")) > 0.80  # box baseline: ~0.42


def test_profile_face_is_found_and_covers_features():
    stem = "personne01140p0m90"  # yaw -90: a full profile, which BlazeFace alone misses
    r = core.segment(data_path(f"fasseg_multipose/images/{stem}.jpg"))
    assert len(r.faces) == 1
    face = r.faces[0].mask
    skin, feats = truth(f"fasseg_multipose/masks/{stem}_skin.png"), truth(f"fasseg_multipose/masks/{stem}_features.png")
    assert (face & skin).sum() / face.sum() > 0.8
    assert (face & feats).sum() / feats.sum() > 0.5


def test_photo_without_people_gives_no_instances():
    rng = np.random.default_rng(3)
    flat = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    noisy = np.clip(flat + rng.integers(0, 20, flat.shape), 0, 255).astype(np.uint8)
    r = core.segment(noisy)
    assert r.instances == [] and r.backend == "landmarks"
    assert r.summary().startswith("No face or hand found")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown backend"):
        core.segment(np.zeros((64, 64, 3), np.uint8), backend="nope")


def test_same_photo_same_result(ego):
    again = core.segment(face_and_hands())
    assert [i.label for i in again.instances] == [i.label for i in ego.instances]
    for a, b in zip(again.instances, ego.instances):
        assert np.array_equal(a.mask, b.mask)


def test_auto_without_token_says_why_replicate_was_not_used(ego):
    assert any(m.startswith("replicate not used") and "REPLICATE_API_TOKEN" in m for m in ego.messages)
    assert not any(m.startswith("sam2") for m in ego.messages)  # an optional install absent is not news


def test_explicit_backend_that_is_not_set_up_falls_back_and_says_so():
    r = core.segment(face_and_hands(), backend="replicate")
    assert r.backend == "landmarks" and len(r.instances) == 3
    assert r.messages and r.messages[0].startswith("replicate not used")


def test_downscaled_photo_is_reported():
    big = np.full((6000, 5000, 3), 90, np.uint8)  # 30 MP, above the 16 MP working cap
    r = core.segment(big)
    h, w = r.image.shape[:2]
    assert h * w <= 16_000_000
    assert any(m.startswith("The photo (30 MP) was downscaled") and f"{w}x{h}" in m for m in r.messages)
    assert not any("downscaled" in m for m in core.segment(big[:600, :500]).messages)  # normal photos: no note
