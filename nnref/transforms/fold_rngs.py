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
from nnref.transforms.lifting import lift_transform


def fold_rngs_core(fn: Callable, variables=True, rngs=True):
    def lifted(scopes, *args, **kwargs):
        saved = [dict(s.rngs) for s in scopes]
        seen = set()
        for scope in scopes:  # fork: each stream re-seeded from one make_rng of it
            if id(scope) not in seen:
                seen.add(id(scope))
                scope.rngs = {stream: RngStream(scope.make_rng(stream)) for stream in list(scope.rngs)}
        try:
            lift = Lift(scopes, (variables,), (variables,), (rngs,))
        finally:
            for scope, streams in zip(scopes, saved):
                scope.rngs = streams
        inner = lift.scopes(lift.variable_groups, lift.rng_groups)
        y = fn(inner, *args, **kwargs)
        lift.publish(lift.repack(inner))
        return y

    return lifted


def fold_rngs(target, variables=True, rngs=True, methods=None):
    """A Module class or a method whose every call forks its random streams (see the module docstring)."""
    return lift_transform("fold_rngs", fold_rngs_core, target, methods=methods, variables=variables, rngs=rngs)


@contextlib.contextmanager
def fork_rngs(module):
    """Inside the ``with`` block, every stream of ``module`` is re-seeded from one ``make_rng`` of it.

    The forking ``fold_rngs`` and ``jit`` do on entry, for code that is not a
    method; the module's own streams are restored on exit (their counters
    have advanced by one per stream). An unbound module is left as it is.
    """
    scope = module.scope
    if scope is None:
        yield
        return
    saved = dict(scope.rngs)
    scope.rngs = {stream: RngStream(module.make_rng(stream)) for stream in list(saved)}
    try:
        yield
    finally:
        scope.rngs = saved
