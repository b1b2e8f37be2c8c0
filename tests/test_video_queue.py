"""Clips in the served Space cannot lock other visitors out, can be stopped, and keep their downloads (issue 18,
items 3, 4 and 9): `python app.py` on 127.0.0.1, visitors talking to its queue over HTTP as browsers do."""
from __future__ import annotations

import os
import time

import pytest

from ui.video import VIDEO_LIMIT

from .conftest import PHOTOS, REPO
from .live_server import QueueVisitor, serve_app

gradio_client = pytest.importorskip("gradio_client")

CLIP = REPO / "examples" / "asl_walk_intel.mp4"  # 89 frames: seconds of work, long enough to queue behind
PHOTO = PHOTOS / "astronaut.png"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server-tmp")
    with serve_app(env={"TMPDIR": str(tmp), "DOWNLOADS_KEEP": "2"}) as (url, proc, log):
        yield url, log, tmp / "face-hand-segmentation"


_uploads: dict = {}


def clip_args(visitor: QueueVisitor) -> list:
    """The clip, uploaded once per server (any session may use an upload), so that joining takes milliseconds and
    every join happens while the first clip still runs, however busy the machine."""
    if visitor.url not in _uploads:
        _uploads[visitor.url] = visitor.upload(CLIP)
    return [_uploads[visitor.url], "no", 0.5, 6]


def started(visitor: QueueVisitor, event_id: str, seconds: float = 120.0) -> bool:
    """The clip reported its first frame."""
    return visitor.wait_for(lambda m: m.get("event_id") == event_id and m.get("msg") == "progress"
                            and "Frame" in str(m.get("progress_data")), seconds) is not None


def finished(visitor: QueueVisitor, event_id: str, seconds: float = 300.0):
    return visitor.wait_for(lambda m: m.get("event_id") == event_id and m.get("msg") == "process_completed", seconds)


def test_clips_cannot_fill_the_queue_that_photos_share(served):
    """One clip running and 32 more waiting used to fill the shared queue: photos and webcam joins got "Queue is
    full". Now a visitor has one clip at a time, at most four wait, and the rest are told so in one sentence."""
    url, log, _ = served
    first = QueueVisitor(url, "first")
    status, running = first.join("segment_video", clip_args(first))
    assert status == 200, running
    assert started(first, running)
    status, again = first.join("segment_video", clip_args(first))
    assert status == 400 and again == VIDEO_LIMIT.again, (status, again)

    others = [QueueVisitor(url, f"other-{n}") for n in range(VIDEO_LIMIT.waiting + 30)]
    answers = [v.join("segment_video", clip_args(v)) for v in others]
    accepted = [(v, a[1]) for v, a in zip(others, answers) if a[0] == 200]
    refused = [a for a in answers if a[0] != 200]
    try:
        assert len(accepted) == VIDEO_LIMIT.waiting, answers
        assert refused and all(a == (400, VIDEO_LIMIT.busy) for a in refused), refused[:3]
        assert VIDEO_LIMIT.busy == "4 clips are already waiting to be processed; please try again in a few minutes."
        client = gradio_client.Client(url, verbose=False)  # a photo visitor is still served at once
        _, status_line, files, *_ = client.predict(gradio_client.handle_file(str(PHOTO)), "landmarks", 0.5, 6, 1.5,
                                                   "", api_name="/segment")
        assert "face" in status_line and files
    finally:
        for visitor, event_id in accepted + [(first, running)]:
            visitor.cancel("segment_video", event_id)
    assert "Traceback" not in log.read_text()


def test_a_cancelled_clip_stops_between_frames(served):
    """Cancelling (the Stop button, or a visitor who leaves) used to free the worker while the clip ran on to its
    end in its thread, beside the next clip."""
    url, log, _ = served
    visitor = QueueVisitor(url, "stopper")
    status, event_id = visitor.join("segment_video", clip_args(visitor))
    assert status == 200 and started(visitor, event_id)

    def stops():
        return [x for x in log.read_text().splitlines() if "video not done: Stopped after frame" in x]

    earlier = len(stops())  # clips cancelled by the test before
    visitor.cancel("segment_video", event_id)
    line, deadline = None, time.monotonic() + 120
    while line is None and time.monotonic() < deadline:
        line = (stops()[earlier:] or [None])[0]
        time.sleep(0.1)
    assert line is not None, "the clip ran on after it was cancelled"
    frames = int(line.rsplit("frame", 1)[1].strip(" ."))
    assert frames < 89, line


def test_photo_requests_never_prune_a_running_clips_downloads(served):
    """40 photo requests during a clip used to delete its folder: the visitor waited for the whole clip and got
    "[Errno 2] No such file or directory: '.../coco.json'". Here the server keeps 2 photo folders (DOWNLOADS_KEEP)."""
    url, log, root = served
    visitor = QueueVisitor(url, "video-visitor")
    status, event_id = visitor.join("segment_video", clip_args(visitor))
    assert status == 200 and started(visitor, event_id)
    client = gradio_client.Client(url, verbose=False)
    for _ in range(4):
        client.predict(gradio_client.handle_file(str(PHOTO)), "landmarks", 0.5, 6, 1.5, "", api_name="/segment")
    done = finished(visitor, event_id)
    assert done is not None and done.get("success"), done
    files = done["output"]["data"][3]
    assert {os.path.basename(f["path"]) for f in files} >= {"annotated.mp4", "coco.json", "result.json"}
    photos = [p for p in (root / "photos").iterdir() if p.is_dir()]
    assert len(photos) <= 3, photos  # photos still prune their own root


def test_a_refused_clip_leaves_no_folder(served, tmp_path):
    url, _, root = served
    before = set((root / "videos").iterdir()) if (root / "videos").exists() else set()
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all\n" * 10)
    visitor = QueueVisitor(url, "refused")
    status, event_id = visitor.join("segment_video", [visitor.upload(bad), "no", 0.5, 6])
    done = finished(visitor, event_id)
    assert done is not None and not done.get("success")
    assert "not a video we can read" in str(done["output"])
    assert set((root / "videos").iterdir()) == before
