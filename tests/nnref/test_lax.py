"""nnref.lax against jax.lax: values, dtypes, errors and signatures, op by op.

JAX is the oracle (tests may import it; nnref never does). Every case is one
call written once, ``call(L, *inputs)``, run with ``L = nnref.lax`` and
``L = jax.lax`` on the same NumPy inputs. float64 cases run JAX inside
``jax.enable_x64(True)``, so JAX really computes in float64 and the float64
tolerance rows apply (with x64 off JAX would demote the inputs to float32
and the comparison would only test float32). Integer and bool cases, and
the dtype-acceptance tables, run with x64 off: that is the JAX nnref's dtype
rules mirror.
"""

from __future__ import annotations

import contextlib
import inspect
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


# ---------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------

UNARY_FLOAT = {
    # op: (input maker, family)
    'abs': (with_specials(-5, 5), 'exact'),
    'neg': (with_specials(-5, 5), 'exact'),
    'sign': (with_specials(-5, 5), 'exact'),
    'floor': (with_specials(-5, 5), 'exact'),
    'ceil': (with_specials(-5, 5), 'exact'),
    'round': (halves, 'exact'),
    'is_finite': (with_specials(-5, 5), 'exact'),
    'square': (uniform(-5, 5), 'elementwise'),
    'reciprocal': (away_from_zero(0.1, 5), 'elementwise'),
    'sqrt': (uniform(0, 5), 'transcendental'),
    'rsqrt': (uniform(0.1, 5), 'transcendental'),
    'cbrt': (uniform(-5, 5), 'transcendental'),
    'exp': (uniform(-5, 5), 'transcendental'),
    'exp2': (uniform(-5, 5), 'transcendental'),
    'expm1': (uniform(-2, 2), 'transcendental'),
    'log': (uniform(0.1, 5), 'transcendental'),
    'log1p': (uniform(-0.9, 5), 'transcendental'),
    'tanh': (uniform(-5, 5), 'transcendental'),
    'logistic': (uniform(-8, 8), 'transcendental'),
    'sin': (uniform(-3, 3), 'transcendental'),
    'cos': (uniform(-3, 3), 'transcendental'),
    'tan': (uniform(-1.2, 1.2), 'transcendental'),
    'asin': (uniform(-0.95, 0.95), 'transcendental'),
    'acos': (uniform(-0.95, 0.95), 'transcendental'),
    'atan': (uniform(-5, 5), 'transcendental'),
    'sinh': (uniform(-3, 3), 'transcendental'),
    'cosh': (uniform(-3, 3), 'transcendental'),
    'asinh': (uniform(-5, 5), 'transcendental'),
    'acosh': (uniform(1.05, 5), 'transcendental'),
    'atanh': (uniform(-0.9, 0.9), 'transcendental'),
    'erf': (uniform(-3, 3), 'transcendental'),
    'erfc': (uniform(-3, 3), 'transcendental'),
    'erf_inv': (uniform(-0.95, 0.95), 'transcendental'),
    'lgamma': (uniform(0.2, 6), 'transcendental'),
    'digamma': (uniform(0.5, 6), 'transcendental'),
}
# Narrow floats go through float32 and one rounding on both sides; the
# exactly rounded ops and the smooth ones are where that is well defined.
NARROW_OK = {
    'abs',
    'neg',
    'floor',
    'ceil',
    'round',
    'is_finite',
    'square',
    'sqrt',
    'exp',
    'log',
    'tanh',
    'logistic',
    'sin',
    'cos',
    'erf',
    'rsqrt',
}

CASES = []
for _op, (_make, _family) in UNARY_FLOAT.items():
    CASES += cases_of(_op, [(_make, _family)], ALL_FLOATS if _op in NARROW_OK else FLOATS)

CASES += [
    Case('round_to_nearest_even', lambda L, x: L.round(x, L.RoundingMethod.TO_NEAREST_EVEN), halves),
    Case('round_method_int', lambda L, x: L.round(x, 1), halves),
    Case('sqrt_accuracy_kw', lambda L, x: L.sqrt(x, accuracy=None), uniform(0, 4), 'transcendental'),
]

BINARY_FLOAT = {
    'add': (joined(uniform(-5, 5), uniform(-5, 5)), 'elementwise'),
    'sub': (joined(uniform(-5, 5), uniform(-5, 5)), 'elementwise'),
    'mul': (joined(uniform(-5, 5), uniform(-5, 5)), 'elementwise'),
    'div': (joined(uniform(-5, 5), away_from_zero(0.1, 5)), 'elementwise'),
    'rem': (joined(uniform(-9, 9), away_from_zero(0.5, 3)), 'exact'),
    'max': (joined(with_specials(-5, 5), with_specials(-5, 5)), 'exact'),
    'min': (joined(with_specials(-5, 5), with_specials(-5, 5)), 'exact'),
    'pow': (joined(uniform(0.1, 3), uniform(-2, 2)), 'transcendental'),
    'atan2': (joined(uniform(-5, 5), uniform(-5, 5)), 'transcendental'),
    'nextafter': (joined(uniform(-5, 5), uniform(-5, 5)), 'exact'),
    'eq': (joined(rounded(-2, 2), rounded(-2, 2)), 'exact'),
    'ne': (joined(with_specials(-2, 2), with_specials(-2, 2)), 'exact'),
    'lt': (joined(rounded(-2, 2), rounded(-2, 2)), 'exact'),
    'le': (joined(rounded(-2, 2), rounded(-2, 2)), 'exact'),
    'gt': (joined(rounded(-2, 2), rounded(-2, 2)), 'exact'),
    'ge': (joined(rounded(-2, 2), rounded(-2, 2)), 'exact'),
}
for _op, (_make, _family) in BINARY_FLOAT.items():
    CASES += cases_of(
        _op, [(_make, _family)], ALL_FLOATS if _op in ('add', 'sub', 'mul', 'div', 'max', 'min') else FLOATS
    )

# Python scalars are weak: they take the array's dtype.
CASES += [
    Case('add_weak_float', lambda L, x: L.add(x, 2.5), uniform(-5, 5), 'elementwise'),
    Case('mul_weak_float_not_rounded_to_float32', lambda L, x: L.mul(x, 1.1), uniform(-5, 5), 'elementwise'),
    Case('mul_weak_float_left', lambda L, x: L.mul(0.5, x), uniform(-5, 5), 'elementwise'),
    Case('max_weak_zero', lambda L, x: L.max(x, 0.0), uniform(-5, 5)),
    Case(
        'pow_int_exponent_array',
        lambda L, x, y: L.pow(x, y),
        joined(uniform(-3, 3), lambda rng, dt: (rng.integers(-3, 4, SHAPE).astype(np.int32),)),
        'transcendental',
    ),
    Case('pow_weak_int_exponent', lambda L, x: L.pow(x, 3), uniform(-3, 3), 'transcendental'),
    Case('pow_weak_base', lambda L, x: L.pow(2.0, x), uniform(-3, 3), 'transcendental'),
    Case('atan2_weak', lambda L, x: L.atan2(x, 1.0), uniform(-3, 3), 'transcendental'),
]
CASES += [
    Case(
        f'integer_pow_{y}',
        lambda L, x, _y=y: L.integer_pow(x, _y),
        away_from_zero(0.3, 2),
        'elementwise' if abs(y) <= 2 else 'transcendental',
    )
    for y in (0, 1, 2, 3, -1, -2, 7)
]

