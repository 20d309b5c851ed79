"""nnref.numpy: NumPy's namespace with jax.numpy's (x64 off) default dtypes.

jax.numpy itself is the oracle for every default; explicit and 64-bit dtypes
are checked against what the caller asked for.
"""

import ml_dtypes
import numpy as np
import pytest

from nnref import numpy as nnp
from shared_spec.tolerances import assert_close

jax = pytest.importorskip('jax')
jnp = jax.numpy

# (label, call) pairs, each call taking the namespace; results compared by dtype.
CREATION = [
    ('zeros', lambda m: m.zeros((2, 3))),
    ('ones', lambda m: m.ones(4)),
    ('empty', lambda m: m.empty((2,))),
    ('full int', lambda m: m.full((2,), 7)),
    ('full float', lambda m: m.full((2,), 0.5)),
    ('full bool', lambda m: m.full((2,), True)),
    ('eye', lambda m: m.eye(3)),
    ('eye rect', lambda m: m.eye(2, 3, 1)),
    ('identity', lambda m: m.identity(3)),
    ('tri', lambda m: m.tri(3)),
    ('linspace float', lambda m: m.linspace(0.0, 1.0, 5)),
    ('linspace int args', lambda m: m.linspace(0, 10, 6)),
    ('logspace', lambda m: m.logspace(0, 2, 3)),
    ('geomspace', lambda m: m.geomspace(1, 100, 3)),
    ('arange int', lambda m: m.arange(5)),
    ('arange start stop step', lambda m: m.arange(1, 9, 2)),
    ('arange float', lambda m: m.arange(0.0, 1.0, 0.25)),
    ('arange mixed', lambda m: m.arange(0, 2.5)),
    ('array float', lambda m: m.array(1.5)),
    ('array int list', lambda m: m.array([1, 2, 3])),
    ('array bool', lambda m: m.array([True, False])),
    ('array mixed list', lambda m: m.array([1, 2.5])),
    ('array complex', lambda m: m.array([1 + 2j])),
    ('asarray int', lambda m: m.asarray(3)),
    ('asarray nested', lambda m: m.asarray([[0.5], [1.0]])),
    ('zeros_like scalar', lambda m: m.zeros_like(1.0)),
    ('ones_like int scalar', lambda m: m.ones_like(2)),
    ('empty_like float32', lambda m: m.empty_like(np.ones(2, np.float32))),
    ('full_like int scalar', lambda m: m.full_like(1, 0.5)),
    ('zeros_like int16', lambda m: m.zeros_like(np.ones(2, np.int16))),
    ('array bfloat16', lambda m: m.array(np.ones(2, ml_dtypes.bfloat16))),
    ('array float32 + weak', lambda m: m.array([np.float32(1), 2.0])),
]

