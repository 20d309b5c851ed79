"""``nn.jit`` and ``nn.remat`` / ``nn.checkpoint`` in nnref: semantic identities.

Compilation and rematerialization change speed and memory, not results, so
nnref runs the module directly, but through the same lifting as the
production backend: the same collections and streams are visible, and
``nn.jit`` *forks* every random stream on entry (one ``make_rng`` of the
module's own stream seeds a fresh stream inside), which is why ``nn.jit``
changes a module's random numbers in the seed system too.

>>> import nnref as nn
>>> import numpy as np
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     return nn.jit(nn.Dense)(2)(nn.relu(nn.remat(nn.Dense)(4)(x)))
>>> variables = MLP().init(nn.random.PRNGKey(0), np.ones((1, 3), np.float32))
>>> sorted(variables['params'])
['CheckpointDense_0', 'JitDense_0']
"""

from __future__ import annotations

from typing import Callable, Iterable

from nnref.lift import Lift
from nnref.rng_streams import RngStream
from nnref.transforms.lifting import _argnums, check_argnums_in_range, lift_transform


def _lifted_call(fn, scopes, variables, rngs, args, kwargs):
    lift = Lift(scopes, (variables,), (variables,), (rngs,))
    inner = lift.scopes(lift.variable_groups, lift.rng_groups)
    y = fn(inner, *args, **kwargs)
    lift.publish(lift.repack(inner))
    return y


def jit_core(
    fn: Callable,
    variables=True,
    rngs=True,
    static_argnums=(),
    static_argnames=(),
    donate_argnums=(),
    device=None,
    backend=None,
):
    def lifted(scopes, *args, **kwargs):
        if static_argnums or donate_argnums:
            check_argnums_in_range("jit", "static_argnums", static_argnums, len(args), scopes[-1].path)
            check_argnums_in_range("jit", "donate_argnums", donate_argnums, len(args), scopes[-1].path)
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


def jit(
    target,
    variables=True,
    rngs=True,
    static_argnums: int | Iterable[int] = (),
    static_argnames=(),
    donate_argnums: int | Iterable[int] = (),
    device=None,
    backend: str | None = None,
    methods=None,
):
    """A lifted jit (a semantic identity here; see the module docstring)."""
    # the seed system's numbering: the module is argument 0 (and is never static or donated)
    static_argnums = tuple(i - 1 for i in _argnums("jit", "static_argnums", static_argnums) if i > 0)
    donate_argnums = tuple(i - 1 for i in _argnums("jit", "donate_argnums", donate_argnums) if i > 0)
    return lift_transform(
        "jit",
        jit_core,
        target,
        methods=methods,
        variables=variables,
        rngs=rngs,
        static_argnums=static_argnums,
        static_argnames=static_argnames,
        donate_argnums=donate_argnums,
        device=device,
        backend=backend,
    )


def remat_core(
    fn: Callable, variables=True, rngs=True, concrete=False, prevent_cse=True, static_argnums=(), policy=None
):
    if concrete:
        raise NotImplementedError(
            "nn.remat(concrete=True) is gone from JAX's checkpoint; mark the arguments that drive Python "
            "control flow with static_argnums instead."
        )

    def lifted(scopes, *args, **kwargs):
        if static_argnums:
            check_argnums_in_range("checkpoint", "static_argnums", static_argnums, len(args), scopes[-1].path)
        return _lifted_call(fn, scopes, variables, rngs, args, kwargs)

    return lifted


def checkpoint(
    target,
    variables=True,
    rngs=True,
    concrete: bool = False,
    prevent_cse: bool = True,
    static_argnums: int | tuple = (),
    policy: Callable | None = None,
    methods=None,
):
    """A lifted checkpoint (alias ``remat``; a semantic identity here)."""
    static_argnums = tuple(i - 1 for i in _argnums("checkpoint", "static_argnums", static_argnums))
    return lift_transform(
        "checkpoint",
        remat_core,
        target,
        methods=methods,
        variables=variables,
        rngs=rngs,
        concrete=concrete,
        prevent_cse=prevent_cse,
        static_argnums=static_argnums,
        policy=policy,
    )


remat = checkpoint
