"""The jax.nn functions outside the seed's activation list, against jax.nn.

``nnref.activation`` carries jax.nn's extra activations (``JAX_NN_ONLY``)
for model code written with ``jax.nn``, and ``nnref.jax_nn_attention`` its
functional ``dot_product_attention``. JAX is the oracle; float64 runs JAX
under ``jax.enable_x64(True)`` so it computes in float64 too.
"""

from __future__ import annotations

import contextlib

import ml_dtypes
import numpy as np
import pytest

import nnref
from nnref import activation as act
from nnref.jax_nn_attention import dot_product_attention
from shared_spec.tolerances import assert_close

jax = pytest.importorskip('jax')
jnp = jax.numpy


def _x64_if(dtype):
    return jax.enable_x64(True) if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


def _values(dtype, lo=-6.0, hi=6.0, seed=0, tiny=1e-6):
    """Random values with the pieces' boundaries, zeros and far tails mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, 40)
    x[:10] = [-1.0, 1.0, 0.0, -0.0, tiny, -tiny, 30.0, -30.0, 0.5, -0.5]
    return np.clip(x, lo, hi).reshape(5, 8).astype(dtype)


# name -> (kwargs, tolerance family, input range)
CASES = {
    'identity': ({}, 'exact', (-6, 6)),
    'mish': ({}, 'transcendental', (-6, 6)),
    'sparse_plus': ({}, 'elementwise', (-3, 3)),
    'sparse_sigmoid': ({}, 'elementwise', (-3, 3)),
    'squareplus': ({}, 'transcendental', (-6, 6)),
    'squareplus_b': ({'b': 0.5}, 'transcendental', (-6, 6)),
    'log1mexp': ({}, 'transcendental', (1e-6, 40)),
    'logmeanexp': ({}, 'transcendental', (-6, 6)),
    'logmeanexp_axis': ({'axis': 1, 'keepdims': True}, 'transcendental', (-6, 6)),
}


def _name(case):
    return case.split('_b')[0] if case == 'squareplus_b' else case.replace('_axis', '')


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('case', sorted(CASES))
def test_matches_jax(case, dtype):
    kwargs, family, (lo, hi) = CASES[case]
    x = _values(dtype, lo, hi)
    actual = getattr(act, _name(case))(x, **kwargs)
    with _x64_if(dtype):
        desired = np.asarray(getattr(jax.nn, _name(case))(x, **kwargs))
    assert actual.dtype == desired.dtype == np.dtype(dtype)
    assert_close(actual, desired, family=family, err_msg=case)


@pytest.mark.parametrize('dtype', [ml_dtypes.bfloat16, np.float16])
@pytest.mark.parametrize('case', sorted(CASES))
def test_low_precision_matches_jax(case, dtype):
    kwargs, family, (lo, hi) = CASES[case]
    # No subnormals: JAX rounds each intermediate to the narrow type, nnref only the result,
    # and near float16's subnormal range those roundings are coarse.
    x = _values(np.float32, max(lo, 1e-2) if lo > 0 else lo, min(hi, 8.0), tiny=1e-2).astype(dtype)
    actual = getattr(act, _name(case))(x, **kwargs)
    desired = np.asarray(getattr(jax.nn, _name(case))(x, **kwargs))
    assert actual.dtype == desired.dtype == np.dtype(dtype)
    assert_close(actual, desired, family=family, err_msg=case)


@pytest.mark.parametrize('case', sorted(CASES))
def test_integer_input_dtype_matches_jax(case):
    kwargs, _, _ = CASES[case]
    x = np.array([1, 2, 3, 5, 7, 9], np.int32)
    actual = getattr(act, _name(case))(x, **kwargs if 'axis' not in kwargs else {})
    desired = np.asarray(getattr(jax.nn, _name(case))(x, **kwargs if 'axis' not in kwargs else {}))
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family='transcendental', dtype=np.float32, err_msg=case)


def test_logmeanexp_where_matches_jax():
    x = _values(np.float32)
    where = np.random.default_rng(1).random(x.shape) < 0.5
    where[0] = False  # an empty row: log(0 / 0)
    actual = act.logmeanexp(x, axis=1, where=where)
    desired = np.asarray(jax.nn.logmeanexp(x, axis=1, where=where))
    assert_close(actual, desired, family='transcendental')


def test_log1mexp_edges_match_jax():
    x = np.array([0.0, -1.0, np.log(2.0), 1e-30, np.inf], np.float32)
    assert_close(act.log1mexp(x), np.asarray(jax.nn.log1mexp(x)), family='transcendental')


def test_jax_nn_names():
    # Everything nnref lists is a jax.nn function, and the rest of jax.nn is accounted for:
    # initializers (bind nnref.initializers), dot_product_attention (nnref.jax_nn_attention),
    # and the fp8/microscaling helpers, which have no reference counterpart.
    public = {n for n in dir(jax.nn) if not n.startswith('_')}
    assert set(act.JAX_NN_FUNCTIONS) <= public
    for name in act.JAX_NN_FUNCTIONS:
        assert callable(getattr(act, name)), name
    rest = public - set(act.JAX_NN_FUNCTIONS)
    assert rest <= {
        'initializers',
        'dot_product_attention',
        'scaled_dot_general',
        'scaled_matmul',
        'get_scaled_dot_general_config',
    }


def test_jax_nn_only_names_stay_off_the_top_level():
    # nnref's top level is the seed's flax.linen, which does not re-export these.
    for name in act.JAX_NN_ONLY:
        assert name not in act.__all__
        assert not hasattr(nnref, name), name


# ---------------------------------------------------------------------------
# dot_product_attention
# ---------------------------------------------------------------------------

B, T, S, N, K, H = 2, 5, 7, 4, 2, 8

ATTENTION_CASES = {
    # id: (query/key/value shapes, kwargs builder (rng) -> kwargs)
    'plain': ((B, T, N, H), (B, S, N, H), lambda rng: {}),
    'grouped_heads': ((B, T, N, H), (B, S, K, H), lambda rng: {}),
    'one_kv_head': ((B, T, N, H), (B, S, 1, H), lambda rng: {}),
    'scale': ((B, T, N, H), (B, S, K, H), lambda rng: {'scale': 0.3}),
    'bias_full': ((B, T, N, H), (B, S, K, H), lambda rng: {'bias': rng.normal(size=(B, N, T, S))}),
    'bias_broadcast': ((B, T, N, H), (B, S, K, H), lambda rng: {'bias': rng.normal(size=(1, 1, T, S))}),
    'bias_3d': ((B, T, N, H), (B, S, K, H), lambda rng: {'bias': rng.normal(size=(N, T, S))}),
    'mask': ((B, T, N, H), (B, S, K, H), lambda rng: {'mask': rng.random((B, 1, T, S)) < 0.7}),
    'causal_t_ne_s': ((B, T, N, H), (B, S, K, H), lambda rng: {'is_causal': True}),
    'causal_and_mask': (
        (B, T, N, H),
        (B, S, K, H),
        lambda rng: {'is_causal': True, 'mask': rng.random((B, N, T, S)) < 0.8},
    ),
    'window_int': ((B, T, N, H), (B, S, K, H), lambda rng: {'local_window_size': 1}),
    'window_pair_causal': ((B, T, N, H), (B, S, K, H), lambda rng: {'local_window_size': (2, 0), 'is_causal': True}),
    'seq_lengths': (
        (B, T, N, H),
        (B, S, K, H),
        lambda rng: {
            'query_seq_lengths': np.array([3, 5], np.int32),
            'key_value_seq_lengths': np.array([7, 2], np.int32),
        },
    ),
    'unbatched': ((T, N, H), (S, K, H), lambda rng: {'is_causal': True}),
    'residual': ((B, T, N, H), (B, S, K, H), lambda rng: {'return_residual': True, 'is_causal': True}),
    'implementation_xla': ((B, T, N, H), (B, S, K, H), lambda rng: {'implementation': 'xla'}),
}


def _attention_inputs(case, dtype):
    q_shape, kv_shape, make_kwargs = ATTENTION_CASES[case]
    rng = np.random.default_rng(len(case))
    q, k, v = (rng.normal(size=shape).astype(dtype) for shape in (q_shape, kv_shape, kv_shape))
    kwargs = make_kwargs(rng)
    if 'bias' in kwargs:
        kwargs['bias'] = kwargs['bias'].astype(dtype)
    return q, k, v, kwargs


def _attention_pair(case, dtype):
    q, k, v, kwargs = _attention_inputs(case, dtype)
    actual = dot_product_attention(q, k, v, **kwargs)
    with _x64_if(dtype):
        desired = jax.nn.dot_product_attention(q, k, v, **kwargs)
    actual = actual if isinstance(actual, tuple) else (actual,)
    desired = desired if isinstance(desired, tuple) else (desired,)
    return actual, [np.asarray(d) for d in desired]


@pytest.mark.parametrize('dtype', [np.float32, ml_dtypes.bfloat16])
@pytest.mark.parametrize('case', sorted(ATTENTION_CASES))
def test_dot_product_attention_matches_jax(case, dtype):
    actual, desired = _attention_pair(case, dtype)
    assert len(actual) == len(desired)
    for a, d in zip(actual, desired):
        assert a.shape == d.shape and a.dtype == d.dtype == np.dtype(dtype)
        assert_close(a, d, family='attention', err_msg=case)


@pytest.mark.parametrize('case', ['plain', 'grouped_heads', 'bias_full', 'causal_and_mask', 'seq_lengths', 'residual'])
def test_dot_product_attention_float64_stays_float64(case):
    # jax.nn rounds the softmax through float32 even under x64; nnref keeps float64 throughout,
    # so the two agree to float32's attention tolerance, and nnref's result is float64.
    actual, desired = _attention_pair(case, np.float64)
    for a, d in zip(actual, desired):
        assert a.dtype == d.dtype == np.float64
        assert_close(a, d, family='attention', dtype=np.float32, err_msg=case)


def test_dot_product_attention_float64_is_exact_softmax_attention():
    # The float64 path against the textbook formula in float64: no float32 step anywhere.
    q, k, v, _ = _attention_inputs('plain', np.float64)
    logits = np.einsum('btnh,bsnh->bnts', q, k) / np.sqrt(H)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum('bnts,bsnh->btnh', weights, v)
    assert_close(dot_product_attention(q, k, v), expected, family='attention')


@pytest.mark.parametrize(
    'kwargs,match',
    [
        ({'implementation': 'flash'}, 'implementation'),
        ({'mask': np.ones((B, 1, T, S), np.int32)}, 'mask dtype'),
        ({'query_seq_lengths': np.array([1, 2], np.int16)}, 'query_seq_lengths dtype'),
    ],
)
def test_dot_product_attention_rejects_what_jax_rejects(kwargs, match):
    q, k, v, _ = _attention_inputs('plain', np.float32)
    with pytest.raises(ValueError):
        jax.nn.dot_product_attention(q, k, v, **kwargs)
    with pytest.raises(ValueError, match=match):
        dot_product_attention(q, k, v, **kwargs)


def test_dot_product_attention_takes_64_bit_lengths_like_jax():
    # JAX (x64 off) reads int64 lengths as int32, so they are accepted.
    q, k, v, kwargs = _attention_inputs('seq_lengths', np.float32)
    wide = {name: value.astype(np.int64) for name, value in kwargs.items()}
    assert_close(
        dot_product_attention(q, k, v, **wide),
        np.asarray(jax.nn.dot_product_attention(q, k, v, **wide)),
        family='attention',
    )


def test_dot_product_attention_head_counts_must_divide():
    q = np.ones((B, T, 3, H), np.float32)
    kv = np.ones((B, S, 2, H), np.float32)
    with pytest.raises(ValueError):
        jax.nn.dot_product_attention(q, kv, kv)
    with pytest.raises(ValueError, match='multiple of key/value heads'):
        dot_product_attention(q, kv, kv)


def test_imports_without_jax():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['jax'] = None\n"
        "import nnref.jax_nn_attention, nnref.lax, nnref.activation\n"
        "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules if sys.modules[m] is not None)"
    )
    subprocess.run([sys.executable, '-c', code], check=True)
