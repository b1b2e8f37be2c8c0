"""Option values never create graphs without bound (each MediaPipe graph holds tens of MB and several threads).

Before graphs were bounded, 50 distinct confidences / hand counts took one process from 364 MB and 17 threads to
9.5 GB and 517 threads (issue 9); the UI's sliders alone could do that through the HTTP API. Bounded, 30 hand
confidences still grew RSS by 356 MB (858 MB with glibc's default arenas): closed graphs' memory stayed in malloc,
and one graph per view rebuilt a graph on every request (bench/option_memory.py).
"""
import numpy as np
import psutil

from core import segment
from core.detect import graphs

from .conftest import data_path, face_and_hands
from core.loading import load_image


def test_distinct_option_values_keep_graphs_threads_and_memory_bounded():
    rgb = load_image(face_and_hands())
    proc = psutil.Process()
    segment(rgb, backend="landmarks", draw=False)
    base_graphs, base_threads, base_rss = graphs.count(), proc.num_threads(), proc.memory_info().rss
    for i in range(30):
        segment(rgb, backend="landmarks", draw=False, min_confidence=0.2 + i * 0.0213, max_hands=1 + i % 12)
    assert graphs.count() <= base_graphs + graphs.MAX_EXTRA_HAND_GRAPHS
    assert proc.num_threads() <= base_threads + 8 * graphs.MAX_EXTRA_HAND_GRAPHS
    assert proc.memory_info().rss - base_rss < 200 * 2**20  # ~120 MB measured: two live Hands graphs (230 with four)


def test_confidence_and_count_are_applied_to_results():
    """The face detector runs at a fixed floor and the caller's threshold filters its scores; max_hands caps the
    hands kept. So the options still change results without changing graphs."""
    rgb = load_image(face_and_hands())
    all_hands = segment(rgb, backend="landmarks", draw=False).hands
    assert len(all_hands) >= 2
    assert len(segment(rgb, backend="landmarks", draw=False, max_hands=1).hands) == 1
    face = load_image(data_path("celebamask_hq/images/" + sorted(
        p.name for p in data_path("celebamask_hq/images").iterdir())[0]))
    faces = segment(face, backend="landmarks", draw=False).faces
    assert faces and faces[0].score < 0.999
    assert not segment(face, backend="landmarks", draw=False, min_confidence=0.999, profile_faces=False).faces


def _hands(result) -> list:
    return [(h.label, tuple(np.round(h.box, 3))) for h in result.hands]


def test_a_repeated_confidence_reuses_its_graphs_and_a_new_one_costs_at_most_two(monkeypatch):
    """A non-default hand confidence gets at most two graphs (the views that run at once), and asking for it again
    creates none: before, its five views (photo, mirror, lower, crop0, crop1) cycled through an LRU of four, so
    every request built and closed a graph (~52 MB and ~0.1 s each)."""
    rgb = load_image(face_and_hands())
    segment(rgb, backend="landmarks", draw=False)
    made = []
    real = graphs._factory
    monkeypatch.setattr(graphs, "_factory", lambda key: made.append(key) or real(key))
    first = segment(rgb, backend="landmarks", draw=False, min_confidence=0.31)
    assert 1 <= len([k for k in made if k[0] == "hands"]) <= 2
    made.clear()
    again = segment(rgb, backend="landmarks", draw=False, min_confidence=0.31)
    assert made == []
    assert _hands(again) == _hands(first)


def test_a_hands_graph_keeps_no_state_between_photos():
    """Views share a non-default confidence's graphs, which is exact only because a static-mode Hands graph
    forgets each photo: the same graph gives a photo the same hands after another photo as a fresh graph does."""
    import mediapipe as mp

    a = load_image(face_and_hands())
    b = np.ascontiguousarray(a[::-1, ::-1])

    def hands(graph, rgb):
        res = graph.process(rgb)
        return [[(p.x, p.y) for p in lm.landmark] for lm in res.multi_hand_landmarks or []]

    def make():
        return mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=graphs.MAX_HANDS_PER_GRAPH,
                                        model_complexity=0, min_detection_confidence=0.3)

    with make() as fresh:
        expected = hands(fresh, a)
    with make() as used:
        hands(used, b)
        hands(used, a[:400])
        assert expected and hands(used, a) == expected


def test_evicted_graphs_give_their_memory_back(monkeypatch):
    """A closed graph's ~52 MB stays with glibc's malloc unless it is trimmed: graphs evicted from the LRU are
    followed by malloc_trim, so memory does not pile up over many option values."""
    rgb = load_image(face_and_hands())
    trims = []
    monkeypatch.setattr(graphs, "_give_back_memory", lambda: trims.append(1), raising=False)
    for c in (0.15, 0.25, 0.35, 0.45):
        segment(rgb, backend="landmarks", draw=False, min_confidence=c)
    assert trims


def test_concurrent_requests_at_many_confidences_get_the_sequential_hands():
    """Requests at more confidences than the pools hold, on three threads at once: graphs are evicted and closed
    while other threads wait for them, and every request still gets what it gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    rgb = load_image(face_and_hands())
    confs = [0.2, 0.35, 0.65, 0.8, 0.35, 0.2, 0.8, 0.65, 0.2]
    alone = {c: _hands(segment(rgb, backend="landmarks", draw=False, min_confidence=c)) for c in set(confs)}
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda c: _hands(segment(rgb, backend="landmarks", draw=False, min_confidence=c)), confs))
    assert got == [alone[c] for c in confs]
    assert graphs.count() <= len(graphs._pinned) + graphs.MAX_EXTRA_HAND_GRAPHS
