"""nnref.activation against jax.nn: values, dtypes, masking, one_hot.

JAX is the oracle here (tests may import it; nnref never does). float64
comparisons run inside ``jax.enable_x64(True)`` so JAX really computes in
float64 instead of demoting the input.
"""

import contextlib

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnref import activation as act
from shared_spec.tolerances import assert_close

jax = pytest.importorskip('jax')
jnp = jax.numpy

# name -> (tolerance family, extra kwargs). Piecewise-linear functions are a
# single rounded op per element; the rest go through exp/log/tanh/erf.
ELEMENTWISE = {
    'relu': {},
    'relu6': {},
    'hard_tanh': {},
    'leaky_relu': {},
    'hard_sigmoid': {},
    'hard_silu': {},
    'hard_swish': {},
    'soft_sign': {},
}
TRANSCENDENTAL = {
    'sigmoid': {},
    'silu': {},
    'swish': {},
    'softplus': {},
    'log_sigmoid': {},
    'tanh': {},
    'elu': {},
    'celu': {'alpha': 0.7},
    'selu': {},
    'gelu': {},
    'gelu_exact': {'approximate': False},
    'softmax': {},
    'log_softmax': {},
    'glu': {},
    'logsumexp': {'axis': -1},
    'logsumexp_all': {},
}
FAMILY = {**{k: 'elementwise' for k in ELEMENTWISE}, **{k: 'transcendental' for k in TRANSCENDENTAL}}
KWARGS = {**ELEMENTWISE, **TRANSCENDENTAL}


def _fn_name(case):
    return {'gelu_exact': 'gelu', 'logsumexp_all': 'logsumexp'}.get(case, case)


def _x64_if(dtype):
    return jax.enable_x64(True) if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


def _jax_result(case, x):
    with _x64_if(x.dtype):
        out = getattr(jax.nn, _fn_name(case))(jnp.asarray(x), **KWARGS[case])
        return np.asarray(out)


def _nnref_result(case, x):
    return getattr(act, _fn_name(case))(x, **KWARGS[case])


