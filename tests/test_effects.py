"""core.effects: anonymising computed from a Result alone (no Gradio, no detection), read-only on it."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from core import segment
from core.effects import MARGIN, anonymise, select
from core.types import Instance, Result

from .conftest import PHOTOS, face_and_hands


def _result():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    face = np.zeros((120, 200), bool)
    face[20:60, 30:70] = True
    hand = np.zeros((120, 200), bool)
    hand[70:110, 120:160] = True
    empty = np.zeros((120, 200), bool)  # a found face whose mask is empty: its box is hidden instead
    inst = [Instance("face", "face-1", (30, 20, 70, 60), 0.9, face, np.zeros((0, 2)), "face_mesh", None, "landmarks",
                     "x", track_id=1),
            Instance("hand", "hand-1 (left)", (120, 70, 160, 110), 0.9, hand, np.zeros((0, 2)), "hand_21", "left",
                     "landmarks", "x", track_id=1),
            Instance("face", "face-2", (170, 10, 190, 30), 0.8, empty, np.zeros((0, 2)), "face_keypoints", None,
                     "landmarks", "x")]
    return Result(image=image, instances=inst, backend="landmarks", timings={})


@pytest.mark.parametrize("style", ["blur", "pixelate", "fill"])
def test_faces_hidden_hands_and_background_untouched(style):
    r = _result()
    before = r.image.copy()
    out = anonymise(r, "faces", style)
    assert np.array_equal(r.image, before)  # read-only on the Result
    diff = np.abs(out.astype(int) - before).sum(axis=2)
    assert diff[25:55, 35:65].mean() > 30  # the face is gone (random texture smoothed or filled)
    assert diff[12:28, 172:188].mean() > 30  # the empty-mask face: its box
    assert diff[70:110, 120:160].max() == 0  # the hand stays
    assert diff[:, :20].max() == 0 and diff[100:, :100].max() == 0  # far background stays


def test_all_and_hands_and_bad_names():
    r = _result()
    hands = anonymise(r, "hands", "fill")
    assert (hands[75:105, 125:155] == 128).all() and np.array_equal(hands[25:55, 35:65], r.image[25:55, 35:65])
    assert [i.label for i in select(r.instances, "all")] == ["face-1", "hand-1 (left)", "face-2"]
    with pytest.raises(ValueError, match="Choose from"):
        anonymise(r, "feet")
    with pytest.raises(ValueError, match="Choose from"):
        anonymise(r, "faces", "swirl")


def test_a_mask_reaching_past_its_box_is_hidden_whole():
    r = _result()
    face = r.instances[0]
    grown = face.mask.copy()
    grown[20:60, 70:100] = True  # the mask runs 30 px past the box's right edge
    r.instances[0] = dataclasses.replace(face, mask=grown)
    out = anonymise(r, "faces", "fill")
    assert (out[25:55, 75:95] == 128).all()


def _detail(image: np.ndarray, where: np.ndarray) -> float:
    """Share of pixels in `where` with visible fine detail (|Laplacian| of grey above 2)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((np.abs(cv2.Laplacian(grey, cv2.CV_32F))[where] > 2).mean())


@pytest.fixture(scope="module")
def portrait():
    return segment(PHOTOS / "grace_hopper.jpg", backend="landmarks")


@pytest.mark.parametrize("style", ["blur", "pixelate", "fill"])
def test_real_face_is_hidden_and_nothing_else_changes(portrait, style):
    r = portrait
    (face,) = r.faces
    before = r.image.copy()
    out = anonymise(r, "faces", style)
    assert np.array_equal(r.image, before)
    inner = cv2.erode(face.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert _detail(before, inner) > 0.8  # a sharp face to begin with ...
    assert _detail(out, inner) < 0.2  # ... and its detail is gone (pixelate keeps only its block edges)
    # Nothing farther from the face's mask than the margin it is grown by changes.
    ys, xs = np.nonzero(face.mask)
    pad = max(2, round(MARGIN * max(xs.ptp() + 1, ys.ptp() + 1)))
    far = cv2.distanceTransform((~face.mask).astype(np.uint8), cv2.DIST_L2, 5) > pad + 1.5
    assert np.array_equal(out[far], before[far])
    assert far.mean() > 0.7
    if style != "pixelate":  # a mosaic keeps a face's layout (who it is goes): a detector may still find a face
        assert segment(out, backend="landmarks").faces == []


def test_real_hands_hidden_face_kept():
    r = segment(face_and_hands(), backend="landmarks")
    out = anonymise(r, "hands", "blur")
    hands = np.any([i.mask for i in r.hands], axis=0)
    inner = cv2.erode(hands.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert _detail(out, inner) < 0.25 * _detail(r.image, inner)
    face = r.faces[0].mask & (cv2.distanceTransform((~hands).astype(np.uint8), cv2.DIST_L2, 5) > 40)
    assert face.sum() > 0.5 * r.faces[0].mask.sum() and np.array_equal(out[face], r.image[face])
