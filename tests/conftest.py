"""Shared fixtures: the labelled photos in ../shared/data (skipped with a reason when absent).

A fresh clone has no ../shared: the tests that need it skip with a reason naming "../shared", and the rest run.
`SHARED_DIR` points elsewhere (CI hides it with a folder that does not exist); with `SHARED_TESTS_OUT=FILE` the
session writes the ids of the tests that skipped for want of it, one a line, so that CI runs only those again with
the data (`.ci/run`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.malloc import limit_malloc_arenas

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# The test process allocates like the served app (app.py caps glibc's malloc arenas at 2): without the cap, tests
# that measure RSS in this process see freed buffers spread over one arena per detector thread (test_graphs:
# +0.88..0.99 GB instead of well under its 800 MB bound).
limit_malloc_arenas()


def _shared_dir() -> Path:
    from bench.data import SHARED

    return SHARED


SHARED_SKIP = "../shared"  # in the reason of every skip for want of the shared data (and in no other)
_needed_shared: set = set()


def pytest_runtest_logreport(report):
    if report.skipped and SHARED_SKIP in str(report.longrepr):
        _needed_shared.add(report.nodeid)


def pytest_sessionfinish(session):
    out = os.environ.get("SHARED_TESTS_OUT")
    if out:
        Path(out).write_text("".join(f"{nodeid}\n" for nodeid in sorted(_needed_shared)))

REPO = Path(__file__).resolve().parents[1]
SHARED = _shared_dir()
DATA = SHARED / "data"
BOX_DATA = SHARED / "data_boxes"  # photos with every face or hand boxed (see its MANIFEST.md)
EXAMPLES_DIR = REPO / "examples"
PHOTOS = REPO / "tests" / "photos"  # public-domain photos the tests rely on (see photos/README.md)


def data_path(rel: str) -> Path:
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"shared data not found at {p} (tests that measure real photos need ../shared/data)")
    return p


# EgoHands 01 (../shared/data: one person facing the camera, two hands on cards, with ground truth) and the first
# example (committed) both give face-1, hand-1 (right) and hand-2 (left): tests that need only a face and two hands
# take the example when ../shared is absent, so that a fresh clone runs them.
FACE_AND_HANDS = "egohands/images/01.jpg"
FACE_AND_HANDS_EXAMPLE = EXAMPLES_DIR / "01_card_thrower_gesturing_pxhere.jpg"


def face_and_hands() -> Path:
    """A photo with one face and two hands (face-1, hand-1 (right), hand-2 (left)): EgoHands 01, else the example."""
    p = DATA / FACE_AND_HANDS
    return p if p.exists() else FACE_AND_HANDS_EXAMPLE


def box_data_path(rel: str) -> Path:
    p = BOX_DATA / rel
    if not p.exists():
        pytest.skip(f"shared data not found at {p} (tests that measure recall need ../shared/data_boxes)")
    return p


def truth(rel: str) -> np.ndarray:
    return np.asarray(Image.open(data_path(rel)).convert("L")) > 127


def iou(a, b) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


@pytest.fixture(autouse=True)
def _no_replicate_token(monkeypatch):
    """Tests run offline: a developer's own token must never make a test call the real service."""
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)


def interruptible():
    """For subprocess.Popen(preexec_fn=...): the child takes Ctrl-C as a terminal's process would, however the tests
    were started. A shell starts a background job (`.ci/run &`, nohup) with SIGINT ignored, the child inherits that,
    and Python then installs no KeyboardInterrupt handler: a Ctrl-C test's CLI ran to the end and exited 0."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
