"""Cap glibc's malloc arenas, for processes that serve or measure many requests on threads.

glibc gives each thread its own malloc arena; freed photo buffers then stay spread over many arenas and RSS creeps
up under concurrent load (+108 MB over 150 requests measured, +33 MB with 2 arenas; bench/soak.py). The same as
MALLOC_ARENA_MAX=2, applied before any request thread exists. No-op off glibc or when MALLOC_ARENA_MAX is set.
"""
from __future__ import annotations

import os


def limit_malloc_arenas(n: int = 2) -> None:
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass
