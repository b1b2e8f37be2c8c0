"""Each visitor's current photo and result, kept on the server by Gradio's session id, a few at a time.

Not a gr.State: Gradio 6.31's MCP server drops State outputs twice from an answer ("pop index out of range"), so
the API event keeps plain outputs only. Bounded, unlike a State per open tab: the least recently used session goes
first, and none outlives `ttl_s`; a visitor whose session went simply gets a fresh segmentation on their next click.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

# A 16 MP photo's session holds up to two Results (automatic, with clicks) of ~0.15 GB each with a few masks; most
# photos are far smaller. 8 keep the worst case near 2.4 GB on a 16 GB Space.
MAX_SESSIONS = 8
SESSION_SECONDS = 900


class RecentSessions:
    def __init__(self, size: int = MAX_SESSIONS, ttl_s: float = SESSION_SECONDS):
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict = OrderedDict()  # key -> (last use, value)
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
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            self._expire()
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (t, _) in self._items.items() if now - t > self.ttl_s]:
            del self._items[key]
