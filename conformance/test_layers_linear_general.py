"""DenseGeneral and Einsum give the same variables and outputs on nnref and nnjax.

Hypothesis draws, for ``DenseGeneral``: the input shape, the contracted axes
(as a tuple in any order, each positive or negative, or a single int), the
leading batch axes, the feature shape (an int or a tuple), ``use_bias``, the
computation dtype (default, float32, bfloat16) and the parameter dtype; for
``Einsum``: an equation built from roles per input axis (kept, contracted,
contracted but kept as a batch axis), new kernel axes, shuffled subscript
orders and an optional ellipsis, plus the same dtype choices. Keys and input
data are drawn too.

Both backends must init the same tree with the same values ('prng_normal')
and, applied to the same (nnref's) variables, give the same output dtype and
values ('matmul' at the output's dtype). A float64 nnref run (params and
input cast to float64) bounds nnjax's float32 output within the float32 row.
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

DTYPES = (None, "float32", "bfloat16")
PARAM_DTYPES = ("float32", "float32", "bfloat16")


def layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.linear_general")


def _dtype(nn, name):
    return None if name is None else getattr(nn.numpy, name)


@st.composite
def dense_general_cases(draw):
    shape = draw(cst.shapes(min_dims=1, max_dims=3, max_side=3))
    ndim = len(shape)
    n_batch = draw(st.integers(0, min(2, ndim - 1)))
    free = list(range(n_batch, ndim))
    axes = draw(st.lists(st.sampled_from(free), min_size=1, max_size=len(free), unique=True))
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    axis = axes[0] if len(axes) == 1 and draw(st.booleans()) else tuple(axes)
    features = draw(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)))
    return dict(
        shape=shape,
        fields=dict(features=features, axis=axis, batch_dims=tuple(range(n_batch)), use_bias=draw(st.booleans())),
        dtype=draw(st.sampled_from(DTYPES)),
        param_dtype=draw(st.sampled_from(PARAM_DTYPES)),
        key=draw(cst.keys()),
        x_seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def einsum_cases(draw):
    n_in = draw(st.integers(1, 3))
    in_letters = "abc"[:n_in]
    sizes = {c: draw(st.integers(1, 3)) for c in "abcxy"}  # small: each new shape costs JAX compiles
    # Each input axis is kept (input and output), contracted (input and kernel)
    # or a batch axis (input, kernel and output).
    roles = {c: draw(st.sampled_from(["keep", "contract", "batch"])) for c in in_letters}
    contracted = [c for c in in_letters if roles[c] != "keep"]
    # The default lecun_normal kernel init needs a kernel of rank 2 at least.
    new = "xy"[: draw(st.integers(max(0, 2 - len(contracted)), 2))]
    kernel = contracted + list(new)
    out = [c for c in in_letters if roles[c] != "contract"] + list(new)
    kernel = "".join(draw(st.permutations(kernel)))
    out = "".join(draw(st.permutations(out)))
    ellipsis = draw(st.integers(0, 2))
    lead = tuple(draw(st.integers(1, 2)) for _ in range(ellipsis))
    prefix = "..." if ellipsis else ""
    return dict(
        shape=lead + tuple(sizes[c] for c in in_letters),
        kernel_shape=tuple(sizes[c] for c in kernel),
        einsum_str=f"{prefix}{in_letters},{kernel}->{prefix}{out}",
        use_bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(DTYPES)),
        param_dtype=draw(st.sampled_from(PARAM_DTYPES)),
        key=draw(cst.keys()),
        x_seed=draw(st.integers(0, 2**32 - 1)),
    )


def _build(nn, case):
    dtypes = dict(
        dtype=_dtype(nn, case["dtype"]),
        param_dtype=_dtype(nn, case["param_dtype"]),
        bias_init=nn.initializers.normal(1.0),
    )  # a non-zero bias, so its layout matters
    if "fields" in case:
        return layers(nn).DenseGeneral(**case["fields"], **dtypes)
    return layers(nn).Einsum(case["kernel_shape"], case["einsum_str"], use_bias=case["use_bias"], **dtypes)


def _check_both_backends(case):
    x = np.random.default_rng(case["x_seed"]).standard_normal(case["shape"]).astype(np.float32)
    ref_model, jax_model = _build(nnref, case), _build(nnjax, case)
    ref_vars = to_numpy(ref_model.init(case["key"].make(nnref), x))
    jax_vars = to_numpy(jax_model.init(case["key"].make(nnjax), to_backend(nnjax, x)))
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars, ref_vars, family="prng_normal")

    ref_y = np.asarray(ref_model.apply(ref_vars, x))
    jax_y = np.asarray(jax_model.apply(to_backend(nnjax, ref_vars), to_backend(nnjax, x)))
    assert jax_y.dtype == ref_y.dtype and jax_y.shape == ref_y.shape
    assert_close(jax_y, ref_y, family="matmul")

    if case["dtype"] is None and case["param_dtype"] == "float32":
        # With the dtype left to promotion, float64 params and input compute in float64.
        vars64 = {"params": {k: v.astype(np.float64) for k, v in ref_vars["params"].items()}}
        ref64 = np.asarray(ref_model.apply(vars64, x.astype(np.float64)))
        assert ref64.dtype == np.float64
        assert_close(jax_y, ref64, family="matmul", dtype="float32")


@settings()
@given(dense_general_cases())
def test_dense_general_agrees_across_backends(case):
    _check_both_backends(case)


@settings()
@given(einsum_cases())
def test_einsum_agrees_across_backends(case):
    _check_both_backends(case)