# Selection
CASES += [
    Case(
        'select',
        lambda L, p, a, b: L.select(p, a, b),
        joined(lambda rng, dt: (rng.random(SHAPE) < 0.5,), uniform(-1, 1), uniform(-1, 1)),
    ),
    Case('select_scalar_pred', lambda L, a, b: L.select(np.bool_(True), a, b), joined(uniform(-1, 1), uniform(-1, 1))),
    Case(
        'select_int_pred',
        lambda L, p, a, b: L.select(p, a, b),
        joined(lambda rng, dt: (rng.integers(0, 3, SHAPE).astype(np.int32),), uniform(-1, 1), uniform(-1, 1)),
    ),
    Case(
        'select_n_int',
        lambda L, w, a, b, c: L.select_n(w, a, b, c),
        joined(
            lambda rng, dt: (rng.integers(0, 3, SHAPE).astype(np.int32),),
            uniform(-1, 1),
            uniform(-1, 1),
            uniform(-1, 1),
        ),
    ),
    Case(
        'select_n_bool',
        lambda L, w, a, b: L.select_n(w, a, b),
        joined(lambda rng, dt: (rng.random(SHAPE) < 0.5,), uniform(-1, 1), uniform(-1, 1)),
    ),
    Case('select_n_one_case', lambda L, a: L.select_n(np.int32(0), a), uniform(-1, 1)),
    Case('clamp_weak_bounds', lambda L, x: L.clamp(-0.5, x, 0.5), with_specials(-2, 2)),
    Case('clamp_array_bound', lambda L, lo, x: L.clamp(lo, x, 1.0), joined(uniform(-1, 0), uniform(-2, 2))),
]

# Conversions
CONVERSION_TARGETS = ['int32', 'int8', 'uint8', 'uint32', 'bool', 'float16', 'bfloat16', 'float32']
CASES += [
    Case(
        f'convert_element_type_to_{t}',
        lambda L, x, _t=t: L.convert_element_type(x, _t),
        lambda rng, dt: (
            (
                np.concatenate([rng.uniform(-400, 400, 10), [np.nan, np.inf, -np.inf, 3e9, -3e9, 0.5, -0.5, -1.7]])
            ).astype(dt),
        ),
        'exact',
        (F32,),
    )
    for t in CONVERSION_TARGETS
]
CASES += [
    Case(
        'convert_element_type_python_types',
        lambda L, x: (L.convert_element_type(x, float), L.convert_element_type(x, int)),
        uniform(-9, 9),
        'exact',
        (F32,),
    ),
    Case(
        'convert_element_type_int_to_float',
        lambda L, x: L.convert_element_type(x, np.float32),
        ints(-(2**30), 2**30),
        'exact',
        (I32,),
    ),
    Case(
        'convert_element_type_int_wrap',
        lambda L, x: L.convert_element_type(x, np.uint8),
        ints(-300, 300),
        'exact',
        (I32,),
    ),
    Case('convert_element_type_weak', lambda L: L.convert_element_type(1.5, np.float32), lambda rng, dt: ()),
    Case('bitcast_same_width', lambda L, x: L.bitcast_convert_type(x, np.int32), with_specials(-5, 5), 'exact', (F32,)),
    Case('bitcast_narrower', lambda L, x: L.bitcast_convert_type(x, np.int16), uniform(-5, 5), 'exact', (F32,)),
    Case('bitcast_bytes', lambda L, x: L.bitcast_convert_type(x, np.uint8), uniform(-5, 5), 'exact', (F32,)),
    Case(
        'bitcast_wider',
        lambda L, x: L.bitcast_convert_type(x, np.float32),
        lambda rng, dt: (rng.integers(0, 2**14, (3, 2)).astype(np.int16),),
        'exact',
        (F32,),
    ),
    Case('bitcast_f64', lambda L, x: L.bitcast_convert_type(x, np.int64), uniform(-5, 5), 'exact', (F64,)),
    Case(
        'mul_out_dtype',
        lambda L, x, y: L.mul(x, y, out_dtype=np.float32),
        joined(ints(-(2**20), 2**20), ints(-(2**20), 2**20)),
        'elementwise',
        (I32,),
    ),
]

# Complex
CASES += [
    Case(
        f'{op}_complex',
        lambda L, *a, _op=op: getattr(L, _op)(*a),
        lambda rng, dt, _n=n: tuple(
            (rng.uniform(-2, 2, SHAPE) + 1j * rng.uniform(-2, 2, SHAPE)).astype(np.complex64) for _ in range(_n)
        ),
        'transcendental',
        (F32,),
    )
    for op, n in [
        ('real', 1),
        ('imag', 1),
        ('conj', 1),
        ('abs', 1),
        ('exp', 1),
        ('sign', 1),
        ('add', 2),
        ('mul', 2),
        ('div', 2),
    ]
]
CASES += [
    Case('complex', lambda L, x, y: L.complex(x, y), joined(uniform(-2, 2), uniform(-2, 2)), 'exact'),
    Case('conj_real', lambda L, x: L.conj(x), uniform(-2, 2), 'exact'),
]

# Integers and bools: wraparound, C division, XLA's shifts.
INT_EDGES = np.array([7, -7, np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, 5, -1, 12], np.int32)
INT_DIVISORS = np.array([2, 2, -1, 3, 4, 0, 0, -5], np.int32)
UINT_EDGES = np.array([7, 0, 2**31, 2**32 - 1, 5, 1, 9, 100], np.uint32)
UINT_DIVISORS = np.array([0, 0, 1, 2, 3, 7, 2, 9], np.uint32)
SHIFTS = np.array([0, 1, 5, 31, 32, 40, -1, 3], np.int32)


def fixed(*arrays):
    return lambda rng, dt: tuple(np.array(a) for a in arrays)


for _op in ('add', 'sub', 'mul', 'div', 'rem', 'max', 'min', 'eq', 'lt', 'bitwise_and', 'bitwise_or', 'bitwise_xor'):
    CASES.append(
        Case(
            f'{_op}_int',
            lambda L, x, y, _op=_op: getattr(L, _op)(x, y),
            fixed(INT_EDGES, INT_DIVISORS),
            'exact',
            (I32,),
        )
    )
for _op in ('add', 'div', 'rem', 'max', 'bitwise_xor'):
    CASES.append(
        Case(
            f'{_op}_uint',
            lambda L, x, y, _op=_op: getattr(L, _op)(x, y),
            fixed(UINT_EDGES, UINT_DIVISORS),
            'exact',
            (U32,),
        )
    )
