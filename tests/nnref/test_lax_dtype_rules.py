"""nnref.lax accepts and rejects the dtypes jax.lax (x64 off) does, with the same result dtypes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from nnref import lax
from tests.nnref.lax_cases import (
    assert_same_result,
    jax,
    jlax,
)

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
        assert_same_result(actual, desired, 'exact', f'start {start}')


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
