"""Timing helpers: best-of-N wall time, with the backends' repetitions interleaved."""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from typing import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """The fastest of ``repeat`` runs of ``number`` calls, in seconds per call."""
    return best_times({"fn": fn}, repeat=repeat, number=number)["fn"]


def best_times(fns: dict, repeat: int = 5, number: int = 1, min_seconds: float = 0.0) -> dict:
    """Best-of-N seconds per call for each of ``fns`` (name -> callable).

    The callables take turns (one run of each per round), so that drift of
    the machine (frequency, other load) hits every one alike; each is called
    once first as a warm-up (imports, caches, first-call allocation). Runs at
    least ``repeat`` rounds, and more until ``min_seconds`` of timed work per
    callable has been done (at most ``20 * repeat`` rounds). The garbage
    collector is off while timing, as in :mod:`timeit`.
    """
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    spent = {name: 0.0 for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        rounds = 0
        while rounds < repeat or (rounds < 20 * repeat and min(spent.values()) < min_seconds):
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                elapsed = time.perf_counter() - start
                spent[name] += elapsed
                best[name] = min(best[name], elapsed / number)
            rounds += 1
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def block(x):
    """Wait for asynchronous results (JAX arrays, also inside dicts/lists/tuples) so that timings include the work."""
    if isinstance(x, Mapping):
        for value in x.values():
            block(value)
        return x
    if isinstance(x, (list, tuple)):
        for value in x:
            block(value)
        return x
    ready = getattr(x, "block_until_ready", None)
    if ready is not None:
        ready()
    return x
