"""``RNN`` and ``Bidirectional``: nnref and nnjax agree on variables and on every output.

Hypothesis draws a layer (an ``RNN`` of one cell, or a ``Bidirectional`` of
two), the cells (``LSTMCell``, ``OptimizedLSTMCell``, ``GRUCell``, ``MGUCell``,
``SimpleCell``, with zero or random initial carries), the layout
(``time_major``), the direction (``reverse``, ``keep_order``), padding
(``seq_lengths``, lengths 0 to the full length), ``return_carry``, an
``init_key`` or none, and keys and inputs. For each draw:

1. ``init`` gives the same variable trees (paths, dtypes, values) on both
   backends;
2. ``apply`` with the same (nnref's) variables gives the same outputs and
   carries ('matmul' row: a few small matmuls and activations per step);
3. nnref in float64 (parameters, carry and inputs cast) runs the same
   layer; nnjax's float32 outputs lie within the float32 tolerance of it.

Sizes come from small fixed sets (3 hidden units, 4 input features, 4 steps,
three batch shapes): nnjax compiles the scan once per shape and layer
configuration, and the sets keep those compilations shared between examples.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.compare import skeleton, to_backend, to_numpy
from shared_spec.tolerances import assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

CELLS = ("LSTMCell", "OptimizedLSTMCell", "GRUCell", "MGUCell", "SimpleCell")
FEATURES, IN_FEATURES, STEPS = 3, 4, 4
BATCH_SHAPES = ((), (2,), (2, 1))


def rnn_layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.rnn")


@st.composite
def rnn_configs(draw):
    batch = draw(st.sampled_from(BATCH_SHAPES))
    bidirectional = draw(st.booleans())
    padded = bool(batch) and draw(st.booleans())
    n = int(np.prod(batch))
    return dict(
        bidirectional=bidirectional,
        cells=[(draw(st.sampled_from(CELLS)), draw(st.booleans())) for _ in range(2 if bidirectional else 1)],
        batch=batch,
        time_major=draw(st.booleans()),
        reverse=draw(st.booleans()),
        keep_order=draw(st.booleans()),
        return_carry=draw(st.booleans()),
        seq_lengths=(
            np.array(draw(st.lists(st.integers(0, STEPS), min_size=n, max_size=n))).reshape(batch) if padded else None
        ),
        init_key=draw(st.none() | st.integers(0, 2**32 - 1)),
        key=draw(st.integers(0, 2**32 - 1)),
        data_seed=draw(st.integers(0, 2**32 - 1)),
    )


def _layer(nn, cfg, param_dtype=None):
    R = rnn_layers(nn)
    options = {} if param_dtype is None else {"param_dtype": param_dtype}

    def carry_init(key, shape, dtype):
        # drawn in float32 and cast, so that the float64 run starts from the same carry
        return nn.initializers.normal(0.5)(key, shape, nn.numpy.float32).astype(dtype)

    def cell(name, random_carry):
        extra = {"carry_init": carry_init} if random_carry else {}
        return getattr(nn, name)(FEATURES, **options, **extra)

    rnns = [R.RNN(cell(*c)) for c in cfg["cells"]]
    if cfg["bidirectional"]:
        return R.Bidirectional(*rnns, time_major=cfg["time_major"], return_carry=cfg["return_carry"])
    return R.RNN(
        rnns[0].cell,
        time_major=cfg["time_major"],
        return_carry=cfg["return_carry"],
        reverse=cfg["reverse"],
        keep_order=cfg["keep_order"],
    )


def _call_kwargs(nn, cfg):
    kwargs = {}
    if cfg["seq_lengths"] is not None:
        kwargs["seq_lengths"] = nn.numpy.asarray(cfg["seq_lengths"])
    if cfg["init_key"] is not None:
        kwargs["init_key"] = nn.random.PRNGKey(cfg["init_key"])
    if cfg["bidirectional"]:  # accepted and ignored by Bidirectional
        kwargs.update(reverse=cfg["reverse"], keep_order=cfg["keep_order"])
    return kwargs


def _map(tree, fn):
    if isinstance(tree, dict):
        return {k: _map(v, fn) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_map(v, fn) for v in tree)
    return fn(tree)


@settings()
@given(cfg=rnn_configs())
def test_rnn_layers_agree_across_backends(cfg):
    batch, time_major = cfg["batch"], cfg["time_major"]
    shape = ((STEPS,) + batch if time_major else batch + (STEPS,)) + (IN_FEATURES,)
    x = np.random.default_rng(cfg["data_seed"]).normal(size=shape).astype(np.float32)
    ref_layer, jax_layer = _layer(nnref, cfg), _layer(nnjax, cfg)
    ref_kwargs, jax_kwargs = _call_kwargs(nnref, cfg), _call_kwargs(nnjax, cfg)

    # 1. variables
    ref_vars = to_numpy(ref_layer.init(nnref.random.PRNGKey(cfg["key"]), x, **ref_kwargs))
    jax_vars = to_numpy(jax_layer.init(nnjax.random.PRNGKey(cfg["key"]), nnjax.numpy.asarray(x), **jax_kwargs))
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars, ref_vars, family="prng_normal", err_msg="variables")

    # 2. outputs (and carries) from the same variables
    ref_out = to_numpy(ref_layer.apply(ref_vars, x, **ref_kwargs))
    jax_out = to_numpy(jax_layer.apply(to_backend(nnjax, ref_vars), nnjax.numpy.asarray(x), **jax_kwargs))
    assert skeleton(jax_out) == skeleton(ref_out)
    assert_trees_close({"out": jax_out}, {"out": ref_out}, family="matmul", err_msg="apply")

    # 3. float64 nnref bounds nnjax's float32 error
    f64 = np.float64
    layer64 = _layer(nnref, cfg, param_dtype=f64)
    out64 = to_numpy(layer64.apply(_map(ref_vars, lambda a: a.astype(f64)), x.astype(f64), **ref_kwargs))
    assert all(np.asarray(leaf).dtype == f64 for leaf in _leaves(out64))
    assert_trees_close(
        {"out": jax_out},
        {"out": _map(out64, lambda a: a.astype(np.float32))},
        family="matmul",
        err_msg="nnjax vs float64 nnref",
    )


def _leaves(tree):
    if isinstance(tree, tuple):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]
