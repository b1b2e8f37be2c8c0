"""`segment()`: load → detect → prompts → backend candidates → choose by landmarks → label → render."""
from __future__ import annotations

import logging
import time

import numpy as np

from . import backends
from .backends.base import BackendUnavailable
from .detect import DetectOptions, Trace, detect, detect_hints
from .detect.geometry import mask_bounds
from .loading import load_image_with_pixels
from .options import check_options
from .edits import apply_removals, as_edits
from .masks.clicks import enforce, owner, with_model_candidates, with_points
from .masks.prompts import build_prompts
from .render import annotate
from .masks.selection import FOREARM, choose, make_exclusive, within_wrist
from .types import Instance, Result

log = logging.getLogger(__name__)
OFFLINE = "landmarks"


def segment(image, backend: str = "auto", *, min_confidence: float = 0.5, max_hands: int = 6,
            max_faces: int = 20, box_scale: float = 1.5, refine: bool = True, profile_faces: bool = True,
            mirror_hands: bool = True, draw: bool = True, hints=(), edits=None, **backend_options) -> Result:
    """Find every face and hand in `image` (path, bytes, PIL image or RGB array) and mask each one.

    `backend`: "auto" (best available, see `Result.backend`), "landmarks" (offline), or a registered model
    backend. A backend that cannot run or fails falls back to the offline one; `Result.messages` says why.
    `hints`: points [(x, y), ...] in the input's pixels where a face or hand was missed; each is looked at
    again (see `core.detect.detect_hints`), and `Result.messages` says where nothing was found. What a hint
    finds is numbered after the automatic instances, in the hints' order, so no earlier label changes.
    `edits`: a visitor's corrections, as a `core.Edits` or a dict with any of these keys, points in the input's
    pixels: "hints" (as above), "add" ([(x, y), ...] parts that belong to the face or hand next to them: an
    uncovered finger, a forehead), "cut" (parts of a mask that do not belong), "remove" (labels such as "hand-2",
    or boxes, of instances to leave out; the others keep their labels). See `core.masks.clicks`.
    Raises `core.ImageLoadError` (a ValueError with a one-sentence message) for unusable input.
    """
    check_options(min_confidence=min_confidence, max_hands=max_hands, max_faces=max_faces, box_scale=box_scale)
    edits = as_edits(edits)
    if not isinstance(hints, (list, tuple, np.ndarray)):
        raise ValueError("Hints must be a list of (x, y) points in the photo's pixels.")
    hints = tuple(map(tuple, hints)) if isinstance(hints, np.ndarray) else tuple(hints)
    hints += tuple(edits.hints)
    t = _Timer()
    rgb, original_pixels = load_image_with_pixels(image)
    t.lap("load")
    messages: list = []
    h, w = rgb.shape[:2]
    if original_pixels > h * w:
        messages.append(f"The photo ({original_pixels / 1e6:.0f} MP) was downscaled to {w}x{h} for processing; "
                        f"masks are at that size.")
    opts = DetectOptions(min_confidence=float(min_confidence), max_hands=int(max_hands), max_faces=int(max_faces),
                         profile_faces=bool(profile_faces), mirror_hands=bool(mirror_hands))
    trace = Trace()
    detections = detect(rgb, opts, trace)
    automatic = len(detections)
    scale = (h * w / original_pixels) ** 0.5 if original_pixels > h * w else 1.0  # a downscaled photo
    if hints:
        detections, notes = detect_hints(rgb, detections, _points(hints, scale), opts)
        messages += notes
    t.lap("detect")
    add, cut = _points(edits.add, scale, "Added points"), _points(edits.cut, scale, "Cut points")
    result = finish(rgb, detections, backend, messages, t, box_scale=box_scale, refine=refine,
                    draw=draw and not edits.removed, automatic=automatic, add=add, cut=cut, **backend_options)
    result.passes = trace.summary()
    if edits.removed:
        result = apply_removals(result, [_scaled(r, scale) for r in edits.removed], draw=False)
        if draw:
            result.annotated = annotate(rgb, result.instances)
            t.lap("render")
            result.timings = dict(t.laps, total=sum(v for k, v in t.laps.items() if k != "total"))
    return result


def finish(rgb: np.ndarray, detections: list, backend, messages: list, t: "_Timer | None" = None, *,
           box_scale: float = 1.5, refine: bool = True, draw: bool = True, automatic: int | None = None,
           add=(), cut=(), **backend_options) -> Result:
    """The stages after detection, shared by photos and video frames: prompts → backend → select → label →
    render. `backend`: a name, or a caller's own `Backend` (a clip's, keeping its masks between frames).
    `detections` may come from anywhere (the photo detector, a video tracker); the first `automatic` of
    them are numbered left to right, the rest (found at hints) after them in order. `add` and `cut`: a visitor's
    points (`core.masks.clicks`), each given to the instance it belongs to."""
    t = t or _Timer()
    prompts = build_prompts(detections, rgb.shape, float(box_scale))
    if add or cut:
        prompts = _with_points(prompts, add, cut, messages)
    t.lap("prompts")
    skipped: dict = {}
    chosen, cands = _run_backend(backend, rgb, prompts, messages, dict(backend_options, refine=refine), skipped)
    t.lap("segment")
    picked = choose(prompts, cands, rgb)
    if not cands.trusted and (add or cut):  # a backend without point prompts: its candidates at the points
        picked = [(with_model_candidates(p, m, list(own) + list(cands.shared)) if p.add_points or p.cut_points
                   else m, note) for p, (m, note), own in zip(prompts, picked, cands.per_prompt)]
    forearm = 0.0 if cands.trusted else FOREARM  # a model's border at the wrist's end stays
    picked = [(within_wrist(p, m, forearm), note) for p, (m, note) in zip(prompts, picked)]
    masks = make_exclusive(prompts, [m for m, _ in picked])
    if add or cut:
        masks = enforce(prompts, masks)
    instances = _label(prompts, masks, [n for _, n in picked], chosen, automatic)
    t.lap("select")
    result = Result(image=rgb, instances=instances, backend=chosen, timings=t.laps, messages=messages,
                    skipped=skipped)
    if draw:
        result.annotated = annotate(rgb, instances)
        t.lap("render")
    t.laps["total"] = sum(v for k, v in t.laps.items() if k != "total")
    return result


