"""The cost contract of detection: which passes of the plan (`core/detect/plan.py`) run on a photo, and how many
model invocations it costs. Counted, never timed: a change that makes a simple photo run a crowd search or a
lost-hand search fails here, whatever the machine's speed.

The examples and the test photos always run; the shared photos (a portrait, a one-hand phone photo, a
first-person frame, a crowd) skip without ../shared. A budget is the most invocations of each model a photo may
cost (today's count): spending less passes, spending more fails and says which model.
"""
from __future__ import annotations

import numpy as np
import pytest

from core import segment
from core.detect import PLAN, DetectOptions, Trace, detect
from core.loading import load_image

from .conftest import EXAMPLES_DIR, PHOTOS, box_data_path, data_path

LOOK = ["blazeface_short", "blazeface_full", "group_known", "confirm_faces", "hands_photo", "join_hands", "skin"]
SEARCH = ["hands_mirror", "hands_zoomed_out", "hands_lower", "join_search"]
# searches for faces BlazeFace did not see
CROWD = {"centerface_photo", "centerface_closer", "centerface_check", "centerface_full", "face_tiles"}
LOST_HANDS = {"hands_mirror", "hands_zoomed_out", "hands_lower", "second_look"}


def traced(rgb, options: DetectOptions = DetectOptions()):
    trace = Trace()
    dets = detect(rgb, options, trace)
    return dets, trace


def in_plan_order(names) -> list:
    order = [p.name for p in PLAN]
    return sorted(names, key=order.index)


def check(trace: Trace, passes: list, budget: dict) -> None:
    assert trace.ran() == in_plan_order(passes)
    calls = trace.calls()
    over = {m: (n, budget.get(m, 0)) for m, n in calls.items() if n > budget.get(m, 0)}
    assert not over, f"model invocations over budget (spent, budget): {over}"


