"""Video: one Result per frame, labels that stay put, H.264 + per-frame COCO + anonymised outputs, bad files.

Clips are made here from still photos (a camera panning and zooming across them, or passing over them so that
everything enters and leaves the frame) and from the licence-clean ASL clips in ../shared/examples-candidates.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from bench.clips import (example_file, frame_labels, load_rgb, pan_frames, stability, through_frames,
                         through_shift, write_clip)
from core import segment_video
from core.video import Tracker
from core.video import VideoLoadError, VideoReader, probe
from core.types import Detection

from .conftest import REPO, face_and_hands

av = pytest.importorskip("av")


def candidate(name: str):
    p = example_file(name)  # ../shared/examples-candidates, else the same file in examples/
    if not p.exists():
        pytest.skip(f"{p} not found (clips and photos from ../shared/examples-candidates)")
    return p


@pytest.fixture(scope="module")
def card_photo():
    return load_rgb(candidate("card_thrower_gesturing_pxhere.jpg"))


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory, card_photo):
    """A 1 s 640x360 clip with audio: the camera pans and zooms across one face and two raised hands."""
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    return write_clip(pan_frames(card_photo, 30), path, fps=30, audio=True)


# ------------------------------------------------------------------------------------------ segment_video

def test_one_result_per_frame_in_order_from_a_file(pan_clip):
    results = []
    for r in segment_video(pan_clip):
        results.append((r.frame_index, r.time_s, [i.label for i in r.instances], r.image.shape))
    assert [r[0] for r in results] == list(range(30))
    times = [r[1] for r in results]
    assert times[0] == 0.0 and np.allclose(np.diff(times), 1 / 30, atol=2e-3)
    assert all(shape == (360, 640, 3) for *_, shape in results)
    for _, _, labels, _ in results:
        assert sorted(labels) == ["face-1", "hand-1 (right)", "hand-2 (left)"]


def test_labels_stay_put_on_a_pan(card_photo):
    per_frame, track_ids = [], set()
    for r in segment_video(pan_frames(card_photo, 40), fps=25):
        assert r.time_s == pytest.approx(r.frame_index / 25)
        per_frame.append(frame_labels(r))
        track_ids |= {(i.kind, i.track_id) for i in r.instances}
    s = stability(per_frame)
    assert s["same_set"] >= 0.9 and s["jumps"] == []
    assert track_ids == {("face", 1), ("hand", 1), ("hand", 2)}


def test_hands_enter_and_leave_and_no_label_moves_to_another_hand():
    """Egocentric frame with two people's hands: the camera passes over it, so each hand enters at the right edge
    and leaves at the left; a label stays on its hand all the way (its mask centre moves with the camera)."""
    photo = load_rgb(face_and_hands())
    per_frame = [frame_labels(r) for r in segment_video(through_frames(photo, 48))]
    assert per_frame[0] == {} and per_frame[-1] == {}  # nothing in view at the start and the end
    s = stability(per_frame, shift=through_shift(photo.shape, 48))
    assert s["jumps"] == []
    hands = [lab for lab in s["labels"] if lab.startswith("hand")]
    assert 2 <= len(hands) <= 3, hands
    for lab in hands:  # each hand's label is one unbroken run of frames (it is not lost and renumbered)
        present = [i for i, f in enumerate(per_frame) if lab in f]
        assert present == list(range(present[0], present[-1] + 1)), (lab, present)


def test_asl_clip_keeps_one_face_label():
    clip = candidate("asl_walk_intel.mp4")
    counts, frames = {}, 0
    for r in segment_video(clip, draw=False):
        frames += 1
        for inst in r.instances:
            counts[inst.label] = counts.get(inst.label, 0) + 1
    assert frames == 89
    faces = {k: v for k, v in counts.items() if k.startswith("face")}
    assert list(faces) == ["face-1"] and faces["face-1"] >= 0.9 * frames
    hands = sorted((v, k) for k, v in counts.items() if k.startswith("hand"))
    assert hands[-1][0] >= 0.7 * frames  # the signer's hands keep their labels through fast motion


def test_the_example_signer_has_one_face_and_at_most_two_hand_tracks():
    """The Space's example clip: one signer, so one face label and at most two hand labels. Tracking mode's palm
    detector took her orange sleeve at the elbow for a hand (frames 16-27, hand-3) and reported her left hand twice
    in frame 40 (the second copy took hand-3's number back): 3 hands for one signer."""
    labels = set()
    for r in segment_video(REPO / "examples" / "asl_walk_intel.mp4", draw=False, refine=False):
        labels |= {(inst.kind, inst.track_id) for inst in r.instances}
    assert sorted(n for k, n in labels if k == "face") == [1], labels
    assert len([n for k, n in labels if k == "hand"]) <= 2, sorted(labels)


def _frame_with_face_and_hands(hand_colour=(200, 140, 110)):
    """A 480x640 RGB frame: a skin-coloured face (a meshed face detection) and two patches, one skin-coloured (a
    hand) and one of `hand_colour`, with their 21-point detections."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:180, 280:340] = (200, 140, 110)
    frame[300:360, 100:140] = (200, 140, 110)
    frame[300:360, 450:490] = hand_colour

    def pts(x0, y0, w, h, n):
        return np.array([[x0 + dx, y0 + dy] for dx, dy in zip(np.linspace(2, w - 2, n), np.linspace(2, h - 2, n))]
                        + [[x0 + 2, y0 + h - 2], [x0 + w - 2, y0 + 2]], float)

    face = Detection("face", (280, 100, 340, 180), 0.9, pts(280, 100, 60, 80, 466), "face_mesh", "face_detection")
    hands = [Detection("hand", (100, 300, 140, 360), 0.9, pts(100, 300, 40, 60, 19), "hand_21", "hands", "right"),
             Detection("hand", (450, 300, 490, 360), 0.9, pts(450, 300, 40, 60, 19), "hand_21", "hands", "left")]
    return frame, face, hands


def test_a_hand_that_is_not_skin_coloured_beside_a_skin_coloured_face_is_not_tracked():
    frame, face, hands = _frame_with_face_and_hands(hand_colour=(230, 120, 20))  # orange cloth, not skin
    out = Tracker().update([face] + hands, frame.shape, frame)
    assert sorted((d.kind, d.track_id) for d in out) == [("face", 1), ("hand", 1)]
    assert Tracker().update([face] + hands, frame.shape) != out  # without the frame: no colour check
    frame, face, hands = _frame_with_face_and_hands()  # both skin-coloured: both tracked
    assert len(Tracker().update([face] + hands, frame.shape, frame)) == 3
    frame, _, _ = _frame_with_face_and_hands(hand_colour=(230, 120, 20))
    frame[..., 2] = 255  # a face out of the skin range (coloured light): no judgement on the hands
    assert len(Tracker().update([face] + hands, frame.shape, frame)) == 3


def test_a_second_detection_inside_a_tracked_hand_gets_no_number():
    def hand(x0, y0, w, h, low=0.0):  # landmarks from the top corner down, the rest from `low` of the height
        ys = np.r_[0, np.linspace(low * h, h, 20)]
        pts = np.array([[x0 + dx, y0 + dy] for dx, dy in zip(np.linspace(0, w, 21), ys)])
        return Detection("hand", (x0, y0, x0 + w, y0 + h), 0.9, pts, "hand_21", "hands", "left")

    tr = Tracker()
    for _ in range(3):
        tr.update([hand(324, 260, 68, 48)], (480, 640))
    # The ASL example's frame 40: the tracked hand and a larger copy around it (IoU 0.498), its landmarks lower down
    # (centres 32 px apart, more than half the smaller hand's size).
    out = tr.update([hand(324, 260, 68, 48), hand(310, 255, 83, 79, low=0.6)], (480, 640))
    assert [d.track_id for d in out] == [1]


def test_tracker_keeps_numbers_through_a_miss_and_gives_new_ones():
    def hand(x, side):
        pts = np.array([[x + dx, 100 + dy] for dx, dy in zip(np.linspace(0, 40, 21), np.linspace(0, 60, 21))])
        return Detection("hand", (x, 100, x + 40, 160), 0.9, pts, "hand_21", "hands", side)

    tr = Tracker(carry_frames=3)
    first = tr.update([hand(300, "left"), hand(100, "right")], (480, 640))
    assert {(d.track_id, d.handedness) for d in first} == {(1, "right"), (2, "left")}  # numbered left to right
    missed = tr.update([hand(305, "left")], (480, 640))  # the right hand is missed for a frame: carried
    assert {(d.track_id, d.source) for d in missed} == {(2, "hands"), (1, "carried")}
    back = tr.update([hand(110, "right"), hand(310, "left")], (480, 640))
    assert {d.track_id for d in back} == {1, 2}
    flicker = tr.update([hand(110, "left"), hand(315, "left")], (480, 640))  # handedness flickers: label holds
    assert {d.track_id: d.handedness for d in flicker} == {1: "right", 2: "left"}
    new = tr.update([hand(110, "right"), hand(315, "left"), hand(500, "left")], (480, 640))
    assert sorted(d.track_id for d in new) == [1, 2, 3]
    for _ in range(3):  # hand 3 seen long enough to be real
        tr.update([hand(110, "right"), hand(315, "left"), hand(500, "left")], (480, 640))
    for _ in range(6):  # then hidden for longer than it is carried
        gone = tr.update([hand(110, "right"), hand(315, "left")], (480, 640))
    assert sorted(d.track_id for d in gone) == [1, 2]
    back = tr.update([hand(110, "right"), hand(315, "left"), hand(520, "left")], (480, 640))
    assert sorted(d.track_id for d in back) == [1, 2, 3]  # it reappeared where it was: its number back
    far = tr.update([hand(110, "right"), hand(315, "left"), hand(520, "left"), hand(20, "left")], (480, 640))
    assert sorted(d.track_id for d in far) == [1, 2, 3, 4]  # a new hand elsewhere: the next unused number


def test_iterable_frames_and_options():
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 3
    results = list(segment_video(iter(frames), fps=10, max_hands=2))
    assert [(r.frame_index, r.time_s, r.instances) for r in results] == [(0, 0.0, []), (1, 0.1, []), (2, 0.2, [])]
    with pytest.raises(ValueError, match="Unknown backend"):
        list(segment_video(frames, backend="nope"))
    msgs = next(iter(segment_video(frames, backend="replicate"))).messages
    assert msgs and "replicate not used" in msgs[0]


# ------------------------------------------------------------------------------------------------- CLI

def test_cli_writes_h264_coco_masks_and_anonymised_video(pan_clip, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "core", str(pan_clip), "--out", str(out), "--masks",
                           "--anonymise", "faces"], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 videos: 1 done" in proc.stdout
    folder = out / "pan.mp4"  # the folder keeps the file name, suffix included, as photos do
    for name in ("annotated.mp4", "anonymised.mp4"):
        with av.open(str(folder / name)) as c:  # H.264, the clip's size and rate, audio kept
            v = c.streams.video[0]
            assert v.codec_context.name == "h264" and (v.width, v.height) == (640, 360)
            assert abs(float(v.average_rate) - 30) < 0.1
            assert c.streams.audio, f"{name} lost the audio track"
        cap = cv2.VideoCapture(str(folder / name))  # and OpenCV reads it
        n = 0
        while cap.read()[0]:
            n += 1
        assert n == 30
    coco = json.loads((folder / "coco.json").read_text())
    assert [img["file_name"] for img in coco["images"]] == [f"pan#{i}" for i in range(30)]
    assert [img["frame_index"] for img in coco["images"]] == list(range(30))
    assert coco["images"][3]["time_s"] == pytest.approx(0.1, abs=1e-3)
    by_label = {}
    for ann in coco["annotations"]:
        by_label.setdefault(ann["label"], set()).add(ann["track_id"])
    assert by_label == {"face-1": {1}, "hand-1 (right)": {1}, "hand-2 (left)": {2}}
    assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"]) == 90
    pngs = sorted(p.name for p in (folder / "masks" / "face-1").glob("*.png"))
    assert pngs == [f"{i:06d}.png" for i in range(30)]
    summary = json.loads((folder / "result.json").read_text())
    assert summary["frames"] == 30 and summary["audio"] is True

    # The anonymised face really changed, the rest of the frame did not (beyond video coding noise).
    def frame(path, i):
        with av.open(str(path)) as c:
            for k, f in enumerate(c.decode(video=0)):
                if k == i:
                    return f.to_ndarray(format="rgb24").astype(int)

    from core.export import decode_rle

    ann = next(a for a in coco["annotations"] if a["image_id"] == 11 and a["label"] == "face-1")
    face = decode_rle(ann["segmentation"])
    original, anonymised = frame(pan_clip, 10), frame(folder / "anonymised.mp4", 10)
    inside = np.abs(original - anonymised)[face].mean()
    far = np.ones_like(face)
    x, y, w, h = ann["bbox"]
    far[max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = False
    outside = np.abs(original - anonymised)[far].mean()
    assert inside > 15 and outside < 4, (inside, outside)

    # A second run skips the clip; a clip replaced under the same name (new time stamp) is done again.
    again = subprocess.run([sys.executable, "-m", "core", str(pan_clip), "--out", str(out), "--anonymise", "faces"],
                           cwd=REPO, capture_output=True, text=True, timeout=240)
    assert "1 videos: 0 done, 1 already done" in again.stdout, again.stdout
    os.utime(pan_clip, ns=(time.time_ns(), time.time_ns()))
    redo = subprocess.run([sys.executable, "-m", "core", str(pan_clip), "--out", str(out), "--anonymise", "faces"],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert "1 videos: 1 done" in redo.stdout, redo.stdout


# ------------------------------------------------------------------------------------------- bad videos

def _black_mkv(path, rate: int, width: int, height: int, frames: int) -> None:
    """An MPEG-4 clip of black frames at the given rate and size."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height = width, height
        for _ in range(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _bad_files(tmp_path, pan_clip) -> dict:
    files = {}
    data = pan_clip.read_bytes()
    (tmp_path / "truncated_early.mp4").write_bytes(data[: len(data) // 20])
    files["truncated_early.mp4"] = "could not be decoded|not a video we can read"
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    files["notes.mp4"] = "not a video we can read"
    (tmp_path / "empty.mp4").write_bytes(b"")
    files["empty.mp4"] = "empty"
    with av.open(str(tmp_path / "audio_only.m4a"), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        for i in range(4):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate = 8000
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    files["audio_only.m4a"] = "only audio"
    with av.open(str(tmp_path / "no_frames.mkv"), "w") as c:
        s = c.add_stream("mpeg4", rate=30)
        s.width, s.height = 64, 64
        c.start_encoding()  # the header with a video track, then no frame at all
    files["no_frames.mkv"] = "no video frames|not a video we can read|without a frame size"
    _black_mkv(tmp_path / "eight_k.mkv", rate=1, width=7680, height=4320, frames=1)
    files["eight_k.mkv"] = "7680x4320"
    _black_mkv(tmp_path / "fast.mkv", rate=1000, width=64, height=64, frames=3)
    files["fast.mkv"] = "1000 frames per second"
    return files


def test_bad_videos_get_one_sentence(tmp_path, pan_clip):
    files = _bad_files(tmp_path, pan_clip)
    for name, pattern in files.items():
        with pytest.raises(VideoLoadError, match=pattern) as info:
            list(segment_video(tmp_path / name))
        msg = str(info.value)
        assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    # Through the CLI: one line per bad file, no traceback, the good clip still done.
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "core", *[str(tmp_path / n) for n in files], str(pan_clip),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert len(errors) == len(files), proc.stderr
    assert (out / "pan.mp4" / "annotated.mp4").is_file()


def test_truncated_clip_keeps_its_good_frames(tmp_path, pan_clip):
    data = pan_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    try:
        results = list(segment_video(cut, draw=False))
    except VideoLoadError as exc:  # the index (moov) may sit at the end: then nothing is readable
        assert "\n" not in str(exc)
        return
    assert 0 < len(results) <= 30


def test_limits(tmp_path, pan_clip):
    info = probe(pan_clip)
    assert (info.width, info.height, info.has_audio) == (640, 360, True)
    with pytest.raises(VideoLoadError, match="up to 0 s|accepted here"):
        probe(pan_clip, max_seconds=0.2)
    big = write_clip([np.zeros((1200, 2560, 3), np.uint8)] * 2, tmp_path / "wide.mp4")
    frames = list(VideoReader(big))
    assert len(frames) == 2 and frames[0][2].shape == (750, 1600, 3)[:0] + (900, 1920, 3)


def test_a_scene_cut_ends_every_track(card_photo):
    """Two shots cut together: nothing of the first is carried into the second, and its numbers are not reused."""
    other = load_rgb(face_and_hands())
    frames = list(pan_frames(card_photo, 8)) + list(pan_frames(other, 8))
    results = [[(i.label, i.source) for i in r.instances] for r in segment_video(frames, draw=False)]
    first, second = {lab for lab, _ in results[7]}, {lab for lab, _ in results[8]}
    assert first == {"face-1", "hand-1 (right)", "hand-2 (left)"}
    assert not first & second and all(src != "carried" for _, src in results[8])
    assert "face-2" in second


def test_phone_rotation_is_applied(tmp_path, card_photo):
    """A clip stored landscape with a display rotation (as phones record portrait video) is read upright."""
    upright = next(pan_frames(card_photo, 1, size=(360, 640)))  # portrait, as the phone shows it
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.set_display_rotation(90)  # stored turned 90 degrees clockwise; shown turned back counterclockwise
        for _ in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(upright, -1)),
                                                         format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (360, 640, 90)
    frame = next(iter(VideoReader(path)))[2]
    assert frame.shape == (640, 360, 3)
    assert np.abs(frame.astype(int) - upright).mean() < 8
    labels = [i.label for i in next(iter(segment_video(path))).instances]
    assert labels and labels == [i.label for i in next(iter(segment_video([upright]))).instances]


@pytest.mark.parametrize("name,codec,audio", [("clip.webm", "libvpx", "libopus"), ("clip.avi", "mpeg4", "pcm_s16le"),
                                              ("clip.mov", "mjpeg", None), ("clip.gif", "gif", None)])
def test_other_containers_are_read_and_their_audio_kept(tmp_path, card_photo, name, codec, audio):
    """webm (VP8 + Opus), avi (MPEG-4 + PCM, which an MP4 cannot carry: re-encoded to AAC), mov, animated GIF."""
    frames = list(pan_frames(card_photo, 6, size=(320, 180)))
    path = tmp_path / name
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=10)
        s.width, s.height = 320, 180
        s.pix_fmt = {"gif": "rgb8", "mjpeg": "yuvj420p"}.get(codec, "yuv420p")
        a = c.add_stream(audio, rate=48000, layout="mono") if audio else None
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            fmt = a.codec_context.format.name  # flt (Opus), s16 (PCM)
            for k in range(0, 48000 * 6 // 10, 960):
                af = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32 if fmt == "flt" else np.int16),
                                                format=fmt, layout="mono")
                af.sample_rate, af.pts = 48000, k
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    results = list(segment_video(path, draw=False))
    assert [r.frame_index for r in results] == list(range(6))
    assert results[-1].time_s == pytest.approx(0.5, abs=0.02)
    if audio:
        from core.video import VideoWriter

        with VideoWriter(tmp_path / "out.mp4", 320, 180, 10, audio_from=path) as w:
            for r in results:
                w.write(r.image)
        with av.open(str(tmp_path / "out.mp4")) as c:
            assert c.streams.audio and c.streams.audio[0].codec_context.name in ("aac", "opus")


def test_local_sam2_backend_runs_per_frame_with_tracked_labels(card_photo, monkeypatch):
    """`backend="sam2"` goes through the same per-frame stages (random tiny test model: plumbing, not quality)."""
    pytest.importorskip("torch", reason="optional SAM2 install absent (pip install -r requirements-sam2.txt)")
    pytest.importorskip("transformers", reason="optional SAM2 install absent")
    from core.backends import sam2

    from .test_sam2 import KEY, random_tiny_sam2

    sam2.install(KEY, random_tiny_sam2(), device="cpu")
    monkeypatch.setenv("SAM2_MODEL", KEY)
    try:
        results = list(segment_video(list(pan_frames(card_photo, 30))[:3], backend="sam2", draw=False))
    finally:
        sam2.uninstall(KEY)
    assert [r.backend for r in results] == ["sam2"] * 3
    assert all(sorted(i.label for i in r.instances) == ["face-1", "hand-1 (right)", "hand-2 (left)"]
               for r in results)


def test_audio_that_cannot_be_copied_leaves_the_video_and_a_sentence(pan_clip, tmp_path, monkeypatch):
    from core.video import writer as video_writer
    from core.video.batch import process_video

    def broken(*_a, **_k):
        raise ValueError("unsupported audio")

    monkeypatch.setattr(video_writer, "mux_audio", broken)
    res = process_video(str(pan_clip), str(tmp_path / "pan"), max_faces=1, max_hands=2)
    assert res["ok"] and "audio track could not be copied" in res["summary"]
    with av.open(str(tmp_path / "pan" / "annotated.mp4")) as c:
        assert not c.streams.audio and c.streams.video[0].frames in (0, 30)
    assert json.loads((tmp_path / "pan" / "result.json").read_text())["audio"] is False
