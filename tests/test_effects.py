"""core.effects: anonymising computed from a Result alone (no Gradio, no detection), read-only on it."""
from __future__ import annotations

import numpy as np
import pytest

from core.effects import anonymise, select
from core.types import Instance, Result


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
