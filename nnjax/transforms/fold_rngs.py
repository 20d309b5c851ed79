"""``nn.fold_rngs``: every call of a method draws from freshly folded random streams.

On entry each visible stream is *forked*: one ``make_rng`` of the caller's
stream seeds a new stream inside (the rule ``nn.jit`` applies, without
compiling). The caller's counter advances once per call, so two calls of
the wrapped method see different keys, and the keys inside do not depend on
how many draws the method itself makes. Variables pass through unchanged
(``variables`` picks the collections visible inside; ``rngs`` the streams).

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Noise(nn.Module):
...   @nn.fold_rngs
...   def __call__(self, x):
...     return x + jax.random.normal(self.make_rng('noise'), x.shape)
>>> class Twice(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     noise = Noise()
...     return noise(x), noise(x)
>>> a, b = Twice().apply({}, jnp.zeros(2), rngs={'noise': jax.random.PRNGKey(0)})
>>> bool(jnp.any(a != b))  # each call gets fresh keys
True
"""

from __future__ import annotations

import contextlib
from typing import Callable

from nnjax.lift import Lift
from nnjax.rng_streams import RngStream
from nnjax.transforms.jit import _fork_rngs, _unique
from nnjax.transforms.module_forms import lift_transform


def fold_rngs_core(fn: Callable, variables=True, rngs=True):
    """Scope-level fold_rngs: ``lifted(scopes, *args)`` runs ``fn(inner_scopes, *args)`` on forked streams."""

    def lifted(scopes, *args, **kwargs):
        saved = [dict(s.rngs) for s in scopes]
        _fork_rngs(_unique(scopes))
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
    """A Module class or a method (``fn(module, *args)``) whose every call forks its random streams.

    ``variables``: collections visible inside (default all); ``rngs``:
    streams visible inside; ``methods``: the methods of a Module class to wrap
    (default ``__call__``; an addition to the seed's signature, which always
    wraps ``__call__``).
    """
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
