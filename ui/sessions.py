"""Each visitor's current photo and result, kept on the server by Gradio's session id, a few at a time.

Not a gr.State: Gradio 6.31's MCP server drops State outputs twice from an answer ("pop index out of range"), so
the API event keeps plain outputs only. Bounded, unlike a State per open tab: the least recently used session goes
first, and none outlives `ttl_s`. A session that went leaves a small note behind (`gone`): why it went, and what
`remember` kept of it, so the visitor can be told on their next action instead of losing their edits silently.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, NamedTuple

# A 16 MP photo's session holds up to two Results (automatic, with clicks) of ~0.15 GB each with a few masks; most
# photos are far smaller. 8 keep the worst case near 2.4 GB on a 16 GB Space.
MAX_SESSIONS = 8
SESSION_SECONDS = 900
# Notes about sessions that went: a few hundred bytes each (a photo's path and its edits), so many more are kept.
MAX_GONE = 1024
IDLE, BUSY = "idle", "busy"  # why a session went: unused for ttl_s, or pushed out by more recent sessions


class Gone(NamedTuple):
    why: str  # IDLE or BUSY
    kept: object  # what `remember` returned for the session's last value


class RecentSessions:
    def __init__(self, size: int = MAX_SESSIONS, ttl_s: float = SESSION_SECONDS,
                 remember: Callable = lambda value: None):
        self.size, self.ttl_s, self.remember = size, ttl_s, remember
        self._items: OrderedDict = OrderedDict()  # key -> (last use, value)
        self._gone: OrderedDict = OrderedDict()  # key -> Gone, for sessions that expired or were pushed out
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            self._expire()
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            self._items[key] = (time.monotonic(), item[1])
            return item[1]

    def put(self, key, value) -> None:
        with self._lock:
            self._gone.pop(key, None)
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            self._expire()
            while len(self._items) > self.size:
                old, (_, old_value) = self._items.popitem(last=False)
                self._note(old, BUSY, old_value)

    def drop(self, key) -> None:
        """The visitor cleared their photo: nothing of it is remembered."""
        with self._lock:
            self._items.pop(key, None)
            self._gone.pop(key, None)

    def gone(self, key):
        """Why `key`'s session went and what was remembered of it (a `Gone`), or None: it is here, or never was,
        or its visitor started afresh since."""
        with self._lock:
            self._expire()
            return None if key in self._items else self._gone.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (t, _) in self._items.items() if now - t > self.ttl_s]:
            self._note(key, IDLE, self._items.pop(key)[1])

    def _note(self, key, why: str, value) -> None:
        self._gone[key] = Gone(why, self.remember(value))
        self._gone.move_to_end(key)
        while len(self._gone) > MAX_GONE:
            self._gone.popitem(last=False)
