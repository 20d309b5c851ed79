"""``nn.jit``: compile a module's method once and reuse it.

The compiled function takes the lifted variables and root keys as array
arguments; the module (its fields), the scopes' paths and mutability are
static, so a new module configuration compiles anew and the same one
reuses the cache. As in the seed system, each random stream is *forked*
on entry (one ``make_rng`` of the module's own stream seeds a fresh
stream inside), which is why ``nn.jit`` changes a module's random numbers
compared with running it without ``nn.jit``. ``make_rng`` counters advance
by the same amount whether or not the call was traced again.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     x = nn.relu(nn.jit(nn.Dense)(4)(x))
...     return nn.jit(nn.Dense)(2)(x)
>>> variables = MLP().init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
>>> sorted(variables['params'])
['JitDense_0', 'JitDense_1']
"""

from __future__ import annotations

import functools
import threading
from typing import Callable, Iterable

import jax

from nnjax import interception
from nnjax.lift import Lift
from nnjax.rng_streams import RngStream
from nnjax.transforms.module_forms import lift_transform
from shared_spec.transform_args import _argnums, check_argnums_in_range


class _Context(threading.local):
    def __init__(self):
        self.stack: list = []


_context = _Context()
_count_deltas: dict = {}  # fingerprint -> counter increments one call makes


def _hashable_filter(f):
    if isinstance(f, (list, set, frozenset)):
        return tuple(sorted(f))
    return f


def _lifted_filters(variables, rngs):
    """The ``variables=``/``rngs=`` filters as a cache-key part (a fresh token if one is unhashable).

    They decide which collections and streams cross into the trace and
    which writes come back out, and one ``jax.jit`` serves every ``nn.jit``
    with the same compile options, so two lifts that differ only in them
    must not share a trace.
    """
    filters = (_hashable_filter(variables), _hashable_filter(rngs))
    try:
        hash(filters)
    except TypeError:
        return object()
    return filters


def _fingerprint(lift: Lift, fn) -> tuple:
    """What the trace depends on besides the arrays: who is called, where, with which mutability.

    The ``make_rng`` counters are part of it (as in the seed system): the keys
    drawn inside are folded from them at trace time, so a later call with
    other counter values (the same module called again) must trace anew.
    So are the active method interceptors: they run at trace time, and a
    cache hit would hide the calls inside from them (``tabulate`` rows).
    """
    interceptors = interception.active_interceptors()
    return (
        getattr(fn, "cache_key", fn),
        tuple(
            (
                s.path,
                _hashable_filter(s.frame.mutable),
                tuple(sorted(s.frame.flags.items())),
                tuple(sorted(s.rngs)),
                tuple(sorted(s.rng_counters.snapshot().items())),
            )
            for s in lift.outer
        ),
        interceptors,
    )


def _fork_rngs(scopes) -> None:
    """Each stream of each scope re-seeded from one ``make_rng`` of it (the seed system's nn.jit rule)."""
    for scope in scopes:
        scope.rngs = {stream: RngStream(scope.make_rng(stream)) for stream in list(scope.rngs)}


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
    """Scope-level jit: ``lifted(scopes, *args)`` runs ``fn(inner_scopes, *args)`` compiled."""
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    donate_argnums = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
    static_argnames = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    compiled = _compiled(static_argnums, static_argnames, donate_argnums, device, backend)
    filters = _lifted_filters(variables, rngs)

    def lifted(scopes, *args, **kwargs):
        if static_argnums or donate_argnums:
            check_argnums_in_range("jit", "static_argnums", static_argnums, len(args), scopes[-1].path)
            check_argnums_in_range("jit", "donate_argnums", donate_argnums, len(args), scopes[-1].path)
        saved = [dict(s.rngs) for s in scopes]
        _fork_rngs(_unique(scopes))
        try:
            lift = Lift(scopes, (variables,), (variables,), (rngs,))
        finally:
            for scope, streams in zip(scopes, saved):
                scope.rngs = streams
        key = (_fingerprint(lift, fn), filters, _StaticArgs(args, static_argnums))
        before = [s.rng_counters.snapshot() for s in lift.roots]
        _context.stack.append((lift, fn))
        try:
            y, out_groups = compiled(key, lift.variable_groups, lift.rng_groups, *args, **kwargs)
        finally:
            _context.stack.pop()
        _replay_counts(key, lift.roots, before)
        lift.publish(out_groups)
        return y

    return lifted


@functools.lru_cache(maxsize=None)
def _compiled(static_argnums: tuple, static_argnames: tuple, donate_argnums: tuple, device, backend):
    """One ``jax.jit`` of :func:`_jitted` per option set, so that its cache is shared by every call.

    Its positional arguments are ``(key, variable_groups, rng_groups, *args)``;
    ``key`` (static) holds what the trace depends on besides the arrays.
    """
    options = {}
    if device is not None:
        options["device"] = device
    if backend is not None:
        options["backend"] = backend
    return jax.jit(
        _jitted,
        static_argnums=(0,) + tuple(i + 3 for i in static_argnums),
        static_argnames=static_argnames,
        donate_argnums=tuple(i + 3 for i in donate_argnums),
        **options,
    )


def _unique(scopes):
    seen, out = set(), []
    for s in scopes:
        if id(s) not in seen:
            seen.add(id(s))
            out.append(s)
    return out


class _StaticArgs:
    """Hashable stand-in for the static positional arguments (they are passed separately to jax.jit)."""

    def __init__(self, args, static_argnums):
        self.value = tuple(args[i] for i in static_argnums if i < len(args))

    def __hash__(self):
        return hash(self.value)

    def __eq__(self, other):
        return isinstance(other, _StaticArgs) and self.value == other.value


def _jitted(key, variable_groups, rng_groups, *args, **kwargs):
    lift, fn = _context.stack[-1]
    inner = lift.scopes(variable_groups, rng_groups)
    y = fn(inner, *args, **kwargs)
    return y, lift.repack(inner)


def _replay_counts(key, roots, before) -> None:
    """Counters move as if every call traced: the first call records the increments, later ones replay them."""
    after = [s.rng_counters.snapshot() for s in roots]
    if key not in _count_deltas:
        _count_deltas[key] = [
            {k: v - b.get(k, 0) for k, v in a.items() if v != b.get(k, 0)} for a, b in zip(after, before)
        ]
        return
    for scope, b, delta in zip(roots, before, _count_deltas[key]):
        scope.rng_counters.restore({**b, **{k: b.get(k, 0) + d for k, d in delta.items()}})


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
    """A lifted ``jax.jit`` of a Module class or of a function whose first argument is a module.

    ``variables``/``rngs``: the collections and streams lifted (default all);
    ``static_argnums``/``static_argnames``/``donate_argnums``/``device``/
    ``backend`` as in ``jax.jit``, with the module counted as argument 0 (as
    in the seed system and ``nn.remat``), so the first argument after it is
    1; ``methods``: the methods of a Module class to compile.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class Scaled(nn.Module):
    ...   @nn.jit
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return 2 * nn.Dense(3)(x)
    >>> variables = Scaled().init(jax.random.PRNGKey(0), jnp.ones((1, 2)))
    >>> Scaled().apply(variables, jnp.ones((1, 2))).shape
    (1, 3)
    """
    # the seed system's numbering: the module is argument 0 (and is never static or donated)
    static_argnums = _argnums("jit", "static_argnums", static_argnums)
    donate_argnums = _argnums("jit", "donate_argnums", donate_argnums)
    static_argnums = tuple(i - 1 for i in static_argnums if i > 0)
    donate_argnums = tuple(i - 1 for i in donate_argnums if i > 0)
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
