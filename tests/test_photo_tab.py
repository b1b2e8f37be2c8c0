"""The Photo tab's handlers (ui/photo.py), called in-process the way Gradio calls them: the request, the event data
and the progress are filled in from each handler's signature (gradio.helpers.special_args), so a call from the page
names the component that triggered it and an API or MCP call names none, as on the server."""
from __future__ import annotations

import gradio as gr
import pytest
from gradio.events import EventData, SelectData
from gradio.helpers import special_args

import core
from ui import photo
from ui.sessions import RecentSessions

from .conftest import EXAMPLES_DIR, PHOTOS

CARDS = str(EXAMPLES_DIR / "01_card_thrower_gesturing_pxhere.jpg")  # face-1, hand-1 (right), hand-2 (left)
APOLLO = str(EXAMPLES_DIR / "04_apollo11_crew_nasa.jpg")  # a click at (280, 285) finds Collins's missed hand
OTHER = str(PHOTOS / "grace_hopper.jpg")
SETTINGS = ("landmarks", 0.5, 6, 1.5, "")  # backend, min_confidence, max_hands, box_scale, token
RUN = gr.Button("Segment faces and hands")  # stands for the page's button: a call from the page names its trigger


@pytest.fixture(autouse=True)
def sessions(monkeypatch):
    """Each test starts with no photo sessions, kept exactly as the app keeps them."""
    fresh = RecentSessions(remember=photo.SESSIONS.remember)
    monkeypatch.setattr(photo, "SESSIONS", fresh)
    return fresh


@pytest.fixture
def segment_calls(monkeypatch):
    """The hints of every `core.segment` call the tab makes."""
    calls, real = [], core.segment

    def counting(image, *args, hints=(), **kwargs):
        calls.append(list(hints))
        return real(image, *args, hints=hints, **kwargs)

    monkeypatch.setattr(core, "segment", counting)
    return calls


def call(handler, *inputs, session="visitor", event=None):
    args, *_ = special_args(handler, list(inputs), gr.Request(session_hash=session), event)
    return handler(*args)


def segment(image, session="visitor", page=True, what="off"):
    """The Segment button on the page (page=True), or the /segment API event as gradio_client and MCP call it."""
    return call(photo.segment_photo, image, *SETTINGS, what, "blur", session=session,
                event=EventData(RUN if page else None, None))


def click(image, x, y, session="visitor", what="off"):
    return call(photo.on_click_photo, image, *SETTINGS, what, "blur", session=session,
                event=SelectData(None, {"index": [x, y], "value": None}))


def remove(label, session="visitor"):
    call(photo.on_select_mask, "off", "blur", session=session,
         event=SelectData(None, {"index": 0, "value": label, "selected": True}))
    return call(photo.on_remove, "off", "blur", session=session)


def labels(outputs) -> list:
    return [inst["label"] for inst in outputs[3]["instances"]]


# ------------------------------------------------------------------------ item 6: sessions that go, not silently

def test_api_calls_do_not_push_out_a_visitors_edits():
    """Visitor A removes face-1; 8 API (or MCP) calls from other sessions used to take every slot, so A's next
    anonymise change did nothing and A's next click brought face-1 back into the result and every download."""
    segment(CARDS)
    assert "face-1" not in labels(remove("face-1"))
    for n in range(photo.SESSIONS.size):
        segment(OTHER, session=f"api-{n}", page=False)
    hidden = call(photo.on_effect, "faces", "blur")
    assert labels(hidden) == ["hand-1 (right)", "hand-2 (left)"] and hidden[5] is not None
    again = click(CARDS, 5, 4)  # background: looked at, nothing there
    assert labels(again) == ["hand-1 (right)", "hand-2 (left)"]
    assert "expired" not in again[1]


def test_a_visitor_whose_edits_went_is_told_once_in_a_sentence():
    """Eight other visitors on the page do take A's slot (memory is bounded); A is then told what happened, in
    one sentence, on the next action, and the next click says the photo was segmented again without the edits."""
    segment(CARDS)
    remove("face-1")
    for n in range(photo.SESSIONS.size):
        segment(OTHER, session=f"visitor-{n}")
    status = call(photo.on_effect, "faces", "blur")[1]
    assert status == ("Your earlier edits on this photo (1 removed mask) were let go to make room for other "
                      "visitors; press Segment or click the photo to start again.")
    again = click(CARDS, 5, 4)
    assert labels(again) == ["face-1", "hand-1 (right)", "hand-2 (left)"]  # the face is back, and it is said
    assert ("Your earlier edits on this photo (1 removed mask) were let go to make room for other visitors; "
            "it was segmented again without them.") in again[1]
    assert "let go" not in click(CARDS, 5, 460)[1]  # said once: the new session is the visitor's again


def test_edits_that_expired_idle_are_said_so(sessions, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("ui.sessions.time.monotonic", lambda: now[0])
    segment(CARDS)
    remove("hand-1 (right)")
    now[0] += sessions.ttl_s + 1
    status = call(photo.on_remove, "off", "blur")[1]
    assert status.startswith("Your earlier edits on this photo (1 removed mask) expired after 15 minutes idle;")


def test_a_new_photo_or_clear_is_not_told_about_old_edits(sessions):
    segment(CARDS)
    remove("face-1")
    for n in range(sessions.size):
        segment(OTHER, session=f"visitor-{n}")
    assert "let go" not in segment(APOLLO)[1]  # another photo: its own start, nothing of the cards' edits
    segment(CARDS, session="b")
    remove("face-1", session="b")
    call(photo.on_clear, session="b")
    assert sessions.gone("b") is None


# ------------------------------------------------------------------ item 8: hostile click points get a sentence

OUTSIDE = "That click was outside the photo; click on the photo itself."


@pytest.mark.parametrize("index", [[float("nan"), 10], [float("inf"), 10], ["a", "b"], [5], None, [1e308, 10],
                                   [-3, 10], [True, 10], {"x": 1}, "10,10", [[1, 2], 3], [1, 2, 3]])
def test_a_hostile_click_point_gets_the_apps_sentence(index, segment_calls):
    out = call(photo.on_click_photo, CARDS, *SETTINGS, "off", "blur",
               event=SelectData(None, {"index": index, "value": None}))
    assert out[1] == OUTSIDE
    assert segment_calls == []  # refused before any work


@pytest.mark.parametrize("value", ["x" * 5000, "face-9", 12, None])
def test_a_mask_that_is_not_in_the_result_is_not_echoed(value):
    segment(CARDS)
    out = call(photo.on_select_mask, "off", "blur", event=SelectData(None, {"index": 0, "value": value}))
    assert "xxxxx" not in str(out[1]) and "face-9" not in str(out[1])
    assert photo.SESSIONS.get("visitor").selected is None
