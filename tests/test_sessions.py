"""The Space keeps a few visitors' photo sessions (ui/sessions.py): the least recently used goes first, none
outlives its time, and a visitor whose session went is simply served afresh."""
import time

from ui.sessions import RecentSessions


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
