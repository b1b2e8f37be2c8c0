"""Option values never create graphs without bound (each MediaPipe graph holds tens of MB and several threads).

Before graphs were bounded, 50 distinct confidences / hand counts took one process from 364 MB and 17 threads to
9.5 GB and 517 threads (issue 9); the UI's sliders alone could do that through the HTTP API.
"""
import numpy as np
import psutil

from core import segment
from core.detect import graphs

from .conftest import data_path
from core.loading import load_image


def test_distinct_option_values_keep_graphs_threads_and_memory_bounded():
    rgb = load_image(data_path("egohands/images/01.jpg"))
    proc = psutil.Process()
    segment(rgb, backend="landmarks", draw=False)
    base_graphs, base_threads, base_rss = graphs.count(), proc.num_threads(), proc.memory_info().rss
    for i in range(30):
        segment(rgb, backend="landmarks", draw=False, min_confidence=0.2 + i * 0.0213, max_hands=1 + i % 12)
    assert graphs.count() <= base_graphs + graphs.MAX_EXTRA_HAND_GRAPHS
    assert proc.num_threads() <= base_threads + 8 * graphs.MAX_EXTRA_HAND_GRAPHS
    assert proc.memory_info().rss - base_rss < 800 * 2**20


def test_confidence_and_count_are_applied_to_results():
    """The face detector runs at a fixed floor and the caller's threshold filters its scores; max_hands caps the
    hands kept. So the options still change results without changing graphs."""
    rgb = load_image(data_path("egohands/images/01.jpg"))
    all_hands = segment(rgb, backend="landmarks", draw=False).hands
    assert len(all_hands) >= 2
    assert len(segment(rgb, backend="landmarks", draw=False, max_hands=1).hands) == 1
    face = load_image(data_path("celebamask_hq/images/" + sorted(
        p.name for p in data_path("celebamask_hq/images").iterdir())[0]))
    faces = segment(face, backend="landmarks", draw=False).faces
    assert faces and faces[0].score < 0.999
    assert not segment(face, backend="landmarks", draw=False, min_confidence=0.999, profile_faces=False).faces


def test_evicted_graphs_give_their_memory_back(monkeypatch):
    """A closed graph's ~52 MB stays with glibc's malloc unless it is trimmed: graphs evicted from the LRU are
    followed by malloc_trim, so memory does not pile up over many option values."""
    rgb = load_image(data_path("egohands/images/01.jpg"))
    trims = []
    monkeypatch.setattr(graphs, "_give_back_memory", lambda: trims.append(1), raising=False)
    for c in (0.15, 0.25, 0.35, 0.45):
        segment(rgb, backend="landmarks", draw=False, min_confidence=c)
    assert trims
