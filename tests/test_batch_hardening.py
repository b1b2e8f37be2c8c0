"""Batch CLI hardening (issue 9): output names that cannot collide, resume only for the same file, Ctrl-C, and
one-line errors with exit code 2 for usage errors."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from core.batch import find_jobs, is_done

from .conftest import PHOTOS, REPO, interruptible


def _cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def _one_line_error(proc, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------ names (item 4)

def test_same_stem_different_suffix_never_share_a_folder(tmp_path):
    """a.png done first, then a new a.jpg in the same folder: a.jpg must be processed, not "already done", and
    the folder COCO must list each with its own size and faces."""
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    Image.open(PHOTOS / "astronaut.png").convert("RGB").save(photos / "a.png")  # 512x512, one face
    first = _cli(photos, "--out", out, "--workers", "1", "--backend", "landmarks")
    assert first.returncode == 0, first.stderr
    Image.new("RGB", (300, 200), (128, 128, 128)).save(photos / "a.jpg")  # no face, another size
    second = _cli(photos, "--out", out, "--workers", "1", "--backend", "landmarks")
    assert second.returncode == 0, second.stderr
    assert "2 photos: 1 done, 1 already done, 0 failed" in second.stdout
    coco = json.loads((out / "coco.json").read_text())
    sizes = {im["file_name"]: (im["width"], im["height"]) for im in coco["images"]}
    assert sizes == {"a.jpg": (300, 200), "a.png": (512, 512)}
    per_image = {im["file_name"]: sum(a["image_id"] == im["id"] for a in coco["annotations"]) for im in coco["images"]}
    assert per_image == {"a.jpg": 0, "a.png": 1}
    assert json.loads((out / "a.jpg" / "result.json").read_text())["width"] == 300


def test_no_photo_folder_inside_another(tmp_path):
    """photos/a.jpg beside photos/a/masks.jpg (and more shapes of the same trap): every folder is separate."""
    photos = tmp_path / "photos"
    (photos / "a" / "masks").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"")
    (photos / "a" / "masks.jpg").write_bytes(b"")
    (photos / "a" / "masks" / "x.png").write_bytes(b"")
    other = tmp_path / "other"
    (other / "a.jpg").mkdir(parents=True)
    (other / "a.jpg" / "b.png").write_bytes(b"")
    (other / "coco.json").write_bytes(b"")
    names = [j.name for j in find_jobs([photos, other, photos / "a.jpg", other / "coco.json"], tmp_path / "out")]
    assert len(set(names)) == len(names)
    for n in names:
        assert n != "coco.json"
        for m in names:
            assert not m.startswith(n + "/"), (n, m)
    assert "a.jpg" in names and "a/masks.jpg" in names


def test_resume_only_when_result_names_the_same_file_size_and_time(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    shutil.copy(PHOTOS / "astronaut.png", photos / "p.png")
    assert _cli(photos, "--out", out, "--workers", "1", "--backend", "landmarks").returncode == 0
    job = find_jobs([photos], out)[0]
    assert is_done(out / job.name, ("png", "coco"), job.path)
    # The photo is replaced by another one (different content and size): it must be redone, not skipped.
    Image.new("RGB", (320, 240), (90, 90, 90)).save(photos / "p.png")
    assert not is_done(out / job.name, ("png", "coco"), job.path)
    again = _cli(photos, "--out", out, "--workers", "1", "--backend", "landmarks")
    assert "1 photos: 1 done, 0 already done" in again.stdout, again.stdout
    assert json.loads((out / "p.png" / "result.json").read_text())["width"] == 320
    # Same size, new time stamp (edited in place): redone too.
    os.utime(photos / "p.png", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not is_done(out / job.name, ("png", "coco"), job.path)


# ---------------------------------------------------------------------------------------- Ctrl-C (item 5)

@pytest.fixture(scope="module")
def fifty(tmp_path_factory):
    root = tmp_path_factory.mktemp("fifty")
    face = Image.open(PHOTOS / "grace_hopper.jpg").convert("RGB").resize((256, 300))
    for k in range(50):
        face.rotate(k % 7 - 3).save(root / f"p{k:02d}.jpg", quality=85)
    return root


def _finished(out) -> list:
    """Photo folders with a result.json (pathlib's glob also matches the hidden .partial-* folders)."""
    return sorted(p.parent.name for p in out.glob("*/result.json") if not p.parent.name.startswith("."))


@pytest.mark.parametrize("workers", [2, 1])
def test_ctrl_c_stops_cleans_up_writes_coco_and_exits_130(fifty, tmp_path, workers):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "core", str(fifty), "--out", str(out), "--workers", str(workers),
                             "--backend", "landmarks", "--no-progress"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=interruptible)
    # Wait until a few photos are done, then press Ctrl-C (SIGINT to the whole process group, as a terminal does).
    deadline = time.time() + 120
    while time.time() < deadline and len(_finished(out)) < 3:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    seconds = time.perf_counter() - t0
    print(f"workers={workers}: exited {seconds:.2f} s after SIGINT")
    assert proc.returncode == 130, (proc.returncode, stderr[-3000:])  # how fast it stopped is printed, not judged
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].startswith("interrupted: ")
    assert not list(out.rglob("*.partial-*"))
    done = _finished(out)
    assert all((out / d / "coco.json").is_file() for d in done)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == done  # no half-written folder left
    assert 3 <= len(done) < 50
    coco = json.loads((out / "coco.json").read_text())
    assert sorted(im["file_name"] for im in coco["images"]) == done
    # Resuming does the rest and only the rest.
    rest = _cli(fifty, "--out", out, "--workers", "2", "--backend", "landmarks")
    assert f"50 photos: {50 - len(done)} done, {len(done)} already done, 0 failed" in rest.stdout


