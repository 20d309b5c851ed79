"""``nn.fold_rngs`` in nnref: every call of a method draws from freshly forked random streams.

As in the production backend (and ``nn.jit``'s rule), each visible stream
is re-seeded on entry from one ``make_rng`` of the caller's stream, so each
call sees new keys and the caller's counter advances once per call.

>>> import numpy as np
>>> import nnref as nn
>>> class Noise(nn.Module):
...   @nn.fold_rngs
...   def __call__(self, x):
...     return x + nn.random.normal(self.make_rng('noise'), x.shape)
>>> class Twice(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     noise = Noise()
...     return noise(x), noise(x)
>>> a, b = Twice().apply({}, np.zeros(2, np.float32), rngs={'noise': nn.random.PRNGKey(0)})
>>> bool(np.any(a != b))  # each call gets fresh keys
True
"""

from __future__ import annotations

import contextlib
from typing import Callable

from nnref.lift import Lift
from nnref.rng_streams import RngStream
from nnref.transforms.jit import _fork_rngs
from nnref.transforms.module_forms import lift_transform


def fold_rngs_core(fn: Callable, variables=True, rngs=True):
    """The scope-level form: fork the streams, lift with them, restore the caller's streams at once."""

    def lifted(scopes, *args, **kwargs):
        # The fork advances each outer counter by one (that make_rng is the
        # caller's draw); the forked streams exist only long enough for Lift
        # to copy their root keys, then the outer scopes get theirs back.
        outer_streams = [dict(scope.rngs) for scope in scopes]
        _fork_rngs(scopes)
        try:
            lift = Lift(scopes, (variables,), (variables,), (rngs,))
        finally:
            for scope, streams in zip(scopes, outer_streams):
                scope.rngs = streams
        inner = lift.scopes(lift.variable_groups, lift.rng_groups)
        y = fn(inner, *args, **kwargs)
        lift.publish(lift.repack(inner))
        return y

    return lifted


def fold_rngs(target, variables=True, rngs=True, methods=None):
    """A Module class or a method whose every call forks its random streams (see the module docstring).

    ``variables`` and ``rngs`` filter what is visible inside; ``methods``
    names the methods of a class to wrap (``__call__`` unless given).
    """
    return lift_transform("fold_rngs", fold_rngs_core, target, methods=methods, variables=variables, rngs=rngs)


@contextlib.contextmanager
def fork_rngs(module):
    """A ``with`` block in which ``module`` draws from freshly forked streams.

    What ``fold_rngs`` does around a method, for any block of code: on
    entry each stream is replaced by a new root key drawn from it (one
    ``make_rng`` per stream), on exit the original streams come back with
    their counters one further. Nothing happens for an unbound module.
    """
    scope = module.scope
    if scope is None:
        yield
        return
    before = dict(scope.rngs)
    scope.rngs = {name: RngStream(module.make_rng(name)) for name in before}
    try:
        yield
    finally:
        scope.rngs = before
