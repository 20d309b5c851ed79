"""Hostile input, call inputs: ``None``, scalars, text and objects where a layer needs a numeric array.

Each case calls a layer (named ``'bad'`` inside a parent module) on an input
it cannot use; the layer refuses it as it enters, naming its module path, the
argument and what it expects. Python nested lists are accepted as arrays (see
``tests/layers/test_list_inputs.py``), so they are not cases here.
"""

from __future__ import annotations

import numpy as np

PATH = "'/bad'"


def _call_child(make_layer, make_input, call=None):
    """``fn(nn)`` that initializes ``make_layer(nn)`` (named ``'bad'``) inside a parent on ``make_input(nn)``."""

    def fn(nn):
        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                layer = make_layer(nn)
                return call(layer, x) if call is not None else layer(x)

        return Parent().init(nn.random.PRNGKey(0), make_input(nn))

    return fn


def _strings(nn):
    return np.array([["a", "b"], ["c", "d"]])


def _objects(nn):
    return np.array([[object(), object()]], dtype=object)


def _dense(nn):
    return nn.Dense(3, name="bad")


def _conv(nn):
    return nn.Conv(3, (2,), name="bad")


def _layer_norm(nn):
    return nn.LayerNorm(name="bad")


def _embed(nn):
    return nn.Embed(10, 4, name="bad")


def _batch_norm(nn):
    return nn.BatchNorm(use_running_average=False, name="bad")


CASES = [
    # --- None where an array is needed ------------------------------------------------------------------
    (
        "TypeError",
        "Dense called on None",
        _call_child(_dense, lambda nn: None),
        ("Dense", PATH, "inputs=None", "array"),
    ),
    ("TypeError", "Conv called on None", _call_child(_conv, lambda nn: None), ("Conv", PATH, "inputs=None", "array")),
    (
        "TypeError",
        "LayerNorm called on None",
        _call_child(_layer_norm, lambda nn: None),
        ("LayerNorm", PATH, "x=None", "array"),
    ),
    (
        "TypeError",
        "Embed called on None",
        _call_child(_embed, lambda nn: None),
        ("Embed", PATH, "inputs=None", "array"),
    ),
    (
        "TypeError",
        "BatchNorm called on None",
        _call_child(_batch_norm, lambda nn: None),
        ("BatchNorm", PATH, "x=None", "array"),
    ),
    # --- scalars where rank >= 1 is needed -----------------------------------------------------------
    (
        "ValueError",
        "Dense called on a Python float",
        _call_child(_dense, lambda nn: 3.0),
        ("Dense", PATH, "inputs", "shape ()", "at least 1 dimension"),
    ),
    (
        "ValueError",
        "Dense called on a 0-d array",
        _call_child(_dense, lambda nn: np.float32(1.0)),
        ("Dense", PATH, "inputs", "shape ()", "at least 1 dimension"),
    ),
    (
        "ValueError",
        "Conv called on a scalar",
        _call_child(_conv, lambda nn: 2.0),
        ("Conv", PATH, "inputs", "shape ()", "at least 2 dimensions"),
    ),
    (
        "ValueError",
        "LayerNorm called on a scalar",
        _call_child(_layer_norm, lambda nn: 1.5),
        ("LayerNorm", PATH, "x", "shape ()", "at least 1 dimension"),
    ),
    (
        "ValueError",
        "BatchNorm called on a scalar",
        _call_child(_batch_norm, lambda nn: 1.5),
        ("BatchNorm", PATH, "x", "shape ()", "at least 1 dimension"),
    ),
    # --- text and object dtypes ------------------------------------------------------------------------
    (
        "TypeError",
        "Dense called on a string array",
        _call_child(_dense, _strings),
        ("Dense", PATH, "inputs", "<U1", "numeric"),
    ),
    (
        "TypeError",
        "Dense called on a nested list of strings",
        _call_child(_dense, lambda nn: [["a", "b"]]),
        ("Dense", PATH, "inputs", "numeric"),
    ),
    (
        "TypeError",
        "Dense called on a string",
        _call_child(_dense, lambda nn: "1.0"),
        ("Dense", PATH, "inputs='1.0'", "array"),
    ),
    (
        "TypeError",
        "Dense called on an object array",
        _call_child(_dense, _objects),
        ("Dense", PATH, "inputs", "object", "numeric"),
    ),
    (
        "TypeError",
        "Conv called on a string array",
        _call_child(_conv, lambda nn: np.full((1, 4, 2), "x")),
        ("Conv", PATH, "inputs", "<U1", "numeric"),
    ),
    (
        "TypeError",
        "LayerNorm called on an object array",
        _call_child(_layer_norm, _objects),
        ("LayerNorm", PATH, "x", "object", "numeric"),
    ),
    (
        "TypeError",
        "Embed called on a string array",
        _call_child(_embed, _strings),
        ("Embed", PATH, "inputs", "<U1", "numeric"),
    ),
    # --- Embed with float indices ---------------------------------------------------------------------
    (
        "ValueError",
        "Embed called on float ids",
        _call_child(_embed, lambda nn: np.array([[1.0, 2.0]], np.float32)),
        ("Embed", PATH, "inputs", "float32", "integer ids"),
    ),
    (
        "ValueError",
        "Embed called on a nested list of floats",
        _call_child(_embed, lambda nn: [[1.0, 2.5]]),
        ("Embed", PATH, "inputs", "float", "integer ids"),
    ),
    # --- BatchNorm on an empty batch in training ---------------------------------------------------------
    (
        "ValueError",
        "BatchNorm in training on a 0-size batch",
        _call_child(_batch_norm, lambda nn: np.ones((0, 4), np.float32)),
        ("BatchNorm", PATH, "x", "(0, 4)", "empty", "use_running_average"),
    ),
    (
        "ValueError",
        "BatchNorm in training on a batch with a 0-length spatial axis",
        _call_child(_batch_norm, lambda nn: np.ones((2, 0, 4), np.float32)),
        ("BatchNorm", PATH, "x", "(2, 0, 4)", "empty"),
    ),
]

JAX_ONLY_CASES = []
