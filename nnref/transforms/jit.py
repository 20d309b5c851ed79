"""``nn.jit`` in nnref: what a correct trace cache returns, computed without one.

The production backend traces the wrapped call once per *cache key* and
replays the compiled program on later calls with new array values. Replaying
is only correct when the key holds everything the trace depends on besides
those arrays; for a lifted module call that is

* the wrapped function (which module class and method) and the lift's
  ``variables=`` / ``rngs=`` filters (which collections and streams cross
  into the call, and which writes come back out);
* per lifted scope: its path, which collections are mutable, the module
  flags, the names of its random streams and their ``make_rng`` counters
  (the keys drawn inside are folded from the counters while tracing);
* the method interceptors active at the call (they only run while tracing);
* the values of the static arguments.

nnref keeps no cache: every call runs the module from the start, which is
exactly what a cache hit has to reproduce. A call sequence that changes one
part of the key at a time, compared between the backends after every call,
therefore exposes a key part the production backend forgot (a stale hit).

What ``nn.jit`` does change, nnref does too, in this order:

1. every random stream of every lifted scope is *forked* on entry: one
   ``make_rng`` of the outer stream seeds a fresh stream for the inside
   (this is why the seed system's ``nn.jit`` changes a module's random
   numbers compared with the same module without it);
2. the wrapped call sees the lifted collections and the forked streams;
3. its writes to mutable collections are published back.

``make_rng`` counters then stand where a traced call leaves them (the
production backend replays the increments of the first trace on cache hits).

>>> import nnref as nn
>>> import numpy as np
>>> JitDense = nn.jit(nn.Dense)  # a Dense whose __call__ is lifted through nn.jit
>>> x = np.ones((1, 3), np.float32)
>>> variables = JitDense(2).init(nn.random.PRNGKey(0), x)
>>> JitDense(2).apply(variables, x).shape  # the second call: a cache hit in the production backend
(1, 2)
"""

from __future__ import annotations

from typing import Callable, Iterable

from nnref.lift import Lift
from nnref.rng_streams import RngStream
from nnref.transforms.module_forms import lift_transform
from shared_spec.transform_args import _argnums, check_argnums_in_range


def _fork_rngs(scopes) -> None:
    """Re-seed each stream of each scope from one ``make_rng`` of it (step 1 of the module docstring).

    A scope may be lifted more than once (the same module passed twice);
    it is forked once, so its counters advance once per stream.
    """
    seen = set()
    for scope in scopes:
        if id(scope) not in seen:
            seen.add(id(scope))
            scope.rngs = {name: RngStream(scope.make_rng(name)) for name in list(scope.rngs)}


def jit_core(fn: Callable, variables=True, rngs=True, static_argnums=(), donate_argnums=(), **compile_only):
    """``lifted(scopes, *args)``: ``fn`` on inner scopes with forked streams.

    ``compile_only`` (``static_argnames``, ``device``, ``backend``) only
    steers compilation, so nnref takes it and ignores it; the argnums are
    checked against the arguments, as tracing would.
    """

    def lifted(scopes, *args, **kwargs):
        for option, argnums in (("static_argnums", static_argnums), ("donate_argnums", donate_argnums)):
            if argnums:
                check_argnums_in_range("jit", option, argnums, len(args), scopes[-1].path)
        outer_streams = [dict(scope.rngs) for scope in scopes]
        _fork_rngs(scopes)
        try:  # the Lift takes the forked streams; the scopes get their own streams back right away
            lift = Lift(scopes, (variables,), (variables,), (rngs,))
        finally:
            for scope, streams in zip(scopes, outer_streams):
                scope.rngs = streams
        inner = lift.scopes(lift.variable_groups, lift.rng_groups)
        out = fn(inner, *args, **kwargs)
        lift.publish(lift.repack(inner))
        return out

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
    """Lift ``nn.jit`` over ``target`` (a Module class, or a function of a module); see the module docstring.

    The argnums count the module as argument 0, as the seed system does;
    the module itself is never static nor donated, so index 0 is dropped and
    the rest shift down by one to number the arguments after the module.
    """
    static_argnums = tuple(i - 1 for i in _argnums("jit", "static_argnums", static_argnums) if i > 0)
    donate_argnums = tuple(i - 1 for i in _argnums("jit", "donate_argnums", donate_argnums) if i > 0)
    compile_only = dict(static_argnames=static_argnames, device=device, backend=backend)
    lift_options = dict(variables=variables, rngs=rngs, static_argnums=static_argnums, donate_argnums=donate_argnums)
    return lift_transform("jit", jit_core, target, methods=methods, **lift_options, **compile_only)
