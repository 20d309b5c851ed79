"""Timing helpers: best-of-N wall time of a callable, after a warm-up call."""

from __future__ import annotations

import time
from typing import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """The fastest of ``repeat`` runs of ``number`` calls, in seconds per call."""
    fn()  # warm-up: imports, caches, first-call allocation
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def block(x):
    """Wait for asynchronous results (JAX arrays) so that timings include the work."""
    ready = getattr(x, "block_until_ready", None)
    if ready is not None:
        ready()
    return x
