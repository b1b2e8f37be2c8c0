"""The video limits hold whatever a file's time stamps say (issue 18, items 3, 8 and 9): a clip whose frames all
say 0 s, or whose time restarts every second, is still cut at the cap; a 240 fps clip is thinned instead of costing
8x the frames; a 4x4 clip is refused at the probe; a killed run's half-written folder is cleaned up."""
from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from core.video import VideoLoadError, VideoReader, probe

av = pytest.importorskip("av")


def write_clip(path, frames: int, fps: int, fmt=None, size=(64, 48), pts=lambda i: i):
    """A small all-intra MPEG-4 clip whose packets get the time stamps `pts(i)` (in frames)."""
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        s.codec_context.gop_size = 1
        s.time_base = Fraction(1, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), i * 7 % 255, np.uint8), "rgb24")
            frame.pts = i
            for packet in s.encode(frame):
                packet.pts = packet.dts = pts(i)
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def read(path, **limits):
    reader = VideoReader(path, **limits)
    frames = list(reader)
    return reader, frames


def test_frames_that_all_say_zero_seconds_are_cut_at_the_cap(tmp_path):
    """300 frames, all at pts 0 (the file declares 0.04 s): every one of them used to be read past a 2 s cap."""
    clip = write_clip(tmp_path / "pts0.mkv", 300, 25, "matroska", pts=lambda i: 0)
    reader, frames = read(clip, max_seconds=2)
    assert len(frames) <= 2 * 25 + 1, len(frames)
    assert "was cut at 2 s" in reader.warning
    times = [t for _, t, _ in frames]
    assert times == sorted(times) and len(set(times)) == len(times)  # time stamps that advance, for COCO's time_s


def test_time_that_restarts_every_second_is_cut_at_the_cap(tmp_path):
    """Twelve 1 s MPEG-TS segments back to back: time goes 0..1 s twelve times (as a broadcast recording can)."""
    parts = [write_clip(tmp_path / f"part{k}.ts", 25, 25, "mpegts").read_bytes() for k in range(12)]
    clip = tmp_path / "restarts.ts"
    clip.write_bytes(b"".join(parts))
    reader, frames = read(clip, max_seconds=2)
    assert len(frames) <= 2 * 25 + 1, len(frames)
    assert "was cut at 2 s" in reader.warning
    _, all_frames = read(clip)  # without a cap every frame is read, in order
    assert len(all_frames) == 300 and all_frames[-1][1] > 11


def test_a_240_fps_clip_is_thinned_to_max_fps(tmp_path):
    clip = write_clip(tmp_path / "slowmo.mp4", 480, 240)
    reader, frames = read(clip, max_seconds=60, max_fps=30)
    assert reader.info.step == 8 and reader.info.out_fps == 30
    assert len(frames) == 60 == reader.info.expected_frames
    assert [i for i, _, _ in frames] == list(range(60))
    assert abs(frames[1][1] - 1 / 30) < 1e-3  # real time of the frames kept
    _, every = read(clip)
    assert len(every) == 480  # the CLI and Python keep every frame unless asked


def test_process_video_writes_a_thinned_clip_at_its_own_rate(tmp_path):
    from core.video.batch import process_video

    clip = write_clip(tmp_path / "slowmo.mp4", 96, 240, size=(96, 64))
    res = process_video(str(clip), str(tmp_path / "out"), max_fps=30, progress=False)
    assert res["ok"] and res["frames"] == 12, res
    assert any("every 8th frame" in m for m in res["messages"]), res["messages"]
    with av.open(str(tmp_path / "out" / "annotated.mp4")) as c:
        assert round(float(c.streams.video[0].average_rate)) == 30


def test_a_tiny_clip_is_refused_at_the_probe(tmp_path):
    clip = write_clip(tmp_path / "tiny.mp4", 5, 25, size=(4, 4))
    with pytest.raises(VideoLoadError, match=r"^tiny.mp4 is 4x4 pixels, too small to find faces or hands in.$"):
        probe(clip)


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(tmp_path):
    """A run killed with SIGKILL leaves `.NAME.partial-<pid>`; later runs used to leave it there for good."""
    from core.video.batch import process_video

    clip = write_clip(tmp_path / "clip.mp4", 3, 25, size=(96, 64))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / "out" / f".clip.partial-{int(dead.stdout)}"
    (stale / "masks").mkdir(parents=True)
    alive = tmp_path / "out" / f".clip.partial-{os.getppid()}"  # another run still going: left alone
    alive.mkdir()
    res = process_video(str(clip), str(tmp_path / "out" / "clip"), progress=False)
    assert res["ok"], res
    assert not stale.exists() and alive.exists()
