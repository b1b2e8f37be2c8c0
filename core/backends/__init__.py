"""Mask backends behind one interface. `auto` picks the first that is available, in preference order."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, Candidates
from .landmarks import LandmarksBackend
from .replicate import ReplicateBackend
from .sam2 import Sam2Backend

_REGISTRY: dict = {"landmarks": LandmarksBackend}
AUTO_ORDER = ["landmarks"]  # best first; model-based backends are inserted ahead of the offline default


def register(name: str, factory, prefer: bool = True) -> None:
    """Add a backend. `prefer` puts it ahead of the offline default in `auto`."""
    _REGISTRY[name] = factory
    if name not in AUTO_ORDER:
        AUTO_ORDER.insert(0 if prefer else len(AUTO_ORDER), name)


register("replicate", ReplicateBackend)  # SAM 2 on Replicate; needs a token (option or REPLICATE_API_TOKEN)
# Local SAM 2 (optional install, weights on this machine): after a token-backed Replicate, before the offline default.
_REGISTRY["sam2"] = Sam2Backend
AUTO_ORDER.insert(AUTO_ORDER.index("landmarks"), "sam2")


def names() -> list:
    return list(_REGISTRY)


def get(name: str) -> Backend:
    if name not in _REGISTRY:
        raise ValueError(f"Unknown backend '{name}'. Choose one of: auto, {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]()


__all__ = ["Backend", "BackendUnavailable", "Candidates", "register", "names", "get", "AUTO_ORDER"]
