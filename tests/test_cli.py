"""`python -m core PATH... --out DIR`: per-photo folders, exact mask PNGs, JSON, and clear failures."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from .conftest import REPO, face_and_hands


def test_cli_writes_outputs_and_reports_bad_inputs(tmp_path):
    good = face_and_hands()
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "core", str(bad), str(good), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1  # one input failed; the other was still processed
    errors = [line for line in proc.stderr.splitlines() if "notes.jpg" in line]
    assert errors == [f"{bad}: notes.jpg is not an image we can read."]
    assert "Traceback" not in proc.stderr

    folder = out / good.name  # the suffix is kept: a.jpg and a.png never share a folder
    doc = json.loads((folder / "result.json").read_text())
    size = Image.open(good).size  # EgoHands 01: 1280x720; the example: 800x465
    assert doc["backend"] == "landmarks" and (doc["width"], doc["height"]) == size
    labels = [i["label"] for i in doc["instances"]]
    assert labels == ["face-1", "hand-1 (right)", "hand-2 (left)"]
    assert [i["handedness"] for i in doc["instances"]] == [None, "right", "left"]
    assert set(doc["timings_ms"]) >= {"detect", "total"}
    ann = Image.open(folder / "annotated.png")
    assert ann.size == size and ann.mode == "RGB"
    for inst in doc["instances"]:
        png = Image.open(folder / inst["mask_file"])
        assert png.size == size and png.mode == "L"
        values = np.unique(np.asarray(png))
        assert set(values.tolist()) == {0, 255}
        assert int((np.asarray(png) == 255).sum()) == inst["area"]


def test_cli_unknown_backend_fails_fast(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "core", str(face_and_hands()), "--out",
                           str(tmp_path), "--backend", "nope"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Unknown backend 'nope'" in proc.stderr