for _op in ('shift_left', 'shift_right_logical', 'shift_right_arithmetic'):
    CASES.append(
        Case(f'{_op}_int', lambda L, x, s, _op=_op: getattr(L, _op)(x, s), fixed(INT_EDGES, SHIFTS), 'exact', (I32,))
    )
    CASES.append(
        Case(
            f'{_op}_uint',
            lambda L, x, s, _op=_op: getattr(L, _op)(x, s),
            fixed(UINT_EDGES, SHIFTS.view(np.uint32)),
            'exact',
            (U32,),
        )
    )
for _op in ('neg', 'abs', 'sign', 'square', 'bitwise_not'):
    CASES.append(Case(f'{_op}_int', lambda L, x, _op=_op: getattr(L, _op)(x), fixed(INT_EDGES), 'exact', (I32,)))
CASES += [
    Case(
        'integer_pow_int',
        lambda L, x: (L.integer_pow(x, 0), L.integer_pow(x, 3), L.integer_pow(x, 9)),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
    Case('add_int_weak', lambda L, x: L.add(x, 3), fixed(INT_EDGES), 'exact', (I32,)),
]
BOOLS = (np.array([True, True, False, False]), np.array([True, False, True, False]))
for _op in ('bitwise_and', 'bitwise_or', 'bitwise_xor', 'max', 'min', 'eq', 'ne', 'lt'):
    CASES.append(Case(f'{_op}_bool', lambda L, x, y, _op=_op: getattr(L, _op)(x, y), fixed(*BOOLS), 'exact', (BOOL,)))
CASES.append(Case('bitwise_not_bool', lambda L, x: L.bitwise_not(x), fixed(BOOLS[0]), 'exact', (BOOL,)))

# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------

X3 = uniform(-1, 1, (2, 3, 4))
CASES += [
    Case('reshape', lambda L, x: L.reshape(x, (4, 6)), X3),
    Case('reshape_dimensions', lambda L, x: L.reshape(x, (4, 6), dimensions=(2, 0, 1)), X3),
    Case('broadcast', lambda L, x: L.broadcast(x, (2, 1)), X3),
    Case('broadcast_in_dim', lambda L, x: L.broadcast_in_dim(x, (5, 3, 2), (1,)), uniform(-1, 1, (3,))),
    Case('broadcast_in_dim_ones', lambda L, x: L.broadcast_in_dim(x, (2, 3, 4), (1, 2)), uniform(-1, 1, (3, 1))),
    Case('broadcast_to_rank', lambda L, x: L.broadcast_to_rank(x, 5), X3),
    Case('expand_dims', lambda L, x: L.expand_dims(x, (0, 4)), X3),
    Case('expand_dims_negative', lambda L, x: L.expand_dims(x, (-1,)), X3),
    Case('squeeze', lambda L, x: L.squeeze(x, (0, 2)), uniform(-1, 1, (1, 3, 1, 2))),
    Case('transpose', lambda L, x: L.transpose(x, (2, 0, 1)), X3),
    Case('rev', lambda L, x: L.rev(x, (0, 2)), X3),
    Case('concatenate', lambda L, x, y: L.concatenate([x, y], 1), joined(X3, uniform(-1, 1, (2, 2, 4)))),
    Case('collapse', lambda L, x: L.collapse(x, 1), X3),
    Case('collapse_range', lambda L, x: L.collapse(x, 0, -1), X3),
    Case('split', lambda L, x: L.split(x, (1, 3), axis=2), X3),
    Case('slice', lambda L, x: L.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 3)), X3),
    Case(
        'slice_in_dim',
        lambda L, x: (
            L.slice_in_dim(x, -3, None, axis=2),
            L.slice_in_dim(x, None, -1, 2, 2),
            L.slice_in_dim(x, 1, 3, axis=1),
        ),
        X3,
    ),
    Case('index_in_dim', lambda L, x: (L.index_in_dim(x, -1, axis=2), L.index_in_dim(x, 1, 1, keepdims=False)), X3),
    Case(
        'full',
        lambda L: (
            L.full((2, 3), 1.5),
            L.full((2,), 2),
            L.full((2,), 2.7, int),
            L.full((3,), np.float16(1.5)),
            L.full((2,), True),
        ),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case('full_of_array_dtype', lambda L, x: (L.full((2,), 0.1, x.dtype), L.full((2,), -3.7, np.int8)), X3),
    Case(
        'full_like',
        lambda L, x: (L.full_like(x, 2), L.full_like(x, 2.7, np.int32), L.full_like(x, 1.0, shape=(5,))),
        X3,
    ),
    Case(
        'iota',
        lambda L: (L.iota(np.int32, 5), L.iota(int, 3), L.iota(float, 4), L.iota(np.int8, 2)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'broadcasted_iota',
        lambda L: (L.broadcasted_iota(np.int32, (2, 3), 1), L.broadcasted_iota(float, (2, 3), 0)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
]
PAD_CONFIGS = [
    [(1, 2, 0), (0, 0, 0)],
    [(0, 0, 1), (2, 1, 2)],
    [(-1, 1, 0), (0, -2, 1)],
    [(-3, 2, 1), (1, -3, 0)],  # a crop reaching into the interior padding
    [(-6, 2, 2), (0, 0, 0)],  # a crop past the data into the high padding
]
CASES += [
    Case(f'pad_{i}', lambda L, x, _c=c: L.pad(x, x.dtype.type(9), _c), uniform(-1, 1, (3, 4)))
    for i, c in enumerate(PAD_CONFIGS)
]
CASES += [Case('pad_weak_value', lambda L, x: L.pad(x, 0.0, [(1, 1, 1)]), uniform(-1, 1, (3,)))]

# Dynamic slices: clamped starts, negative indices, array starts.
DYNAMIC_STARTS = [(0, 0), (1, 2), (-1, 0), (5, 9), (-9, -9), (np.int32(-2), np.int32(1))]
for i, starts in enumerate(DYNAMIC_STARTS):
    CASES += [
        Case(f'dynamic_slice_{i}', lambda L, x, _s=starts: L.dynamic_slice(x, _s, (2, 3)), uniform(-1, 1, (4, 5))),
        Case(
            f'dynamic_update_slice_{i}',
            lambda L, x, u, _s=starts: L.dynamic_update_slice(x, u, _s),
            joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (2, 3))),
        ),
    ]
CASES += [
    Case(
        'dynamic_slice_array_starts',
        lambda L, x: L.dynamic_slice(x, np.array([3, 1], np.int32), (2, 2)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_slice_in_dim',
        lambda L, x: (L.dynamic_slice_in_dim(x, 3, 2, axis=1), L.dynamic_slice_in_dim(x, np.int32(-1), 2)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_index_in_dim',
        lambda L, x: (L.dynamic_index_in_dim(x, 7, axis=1), L.dynamic_index_in_dim(x, -1, keepdims=False)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_update_slice_in_dim',
        lambda L, x, u: L.dynamic_update_slice_in_dim(x, u, 4, 1),
        joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (4, 2))),
    ),
    Case(
        'dynamic_update_index_in_dim',
        lambda L, x, u: (L.dynamic_update_index_in_dim(x, u, -1, 0), L.dynamic_update_index_in_dim(x, u[None], 2, 0)),
        joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (5,))),
    ),
]

