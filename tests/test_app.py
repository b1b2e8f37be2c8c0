"""The Space itself: `python app.py` served on 127.0.0.1, called through gradio_client as API users would."""
from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from .conftest import data_path
from .live_server import serve_app

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client():
    with serve_app() as (url, _proc, _log):
        yield gradio_client.Client(url, verbose=False)


def test_api_is_named_segment(client):
    assert "/segment" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def test_segment_through_gradio_client(client):
    photo = data_path("egohands/images/01.jpg")
    annotated, status, files = client.predict(gradio_client.handle_file(str(photo)), "auto", 0.5, 6, 1.5, "",
                                              api_name="/segment")
    labels = [a["label"] for a in annotated["annotations"]]
    assert labels == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    assert status.startswith("**1 face and 2 hands") and "backend: landmarks" in status
    names = {os.path.basename(f) for f in files}
    assert {"annotated.png", "masks.zip", "result.json"} <= names
    archive = next(f for f in files if f.endswith("masks.zip"))
    with zipfile.ZipFile(archive) as z:
        pngs = sorted(n for n in z.namelist() if n.endswith(".png"))
        assert pngs == ["masks/face-1.png", "masks/hand-1_right.png", "masks/hand-2_left.png"]
        with z.open("masks/hand-1_right.png") as fh:
            mask = np.asarray(Image.open(fh))
    assert mask.shape == (720, 1280) and set(np.unique(mask).tolist()) == {0, 255}


def test_bad_upload_gets_a_sentence_not_a_traceback(client, tmp_path):
    bad = tmp_path / "report.jpg"
    bad.write_bytes(b"%PDF-1.4 not a photo at all")
    with pytest.raises(Exception) as info:
        client.predict(gradio_client.handle_file(str(bad)), "auto", 0.5, 6, 1.5, "", api_name="/segment")
    text = str(info.value)
    assert "Traceback" not in text and 'File "' not in text
    assert "not an image" in text
