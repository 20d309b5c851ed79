"""nnref.lax against jax.lax: values, dtypes, errors and signatures, op by op.

JAX is the oracle (tests may import it; nnref never does). Every case is one
call written once, ``call(L, *inputs)``, run with ``L = nnref.lax`` and
``L = jax.lax`` on the same NumPy inputs. float64 cases run JAX inside
``jax.enable_x64(True)``, so JAX really computes in float64 and the float64
tolerance rows apply (with x64 off JAX would demote the inputs to float32
and the comparison would only test float32). Integer and bool cases, and
the dtype-acceptance tables, run with x64 off: that is the JAX nnref's dtype
rules mirror.

This module holds what the ``test_lax_<topic>.py`` files next to it share:
the :class:`Case` record, the input makers and the comparison with JAX
(:func:`check_matches_jax`, run over a file's ``CASES`` by its
``test_matches_jax``).
"""

from __future__ import annotations

import contextlib
import zlib
from typing import Callable, NamedTuple

import ml_dtypes
import numpy as np
import pytest

from nnref import lax
from nnref.tree_util import tree_flatten
from shared_spec.tolerances import assert_close

jax = pytest.importorskip('jax')
jlax = jax.lax
jnp = jax.numpy

F32, F64, F16, BF16 = 'float32', 'float64', 'float16', 'bfloat16'
FLOATS = (F32, F64)
ALL_FLOATS = (F32, F64, F16, BF16)
I32, U32, BOOL = 'int32', 'uint32', 'bool'


class Case(NamedTuple):
    id: str
    call: Callable  # (L, *inputs) -> result pytree, L being nnref.lax or jax.lax
    inputs: Callable  # (rng, dtype) -> tuple of NumPy inputs
    family: str = 'exact'
    dtypes: tuple = FLOATS


# ---------------------------------------------------------------------------
# input makers: (rng, dtype) -> tuple of arrays
# ---------------------------------------------------------------------------

SHAPE = (3, 4)


def uniform(lo, hi, shape=SHAPE):
    return lambda rng, dt: (rng.uniform(lo, hi, shape).astype(dt),)


def ints(lo, hi, shape=SHAPE):
    return lambda rng, dt: (rng.integers(lo, hi, shape).astype(dt),)


def joined(*makers):
    return lambda rng, dt: tuple(x for m in makers for x in m(rng, dt))


def with_specials(lo, hi):
    """Uniform values plus infinities, NaN, signed zeros and exact halves."""

    def make(rng, dt):
        x = rng.uniform(lo, hi, 16)
        x[:8] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 0.5, -2.5, 1.5]
        return (x.reshape(4, 4).astype(dt),)

    return make


def halves(rng, dt):
    return ((np.arange(-8, 8) / 2.0 + rng.integers(0, 2, 16) * 0.25).reshape(4, 4).astype(dt),)


def rounded(lo, hi):
    """Values with many ties, for comparisons and argmax."""
    return lambda rng, dt: (np.round(rng.uniform(lo, hi, SHAPE), 0).astype(dt),)


def away_from_zero(lo, hi):
    return lambda rng, dt: ((rng.uniform(lo, hi, SHAPE) * rng.choice([-1, 1], SHAPE)).astype(dt),)


def cases_of(op, makers_and_families, dtypes=FLOATS):
    return [Case(f'{op}', lambda L, *a, _op=op: getattr(L, _op)(*a), m, fam, dtypes) for m, fam in makers_and_families]


# Integers and bools: wraparound, C division, XLA's shifts.
INT_EDGES = np.array([7, -7, np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, 5, -1, 12], np.int32)
INT_DIVISORS = np.array([2, 2, -1, 3, 4, 0, 0, -5], np.int32)
UINT_EDGES = np.array([7, 0, 2**31, 2**32 - 1, 5, 1, 9, 100], np.uint32)
UINT_DIVISORS = np.array([0, 0, 1, 2, 3, 7, 2, 9], np.uint32)
SHIFTS = np.array([0, 1, 5, 31, 32, 40, -1, 3], np.int32)


def fixed(*arrays):
    return lambda rng, dt: tuple(np.array(a) for a in arrays)


BOOLS = (np.array([True, True, False, False]), np.array([True, False, True, False]))


# ---------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------


def case_params(cases):
    """``(case, dtype)`` parameters for ``test_matches_jax``, with ids made unique by a counter."""
    seen = {}
    for case in cases:
        n = seen.get(case.id, 0)
        seen[case.id] = n + 1
        for dtype in case.dtypes:
            yield pytest.param(case, dtype, id=f'{case.id}{"_" + str(n) if n else ""}-{dtype}')


def _x64_if(inputs, dtype):
    wide = dtype == F64 or any(np.asarray(a).dtype.itemsize == 8 for a in inputs)
    return jax.enable_x64(True) if wide else contextlib.nullcontext()


def _inputs(case, dtype):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    dt = ml_dtypes.bfloat16 if dtype == BF16 else np.dtype(dtype)
    return case.inputs(rng, dt)


def assert_same_result(actual, desired, family, err_msg):
    """nnref's ``actual`` and JAX's ``desired``: same containers, leaf dtypes and values (per ``family``)."""
    a_leaves, _ = tree_flatten(actual)
    d_leaves, _ = jax.tree_util.tree_flatten(desired)
    assert len(a_leaves) == len(d_leaves), f'{err_msg}: {len(a_leaves)} leaves vs {len(d_leaves)}'
    # the same containers, too (lists vs tuples, dict keys)
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(
        jax.tree_util.tree_map(lambda _: 0, desired)
    ), err_msg
    for i, (a, d) in enumerate(zip(a_leaves, d_leaves)):
        if not isinstance(d, (jax.Array, np.ndarray)):  # static results (specs, pads) are plain Python
            assert a == d, f'{err_msg}: leaf {i}: {a!r} vs {d!r}'
            continue
        d = np.asarray(d)
        assert isinstance(a, np.ndarray), f'{err_msg}: leaf {i} is {type(a).__name__}, not an ndarray'
        assert a.dtype == d.dtype, f'{err_msg}: leaf {i} dtype {a.dtype}, JAX {d.dtype}'
        assert_close(a, d, family=family, err_msg=f'{err_msg} leaf {i}')


def check_matches_jax(case, dtype):
    """``case`` on ``dtype`` inputs gives JAX's result: values, dtypes and containers."""
    inputs = _inputs(case, dtype)
    actual = case.call(lax, *inputs)
    with _x64_if(inputs, dtype):
        desired = case.call(jlax, *inputs)
    assert_same_result(actual, desired, case.family, case.id)
