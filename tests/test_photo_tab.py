"""The Photo tab's handlers (ui/photo.py), called in-process the way Gradio calls them: the request, the event data
and the progress are filled in from each handler's signature (gradio.helpers.special_args), so a call from the page
names the component that triggered it and an API or MCP call names none, as on the server."""
from __future__ import annotations

import gradio as gr
import pytest
from gradio.events import EventData, SelectData
from gradio.helpers import special_args

import core
from core.edits import MAX_HINTS, Edits
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

    def counting(image, *args, hints=(), edits=None, **kwargs):
        calls.append(list(hints) + list(edits.hints if edits is not None else ()))
        return real(image, *args, hints=hints, edits=edits, **kwargs)

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


# --------------------------------------------------------------------------- item 7: hints merged, capped, dropped

def test_sixty_clicks_on_one_point_keep_one_look_and_a_short_status(segment_calls):
    """60 clicks on the background at one point: click 60 took 7.5 s (every earlier click looked at again) and the
    status line grew to 3,421 characters. Now a click that found nothing is not kept, and one at the same place is
    answered from the first look."""
    segment(CARDS)
    for n in range(60):
        out = click(CARDS, 5 + n % 3, 4)
        assert max(len(hints) for hints in segment_calls) <= 1, n
        assert photo.SESSIONS.get("visitor").edits.hints == ()
        assert len(out[1]) < 400 and out[1].count("No face or hand was found") <= 1, out[1]
    assert sum(1 for hints in segment_calls if hints) == 1


def test_a_click_that_found_nothing_is_not_looked_at_again(segment_calls):
    segment(CARDS)
    first = click(CARDS, 5, 4)
    assert "No face or hand was found near the point (5, 4)." in first[1]
    second = click(CARDS, 795, 460)
    assert segment_calls[-1] == [(795.0, 460.0)]
    assert "(5, 4)" not in second[1] and "No face or hand was found near the point (795, 460)." in second[1]


def test_a_click_that_found_a_hand_is_kept(segment_calls):
    segment(APOLLO)
    found = click(APOLLO, 280, 285)
    assert "hand-" in found[1] and len(labels(found)) == 8
    after = click(APOLLO, 5, 4)
    assert segment_calls[-1] == [(280.0, 285.0), (5.0, 4.0)] and len(labels(after)) == 8
    assert photo.SESSIONS.get("visitor").edits.hints == ((280.0, 285.0),)


def test_clicks_are_capped(segment_calls):
    segment(CARDS)
    session = photo.SESSIONS.get("visitor")
    kept = tuple((20.0 + 30 * n, 20.0) for n in range(MAX_HINTS))  # as if each had found a face or hand
    photo.SESSIONS.put("visitor", photo.PhotoSession(session.photo, session.options, session.auto,
                                                     edits=Edits(hints=kept)))
    calls = len(segment_calls)
    out = click(CARDS, 700, 400)
    assert len(segment_calls) == calls  # not looked at
    assert f"You have added {MAX_HINTS} faces and hands by clicking" in out[1]
    assert photo.SESSIONS.get("visitor").edits.hints == kept


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


def test_the_token_tip_comes_with_a_visitors_first_result_only(monkeypatch):
    """It repeated the long Replicate tip on every result (issue 17); it is said once, with the first."""
    from core.status import TOKEN_TIP

    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    auto = ("auto",) + SETTINGS[1:]

    def run(session):
        return call(photo.segment_photo, CARDS, *auto, "off", "blur", session=session,
                    event=EventData(RUN, None))[1]

    assert TOKEN_TIP in run("first-visitor")
    assert TOKEN_TIP not in run("first-visitor")  # the same visitor's next result
    assert TOKEN_TIP in run("second-visitor")
