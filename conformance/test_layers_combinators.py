"""Sequential chains give the same variable trees and outputs on nnref and nnjax.

Hypothesis draws a chain of steps: Dense layers of drawn widths (with or
without bias), activations (plain functions), a nested Sequential, a
tuple-returning step followed by a two-argument step, a dict-returning step
followed by a keyword step, and a deterministic Dropout; where the
Sequential sits (the root, a ``setup`` attribute, inside a ``compact``
method: the three naming rules); the input shape and the key. Both backends
must create the same variable paths with values within 'prng_normal', and,
given the same variables (nnref's), outputs within 'matmul'. An nnref run in
float64 (variables and input cast) bounds nnjax's float32 output within the
float32 'matmul' row.
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

STEP = st.one_of(
    st.tuples(st.just("dense"), st.sampled_from([2, 3]), st.booleans()),
    st.tuples(st.just("act"), st.sampled_from(["relu", "tanh"])),
    st.tuples(st.just("nested"), st.lists(st.sampled_from([2, 3]), min_size=1, max_size=2)),
    st.tuples(st.just("tuple_pair")),
    st.tuples(st.just("dict_pair")),
    st.tuples(st.just("dropout")),
)


@st.composite
def chains(draw):
    return dict(
        steps=draw(st.lists(STEP, min_size=1, max_size=4)),
        placement=draw(st.sampled_from(["root", "setup", "compact"])),
        # Few distinct sizes: every new shape costs JAX a compile.
        batch=draw(st.sampled_from([(2,), (1, 3)])),
        in_features=draw(st.sampled_from([2, 3])),
        x_seed=draw(st.integers(0, 2**32 - 1)),
        key=draw(cst.keys()),
    )


def build(nn, case):
    """The model for ``case`` on backend ``nn`` (built fresh: modules are per backend)."""
    layers = importlib.import_module(f"{nn.__name__}.layers.combinators")
    stochastic = importlib.import_module(f"{nn.__name__}.layers.stochastic")
    Sequential = layers.Sequential

    class Fork(nn.Module):
        def __call__(self, x):
            return x, 0.5 * x

    class Join(nn.Module):
        @nn.compact
        def __call__(self, a, b):
            return nn.Dense(a.shape[-1])(a) - b

    class ToDict(nn.Module):
        def __call__(self, x):
            return {"value": x, "shift": nn.numpy.ones(x.shape[-1:], x.dtype)}

    def from_kwargs(*, value, shift):
        return value + shift

    def make_steps():
        out = []
        for step in case["steps"]:
            kind = step[0]
            if kind == "dense":
                out.append(nn.Dense(step[1], use_bias=step[2]))
            elif kind == "act":
                out.append(getattr(nn, step[1]))
            elif kind == "nested":
                out.append(Sequential([nn.Dense(f) for f in step[1]]))
            elif kind == "tuple_pair":
                out += [Fork(), Join()]
            elif kind == "dict_pair":
                out += [ToDict(), from_kwargs]
            else:
                out.append(stochastic.Dropout(0.5, deterministic=True))
        return out

    placement = case["placement"]
    if placement == "root":
        return Sequential(make_steps())
    if placement == "setup":

        class Model(nn.Module):
            def setup(self):
                self.body = Sequential(make_steps())

            def __call__(self, x):
                return self.body(x)

        return Model()

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Sequential(make_steps())(x)

    return Model()


def _inputs(case):
    shape = tuple(case["batch"]) + (case["in_features"],)
    return np.random.default_rng(case["x_seed"]).standard_normal(shape).astype(np.float32)


def _cast(tree, dtype):
    if isinstance(tree, dict):
        return {k: _cast(v, dtype) for k, v in tree.items()}
    return np.asarray(tree).astype(dtype)


@settings()
@given(chains())
def test_sequential_agrees_across_backends(case):
    x = _inputs(case)
    ref_vars = to_numpy(build(nnref, case).init(case["key"].make(nnref), x))
    jax_vars = to_numpy(build(nnjax, case).init(case["key"].make(nnjax), to_backend(nnjax, x)))
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars, ref_vars, family="prng_normal")

    ref_out = to_numpy(build(nnref, case).apply(ref_vars, x))
    jax_out = to_numpy(build(nnjax, case).apply(to_backend(nnjax, ref_vars), to_backend(nnjax, x)))
    assert skeleton(jax_out) == skeleton(ref_out)
    assert_close(jax_out, ref_out, family="matmul")

    # float64 reference: same variables and input, cast up.
    ref64 = to_numpy(build(nnref, case).apply(_cast(ref_vars, np.float64), x.astype(np.float64)))
    assert ref64.dtype == np.float64
    assert_close(jax_out, ref64, family="matmul", dtype="float32")
