"""Random streams of a scope: the key material (:class:`RngStream`) and the draw counters (:class:`RngCounters`).

``make_rng(stream)`` at a path draws ``fold_in(root_key, suffix_hash(suffix +
(n,)))`` for its ``n``-th call (the shared rule: ``shared_spec.rng_rules``).
The counters live in one tree per call that mirrors the module tree, so a
submodule made again under the same name continues its counts; lifted
transforms snapshot and restore them to replay one trace.
"""

from __future__ import annotations

import jax
import numpy as np

from shared_spec.rng_rules import suffix_hash


class RngStream:
    """A root key and the path below it; ``key(n)`` is the n-th ``make_rng`` key at that path."""

    __slots__ = ("root_key", "suffix")

    def __init__(self, root_key, suffix: tuple = ()):
        self.root_key = root_key
        self.suffix = suffix

    def child(self, name: str) -> "RngStream":
        return RngStream(self.root_key, self.suffix + (name,))

    def key(self, counter: int):
        return _fold_in(self.root_key, self.data(counter))

    def data(self, counter: int):
        """What ``key(counter)`` folds into the root key."""
        return np.uint32(suffix_hash(self.suffix + (counter,)))


# One compiled call instead of the ~6 eager dispatches of ``jax.random.fold_in``
# (wrap, convert, fold, unwrap); the same bits, for raw and typed keys alike.
_fold_in = jax.jit(jax.random.fold_in)


class RngCounters:
    """``make_rng`` counts at one path (per stream) and, below it, one node per child name.

    >>> counters = RngCounters()
    >>> counters.next('params'), counters.child('Dense_0').next('params'), counters.next('params')
    (1, 1, 2)
    >>> saved = counters.snapshot()
    >>> saved
    {('params',): 2, ('Dense_0', 'params'): 1}
    >>> counters.child('Dense_0').next('dropout')
    1
    >>> counters.restore(saved)
    >>> counters.snapshot() == saved
    True
    """

    __slots__ = ("counts", "children")

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.children: dict[str, RngCounters] = {}

    def child(self, name: str) -> "RngCounters":
        """The node of child ``name``, made on first use and kept: scopes made again share it."""
        node = self.children.get(name)
        if node is None:
            node = self.children[name] = RngCounters()
        return node

    def next(self, stream: str) -> int:
        """Advances ``stream``'s counter here and returns it (the first draw is 1)."""
        count = self.counts[stream] = self.counts.get(stream, 0) + 1
        return count

    def snapshot(self) -> dict:
        """Every non-zero counter at or below this node: ``{(*relative_path, stream): count}``."""
        flat: dict = {}

        def walk(node: RngCounters, prefix: tuple) -> None:
            for stream, count in node.counts.items():
                flat[prefix + (stream,)] = count
            for name, child in node.children.items():
                walk(child, prefix + (name,))

        walk(self, ())
        return flat

    def restore(self, snapshot: dict) -> None:
        """Sets every counter at or below this node to ``snapshot``'s value (0 where it has none).

        Nodes are updated in place, never replaced: live scopes hold them.
        """
        pending = [self]
        while pending:
            node = pending.pop()
            node.counts.clear()
            pending.extend(node.children.values())
        for key, count in snapshot.items():
            node = self
            for name in key[:-1]:
                node = node.child(name)
            node.counts[key[-1]] = count
