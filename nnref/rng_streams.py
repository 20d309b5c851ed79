"""Where a scope's random keys come from.

Each scope holds, per stream, the root key the user passed plus a *suffix*:
the names on the path from the root to the scope. ``make_rng`` advances a
per-scope counter and folds one 32-bit hash of ``suffix + (counter,)`` into the
root key, as the seed system does (see ``notes/linen-compat.md``)::

    fold_in(root_key, H(('Dense_0', 1)))     # first key drawn by child Dense_0

H is SHA-1 over the parts in order (a ``str`` as UTF-8, an ``int`` as
big-endian bytes without leading zeros), read as the first four bytes of the
digest, big-endian.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from nnref import random as nrandom


def suffix_hash(parts: tuple) -> int:
    """The 32-bit hash H of a stream suffix.

    >>> suffix_hash((1,)) == suffix_hash((1,))
    True
    >>> suffix_hash(('Dense_0', 1)) != suffix_hash(('Dense_1', 1))
    True
    """
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, str):
            digest.update(part.encode("utf-8"))
        elif isinstance(part, (int, np.integer)):
            part = int(part)
            digest.update(part.to_bytes((part.bit_length() + 7) // 8, "big"))
        else:
            raise TypeError(f"RNG suffix parts are str or int, got {type(part).__name__}")
    return int.from_bytes(digest.digest()[:4], "big")


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