# Computations whose NumPy result would be 64-bit from 32-bit inputs.
I32 = np.array([3, 1, 2], np.int32)
F32 = np.array([0.5, 1.5, -2.0], np.float32)
COMPUTE = [
    ('sum int32', lambda m: m.sum(I32)),
    ('prod int32', lambda m: m.prod(I32)),
    ('cumsum int32', lambda m: m.cumsum(I32)),
    ('sum bool', lambda m: m.sum(I32 > 1)),
    ('mean int32', lambda m: m.mean(I32)),
    ('mean bool', lambda m: m.mean(I32 > 1)),
    ('var int32', lambda m: m.var(I32)),
    ('std int32', lambda m: m.std(I32)),
    ('argmax', lambda m: m.argmax(F32)),
    ('argmin axis', lambda m: m.argmin(F32.reshape(1, 3), axis=1)),
    ('argsort', lambda m: m.argsort(F32)),
    ('nonzero', lambda m: m.nonzero(I32 > 1)[0]),
    ('where one arg', lambda m: m.where(I32 > 1)[0]),
    ('where weak branches', lambda m: m.where(I32 > 1, 1.0, 0.0)),
    ('where int32 and weak float', lambda m: m.where(I32 > 1, I32, 0.5)),
    ('sqrt int32', lambda m: m.sqrt(I32)),
    ('sqrt int8', lambda m: m.sqrt(I32.astype(np.int8))),
    ('exp bool', lambda m: m.exp(I32 > 1)),
    ('true_divide int32', lambda m: m.true_divide(I32, 2)),
    ('divide int32', lambda m: m.divide(I32, I32)),
    ('maximum int32 weak float', lambda m: m.maximum(I32, 0.5)),
    ('add float32 weak', lambda m: m.add(F32, 1.0)),
    ('einsum int32', lambda m: m.einsum('i,i->', I32, I32)),
    ('matmul float32', lambda m: m.matmul(F32, F32)),
    ('dot int32', lambda m: m.dot(I32, I32)),
    ('take', lambda m: m.take(F32, m.array([0, 2]))),
    ('clip float32 weak', lambda m: m.clip(F32, -1.0, 1.0)),
    ('concatenate', lambda m: m.concatenate([I32, I32])),
    ('searchsorted', lambda m: m.searchsorted(m.sort(F32), F32)),
    ('bincount', lambda m: m.bincount(I32)),
    ('count_nonzero', lambda m: m.count_nonzero(I32)),
    ('add.reduce int32', lambda m: m.add.reduce(I32)),
]


def _dtype(result):
    return np.asarray(result).dtype


@pytest.mark.parametrize('label, call', CREATION + COMPUTE, ids=[c[0] for c in CREATION + COMPUTE])
def test_default_dtype_matches_jax_numpy(label, call):
    ours, theirs = call(nnp), call(jnp)
    assert _dtype(ours) == _dtype(theirs), label
    assert isinstance(ours, (np.ndarray, np.generic)), label


@pytest.mark.parametrize('label, call', CREATION + COMPUTE, ids=[c[0] for c in CREATION + COMPUTE])
def test_values_match_jax_numpy(label, call):
    ours, theirs = np.asarray(call(nnp)), np.asarray(call(jnp))
    assert ours.shape == theirs.shape, label
    if ours.dtype.kind in 'biu':
        assert_close(ours, theirs, family='exact', err_msg=label)
    else:
        assert_close(ours, theirs, family='transcendental', err_msg=label)


@pytest.mark.parametrize('dtype', [np.float64, np.int64, np.float16, ml_dtypes.bfloat16, np.int8])
def test_explicit_dtype_is_respected(dtype):
    dtype = np.dtype(dtype)
    assert nnp.zeros(3, dtype=dtype).dtype == dtype
    assert nnp.ones((2, 2), dtype).dtype == dtype
    assert nnp.full(2, 1, dtype=dtype).dtype == dtype
    assert nnp.eye(2, dtype=dtype).dtype == dtype
    assert nnp.arange(4, dtype=dtype).dtype == dtype
    assert nnp.array([1, 2], dtype=dtype).dtype == dtype
    assert nnp.asarray(1.0, dtype=dtype).dtype == dtype
    assert nnp.zeros_like([1.0], dtype=dtype).dtype == dtype
    if dtype.kind == 'f' or dtype == ml_dtypes.bfloat16:
        assert nnp.linspace(0, 1, 3, dtype=dtype).dtype == dtype


def test_sixty_four_bit_inputs_stay_sixty_four_bit():
    f64 = np.ones(3, np.float64)
    i64 = np.arange(3, dtype=np.int64)
    assert nnp.asarray(f64).dtype == np.float64
    assert nnp.array([f64, f64]).dtype == np.float64
    assert nnp.zeros_like(f64).dtype == np.float64
    assert nnp.sum(f64).dtype == np.float64
    assert nnp.sum(i64).dtype == np.int64
    assert nnp.mean(i64).dtype == np.float64
    assert nnp.exp(f64).dtype == np.float64
    assert nnp.sum(I32, dtype=np.int64).dtype == np.int64
    assert nnp.sum(I32, 0, np.float64).dtype == np.float64  # positional dtype


