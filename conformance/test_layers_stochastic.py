"""Dropout draws the identical mask on nnref and nnjax.

Hypothesis draws the input shape, the rate (including the edge rates 0 and
1), ``broadcast_dims`` (as positive or negative axes), where
``deterministic`` is set (field or call) and its value, the RNG stream name,
whether the key comes from the stream or is passed as ``rng=``, where the
layer sits (the root, a compact child with or without an explicit name, a
``setup`` child: the key derivation follows the path) and the key. Both
backends must return the same dtype, the same zero pattern bit for bit and
the same kept values within the 'elementwise' row. An nnref run in float64
keeps the float32 mask (the mask is drawn in float32 whatever the input
dtype), and nnjax's float32 output lies within the float32 tolerance of it.
"""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.compare import to_backend, to_numpy
from shared_spec.tolerances import assert_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def Dropout(nn):
    return importlib.import_module(f"{nn.__name__}.layers.stochastic").Dropout


@st.composite
def dropout_cases(draw):
    shape = draw(cst.shapes(min_dims=1, max_dims=3, max_side=5))
    ndim = len(shape)
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    broadcast_dims = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    rate = draw(
        st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True, width=32))
    )
    return dict(
        shape=shape,
        rate=float(rate),
        broadcast_dims=broadcast_dims,
        deterministic=draw(st.sampled_from([False, False, False, True])),
        deterministic_in=draw(st.sampled_from(["field", "call"])),
        rng_collection=draw(st.sampled_from(["dropout", "noise"])),
        explicit_rng=draw(st.booleans()),
        placement=draw(st.sampled_from(["root", "compact", "compact_named", "setup"])),
        x_seed=draw(st.integers(0, 2**32 - 1)),
        key=draw(cst.keys()),
    )


def build(nn, case):
    """The model and a ``run(model, variables, x, key)`` for this case, on backend ``nn``."""
    D = Dropout(nn)
    fields = dict(rate=case["rate"], broadcast_dims=case["broadcast_dims"], rng_collection=case["rng_collection"])
    call = {}
    if case["deterministic_in"] == "field":
        fields["deterministic"] = case["deterministic"]
    else:
        call["deterministic"] = case["deterministic"]

    if case["placement"] == "root":
        model = D(**fields)
    elif case["placement"] == "setup":

        class Holder(nn.Module):
            def setup(self):
                self.drop = D(**fields)

            def __call__(self, x, **kwargs):
                return self.drop(x, **kwargs)

        model = Holder()
    else:
        name = "drop" if case["placement"] == "compact_named" else None

        class Holder(nn.Module):
            @nn.compact
            def __call__(self, x, **kwargs):
                return D(**fields, name=name)(x, **kwargs)

        model = Holder()

    def run(x, key):
        if case["explicit_rng"]:
            return model.apply({}, x, rng=key, **call)
        return model.apply({}, x, rngs={case["rng_collection"]: key}, **call)

    return run


def _inputs(case):
    x = np.random.default_rng(case["x_seed"]).standard_normal(case["shape"]).astype(np.float32)
    # Non-zero inputs, so that a zero in the output can only be a dropped entry.
    return np.where(x == 0, np.float32(1), x)


@settings()
@given(dropout_cases())
def test_dropout_mask_and_values_agree_across_backends(case):
    x = _inputs(case)
    ref = to_numpy(build(nnref, case)(x, case["key"].make(nnref)))
    jax = to_numpy(build(nnjax, case)(to_backend(nnjax, x), case["key"].make(nnjax)))
    assert ref.dtype == jax.dtype == np.float32
    assert ref.shape == jax.shape == x.shape
    assert_close(jax == 0, ref == 0, family="exact", err_msg="dropout masks differ")
    assert_close(jax, ref, family="elementwise")
    if case["deterministic"] or case["rate"] == 0.0:
        assert_close(ref, x, family="exact")
    elif case["rate"] == 1.0:
        assert not ref.any()
    else:
        kept = ref != 0
        assert_close(ref[kept], x[kept] / np.float32(1.0 - case["rate"]), family="elementwise")
        for dim in case["broadcast_dims"]:
            assert (np.diff(kept, axis=dim) == 0).all(), "mask not shared along a broadcast dim"


@settings()
@given(dropout_cases())
def test_float64_reference_bounds_nnjax_float32(case):
    x = _inputs(case)
    ref64 = to_numpy(build(nnref, case)(x.astype(np.float64), case["key"].make(nnref)))
    jax32 = to_numpy(build(nnjax, case)(to_backend(nnjax, x), case["key"].make(nnjax)))
    assert ref64.dtype == np.float64 and jax32.dtype == np.float32
    assert_close(jax32 == 0, ref64 == 0, family="exact", err_msg="float64 run drew another mask")
    assert_close(jax32, ref64, family="elementwise", dtype="float32")
