"""Where a scope's random keys come from.

Each scope holds, per stream, the root key the user passed plus a *suffix*:
the names on the path from the root to the scope. ``make_rng`` advances a
per-scope counter and folds one 32-bit hash of ``suffix + (counter,)`` into the
root key, as the seed system does (see ``notes/linen-compat.md``)::

    fold_in(root_key, H(('Dense_0', 1)))     # first key drawn by child Dense_0

H is ``shared_spec.rng_rules.suffix_hash``, the rule both backends share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnref import random as nrandom
from shared_spec.rng_rules import suffix_hash


@dataclass(frozen=True)
class RngStream:
    """A root key and the path suffix below it. Pure data: deriving a key never mutates it."""

    root_key: object
    suffix: tuple = ()

    def child(self, name: str) -> "RngStream":
        return RngStream(self.root_key, self.suffix + (name,))

    def key(self, counter: int):
        """The key a scope at this suffix gets from its ``counter``-th ``make_rng``."""
        return nrandom.fold_in(self.root_key, suffix_hash(self.suffix + (counter,)))


def is_prng_key(x) -> bool:
    """True for one key: a raw ``uint32[2]`` array or a scalar typed key."""
    if isinstance(x, nrandom.KeyArray):
        return x.shape == ()
    arr = np.asarray(x) if hasattr(x, "__array__") else None
    return arr is not None and arr.shape == (2,) and arr.dtype == np.uint32