# ---------------------------------------------------------------------------
# reductions, cumulative ops, windows, sorting
# ---------------------------------------------------------------------------

for _op in ('reduce_sum', 'reduce_prod', 'reduce_max', 'reduce_min'):
    _family = 'reduction' if _op in ('reduce_sum', 'reduce_prod') else 'exact'
    CASES += [
        Case(
            f'{_op}',
            lambda L, x, _op=_op: (getattr(L, _op)(x, (1,)), getattr(L, _op)(x, (0, 2)), getattr(L, _op)(x, ())),
            X3 if _op != 'reduce_prod' else uniform(0.5, 1.5, (2, 3, 4)),
            _family,
            ALL_FLOATS if _op != 'reduce_prod' else FLOATS,
        ),
        Case(
            f'{_op}_int',
            lambda L, x, _op=_op: getattr(L, _op)(x, (0,)),
            fixed(np.array([100, 100, 100], np.int8)),
            'exact',
            ('int8',),
        ),
    ]
CASES += [
    Case(
        'reduce_max_nan_and_empty',
        lambda L, x: (L.reduce_max(x, (1,)), L.reduce_min(x, (1,)), L.reduce_max(x[:, :0], (1,))),
        with_specials(-5, 5),
    ),
    Case(
        'reduce_max_int_empty',
        lambda L, x: (L.reduce_max(x[:0], (0,)), L.reduce_min(x[:0], (0,))),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
    Case(
        'reduce_bits_int',
        lambda L, x: (L.reduce_and(x, (0,)), L.reduce_or(x, (0,)), L.reduce_xor(x, (0,))),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
    Case(
        'reduce_bits_bool',
        lambda L, x: (L.reduce_and(x, (0,)), L.reduce_or(x, (0,)), L.reduce_xor(x, (0,)), L.reduce_max(x, (0,))),
        fixed(BOOLS[0]),
        'exact',
        (BOOL,),
    ),
    Case(
        'argmax_argmin',
        lambda L, x: (L.argmax(x, 1, np.int32), L.argmin(x, 0, np.int32), L.argmax(x, 0, np.int8)),
        rounded(-2, 2),
    ),
    Case('argmax_nan', lambda L, x: (L.argmax(x, 1, np.int32), L.argmin(x, 1, np.int32)), with_specials(-5, 5)),
    Case(
        'argmax_int_bool',
        lambda L, x: (L.argmax(x, 0, np.int32), L.argmin(x, 0, np.int32), L.argmax(x > 0, 0, np.int32)),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
]
for _op in ('cumsum', 'cumprod', 'cummax', 'cummin', 'cumlogsumexp'):
    _family = {'cumsum': 'reduction', 'cumprod': 'reduction', 'cumlogsumexp': 'transcendental'}.get(_op, 'exact')
    CASES.append(
        Case(
            _op,
            lambda L, x, _op=_op: (getattr(L, _op)(x), getattr(L, _op)(x, axis=2), getattr(L, _op)(x, 1, reverse=True)),
            uniform(0.5, 1.5, (2, 3, 4)),
            _family,
        )
    )
CASES += [
    Case('cumsum_int_wraps', lambda L, x: L.cumsum(x), fixed(np.array([100, 100, -3], np.int8)), 'exact', ('int8',)),
    Case('cummax_nan', lambda L, x: (L.cummax(x, 1), L.cummin(x, 1, True)), with_specials(-5, 5)),
]


def _argmax_reduce(L, x):
    """A variadic reduce: the maximum and its index along axis 1."""
    index = L.broadcasted_iota(np.int32, x.shape, 1)

    def pick(a, b):
        keep = L.ge(a[0], b[0])
        return L.select(keep, a[0], b[0]), L.select(keep, a[1], b[1])

    return L.reduce((x, index), (x.dtype.type(-np.inf), np.int32(0)), pick, (1,))


CASES += [
    Case('reduce_add', lambda L, x: L.reduce(x, x.dtype.type(0), L.add, (0, 2)), X3, 'reduction'),
    Case('reduce_variadic', _argmax_reduce, rounded(-3, 3)),
]
WINDOWS = [
    # (init, computation name, window, strides, padding, base_dilation, window_dilation)
    (0.0, 'add', (2, 2), (1, 1), 'VALID', None, None),
    (0.0, 'add', (3, 2), (2, 1), 'SAME', None, None),
    (-np.inf, 'max', (2, 3), (2, 2), 'SAME', None, None),
    (np.inf, 'min', (3, 3), (1, 1), ((1, 0), (-1, 2)), None, None),
    (0.0, 'add', (2, 2), (1, 1), 'SAME', (2, 1), None),
    (-np.inf, 'max', (2, 2), (1, 2), 'VALID', None, (2, 2)),
    (0.0, 'add', (3, 2), (1, 1), 'SAME', (2, 2), (2, 1)),
]
for i, (init, comp, window, strides, padding, base, wdil) in enumerate(WINDOWS):
    CASES.append(
        Case(
            f'reduce_window_{i}_{comp}',
            lambda L, x, _a=(init, comp, window, strides, padding, base, wdil): L.reduce_window(
                x, _a[0], getattr(L, _a[1]), _a[2], _a[3], _a[4], _a[5], _a[6]
            ),
            uniform(-1, 1, (5, 6)),
            'reduction' if comp == 'add' else 'exact',
        )
    )
CASES += [
    Case(
        'reduce_window_typed_init_converted',
        lambda L, x: L.reduce_window(x, np.int32(0), L.add, (2,), (1,)),
        uniform(-1, 1, (5,)),
        'reduction',
    ),
    Case(
        'reduce_window_pytree',
        lambda L, x, y: L.reduce_window(
            (x, y), (0.0, -np.inf), lambda a, b: (L.add(a[0], b[0]), L.max(a[1], b[1])), (2, 2), (1, 1), 'SAME'
        ),
        joined(uniform(-1, 1, (4, 5)), uniform(-1, 1, (4, 5))),
        'reduction',
    ),
]
SORT_INPUT = with_specials(-3, 3)
CASES += [
    Case('sort', lambda L, x: (L.sort(x), L.sort(x, dimension=0), L.sort(x.ravel())), SORT_INPUT),
    Case(
        'sort_several',
        lambda L, k, v: (L.sort((k, v), num_keys=1), L.sort([k, v], dimension=0, num_keys=2)),
        joined(rounded(-2, 2), uniform(-1, 1)),
    ),
    Case('sort_single_in_tuple', lambda L, x: L.sort((x,)), uniform(-1, 1)),
    Case('sort_key_val', lambda L, k, v: L.sort_key_val(k, v), joined(rounded(-2, 2), uniform(-1, 1))),
    Case('sort_int', lambda L, x: L.sort(x), fixed(INT_EDGES), 'exact', (I32,)),
    Case('top_k', lambda L, x: (L.top_k(x, 3), L.top_k(x, 2, axis=0), L.top_k(x.ravel(), 16)), SORT_INPUT),
    Case('top_k_ties', lambda L, x: L.top_k(x, 4), rounded(-2, 2)),
    Case('top_k_int_bool', lambda L, x: (L.top_k(x, 3), L.top_k(x > 0, 2)), fixed(INT_EDGES), 'exact', (I32,)),
]

# ---------------------------------------------------------------------------
# dot and convolution
# ---------------------------------------------------------------------------

CASES += [
    Case(
        'dot_vv_mv_mm',
        lambda L, a, v, m: (L.dot(v, v), L.dot(a, v), L.dot(a, m), L.dot(v, m)),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4,)), uniform(-1, 1, (4, 5))),
        'matmul',
        ALL_FLOATS,
    ),
    Case(
        'dot_general_batch',
        lambda L, a, b: L.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (2, 4, 5))),
        'matmul',
        ALL_FLOATS,
    ),
    Case(
        'dot_general_two_contractions',
        lambda L, a, b: L.dot_general(a, b, (((0, 2), (2, 1)), ((1,), (0,)))),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (3, 4, 2, 5))),
        'matmul',
    ),
    Case(
        'dot_general_outer',
        lambda L, a, b: L.dot_general(a, b, (((), ()), ((), ()))),
        joined(uniform(-1, 1, (2, 3)), uniform(-1, 1, (4,))),
        'matmul',
    ),
    Case(
        'dot_precisions',
        lambda L, a, b: (
            L.dot(a, b, precision=L.Precision.HIGHEST),
            L.dot(a, b, precision='high'),
            L.dot(a, b, precision=('highest', 'default')),
            L.dot(a, b, precision=L.DotAlgorithmPreset.DEFAULT),
        ),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (F32,),
    ),
    Case(
        'dot_general_preferred',
        lambda L, a, b: L.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=np.float32),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (BF16, F16),
    ),
    Case(
        'dot_int_preferred_float',
        lambda L, a, b: L.dot(a, b, preferred_element_type=np.float32),
        joined(ints(-50, 50, (3, 4)), ints(-50, 50, (4, 2))),
        'matmul',
        (I32,),
    ),
    Case(
        'dot_mixed_dtypes',
        lambda L, a, b: L.dot(a, b.astype(np.float16)),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (F32,),
    ),
    Case(
        'batch_matmul',
        lambda L, a, b: L.batch_matmul(a, b),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (2, 4, 5))),
        'matmul',
    ),
]
NHWC = ('NHWC', 'HWIO', 'NHWC')
CONVS = [
    # (id, lhs shape, rhs shape, kwargs)
    ('nchw_valid', (2, 3, 6, 5), (4, 3, 3, 2), dict(window_strides=(1, 1), padding='VALID')),
    (
        'nhwc_same_strided',
        (2, 6, 5, 3),
        (3, 3, 3, 4),
        dict(window_strides=(2, 1), padding='SAME', dimension_numbers=NHWC),
    ),
    (
        'explicit_pads_dilations',
        (1, 7, 6, 2),
        (3, 2, 2, 4),
        dict(
            window_strides=(1, 2),
            padding=((2, 1), (-1, 1)),
            lhs_dilation=(2, 1),
            rhs_dilation=(1, 2),
            dimension_numbers=NHWC,
        ),
    ),
    (
        'feature_groups',
        (2, 5, 5, 4),
        (3, 3, 2, 6),
        dict(window_strides=(1, 1), padding='SAME', dimension_numbers=NHWC, feature_group_count=2),
    ),
    (
        'depthwise',
        (1, 5, 5, 3),
        (3, 3, 1, 3),
        dict(window_strides=(1, 1), padding='SAME', dimension_numbers=NHWC, feature_group_count=3),
    ),
    (
        'batch_groups',
        (4, 5, 5, 3),
        (3, 3, 3, 6),
        dict(window_strides=(1, 1), padding='VALID', dimension_numbers=NHWC, batch_group_count=2),
    ),
    (
        'conv1d_nwc',
        (2, 9, 3),
        (3, 3, 2),
        dict(window_strides=(2,), padding='SAME_LOWER', dimension_numbers=('NWC', 'WIO', 'NWC')),
    ),
]
for cid, lhs_shape, rhs_shape, kw in CONVS:
    CASES.append(
        Case(
            f'conv_general_dilated_{cid}',
            lambda L, x, w, _kw=kw: L.conv_general_dilated(x, w, **_kw),
            joined(uniform(-1, 1, lhs_shape), uniform(-1, 1, rhs_shape)),
            'conv',
            ALL_FLOATS if cid == 'nchw_valid' else FLOATS,
        )
    )