def test_python_lists_are_weak_like_jax_asarray():
    # jax.numpy refuses lists in *_like and stack; nnref accepts them and
    # treats them as jnp.asarray would.
    cases = [
        (nnp.zeros_like([1.0, 2.0]), jnp.zeros_like(jnp.asarray([1.0, 2.0]))),
        (nnp.ones_like([1, 2]), jnp.ones_like(jnp.asarray([1, 2]))),
        (nnp.full_like([1, 2], 3), jnp.full_like(jnp.asarray([1, 2]), 3)),
        (nnp.stack([[1.0, 2.0], [3.0, 4.0]]), jnp.stack(jnp.asarray([[1.0, 2.0], [3.0, 4.0]]))),
    ]
    for ours, theirs in cases:
        assert ours.dtype == theirs.dtype
        assert_close(ours, np.asarray(theirs), family='exact')


def test_python_int_out_of_int32_range_overflows_like_jax():
    with pytest.raises(OverflowError):
        jnp.array(2**40)
    with pytest.raises(OverflowError):
        nnp.array(2**40)


CORE = [
    'abs',
    'max',
    'min',
    'round',
    'sum',
    'any',
    'all',
    'mean',
    'exp',
    'log',
    'sqrt',
    'einsum',
    'matmul',
    'dot',
    'take',
    'take_along_axis',
    'where',
    'clip',
    'reshape',
    'transpose',
    'concatenate',
    'stack',
    'split',
    'expand_dims',
    'squeeze',
    'pad',
    'argmax',
    'argsort',
    'maximum',
    'minimum',
    'tanh',
    'square',
    'linalg',
    'fft',
    'float32',
    'float64',
    'float16',
    'bfloat16',
    'int32',
    'int8',
    'uint8',
    'bool_',
    'complex64',
    'pi',
    'inf',
    'nan',
    'newaxis',
    'finfo',
    'iinfo',
    'dtype',
    'issubdtype',
    'result_type',
    'ndarray',
]


@pytest.mark.parametrize('name', CORE)
def test_core_names_present(name):
    assert hasattr(nnp, name), name
    assert hasattr(jnp, name), name  # the same name works on the JAX side


def test_every_shared_numpy_function_is_available():
    # Anything both numpy and jax.numpy offer must be here, so model code
    # written against jax.numpy finds it.
    shared = {n for n in dir(jnp) if not n.startswith('_') and hasattr(np, n)}
    missing = sorted(n for n in shared if not hasattr(nnp, n))
    assert not missing, missing


def test_numpy_only_submodules_are_hidden():
    # np.random would run on nnref and then fail on nnjax.
    for name in ('random', 'ma', 'testing'):
        assert not hasattr(jnp, name)
        assert not hasattr(nnp, name), name


def test_dtype_names_and_finfo():
    assert nnp.bfloat16 is ml_dtypes.bfloat16
    assert nnp.dtype(nnp.bfloat16) == jnp.dtype(jnp.bfloat16)
    assert float(nnp.finfo(nnp.bfloat16).eps) == float(jnp.finfo(jnp.bfloat16).eps)
    assert nnp.iinfo(nnp.int32).max == 2**31 - 1


def test_ufunc_methods_still_work():
    x = nnp.zeros(3)
    nnp.add.at(x, [0, 0, 2], 1.0)
    np.testing.assert_array_equal(x, [2.0, 0.0, 1.0])
    assert x.dtype == np.float32
    assert nnp.add.reduce(I32).dtype == np.int32
    assert nnp.multiply.outer(F32, F32).shape == (3, 3)


def test_explicit_out_is_written():
    out = np.empty(3, np.float64)
    result = nnp.add(I32, 1, out=out)
    assert result is out
    np.testing.assert_array_equal(out, [4.0, 2.0, 3.0])
