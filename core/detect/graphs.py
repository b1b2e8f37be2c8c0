"""One small, bounded set of MediaPipe graphs per process, each used under its own lock.

MediaPipe's `mp.solutions` objects are graphs with internal state and threads of their own: they must not be
shared between threads without a lock, and each one costs tens of megabytes (a lite Hands graph ~52 MB once it has
run) and several threads. So graphs are never created per option value. Face detection runs at one fixed low
threshold and callers filter the scores it returns (`FACE_FLOOR`). The Hands solution does not report its palm
detector's score, so its threshold is part of the graph: callers' confidences are rounded to
`HANDS_CONFIDENCE_STEP`, and at most `MAX_EXTRA_HAND_GRAPHS` graphs for non-default confidences live at once (the
least recently used confidence's graphs are closed, and the memory they held is handed back to the kernel). Every
other option (how many faces or hands to keep) is applied to the results, never to the graph.

The default confidence keeps one graph per view (photo, mirror, lower, crops), built once. A non-default one has a
small pool instead: a view takes whichever of its graphs is free, and a second is made only when two views run at
once (`HAND_GRAPHS_PER_CONFIDENCE`). Sharing is exact: a static-mode Hands graph keeps nothing from one photo to
the next (tests/test_graphs.py). One graph per view there cost five graphs per confidence, more than the LRU held,
so every request built and closed one, and freed graphs piled up in malloc: +356 MB over 30 values with 2 malloc
arenas, +858 MB with glibc's default (bench/option_memory.py). Two confidences' pools (four graphs) held +230 MB
after 30 values (2 arenas, the served app's setting); one pool, +120 MB: a caller alternating two non-default
confidences now rebuilds a pool each time (a second or so), which the default confidence never does.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

FACE_FLOOR = 0.1  # face detectors run at this threshold; callers keep scores >= their own (the UI's minimum)
MAX_HANDS_PER_GRAPH = 12  # the most hands one Hands graph reports; callers keep their first max_hands
HANDS_CONFIDENCE_STEP = 0.05  # the UI slider's step: confidences are rounded to it for the Hands graphs
DEFAULT_HANDS_CONFIDENCE = 0.5
MAX_EXTRA_HAND_GRAPHS = 2  # graphs for non-default hand confidences kept at once (one confidence's pool)
HAND_GRAPHS_PER_CONFIDENCE = 2  # detect() runs at most two Hands views at once (photo | mirror, crop0 | crop1)

_lock = threading.Lock()
_pinned: dict = {}  # key -> _Graph: the defaults, created once
_extra: OrderedDict = OrderedDict()  # (complexity, confidence) -> [_Graph]: other confidences, least recent first


class _Graph:
    """A graph and its lock; `closed` once evicted, so a thread that waited for its lock looks again."""
    __slots__ = ("graph", "lock", "closed")

    def __init__(self, graph):
        self.graph, self.lock, self.closed = graph, threading.Lock(), False


def hands_confidence(conf: float) -> float:
    """The Hands graph threshold used for a caller's confidence (rounded to the slider's step, within 0.05..0.95)."""
    steps = round(float(conf) / HANDS_CONFIDENCE_STEP)
    return round(min(max(steps * HANDS_CONFIDENCE_STEP, 0.05), 0.95), 2)


def _factory(key):
    """A graph for `key`, opened with MediaPipe's start-up lines left out of stderr (core/native_logs.py)."""
    from ..native_logs import opened

    return opened(lambda: _make(key))


def _make(key):
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


def _pinned_graph(key) -> _Graph:
    with _lock:
        if key not in _pinned:
            _pinned[key] = _Graph(_factory(key))
        return _pinned[key]


def _pooled_graph(key) -> _Graph:
    """A graph of `key`'s confidence that this thread now holds (its lock acquired), from that confidence's pool."""
    family = key[1:3]
    while True:
        evicted = []
        with _lock:
            pool = _extra.get(family)
            if pool is None:
                pool = _extra[family] = []
            _extra.move_to_end(family)
            entry = next((g for g in pool if g.lock.acquire(blocking=False)), None)
            if entry is None and len(pool) < HAND_GRAPHS_PER_CONFIDENCE:
                try:
                    entry = _Graph(_factory(key))
                except BaseException:
                    if not pool:
                        del _extra[family]
                    raise
                entry.lock.acquire()
                pool.append(entry)
                while sum(map(len, _extra.values())) > MAX_EXTRA_HAND_GRAPHS and next(iter(_extra)) != family:
                    evicted += _extra.popitem(last=False)[1]
            busy = pool[0] if entry is None else None
        if evicted:
            _close(evicted)
        if entry is not None:
            return entry
        busy.lock.acquire()  # every graph of this confidence is in use: wait for one
        if not busy.closed:
            return busy
        busy.lock.release()


def _close(evicted: list) -> None:
    """Close evicted graphs once no thread is using them, then give their memory back to the kernel."""
    for entry in evicted:
        with entry.lock:
            entry.graph.close()
            entry.closed = True
    _give_back_memory()


def _give_back_memory() -> None:
    from ..malloc import give_back_freed_memory

    give_back_freed_memory()


def run(key: tuple, rgb):
    """Run the graph named by `key` on an RGB uint8 array; returns MediaPipe's result object.

    Keys: ("face_detection", 0|1, view), ("face_mesh",), ("pose",), ("selfie",),
    ("hands", complexity, confidence, view).
    A view name gives a second graph of the same model so that two views can run at once on both cores; for a
    non-default hand confidence the view is ignored and the confidence's pool decides."""
    if key[0] == "hands" and key[2] != DEFAULT_HANDS_CONFIDENCE:
        entry = _pooled_graph(key)  # returned locked
    else:
        entry = _pinned_graph(key)
        entry.lock.acquire()
    try:
        return entry.graph.process(rgb)
    finally:
        entry.lock.release()


def count() -> int:
    """How many graphs are alive (for tests and benchmarks)."""
    with _lock:
        return len(_pinned) + sum(map(len, _extra.values()))