CASES += [
    Case(
        'conv',
        lambda L, x, w: L.conv(x, w, (1, 2), 'SAME'),
        joined(uniform(-1, 1, (2, 3, 6, 5)), uniform(-1, 1, (4, 3, 3, 2))),
        'conv',
    ),
    Case(
        'conv_with_general_padding',
        lambda L, x, w: L.conv_with_general_padding(x, w, (1, 1), ((1, 1), (0, 2)), (1, 2), (2, 1)),
        joined(uniform(-1, 1, (2, 3, 6, 5)), uniform(-1, 1, (4, 3, 3, 2))),
        'conv',
    ),
    Case(
        'conv_preferred',
        lambda L, x, w: L.conv(x, w, (1, 1), 'VALID', preferred_element_type=np.float32),
        joined(uniform(-1, 1, (1, 2, 5, 5)), uniform(-1, 1, (3, 2, 2, 2))),
        'conv',
        (BF16,),
    ),
]
CONV_TRANSPOSES = [
    ('same', dict(strides=(2, 2), padding='SAME')),
    ('valid_dilated', dict(strides=(2, 1), padding='VALID', rhs_dilation=(1, 2))),
    ('explicit', dict(strides=(2, 2), padding=((1, 2), (0, 1)))),
    ('explicit_consistent', dict(strides=(2, 2), padding=((1, 0), (0, 1)), use_consistent_padding=True)),
    ('transpose_kernel', dict(strides=(2, 1), padding='SAME', transpose_kernel=True)),
]
for cid, kw in CONV_TRANSPOSES:
    CASES.append(
        Case(
            f'conv_transpose_{cid}',
            lambda L, x, w, _kw=kw: L.conv_transpose(x, w, **_kw),
            joined(uniform(-1, 1, (2, 4, 5, 3)), uniform(-1, 1, (3, 2, 3, 3))),
            'conv',
        )
    )
CASES += [
    Case(
        'conv_general_dilated_local',
        lambda L, x, w: L.conv_general_dilated_local(x, w, (1, 1), 'SAME', (2, 3), dimension_numbers=NHWC),
        joined(uniform(-1, 1, (2, 4, 5, 3)), uniform(-1, 1, (4, 5, 3 * 6, 2))),
        'conv',
    ),
    Case(
        'conv_dimension_numbers',
        lambda L: (
            tuple(L.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), NHWC)),
            tuple(L.conv_dimension_numbers((1, 3, 5), (8, 3, 2), None)),
            L.padtype_to_pads((5, 7), (3, 2), (2, 3), 'SAME'),
        ),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
]