# ------------------------------------------------------------------------------------ messages (item 6)

def test_out_at_a_file_proc_or_sys_is_one_line_exit_2(tmp_path):
    photo = PHOTOS / "astronaut.png"
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    line = _one_line_error(_cli(photo, "--out", afile), 2)
    assert line == f"error: --out {afile} is a file, not a folder."
    for target in ("/proc", "/sys", "/proc/self/new"):
        line = _one_line_error(_cli(photo, "--out", target), 2)
        assert line.startswith(f"error: --out {target} is not a folder we can write to ("), line


def test_usage_errors_are_one_line_exit_2(tmp_path):
    photo = PHOTOS / "astronaut.png"
    assert "--out" in _one_line_error(_cli(photo), 2)
    for option, value, expect in (("--min-confidence", "nan", "min_confidence must be a number from 0 to 1"),
                                  ("--box-scale", "inf", "box_scale must be a number from 1 to 4"),
                                  ("--max-hands", "nan", "max_hands must be a whole number"),
                                  ("--workers", "0", "--workers must be 1 or more"),
                                  ("--workers", "two", "invalid int value")):
        line = _one_line_error(_cli(photo, "--out", tmp_path / "o", option, value), 2)
        assert expect in line, line
    assert not (tmp_path / "o").exists()  # nothing was written


def test_fifo_and_device_inputs_get_the_true_reason(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    proc = _cli(fifo, "/dev/zero", "--out", tmp_path / "out", "--workers", "1", timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{fifo}: pipe.jpg is a named pipe (FIFO), not a photo file." in proc.stderr.splitlines()
    assert "/dev/zero: zero is a device, not a photo file." in proc.stderr.splitlines()
    assert "not found" not in proc.stderr.lower()


def test_a_shape_mediapipe_cannot_take_does_not_break_the_batch(tmp_path):
    """32767x8 used to abort a worker (BrokenProcessPool) and every rerun stopped at it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (32767, 8), (90, 90, 90)).save(photos / "strip.png")
    shutil.copy(PHOTOS / "astronaut.png", photos / "b.png")
    shutil.copy(PHOTOS / "grace_hopper.jpg", photos / "c.jpg")
    proc = _cli(photos, "--out", tmp_path / "out", "--workers", "2", "--backend", "landmarks")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert [line for line in proc.stderr.splitlines() if "strip.png" in line] == [
        f"{photos / 'strip.png'}: strip.png is 32767x8 pixels; sides above 32766 px are not supported."]
    assert "3 photos: 2 done, 0 already done, 1 failed" in proc.stdout