def _elements(dtype, bound):
    """Moderate values most of the time, plus hand-picked extremes."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    extremes = [0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0, 88.0, -88.0, -104.0, 1e4, -1e4, bound, -bound]
    return st.one_of(
        st.floats(-20, 20, width=width),
        st.sampled_from([e for e in extremes if abs(e) <= bound]),
    )


# A few fixed shapes: JAX compiles once per shape, and a new shape per example
# would make the suite slow without testing anything new. Last axes are even
# so glu can split them.
SHAPES = [(6,), (2, 4), (2, 3, 4)]


def _arrays(dtype, bound=1e30):
    return hnp.arrays(dtype, st.sampled_from(SHAPES), elements=_elements(dtype, bound))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('case', sorted(FAMILY))
@given(data=st.data())
def test_matches_jax(case, dtype, data):
    x = data.draw(_arrays(dtype), label='x')
    actual = _nnref_result(case, x)
    desired = _jax_result(case, x)
    assert actual.dtype == np.dtype(dtype)
    assert_close(actual, desired, family=FAMILY[case], err_msg=case)


@pytest.mark.parametrize('dtype', [ml_dtypes.bfloat16, np.float16])
@pytest.mark.parametrize('case', sorted(FAMILY))
@given(data=st.data())
def test_low_precision_matches_jax(case, dtype, data):
    # Moderate range: near float16's overflow the two sides round differently
    # before the function is even applied.
    x32 = data.draw(_arrays(np.float32, bound=30.0), label='x')
    x = x32.astype(dtype)
    actual = _nnref_result(case, x)
    desired = _jax_result(case, x)
    assert actual.dtype == np.dtype(dtype)
    assert_close(actual, desired, family=FAMILY[case], err_msg=case)


@pytest.mark.parametrize('case', sorted(FAMILY))
def test_integer_input_dtype(case):
    x = np.array([-3, -1, 0, 2, 5, 7], dtype=np.int32)
    actual = _nnref_result(case, x)
    if case in ('relu', 'hard_tanh'):
        expected = np.int32  # integer-preserving in JAX too
    else:
        expected = np.float32  # JAX's default float
    assert actual.dtype == expected
    try:
        desired = _jax_result(case, x)
    except TypeError:
        return  # JAX refuses integers here (lax.logistic); nnref promotes
    assert desired.dtype == actual.dtype
    assert_close(actual, desired, family=FAMILY[case], err_msg=case)


def test_python_scalars_are_weak():
    assert act.relu(2.0).dtype == np.float32
    assert act.sigmoid(0.5).dtype == np.float32
    assert act.relu(2).dtype == np.int32
    assert act.softmax([1.0, 2.0]).dtype == np.float32


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@given(data=st.data())
def test_softmax_rows_sum_to_one(dtype, data):
    x = data.draw(_arrays(dtype, bound=1e4), label='x')
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label='axis')
    y = act.softmax(x, axis=axis)
    assert np.all(y >= 0) and np.all(y <= 1)
    sums = np.sum(y.astype(np.float64), axis=axis)
    assert_close(sums, np.ones_like(sums), family='reduction', dtype=dtype)


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@given(data=st.data())
def test_where_masking_matches_jax(name, dtype, data):
    x = data.draw(_arrays(dtype, bound=1e4), label='x')
    mask = data.draw(hnp.arrays(np.bool_, x.shape), label='where')
    actual = getattr(act, name)(x, where=mask)
    with _x64_if(dtype):
        desired = np.asarray(getattr(jax.nn, name)(jnp.asarray(x), where=jnp.asarray(mask)))
    assert_close(actual, desired, family='transcendental', err_msg=name)
    if name == 'softmax':
        assert np.all(actual[~mask] == 0)
        # every row with at least one kept element sums to one
        kept_rows = mask.any(axis=-1)
        sums = actual.astype(np.float64).sum(axis=-1)[kept_rows]
        assert_close(sums, np.ones_like(sums), family='reduction', dtype=dtype)
    else:
        assert np.all(actual[~mask] == -np.inf)


def test_softmax_initial_is_accepted_and_harmless():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    base = act.softmax(x)
    assert_close(act.softmax(x, initial=-10.0), base, family='transcendental')
    assert_close(act.log_softmax(x, initial=-10.0), act.log_softmax(x), family='transcendental')


@pytest.mark.parametrize(
    'row',
    [
        [-np.inf, -np.inf, -np.inf],
        [-np.inf, 0.0, 1.0],
        [np.inf, 0.0, 1.0],
        [np.inf, -np.inf, 0.0],
    ],
)
def test_infinities_match_jax(row):
    x = np.array([row], np.float32)
    for name in ('softmax', 'log_softmax'):
        assert_close(getattr(act, name)(x), np.asarray(getattr(jax.nn, name)(x)), family='transcendental', err_msg=name)
    assert_close(act.logsumexp(x, axis=-1), np.asarray(jax.nn.logsumexp(x, axis=-1)), family='transcendental')


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@given(data=st.data())
def test_logsumexp_b_sign_keepdims_match_jax(dtype, data):
    a = data.draw(_arrays(dtype, bound=1e4), label='a')
    b = data.draw(hnp.arrays(dtype, a.shape, elements=st.floats(-3, 3, width=32)), label='b')
    axis = data.draw(st.sampled_from([None, -1, 0, tuple(range(a.ndim))]), label='axis')
    keepdims = data.draw(st.booleans(), label='keepdims')
    out, sign = act.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    with _x64_if(dtype):
        j_out, j_sign = jax.nn.logsumexp(
            jnp.asarray(a), axis=axis, b=jnp.asarray(b), keepdims=keepdims, return_sign=True
        )
    j_out, j_sign = np.asarray(j_out), np.asarray(j_sign)
    assert out.dtype == sign.dtype == np.dtype(dtype)
    # Where the weighted sum nearly cancels, the sign itself is decided by
    # rounding; compare only where |sum| is comfortably nonzero.
    clear = j_out > np.log(np.float64(1e-3)) + np.max(a, axis=axis, keepdims=keepdims)
    assert_close(sign[clear], j_sign[clear], family='exact')
    assert_close(out[clear], j_out[clear], family='transcendental')
    plain = act.logsumexp(a, axis=axis, b=b, keepdims=keepdims)
    assert np.all(np.isnan(plain[clear & (sign < 0)]))


def test_logsumexp_where_matches_jax():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    mask = np.array([[True, False, True], [False, False, False]])
    actual = act.logsumexp(a, axis=1, where=mask)
    desired = np.asarray(jax.nn.logsumexp(a, axis=1, where=mask))
    assert_close(actual, desired, family='transcendental')
    assert actual[1] == -np.inf


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@given(data=st.data())
def test_standardize_matches_jax(dtype, data):
    x = data.draw(hnp.arrays(dtype, st.sampled_from(SHAPES), elements=st.floats(-10, 10, width=32)), label='x')
    with _x64_if(dtype):
        desired = np.asarray(jax.nn.standardize(jnp.asarray(x)))
    actual = act.standardize(x)
    assert actual.dtype == np.dtype(dtype)
    # jax.nn's default variance is E[x^2] - E[x]^2 and nnref's the mean squared
    # deviation; the normalization family is sized for exactly that gap.
    # Near-constant rows blow that gap up by 1/std, so they are skipped.
    spread = np.std(x.astype(np.float64), axis=-1, keepdims=True) > 1e-2
    spread = np.broadcast_to(spread, x.shape)
    assert_close(actual[spread], desired[spread], family='normalization')


def test_standardize_where_and_given_statistics():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    mask = np.array([[True, True, False]])
    assert_close(act.standardize(x, where=mask), np.asarray(jax.nn.standardize(x, where=mask)), family='normalization')
    assert_close(
        act.standardize(x, mean=2.0, variance=4.0, epsilon=0.0),
        np.array([[-0.5, 0.0, 0.5]], np.float32),
        family='elementwise',
    )


@pytest.mark.parametrize('shape', [(), (4,), (2, 3)])
@pytest.mark.parametrize('axis', [-1, 0, 1])
def test_one_hot_matches_jax(shape, axis):
    if not -(len(shape) + 1) <= axis <= len(shape):
        pytest.skip('axis out of range for this rank')
    x = np.arange(int(np.prod(shape))).reshape(shape) - 1  # includes -1: out of range
    actual = act.one_hot(x, 4, axis=axis)
    desired = np.asarray(jax.nn.one_hot(jnp.asarray(x), 4, axis=axis))
    assert actual.shape == desired.shape
    assert actual.dtype == desired.dtype == np.float32
    assert_close(actual, desired, family='exact')


def test_one_hot_dtype_and_out_of_range():
    y = act.one_hot(np.array([0, 2, 5, -1]), 3, dtype=np.int8)
    assert y.dtype == np.int8
    assert y.shape == (4, 3)
    np.testing.assert_array_equal(y.sum(axis=-1), [1, 1, 0, 0])
    assert act.one_hot([1], 2, dtype=ml_dtypes.bfloat16).dtype == ml_dtypes.bfloat16


def test_glu_rejects_odd_axis():
    with pytest.raises(ValueError):
        act.glu(np.ones(3, np.float32))


def test_aliases():
    assert act.swish is act.silu
    assert act.hard_swish is act.hard_silu


def test_every_seed_activation_exists():
    # flax.linen.activation's function list in the seed documentation.
    seed = [
        'celu',
        'elu',
        'gelu',
        'glu',
        'hard_sigmoid',
        'hard_silu',
        'hard_swish',
        'hard_tanh',
        'leaky_relu',
        'log_sigmoid',
        'log_softmax',
        'logsumexp',
        'one_hot',
        'relu',
        'relu6',
        'selu',
        'sigmoid',
        'silu',
        'soft_sign',
        'softmax',
        'softplus',
        'standardize',
        'swish',
        'tanh',
    ]
    for name in seed:
        assert callable(getattr(act, name)), name
    # PReLU is the seed's one parameterised activation, a Module.
    assert sorted(act.__all__) == sorted(seed + ['PReLU'])