# ---------------------------------------------------------------------------
# control flow, pytrees
# ---------------------------------------------------------------------------


def _scan_body(L):
    def body(carry, x):
        total, count = carry['total'], carry['count']
        new = {'total': L.add(total, L.mul(x['a'], x['b'])), 'count': L.add(count, np.int32(1))}
        return new, (L.tanh(total), None, {'sq': L.square(x['a'])})

    return body


def _scan(L, a, b, **kw):
    init = {'total': np.zeros(a.shape[1:], a.dtype), 'count': np.int32(0)}
    return L.scan(_scan_body(L), init, {'a': a, 'b': b}, **kw)


AFFINE = joined(uniform(0.5, 1.5, (6, 3)), uniform(-1, 1, (6, 3)))
MATRICES = uniform(-1, 1, (7, 2, 2))
CASES += [
    Case(
        'scan_pytrees',
        lambda L, a, b: _scan(L, a, b),
        joined(uniform(-1, 1, (5, 3)), uniform(-1, 1, (5, 3))),
        'transcendental',
    ),
    Case(
        'scan_reverse_unroll',
        lambda L, a, b: _scan(L, a, b, reverse=True, unroll=2),
        joined(uniform(-1, 1, (5, 3)), uniform(-1, 1, (5, 3))),
        'transcendental',
    ),
    Case(
        'scan_length_no_xs',
        lambda L, x: L.scan(lambda c, _: (L.mul(c, 1.5), c), x, None, length=4),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'scan_empty',
        lambda L, x: L.scan(lambda c, row: (L.add(c, row), L.mul(row, 2.0)), x[0], x[:0]),
        uniform(-1, 1, (3, 2)),
    ),
    Case(
        'fori_loop',
        lambda L, x: L.fori_loop(
            0, 5, lambda i, c: (L.add(c[0], L.convert_element_type(i, x.dtype)), L.mul(c[1], 1.5)), (x, x)
        ),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'fori_loop_index',
        lambda L: L.fori_loop(2, 7, lambda i, acc: L.add(acc, L.mul(i, i)), np.int32(0)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'while_loop',
        lambda L, x: L.while_loop(
            lambda c: L.lt(c[1], np.int32(6)), lambda c: (L.mul(c[0], 1.1), L.add(c[1], np.int32(1))), (x, np.int32(0))
        ),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'while_loop_weak_carry',
        lambda L: L.while_loop(lambda c: c < 3, lambda c: c + 1.0, 0),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'map',
        lambda L, x: L.map(lambda row: {'s': L.reduce_sum(row, (0,)), 'r': L.rev(row, (0,))}, x),
        uniform(-1, 1, (4, 3)),
        'reduction',
    ),
    Case(
        'map_batch_size',
        lambda L, x: L.map(lambda row: L.exp(row), x, batch_size=2),
        uniform(-1, 1, (5, 3)),
        'transcendental',
    ),
    Case(
        'associative_scan_add',
        lambda L, x: (
            L.associative_scan(L.add, x),
            L.associative_scan(L.add, x, axis=1),
            L.associative_scan(L.add, x, reverse=True),
        ),
        uniform(-1, 1, (9, 5)),
        'reduction',
    ),
    Case(
        'associative_scan_matmul',
        lambda L, m: (
            L.associative_scan(lambda a, b: a @ b, m),
            L.associative_scan(lambda a, b: a @ b, m, reverse=True),
        ),
        MATRICES,
        'matmul',
    ),
    Case(
        'associative_scan_affine_pytree',
        lambda L, s, t: L.associative_scan(lambda f, g: (f[0] * g[0], g[0] * f[1] + g[1]), (s, t)),
        AFFINE,
        'matmul',
    ),
    Case(
        'cond',
        lambda L, x: (
            L.cond(True, lambda v: L.exp(v), lambda v: L.neg(v), x),
            L.cond(np.int32(0), lambda v: L.exp(v), lambda v: L.neg(v), x),
            L.cond(2.0, lambda: x, lambda: x * 2),
            L.cond(False, lambda a, b: a, lambda a, b: b, x, 2 * x),
        ),
        uniform(-1, 1),
        'transcendental',
    ),
    Case(
        'switch',
        lambda L, x: tuple(
            L.switch(i, [lambda v: v, lambda v: L.sin(v), lambda v: L.cos(v)], x) for i in (0, 1, 2, 5, -3, np.int32(1))
        ),
        uniform(-1, 1),
        'transcendental',
    ),
    Case('stop_gradient', lambda L, x: L.stop_gradient({'a': x, 'b': (x, np.float32(2))}), uniform(-1, 1)),
    Case('optimization_barrier', lambda L, x: L.optimization_barrier((x, x)), uniform(-1, 1)),
]


# ---------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------


def _params():
    seen = {}
    for case in CASES:
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


def _compare(actual, desired, family, err_msg):
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


@pytest.mark.parametrize('case,dtype', list(_params()))
def test_matches_jax(case, dtype):
    inputs = _inputs(case, dtype)
    actual = case.call(lax, *inputs)
    with _x64_if(inputs, dtype):
        desired = case.call(jlax, *inputs)
    _compare(actual, desired, case.family, case.id)


def test_ops_do_not_write_into_their_operands():
    # Ops must not write into their operands (dynamic_update_slice copies).
    x = np.arange(6.0, dtype=np.float32)
    lax.dynamic_update_slice(x, np.ones(2, np.float32), (1,))
    lax.pad(x, np.float32(0), [(1, 1, 1)])
    lax.sort(x[::-1])
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


# ---------------------------------------------------------------------------
# dtype rules: nnref accepts and rejects what JAX (x64 off) does
# ---------------------------------------------------------------------------

DTYPES = ['bool', 'int8', 'int32', 'uint32', 'float16', 'bfloat16', 'float32', 'complex64']
UNARY_OPS = [
    'abs',
    'neg',
    'sign',
    'floor',
    'ceil',
    'round',
    'is_finite',
    'exp',
    'exp2',
    'log',
    'log1p',
    'expm1',
    'tanh',
    'logistic',
    'sin',
    'cos',
    'tan',
    'sqrt',
    'rsqrt',
    'cbrt',
    'erf',
    'erfc',
    'erf_inv',
    'square',
    'bitwise_not',
    'asin',
    'acos',
    'atan',
    'sinh',
    'cosh',
    'asinh',
    'acosh',
    'atanh',
    'lgamma',
    'digamma',
    'real',
    'imag',
    'conj',
    'reciprocal',
]
BINARY_OPS = [
    'add',
    'sub',
    'mul',
    'div',
    'rem',
    'pow',
    'max',
    'min',
    'atan2',
    'nextafter',
    'eq',
    'ne',
    'lt',
    'le',
    'gt',
    'ge',
    'bitwise_and',
    'bitwise_or',
    'bitwise_xor',
    'shift_left',
    'shift_right_logical',
    'shift_right_arithmetic',
    'complex',
]
REDUCING_OPS = [
    'reduce_sum',
    'reduce_max',
    'reduce_min',
    'reduce_prod',
    'reduce_and',
    'reduce_or',
    'cumsum',
    'cumprod',
    'cummax',
    'cummin',
    'cumlogsumexp',
]


def _ones(dtype):
    return np.ones(3, ml_dtypes.bfloat16 if dtype == 'bfloat16' else dtype)


def _outcome(fn):
    """The result's dtype, or 'TypeError'."""
    try:
        out = fn()
    except TypeError:
        return 'TypeError'
    return str(np.asarray(jax.tree_util.tree_leaves(out)[0]).dtype)


def _same_outcome(call, known_refusal=False):
    actual = _outcome(lambda: call(lax))
    if known_refusal:
        assert actual == 'TypeError'
        return
    desired = _outcome(lambda: call(jlax))
    assert actual == desired


# nnref refuses (TypeError) a few dtypes jax.lax takes; a clear error, never a silent difference.
# cumlogsumexp of an integer is no clean rejection in JAX either: it fails with OverflowError.
KNOWN_REFUSALS = {
    ('cumlogsumexp', 'complex64'),
    ('cumlogsumexp', 'int8'),
    ('cumlogsumexp', 'int32'),
    ('cumlogsumexp', 'uint32'),
    ('atan2', 'complex64'),
}


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('op', UNARY_OPS)
def test_unary_dtype_acceptance_matches_jax(op, dtype):
    _same_outcome(lambda L: getattr(L, op)(_ones(dtype)), (op, dtype) in KNOWN_REFUSALS)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('op', BINARY_OPS)
def test_binary_dtype_acceptance_matches_jax(op, dtype):
    _same_outcome(lambda L: getattr(L, op)(_ones(dtype), _ones(dtype)), (op, dtype) in KNOWN_REFUSALS)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('op', REDUCING_OPS)
def test_reduction_dtype_acceptance_matches_jax(op, dtype):
    refused = (op, dtype) in KNOWN_REFUSALS
    if op.startswith('cum'):
        _same_outcome(lambda L: getattr(L, op)(_ones(dtype)), refused)
    else:
        _same_outcome(lambda L: getattr(L, op)(_ones(dtype), (0,)), refused)


MIXED = [
    ('float32', 'int32'),
    ('float32', 'float16'),
    ('float32', 'bfloat16'),
    ('int32', 'uint32'),
    ('int8', 'int32'),
    ('float32', 'complex64'),
    ('bool', 'int32'),
    ('float32', 1.0),
    ('float32', 1),
    ('int32', 2),
    ('int32', 1.5),
    ('float16', 2.0),
    ('int8', 2),
    ('bool', True),
    (1.0, 'float32'),
    (1, 2),
    (1.0, 2.0),
    (1, 2.0),
]


def _operand(spec):
    return _ones(spec) if isinstance(spec, str) else spec


@pytest.mark.parametrize('left,right', MIXED, ids=[f'{a}-{b}' for a, b in MIXED])
@pytest.mark.parametrize('op', ['add', 'mul', 'max', 'eq', 'pow', 'bitwise_and', 'atan2', 'shift_left'])
def test_mixed_operands_match_jax(op, left, right):
    _same_outcome(lambda L: getattr(L, op)(_operand(left), _operand(right)))


@pytest.mark.parametrize(
    'call',
    [
        lambda L: L.select(np.array([True, False, True]), _ones('float32'), _ones('int32')),
        lambda L: L.select(np.array([True, False, True]), _ones('float32'), 1.0),
        lambda L: L.select_n(np.array([0, 1, 0], np.int8), _ones('float32'), _ones('float32')),
        lambda L: L.select_n(np.array([True, False, True]), _ones('float32'), _ones('float32'), _ones('float32')),
        lambda L: L.select_n(np.array([0.0, 1.0, 0.0], np.float32), _ones('float32'), _ones('float32')),
        lambda L: L.clamp(0, _ones('float32'), 1),
        lambda L: L.clamp(0.0, _ones('float32'), 1.0),
        lambda L: L.clamp(np.zeros(2, np.float32), _ones('float32'), 1.0),
        lambda L: L.concatenate([_ones('float32'), _ones('int32')], 0),
        lambda L: L.pad(_ones('float32'), 0, [(1, 1, 0)]),
        lambda L: L.pad(_ones('float32'), 0.0, [(1, 1, 0)]),
        lambda L: L.dynamic_update_slice(_ones('float32'), _ones('int32')[:2], (0,)),
        lambda L: L.dynamic_slice(_ones('float32'), (1.0,), (2,)),
        lambda L: L.integer_pow(_ones('int32'), -1),
        lambda L: L.integer_pow(_ones('bool'), 2),
        lambda L: L.reciprocal(_ones('int32')),
        lambda L: L.convert_element_type(_ones('float32'), np.int16),
        lambda L: L.bitcast_convert_type(_ones('int32'), np.bool_),
        lambda L: L.conv_general_dilated(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2), np.float16), (1,), 'VALID'),
        lambda L: L.argmax(_ones('float32'), 0, np.float32),
        lambda L: L.reduce_window(_ones('float32'), 0, L.add, (2,), (1,)),
        lambda L: L.reduce_window(_ones('int32'), 0.5, L.add, (2,), (1,)),
        lambda L: L.reduce_window(_ones('float32'), np.float16(0), L.add, (2,), (1,)),
        lambda L: L.switch(1.0, [lambda: 1, lambda: 2]),
        lambda L: L.switch(True, [lambda: 1, lambda: 2]),
        lambda L: L.cond(np.array([True]), lambda: 1, lambda: 2),
        lambda L: L.cond(True, lambda: 1, lambda: 2.0 * np.ones(2)),
        lambda L: L.cond(True, lambda: (1.0, 2.0), lambda: [1.0, 2.0]),
        lambda L: L.while_loop(lambda c: 1, lambda c: c, 0),
        lambda L: L.fori_loop(0, 3, lambda i, c: c.astype(np.float16), np.ones(2, np.float32)),
        lambda L: L.fori_loop(0, 3, lambda i, c: np.ones(3, np.float32), np.ones(2, np.float32)),
        lambda L: L.fori_loop(0.0, 3, lambda i, c: c, np.ones(2, np.float32)),
        lambda L: L.scan(lambda c, x: (c.astype(np.int32), x), np.ones(2, np.float32), np.ones((3, 2), np.float32)),
        lambda L: L.reshape(np.ones(6), (-1,)),
        lambda L: L.broadcast_in_dim(np.ones((3, 1)), (2, 3, 4), (2, 1)),
        lambda L: L.dot(np.ones(3, np.int32), np.ones(3, np.float32)),
        lambda L: L.add([1.0, 2.0], np.ones(2, np.float32)),
        lambda L: L.exp((1.0, 2.0)),
        lambda L: L.full((2,), [1.0, 2.0]),
    ],
)
def test_other_dtype_and_type_rules_match_jax(call):
    _same_outcome(call)


