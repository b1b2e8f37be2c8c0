"""A clip's offline masks are refined on keyframes and moved with the landmarks while an instance only moves
(`core.video.reuse`): counted here, never timed."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from bench.clips import example_file, load_rgb, pan_frames
from core import segment, segment_video
from core.masks.prompts import build_prompts
from core.types import Detection
from core.video.reuse import KEY_EVERY, RIGID_RESIDUAL, ReusedRefinement, similarity


@pytest.fixture(scope="module")
def card_photo():
    return load_rgb(example_file("card_thrower_gesturing_pxhere.jpg"))


@pytest.fixture(scope="module")
def tracked(card_photo):
    """The photo's face and two hands as tracked detections (numbers 1, 1, 2), from the photo pipeline."""
    res = segment(card_photo, backend="landmarks", draw=False)
    numbers = {"face": 0, "hand": 0}
    dets = []
    for inst in res.instances:
        numbers[inst.kind] += 1
        dets.append(Detection(inst.kind, tuple(inst.box), inst.score, inst.landmarks, inst.landmark_kind,
                              inst.source, inst.handedness, numbers[inst.kind]))
    assert sorted(d.kind for d in dets) == ["face", "hand", "hand"]
    return dets


def _shifted(dets, dx):
    return [replace(d, landmarks=d.landmarks + (dx, 0), box=(d.box[0] + dx, d.box[1], d.box[2] + dx, d.box[3]))
            for d in dets]


def _masks(backend, frame, dets):
    prompts = build_prompts(dets, frame.shape)
    return [c[0] for c in backend.propose(frame, prompts).per_prompt]


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_a_steady_pan_refines_each_instance_on_keyframes_only(card_photo, monkeypatch):
    """Every frame has its three masks, but GrabCut (what refining costs) runs on keyframes and where the
    landmarks do not move rigidly: on a camera pan, far less than once per instance and frame."""
    calls = []
    grabcut = cv2.grabCut

    def counted(*args):
        calls.append(1)
        return grabcut(*args)

    monkeypatch.setattr(cv2, "grabCut", counted)
    frames = 24
    results = list(segment_video(pan_frames(card_photo, frames), draw=False))
    assert all(len(r.instances) == 3 and all(i.mask.any() for i in r.instances) for r in results)
    instance_frames = 3 * frames
    assert 3 <= len(calls) <= instance_frames // 2, len(calls)


def test_a_moved_instance_keeps_its_refined_mask_and_a_bent_hand_is_refined_again(card_photo, tracked):
    """The camera moves 8 px: each mask is its keyframe mask moved 8 px. Then one hand's fingers bend: that hand
    (and only it) is refined afresh."""
    h, w = card_photo.shape[:2]
    first, second = card_photo[:, 8:w - 8], card_photo[:, 16:]
    dets = _shifted(tracked, -8)
    backend = ReusedRefinement()
    key = _masks(backend, first, dets)
    assert (backend.refined, backend.moved) == (3, 0)
    moved = _masks(backend, second, _shifted(dets, -8))
    assert (backend.refined, backend.moved) == (3, 3)
    for k, m in zip(key, moved):
        assert _iou(k[:, 8:], m[:, :-8]) > 0.995

    hand = next(i for i, d in enumerate(dets) if d.kind == "hand")
    bent = _shifted(dets, -8)
    pts = bent[hand].landmarks.copy()
    pts[5:] = pts[0] + 0.7 * (pts[5:] - pts[0])  # the fingers curl towards the wrist
    bent[hand] = replace(bent[hand], landmarks=pts)
    residual = similarity(dets[hand].landmarks, pts)[2]
    assert residual > RIGID_RESIDUAL * np.sqrt(np.prod(np.ptp(pts, axis=0)))
    _masks(backend, second, bent)
    assert (backend.refined, backend.moved) == (4, 5)


def test_carried_instances_and_old_keyframes_are_refined(card_photo, tracked):
    """A carried track's landmarks are a guess, not evidence of motion: it is refined. And however still the
    clip, each instance is refined again within KEY_EVERY frames plus one per instance (one refresh a frame)."""
    backend = ReusedRefinement()
    _masks(backend, card_photo, tracked)
    _masks(backend, card_photo, [replace(d, source="carried") if d.kind == "face" else d for d in tracked])
    assert (backend.refined, backend.moved) == (4, 2)

    backend = ReusedRefinement()
    last_refined = {}
    for frame in range(3 * KEY_EVERY):
        before = backend.refined
        _masks(backend, card_photo, tracked)
        if backend.refined > before:
            last_refined[frame] = backend.refined - before
    assert backend.refined < 3 * KEY_EVERY  # mostly moved (by nothing)
    refresh_frames = sorted(last_refined)
    assert max(np.diff(refresh_frames)) <= KEY_EVERY + 1
    assert max(last_refined[f] for f in refresh_frames[1:]) == 1  # keyframes spread, one instance a frame


def test_similarity_recovers_a_turn_zoom_and_shift():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 100, (21, 2))
    z = 1.1 * np.exp(0.2j)
    b = z * (a[:, 0] + 1j * a[:, 1]) + (5 - 3j)
    got_z, got_t, residual = similarity(a, np.stack([b.real, b.imag], 1))
    assert abs(got_z - z) < 1e-9 and abs(got_t - (5 - 3j)) < 1e-9 and residual < 1e-9
