"""`segment()`: load → detect → prompts → backend candidates → choose by landmarks → label → render."""
from __future__ import annotations

import logging
import time

import numpy as np

from . import backends
from .backends.base import BackendUnavailable
from .detect import DetectOptions, detect, detect_hints
from .detect.geometry import mask_bounds
from .loading import load_image_with_pixels
from .options import check_options
from .masks.prompts import build_prompts
from .render import annotate
from .masks.selection import choose, make_exclusive
from .types import Instance, Result

log = logging.getLogger(__name__)
OFFLINE = "landmarks"


def segment(image, backend: str = "auto", *, min_confidence: float = 0.5, max_hands: int = 6,
            max_faces: int = 20, box_scale: float = 1.5, refine: bool = True, profile_faces: bool = True,
            mirror_hands: bool = True, draw: bool = True, hints=(), **backend_options) -> Result:
    """Find every face and hand in `image` (path, bytes, PIL image or RGB array) and mask each one.

    `backend`: "auto" (best available, see `Result.backend`), "landmarks" (offline), or a registered model
    backend. A backend that cannot run or fails falls back to the offline one; `Result.messages` says why.
    `hints`: points [(x, y), ...] in the input's pixels where a face or hand was missed; each is looked at
    again (see `core.detect.detect_hints`), and `Result.messages` says where nothing was found.
    Raises `core.ImageLoadError` (a ValueError with a one-sentence message) for unusable input.
    """
    check_options(min_confidence=min_confidence, max_hands=max_hands, max_faces=max_faces, box_scale=box_scale)
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
    detections = detect(rgb, opts)
    if hints:
        scale = (h * w / original_pixels) ** 0.5 if original_pixels > h * w else 1.0  # a downscaled photo
        detections, notes = detect_hints(rgb, detections, _points(hints, scale), opts)
        messages += notes
    t.lap("detect")
    return finish(rgb, detections, backend, messages, t, box_scale=box_scale, refine=refine, draw=draw,
                  **backend_options)


def finish(rgb: np.ndarray, detections: list, backend: str, messages: list, t: "_Timer | None" = None, *,
           box_scale: float = 1.5, refine: bool = True, draw: bool = True, **backend_options) -> Result:
    """The stages after detection, shared by photos and video frames: prompts → backend → select → label →
    render. `detections` may come from anywhere (the photo detector, a video tracker)."""
    t = t or _Timer()
    prompts = build_prompts(detections, rgb.shape, float(box_scale))
    t.lap("prompts")
    skipped: dict = {}
    chosen, cands = _run_backend(backend, rgb, prompts, messages, dict(backend_options, refine=refine), skipped)
    t.lap("segment")
    picked = [(m if p.limit is None else m & p.limit, note) for p, (m, note) in zip(prompts, choose(prompts, cands))]
    masks = make_exclusive(prompts, [m for m, _ in picked])
    instances = _label(prompts, masks, [n for _, n in picked], chosen)
    t.lap("select")
    result = Result(image=rgb, instances=instances, backend=chosen, timings=t.laps, messages=messages,
                    skipped=skipped)
    if draw:
        result.annotated = annotate(rgb, instances)
        t.lap("render")
    t.laps["total"] = sum(v for k, v in t.laps.items() if k != "total")
    return result


def _run_backend(requested: str, rgb, prompts, messages: list, options: dict, skipped: dict):
    """Run the requested backend (or the best available for "auto"); fall back to the offline one, saying why.

    In "auto", a backend that is simply not set up is mentioned only if it says its absence matters to users
    (Replicate without a token: the brief asks the UI to say so); a backend that fails is always mentioned.
    `skipped` collects the backends "auto" passed over as not set up, with why."""
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


def _label(prompts, masks, notes, backend_name) -> list:
    """Instances numbered left to right per kind: face-1, face-2, hand-1 (left), ... A detection that carries a
    track id (video) keeps that number instead, so its label does not change from frame to frame."""
    instances = []
    for kind in ("face", "hand"):
        idx = [i for i, p in enumerate(prompts) if p.detection.kind == kind]
        idx.sort(key=lambda i: (prompts[i].detection.box[0] + prompts[i].detection.box[2]) / 2)
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


def _points(hints, scale: float) -> list:
    """Hints as float (x, y) pairs in the loaded photo's pixels; anything else is one clear ValueError."""
    try:
        points = [(float(x) * scale, float(y) * scale) for x, y in hints]
    except (TypeError, ValueError):
        raise ValueError("Hints must be a list of (x, y) points in the photo's pixels.") from None
    if not all(np.isfinite(p).all() for p in points):
        raise ValueError("Hints must be finite (x, y) points in the photo's pixels.")
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
