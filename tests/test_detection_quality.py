"""Measured floors for detection and the offline `landmarks` masks on the shared labelled photos.

Floors sit a little below what `python -m bench.quality` measured (see the numbers beside each), so a change
that loses quality fails here. Photos come from ../shared/data; tests skip with a reason when it is absent.
"""
from __future__ import annotations

import cv2
import numpy as np

from bench.data import DEFAULT_DATA, samples
from core import segment
from core.detect import DetectOptions, detect
from core.loading import load_image
from core.masks.prompts import build_prompts, hand_prior

from .conftest import data_path, face_and_hands, iou, truth


def _samples(source: str) -> list:
    data_path(source)  # skips with a reason when the shared data is absent
    return samples(DEFAULT_DATA, [source])


def _union(result, kind: str) -> np.ndarray:
    out = np.zeros(result.image.shape[:2], bool)
    for inst in result.instances:
        if inst.kind == kind:
            out |= inst.mask
    return out


def _box_union(rgb, kind: str) -> np.ndarray:
    out = np.zeros(rgb.shape[:2], bool)
    for p in build_prompts(detect(rgb, DetectOptions()), rgb.shape, 1.5):
        if p.detection.kind == kind:
            x0, y0, x1, y1 = p.expanded_box
            out[y0:y1, x0:x1] = True
    return out


def _mean_iou(source: str, kind: str) -> tuple:
    """(landmarks mean IoU, box-baseline mean IoU) over a source's photos."""
    ours, boxes = [], []
    for s in _samples(source):
        rgb = load_image(s.image)
        gt = s.mask(kind)
        ours.append(iou(_union(segment(rgb, backend="landmarks", draw=False), kind), gt))
        boxes.append(iou(_box_union(rgb, kind), gt))
    return float(np.mean(ours)), float(np.mean(boxes))


def test_egohands_counts_and_label_order():
    rgb = load_image(face_and_hands())
    r = segment(rgb, backend="landmarks", draw=False)
    hands = r.hands
    assert [i.label for i in hands] == ["hand-1 (right)", "hand-2 (left)"]
    # numbered left to right
    assert hands[0].box[0] < hands[1].box[0]
    assert iou(_union(r, "hand"), truth("egohands/masks/01_hand.png")) > 0.70  # measured 0.74


def test_hand_over_face_finds_face_and_hand():
    r = segment(data_path("hand_over_face/images/23.jpg"), backend="landmarks", draw=False)
    assert [i.label for i in r.faces] == ["face-1"]
    assert len(r.hands) == 1
    # a hand in front of a face keeps its pixels: the face mask does not take them
    assert not (r.faces[0].mask & r.hands[0].mask).any()


def test_every_detection_becomes_an_instance():
    """A face or hand MediaPipe detects is never dropped by later stages."""
    for rel in ("egohands/images/05.jpg", "hand_over_face/images/29.jpg", "celebamask_hq/images/c0.jpg"):
        rgb = load_image(data_path(rel))
        dets = detect(rgb, DetectOptions())
        r = segment(rgb, backend="landmarks", draw=False)
        assert len(r.faces) == sum(d.kind == "face" for d in dets)
        assert len(r.hands) == sum(d.kind == "hand" for d in dets)
        assert all(i.mask.any() for i in r.instances)


def test_hand_mean_iou_floors():
    ego, ego_box = _mean_iou("egohands", "hand")  # measured 0.736 (box 0.406)
    hof, hof_box = _mean_iou("hand_over_face", "hand")  # measured 0.701 (box 0.504)
    assert ego >= 0.70 and ego >= ego_box + 0.15
    assert hof >= 0.67 and hof >= hof_box + 0.15


def test_first_person_hands_entering_from_the_frame_edge_are_found():
    """The camera wearer's hand at the bottom of a first-person photo: the photo's own Hands pass misses it,
    the lower-part view finds it (3 hands in each photo's truth)."""
    for stem in ("07", "11"):
        rgb = load_image(data_path(f"egohands/images/{stem}.jpg"))
        hands = [d for d in detect(rgb, DetectOptions()) if d.kind == "hand"]
        assert len(hands) == 3, stem
        # every hand found lies on a true hand (fingers hidden under cards are not in the truth: allow a margin)
        gt = cv2.dilate(truth(f"egohands/masks/{stem}_hand.png").astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
        for d in hands:
            xs = np.clip(np.round(d.landmarks[:, 0]).astype(int), 0, gt.shape[1] - 1)
            ys = np.clip(np.round(d.landmarks[:, 1]).astype(int), 0, gt.shape[0] - 1)
            assert gt[ys, xs].mean() > 0.5, stem


def test_no_hand_invented_on_a_head_in_profile():
    """The lite Hands model sees "hands" on ears and profile noses; detection drops a hand lying inside a face's
    mesh outline (FASSEG personne02240, yaw -90) or far smaller than a face it touches (personne05242, an ear)."""
    for stem in ("personne02240p0m90", "personne05242p0m60"):
        rgb = load_image(data_path(f"fasseg_multipose/images/{stem}.jpg"))
        dets = detect(rgb, DetectOptions())
        assert [d.kind for d in dets] == ["face"], stem


def test_face_mean_iou_floor():
    face, box = _mean_iou("celebamask_hq", "face")  # measured 0.918 (box 0.419)
    assert face >= 0.89 and face >= box + 0.15


def test_profile_faces_found_on_skin_and_cover_features():
    """Faces at +-75..90 yaw: found, mostly on skin, covering eyes, nose and mouth (FaceMesh's oval alone
    covered about 0.3 of the features there), and no hands invented on them. Measured: found 1.0, precision
    0.885, coverage 0.912, 1 of 56 photos with a hand (before implausible hands were dropped: 0.876, 0.854, 4)."""
    group = [s for s in _samples("fasseg_multipose") if s.stem[-3:] in ("m90", "p90", "m75", "p75")]
    assert group
    found, prec, cov, with_hands = [], [], [], 0
    for s in group:
        r = segment(s.image, backend="landmarks", draw=False)
        with_hands += bool(r.hands)
        p = _union(r, "face")
        skin, feat = s.mask("skin"), s.mask("features")
        found.append(p.any())
        if p.any():
            prec.append((p & skin).sum() / p.sum())
        cov.append((p & feat).sum() / max(feat.sum(), 1))
    assert np.mean(found) >= 0.95
    assert np.mean(prec) >= 0.87
    assert np.mean(cov) >= 0.89
    assert with_hands <= 2


def test_hand_prior_contains_its_landmarks():
    rgb = load_image(data_path("egohands/images/03.jpg"))
    hands = [d for d in detect(rgb, DetectOptions()) if d.kind == "hand"]
    assert hands
    for d in hands:
        m = hand_prior(d, rgb.shape)
        xs = np.clip(np.round(d.landmarks[:, 0]).astype(int), 0, rgb.shape[1] - 1)
        ys = np.clip(np.round(d.landmarks[:, 1]).astype(int), 0, rgb.shape[0] - 1)
        assert m[ys, xs].all()
