"""Detection as a plan: every pass, what it runs, and what must be true for it to run.

`PLAN` is the table a newcomer reads to know why a pass ran; `detect()` walks it and nothing else decides what
runs. The walk goes stage by stage (`STAGES`): first a look at the photo (faces on the second core beside the
photo's Hands view), then the skin that what was found does not explain, then the search for lost hands only
where a hand may be lost, then a second look at unexplained skin. Within a stage the lanes run at once ("main"
on this thread, the others on the second core: the C++ graphs release the GIL), each lane's passes in the
table's order, each only when its trigger holds on what the passes before it found. A pass with an `early`
trigger may run in the look stage instead: in a group photo the lost-hand search runs on the main lane as soon as
the faces lane says it is a group, beside the crowd's face search, rather than after it. `Trace` (`trace.py`)
records which passes ran, their time, their model invocations and what each proposed; `core.segment` keeps it
as `Result.passes`.

The idea is MediaPipe's own graphs' (`hand_landmark_tracking_cpu.pbtxt`: the costly palm detector runs only when
the tracker has fewer hands than asked for): a search runs where there is something left for it to find.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import faces as F
from . import hands as H
from .proposals import look_again, skin_evidence
from .trace import Trace, submit


@dataclass
class Search:
    """What the passes know of one photo as they run."""
    rgb: object
    options: object  # DetectOptions
    pool: object = None
    face: F.FaceSearch = None
    views: dict = field(default_factory=dict)  # hand pass -> [(box, score, 21 points, side)]
    hands: list = field(default_factory=list)  # the views' hands, merged (`join_hands`)
    faces: list = field(default_factory=list)  # confirmed faces (Detections)
    proposals: list = field(default_factory=list)  # where the skin model says an unfound hand may be
    skin_for: int = -1  # how many hands the skin model last knew of
    shrunk: tuple = None  # (the photo as Hands sees it, its factor): `_shrunk`
    unexplained: bool = True  # skin-coloured area no found instance explains (or nothing to learn skin from)
    early: set = field(default_factory=set)  # passes that ran early, in the look stage (`_early`)

    @property
    def conf(self) -> float:
        return self.options.min_confidence

    @property
    def cx(self) -> int:
        return self.options.hand_complexity


@dataclass(frozen=True)
class Pass:
    name: str
    stage: str  # one of STAGES
    lane: str  # "main" (this thread) or another lane (on the second core)
    models: str  # what it runs (its invocations are counted in the trace)
    trigger: str  # when it runs, in words
    why: str  # what it finds that the others do not
    when: Callable  # Search -> bool
    run: Callable  # Search -> what it proposed: [(box, ...)] (boxes first), recorded in the trace
    # Search -> bool: run in the look stage instead, beside the faces lane, once it knows whether the photo is a
    # group (`_early`); the pass then does not run again in its own stage
    early: Callable = None


def _hands_view(name: str, fn):
    def run(s: Search) -> list:
        s.views[name] = fn(s)
        return s.views[name]
    return run


def _shrunk(s: Search) -> tuple:
    """The photo as Hands is given it (`hands.hands_input`), made once by the photo view (the look stage's main
    lane) and shared by the search's views."""
    if s.shrunk is None:
        s.shrunk = H.hands_input(s.rgb)
    return s.shrunk


def _seen(s: Search) -> list:
    """The hands the views so far found: raw Hands' own full-size finds first (they keep raw Hands' landmarks),
    then the photo's views (photo, zoomed out, lower), then the mirror's."""
    found = H.merge_hands(s.views.get("hands_photo", []), s.views.get("hands_zoomed_out", []))
    found = H.merge_hands(found, s.views.get("hands_lower", []))
    found = H.merge_hands(s.views.get("hands_full_size", []), found)
    return H.merge_hands(found, s.views.get("hands_mirror", []))


def _join_hands(s: Search) -> list:
    """The views' hands merged; hands that cannot be real (inside or tiny beside a sure face) dropped."""
    s.hands = [h for h in _seen(s) if not H.implausible_hand(h, s.faces)]
    return []


