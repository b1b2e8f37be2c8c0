"""One small, bounded set of MediaPipe graphs per process, each used under its own lock.

MediaPipe's `mp.solutions` objects are graphs with internal state and threads of their own: they must not be
shared between threads without a lock, and each one costs tens of megabytes and several threads. So graphs are
never created per option value. Face detection runs at one fixed low threshold and callers filter the scores it
returns (`FACE_FLOOR`). The Hands solution does not report its palm detector's score, so its threshold is part of
the graph: callers' confidences are rounded to `HANDS_CONFIDENCE_STEP` and at most `MAX_EXTRA_HAND_GRAPHS` graphs
for non-default confidences live at once (least recently used ones are closed, and the ~52 MB each held is handed
back to the kernel: glibc keeps a closed graph's memory otherwise). Every other option (how many
faces or hands to keep) is applied to the results, never to the graph.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

FACE_FLOOR = 0.1  # face detectors run at this threshold; callers keep scores >= their own (the UI's minimum)
MAX_HANDS_PER_GRAPH = 12  # the most hands one Hands graph reports; callers keep their first max_hands
HANDS_CONFIDENCE_STEP = 0.05  # the UI slider's step: confidences are rounded to it for the Hands graphs
DEFAULT_HANDS_CONFIDENCE = 0.5
MAX_EXTRA_HAND_GRAPHS = 4  # graphs for non-default hand confidences kept at once (each view counts as one)

_lock = threading.Lock()
_pinned: dict = {}  # key -> (graph, lock): the defaults, created once
_extra: OrderedDict = OrderedDict()  # key -> (graph, lock): other hand confidences, least recently used first


def hands_confidence(conf: float) -> float:
    """The Hands graph threshold used for a caller's confidence (rounded to the slider's step, within 0.05..0.95)."""
    steps = round(float(conf) / HANDS_CONFIDENCE_STEP)
    return round(min(max(steps * HANDS_CONFIDENCE_STEP, 0.05), 0.95), 2)


def _factory(key):
    import mediapipe as mp

    kind = key[0]
    if kind == "face_detection":
        return mp.solutions.face_detection.FaceDetection(min_detection_confidence=FACE_FLOOR, model_selection=key[1])
    if kind == "face_mesh":
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                               min_detection_confidence=0.3)
    if kind == "hands":
        _, complexity, conf, _view = key
        return mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=MAX_HANDS_PER_GRAPH,
                                        model_complexity=complexity, min_detection_confidence=conf)
    if kind == "selfie":  # the person silhouette that refines mask borders (core/masks/silhouette.py)
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    if kind == "pose":
        return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False,
                                      min_detection_confidence=0.5)
    raise KeyError(key)


def _get(key):
    pinned = not (key[0] == "hands" and key[2] != DEFAULT_HANDS_CONFIDENCE)
    evicted = []
    with _lock:
        if pinned:
            if key not in _pinned:
                _pinned[key] = (_factory(key), threading.Lock())
            return _pinned[key]
        if key in _extra:
            _extra.move_to_end(key)
            return _extra[key]
        _extra[key] = entry = (_factory(key), threading.Lock())
        while len(_extra) > MAX_EXTRA_HAND_GRAPHS:
            evicted.append(_extra.popitem(last=False)[1])
    for graph, lock in evicted:  # close outside the registry lock, once no thread is using the graph
        with lock:
            graph.close()
    if evicted:
        _give_back_memory()
    return entry


def _give_back_memory() -> None:
    from ..malloc import give_back_freed_memory

    give_back_freed_memory()


def run(key: tuple, rgb):
    """Run the graph named by `key` on an RGB uint8 array; returns MediaPipe's result object.

    Keys: ("face_detection", 0|1, view), ("face_mesh",), ("pose",), ("selfie",),
    ("hands", complexity, confidence, view).
    A view name gives a second graph of the same model so that two views can run at once on both cores."""
    graph, lock = _get(key)
    with lock:
        return graph.process(rgb)


def count() -> int:
    """How many graphs are alive (for tests and benchmarks)."""
    with _lock:
        return len(_pinned) + len(_extra)
