"""Batch: `python -m core DIR --out DIR2` walks folders, resumes, uses a process pool, writes one COCO file;
and the same per-photo function runs on Ray Data (a local cluster started inside the test)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from core.batch import find_jobs, parse_formats, process_row, run_batch, write_folder_coco
from core.export import safe_name

from .conftest import REPO, data_path, face_and_hands


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of small real photos, one in a subfolder, one unreadable, and a non-photo file."""
    src = data_path("hand_over_face/images")
    root = tmp_path_factory.mktemp("photos")
    names = sorted(p.name for p in src.iterdir())[:4]
    for name in names[:3]:
        shutil.copy(src / name, root / name)
    (root / "sub").mkdir()
    shutil.copy(src / names[3], root / "sub" / names[3])
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("not a photo, not even named like one")
    return root


def _cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_folder_batch_with_pool_resume_and_one_coco(photos, tmp_path):
    out = tmp_path / "out"
    proc = _cli(photos, "--out", out, "--workers", "2", "--format", "png,coco,zip", "--progress",
                "--backend", "landmarks")
    assert proc.returncode == 1, proc.stderr  # the broken photo fails; the others are done
    assert "broken.jpg: broken.jpg is damaged or truncated and cannot be decoded." in proc.stderr
    assert "5/5" in proc.stderr  # the tqdm bar reached the end
    assert "Traceback" not in proc.stderr
    assert "5 photos: 4 done, 0 already done, 1 failed" in proc.stdout

    jobs = find_jobs([photos], out)
    names = [j.name for j in jobs]
    assert len(names) == 5 and any(n.startswith("sub/") for n in names)
    done = [j for j in jobs if j.name != "broken.jpg"]
    for job in done:
        folder = out / job.name
        assert {"annotated.png", "coco.json", "masks.zip", "result.json"} <= {f.name for f in folder.iterdir()}
    assert not (out / "broken.jpg").exists()
    assert not list(out.rglob(".*partial*"))

    coco = COCO(str(out / "coco.json"))
    assert sorted(i["file_name"] for i in coco.imgs.values()) == sorted(j.file_name for j in done)
    per_photo = 0
    for job in done:
        doc = json.loads((out / job.name / "coco.json").read_text())
        img_id = next(i for i, im in coco.imgs.items() if im["file_name"] == job.file_name)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        assert [a["segmentation"] for a in anns] == [a["segmentation"] for a in doc["annotations"]]
        per_photo += len(doc["annotations"])
        for ann in anns:  # the folder file's masks are the PNGs on disk
            mask = coco.annToMask(ann).astype(bool)
            png = out / job.name / "masks" / f"{safe_name(ann['label'])}.png"
            assert np.array_equal(np.asarray(Image.open(png)) == 255, mask)
    assert per_photo == len(coco.anns) > 0
    assert len({a["id"] for a in coco.anns.values()}) == len(coco.anns)

    # Run again: nothing is redone, files are untouched.
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("result.json")}
    again = _cli(photos, "--out", out, "--workers", "2", "--format", "png,coco,zip", "--backend", "landmarks")
    assert "5 photos: 0 done, 4 already done, 1 failed" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("result.json")} == stamp

    # An interrupted photo (no result.json yet) is redone, and only that one.
    victim = done[1]
    (out / victim.name / "result.json").unlink()
    third = _cli(photos, "--out", out, "--workers", "1", "--format", "png,coco,zip", "--backend", "landmarks")
    assert "5 photos: 1 done, 3 already done, 1 failed" in third.stdout
    assert f"{victim.path}:" in third.stdout
    assert json.loads((out / "coco.json").read_text()) == json.loads(json.dumps(coco.dataset))


def test_output_inside_input_is_not_read_back(photos, tmp_path):
    root = tmp_path / "in"
    shutil.copytree(photos, root)
    (root / "broken.jpg").unlink()
    first = find_jobs([root], root / "results")
    counts = run_batch(first, root / "results", ("png", "coco"), workers=1, progress=False,
                       report=lambda *a, **k: None, backend="landmarks")
    assert counts == {"total": 4, "skipped": 0, "done": 4, "failed": 0, "coco": str(root / "results" / "coco.json")}
    assert [j.name for j in find_jobs([root], root / "results")] == [j.name for j in first]


def test_bad_options_fail_before_any_work(tmp_path):
    proc = _cli(data_path("hand_over_face/images"), "--out", tmp_path, "--format", "png,tiff")
    assert proc.returncode == 2 and proc.stderr.strip() == "error: Unknown format tiff. Choose from: png, coco, zip."
    with pytest.raises(ValueError):
        parse_formats("")
    assert not list(tmp_path.iterdir())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own deprecated settings, not ours
