"""The Space keeps a few visitors' photo sessions (ui/sessions.py): the least recently used goes first, none
outlives its time, and a visitor whose session went is simply served afresh."""
import time

from ui.sessions import BUSY, IDLE, MAX_GONE, RecentSessions


def test_least_recently_used_session_goes_first():
    sessions = RecentSessions(size=2, ttl_s=60)
    sessions.put("a", 1)
    sessions.put("b", 2)
    assert sessions.get("a") == 1  # "a" used again: "b" is now the oldest
    sessions.put("c", 3)
    assert (sessions.get("a"), sessions.get("b"), sessions.get("c")) == (1, None, 3) and len(sessions) == 2


def test_sessions_expire_and_can_be_dropped():
    sessions = RecentSessions(size=4, ttl_s=0.05)
    sessions.put("a", 1)
    sessions.put("b", 2)
    sessions.drop("b")
    assert sessions.get("b") is None and sessions.get("a") == 1
    time.sleep(0.1)
    assert sessions.get("a") is None and len(sessions) == 0


def test_a_session_that_went_leaves_a_note_saying_why(monkeypatch):
    """So the Photo tab can tell a visitor their edits went, instead of losing them silently."""
    now = [0.0]
    monkeypatch.setattr("ui.sessions.time.monotonic", lambda: now[0])
    sessions = RecentSessions(size=2, ttl_s=60, remember=lambda value: value * 10)
    sessions.put("a", 1)
    sessions.put("b", 2)
    sessions.put("c", 3)  # "a" is pushed out by more recent sessions
    assert sessions.gone("a") == (BUSY, 10) and sessions.gone("b") is None
    now[0] = 61.0
    assert sessions.get("b") is None and sessions.gone("b") == (IDLE, 20)  # unused for longer than ttl_s
    sessions.put("a", 4)  # the visitor started again: nothing to tell any more
    sessions.drop("c")  # the visitor cleared the photo: nothing to tell either
    assert sessions.gone("a") is None and sessions.gone("c") is None and sessions.gone("never") is None


def test_notes_are_bounded():
    sessions = RecentSessions(size=1, ttl_s=60)
    for n in range(MAX_GONE + 10):
        sessions.put(n, n)
    assert sessions.gone(0) is None and sessions.gone(MAX_GONE) == (BUSY, None)
    assert len(sessions._gone) == MAX_GONE