def _skin(s: Search) -> list:
    (s.proposals, s.unexplained), s.skin_for = skin_evidence(s.rgb, s.faces, s.hands), len(s.hands)
    return []


def _lost(s: Search) -> bool:
    """A hand may be unfound: skin-coloured area that no found face or hand explains, or nothing found to learn
    skin from (a hand filling the frame, which the photo view's palm detector misses): `proposals.skin_evidence`.
    Where the skin pass did not run (option second_look off), the search always runs."""
    return s.unexplained


def _searched(s: Search) -> bool:
    return any(v in s.views for v in ("hands_mirror", "hands_zoomed_out", "hands_lower"))


def _second_look(s: Search) -> list:
    more = [h for h in look_again(s.rgb, s.proposals, s.conf, s.cx, s.pool) if not H.implausible_hand(h, s.faces)]
    s.hands = H.merge_hands(s.hands, more)
    return more


def _pose_faces(s: Search) -> list:
    s.faces = [F.face_detection(s.rgb, f) for f in F.faces_from_pose(s.rgb)]
    return s.faces


def _group_known(s: Search) -> list:
    s.face.known.set()
    return []


def _group(s: Search) -> bool:
    """A group photo (`faces.FaceSearch.group`, final once `group_known` ran): its lost-hand search runs at once,
    in the look stage, beside the crowd's face search (CenterFace on the whole photo, a mesh per face), which holds
    the faces lane for 40-60 ms while the main lane, its photo view done, would wait. On the shared crowd photos the
    search ran on 169 of 171 anyway, and found hands of their own (20 on 171 photos)."""
    return s.face.group


def _shows_hands(s: Search) -> bool:
    return bool(s.views.get("hands_photo") or s.views.get("hands_zoomed_out"))


def _as_boxes(found: list) -> list:
    return [f.box if hasattr(f, "box") else f[0] for f in found]


