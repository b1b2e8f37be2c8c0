"""The Space's Video and Webcam tabs, served by `python app.py` on 127.0.0.1 and called as a visitor would."""
from __future__ import annotations

import json
import os
import re

import pytest

from bench.clips import example_file, load_rgb, pan_frames

from .live_server import serve_app

gradio_client = pytest.importorskip("gradio_client")
av = pytest.importorskip("av")



@pytest.fixture(scope="module")
def served():
    with serve_app() as (url, _proc, log):
        yield url, log


def test_video_tab_returns_h264_and_per_frame_coco(served):
    from .conftest import REPO

    url, _ = served
    client = gradio_client.Client(url, verbose=False)
    clip = REPO / "examples" / "asl_walk_intel.mp4"
    annotated, anonymised, status, files = client.predict(gradio_client.handle_file(str(clip)), "faces",
                                                          0.5, 6, api_name="/segment_video")
    assert status.startswith("**89 frames, 1 face and 2 hands tracked**"), status
    assert re.search(r"This Space: 89 frames in [\d.]+ s \([\d.]+ frames/s\)$", status), status
    for video in (annotated, anonymised):
        path = video["video"] if isinstance(video, dict) else video
        with av.open(path) as c:
            assert c.streams.video[0].codec_context.name == "h264"
    names = {os.path.basename(f) for f in files}
    assert {"annotated.mp4", "anonymised.mp4", "coco.json", "result.json"} <= names
    coco = json.loads(open(next(f for f in files if f.endswith("coco.json"))).read())
    assert len(coco["images"]) == 89 and all("track_id" in a for a in coco["annotations"])


def test_video_tab_refuses_a_bad_file_in_one_sentence(served, tmp_path):
    url, _ = served
    client = gradio_client.Client(url, verbose=False)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all\n" * 10)
    with pytest.raises(Exception) as info:  # "no", the old word for "off", is still taken: the file is refused
        client.predict(gradio_client.handle_file(str(bad)), "no", 0.5, 6, api_name="/segment_video")
    assert "not a video we can read" in str(info.value)


def test_video_api_names_every_output_and_uses_the_photo_words(served):
    """Outputs are named after their labels (the status was `value_49`), and anonymise says "off" like the photo's."""
    from ui.photo import ANONYMISE

    url, _ = served
    api = gradio_client.Client(url, verbose=False).view_api(return_format="dict", print_info=False)
    endpoint = api["named_endpoints"]["/segment_video"]
    assert [r["label"] for r in endpoint["returns"]] == ["Annotated video", "Anonymised video", "Status", "Downloads"]
    assert "value_" not in json.dumps(endpoint)
    anonymise = next(p for p in endpoint["parameters"] if p["parameter_name"] == "anonymise")
    assert anonymise["type"]["enum"] == ANONYMISE and anonymise["parameter_default"] == "off"


def test_run_video_mcp_description_is_whole(served):
    """run_video's docstring is its MCP tool description: every argument with its choices, every output."""
    import urllib.request

    url, _ = served
    with urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=30) as page:
        tool = next(t for t in json.loads(page.read()) if t["name"] == "run_video")
    props = tool["inputSchema"]["properties"]
    assert set(props) == {"video", "anonymise", "min_confidence", "max_hands"}
    from ui.photo import ANONYMISE

    assert all(f'"{c}"' in props["anonymise"]["description"] for c in ANONYMISE)
    assert "0.1 to 0.9" in props["min_confidence"]["description"] and "1 to 12" in props["max_hands"]["description"]
    assert props["video"]["description"].endswith("is thinned.")
    for words in ("annotated H.264 video", "anonymised H.264 video", "frames per second", "result JSON"):
        assert words in tool["description"], (words, tool["description"])


def test_damaged_clips_do_not_stop_the_space(served, tmp_path):
    """Each upload used to freeze the whole server (FFmpeg hung holding the GIL); now each answers with the frames
    before the damage and a sentence, and the server goes on answering."""
    import urllib.request

    from .test_damaged_video import damaged_copy

    url, log = served
    client = gradio_client.Client(url, verbose=False)
    for seed in range(3):
        job = client.submit(gradio_client.handle_file(str(damaged_copy(tmp_path, seed))), "off", 0.5, 6,
                            api_name="/segment_video")
        try:
            _annotated, anonymised, status, _files = job.result(timeout=300)
        except TimeoutError:
            pytest.fail(f"the Space did not answer a damaged clip (seed {seed})")
        assert "broke off after frame" in status and "Error" not in status, status
        assert anonymised is None  # none asked for: the API still gets a value for it
    with urllib.request.urlopen(url + "config", timeout=30) as page:
        assert page.status == 200
    assert "Traceback" not in open(log).read()


def test_webcam_stream_round_trip(served):
    """Frames sent the way the browser streams them (JPEG data URLs to /gradio_api/stream/<event>) come back drawn,
    without errors; the rate is measured by bench.video."""
    from bench.video import webcam_round_trip

    url, log = served
    photo = example_file("card_thrower_gesturing_pxhere.jpg")
    if not photo.exists():
        pytest.skip(f"{photo} not found")
    frames = list(pan_frames(load_rgb(photo), 10, size=(640, 480)))
    out = webcam_round_trip(frames, url=url, count=5)
    assert out["errors"] == 0 and out["frames"] == 5, out
    assert "Traceback" not in log.read_text()
