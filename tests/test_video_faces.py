"""Faces in video follow the photo rule: BlazeFace and CenterFace agree, or CenterFace is sure.

BlazeFace reports fists and hands around chess pieces as faces on first-person frames; before the rule, a pan over
one such frame tracked a "face-1" on a fist for the whole clip. Clips are pans over still photos (bench/clips.py),
so the labelled hand boxes of each photo can be moved with the camera into every frame.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from bench.clips import box_in_frame, example_file, load_rgb, pan_frames, pan_windows
from core import segment, segment_video

from .conftest import BOX_DATA, data_path

BOXES = BOX_DATA
CHESS = "CHESS_COURTYARD_B_T_frame_0099"  # BlazeFace: a tracked "face" on a fist in 29 of 30 frames before the rule


def egohands_boxed(stem: str) -> tuple:
    """(photo, hand boxes) of an EgoHands frame from ../shared/data_boxes."""
    image = BOXES / "egohands_csv" / "images" / f"{stem}.jpg"
    if not image.exists():
        pytest.skip(f"{image} not found (first-person frames with hand boxes from ../shared/data_boxes)")
    boxes = json.loads((BOXES / "egohands_csv" / "boxes" / f"{stem}.json").read_text())["boxes"]
    return load_rgb(image), [tuple(b) for b in boxes]


def boxes_of_mask(mask: np.ndarray, min_area: int = 500) -> list:
    """One box per connected part of a hand mask (the parts of the two people's hands)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    return [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:n] if area >= min_area]


def centre_in(box, boxes) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)


def test_no_face_is_tracked_on_a_hand_and_the_real_face_is_face_1():
    """A pan from a chess game (BlazeFace's "faces" on two fists) to a card game (a real face): no face lies on a
    labelled hand in any frame, and the real face is face-1 (the fists never took a number) from when it appears
    to the end, without a break."""
    chess, chess_hands = egohands_boxed(CHESS)
    cards = load_rgb(data_path("egohands/images/01.jpg"))
    cards_hands = boxes_of_mask(np.asarray(cv2.imread(str(data_path("egohands/masks/01_hand.png")), 0)) > 127)
    assert chess.shape == cards.shape and len(cards_hands) >= 2
    photo = np.hstack([chess, cards])
    hands = chess_hands + [(x0 + chess.shape[1], y0, x1 + chess.shape[1], y1) for x0, y0, x1, y1 in cards_hands]
    n = 60
    windows = pan_windows(photo.shape, n, zoom=1.0, travel=1.0)
    faces, hands_seen = [], 0
    for r, window in zip(segment_video(pan_frames(photo, n, zoom=1.0, travel=1.0), draw=False), windows):
        in_frame = [box_in_frame(b, window) for b in hands]
        for inst in r.instances:
            if inst.kind == "face":
                assert not centre_in(inst.box, in_frame), (r.frame_index, inst.label, inst.box)
                faces.append((r.frame_index, inst.label))
            else:
                hands_seen += 1
    assert hands_seen >= n  # the hands themselves are found: the clip is what the test says it is
    assert {label for _, label in faces} == {"face-1"}, faces
    present = [i for i, _ in faces]
    assert present == list(range(present[0], n)) and present[0] < n - 15, present


def test_a_face_lost_behind_something_comes_back_with_its_number():
    """A face hidden for longer than a track is carried (8 frames) is confirmed again when it reappears and takes
    its number back, and nothing takes a number meanwhile (before the rule, BlazeFace's "face" on the shirt below
    the grey card became face-2)."""
    path = example_file("card_thrower_gesturing_pxhere.jpg")
    if not path.exists():
        pytest.skip(f"{path} not found (photos from ../shared/examples-candidates)")
    photo = load_rgb(path)
    face = next(i.box for i in segment(photo, backend="landmarks", draw=False).instances if i.kind == "face")
    n, hidden = 40, range(12, 20)
    frames = []
    for i, (frame, window) in enumerate(zip(pan_frames(photo, n), pan_windows(photo.shape, n))):
        if i in hidden:  # a grey card over the face and around it
            x0, y0, x1, y1 = box_in_frame(face, window)
            pad = 0.4 * (x1 - x0)
            frame = frame.copy()
            frame[max(int(y0 - pad), 0):int(y1 + pad), max(int(x0 - pad), 0):int(x1 + pad)] = 128
        frames.append(frame)
    labels = [sorted(i.label for i in r.instances if i.kind == "face") for r in segment_video(frames, draw=False)]
    assert all(labels[i] == ["face-1"] for i in range(n) if i < hidden[0] or i >= hidden[-1] + 3), labels
    assert all(labels[i] == [] for i in range(hidden[0] + 5, hidden[-1] + 1)), labels  # not carried all along


def test_a_face_in_profile_that_blazeface_misses_is_tracked():
    """A head turned 45 degrees (FASSEG multipose), which BlazeFace full range did not report on any frame of the
    pan: CenterFace's look at the first frame finds it, and it keeps one label."""
    photo = load_rgb(data_path("fasseg_multipose/images/personne05243p0m45.jpg"))
    labels = [[i.label for i in r.instances if i.kind == "face"] for r in segment_video(pan_frames(photo, 30),
                                                                                        draw=False)]
    assert sum(lab == ["face-1"] for lab in labels) >= 27, labels
    assert {lab for frame in labels for lab in frame} == {"face-1"}


def test_a_raised_hand_that_centerface_alone_calls_a_face_gets_no_number():
    """On the benchmark clip's card-thrower pan, CenterFace's look at frame 30 (448 px) called the raised left hand
    a face at 0.51 (nothing there at 640 px, at 2x, or on a crop at that "face's" scale), and it was tracked as
    face-2 for five frames; a face only CenterFace sees must now be seen again at its own scale."""
    # The benchmark clip's first half (bench.video.pan_clip_frames(90)), from the photo examples/ holds too: a fresh
    # clone without ../shared ended here in SystemExit.
    frames = pan_frames(load_rgb(example_file("card_thrower_gesturing_pxhere.jpg")), 45)
    labels = {i.label for r in segment_video(frames, draw=False) for i in r.instances if i.kind == "face"}
    assert labels == {"face-1"}