# Stages run in order; within a stage the lanes run at once ("main" on this thread, every other lane on the pool),
# each lane's passes in the table's order. A trigger reads what earlier stages and earlier passes of its lane found.
STAGES = ("look", "explain", "search", "confirm")
PLAN = (
    # --- look: faces on the second core; the photo as raw Hands sees it ---
    Pass("blazeface_short", "look", "faces", "BlazeFace short range", "always",
         "faces in full profile (the full range misses them)", lambda s: True, lambda s: F.blazeface_short(s.face)),
    Pass("blazeface_full", "look", "faces", "BlazeFace full range", "always",
         "faces at a distance; in a crowd where the short range sees one face, it is what makes the photo a group "
         "(none of its own on portraits, but gating it lost 4 of 5 faces on a crowd photo)", lambda s: True,
         lambda s: F.blazeface_full(s.face)),
    Pass("centerface_glance", "look", "faces", "CenterFace at 192 px", "BlazeFace found faces, not a group",
         "is anyone else there? (a second face beside one large one)",
         lambda s: bool(s.face.blaze) and not s.face.group, lambda s: F.centerface_glance(s.face)),
    Pass("centerface_photo", "look", "faces", "CenterFace at 448 px", "BlazeFace found no face",
         "masked and turned faces BlazeFace misses (is there a face at all?)",
         lambda s: not s.face.blaze, lambda s: F.centerface_photo(s.face)),
    Pass("centerface_closer", "look", "faces", "CenterFace at the photo's size (<= 800 px)",
         "that look saw a face and the photo is larger than 448 px", "small faces beside the one it saw",
         lambda s: not s.face.blaze and F.closer_look_pays(s.face), lambda s: F.centerface_closer(s.face)),
    Pass("centerface_check", "look", "faces", "CenterFace at 448 px", "BlazeFace found one face, small in the "
         "photo", "whether there is anyone else (a group) before the crowd search",
         lambda s: F.one_small_face(s.face), lambda s: F.centerface_check(s.face)),
    Pass("group_known", "look", "faces", "-", "always, after the first looks", "tells the main lane whether the "
         "photo is a group (the passes after it do not change that)", lambda s: True, _group_known),
    Pass("centerface_full", "look", "faces", "CenterFace at 800 px (small photos up to 2x)",
         "a group (BlazeFace's or CenterFace's first look), not yet seen at that scale",
         "crowd faces of 15-30 px", lambda s: s.face.group and s.face.centre_scale != s.face.full_scale,
         lambda s: F.centerface_full(s.face)),
    Pass("face_tiles", "look", "faces", "BlazeFace full range on 9 half tiles, short range on up to 48 fine tiles",
         "a group, photo over 800 px, option face_tiles", "faces too small for BlazeFace's view of a large photo",
         lambda s: s.face.group and s.face.tiles and s.face.large, lambda s: F.tiles(s.face)),
    Pass("confirm_faces", "look", "faces", "FaceMesh on each face's crop; CenterFace on a crop where its photo "
         "look did not see the face", "a proposed face", "the face's outline (mesh); drops faces one detector "
         "alone reports (fists)", lambda s: bool(s.face.blaze or s.face.centre), lambda s: F.confirm_faces(s.face)),
    Pass("hands_full_size", "look", "full", "Hands on the full-size photo", "photo over 1280 px (Hands is given "
         "an area-averaged copy)", "hands raw MediaPipe finds by chance in the aliased full-size photo",
         lambda s: H.hands_factor(s.rgb.shape) > 1,
         _hands_view("hands_full_size", lambda s: H.full_size_hands(s.rgb, s.conf, s.cx, view="mirror"))),
    Pass("hands_photo", "look", "main", "Hands on the photo", "always", "what raw MediaPipe finds",
         lambda s: True, _hands_view("hands_photo", lambda s: H.hands_in(s.rgb, s.conf, s.cx, shrunk=_shrunk(s)))),
    # --- explain: is there skin that no found face or hand accounts for? ---
    Pass("join_hands", "explain", "main", "-", "always", "merges the views' hands; drops hands inside or tiny "
         "beside a sure face", lambda s: True, _join_hands),
    Pass("skin", "explain", "main", "a colour model of this photo's found skin (no model)", "a face or hand "
         "found, option second_look", "skin-coloured regions no found instance explains (where to look again)",
         lambda s: s.options.second_look and bool(s.faces or s.hands), _skin),
    # --- search for lost hands: only where one may be ---
    Pass("hands_mirror", "search", "second", "Hands on the mirrored photo", "a hand may be lost (unexplained "
         "skin, or nothing found), option mirror_hands; in a group, at once (beside the faces lane)",
         "hands the palm detector misses in one orientation",
         lambda s: s.options.mirror_hands and _lost(s),
         _hands_view("hands_mirror", lambda s: H.mirrored_hands(s.rgb, s.conf, s.cx, _shrunk(s))),
         early=lambda s: s.options.mirror_hands and _group(s)),
    Pass("hands_zoomed_out", "search", "main", "Hands on the photo at half size on a black canvas",
         "a hand may be lost; in a group, at once",
         "a hand that fills the frame (the lite palm detector misses it)",
         _lost, _hands_view("hands_zoomed_out", lambda s: H.zoomed_out_hands(s.rgb, s.conf, s.cx, _shrunk(s))),
         early=_group),
    Pass("hands_lower", "search", "main", "Hands on the lower 60% of the photo", "a hand may be lost (in a group, "
         "at once) and the photo or zoomed-out view found one, option lower_view",
         "a second hand the first views missed",
         lambda s: s.options.lower_view and _lost(s) and _shows_hands(s),
         _hands_view("hands_lower", lambda s: H.lower_hands(s.rgb, s.conf, s.cx)),
         early=lambda s: s.options.lower_view and _group(s) and _shows_hands(s)),
    # --- confirm: merge, look again at unexplained skin, a head in profile when nothing was found ---
    Pass("join_search", "confirm", "main", "-", "the search ran", "merges its hands with the first look's",
         _searched, _join_hands),
    Pass("skin_again", "confirm", "main", "the colour model again", "the search found hands, option second_look",
         "skin the search's hands do not explain",
         lambda s: s.options.second_look and _searched(s) and len(s.hands) > max(s.skin_for, 0), _skin),
    Pass("second_look", "confirm", "main", "Hands on a crop ~2x a hand's size around each (<= 3)",
         "skin no instance explains", "hands the palm detector missed at the photo's scale",
         lambda s: bool(s.proposals), _second_look),
    Pass("pose_faces", "confirm", "main", "Pose (a head from its face keypoints)", "no face and no hand found, "
         "option profile_faces", "a head in profile",
         lambda s: s.options.profile_faces and not s.faces and not s.hands[:s.options.max_hands], _pose_faces),
)
PASSES = {p.name: p for p in PLAN}
# they check, merge or signal
NOT_FINDERS = {"group_known", "confirm_faces", "join_hands", "join_search", "skin", "skin_again"}


