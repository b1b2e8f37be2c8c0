"""The Space itself: `python app.py` served on 127.0.0.1, called through gradio_client as API users would, and
exactly as the README shows."""
from __future__ import annotations

import contextlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import FACE_AND_HANDS_EXAMPLE, REPO, face_and_hands
from .live_server import serve_app

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def served():
    with serve_app() as (url, _proc, log):
        yield url, gradio_client.Client(url, verbose=False), log


@pytest.fixture(scope="module")
def client(served):
    return served[1]


def test_api_needs_only_the_photo_and_names_its_outputs(client):
    api = client.view_api(print_info=False, return_format="dict")
    # UI-only events and the stream stay out; /segment_json is the MCP tool segment_photo (one JSON answer)
    assert set(api["named_endpoints"]) == {"/segment", "/segment_json", "/segment_video"}
    seg = api["named_endpoints"]["/segment"]
    required = [p["parameter_name"] for p in seg["parameters"] if not p["parameter_has_default"]]
    assert required == ["image"]
    token = next(p for p in seg["parameters"] if p["parameter_name"] == "replicate_token")
    assert token["parameter_default"] == ""  # "Use via API" must not fill in a fake token
    assert [r["label"] for r in seg["returns"]] == ["Faces and hands", "Status", "Downloads", "Result JSON",
                                                    "Cut-outs", "Anonymised"]


def test_api_types_agree_and_the_help_is_ours(client):
    """view_api() showed `max_hands: float` on /segment and `int` on /segment_json, and printed Gradio's whole
    FileData docstring as /segment_video's help."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]

    def types(endpoint) -> dict:
        return {p["parameter_name"]: p["python_type"]["type"] for p in api[endpoint]["parameters"]}

    photo, as_json = types("/segment"), types("/segment_json")
    assert photo == as_json, (photo, as_json)
    assert photo["max_hands"] == "int" and photo["min_confidence"] == "float"
    video = types("/segment_video")
    assert video["max_hands"] == "int", video
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        client.view_api()
    help_text = shown.getvalue()
    assert "FileData class" not in help_text and "GradioModel" not in help_text, help_text
    assert "up to 60 s" in help_text


def test_readme_snippet_runs_as_written(served, tmp_path, capsys):
    """The README's gradio_client block, run with only the address and the photo's path replaced."""
    url, _, _ = served
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Call the Space with `gradio_client`", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'client.predict(handle_file("photo.jpg"), api_name="/segment")' in code
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(face_and_hands().read_bytes())
    code = code.replace('"http://127.0.0.1:7860/"', repr(url)).replace('"photo.jpg"', repr(str(photo)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "face-1" in printed and "hand-1 (right)" in printed and "hand-2 (left)" in printed, printed


def test_segment_through_gradio_client(client):
    photo = face_and_hands()
    annotated, status, files, details, cutouts, anonymised = client.predict(
        gradio_client.handle_file(str(photo)), anonymise="faces", api_name="/segment")
    labels = [a["label"] for a in annotated["annotations"]]
    assert labels == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    assert status.startswith("**1 face and 2 hands found**") and "REPLICATE_API_TOKEN" not in status
    # The JSON answer: everything an API caller needs without opening a file.
    width, height = Image.open(photo).size  # EgoHands 01: 1280x720; the example: 800x465
    assert (details["width"], details["height"], details["backend"]) == (width, height, "landmarks")
    assert [i["label"] for i in details["instances"]] == labels
    hand = details["instances"][1]
    assert hand["kind"] == "hand" and hand["handedness"] == "right" and hand["area"] > 1000 and len(hand["box"]) == 4
    assert "total" in details["timings_ms"] and details["source"] == photo.name
    # Downloads carry the photo's name (cut to 16 characters, for one line on a phone), so files from several
    # photos do not clash.
    stem = {"01.jpg": "01", FACE_AND_HANDS_EXAMPLE.name: "01_card_thrower"}[photo.name]
    names = sorted(Path(f).name for f in files)
    assert names == [f"{stem}_{end}" for end in ("annotated.png", "anonymised.png", "coco.json", "masks.zip",
                                                  "result.json")]
    archive = next(f for f in files if f.endswith("masks.zip"))
    with zipfile.ZipFile(archive) as z:
        pngs = sorted(n for n in z.namelist() if n.startswith("masks/"))
        assert pngs == ["masks/face-1.png", "masks/hand-1_right.png", "masks/hand-2_left.png"]
        with z.open("masks/hand-1_right.png") as fh:
            mask = np.asarray(Image.open(fh))
    assert mask.shape == (height, width) and set(np.unique(mask).tolist()) == {0, 255}
    # Cut-outs: one transparent PNG per instance; the anonymised photo differs from the photo in the face only.
    assert [c["caption"] for c in cutouts] == labels
    with Image.open(cutouts[1]["image"]) as im:
        assert im.mode == "RGBA" and 0 in np.asarray(im)[:, :, 3]
    hidden = np.asarray(Image.open(anonymised).convert("RGB")).astype(int)
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    x0, y0, x1, y1 = details["instances"][0]["box"]
    assert np.abs(hidden - original)[y0:y1, x0:x1].mean() > 5
    assert np.abs(hidden - original)[:, :100].max() == 0  # the left edge holds no face


def test_bad_upload_gets_a_sentence_not_a_traceback(client, tmp_path):
    bad = tmp_path / "report.jpg"
    bad.write_bytes(b"%PDF-1.4 not a photo at all")
    with pytest.raises(Exception) as info:
        client.predict(gradio_client.handle_file(str(bad)), api_name="/segment")
    text = str(info.value)
    assert "Traceback" not in text and 'File "' not in text
    assert "not an image" in text


def test_owner_notes_go_to_the_server_log(served):
    _, client, log = served
    client.predict(gradio_client.handle_file(str(REPO / "tests" / "photos" / "grace_hopper.jpg")), api_name="/segment")
    assert "replicate not used: no REPLICATE_API_TOKEN set" in log.read_text()


def test_start_up_is_quiet(served):
    """18 lines of MediaPipe's inference_feedback_manager warnings and absl's notice came with every start."""
    _, client, log = served
    client.predict(gradio_client.handle_file(str(REPO / "examples" / "01_card_thrower_gesturing_pxhere.jpg")),
                   api_name="/segment")
    text = log.read_text()
    assert "inference_feedback_manager" not in text and "absl::InitializeLog" not in text, text
    assert "XNNPACK" not in text, text