def test_dynamic_slice_clamps_negative_starts_as_under_jit():
    # Inside jit (where model code runs) a negative start with allow_negative_indices=False is
    # clamped to 0; eager JAX rejects a concrete one. nnref follows the jit semantics.
    x = np.arange(20.0, dtype=np.float32).reshape(4, 5)
    for start in (-1, -9):
        desired = jax.jit(lambda v, i: jlax.dynamic_slice(v, (i, 1), (2, 2), allow_negative_indices=False))(
            x, np.int32(start)
        )
        actual = lax.dynamic_slice(x, (np.int32(start), 1), (2, 2), allow_negative_indices=False)
        _compare(actual, desired, 'exact', f'start {start}')


def test_64_bit_operands_agree_with_32_bit_ones_and_stay_64_bit():
    # JAX with x64 off reads float64 as float32, so these are accepted; nnref keeps float64.
    x32, x64 = np.ones(3, np.float32), np.ones(3)
    assert _outcome(lambda: jlax.add(x32, x64)) == 'float32'
    assert lax.add(x32, x64).dtype == np.float64
    assert lax.add(x64, 1.0).dtype == np.float64
    assert lax.select(np.array([True, False, True]), x64, x32).dtype == np.float64
    assert lax.concatenate([x32, x64], 0).dtype == np.float64
    assert lax.convert_element_type(x64, float).dtype == np.float64
    assert lax.convert_element_type(x32, float).dtype == np.float32
    assert lax.fori_loop(0, 2, lambda i, c: lax.add(c, x64), x32).dtype == np.float64
    with pytest.raises(TypeError):
        lax.add(x64, np.ones(3, np.int32))


