"""Issue-15 layer options give the same trees and outputs on nnref and nnjax.

Hypothesis draws: which layer gets a ``dot_general_cls`` (a Module owning a
'scale' param, drawn at init) or a plain ``dot_general`` function, the
attention einsum hooks (``einsum_dot_general`` / custom einsums), the Conv
padding mode among every form the seed accepts ('SAME', 'VALID',
'CIRCULAR', 'REFLECT', 'CAUSAL' in 1D, ints, pairs, per-axis mixes), and the
``pool`` reduction (lax.add / max / min / a lambda) with its padding; keys
and input data too. Both backends must init the same tree ('prng_normal')
and, on nnref's variables, give the same output.
"""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.compare import skeleton, to_backend, to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def lax(nn):
    return importlib.import_module("jax.lax" if nn is nnjax else "nnref.lax")


def _scaled_dot(nn):
    class ScaledDot(nn.Module):
        @nn.compact
        def __call__(self, lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
            scale = self.param("scale", nn.initializers.normal(1.0), ())
            return lax(nn).dot_general(lhs, rhs, dimension_numbers, precision) * scale

    return ScaledDot


def _halving_dot(nn):
    return lambda lhs, rhs, dn, precision=None, preferred_element_type=None: (
        lax(nn).dot_general(lhs, rhs, dn, precision) * 0.5
    )


def _build_linear(nn, case):
    kw = {"cls": dict(dot_general_cls=_scaled_dot(nn)), "fn": dict(dot_general=_halving_dot(nn))}[case["how"]]
    bias = dict(bias_init=nn.initializers.normal(1.0))
    return {
        "Dense": lambda: nn.Dense(3, **kw, **bias),
        "DenseGeneral": lambda: nn.DenseGeneral((2, 3), axis=(-2, -1), **kw, **bias),
        "Einsum": lambda: nn.Einsum((4, 3), "nab,bc->nac", **kw, **bias),
        "MHA": lambda: nn.MultiHeadDotProductAttention(
            2, qkv_dot_general_cls=kw.get("dot_general_cls"), out_dot_general=kw.get("dot_general"), **bias
        ),
    }[case["layer"]]()


@st.composite
def linear_cases(draw):
    layer = draw(st.sampled_from(["Dense", "DenseGeneral", "Einsum", "MHA"]))
    return dict(
        layer=layer,
        how=draw(st.sampled_from(["cls", "fn"])),
        key=draw(cst.keys()),
        x_seed=draw(st.integers(0, 2**32 - 1)),
    )


def _agree(case, build, x, family, **apply_kw):
    ref_model, jax_model = build(nnref, case), build(nnjax, case)
    ref_vars = to_numpy(ref_model.init(case["key"].make(nnref), x))
    jax_vars = to_numpy(jax_model.init(case["key"].make(nnjax), to_backend(nnjax, x)))
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars, ref_vars, family="prng_normal")
    ref_y = np.asarray(ref_model.apply(ref_vars, x, **apply_kw))
    jax_y = np.asarray(jax_model.apply(to_backend(nnjax, ref_vars), to_backend(nnjax, x), **apply_kw))
    assert jax_y.shape == ref_y.shape and jax_y.dtype == ref_y.dtype
    assert_close(jax_y, ref_y, family=family)
    return ref_vars


@settings(max_examples=6)
@given(linear_cases())
def test_dot_general_injection_agrees(case):
    x = np.random.default_rng(case["x_seed"]).standard_normal((2, 2, 4)).astype(np.float32)
    variables = _agree(case, _build_linear, x, "attention" if case["layer"] == "MHA" else "matmul")
    if case["how"] == "cls":
        names = [k for k in variables["params"] if k.startswith("ScaledDot")]
        if case["layer"] == "MHA":
            names = [k for k in variables["params"]["query"] if k.startswith("ScaledDot")]
        assert names == ["ScaledDot_0"]


PADDINGS = ["SAME", "VALID", "CIRCULAR", "REFLECT", 1, (0, 2), [(1, 0), 2], [2, (0, 1)]]


@st.composite
def conv_cases(draw):
    rank = draw(st.sampled_from([1, 2]))
    padding = draw(st.sampled_from(PADDINGS + (["CAUSAL"] if rank == 1 else [])))
    if isinstance(padding, tuple):
        padding = [padding] * rank
    elif isinstance(padding, list) and len(padding) != rank:
        padding = padding[:rank]
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    return dict(rank=rank, padding=padding, kernel=kernel, key=draw(cst.keys()), x_seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=8)
@given(conv_cases())
def test_conv_padding_modes_agree(case):
    shape = (1,) + (4,) * case["rank"] + (2,)
    x = np.random.default_rng(case["x_seed"]).standard_normal(shape).astype(np.float32)
    _agree(case, lambda nn, c: nn.Conv(2, c["kernel"], padding=c["padding"]), x, "conv")


REDUCERS = {
    "add": (lambda nn: lax(nn).add, 0.0),
    "max": (lambda nn: lax(nn).max, -np.inf),
    "min": (lambda nn: lax(nn).min, np.inf),
    "lambda": (lambda nn: lambda a, b: a + b, 0.0),
}


@settings(max_examples=8)
@given(
    st.sampled_from(sorted(REDUCERS)),
    st.sampled_from(["SAME", "VALID", ((1, 0), (0, 1))]),
    st.sampled_from([None, (1, 2), (2, 1)]),
    st.integers(0, 2**32 - 1),
)
def test_pool_with_custom_reduce_fn_agrees(reduce, padding, strides, seed):
    x = np.random.default_rng(seed).standard_normal((2, 4, 5, 3)).astype(np.float32)
    fn, init = REDUCERS[reduce]
    outs = [np.asarray(nn.pool(to_backend(nn, x), init, fn(nn), (2, 2), strides, padding)) for nn in (nnref, nnjax)]
    assert outs[0].shape == outs[1].shape
    assert_close(outs[1], outs[0], family="reduction")
