"""Choosing masks by the landmarks: synthetic scenes where the right answer is known, plus the shared photos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.masks.prompts import expand_box
from core.masks.selection import FALLBACK_NOTE, choose, make_exclusive, rectangle_choice
from core.types import Candidates, Detection, Prompt

from .conftest import DATA, iou

H, W = 240, 320


def ellipse(cx, cy, ax, ay):
    yy, xx = np.mgrid[:H, :W]
    return ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1


def rect(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def prompt(kind, truth, shrink=0.85, index=0):
    """A prompt whose prior is the truth shrunk about its centre (priors are thinner than the real thing)."""
    ys, xs = np.nonzero(truth)
    cy, cx = ys.mean(), xs.mean()
    prior = np.zeros_like(truth)
    yy, xx = np.nonzero(truth)
    prior[np.round(cy + (yy - cy) * shrink).astype(int), np.round(cx + (xx - cx) * shrink).astype(int)] = True
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    landmarks = np.stack([cx + (xs[::97] - cx) * 0.8, cy + (ys[::97] - cy) * 0.8], 1)
    det = Detection(kind, box, 0.9, landmarks, "face_mesh" if kind == "face" else "hand_21", "test",
                    None if kind == "face" else "left")
    pos = landmarks[:: max(1, len(landmarks) // 5)]
    return Prompt(index, det, expand_box(box, 1.5, W, H), prior, pos, np.zeros((0, 2)))


FACE = ellipse(160, 100, 40, 52)
HAIR = ellipse(160, 70, 58, 50) & ~FACE & (np.mgrid[:H, :W][0] < 95)
NECK = rect(138, 145, 182, 200) & ~FACE
HAND = ellipse(250, 190, 22, 30)


def test_picks_the_face_not_head_neck_or_background_which_the_rectangle_rule_picks():
    p = prompt("face", FACE)
    cands = [FACE, FACE | HAIR, FACE | NECK, ~FACE, HAIR]
    (mask, note), = choose([p], Candidates(per_prompt=[[]], shared=cands))
    assert note == "" and iou(mask, FACE) > 0.99
    assert iou(rectangle_choice(p, cands), FACE) < 0.8  # the peers' rule takes a bigger blob


def test_union_of_pieces_when_no_whole_candidate_exists():
    p = prompt("face", FACE)
    top, left, right = FACE & rect(0, 0, W, 90), FACE & rect(0, 90, 160, H), FACE & rect(160, 90, W, H)
    (mask, note), = choose([p], Candidates(per_prompt=[[]], shared=[top, left, right, HAIR, ~FACE]))
    assert note == "" and iou(mask, FACE) > 0.99
    assert max(iou(c, FACE) for c in (top, left, right)) < 0.5  # no single piece would do


def test_hand_whole_beats_its_fingers_and_its_arm():
    p = prompt("hand", HAND, shrink=0.7)
    fingers = HAND & rect(0, 0, W, 180)
    arm = HAND | rect(240, 200, 262, H)
    (mask, _), = choose([p], Candidates(per_prompt=[[fingers, arm]], shared=[HAND]))
    assert iou(mask, HAND) > 0.99


def test_face_hand_merged_blob_loses_to_the_face_when_a_hand_is_detected():
    hand_on_face = ellipse(185, 120, 14, 18)
    face = FACE & ~hand_on_face
    pf, ph = prompt("face", face, index=0), prompt("hand", hand_on_face, index=1)
    merged = FACE | hand_on_face
    picked = choose([pf, ph], Candidates(per_prompt=[[], []], shared=[merged, face, hand_on_face]))
    assert iou(picked[0][0], face) > 0.99 and iou(picked[1][0], hand_on_face) > 0.99


def test_falls_back_to_prior_with_a_note_when_nothing_agrees():
    p = prompt("face", FACE)
    (mask, note), = choose([p], Candidates(per_prompt=[[]], shared=[~rect(100, 30, 220, 170), rect(0, 0, 20, 20)]))
    assert note == FALLBACK_NOTE and np.array_equal(mask, p.prior)
    (mask, note), = choose([p], Candidates(per_prompt=[[]]))
    assert note == FALLBACK_NOTE


def test_model_scores_break_ties_only():
    p = prompt("face", FACE)
    a, b = FACE.copy(), FACE.copy()
    b[100, 160] = True  # same mask in effect
    (mask, _), = choose([p], Candidates(per_prompt=[[a, b]], scores=[[0.1, 0.9]]))
    assert mask is b
    (mask, _), = choose([p], Candidates(per_prompt=[[a, b]], scores=[[0.9, 0.1]]))
    assert mask is a
    # A high score does not rescue a wrong mask.
    (mask, _), = choose([p], Candidates(per_prompt=[[FACE | HAIR | NECK, FACE]], scores=[[1.0, 0.0]]))
    assert iou(mask, FACE) > 0.99


def test_trusted_candidates_pass_through():
    p = prompt("face", FACE)
    (mask, note), = choose([p], Candidates(per_prompt=[[HAIR]], trusted=True))
    assert mask is HAIR and note == ""


def test_each_pixel_belongs_to_at_most_one_instance():
    hand_on_face = ellipse(185, 120, 14, 18)
    pf, ph = prompt("face", FACE, index=0), prompt("hand", hand_on_face, index=1)
    out = make_exclusive([pf, ph], [FACE | hand_on_face, hand_on_face | rect(180, 100, 200, 110)])
    assert not (out[0] & out[1]).any()
    assert out[1].sum() >= hand_on_face.sum()  # hands are in front of faces


# ------------------------------------------------ a drawn hand among what SAM offers around it (tests/fake_replicate)
def drawn_hand(spread: float = 1.0):
    """(photo, exact hand mask, 21 landmarks): a skin-coloured hand with spread fingers on a noisy grey table."""
    h, w = 360, 360
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(110, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    wrist = np.array([180.0, 300.0])
    knuckles = [np.array([180.0 + dx, 200.0]) for dx in (-42, -14, 14, 40)]
    pts = [wrist]
    thumb = [wrist + [-40, -25], wrist + [-75, -45], wrist + [-95, -70], wrist + [-110, -95]]
    pts += thumb
    for k, base in enumerate(knuckles):
        direction = np.array([(k - 1.5) * 0.25 * spread, -1.0])
        direction /= np.linalg.norm(direction)
        length = (70, 80, 75, 60)[k]
        pts += [base + direction * length * t for t in (0.0, 0.4, 0.7, 1.0)]
    landmarks = np.array(pts)
    mask = np.zeros((h, w), np.uint8)
    palm = np.array([wrist + [-45, 0], wrist + [45, 0], knuckles[3] + [14, 0], knuckles[0] + [-14, 0]], np.int32)
    cv2.fillPoly(mask, [palm], 1)
    for chain in ((0, 1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)):
        line = np.round(landmarks[list(chain)]).astype(np.int32)
        cv2.polylines(mask, [line], False, 1, thickness=20)
        for q in line:
            cv2.circle(mask, (int(q[0]), int(q[1])), 10, 1, -1)
    mask[int(wrist[1]) + 5:] = 0  # labelled hands end at the wrist
    hand = mask.astype(bool)
    skin = np.clip(rng.normal((205, 150, 120), 8, (h, w, 3)), 0, 255).astype(np.uint8)
    photo[hand] = skin[hand]
    return photo, hand, landmarks


def hand_prompt(photo, landmarks):
    from core.masks.prompts import build_prompts

    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    det = Detection("hand", (x0, y0, x1, y1), 0.9, landmarks, "hand_21", "hands", "left")
    return build_prompts([det], photo.shape)[0]


def sam_offers(hand, shape, seed=0):
    """The exact hand among SAM-like distractors (rims, box, hull, halves, pieces, arm, background), degraded."""
    from .fake_replicate import realistic_regions, simulate_sam_named

    return simulate_sam_named(realistic_regions([], [hand], shape, seed=seed), shape, seed=seed)


@pytest.mark.parametrize("spread", [1.0, 2.0])
def test_the_exact_hand_wins_over_every_looser_cut_and_every_piece(spread):
    """Rims of several widths, the filled box, the hull (gaps between the fingers filled), halves, palm and
    fingers, hand+arm: the exact hand is chosen, with and without the photo (the seed's rectangle rule is not)."""
    photo, hand, landmarks = drawn_hand(spread)
    p = hand_prompt(photo, landmarks)
    offered = sam_offers(hand, photo.shape)
    kinds = {n for n, _ in offered}
    assert {"hand:exact", "hand:rim", "hand:box", "hand:hull", "hand:top-half", "hand:piece", "hand:+arm"} <= kinds
    exact = next(m for n, m in offered if n == "hand:exact")
    for image in (photo, None):
        (mask, note), = choose([p], Candidates(per_prompt=[[]], shared=[m for _, m in offered]), image)
        assert note == "" and iou(mask & p.limit, exact & p.limit) > 0.95, image is None
    assert iou(rectangle_choice(p, [m for _, m in offered]), exact) < 0.8


def test_each_looser_cut_alone_loses_to_the_exact_hand():
    """Pairwise: the exact hand against each distractor kind on its own, so no one kind hides behind another."""
    photo, hand, landmarks = drawn_hand(1.5)
    p = hand_prompt(photo, landmarks)
    offered = sam_offers(hand, photo.shape, seed=1)
    exact = next(m for n, m in offered if n == "hand:exact")
    for name, m in offered:
        if name in ("hand:exact", "hand:piece", "background", "arm") or iou(m, exact) > 0.95:
            continue
        (mask, _), = choose([p], Candidates(per_prompt=[[m, exact]]), photo)
        assert iou(mask, exact) > 0.95, name


def test_palm_and_fingers_as_pieces_are_joined_into_the_hand():
    photo, hand, landmarks = drawn_hand(2.0)
    p = hand_prompt(photo, landmarks)
    from .fake_replicate import finger_pieces

    pieces = finger_pieces(hand)
    assert len(pieces) >= 5 and max(iou(q, hand) for q in pieces) < 0.8
    (mask, note), = choose([p], Candidates(per_prompt=[pieces]), photo)
    assert note == "" and iou(mask, hand) > 0.95


def test_a_cut_off_finger_is_repaired_at_finger_width_where_the_photo_says_hand():
    """Repair adds the missing finger, wider than its drawn bones, and nothing beyond the finger."""
    from core.masks.skeleton import skeleton_mask

    photo, hand, landmarks = drawn_hand(2.0)
    p = hand_prompt(photo, landmarks)
    index = skeleton_mask(landmarks, hand.shape, 24, [(5, 6), (6, 7), (7, 8)])
    cut = hand & ~index
    (mask, _), = choose([p], Candidates(per_prompt=[[cut]]), photo)
    finger = hand & index
    assert (mask & finger).sum() > 0.8 * finger.sum()  # the finger is back, nearly at its width
    assert (mask & ~hand).sum() < 0.05 * hand.sum()  # and the table stays out
    (bones, _), = choose([p], Candidates(per_prompt=[[cut]]))  # without the photo: the bones only
    assert (bones & finger).sum() < (mask & finger).sum()


def test_a_finger_mediapipe_guessed_onto_the_table_is_not_chased():
    """MediaPipe guesses the fingers of a fist or of a hand behind cards, often onto the table. Here the photo has
    no little finger where the landmarks put one: the model's exact hand wins over the same hand with the strip of
    table under the guessed finger, and repair adds nothing there. A finger the model cut off that the photo does
    show is still added (the test above)."""
    from core.masks.skeleton import skeleton_mask

    photo, hand, landmarks = drawn_hand(2.0)
    little = skeleton_mask(landmarks, hand.shape, 22, [(17, 18), (18, 19), (19, 20)])
    palm = skeleton_mask(landmarks, hand.shape, 60, [(0, 5), (0, 17), (5, 9), (9, 13), (13, 17)])
    gone = little & ~palm
    table = np.clip(np.random.default_rng(1).normal(110, 12, photo.shape), 0, 255).astype(np.uint8)
    photo[gone] = table[gone]
    exact = hand & ~gone
    strip = exact | (cv2.dilate(gone.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    p = hand_prompt(photo, landmarks)
    (mask, _), = choose([p], Candidates(per_prompt=[[exact, strip]]), photo)
    assert iou(mask, exact) > 0.97
    (mask, _), = choose([p], Candidates(per_prompt=[[exact]]), photo)
    assert (mask & gone).sum() < 0.05 * gone.sum()


def test_growing_out_must_draw_its_border_on_the_photos_edges():
    """The photo settles a choice outwards only where the border it draws lies on edges as much as the one it gives
    up: from the palm to the whole hand (a cut across the fingers for the fingers' outline) yes; from the exact hand
    to a rim, its hull, its box or the hand with a rectangle of table (the hand's outline for lines across the
    table) no. On egohands a mask reaching from the fingertips for a dark game piece won this way."""
    from core.masks.judge import Judge
    from core.masks.selection import _edges_allow
    from core.masks.skeleton import skeleton_mask

    photo, hand, landmarks = drawn_hand(1.0)
    p = hand_prompt(photo, landmarks)
    judge = Judge(p, [], photo.shape, photo)
    offered = sam_offers(hand, photo.shape)
    exact = next(m for n, m in offered if n == "hand:exact")
    looser = {n for n, m in offered
              if n.startswith("hand:") and n != "hand:exact" and (m & exact).sum() > 0.97 * exact.sum()}
    assert {"hand:rim", "hand:hull", "hand:box", "hand:+arm"} <= looser
    for name, m in offered:
        if name in looser:
            assert not _edges_allow(judge, judge.crop(exact), judge.crop(m)), name
    fingers = skeleton_mask(landmarks, hand.shape, 24, [(5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12)])
    assert _edges_allow(judge, judge.crop(exact & ~fingers), judge.crop(exact))
    rim = next(m for n, m in offered if n == "hand:rim")
    assert _edges_allow(Judge(p, [], photo.shape), judge.crop(exact), judge.crop(rim))  # without the photo: no say


@pytest.mark.skipif(not (DATA / "egohands").is_dir(), reason=f"shared data not found at {DATA} (needs ../shared/data)")
def test_on_shared_photos_the_exact_mask_is_chosen_per_source():
    """Realistic candidate sets from the shared ground truth (one draw; tests/fake_replicate.py): on each source and
    each path a backend meets them by, the choice comes near the best possible and far above the seed's rule; most
    instances get their exact mask (or the union that rebuilds it). Floors are this change's measured figures
    (closing note of the issue) less a margin."""
    from bench.selection import run

    result = run(DATA, seeds=1, sources=["celebamask_hq", "hand_over_face", "egohands"])
    stats = result["iou"]
    # ours / oracle; measured (issue 28, edges at a move out): egohands 0.937 / 0.952 / 0.957 on the whole photo /
    # mosaic / local SAM2, hand over face 0.868 / 0.981 / 0.931 (before: the mosaic at 0.941 and 0.956, where a
    # rectangle reaching from the fingertips for a dark game piece won; the whole photo's losses are labels joining
    # two hands, a hand MediaPipe placed on its fingers, polygons that cut fingertips)
    floors = {"celebamask_hq": 0.95, "egohands": 0.925, "hand_over_face": 0.85}
    mosaic_floors = {"celebamask_hq": 0.95, "egohands": 0.945, "hand_over_face": 0.97}
    for (source, cls, col), values in stats.items():
        if col != "ours-whole":
            continue
        for path in ("whole", "mosaic", "sam2"):
            ours = np.mean(stats[(source, cls, "ours-" + path)])
            best = np.mean(stats[(source, cls, "oracle-" + path)])
            floor = (mosaic_floors if path == "mosaic" else floors)[source]
            assert ours >= floor * best, (source, cls, path, ours, best)
        seed_rule = np.mean(stats[(source, cls, "seed")])
        assert np.mean(values) >= seed_rule + 0.25, (source, cls, np.mean(values), seed_rule)
    won = result["won"]
    for cls in ("face", "hand"):
        exact = won[(cls, "whole")]["exact"]
        assert exact >= 0.7 * sum(won[(cls, "whole")].values()), (cls, dict(won[(cls, "whole")]))


@pytest.mark.skipif(not (DATA / "egohands").is_dir(), reason=f"shared data not found at {DATA} (needs ../shared/data)")
def test_among_the_kinds_issue_28_names_no_rim_or_box_wins_on_the_whole_photo():
    """The server issue 28 describes offers each exact mask beside it grown by a rim, its filled box, its halves,
    face plus neck and the background. On the whole photo no rim and no box wins; faces get their exact masks and
    first-person hands come within 0.95 of the best choice. Measured (one draw): faces 0.999, egohands 0.956, hand
    over face 0.915 of the oracle (its shortfall is one hand MediaPipe put on its fingers only, where the top half
    of the labelled hand is what the landmarks hold)."""
    from bench.selection import ISSUE_KINDS, run

    result = run(DATA, seeds=1, sources=["celebamask_hq", "hand_over_face", "egohands"], kinds=ISSUE_KINDS)
    stats = result["iou"]
    floors = {"celebamask_hq": 0.97, "egohands": 0.95, "hand_over_face": 0.9}
    for (source, cls, col), values in stats.items():
        if col == "ours-whole":
            best = np.mean(stats[(source, cls, "oracle-whole")])
            assert np.mean(values) >= floors[source] * best, (source, cls, np.mean(values), best)
    for cls in ("face", "hand"):
        won = result["won"][(cls, "whole")]
        assert won["rim"] == 0 and won["box"] == 0, (cls, dict(won))
    assert result["won"][("face", "whole")]["exact"] == sum(result["won"][("face", "whole")].values())


def test_a_models_hand_is_cut_at_the_wrist_only_when_it_runs_up_the_forearm():
    """The model's own border past the wrist limit by a wrist's end stays (it is finer than a straight cut); a
    forearm is cut at the limit."""
    from core.masks.selection import within_wrist

    photo, hand, landmarks = drawn_hand(1.0)
    photo = np.pad(photo, ((0, 240), (0, 0), (0, 0)), mode="edge")  # room below the wrist for a forearm
    hand = np.pad(hand, ((0, 240), (0, 0)))
    p = hand_prompt(photo, landmarks)
    rows, cols = np.mgrid[:hand.shape[0], :hand.shape[1]]
    start = int(np.nonzero(~p.limit[:, 180])[0].min())  # where the limit crosses the wrist's axis
    arm = (rows >= 295) & (np.abs(cols - 180) < 45)
    wrist_end = hand | (arm & (rows < start + 8))
    forearm = hand | arm
    assert (wrist_end & ~p.limit).any() and np.array_equal(within_wrist(p, wrist_end), wrist_end)
    assert np.array_equal(within_wrist(p, forearm), forearm & p.limit)
