"""Python-side cost of the Module system, the same model code on every backend.

The layers are tiny (width 4, batch 2) so that the time is the module
system's own bookkeeping (naming, scopes, RNG derivation, wrappers) and
JAX's dispatch, not arithmetic. The figures:

``init`` / ``apply``
    Eager ``model.init(key, x)`` and ``model.apply(variables, x)`` of a
    100-layer ``Dense`` MLP (compact submodules), results waited for.
``jit(apply) trace`` / ``jit(init) trace``
    ``jax.jit(fn).trace(...)`` of a fresh function wrapping ``model.apply``
    (``model.init``) on every repetition, so that JAX's trace caches cannot
    answer: the Python cost of running the module system under tracing.
``jit(apply) trace+lower``
    The same plus lowering to StableHLO (``.lower()``), most of which is
    JAX's own work and the same for every backend. Not compiled.
``per submodule call``
    ``apply`` of a module whose ``__call__`` calls one trivial child (an
    identity, defined in ``setup``) N times, minus the same with 0 calls,
    divided by N: the cost of one call through the module wrapper. Eagerly
    and under ``jax.jit(...).trace``.

``nnref`` has no ``jit``; its trace figures are skipped.
"""

from __future__ import annotations

import sys

from benchmarks.timing import best_times, block

DEPTH = 100
WIDTH = 4
CALLS = 1000

FIGURES = {
    "init": f"init, {DEPTH}-layer Dense MLP",
    "apply": f"apply, {DEPTH}-layer Dense MLP",
    "trace_apply": f"jit(apply) trace, {DEPTH}-layer MLP",
    "lower_apply": f"jit(apply) trace+lower, {DEPTH}-layer",
    "trace_init": f"jit(init) trace, {DEPTH}-layer MLP",
    "call_eager": "per submodule call, eager",
    "call_traced": "per submodule call, traced",
}

# Figures that are a ratio target (the "Python-side figures").
TARGETS = ("init", "apply", "trace_apply", "call_eager", "call_traced")


def deep_mlp(nn, depth: int = DEPTH, width: int = WIDTH):
    class DeepMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(depth):
                x = nn.Dense(width)(x)
            return x

    return DeepMLP()


def caller_class(nn):
    """A module calling one trivial child ``calls`` times: the per-submodule-call overhead."""

    class Identity(nn.Module):
        def __call__(self, x):
            return x

    class Caller(nn.Module):
        calls: int

        def setup(self):
            self.child = Identity()

        def __call__(self, x):
            for _ in range(self.calls):
                x = self.child(x)
            return x

    return Caller


def _traceable(name: str) -> bool:
    return name != "nnref"


def _cases(name: str, nn, calls: int) -> dict:
    """figure key -> (callable to time, divisor, callable of the 0-call baseline or None)."""
    x = nn.numpy.ones((2, WIDTH))
    key = nn.random.PRNGKey(0)
    mlp = deep_mlp(nn)
    variables = mlp.init(key, x)
    Caller = caller_class(nn)
    many, none = Caller(calls=calls), Caller(calls=0)
    cases = {
        "init": (lambda: block(mlp.init(key, x)), 1, None),
        "apply": (lambda: block(mlp.apply(variables, x)), 1, None),
        "call_eager": (lambda: block(many.apply({}, x)), calls, lambda: block(none.apply({}, x))),
    }
    if _traceable(name):
        import jax

        def trace(module, fn_name, *args):
            # A fresh function per repetition: jit's caches key on the function.
            return lambda: jax.jit(lambda *a: getattr(module, fn_name)(*a)).trace(*args)

        cases["trace_apply"] = (trace(mlp, "apply", variables, x), 1, None)
        cases["lower_apply"] = (lambda: trace(mlp, "apply", variables, x)().lower(), 1, None)
        cases["trace_init"] = (trace(mlp, "init", key, x), 1, None)
        cases["call_traced"] = (trace(many, "apply", {}, x), calls, trace(none, "apply", {}, x))
    return cases


def run(backends: dict, repeat: int = 20, min_seconds: float = 1.0, calls: int = CALLS) -> list[dict]:
    """Rows ``{"backend", "figure", "key", "seconds"}``; the backends take turns within each figure."""
    cases = {name: _cases(name, nn, calls) for name, nn in backends.items()}
    rows = []
    for key, figure in FIGURES.items():
        fns, divisors = {}, {}
        for name, per_backend in cases.items():
            if key not in per_backend:
                continue
            fn, divisor, baseline = per_backend[key]
            fns[name] = fn
            divisors[name] = divisor
            if baseline is not None:
                fns[(name, "baseline")] = baseline
        print(f"  timing: {figure}", file=sys.stderr, flush=True)
        best = best_times(fns, repeat=repeat, min_seconds=min_seconds)
        for name in divisors:
            seconds = best[name] - best.get((name, "baseline"), 0.0)
            rows.append({"backend": name, "figure": figure, "key": key, "seconds": seconds / divisors[name]})
    return rows
