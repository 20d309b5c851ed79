"""Hostile input, modules and keys: bad names, fields that shadow the Module API, bad initializers, bad keys.

* Module and variable names must be non-empty strings, and a submodule's
  name may not contain ``'/'`` (it separates the parts of a module path);
  the name is refused when it enters the scope, naming the parent's path.
  (Variable names may contain ``'/'``: the seed's SpectralNorm and
  WeightNorm name their variables ``'layer_instance/kernel/u'``.)
* A Module subclass may not declare a field that shadows the Module API
  (``variables``, ``scope``, ``path``, ``param``, ``apply``, ...); refused
  when the class is created. (``params`` is not part of the API, so it is a
  fine field name.)
* An initializer must be callable and return the shape it was asked for
  (``init_fn(key, shape, dtype)``); checked in ``Scope.param``.
* A PRNG key is ``jax.random.key(0)`` / ``nn.random.key(0)`` (a typed key of
  shape ``()``) or ``PRNGKey(0)`` (uint32 of shape ``(2,)``); anything else
  given to ``init``/``apply`` is refused with a message that says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

X = np.ones((2, 3), np.float32)


def _init_child(make_child, setup=False):
    """``fn(nn)``: init a parent that makes ``make_child(nn)`` in a compact method (or in setup)."""

    def fn(nn):
        if setup:

            class Parent(nn.Module):
                def setup(self):
                    self.child = make_child(nn)

                def __call__(self, x):
                    return self.child(x)
        else:

            class Parent(nn.Module):
                @nn.compact
                def __call__(self, x):
                    return make_child(nn)(x)

        return Parent().init(nn.random.PRNGKey(0), X)

    return fn


def _declare(kind, name):
    """``fn(nn)``: a module that declares a param or variable called ``name``."""

    def fn(nn):
        class Declares(nn.Module):
            @nn.compact
            def __call__(self, x):
                if kind == "param":
                    return x + self.param(name, nn.initializers.zeros, (3,))
                return x + self.variable("state", name, lambda: np.zeros(3, np.float32)).value

        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                return Declares(name="declares")(x)

        return Parent().init(nn.random.PRNGKey(0), X)

    return fn


def _field(field_name, annotation=int, default=0):
    """``fn(nn)``: define a Module subclass with a field called ``field_name``."""

    def fn(nn):
        namespace = {"__annotations__": {field_name: annotation}, field_name: default, "__call__": lambda self, x: x}
        return type("Shadows", (nn.Module,), namespace)

    return fn


def _dense_with(**fields):
    return _init_child(lambda nn: nn.Dense(2, name="dense", **fields))


def _apply_dense_with(**fields):
    """Apply valid variables with a Dense whose initializer is bad (the shape check still consults it)."""

    def fn(nn):
        good = _init_child(lambda nn: nn.Dense(2, name="dense"))(nn)

        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                return nn.Dense(2, name="dense", **fields)(x)

        return Parent().apply(good, X)

    return fn


def _user_param(init_fn, *init_args):
    def fn(nn):
        class UserParam(nn.Module):
            @nn.compact
            def __call__(self, x):
                return x * self.param("w", init_fn, *init_args)

        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                return UserParam(name="user")(x)

        return Parent().init(nn.random.PRNGKey(0), X)

    return fn


def _wrong_shape(key, shape, dtype=np.float32):
    return np.zeros((2, 2), dtype)


def _one_element(key, shape, dtype=np.float32):
    return np.zeros((1,), dtype)


def _returns_none(key, shape, dtype=np.float32):
    return None


def _returns_text(key, shape, dtype=np.float32):
    return np.full(shape, "0")


def _init_with_key(make_key):
    def fn(nn):
        return nn.Dense(2).init(make_key(nn), X)

    return fn


def _init_with_streams(make_key, stream="params"):
    def fn(nn):
        return nn.Dense(2).init({stream: make_key(nn)}, X)

    return fn


def _apply_with_rngs(make_rngs):
    def fn(nn):
        model = nn.Dropout(0.5, deterministic=False)
        return model.apply({}, X, rngs=make_rngs(nn))

    return fn


def _float_key(nn):
    return np.zeros(2, np.float32)


def _three_words(nn):
    return np.zeros(3, np.uint32)


def _batch_of_keys(nn):
    return np.zeros((2, 2), np.uint32)


def _int32_key(nn):
    return np.zeros(2, np.int32)


# What every key message must show: both accepted forms.
_KEY = ("PRNGKey(0)", "key(0)", "uint32", "(2,)")

CASES = [
    # --- module and variable names --------------------------------------------------------------------
    (
        "ValueError",
        "submodule name: empty, in a compact method",
        _init_child(lambda nn: nn.Dense(2, name="")),
        ("''", "submodule", "'/'", "empty"),
    ),
    (
        "ValueError",
        "submodule name: contains '/', in a compact method",
        _init_child(lambda nn: nn.Dense(2, name="enc/dense")),
        ("'enc/dense'", "submodule", "'/'"),
    ),
    (
        "ValueError",
        "submodule name: contains '/', assigned in setup",
        _init_child(lambda nn: nn.Dense(2, name="a/"), setup=True),
        ("'a/'", "submodule", "'/'"),
    ),
    ("TypeError", "submodule name: not a string", _init_child(lambda nn: nn.Dense(2, name=3)), ("3", "str", "'/'")),
    ("ValueError", "param name: empty", _declare("param", ""), ("''", "'params'", "'/declares'", "empty")),
    ("ValueError", "variable name: empty", _declare("variable", ""), ("''", "'state'", "'/declares'", "empty")),
    ("TypeError", "param name: not a string", _declare("param", ("w",)), ("('w',)", "'params'", "'/declares'", "str")),
    # --- fields that shadow the Module API ---------------------------------------------------------------
    (
        "TypeError",
        "field 'variables' shadows Module.variables",
        _field("variables", dict, None),
        ("'variables'", "Shadows"),
    ),
    ("TypeError", "field 'scope' shadows Module.scope", _field("scope", Any, None), ("'scope'", "Shadows")),
    ("TypeError", "field 'path' shadows Module.path", _field("path", str, ""), ("'path'", "Shadows")),
    ("TypeError", "field 'param' shadows Module.param", _field("param", float, 1.0), ("'param'", "Shadows")),
    ("TypeError", "field 'apply' shadows Module.apply", _field("apply", bool, False), ("'apply'", "Shadows")),
    # --- initializers ---------------------------------------------------------------------------------------
    ("TypeError", "kernel_init is a number", _dense_with(kernel_init=0.5), ("'kernel'", "'/dense'", "callable", "0.5")),
    (
        "TypeError",
        "bias_init is a string",
        _dense_with(bias_init="zeros"),
        ("'bias'", "'/dense'", "callable", "'zeros'"),
    ),
    (
        "TypeError",
        "kernel_init is None, at apply with valid params",
        _apply_dense_with(kernel_init=None),
        ("'kernel'", "'/dense'", "callable", "None"),
    ),
    ("TypeError", "a user param's init_fn is a number", _user_param(2.0, (3,)), ("'w'", "'/user'", "callable")),
    (
        "ValueError",
        "kernel_init returns another shape",
        _dense_with(kernel_init=_wrong_shape),
        ("'kernel'", "'/dense'", "(2, 2)", "(3, 2)"),
    ),
    (
        "ValueError",
        "bias_init returns one element (would broadcast)",
        _dense_with(bias_init=_one_element),
        ("'bias'", "'/dense'", "(1,)", "(2,)"),
    ),
    ("TypeError", "kernel_init returns None", _dense_with(kernel_init=_returns_none), ("'kernel'", "'/dense'", "None")),
    ("TypeError", "bias_init returns strings", _dense_with(bias_init=_returns_text), ("'bias'", "'/dense'", "<U1")),
    # --- keys --------------------------------------------------------------------------------------------------
    ("InvalidRngError", "init key: a float32 array of shape (2,)", _init_with_key(_float_key), _KEY + ("float32",)),
    ("InvalidRngError", "init key: uint32 of shape (3,)", _init_with_key(_three_words), _KEY + ("(3,)",)),
    ("InvalidRngError", "init key: an int", _init_with_key(lambda nn: 0), _KEY + ("int",)),
    ("InvalidRngError", "init key: a string", _init_with_key(lambda nn: "key"), _KEY + ("str",)),
    ("InvalidRngError", "init key: a batch of keys, uint32 (2, 2)", _init_with_key(_batch_of_keys), _KEY + ("(2, 2)",)),
    ("InvalidRngError", "init key: int32 of shape (2,)", _init_with_key(_int32_key), _KEY + ("int32",)),
    (
        "InvalidRngError",
        "init streams: 'params' is uint32 (3,)",
        _init_with_streams(_three_words),
        _KEY + ("rngs['params']", "(3,)"),
    ),
    (
        "InvalidRngError",
        "init streams: 'dropout' is a float",
        _init_with_streams(lambda nn: 1.5, "dropout"),
        _KEY + ("rngs['dropout']", "float"),
    ),
    (
        "InvalidRngError",
        "apply rngs: 'dropout' is a float array",
        _apply_with_rngs(lambda nn: {"dropout": _float_key(nn)}),
        _KEY + ("rngs['dropout']", "float32"),
    ),
    (
        "InvalidRngError",
        "apply rngs: 'dropout' is a string",
        _apply_with_rngs(lambda nn: {"dropout": "seed"}),
        _KEY + ("rngs['dropout']", "str"),
    ),
    ("InvalidRngError", "apply rngs: an int instead of a key or dict", _apply_with_rngs(lambda nn: 0), _KEY + ("int",)),
    (
        "InvalidRngError",
        "apply rngs: uint32 (3,) instead of a key or dict",
        _apply_with_rngs(_three_words),
        _KEY + ("(3,)",),
    ),
    (
        "TypeError",
        "nn.random.normal: a float32 key",
        lambda nn: nn.random.normal(_float_key(nn), (2,)),
        ("uint32", "float32"),
    ),
    (
        "TypeError",
        "nn.random.split: uint32 of shape (3,)",
        lambda nn: nn.random.split(_three_words(nn)),
        ("(2,)", "(3,)"),
    ),
]


def _typed_keys(nn):
    import jax

    return jax.random.split(jax.random.key(0))


JAX_ONLY_CASES = [
    ("InvalidRngError", "init key: two typed keys (shape (2,))", _init_with_key(_typed_keys), _KEY + ("shape (2,)",)),
    (
        "InvalidRngError",
        "apply rngs: a float jax array",
        _apply_with_rngs(lambda nn: {"dropout": nn.numpy.zeros(2)}),
        _KEY + ("rngs['dropout']", "float32"),
    ),
]
