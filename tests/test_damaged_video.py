"""Damaged videos never freeze anything: the file is decoded in a watched child process (core.video.child).

Before it, a copy of the example clip with a fifth of its middle overwritten by random bytes froze the whole
Space on upload: FFmpeg's frame-threaded decoder hung inside `avcodec_free_context` while holding the GIL.
Frozen calls are run in a subprocess or with a deadline here, so that the old behaviour fails instead of hanging.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.video import child as video_child
from core.video import VideoReader

from .conftest import REPO, interruptible

EXAMPLE_CLIP = REPO / "examples" / "asl_walk_intel.mp4"  # 89 frames
SEEDS = range(6)  # damaged copies; before the fix 3 to 5 of these 6 froze the decoder


def damaged_copy(folder: Path, seed: int) -> Path:
    """The example clip with 40-60% of its bytes replaced by random ones (a broken upload or disk)."""
    data = bytearray(EXAMPLE_CLIP.read_bytes())
    a, b = int(len(data) * 0.4), int(len(data) * 0.6)
    data[a:b] = np.random.default_rng(seed).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    path = folder / f"damaged_{seed}.mp4"
    path.write_bytes(bytes(data))
    return path


def decoders_running(marker: str, mode: str = "") -> list:
    """Pids of video children (of `mode`: "probe" or "decode", or either) whose command line names `marker` (a
    test's own temporary folder)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "video/decode.py" in cmd and marker in cmd and f'"mode": "{mode}' in cmd:
            pids.append(int(pid))
    return pids


def test_damaged_clips_end_with_their_good_frames(tmp_path):
    paths = [damaged_copy(tmp_path, s) for s in SEEDS]
    script = ("import sys\nfrom core.video import VideoReader\n"
              "for p in sys.argv[1:]:\n"
              "    r = VideoReader(p)\n"
              "    print(sum(1 for _ in r), r.warning, flush=True)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", script, *map(str, paths)], cwd=REPO, capture_output=True,
                              text=True, timeout=180)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"decoding damaged clips froze; done before the freeze: {exc.stdout!r}")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == len(paths), proc.stderr[-2000:]
    for line in lines:
        frames, warning = line.split(" ", 1)
        assert 0 < int(frames) < 89 and "broke off after frame" in warning, line
        assert "Error" not in warning, line  # the app's words, not an exception's name
    assert not decoders_running(str(tmp_path))


def test_a_decoder_that_stops_answering_is_killed_and_the_frames_before_kept(tmp_path, monkeypatch):
    """SIGSTOP freezes the child as a hung FFmpeg call would; the reader gives up on it after STALL_SECONDS."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(EXAMPLE_CLIP.read_bytes())
    children = []
    start = video_child._Child.__init__

    def remember(self, *args, **kwargs):
        start(self, *args, **kwargs)
        children.append(self)

    monkeypatch.setattr(video_child._Child, "__init__", remember)
    reader = VideoReader(clip)
    frames = iter(reader)
    got = [next(frames) for _ in range(5)]
    os.kill(children[-1].proc.pid, signal.SIGSTOP)
    monkeypatch.setattr(video_child, "STALL_SECONDS", 1.0)  # only now: a slow machine cannot trip it earlier
    got += list(frames)
    assert 5 <= len(got) <= 6  # the child decodes at most one frame ahead of the reader
    assert [i for i, _, _ in got] == list(range(len(got)))
    assert reader.warning == f"clip.mp4 stopped after frame {len(got)} (the decoder stopped answering); " \
                             "the frames before it were processed."
    assert children[-1].proc.returncode == -signal.SIGKILL
    assert not decoders_running(str(tmp_path))


def test_a_reader_that_stops_early_stops_its_decoder(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(EXAMPLE_CLIP.read_bytes())
    frames = iter(VideoReader(clip))
    next(frames)
    assert decoders_running(str(tmp_path))
    frames.close()
    assert not decoders_running(str(tmp_path))


def test_the_cli_finishes_a_folder_of_damaged_clips_and_stops_on_ctrl_c(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for seed in SEEDS:
        damaged_copy(folder, seed)
    out = tmp_path / "out"
    try:
        proc = subprocess.run([sys.executable, "-m", "core", str(folder), "--out", str(out), "--max-hands", "2",
                               "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("the CLI froze on a folder of damaged clips")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"{len(SEEDS)} videos: {len(SEEDS)} done" in proc.stdout, proc.stdout
    # Ctrl-C while a clip is being decoded: the CLI exits 130 and leaves no decoder behind.
    long_clip = folder / "long.mp4"
    long_clip.write_bytes(EXAMPLE_CLIP.read_bytes())
    for f in folder.glob("damaged_*"):
        f.unlink()
    cli = subprocess.Popen([sys.executable, "-m", "core", str(long_clip), "--out", str(tmp_path / "out2"),
                            "--no-progress"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=interruptible)
    deadline = time.time() + 120
    while time.time() < deadline and not decoders_running(str(folder), "decode") and cli.poll() is None:
        time.sleep(0.05)
    assert cli.poll() is None, cli.communicate()
    os.killpg(cli.pid, signal.SIGINT)
    _, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert not decoders_running(str(folder))
