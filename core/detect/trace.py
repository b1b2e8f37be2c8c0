"""A record of one detection: which passes of the plan ran, what each cost and what it found.

`detect(rgb, options, trace)` fills a `Trace`; `core.segment` keeps its summary as `Result.passes`. Model
invocations are counted where each model is called (`count`), for the pass running on this thread, so the cost
contract (tests/test_cost_contract.py) counts work without a stopwatch. Outside a traced detection `count` does
nothing (video, hints, benches calling the detectors directly).
"""
from __future__ import annotations

import contextvars
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

_current: contextvars.ContextVar = contextvars.ContextVar("detect_pass", default=None)


@dataclass
class PassRecord:
    ms: float = 0.0
    calls: Counter = field(default_factory=Counter)  # model -> invocations
    found: list = field(default_factory=list)  # [(kind, box)] what this pass proposed


class Trace:
    """Passes in the order they ran (a pass that did not run is absent), each a `PassRecord`."""

    def __init__(self):
        self.passes: dict = {}
        self._lock = threading.Lock()

    def ran(self) -> list:
        return list(self.passes)

    def calls(self) -> Counter:
        total = Counter()
        for rec in self.passes.values():
            total.update(rec.calls)
        return total

    def summary(self) -> dict:
        """{pass: {"ms", "calls": {model: n}, "found": n}} in the order the passes ran (for `Result.passes`)."""
        return {name: {"ms": round(rec.ms, 2), "calls": dict(rec.calls), "found": len(rec.found)}
                for name, rec in self.passes.items()}

    def run(self, name: str, fn, *args):
        """Run `fn(*args)` as pass `name`: its model calls and time are recorded under that name."""
        with self._lock:
            rec = self.passes.setdefault(name, PassRecord())
        token = _current.set((self, rec))
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            rec.ms += (time.perf_counter() - t) * 1000.0
            _current.reset(token)

    def order(self, names: list) -> None:
        """Passes in the plan's order (lanes run at once, so the order they started in varies)."""
        with self._lock:
            self.passes = {n: self.passes[n] for n in names if n in self.passes}

    def found(self, name: str, kind: str, boxes) -> None:
        with self._lock:
            self.passes.setdefault(name, PassRecord()).found.extend((kind, tuple(b)) for b in boxes)


def count(model: str, n: int = 1) -> None:
    """One invocation of `model` ("hands", "blazeface", "face_mesh", "centerface", "pose") by the current pass."""
    cur = _current.get()
    if cur is not None:
        trace, rec = cur
        with trace._lock:
            rec.calls[model] += n


def submit(pool, fn, *args):
    """`pool.submit(fn, *args)` carrying this thread's pass, so the worker's model calls count for it."""
    return pool.submit(contextvars.copy_context().run, fn, *args)
