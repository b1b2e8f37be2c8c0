"""The status line talks to the visitor (core/status.py): what they got and what they can do; notes about how the
Space is set up (no Replicate secret, no SAM2 weights) go to the owner, not into every visitor's status."""
import numpy as np

from core import segment
from core.status import CLICK_TIP, NONE_TIP, TOKEN_TIP, owner_notes, visitor_status

from .conftest import face_and_hands


def test_default_run_tells_the_visitor_what_to_do_not_the_owner(monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    result = segment(face_and_hands())  # auto: Replicate has no token here
    assert any("REPLICATE_API_TOKEN" in m for m in result.messages)  # Python and CLI callers still see it
    text = visitor_status(result)
    assert "REPLICATE_API_TOKEN" not in text and "secret" not in text
    assert text.startswith("**1 face and 2 hands found** · Offline masks from landmarks")
    assert TOKEN_TIP in text and CLICK_TIP in text
    assert any("REPLICATE_API_TOKEN" in n for n in owner_notes(result))


def test_a_visitors_own_bad_token_is_told_to_the_visitor():
    result = segment(face_and_hands(), replicate_token="r8_not valid")
    assert any(n.startswith("replicate") for n in owner_notes(result))
    assert not any(n.startswith("replicate") for n in owner_notes(result, visitor_token=True))
    text = visitor_status(result, visitor_token=True)
    assert "not valid" in text and TOKEN_TIP not in text


def test_nothing_found_says_how_to_look_again():
    result = segment(np.full((240, 320, 3), 90, np.uint8), backend="landmarks")
    text = visitor_status(result, did="Your click at (10, 20) found nothing new.")
    assert text.startswith("**No face or hand found**")
    assert "Your click at (10, 20) found nothing new." in text and NONE_TIP in text
