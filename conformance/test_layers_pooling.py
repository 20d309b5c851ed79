"""Pooling agrees across backends, and float64 nnref bounds nnjax's float32 averages.

Each example draws a 1-D, 2-D or 3-D window (sizes 1-3), strides (or the
default), padding (``'SAME'``, ``'VALID'`` or ``(low, high)`` pairs smaller
than the window), inputs with no, one or two batch axes, and the operation:
``max_pool``, ``min_pool``, ``avg_pool`` with and without
``count_include_pad``, or ``pool`` with a custom sum. Max and min must agree
exactly (no arithmetic); sums and averages within the ``'reduction'`` row,
and nnjax's float32 average within float32 of nnref's float64 one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_spec.tolerances import assert_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def pooling(nn):
    return importlib.import_module(f"{nn.__name__}.layers.pooling")


@dataclass(frozen=True)
class PoolCase:
    op: str  # 'max' | 'min' | 'avg' | 'avg_exclude_pad' | 'sum'
    window: tuple
    strides: tuple | None
    padding: object
    shape: tuple
    seed: int

    def run(self, nn, x):
        p = pooling(nn)
        if self.op == "sum":
            strides = self.strides or (1,) * len(self.window)
            return p.pool(x, 0.0, nn.numpy.add, self.window, strides, self.padding)
        if self.op in ("avg", "avg_exclude_pad"):
            return p.avg_pool(x, self.window, self.strides, self.padding, count_include_pad=self.op == "avg")
        return getattr(p, f"{self.op}_pool")(x, self.window, self.strides, self.padding)

    @property
    def family(self):
        return "exact" if self.op in ("max", "min") else "reduction"


@st.composite
def pool_cases(draw):
    rank = draw(st.sampled_from((1, 1, 2, 2, 3)))
    window = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = draw(st.none() | st.tuples(*(st.integers(1, 3) for _ in range(rank))))
    padding = draw(
        st.sampled_from(("SAME", "VALID"))
        | st.tuples(*(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)) for k in window))
    )
    spatial = tuple(k + draw(st.integers(0, 3)) for k in window)
    batch = draw(st.sampled_from(((), (2,), (1, 2))))
    return PoolCase(
        op=draw(st.sampled_from(("max", "min", "avg", "avg_exclude_pad", "sum"))),
        window=window,
        strides=strides,
        padding=padding,
        shape=batch + spatial + (draw(st.integers(1, 3)),),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@settings()
@given(pool_cases())
def test_pooling_agrees_across_backends(case):
    x = np.random.default_rng(case.seed).standard_normal(case.shape).astype(np.float32)
    y_ref = np.asarray(case.run(nnref, x))
    y_jax = np.asarray(case.run(nnjax, x))
    assert y_jax.shape == y_ref.shape and y_jax.dtype == y_ref.dtype == np.float32
    assert_close(y_jax, y_ref, family=case.family, err_msg=f"{case.op}: nnjax vs nnref")
    y64 = np.asarray(case.run(nnref, x.astype(np.float64)))
    assert y64.dtype == np.float64
    assert_close(y_jax, y64, family=case.family, dtype="float32", err_msg=f"{case.op}: nnjax vs float64 nnref")
