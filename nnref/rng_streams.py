"""Where a scope's random keys come from, in two pieces of state.

1. :class:`RngStream` -- *what* is hashed: the root key the user passed to
   ``init``/``apply`` and a *suffix*, the names on the path from the root
   module down to the scope. It never changes once made.
2. :class:`RngCounters` -- *how many* keys each path has drawn so far, per
   stream. One tree of counters per ``init``/``apply``, shaped like the
   module tree.

``make_rng`` combines them: advance the counter, then fold one 32-bit hash
of ``suffix + (counter,)`` into the root key (see ``Scope.make_rng`` for
the rule written out, and ``shared_spec.rng_rules`` for the hash)::

    fold_in(root_key, H(('Dense_0', 1)))     # first key drawn by child Dense_0
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


class RngCounters:
    """The ``make_rng`` counters of one path, with one child node per submodule name below it.

    Why a tree and not a counter on the scope object: a compact parent called
    twice makes its submodules *again* (new scope objects at the same path),
    and those must continue counting, not start over and repeat keys. So the
    counts belong to the path; a parent keeps its children's nodes by name.

    Lifted transforms that JAX would trace once (vmap, the loops of scan,
    cond's branches) take a :meth:`snapshot` first and :meth:`restore` it
    before each run, so every run draws the keys the single trace would.

    >>> root = RngCounters()
    >>> root.next('params')             # the root module's first key
    1
    >>> root.child('Dense_0').next('params'), root.next('params')
    (1, 2)
    >>> saved = root.snapshot()
    >>> sorted(saved.items())
    [(('Dense_0', 'params'), 1), (('params',), 2)]
    >>> root.child('Dense_0').next('params')
    2
    >>> root.restore(saved); root.child('Dense_0').next('params')
    2
    """

    def __init__(self):
        self.counts = {}  # stream name -> keys drawn so far at this path
        self.children = {}  # submodule name -> RngCounters of that path

    def child(self, name: str) -> "RngCounters":
        """The counters of submodule ``name`` (created the first time, then always the same object)."""
        if name not in self.children:
            self.children[name] = RngCounters()
        return self.children[name]

    def next(self, stream: str) -> int:
        """Count one more draw from ``stream`` here; return the new count (1 for the first draw)."""
        self.counts[stream] = self.counts.get(stream, 0) + 1
        return self.counts[stream]

    def snapshot(self) -> dict:
        """All counters at and below this path, flattened to ``{(*path_below, stream): count}``."""
        flat = {(stream,): n for stream, n in self.counts.items()}
        for name, child in self.children.items():
            for key, n in child.snapshot().items():
                flat[(name,) + key] = n
        return flat

    def restore(self, snapshot: dict) -> None:
        """Make the counters equal ``snapshot`` again: a counter it does not list goes back to 0.

        The nodes are changed in place, never replaced, because scopes that
        are alive hold references to them.
        """
        self.counts.clear()
        for child in self.children.values():
            child.restore({})
        for key, n in snapshot.items():
            *path, stream = key
            node = self
            for name in path:
                node = node.child(name)
            node.counts[stream] = n


def is_prng_key(x) -> bool:
    """True for one key: a raw ``uint32[2]`` array or a scalar typed key."""
    if isinstance(x, nrandom.KeyArray):
        return x.shape == ()
    arr = np.asarray(x) if hasattr(x, "__array__") else None
    return arr is not None and arr.shape == (2,) and arr.dtype == np.uint32
