"""Detection as a plan: every pass, what it runs, and what must be true for it to run.

`PLAN` is the table a newcomer reads to know why a pass ran; `detect()` walks it and nothing else decides what
runs. Each pass belongs to a lane. The lanes "faces" and "mirror" run on the second core while "hands" runs on
this thread (the C++ graphs release the GIL); "after" runs once all three are done, because its triggers read
both faces and hands. Within a lane passes run in the table's order, each only when its trigger holds on what
the passes before it found. `Trace` (`trace.py`) records which passes ran, their time, their model invocations
and what each proposed; `core.segment` keeps it as `Result.passes`.

The idea is MediaPipe's own graphs' (`hand_landmark_tracking_cpu.pbtxt`: the costly palm detector runs only when
the tracker has fewer hands than asked for): a search runs where there is something left for it to find.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import faces as F
from . import hands as H
from .proposals import look_again, skin_proposals
from .trace import Trace, submit


@dataclass
class Search:
    """What the passes know of one photo as they run."""
    rgb: object
    options: object  # DetectOptions
    pool: object = None
    face: F.FaceSearch = None
    views: dict = field(default_factory=dict)  # hand pass -> [(box, score, 21 points, side)]
    seen: list = field(default_factory=list)  # the photo's own views' hands (photo, zoomed out), merged
    hands: list = field(default_factory=list)  # all hands, merged, after the lanes join
    faces: list = field(default_factory=list)  # confirmed faces (Detections)
    proposals: list = field(default_factory=list)  # where the skin model says an unfound hand may be

    @property
    def conf(self) -> float:
        return self.options.min_confidence

    @property
    def cx(self) -> int:
        return self.options.hand_complexity


@dataclass(frozen=True)
class Pass:
    name: str
    lane: str  # "faces" | "mirror" | "hands" | "after"
    models: str  # what it runs (its invocations are counted in the trace)
    trigger: str  # when it runs, in words
    why: str  # what it finds that the others do not
    when: Callable  # Search -> bool
    run: Callable  # Search -> what it proposed: [(box, ...)] (boxes first), recorded in the trace


def _hands_view(name: str, fn):
    def run(s: Search) -> list:
        s.views[name] = fn(s)
        return s.views[name]
    return run


def _seen(s: Search) -> list:
    """The photo view's hands and the zoomed-out view's, merged (the lower view's trigger)."""
    return H.merge_hands(s.views.get("hands_photo", []), s.views.get("hands_zoomed_out", []))


def _join_hands(s: Search) -> list:
    """All views' hands merged, raw Hands' own full-size finds first, then the photo's views, then the mirror's;
    hands that cannot be real dropped."""
    found = H.merge_hands(_seen(s), s.views.get("hands_lower", []))
    found = H.merge_hands(s.views.get("hands_full_size", []), found)
    found = H.merge_hands(found, s.views.get("hands_mirror", []))
    s.hands = [h for h in found if not H.implausible_hand(h, s.faces)]
    return []


def _second_look(s: Search) -> list:
    more = [h for h in look_again(s.rgb, s.proposals, s.conf, s.cx, s.pool) if not H.implausible_hand(h, s.faces)]
    s.hands = H.merge_hands(s.hands, more)
    return more


def _skin(s: Search) -> list:
    s.proposals = skin_proposals(s.rgb, s.faces, s.hands)
    return []


def _pose_faces(s: Search) -> list:
    s.faces = [F.face_detection(s.rgb, f) for f in F.faces_from_pose(s.rgb)]
    return s.faces


def _as_boxes(found: list) -> list:
    return [f.box if hasattr(f, "box") else f[0] for f in found]


PLAN = (
    # --- faces, on the second core ---
    Pass("blazeface", "faces", "BlazeFace short + full range", "always",
         "faces in full profile (short range) and at a distance (full range)",
         lambda s: True, lambda s: F.blazeface(s.face)),
    Pass("centerface_glance", "faces", "CenterFace at 192 px", "BlazeFace found faces, not a group",
         "is anyone else there? (a second face beside one large one)",
         lambda s: bool(s.face.blaze) and not s.face.group, lambda s: F.centerface_glance(s.face)),
    Pass("centerface_photo", "faces", "CenterFace at the photo's size (<= 800 px)", "BlazeFace found no face",
         "masked, small and turned faces BlazeFace misses",
         lambda s: not s.face.blaze, lambda s: F.centerface_photo(s.face)),
    Pass("centerface_full", "faces", "CenterFace at 800 px (small photos up to 2x)",
         "a group (BlazeFace's or CenterFace's first look), not yet seen at that scale",
         "crowd faces of 15-30 px", lambda s: s.face.group and s.face.centre_scale != s.face.full_scale,
         lambda s: F.centerface_full(s.face)),
    Pass("face_tiles", "faces", "BlazeFace full range on 9 half tiles, short range on up to 48 fine tiles",
         "a group, photo over 800 px, option face_tiles", "faces too small for BlazeFace's view of a large photo",
         lambda s: s.face.group and s.face.tiles and s.face.large, lambda s: F.tiles(s.face)),
    Pass("confirm_faces", "faces", "FaceMesh on each face's crop; CenterFace on a crop where its photo look "
         "did not see the face", "a proposed face", "the face's outline (mesh); drops faces one detector alone "
         "reports (fists)", lambda s: bool(s.face.blaze or s.face.centre), lambda s: F.confirm_faces(s.face)),
    # --- hands: raw Hands at full size and the mirror, on the second core ---
    Pass("hands_full_size", "mirror", "Hands on the full-size photo", "photo over 1280 px (Hands is given an "
         "area-averaged copy)", "hands raw MediaPipe finds by chance in the aliased full-size photo",
         lambda s: H.hands_input(s.rgb)[1] > 1,
         _hands_view("hands_full_size", lambda s: H.full_size_hands(s.rgb, s.conf, s.cx, view="mirror"))),
    Pass("hands_mirror", "mirror", "Hands on the mirrored photo", "option mirror_hands",
         "hands the palm detector misses in one orientation",
         lambda s: s.options.mirror_hands,
         _hands_view("hands_mirror", lambda s: H.mirrored_hands(s.rgb, s.conf, s.cx))),
    # --- hands, on this thread ---
    Pass("hands_photo", "hands", "Hands on the photo", "always", "what raw MediaPipe finds",
         lambda s: True, _hands_view("hands_photo", lambda s: H.hands_in(s.rgb, s.conf, s.cx))),
    Pass("hands_zoomed_out", "hands", "Hands on the photo at half size on a black canvas", "always",
         "a hand that fills the frame (the lite palm detector misses it)",
         lambda s: True, _hands_view("hands_zoomed_out", lambda s: H.zoomed_out_hands(s.rgb, s.conf, s.cx))),
    Pass("hands_lower", "hands", "Hands on the lower 60% of the photo", "the photo or zoomed-out view found a "
         "hand, option lower_view", "a second hand the first views missed",
         lambda s: s.options.lower_view and bool(_seen(s)),
         _hands_view("hands_lower", lambda s: H.lower_hands(s.rgb, s.conf, s.cx))),
    # --- after the lanes join ---
    Pass("join_hands", "after", "-", "always", "merges the views; drops hands inside or tiny beside a sure face",
         lambda s: True, _join_hands),
    Pass("skin", "after", "a colour model of this photo's found skin (no model)", "a face or hand found, "
         "option second_look", "skin-coloured regions no found instance explains",
         lambda s: s.options.second_look and bool(s.faces or s.hands), _skin),
    Pass("second_look", "after", "Hands on a crop ~2x a hand's size around each (<= 3)",
         "skin no instance explains", "hands the palm detector missed at the photo's scale",
         lambda s: bool(s.proposals), _second_look),
    Pass("pose_faces", "after", "Pose (a head from its face keypoints)", "no face and no hand found, option "
         "profile_faces", "a head in profile", lambda s: s.options.profile_faces and not s.faces and not s.hands[:s.options.max_hands],
         _pose_faces),
)
PASSES = {p.name: p for p in PLAN}


def _walk(lane: str, s: Search, trace: Trace) -> None:
    for p in PLAN:
        if p.lane == lane and p.when(s):
            found = trace.run(p.name, p.run, s)
            kind = "face" if p.lane == "faces" or p.name == "pose_faces" else "hand"
            trace.found(p.name, kind, _as_boxes(found or []))


def walk(s: Search, trace: Trace | None = None) -> Search:
    """Walk the plan on `s`: faces and the mirror lane on `s.pool`, the hands lane here, then "after"."""
    trace = trace if trace is not None else Trace()
    lanes = [submit(s.pool, _walk, lane, s, trace) for lane in ("faces", "mirror")] if s.pool else []
    if not lanes:
        _walk("faces", s, trace)
        _walk("mirror", s, trace)
    _walk("hands", s, trace)
    for lane in lanes:
        lane.result()
    s.faces = s.face.faces
    _walk("after", s, trace)
    trace.order([p.name for p in PLAN])
    return s


def walk_faces(face: F.FaceSearch, trace: Trace | None = None) -> list:
    """The face lane alone (benches that time faces on their own)."""
    trace = trace if trace is not None else Trace()
    s = Search(face.rgb, None, face=face)
    _walk("faces", s, trace)
    return face.faces


def table() -> str:
    """The plan as a Markdown table (README's "How it works")."""
    rows = ["| pass | lane | runs | when | finds |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{p.name}` | {p.lane} | {p.models} | {p.trigger} | {p.why} |" for p in PLAN]
    return "\n".join(rows)
