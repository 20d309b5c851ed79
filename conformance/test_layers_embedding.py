"""Embed gives the same tables, lookups and ``attend`` scores on nnref and nnjax.

Hypothesis draws the table size (including the single-row special case),
the feature count, ``dtype``/``param_dtype``, a batch shape of ids (some
negative, some out of range), a query and a PRNG key. Both backends must
create the same variable tree (values within the 'prng_normal' row); given
the *same* variables (nnref's), lookups must be identical (NaN where an id is
out of range) and ``attend`` within the 'matmul' row. An nnref run in float64
bounds nnjax's float32 error: nnjax's float32 ``attend`` lies within the
float32 tolerance of the float64 result.
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

DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": "bfloat16"}


def Embed(nn):
    return importlib.import_module(f"{nn.__name__}.layers.embedding").Embed


def _dtype(nn, name):
    if name is None:
        return None
    if name == "bfloat16":
        return nn.numpy.bfloat16 if nn is nnjax else importlib.import_module("nnref.dtypes").bfloat16
    return DTYPES[name]


@st.composite
def embed_cases(draw):
    # Few distinct sizes: every new shape costs JAX a compile.
    num_embeddings = draw(st.sampled_from([1, 2, 5]))
    features = draw(st.sampled_from([1, 3]))
    batch = draw(st.sampled_from([(), (3,), (2, 3)]))
    # Mostly valid ids, plus negative and out-of-range ones.
    ids = draw(
        st.lists(
            st.integers(-num_embeddings - 1, num_embeddings),
            min_size=int(np.prod(batch, dtype=int)),
            max_size=int(np.prod(batch, dtype=int)),
        )
    )
    return dict(
        num_embeddings=num_embeddings,
        features=features,
        dtype=draw(st.sampled_from([None, "float32", "float16", "bfloat16"])),
        param_dtype=draw(st.sampled_from(["float32", "float32", "bfloat16"])),
        ids=np.array(ids, np.int32).reshape(batch),
        query_seed=draw(st.integers(0, 2**32 - 1)),
        query_rows=draw(st.sampled_from([1, 2])),
        key=draw(cst.keys()),
    )


def _layer(nn, case, **overrides):
    fields = dict(
        num_embeddings=case["num_embeddings"],
        features=case["features"],
        dtype=_dtype(nn, case["dtype"]),
        param_dtype=_dtype(nn, case["param_dtype"]),
    )
    fields.update(overrides)
    return Embed(nn)(**fields)


@settings()
@given(embed_cases())
def test_embed_agrees_across_backends(case):
    ids = case["ids"]
    query = (
        np.random.default_rng(case["query_seed"])
        .standard_normal((case["query_rows"], case["features"]))
        .astype(np.float32)
    )
    results = {}
    for nn in (nnref, nnjax):
        results[nn.__name__] = to_numpy(_layer(nn, case).init(case["key"].make(nn), to_backend(nn, ids)))
    ref_vars, jax_vars = results["nnref"], results["nnjax"]
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars, ref_vars, family="prng_normal")

    # Same variables on both: lookups are copies of rows, attend a matmul.
    outputs = {}
    for nn in (nnref, nnjax):
        layer = _layer(nn, case)
        variables = to_backend(nn, ref_vars)
        outputs[nn.__name__] = (
            to_numpy(layer.apply(variables, to_backend(nn, ids))),
            to_numpy(layer.apply(variables, to_backend(nn, query), method=layer.attend)),
        )
    (ref_out, ref_scores), (jax_out, jax_scores) = outputs["nnref"], outputs["nnjax"]
    expected_shape = ids.shape + (case["features"],)
    if case["num_embeddings"] == 1:
        # The seed's single-row path broadcasts against the (1, features) table.
        expected_shape = np.broadcast_shapes(expected_shape, (1, case["features"]))
    assert ref_out.shape == jax_out.shape == expected_shape
    assert ref_out.dtype == jax_out.dtype
    assert_close(jax_out, ref_out, family="exact")
    assert jax_scores.dtype == ref_scores.dtype
    assert_close(jax_scores, ref_scores, family="matmul")


@settings()
@given(embed_cases())
def test_float64_reference_bounds_nnjax_float32(case):
    ids = case["ids"]
    query = (
        np.random.default_rng(case["query_seed"])
        .standard_normal((case["query_rows"], case["features"]))
        .astype(np.float32)
    )
    plain = dict(dtype=None, param_dtype=np.float32)
    variables = to_numpy(_layer(nnref, case, **plain).init(case["key"].make(nnref), ids))
    table64 = {"params": {"embedding": variables["params"]["embedding"].astype(np.float64)}}
    ref64 = _layer(nnref, case, dtype=None, param_dtype=np.float64)
    out64 = ref64.apply(table64, ids)
    scores64 = ref64.apply(table64, query.astype(np.float64), method=ref64.attend)
    assert out64.dtype == scores64.dtype == np.float64

    layer = _layer(nnjax, case, **plain)
    jvars = to_backend(nnjax, variables)
    out32 = to_numpy(layer.apply(jvars, to_backend(nnjax, ids)))
    scores32 = to_numpy(layer.apply(jvars, to_backend(nnjax, query), method=layer.attend))
    assert out32.dtype == scores32.dtype == np.float32
    assert_close(out32, out64, family="exact", dtype="float32")
    assert_close(scores32, scores64, family="matmul", dtype="float32")