# name -> (passes that run, model invocation budget, faces, hands)
EXAMPLES = {
    "01_card_thrower_gesturing_pxhere.jpg": (LOOK + ["centerface_full"] + SEARCH + ["second_look"],
                                             {"blazeface": 2, "centerface": 2, "face_mesh": 1, "hands": 7}, 1, 2),
    "02_woman_hand_at_neck_publicdomainpictures.jpg": (LOOK + ["centerface_glance", "hands_full_size"] + SEARCH,
                                                       {"blazeface": 2, "centerface": 1, "face_mesh": 1, "hands": 5},
                                                       1, 1),
    "03_asl_sorry_frame_intel.jpg": (LOOK + ["centerface_check"] + SEARCH + ["second_look"],
                                     {"blazeface": 2, "centerface": 1, "face_mesh": 1, "hands": 7}, 1, 2),
    "04_apollo11_crew_nasa.jpg": (LOOK + ["centerface_full"] + SEARCH + ["second_look"],
                                  {"blazeface": 2, "centerface": 1, "face_mesh": 3, "hands": 7}, 3, 4),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_cost_what_the_plan_says(name):
    passes, budget, n_faces, n_hands = EXAMPLES[name]
    dets, trace = traced(load_image(EXAMPLES_DIR / name))
    assert (sum(d.kind == "face" for d in dets), sum(d.kind == "hand" for d in dets)) == (n_faces, n_hands)
    check(trace, passes, budget)


def test_one_small_face_alone_is_no_crowd():
    """The ASL frame: BlazeFace sees one face, small in the frame, a hint of a group; CenterFace at 448 px sees
    no one else, so it does not look again in full (it did, 50 ms, before)."""
    _, trace = traced(load_image(EXAMPLES_DIR / "03_asl_sorry_frame_intel.jpg"))
    assert "centerface_check" in trace.ran()
    assert not ({"centerface_full", "face_tiles"} & set(trace.ran()))


def test_a_portrait_with_no_hand_runs_no_crowd_or_lost_hand_search():
    """One large face, no hand, no skin left unexplained: BlazeFace, a CenterFace glance, the mesh, one Hands
    view. Five model invocations (raw MediaPipe: two)."""
    dets, trace = traced(load_image(PHOTOS / "grace_hopper.jpg"))
    assert [d.kind for d in dets] == ["face"]
    check(trace, LOOK + ["centerface_glance"], {"blazeface": 2, "centerface": 1, "face_mesh": 1, "hands": 1})
    assert not (set(trace.ran()) & (CROWD | LOST_HANDS))


def test_segment_records_the_passes_that_ran():
    r = segment(PHOTOS / "grace_hopper.jpg", backend="landmarks", draw=False)
    assert list(r.passes) == in_plan_order(LOOK + ["centerface_glance"])
    assert r.passes["hands_photo"]["calls"] == {"hands": 1}
    assert all(p["ms"] >= 0 for p in r.passes.values())


def test_nothing_found_runs_every_search_and_pose():
    """A photo where nothing is found pays for every search: that is where a lost face or hand would be."""
    dets, trace = traced(np.full((240, 320, 3), 90, np.uint8))
    assert dets == []
    check(trace, ["blazeface_short", "blazeface_full", "centerface_photo", "group_known", "hands_photo", "join_hands",
                  "hands_mirror",
                  "hands_zoomed_out", "join_search", "pose_faces"],
          {"blazeface": 2, "centerface": 1, "hands": 3, "pose": 1})


def test_without_the_skin_model_the_search_always_runs():
    _, trace = traced(load_image(PHOTOS / "grace_hopper.jpg"), DetectOptions(second_look=False))
    assert {"hands_mirror", "hands_zoomed_out"} <= set(trace.ran())
    assert "skin" not in trace.ran()


def test_the_plan_is_a_table_with_a_trigger_for_every_pass():
    from core.detect.plan import STAGES, table

    assert len({p.name for p in PLAN}) == len(PLAN)
    assert all(p.stage in STAGES and p.trigger and p.why and p.models for p in PLAN)
    assert table().count("\n") == len(PLAN) + 1


# --- shared photos (skip without ../shared) ---

def test_portrait_costs_the_look_only():
    dets, trace = traced(load_image(data_path("fasseg_frontal/images/f1.jpg")))
    assert [d.kind for d in dets] == ["face"]
    check(trace, LOOK + ["centerface_glance"], {"blazeface": 2, "centerface": 1, "face_mesh": 1, "hands": 1})


@pytest.mark.parametrize("rel", ["fasseg_frontal/images/f109.jpg", "fasseg_multipose/images/personne01148p0p30.jpg",
                                 "fasseg_multipose/images/personne02146p0p0.jpg"])
def test_a_grey_wall_or_dark_hair_is_no_lost_hand(rel):
    """Heads before a pale grey wall, with dark hair: colours near neutral chrominance, as pale skin's are in
    coarse bins, but outside the standard skin range the found skin lies in. No lost-hand search (it ran on 168
    of 182 FASSEG multipose heads and 8 of 35 frontal ones, and found no hand of its own on any)."""
    dets, trace = traced(load_image(data_path(rel)))
    assert [d.kind for d in dets] == ["face"]
    assert not (set(trace.ran()) & LOST_HANDS)
    assert trace.calls()["hands"] == 1


@pytest.mark.parametrize("rel", ["celebamask_hq/images/c0.jpg", "fasseg_multipose/images/personne06142p0m60.jpg",
                                 "fasseg_multipose/images/personne06252p0p90.jpg"])
def test_hair_ears_and_neck_are_no_lost_hand(rel):
    """Skin-coloured area beside and above a found face (red hair and roses, a profile's ear and hair) is the
    head's: no lost-hand search."""
    dets, trace = traced(load_image(data_path(rel)))
    assert [d.kind for d in dets] == ["face"]
    assert not (set(trace.ran()) & LOST_HANDS)
    assert trace.calls()["hands"] == 1


def _one_hand_photo(stem: str) -> np.ndarray:
    """A phone photo of one hand: the largest labelled hand of an EgoHands frame, cropped so that it spans 70% of
    the crop's side, enlarged to 960 px."""
    import cv2

    rgb = load_image(data_path(f"egohands/images/{stem}.jpg"))
    mask = load_image(data_path(f"egohands/masks/{stem}_hand.png"))[:, :, 0] > 127
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    x, y, w, h = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), :4]
    side = int(max(w, h) / 0.7)
    x0, y0 = max(0, x + w // 2 - side // 2), max(0, y + h // 2 - side // 2)
    crop = np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])
    return cv2.resize(crop, (960, int(960 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_CUBIC)


def test_one_hand_phone_photo_found_at_first_look_runs_no_search():
    dets, trace = traced(_one_hand_photo("03"))
    assert [d.kind for d in dets] == ["hand"]
    assert not (set(trace.ran()) & (CROWD | LOST_HANDS))
    check(trace, LOOK + ["centerface_glance"], {"blazeface": 2, "centerface": 2, "hands": 1})


def test_one_hand_filling_the_frame_is_searched_for_and_found():
    """The photo view's palm detector misses a hand this large; nothing found means a hand may be lost, and the
    zoomed-out view finds it."""
    dets, trace = traced(_one_hand_photo("01"))
    assert [d.kind for d in dets] == ["hand"]
    assert "hands_zoomed_out" in trace.ran() and trace.passes["hands_zoomed_out"].found
    # BlazeFace sees no face: CenterFace looks once at 448 px, sees none, and looks no closer
    assert not ({"centerface_closer", "centerface_full", "face_tiles"} & set(trace.ran()))
    assert trace.calls()["centerface"] == 1 and sum(trace.calls().values()) <= 7


def test_first_person_frame_searches_for_lost_hands():
    dets, trace = traced(load_image(box_data_path("egohands_csv/images/CARDS_LIVINGROOM_B_T_frame_0096.jpg")))
    assert sum(d.kind == "hand" for d in dets) == 2
    check(trace, LOOK + ["centerface_glance"] + SEARCH + ["second_look"],
          {"blazeface": 2, "centerface": 1, "face_mesh": 1, "hands": 5})


def test_crowd_runs_the_crowd_search_and_no_tiles_on_a_small_photo():
    dets, trace = traced(load_image(box_data_path("facemask_kaggle/images/maksssksksss103.jpg")))
    assert sum(d.kind == "face" for d in dets) == 5
    assert "centerface_full" in trace.ran() and "face_tiles" not in trace.ran()
    assert trace.calls()["face_mesh"] <= 5 and trace.calls()["centerface"] <= 1


def _walked(rgb):
    from core.detect import _POOL
    from core.detect.faces import FaceSearch
    from core.detect.plan import Search, walk

    o = DetectOptions()
    return walk(Search(rgb, o, _POOL, FaceSearch(rgb, o.min_confidence, o.max_faces, o.face_tiles)), Trace())


def test_a_group_searches_for_lost_hands_beside_the_crowd_face_search():
    """In a crowd the faces lane holds a core for CenterFace on the whole photo and a mesh per face; the lost-hand
    search runs then (look stage), not after it, and once only."""
    rgb = load_image(box_data_path("facemask_kaggle/images/maksssksksss103.jpg"))
    assert _walked(rgb).early == {"hands_mirror", "hands_zoomed_out", "hands_lower"}
    _, trace = traced(rgb)
    assert all(trace.passes[name].calls == {"hands": 1} for name in ("hands_mirror", "hands_zoomed_out"))


def test_a_portrait_searches_nothing_early():
    assert _walked(load_image(PHOTOS / "grace_hopper.jpg")).early == set()
    assert _walked(load_image(EXAMPLES_DIR / "02_woman_hand_at_neck_publicdomainpictures.jpg")).early == set()


def test_readme_shows_the_plan_as_it_is():
    from core.detect.plan import table

    from .conftest import REPO

    assert table() in (REPO / "README.md").read_text()
