"""``nn.fold_rngs`` in nnref: each call of a wrapped method gets its own random streams.

What happens on every call, step by step:

1. For each stream the method can see (say ``'dropout'``), the caller draws
   one key with ``make_rng('dropout')``. That draw moves the caller's
   counter on by exactly one, whatever the method does inside.
2. The drawn key becomes the root of a brand-new stream for the method,
   with its counter at zero.
3. The method runs on those new streams. Its variables are the caller's
   (the collections ``variables`` lets through), and what it writes is
   committed back to the caller afterwards.
4. The caller's streams are put back, so the next call draws the next key.

So two calls of the same method see different keys, and how many keys the
method draws never shifts the caller's later draws. ``nn.jit`` forks the
streams in exactly this way.

>>> import numpy as np
>>> import nnref as nn
>>> class Jitter(nn.Module):
...   @nn.fold_rngs
...   def __call__(self, v):
...     return v + nn.random.uniform(self.make_rng('jitter'), v.shape)
>>> class CallTwice(nn.Module):
...   @nn.compact
...   def __call__(self, v):
...     layer = Jitter()
...     return layer(v) - layer(v)
>>> gap = CallTwice().apply({}, np.ones(3, np.float32), rngs={'jitter': nn.random.PRNGKey(3)})
>>> bool(np.all(gap == 0))  # zero only if both calls had drawn the same keys
False
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

from nnref.lift import Lift
from nnref.rng_streams import RngStream
from nnref.transforms.jit import _fork_rngs
from nnref.transforms.module_forms import lift_transform


def _lift_with_forked_streams(scopes, variables, rngs) -> Lift:
    """Steps 1 and 2 for every scope, then hand the scopes back their own streams (step 4 early).

    ``Lift`` copies the root keys it needs when it is built, so the forked
    streams only have to exist while it is being constructed.
    """
    callers_streams = [dict(scope.rngs) for scope in scopes]
    _fork_rngs(scopes)  # one make_rng per stream of each scope
    try:
        return Lift(scopes, (variables,), (variables,), (rngs,))
    finally:
        for scope, own in zip(scopes, callers_streams):
            scope.rngs = own


def fold_rngs_core(fn: Callable, variables=True, rngs=True):
    """Scope-level ``fold_rngs``: the returned function runs ``fn`` on inner scopes with forked streams."""

    def run_with_fresh_streams(scopes, *args, **kwargs):
        lift = _lift_with_forked_streams(scopes, variables, rngs)
        inner_scopes = lift.scopes(lift.variable_groups, lift.rng_groups)
        result = fn(inner_scopes, *args, **kwargs)  # step 3
        # Whatever the method wrote goes back to the caller's variables.
        lift.publish(lift.repack(inner_scopes))
        return result

    return run_with_fresh_streams


def fold_rngs(target, variables=True, rngs=True, methods=None):
    """Wrap a Module class (its ``methods``, by default ``__call__``) or one method so each call forks its streams.

    ``variables`` chooses which collections the method sees, ``rngs`` which
    streams are forked and visible. The steps are in the module docstring.
    """
    return lift_transform("fold_rngs", fold_rngs_core, target, methods=methods, variables=variables, rngs=rngs)


@contextmanager
def fork_rngs(module):
    """Steps 1, 2 and 4 of the module docstring for a ``with`` block instead of a method.

    Inside the block ``module`` draws from new streams, each rooted at one
    key drawn from the module's own stream of that name; leaving the block
    restores the module's streams, each counter advanced by one. A module
    that is not bound to a scope has no streams, so nothing changes.
    """
    if module.scope is None:
        yield
    else:
        scope = module.scope
        own_streams = dict(scope.rngs)
        scope.rngs = {name: RngStream(module.make_rng(name)) for name in own_streams}
        try:
            yield
        finally:
            scope.rngs = own_streams
