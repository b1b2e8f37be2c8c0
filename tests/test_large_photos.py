"""Never fewer hands than raw MediaPipe Hands, on 12 MP photos too.

The photos are made here: a window of a committed example (or of a shared photo) around one hand, upscaled to
4032x3024 or 3024x4032 like a phone photo, with the hand centred and large, near a corner, or filling the frame.
Some get mild sensor-like noise (sigma 6 grey levels, seeded): an upscaled photo is smoother than a phone's, and it is
the pixel-level noise that MediaPipe's unsmoothed 12 MP -> 192 px sampling aliases into what the palm detector sees.
The reference is raw Hands as a naive pipeline calls it: static mode, complexity 0 and 1, confidence 0.5, on the
same full-size array. Every hand it finds must be among the instances `segment()` returns.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core import segment
from core.detect.geometry import box_iou
from core.loading import load_image

from .conftest import EXAMPLES_DIR, data_path

PHONE = (4032, 3024)  # width, height of a 12 MP phone photo (landscape)
NOISE = 6.0  # grey levels; a phone's full-size JPEG after its own denoising is about this noisy

CARDS = "01_card_thrower_gesturing_pxhere.jpg"
APOLLO = "04_apollo11_crew_nasa.jpg"
CARDS_LEFT_HAND = (142, 186, 197, 264)  # her raised right hand, fingers spread (photo left)
CARDS_RIGHT_HAND = (535, 189, 589, 278)
ARMSTRONG_HAND = (121, 408, 172, 441)  # the hand on his knee, lower left

# (photo, hand box in its pixels, hand's longer side as a share of the window's shorter side, where, portrait,
# noise). Before the fix `segment()` found fewer hands than raw Hands on the framings marked "lost".
FRAMINGS = [
    (CARDS, CARDS_LEFT_HAND, 0.6, "centre", False, NOISE),  # lost: aliasing hid it from the lite model
    (APOLLO, ARMSTRONG_HAND, 0.6, "centre", False, NOISE),  # lost
    (APOLLO, ARMSTRONG_HAND, 0.6, "centre", True, NOISE),  # lost
    (APOLLO, ARMSTRONG_HAND, 0.85, "centre", False, 0.0),  # lost: a hand filling the frame, as in a phone photo
    (APOLLO, ARMSTRONG_HAND, 0.85, "centre", True, 0.0),  # lost
    (CARDS, CARDS_RIGHT_HAND, 0.35, "corner", False, NOISE),  # found before too: a small hand near a corner
]


class RawHands:
    """MediaPipe Hands alone, both models, as the reference."""

    def __init__(self):
        import mediapipe as mp

        self.graphs = [mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=6, model_complexity=c,
                                                min_detection_confidence=0.5) for c in (0, 1)]

    def boxes(self, rgb: np.ndarray) -> list:
        """Every hand either model finds, as the box around its 21 landmarks (the two models' finds of one hand
        are both kept: each must be matched)."""
        h, w = rgb.shape[:2]
        out = []
        for graph in self.graphs:
            for lms in graph.process(rgb).multi_hand_landmarks or []:
                xs, ys = [p.x * w for p in lms.landmark], [p.y * h for p in lms.landmark]
                out.append((min(xs), min(ys), max(xs), max(ys)))
        return out

    def close(self):
        for graph in self.graphs:
            graph.close()


@pytest.fixture(scope="module")
def raw():
    r = RawHands()
    yield r
    r.close()


def phone_photo(rgb: np.ndarray, hand, share: float, where: str, portrait: bool, noise: float,
                seed: int = 0) -> np.ndarray:
    """A 4:3 (or 3:4) window of `rgb` in which the hand's longer side is `share` of the window's shorter side, the
    hand in the middle ("centre") or near the lower right corner ("corner"), upscaled to 12 MP, plus noise."""
    x0, y0, x1, y1 = hand
    short = max(x1 - x0, y1 - y0) / share
    ww, wh = (short, short * 4 / 3) if portrait else (short * 4 / 3, short)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    at = 0.5 if where == "centre" else 0.8
    h, w = rgb.shape[:2]
    assert ww <= w and wh <= h, "the window must lie inside the photo"
    left = int(round(min(max(cx - at * ww, 0), w - ww)))
    top = int(round(min(max(cy - at * wh, 0), h - wh)))
    window = rgb[top:top + int(round(wh)), left:left + int(round(ww))]
    size = PHONE[::-1] if portrait else PHONE
    big = cv2.resize(window, size, interpolation=cv2.INTER_CUBIC)
    if not noise:
        return big
    noisy = np.random.default_rng(seed).standard_normal(big.shape, dtype=np.float32)
    noisy *= noise
    noisy += big
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)


def lost(raw_boxes: list, result) -> list:
    """The raw hands no instance of `result` stands for: no hand instance with box IoU >= 0.3, nor one whose mask
    covers 30% of the raw box (the found rule of `bench.recall`)."""
    out = []
    for box in raw_boxes:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        found = False
        for inst in result.hands:
            covered = inst.mask[max(y0, 0):max(y1, 1), max(x0, 0):max(x1, 1)]
            if box_iou(box, inst.box) >= 0.3 or (covered.size and covered.mean() >= 0.3):
                found = True
        if not found:
            out.append(tuple(round(v) for v in box))
    return out


@pytest.mark.parametrize("name, hand, share, where, portrait, noise", FRAMINGS)
def test_every_hand_raw_mediapipe_finds_on_a_12_mp_photo_is_found(raw, name, hand, share, where, portrait, noise):
    rgb = phone_photo(load_image(EXAMPLES_DIR / name), hand, share, where, portrait, noise)
    assert rgb.shape[0] * rgb.shape[1] == PHONE[0] * PHONE[1]
    reference = raw.boxes(rgb)
    assert reference, "raw Hands finds the hand in this framing (the comparison would be empty otherwise)"
    result = segment(rgb, backend="landmarks", draw=False)
    assert result.image.shape == rgb.shape  # 12 MP is processed at full size (no downscale on load)
    assert not lost(reference, result), f"raw Hands found {len(reference)} hand boxes; ours: {len(result.hands)}"


def test_a_false_face_on_a_fist_does_not_drop_the_fist(raw):
    """A fist cut out of a shared first-person frame, on a plain light background, at 12 MP: BlazeFace took it for
    a face (0.58) and FaceMesh, run on a crop around it, returned a mesh, so the hand lay "inside a face" and was
    dropped although raw Hands finds it. Only a face BlazeFace is sure of rules a hand out now."""
    rgb = load_image(data_path("egohands/images/15.jpg"))
    mask = np.asarray(Image.open(data_path("egohands/masks/15_hand.png")).convert("L")) > 127
    _, labels = cv2.connectedComponents(mask.astype(np.uint8))
    fist = labels == labels[400, 970]  # the right-hand player's fist
    ys, xs = np.nonzero(fist)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    side = max(x1 - x0, y1 - y0) / 0.6
    canvas = np.full((int(side), int(side * 4 / 3), 3), 235, np.uint8)
    ox, oy = (canvas.shape[1] - (x1 - x0)) // 2, (canvas.shape[0] - (y1 - y0)) // 2
    region = canvas[oy:oy + y1 - y0, ox:ox + x1 - x0]
    region[fist[y0:y1, x0:x1]] = rgb[y0:y1, x0:x1][fist[y0:y1, x0:x1]]
    photo = cv2.resize(canvas, PHONE, interpolation=cv2.INTER_CUBIC)
    reference = raw.boxes(photo)
    assert reference
    assert not lost(reference, segment(photo, backend="landmarks", draw=False))
