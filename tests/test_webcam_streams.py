"""The Webcam tab under many visitors: a bounded pool of trackers closed when streams end, frames that never touch
the disk, and a damaged frame that is skipped instead of ending the stream (issue 18, items 2, 5 and 8)."""
from __future__ import annotations

import threading
import time

import pytest

from bench.clips import example_file, load_rgb, pan_frames
from core.video.live import LivePool, PoolFull

from .live_server import serve_app

psutil = pytest.importorskip("psutil")


class FakeTracker:
    opened = 0

    def __init__(self):
        FakeTracker.opened += 1
        self.closed = False

    def close(self):
        FakeTracker.opened -= 1
        self.closed = True


def test_pool_keeps_at_most_size_trackers():
    FakeTracker.opened = 0
    pool = LivePool(FakeTracker, size=3, idle_s=600)
    seen = [pool.run(f"visitor-{n}", lambda t: t) for n in range(10)]  # ten streams, one after another
    assert FakeTracker.opened == 3 and len(pool) == 3
    assert all(t.closed for t in seen[:7])  # each new stream took the place of one that had ended
    assert pool.run("visitor-9", lambda t: t) is seen[9]  # a live stream keeps its tracker (its labels)
    pool.close_all()
    assert FakeTracker.opened == 0


def test_pool_closes_quiet_trackers_without_another_frame():
    FakeTracker.opened = 0
    pool = LivePool(FakeTracker, size=3, idle_s=0.2)
    try:
        for n in range(3):
            pool.run(f"visitor-{n}", lambda t: t)
        deadline = time.monotonic() + 30
        while FakeTracker.opened and time.monotonic() < deadline:  # the timer closes quiet ones, no frame needed
            time.sleep(0.05)
        assert FakeTracker.opened == 0 and len(pool) == 0
    finally:
        pool.close_all()


def test_pool_refuses_a_stream_only_when_every_tracker_is_mid_frame():
    FakeTracker.opened = 0
    pool = LivePool(FakeTracker, size=2, idle_s=60)
    inside, leave = threading.Barrier(3), threading.Event()

    def busy(tracker):
        inside.wait(10)
        leave.wait(10)

    workers = [threading.Thread(target=pool.run, args=(f"v{n}", busy)) for n in range(2)]
    for w in workers:
        w.start()
    inside.wait(10)
    try:
        with pytest.raises(PoolFull):
            pool.run("third", lambda t: t)
    finally:
        leave.set()
        for w in workers:
            w.join(10)
    pool.run("third", lambda t: t)  # once a stream is between frames, a new one may take its place
    pool.close_all()
    assert FakeTracker.opened == 0


def test_pool_release_closes_at_once():
    FakeTracker.opened = 0
    pool = LivePool(FakeTracker, size=2, idle_s=60)
    pool.run("tab", lambda t: t)
    pool.release("tab")
    assert FakeTracker.opened == 0 and len(pool) == 0
    pool.close_all()


# ------------------------------------------------------------------------------------------- the served Space

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cache = tmp_path_factory.mktemp("gradio-cache")
    with serve_app(env={"WEBCAM_IDLE_S": "1", "GRADIO_TEMP_DIR": str(cache)}) as (url, proc, log):
        yield url, proc, log, cache


@pytest.fixture(scope="module")
def frames():
    photo = example_file("card_thrower_gesturing_pxhere.jpg")
    if not photo.exists():
        pytest.skip(f"{photo} not found")
    return list(pan_frames(load_rgb(photo), 6, size=(640, 480)))


def _threads(proc) -> int:
    return psutil.Process(proc.pid).num_threads()


def _settled_threads(proc, at_most: int, seconds: float = 60.0) -> int:
    """The server's thread count once it is at most `at_most`, or after `seconds`."""
    deadline = time.monotonic() + seconds
    n = _threads(proc)
    while n > at_most and time.monotonic() < deadline:
        time.sleep(0.25)
        n = _threads(proc)
    return n


def test_trackers_are_bounded_and_closed_when_streams_end(served, frames):
    """Each new session used to get its own tracker (~87 MB, 7 threads) kept for minutes after its stream; 48 of
    them took 4.7 GB and 360 threads. Now streams share a pool of 4, closed a moment after they end."""
    from bench.video import webcam_round_trip

    url, proc, log, _ = served
    out = webcam_round_trip(frames, url=url, count=2)  # warms every graph a stream uses
    assert out["errors"] == 0 and out["frames"] == 2, out
    # The pool closes that stream's tracker (7 threads) once it has been quiet for WEBCAM_IDLE_S.
    baseline = _settled_threads(proc, _threads(proc) - 5)
    peak = 0
    for _ in range(8):  # eight visitors, one after another, each a short stream
        out = webcam_round_trip(frames[:2], url=url, count=1)
        assert out["errors"] == 0, out
        peak = max(peak, _threads(proc))
    settled = _settled_threads(proc, baseline + 2)
    assert settled <= baseline + 2, (baseline, peak, settled)
    assert "Traceback" not in log.read_text()


def test_frames_never_touch_the_disk(served, frames):
    """61 streamed frames used to leave 59 drawn camera frames in Gradio's cache, fetchable by URL for an hour."""
    from bench.video import webcam_round_trip

    url, _, log, cache = served
    before = {p for p in cache.rglob("*") if p.is_file()}
    out = webcam_round_trip(frames, url=url, count=5)
    assert out["errors"] == 0 and out["frames"] == 5, out
    written = {p for p in cache.rglob("*") if p.is_file()} - before
    assert not written, sorted(str(p) for p in written)[:5]


def test_a_damaged_frame_is_skipped_and_the_stream_goes_on(served, frames):
    """An undecodable frame used to end the stream with Gradio's "Could not preprocess input component" and the
    payload echoed back."""
    from bench.video import webcam_round_trip

    url, _, log, _ = served
    damaged = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/" + "A" * 64
    out = webcam_round_trip([frames[0], damaged, "data:image/png;base64,@@@", frames[1]], url=url, count=5)
    assert out["errors"] == 0, out["error_messages"]
    assert out["frames"] == 5, out  # every frame answered: it went on after the damaged ones
    assert "Could not preprocess" not in log.read_text()
