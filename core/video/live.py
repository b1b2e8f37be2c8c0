"""Live streams (a webcam): a bounded pool of trackers, one per stream, closed as soon as the stream goes quiet.

Why: each tracker owns its MediaPipe graphs (~90 MB and 7 threads). One per visitor, kept until the visitor's
session expired, let 48 sessions that sent one frame each take 4.7 GB and 360 threads, and a closed tab kept its
tracker for an hour (issue 18, item 2). Here at most `size` trackers exist (the streams that may run at once), a
stream gets one with its first frame, and a tracker whose stream sent nothing for `idle_s` is closed, by the next
stream that asks or by a timer, whichever comes first; a new stream that finds the pool full of streams that
have just ended takes the place of the one quiet longest. A stream that comes back later simply starts afresh.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class PoolFull(RuntimeError):
    """Every tracker is in the middle of a frame of another stream."""


class _Stream:
    def __init__(self):
        self.tracker = None  # made with the stream's first frame, under `lock`
        self.last = time.monotonic()
        self.lock = threading.Lock()  # one frame at a time per stream
        self.closed = False


class LivePool:
    def __init__(self, make: Callable, size: int, idle_s: float = 10.0):
        """`make()` creates a tracker (with `close()`); `size` of them at most; closed after `idle_s` quiet."""
        self.make, self.size, self.idle_s = make, size, idle_s
        self._streams: dict = {}  # key -> _Stream
        self._lock = threading.Lock()
        self._timer = None

    def run(self, key, fn: Callable):
        """`fn(tracker)` with stream `key`'s tracker, made if needed. Raises PoolFull when `size` other streams
        are each in the middle of a frame."""
        while True:
            stream = self._checkout(key)
            with stream.lock:
                if stream.closed:  # closed as quiet between checkout and here: take a fresh one
                    continue
                if stream.tracker is None:
                    stream.tracker = self.make()
                try:
                    return fn(stream.tracker)
                finally:
                    stream.last = time.monotonic()

    def release(self, key) -> None:
        """Stream `key` ended: close its tracker now (after the frame it may be working on)."""
        with self._lock:
            stream = self._streams.pop(key, None)
        _close([stream] if stream else [])

    def close_all(self) -> None:
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        _close(streams)

    def __len__(self) -> int:
        with self._lock:
            return len(self._streams)

    def _checkout(self, key) -> _Stream:
        with self._lock:
            quiet = self._take_quiet()
            stream = self._streams.get(key)
            if stream is None:
                if len(self._streams) >= self.size:
                    # Full of streams that ended moments ago (when at most `size` streams run at once, as the
                    # Space's concurrency limit makes sure): the one quiet longest gives way.
                    idle = [k for k, s in self._streams.items() if not s.lock.locked()]
                    if not idle:
                        raise PoolFull(f"{self.size} streams are live")
                    quiet.append(self._streams.pop(min(idle, key=lambda k: self._streams[k].last)))
                stream = self._streams[key] = _Stream()
                self._arm_timer()
            else:
                stream.last = time.monotonic()
        _close(quiet)
        return stream

    def _take_quiet(self) -> list:
        now = time.monotonic()
        quiet = [key for key, stream in self._streams.items()
                 if now - stream.last > self.idle_s and not stream.lock.locked()]  # not mid-frame
        return [self._streams.pop(key) for key in quiet]

    def _arm_timer(self) -> None:
        if self._timer is None and self._streams:
            self._timer = threading.Timer(self.idle_s, self._sweep)
            self._timer.daemon = True
            self._timer.name = "live-pool-sweep"
            self._timer.start()

    def _sweep(self) -> None:
        with self._lock:
            self._timer = None
            quiet = self._take_quiet()
            self._arm_timer()
        _close(quiet)


def _close(streams) -> None:
    """Close the streams' trackers, each after the frame it is working on."""
    for stream in streams:
        with stream.lock:
            stream.closed = True
            if stream.tracker is not None:
                stream.tracker.close()
                stream.tracker = None
