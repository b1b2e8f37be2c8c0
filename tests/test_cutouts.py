"""core.cutouts: each face and hand on a transparent background, from a Result alone and read-only on it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import segment
from core.cutouts import MARGIN, cutout, cutouts
from core.detect.geometry import mask_bounds

from .conftest import FACE_AND_HANDS_EXAMPLE, face_and_hands


@pytest.fixture(scope="module")
def result():
    return segment(face_and_hands(), backend="landmarks")  # a face at the top edge, two hands


def _crop(mask: np.ndarray) -> tuple:
    """Where the cut-out should lie: the mask's extent plus the margin, clipped to the photo (computed here
    independently of core.cutouts)."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    pad = max(2, int(round(MARGIN * max(x1 - x0, y1 - y0))))
    h, w = mask.shape
    return max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)


def test_alpha_is_the_mask_and_colours_are_the_photo(result):
    image, masks = result.image.copy(), [i.mask.copy() for i in result.instances]
    pieces = cutouts(result)
    assert [label for label, _ in pieces] == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    for inst, (label, rgba) in zip(result.instances, pieces):
        x0, y0, x1, y1 = _crop(inst.mask)
        assert rgba.dtype == np.uint8 and rgba.shape == (y1 - y0, x1 - x0, 4), label
        m = inst.mask[y0:y1, x0:x1]
        assert m.sum() == inst.mask.sum()  # the whole mask is inside the crop
        assert set(np.unique(rgba[:, :, 3])) == {0, 255}  # exact: no softened edge
        assert np.array_equal(rgba[:, :, 3] == 255, m)
        assert np.array_equal(rgba[:, :, :3][m], image[y0:y1, x0:x1][m])  # the photo's colours under the mask
        assert not rgba[:, :, :3][~m].any()  # transparent pixels carry no colour of the background
        # A transparent margin on every side the photo's edge does not cut.
        assert (y0 == 0 or not m[0].any()) and not m[-1].any() and not m[:, 0].any() and not m[:, -1].any()
    if face_and_hands() != FACE_AND_HANDS_EXAMPLE:  # EgoHands 01: the face touches the top edge, the crop is clipped
        assert _crop(result.faces[0].mask)[1] == 0
    assert np.array_equal(result.image, image)  # read-only on the Result
    assert all(np.array_equal(i.mask, m) for i, m in zip(result.instances, masks))


def test_empty_mask_is_left_out_and_refused(result):
    empty = dataclasses.replace(result.instances[1], label="hand-3", mask=np.zeros_like(result.instances[1].mask))
    r = dataclasses.replace(result, instances=[result.instances[0], empty])
    assert [label for label, _ in cutouts(r)] == ["face-1"]
    with pytest.raises(ValueError, match="empty"):
        cutout(r, empty)
    wrong = dataclasses.replace(empty, mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="10x10"):
        cutout(r, wrong)


def test_mask_bounds():
    m = np.zeros((6, 9), bool)
    assert mask_bounds(m) is None
    m[2, 3] = m[4, 7] = True
    assert mask_bounds(m) == (3, 2, 8, 5)