def _walk(stage: str, lane: str, s: Search, trace: Trace) -> None:
    try:
        for p in PLAN:
            if p.stage == stage and p.lane == lane and p.name not in s.early and p.when(s):
                _run(p, s, trace)
        if stage == "look" and lane == "main":
            _early(s, trace)
    finally:
        if lane == "faces":
            s.face.known.set()  # never leave the main lane waiting (a faces lane that failed)


def _run(p: Pass, s: Search, trace: Trace) -> None:
    found = trace.run(p.name, p.run, s)
    kind = "face" if p.lane == "faces" or p.name == "pose_faces" else "hand"
    trace.found(p.name, kind, _as_boxes(found or []))


def _early(s: Search, trace: Trace) -> None:
    """The passes with an `early` trigger that holds, run now (the look stage's main lane, its own passes done),
    once the faces lane says whether the photo is a group: each lane's passes in the table's order, the lanes
    other than "main" on the pool. Recorded in `s.early`, so that their own stage does not run them again."""
    s.face.known.wait()
    lanes = list(dict.fromkeys(p.lane for p in PLAN if p.early is not None))

    def walk_early(lane):
        for p in PLAN:
            if p.lane == lane and p.early is not None and p.early(s):
                s.early.add(p.name)
                _run(p, s, trace)

    _lanes_at_once(s, lanes, walk_early)


def _lanes_at_once(s: Search, lanes: list, walk_lane) -> None:
    """`walk_lane(lane)` for every lane: those other than "main" on `s.pool` (in order on this thread when there is
    none), "main" here; returns once all have."""
    others = [lane for lane in lanes if lane != "main"]
    futures = [submit(s.pool, walk_lane, lane) for lane in others] if s.pool else []
    if not s.pool:
        for lane in others:
            walk_lane(lane)
    walk_lane("main")
    for f in futures:
        f.result()


def walk(s: Search, trace: Trace | None = None) -> Search:
    """Walk the plan on `s`, stage by stage; in each, the lanes other than "main" on `s.pool`, "main" here."""
    trace = trace if trace is not None else Trace()
    for stage in STAGES:
        lanes = list(dict.fromkeys(p.lane for p in PLAN if p.stage == stage))
        _lanes_at_once(s, lanes, lambda lane, stage=stage: _walk(stage, lane, s, trace))
        if stage == "look":
            s.faces = s.face.faces
    trace.order([p.name for p in PLAN])
    return s


def walk_faces(face: F.FaceSearch, trace: Trace | None = None) -> list:
    """The face lane alone (benches that time faces on their own)."""
    trace = trace if trace is not None else Trace()
    s = Search(face.rgb, None, face=face)
    _walk("look", "faces", s, trace)
    return face.faces


def detect_faces(rgb, min_confidence: float = 0.5, max_faces: int = 20, tiles: bool = True) -> list:
    """Faces in the photo, strongest first, each with mesh points when FaceMesh confirms it: the face lane of the
    plan, walked on this thread."""
    return walk_faces(F.FaceSearch(rgb, min_confidence, max_faces, tiles))


def table() -> str:
    """The plan as a Markdown table (README's "How it works")."""
    rows = ["| stage | pass | lane | runs | when | finds |", "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {p.stage} | `{p.name}` | {p.lane} | {p.models} | {p.trigger} | {p.why} |" for p in PLAN]
    return "\n".join(rows)
