"""glibc malloc settings for processes that serve or measure many requests on threads.

glibc gives each thread its own malloc arena; freed photo buffers then stay spread over many arenas and RSS creeps
up under concurrent load (+108 MB over 150 requests measured, +33 MB with 2 arenas; bench/soak.py). The same as
MALLOC_ARENA_MAX=2, applied before any request thread exists. No-op off glibc or when MALLOC_ARENA_MAX is set.

Large frees are not always given back either: a closed MediaPipe Hands graph's ~52 MB stays in malloc's free lists
(RSS unchanged) until `malloc_trim` hands it to the kernel (bench/option_memory.py).
"""
from __future__ import annotations

import os


def _libc():
    import ctypes

    return ctypes.CDLL("libc.so.6")


def limit_malloc_arenas(n: int = 2) -> None:
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        _libc().mallopt(-8, n)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def give_back_freed_memory() -> None:
    """malloc_trim(0): free pages of every arena go back to the kernel (a few ms; call after freeing a lot)."""
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass
