"""Hostile input, variables: ``None`` leaves, text and object dtypes, state of the wrong shape for its layer.

Each case hands ``apply`` (or ``init``) a variable dict that cannot mean
anything: a parameter that is ``None`` or a string, an array of strings or
Python objects in any collection, BatchNorm-like statistics of another shape
than the features. The variables are refused where they enter (the copy
``apply`` makes of them, ``Scope.param``, or ``Variable.check_shape`` of a
layer that knows its state's shape), naming the module path, the collection
and the variable. Every case also checks that the caller's dict is left as
it was.
"""

from __future__ import annotations

import numpy as np

X = np.ones((2, 3), np.float32)


def _snapshot(tree):
    if isinstance(tree, dict):
        return {key: _snapshot(value) for key, value in tree.items()}
    return np.array(tree, copy=True) if isinstance(tree, np.ndarray) else tree


def _same(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            type(a) is type(b)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and (a.dtype.kind in "OSU" or np.array_equal(a, b))
        )
    return a is b or a == b


def _untouched(variables, call):
    """Run ``call(variables)``; whatever it raises, the caller's dict must be as it was."""
    before = _snapshot(variables)
    try:
        call(variables)
    finally:
        assert _same(before, variables), "a failed call changed the caller's variables"


def _dense_parent(nn):
    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2, name="dense")(x)

    return Parent()


def _dense_variables(nn, **replace):
    """Valid variables of ``_dense_parent`` as plain NumPy (what a user loads from disk), then ``replace``d."""
    variables = _dense_parent(nn).init(nn.random.PRNGKey(0), X)
    params = {name: np.asarray(value) for name, value in variables["params"]["dense"].items()}
    params.update(replace)
    return {"params": {"dense": params}}


def _apply_dense(**replace):
    def fn(nn):
        _untouched(_dense_variables(nn, **replace), lambda v: _dense_parent(nn).apply(v, X))

    return fn


def _stats_parent(nn, training=False):
    """A module with state whose shape it knows, as BatchNorm's statistics: ``check_shape`` on each read."""

    class Stats(nn.Module):
        features: int = 3

        @nn.compact
        def __call__(self, x):
            mean = self.variable("batch_stats", "mean", lambda s: np.zeros(s, np.float32), (self.features,))
            mean.check_shape((self.features,))
            if training:
                mean.value = 0.9 * mean.value + 0.1 * x.mean(0)
            return x - mean.value

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Stats(name="stats")(x)

    return Parent()


def _apply_stats(mean, training=False):
    def fn(nn):
        variables = {"batch_stats": {"stats": {"mean": mean}}}
        mutable = ["batch_stats"] if training else False
        _untouched(variables, lambda v: _stats_parent(nn, training).apply(v, X, mutable=mutable))

    return fn


def _apply_with_extra(col, value):
    """A valid Dense model plus one hostile leaf in collection ``col`` (the model never reads it)."""

    def fn(nn):
        variables = _dense_variables(nn)
        variables[col] = {"dense": {"extra": value}}
        _untouched(variables, lambda v: _dense_parent(nn).apply(v, X))

    return fn


_P = "'/dense'"
_S = "'/stats'"

CASES = [
    # --- None leaves ---------------------------------------------------------------------------------
    ("TypeError", "params: the kernel is None", _apply_dense(kernel=None), ("'kernel'", "'params'", _P, "None")),
    ("TypeError", "params: the bias is None", _apply_dense(bias=None), ("'bias'", "'params'", _P, "None")),
    ("TypeError", "params: every leaf is None", _apply_dense(kernel=None, bias=None), ("'params'", _P, "None")),
    ("TypeError", "state: a statistic is None", _apply_stats(None), ("'mean'", "'batch_stats'", _S, "None")),
    # --- string and object dtypes ---------------------------------------------------------------------
    (
        "TypeError",
        "params: a kernel of strings",
        _apply_dense(kernel=np.full((3, 2), "w")),
        ("'kernel'", "'params'", _P, "dtype <U1"),
    ),
    (
        "TypeError",
        "params: a kernel of bytes",
        _apply_dense(kernel=np.full((3, 2), b"w")),
        ("'kernel'", "'params'", _P, "dtype |S1"),
    ),
    (
        "TypeError",
        "params: a kernel of Python objects",
        _apply_dense(kernel=np.full((3, 2), None, dtype=object)),
        ("'kernel'", "'params'", _P, "dtype object"),
    ),
    ("TypeError", "params: the bias is a Python string", _apply_dense(bias="zeros"), ("'bias'", "'params'", _P, "str")),
    (
        "TypeError",
        "state: a statistic of strings",
        _apply_stats(np.array(["0", "0", "0"])),
        ("'mean'", "'batch_stats'", "dtype <U1"),
    ),
    (
        "TypeError",
        "another collection: an object array the model never reads",
        _apply_with_extra("cache", np.array([object()], dtype=object)),
        ("'extra'", "'cache'", _P, "dtype object"),
    ),
    # --- non-param variables of the wrong shape for the layer ----------------------------------------
    (
        "ValueError",
        "state: statistics for 5 features in a 3-feature layer",
        _apply_stats(np.zeros(5, np.float32)),
        ("'mean'", "'batch_stats'", _S, "(5,)", "(3,)"),
    ),
    (
        "ValueError",
        "state: one statistic that would broadcast silently",
        _apply_stats(np.zeros(1, np.float32)),
        ("'mean'", "'batch_stats'", _S, "(1,)", "(3,)"),
    ),
    (
        "ValueError",
        "state: a scalar statistic",
        _apply_stats(np.float32(0.0)),
        ("'mean'", "'batch_stats'", _S, "()", "(3,)"),
    ),
    (
        "ValueError",
        "state: wrong shape while training (mutable)",
        _apply_stats(np.zeros((3, 1), np.float32), True),
        ("'mean'", "'batch_stats'", _S, "(3, 1)", "(3,)"),
    ),
]


def _batch_norm_parent(nn):
    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.BatchNorm(use_running_average=True, name="bn")(x)

    return Parent()


def _apply_batch_norm(**replace):
    def fn(nn):
        stats = {"mean": np.zeros(3, np.float32), "var": np.ones(3, np.float32)}
        stats.update(replace)
        variables = {
            "params": {"bn": {"scale": np.ones(3, np.float32), "bias": np.zeros(3, np.float32)}},
            "batch_stats": {"bn": stats},
        }
        _untouched(variables, lambda v: _batch_norm_parent(nn).apply(v, X))

    return fn


# BatchNorm's own statistics (it checks them with Variable.check_shape).
CASES += [
    (
        "ValueError",
        "BatchNorm: mean for 5 features, 3 features in",
        _apply_batch_norm(mean=np.zeros(5, np.float32)),
        ("'mean'", "'batch_stats'", "'/bn'", "(5,)", "(3,)"),
    ),
    (
        "ValueError",
        "BatchNorm: var of shape (1,) would broadcast",
        _apply_batch_norm(var=np.ones(1, np.float32)),
        ("'var'", "'batch_stats'", "'/bn'", "(1,)", "(3,)"),
    ),
    (
        "TypeError",
        "BatchNorm: mean is None",
        _apply_batch_norm(mean=None),
        ("'mean'", "'batch_stats'", "'/bn'", "None"),
    ),
]
