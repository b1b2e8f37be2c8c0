"""MediaPipe's start-up lines stay out of stderr unless asked for (core/native_logs.py).

The app's start printed 18 lines of MediaPipe's "inference_feedback_manager.cc:114] Feedback manager requires a model
with a single signature inference" warnings, "All log messages before absl::InitializeLog() is called are written to
STDERR" and TensorFlow Lite's XNNPACK notice; GLOG_minloglevel, which it set, does not reach absl's logging.
"""
from __future__ import annotations

import os
import subprocess
import sys

from core import native_logs

from .conftest import REPO

NOISE = ("inference_feedback_manager", "absl::InitializeLog", "XNNPACK")


def _start_graphs(**env) -> str:
    """stderr of a fresh process that builds and runs every default graph (what app.py's warm-up does)."""
    code = "import sys; from core.detect import warm_up; warm_up(); print('python still writes', file=sys.stderr)"
    full = {k: v for k, v in os.environ.items() if k != native_logs.ENV}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(full, **env), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_graphs_start_quietly_and_the_lines_come_back_on_request():
    quiet = _start_graphs()
    assert not any(n in quiet for n in NOISE), quiet
    assert "python still writes" in quiet
    loud = _start_graphs(MEDIAPIPE_LOGS="1")
    assert "inference_feedback_manager" in loud, loud


def test_other_lines_written_meanwhile_still_arrive(capfd, monkeypatch):
    monkeypatch.delenv(native_logs.ENV, raising=False)
    with native_logs.quiet():
        os.write(2, b"W0000 00:00:1.0 1 inference_feedback_manager.cc:114] Feedback manager requires...\n")
        os.write(2, b"an error someone must see\n")
        with native_logs.quiet():  # nested (another thread building a graph): one window
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nand a last line without end")
    err = capfd.readouterr().err
    assert err == "an error someone must see\nand a last line without end", err
