"""Recurrent cells: nnref and nnjax agree step by step, and float64 nnref bounds nnjax's error.

Hypothesis draws a cell and its configuration (features, input size, batch
axes, gate and activation functions, the cell's own switches, computation
dtype, carry initializer, number of steps) plus keys and inputs. For each
draw:

1. ``initialize_carry`` and ``init`` give the same trees (paths, dtypes,
   values: initializer draws) on both backends;
2. the cell is unrolled over the steps with a Python loop on both backends
   with the same (nnref's) variables; each step's output and carry agree
   ('matmul' row of the computation dtype). In bfloat16 nnjax starts every
   step from nnref's carry, so rounding differences do not compound;
3. nnref in float64 (parameters, carry and inputs cast) runs the same steps;
   nnjax's float32 outputs lie within the float32 tolerance of it.

Sizes come from small fixed sets: nnjax compiles every operation once per
shape, and the sets keep those compilations shared between examples.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.compare import skeleton, to_backend, to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

VECTOR_CELLS = ("LSTMCell", "OptimizedLSTMCell", "GRUCell", "MGUCell", "SimpleCell")
GATE_FNS = ("sigmoid", "hard_sigmoid")
ACTIVATION_FNS = ("tanh", "soft_sign")
DTYPES = (None, "float32", "bfloat16")


def layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.recurrent")


def _dtype(nn, name):
    return None if name is None else getattr(nn.numpy, name)


@st.composite
def vector_cell_configs(draw):
    name = draw(st.sampled_from(VECTOR_CELLS))
    options = {"activation_fn": draw(st.sampled_from(ACTIVATION_FNS))}
    if name != "SimpleCell":
        options["gate_fn"] = draw(st.sampled_from(GATE_FNS))
    if name == "MGUCell":
        options["reset_gate"] = draw(st.booleans())
    if name == "SimpleCell":
        options["residual"] = draw(st.booleans())
    return dict(
        name=name,
        options=options,
        features=draw(st.sampled_from((3, 4))),
        input_shape=draw(st.sampled_from(((), (2,), (1, 2)))) + (draw(st.sampled_from((3, 4))),),
        dtype=draw(st.sampled_from(DTYPES)),
        random_carry=draw(st.booleans()),
        steps=draw(st.integers(1, 3)),
        key=draw(st.integers(0, 2**32 - 1)),
        data_seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def conv_cell_configs(draw):
    kernel_size = draw(st.sampled_from(((3,), (2, 2))))
    spatial = (4,) if len(kernel_size) == 1 else (3, 3)
    # Padding must keep the spatial shape (the carry has the input's shape):
    # 'SAME', or explicit pairs (low, k - 1 - low), here all on one side.
    padding = draw(st.sampled_from(("SAME", "low", "high")))
    if padding != "SAME":
        padding = tuple((k - 1, 0) if padding == "low" else (0, k - 1) for k in kernel_size)
    return dict(
        name="ConvLSTMCell",
        options={"kernel_size": kernel_size, "padding": padding, "use_bias": draw(st.booleans())},
        features=2,
        # One batch shape (unbatched inputs are a unit test): every new input
        # shape costs nnjax a compilation of each convolution.
        input_shape=(2,) + spatial + (draw(st.sampled_from((2, 3))),),
        dtype=draw(st.sampled_from(DTYPES)),
        random_carry=draw(st.booleans()),
        steps=draw(st.integers(1, 2)),
        key=draw(st.integers(0, 2**32 - 1)),
        data_seed=draw(st.integers(0, 2**32 - 1)),
    )


def _make_cell(nn, cfg, *, dtype=None, param_dtype=None):
    options = dict(cfg["options"])
    for field in ("gate_fn", "activation_fn"):
        if field in options:
            options[field] = getattr(nn, options[field])
    if cfg["random_carry"]:
        options["carry_init"] = nn.initializers.normal(0.5)
    if param_dtype is not None:
        options["param_dtype"] = param_dtype
    return getattr(layers(nn), cfg["name"])(cfg["features"], dtype=dtype, **options)


def _map(tree, fn):
    if isinstance(tree, dict):
        return {k: _map(v, fn) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_map(v, fn) for v in tree)
    return fn(tree)


def _check(cfg, family):
    inputs = (
        np.random.default_rng(cfg["data_seed"]).normal(size=(cfg["steps"],) + cfg["input_shape"]).astype(np.float32)
    )
    bf16 = cfg["dtype"] == "bfloat16"
    row = "bfloat16" if bf16 else "float32"
    ref_cell = _make_cell(nnref, cfg, dtype=_dtype(nnref, cfg["dtype"]))
    jax_cell = _make_cell(nnjax, cfg, dtype=_dtype(nnjax, cfg["dtype"]))

    # 1. carry and variables.
    ref_carry = ref_cell.initialize_carry(nnref.random.PRNGKey(cfg["key"]), cfg["input_shape"])
    jax_carry = jax_cell.initialize_carry(nnjax.random.PRNGKey(cfg["key"]), cfg["input_shape"])
    assert ref_cell.num_feature_axes == jax_cell.num_feature_axes
    assert skeleton(to_numpy(jax_carry)) == skeleton(to_numpy(ref_carry))
    assert_trees_close(to_numpy(jax_carry), to_numpy(ref_carry), family="prng_normal", err_msg="initial carry")
    ref_vars = ref_cell.init(nnref.random.PRNGKey(cfg["key"] ^ 1), ref_carry, inputs[0])
    jax_vars = jax_cell.init(
        nnjax.random.PRNGKey(cfg["key"] ^ 1), to_backend(nnjax, to_numpy(ref_carry)), nnjax.numpy.asarray(inputs[0])
    )
    ref_vars, jax_vars_np = to_numpy(ref_vars), to_numpy(jax_vars)
    assert skeleton(jax_vars_np) == skeleton(ref_vars)
    assert_trees_close(jax_vars_np, ref_vars, family="prng_normal", err_msg="variables")

    # 2. the same variables, stepped on both backends.
    jax_vars = to_backend(nnjax, ref_vars)
    carry_r = to_numpy(ref_carry)
    carry_j = to_backend(nnjax, carry_r)
    jax_ys = []
    for t, x in enumerate(inputs):
        if bf16:
            carry_j = to_backend(nnjax, carry_r)
        new_r, y_r = ref_cell.apply(ref_vars, carry_r, x)
        carry_j, y_j = jax_cell.apply(jax_vars, carry_j, nnjax.numpy.asarray(x))
        carry_r, y_r = to_numpy(new_r), np.asarray(y_r)
        assert skeleton(to_numpy((carry_j, y_j))) == skeleton((carry_r, y_r)), f"step {t}: dtypes/shapes"
        assert_close(np.asarray(y_j), y_r, family=family, dtype=row, err_msg=f"step {t} output")
        for got, want in zip(_leaves(to_numpy(carry_j)), _leaves(carry_r)):
            assert_close(got, want, family=family, dtype=row, err_msg=f"step {t} carry")
        jax_ys.append(np.asarray(y_j))

    # 3. float64 nnref bounds nnjax's float32 error.
    if bf16:
        return
    f64 = np.float64
    cell64 = _make_cell(nnref, cfg, dtype=None if cfg["dtype"] is None else f64, param_dtype=f64)
    vars64 = _map(ref_vars, lambda a: np.asarray(a, f64))
    carry64 = _map(to_numpy(ref_carry), lambda a: np.asarray(a, f64))
    for t, x in enumerate(inputs):
        carry64, y64 = cell64.apply(vars64, carry64, x.astype(f64))
        assert np.asarray(y64).dtype == f64
        assert_close(jax_ys[t], y64, family=family, dtype="float32", err_msg=f"step {t}: nnjax vs float64 nnref")


def _leaves(tree):
    return list(tree) if isinstance(tree, tuple) else [tree]


@settings()
@given(cfg=vector_cell_configs())
def test_vector_cells_agree_across_backends(cfg):
    _check(cfg, "matmul")


@settings()
@given(cfg=conv_cell_configs())
def test_conv_lstm_cell_agrees_across_backends(cfg):
    _check(cfg, "conv")
