"""nnref.lax against jax.lax, element-wise ops: floats, conversions, complex, integers and bools (see ``lax_cases.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.nnref.lax_cases import (
    ALL_FLOATS,
    BOOL,
    BOOLS,
    F32,
    F64,
    FLOATS,
    I32,
    INT_DIVISORS,
    INT_EDGES,
    SHAPE,
    SHIFTS,
    U32,
    UINT_DIVISORS,
    UINT_EDGES,
    Case,
    away_from_zero,
    case_params,
    cases_of,
    check_matches_jax,
    fixed,
    halves,
    ints,
    joined,
    rounded,
    uniform,
    with_specials,
)

CASES = []

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
for _op in ('bitwise_and', 'bitwise_or', 'bitwise_xor', 'max', 'min', 'eq', 'ne', 'lt'):
    CASES.append(Case(f'{_op}_bool', lambda L, x, y, _op=_op: getattr(L, _op)(x, y), fixed(*BOOLS), 'exact', (BOOL,)))
CASES.append(Case('bitwise_not_bool', lambda L, x: L.bitwise_not(x), fixed(BOOLS[0]), 'exact', (BOOL,)))


@pytest.mark.parametrize('case,dtype', list(case_params(CASES)))
def test_matches_jax(case, dtype):
    check_matches_jax(case, dtype)
