"""MediaPipe's start-up lines, left out of stderr unless asked for (`MEDIAPIPE_LOGS=1`).

Each MediaPipe graph, as it opens, writes from C++ straight to file descriptor 2: "INFO: Created TensorFlow Lite
XNNPACK delegate for CPU.", once "WARNING: All log messages before absl::InitializeLog() is called are written to
STDERR", and one "W0000 ... inference_feedback_manager.cc:114] Feedback manager requires a model with a single
signature inference..." per model: 18 lines when the app started. mediapipe 0.10.21 logs through absl, which reads no
environment variable (GLOG_minloglevel, which the app sets, is glog's) and exposes no call to Python. So while a graph
is built and runs its first frame (`opened`), fd 2 goes through a pipe; a thread passes every line on to the real
stderr except those three kinds. Anything else written meanwhile (a Python log line from another thread, an error)
still arrives, a moment later.
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

import numpy as np

ENV = "MEDIAPIPE_LOGS"  # "1": let MediaPipe's start-up lines through
NOISE = (b"inference_feedback_manager", b"All log messages before absl::InitializeLog()",
         b"Created TensorFlow Lite XNNPACK delegate")

_lock = threading.Lock()
_depth = 0
_window = None  # (saved fd 2, write end, reader thread) while any `quiet()` is open


def wanted() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _pass_on(read_fd: int, out_fd: int) -> None:
    """Copy lines from the pipe to the real stderr, dropping MediaPipe's start-up lines, until the pipe closes."""
    rest = b""
    try:
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            kept = b"".join(line + b"\n" for line in lines if not any(n in line for n in NOISE))
            if kept:
                os.write(out_fd, kept)
        if rest and not any(n in rest for n in NOISE):
            os.write(out_fd, rest)
    finally:
        os.close(read_fd)
        os.close(out_fd)


@contextmanager
def quiet():
    """MediaPipe's start-up lines are dropped from fd 2 while any thread is inside; everything else passes."""
    global _depth, _window
    if wanted():
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            try:
                sys.stderr.flush()
            except Exception:
                pass
            read_fd, write_fd = os.pipe()
            saved = os.dup(2)
            os.dup2(write_fd, 2)
            reader = threading.Thread(target=_pass_on, args=(read_fd, os.dup(saved)), daemon=True,
                                      name="native-logs")
            reader.start()
            _window = (saved, write_fd, reader)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _window is not None:
                saved, write_fd, reader = _window
                _window = None
                try:
                    sys.stderr.flush()
                except Exception:
                    pass
                os.dup2(saved, 2)  # fd 2 is the real stderr again; the pipe's last write end here closes next
                os.close(saved)
                os.close(write_fd)
                reader.join(timeout=2.0)  # a child process started meanwhile may hold the pipe open: don't wait


def opened(make):
    """`make()` (a MediaPipe solution) built, and run once on a small grey frame so that its models open, with
    their start-up lines dropped. For graphs that keep nothing from one frame to the next, or trackers before
    their first real frame (a grey frame holds no face or hand to track)."""
    with quiet():
        graph = make()
        graph.process(np.full((64, 64, 3), 127, np.uint8))
    return graph