def test_dtype_error_names_the_op_and_dtypes():
    with pytest.raises(TypeError, match=r'nnref\.lax\.mul .*same dtype.*float32, int32'):
        lax.mul(np.ones(2, np.float32), np.ones(2, np.int32))
    with pytest.raises(TypeError, match=r'nnref\.lax\.exp does not accept dtype int32'):
        lax.exp(np.ones(2, np.int32))
    with pytest.raises(TypeError, match=r'nnref\.lax\.fori_loop.*leaf 0 is float32\[2\].*float16\[2\]'):
        lax.fori_loop(0, 1, lambda i, c: c.astype(np.float16), np.ones(2, np.float32))


# ---------------------------------------------------------------------------
# the namespace
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('name', ['psum', 'gather', 'scatter_add', 'ragged_dot', 'zeta'])
def test_missing_op_error_names_the_op(name):
    assert hasattr(jlax, name)  # real jax.lax names nnref leaves out
    assert not hasattr(lax, name)
    with pytest.raises(AttributeError, match=rf'nnref\.lax has no `{name}`.*subset of jax\.lax.*nnref\.numpy'):
        getattr(lax, name)


def test_from_import_of_a_missing_op_fails_clearly():
    with pytest.raises(ImportError, match='psum'):
        exec('from nnref.lax import psum', {})


def test_dunder_lookups_are_plain_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute '__wrapped__'"):
        lax.__wrapped__  # noqa: B018 (inspect and doctest probe such names)


def test_every_public_name_exists_in_jax_lax():
    assert [n for n in lax.__all__ if not hasattr(jlax, n)] == []


def _comparable(default):
    if isinstance(default, (bool, int, float, str, type(None), tuple)):
        return default
    if hasattr(default, 'name') and hasattr(default, 'value'):  # enum members
        return (type(default).__name__, default.name)
    return '<object>'  # a private sentinel: only its presence matters


@pytest.mark.parametrize('name', [n for n in lax.__all__ if inspect.isfunction(getattr(lax, n))])
def test_signature_matches_jax(name):
    ours = inspect.signature(getattr(lax, name)).parameters
    theirs = inspect.signature(getattr(jlax, name)).parameters

    def describe(params):
        return [(p.name, p.kind, _comparable(p.default)) for p in params.values()]

    assert describe(ours) == describe(theirs)


def test_enums_match_jax():
    assert [m.name for m in lax.Precision] == [m.name for m in jlax.Precision]
    assert [m.name for m in lax.DotAlgorithmPreset] == [m.name for m in jlax.DotAlgorithmPreset]
    assert [(m.name, m.value) for m in lax.RoundingMethod] == [(m.name, int(m.value)) for m in jlax.RoundingMethod]
    for text in ('default', 'high', 'highest', 'bfloat16', 'tensorfloat32', 'float32'):
        assert lax.Precision(text).name == jlax.Precision(text).name
    assert str(lax.Precision.HIGHEST) == str(jlax.Precision.HIGHEST)


@pytest.mark.parametrize('precision', ['fast', 3, ('highest',), ('highest', 'high', None)])
def test_bad_precision_is_rejected_like_jax(precision):
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError):
        jlax.dot(a, a, precision=precision)
    with pytest.raises(ValueError, match='precision'):
        lax.dot(a, a, precision=precision)


def test_nnref_exposes_lax():
    import nnref

    assert nnref.lax is lax


# ---------------------------------------------------------------------------
# model code: one Module written against (nn, lax), on both backends
# ---------------------------------------------------------------------------


def _build(nn, L):
    class Block(nn.Module):
        """Dense, a hand-written layer norm, a scanned recurrence and an attention-like product."""

        @nn.compact
        def __call__(self, x):
            h = nn.Dense(6)(x)
            n = float(h.shape[1])
            mean = L.div(L.reduce_sum(h, (1,)), n)
            centered = L.sub(h, L.broadcast_in_dim(mean, h.shape, (0,)))
            var = L.div(L.reduce_sum(L.square(centered), (1,)), n)
            y = L.mul(centered, L.broadcast_in_dim(L.rsqrt(L.add(var, 1e-5)), h.shape, (0,)))

            def step(carry, row):
                carry = L.tanh(L.add(L.mul(carry, 0.5), row))
                return carry, L.logistic(carry)

            carry, ys = L.scan(step, L.full((h.shape[1],), 0.0, h.dtype), y)
            scores = L.dot_general(ys, y, (((1,), (1,)), ((), ())), precision=L.Precision.HIGHEST)
            top, _ = L.top_k(scores, 2)
            return L.concatenate([top, L.expand_dims(carry[:2], (0,))], 0)

    return Block()


def test_model_code_gives_the_same_numbers_on_both_backends():
    import nnjax
    import nnref

    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    variables = _build(nnjax, jlax).init(nnjax.random.PRNGKey(0), x)
    desired = np.asarray(_build(nnjax, jlax).apply(variables, x))
    params = jax.tree_util.tree_map(np.asarray, variables)
    actual = _build(nnref, lax).apply(params, x)
    assert actual.dtype == np.float32
    assert_close(actual, desired, family='attention')
    # The float64 reference run: every leaf float64, the same numbers to float32's tolerance.
    wide = _build(nnref, lax).apply(
        jax.tree_util.tree_map(lambda p: p.astype(np.float64), params), x.astype(np.float64)
    )
    assert wide.dtype == np.float64
    assert_close(wide, desired, family='attention', dtype=np.float32)