def _run_backend(requested, rgb, prompts, messages: list, options: dict, skipped: dict):
    """Run the requested backend (or the best available for "auto"); fall back to the offline one, saying why.

    In "auto", a backend that is simply not set up is mentioned only if it says its absence matters to users
    (Replicate without a token: the brief asks the UI to say so); a backend that fails is always mentioned.
    `skipped` collects the backends "auto" passed over as not set up, with why."""
    if isinstance(requested, backends.Backend):  # a caller's own instance (a clip keeps its masks between frames)
        return requested.name, requested.propose(rgb, prompts, **options)
    auto = requested in (None, "", "auto")
    if auto:
        order = list(backends.AUTO_ORDER)
    else:
        backends.get(requested)  # unknown names are a clear ValueError, not a silent fallback
        order = [requested]
    for name in order:
        if name == OFFLINE:
            break
        b = backends.get(name)
        ready, why = b.available_for(options)
        if not ready:
            if auto:
                skipped[name] = why
            if not auto or b.announce_absence:
                messages.append(f"{name} not used: {why}")
            continue
        try:
            return name, b.propose(rgb, prompts, **options)
        except BackendUnavailable as exc:
            messages.append(f"{name} not used: {exc}")
        except Exception as exc:  # a model backend must never take the app down: fall back, say so
            log.warning("backend %s failed: %s", name, type(exc).__name__)
            messages.append(f"{name} failed ({type(exc).__name__}); used the offline landmarks backend.")
    return OFFLINE, backends.get(OFFLINE).propose(rgb, prompts, **options)


def _label(prompts, masks, notes, backend_name, automatic: int | None = None) -> list:
    """Instances numbered left to right per kind: face-1, face-2, hand-1 (left), ...; those past the first
    `automatic` prompts (found at a visitor's hints) come after them in hint order, so a click that finds a hand
    never renumbers the others. A detection that carries a track id (video) keeps that number instead, so its
    label does not change from frame to frame."""
    automatic = len(prompts) if automatic is None else automatic
    instances = []
    for kind in ("face", "hand"):
        idx = [i for i, p in enumerate(prompts) if p.detection.kind == kind]
        idx.sort(key=lambda i: (i >= automatic, (prompts[i].detection.box[0] + prompts[i].detection.box[2]) / 2
                                if i < automatic else i))
        for n, i in enumerate(idx, 1):
            det = prompts[i].detection
            number = det.track_id if det.track_id is not None else n
            label = f"{kind}-{number}" + (f" ({det.handedness})" if det.handedness else "")
            instances.append(Instance(
                kind=kind, label=label, box=_mask_box(masks[i], det.box), score=det.score, mask=masks[i],
                landmarks=det.landmarks, landmark_kind=det.landmark_kind, handedness=det.handedness,
                backend=OFFLINE if notes[i] else backend_name, source=det.source, note=notes[i],
                track_id=det.track_id))
    return instances


def _with_points(prompts: list, add: list, cut: list, messages: list) -> list:
    """The prompts with each of a visitor's points given to the instance it belongs to; a point next to none is
    said in `messages`."""
    mine: dict = {}
    for which, points in (("add", add), ("cut", cut)):
        for x, y in points:
            i = owner(prompts, x, y)
            if i is None:
                messages.append(f"The point ({x:.0f}, {y:.0f}) is not on or next to a face or hand; nothing was "
                                f"{'added' if which == 'add' else 'cut'} there.")
                continue
            mine.setdefault(i, {"add": [], "cut": []})[which].append((x, y))
    return [with_points(p, mine[i]["add"], mine[i]["cut"]) if i in mine else p for i, p in enumerate(prompts)]


def _scaled(removed, scale: float):
    """A removal: a label as it is, a box in the input's pixels scaled to the loaded photo."""
    return removed if isinstance(removed, str) else tuple(float(v) * scale for v in removed)


def _points(hints, scale: float, what: str = "Hints") -> list:
    """Hints as float (x, y) pairs in the loaded photo's pixels; anything else is one clear ValueError."""
    try:
        points = [(float(x) * scale, float(y) * scale) for x, y in hints]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a list of (x, y) points in the photo's pixels.") from None
    if not all(np.isfinite(p).all() for p in points):
        raise ValueError(f"{what} must be finite (x, y) points in the photo's pixels.")
    return points


def _mask_box(mask: np.ndarray, fallback) -> tuple:
    """The mask's bounds, or the detection's box rounded when the mask is empty."""
    return mask_bounds(mask) or tuple(int(round(v)) for v in fallback)


class _Timer:
    def __init__(self):
        self.laps: dict = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = (now - self._t) * 1000.0
        self._t = now