def test_same_function_on_ray_data(photos, tmp_path, monkeypatch):
    """Ray Data maps the per-photo function over a local cluster; the result equals the local pool's."""
    # Keep the local cluster on loopback (no node-IP lookup) and send no usage statistics anywhere.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")

    jobs = [j for j in find_jobs([photos], tmp_path) if j.name != "broken.jpg"]
    local = tmp_path / "local"
    run_batch(jobs, local, ("png", "coco"), workers=1, progress=False, report=lambda *a, **k: None,
              backend="landmarks")

    distributed = tmp_path / "ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        ds = ray.data.from_items([dataclasses.asdict(j) for j in jobs])
        rows = ds.map(process_row, fn_kwargs={"out_root": str(distributed), "formats": "png,coco",
                                              "backend": "landmarks"}).take_all()
    finally:
        ray.shutdown()
    assert sorted(r["path"] for r in rows) == sorted(j.path for j in jobs) and all(r["ok"] for r in rows)
    write_folder_coco(jobs, distributed)
    assert json.loads((distributed / "coco.json").read_text()) == json.loads((local / "coco.json").read_text())


def _far_from(masks: list, margin: int) -> np.ndarray:
    """Pixels farther than `margin` from every mask."""
    import cv2

    union = np.any(masks, axis=0)
    return cv2.distanceTransform((~union).astype(np.uint8), cv2.DIST_L2, 5) > margin


def test_cutouts_and_anonymised_photos_and_resume_when_newly_asked(tmp_path):
    from core import load_image
    from core.batch import is_done

    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    shutil.copy(REPO / "tests" / "photos" / "grace_hopper.jpg", photos / "grace.jpg")
    shutil.copy(face_and_hands(), photos / "ego.jpg")
    first = _cli(photos, "--out", out, "--workers", "1", "--backend", "landmarks")
    assert "2 photos: 2 done" in first.stdout, first.stderr
    jobs = find_jobs([photos], out)
    assert all(is_done(out / j.name, ("png", "coco"), j.path) for j in jobs)
    assert not any(is_done(out / j.name, ("png", "coco"), j.path, cutouts=True) for j in jobs)

    # Asked for now: cut-outs and an anonymised copy. The pool (2 workers) passes the options through.
    extra = ["--cutouts", "--anonymise", "faces", "--format", "png,coco,zip", "--backend", "landmarks"]
    second = _cli(photos, "--out", out, "--workers", "2", *extra)
    assert "2 photos: 2 done, 0 already done" in second.stdout, second.stderr
    for job in jobs:
        folder = out / job.name
        doc = json.loads((folder / "result.json").read_text())
        assert doc["anonymised"] == {"what": "faces", "style": "blur"} and doc["cutouts"] is True
        labels = [safe_name(i["label"]) for i in doc["instances"]]
        assert sorted(p.name for p in (folder / "cutouts").iterdir()) == sorted(f"{n}.png" for n in labels)
        with zipfile.ZipFile(folder / "masks.zip") as z:
            assert sorted(n for n in z.namelist() if n.startswith("cutouts/")) == sorted(
                f"cutouts/{n}.png" for n in labels)
        faces = []
        for n, inst in zip(labels, doc["instances"]):
            mask = np.asarray(Image.open(folder / "masks" / f"{n}.png")) == 255
            rgba = np.asarray(Image.open(folder / "cutouts" / f"{n}.png"))
            assert rgba.shape[2] == 4 and (rgba[:, :, 3] == 255).sum() == mask.sum() > 0
            faces += [mask] if inst["kind"] == "face" else []
        original = load_image(job.path)
        hidden = np.asarray(Image.open(folder / "anonymised.png"))
        assert faces and hidden.shape == original.shape
        for face in faces:  # each face changed: its pixels differ clearly from the photo's
            assert np.abs(hidden[face].astype(int) - original[face]).mean() > 8
        far = _far_from(faces, 0.08 * max(original.shape) + 3)
        assert np.array_equal(hidden[far], original[far])  # the rest is the photo, pixel for pixel

    third = _cli(photos, "--out", out, "--workers", "1", *extra)
    assert "2 photos: 0 done, 2 already done" in third.stdout, third.stderr
    fourth = _cli(photos, "--out", out, "--workers", "1", *extra, "--anonymise-style", "fill")  # another style
    assert "2 photos: 2 done, 0 already done" in fourth.stdout, fourth.stderr


def test_process_row_takes_the_extra_outputs(tmp_path):
    row = {"path": str(face_and_hands()), "name": "ego.jpg", "file_name": "ego.jpg"}
    res = process_row(row, str(tmp_path), "coco", cutouts=True, anonymise="hands", anonymise_style="fill",
                      backend="landmarks")
    assert res["ok"] and res["hands"] == 2
    folder = tmp_path / "ego.jpg"
    assert sorted(p.name for p in folder.iterdir()) == ["anonymised.png", "coco.json", "cutouts", "result.json"]
    hidden = np.asarray(Image.open(folder / "anonymised.png"))
    hands = json.loads((folder / "result.json").read_text())["instances"][1:]
    assert (hidden == 128).all(axis=2).sum() >= 0.9 * sum(h["area"] for h in hands)  # both hands filled grey
    assert len(list((folder / "cutouts").iterdir())) == 3
    with pytest.raises(ValueError, match="Choose from"):
        process_row(row, str(tmp_path), "coco", anonymise="feet", backend="landmarks")
