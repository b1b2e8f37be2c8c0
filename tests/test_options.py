"""Options and tokens from hostile or careless callers: one sentence each, before any work (issue 9, item 6)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core import segment
from core.options import check_options

from .conftest import PHOTOS

PHOTO = np.full((64, 64, 3), 127, np.uint8)


@pytest.mark.parametrize("name,value,expect", [
    ("min_confidence", float("nan"), "min_confidence must be a number from 0 to 1 (got nan)."),
    ("min_confidence", float("inf"), "min_confidence must be a number from 0 to 1 (got inf)."),
    ("min_confidence", 1.5, "min_confidence must be a number from 0 to 1 (got 1.5)."),
    ("max_hands", float("nan"), "max_hands must be a whole number from 1 to 24 (got nan)."),
    ("max_hands", 6.5, "max_hands must be a whole number from 1 to 24 (got 6.5)."),
    ("max_hands", 10**9, "max_hands must be a whole number from 1 to 24 (got 1000000000)."),
    ("max_faces", -1, "max_faces must be a whole number from 1 to 40 (got -1)."),
    ("box_scale", float("-inf"), "box_scale must be a number from 1 to 4 (got -inf)."),
    ("box_scale", "1.5", "box_scale must be a number from 1 to 4 (got '1.5')."),
])
def test_bad_options_are_one_sentence_in_core(name, value, expect):
    with pytest.raises(ValueError) as info:
        segment(PHOTO, backend="landmarks", **{name: value})
    assert str(info.value) == expect


def test_good_options_pass_and_counts_become_int():
    out = check_options(min_confidence=0.5, max_hands=6.0, max_faces=np.int64(3), box_scale=1)
    assert out == {"min_confidence": 0.5, "max_hands": 6, "max_faces": 3, "box_scale": 1.0}
    assert isinstance(out["max_hands"], int) and not math.isnan(out["min_confidence"])


def test_nan_confidence_no_longer_changes_results():
    """NaN used to be accepted (every `score >= nan` is false in C++, so detections vanished or not)."""
    with pytest.raises(ValueError, match="min_confidence"):
        segment(PHOTO, backend="landmarks", min_confidence=float("nan"))


@pytest.mark.parametrize("token", ["r8_abc\u20acdef", "r8_caf\u00e9", "r8_two words", "r8_tab\tx"])
def test_non_ascii_token_gets_the_exact_sentence(token):
    from core.backends.replicate import BAD_TOKEN

    assert BAD_TOKEN == "This token is not valid (it contains characters a Replicate token never has)."
    for backend in ("auto", "replicate"):
        result = segment(PHOTOS / "astronaut.png", backend=backend, replicate_token=token)
        assert result.backend == "landmarks"
        assert f"replicate not used: {BAD_TOKEN}" in result.messages, result.messages
        assert not any("UnicodeEncodeError" in m or token in m for m in result.messages)
