"""fp8 quantization and delayed scaling against an independent NumPy derivation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import fp8_ops
from shared_spec.tolerances import assert_close
from tests.nnjax.fp8 import fp8_reference as ref

FP8 = [jnp.float8_e4m3fn, jnp.float8_e5m2, jnp.float8_e4m3fnuz, jnp.float8_e5m2fnuz]
NAMES = {t: np.dtype(t).name for t in FP8}


def _probe_values(name, rng):
    """Random values over the whole range, grid midpoints (ties), out-of-range."""
    g = ref.grid(name)
    mids = (g[:-1] + g[1:]) / 2
    spread = rng.normal(size=64) * 10.0 ** rng.uniform(-4, 5, size=64)
    beyond = np.array([1.5, 10.0, 1e6]) * ref.fp8_max(name)
    x = np.concatenate([mids, -mids, spread, beyond, -beyond, [0.0]])
    return x.astype(np.float32)


@pytest.mark.parametrize('q_dtype', FP8, ids=lambda t: NAMES[t])
def test_get_fp8_max_is_the_format_maximum(q_dtype):
    got = fp8_ops.get_fp8_max(q_dtype, jnp.float32)
    assert got.dtype == jnp.float32
    assert float(got) == ref.fp8_max(NAMES[q_dtype])
    assert fp8_ops.get_fp8_max(q_dtype, jnp.bfloat16).dtype == jnp.bfloat16


def test_get_fp8_max_refuses_other_dtypes():
    # The seed asserts; we raise an error that is both ValueError and AssertionError.
    for bad in (jnp.float16, jnp.int8, 'not a dtype'):
        with pytest.raises(ValueError, match='is not an fp8 dtype'):
            fp8_ops.get_fp8_max(bad, jnp.float32)
    with pytest.raises(AssertionError):
        fp8_ops.get_fp8_max(jnp.float32, jnp.float32)


@pytest.mark.parametrize('q_dtype', FP8, ids=lambda t: NAMES[t])
@pytest.mark.parametrize('scale', [1.0, 0.375])
def test_quantize_and_qdq_match_numpy_rounding(q_dtype, scale):
    name = NAMES[q_dtype]
    x = _probe_values(name, np.random.default_rng(0))
    s = jnp.array([scale], jnp.float32)
    q = fp8_ops.quantize(jnp.asarray(x), q_dtype, s, jnp.float32)
    assert q.dtype == q_dtype and q.shape == x.shape
    expected = ref.quantize(x, name, scale)
    assert_close(np.asarray(q.astype(jnp.float32)), expected.astype(np.float32), family='exact')
    back = fp8_ops.qdq(jnp.asarray(x), q_dtype, s, jnp.float32)
    assert back.dtype == jnp.float32
    assert_close(np.asarray(back), ref.qdq(x, name, scale), family='exact')
    deq = fp8_ops.dequantize(q, jnp.float32, s)
    assert_close(np.asarray(deq), ref.qdq(x, name, scale), family='exact')


def test_compute_scale_matches_the_recipe():
    amax = np.array([896.0, 0.0, np.inf, np.nan, 1e-3, 5.0], np.float32)
    old = np.array([1.0, 3.0, 0.5, 2.0, 1.0, 4.0], np.float32)
    for margin in (0, 2):
        got = fp8_ops.compute_scale(jnp.asarray(amax), jnp.asarray(old), 448.0, margin=margin)
        want = [ref.new_scale([a], s, 'float8_e4m3fn', margin) for a, s in zip(amax, old)]
        assert_close(np.asarray(got), np.array(want, np.float32), family='elementwise')


@pytest.mark.parametrize('length', [1, 2, 5])
def test_compute_amax_history_rolls_and_records(length):
    rng = np.random.default_rng(length)
    history = rng.uniform(0, 10, size=length).astype(np.float32)
    x = rng.normal(size=(3, 4)).astype(np.float32) * 20
    got = fp8_ops.compute_amax_history(jnp.asarray(x), jnp.asarray(history))
    assert_close(np.asarray(got), ref.new_history(x, history), family='exact')


@pytest.mark.parametrize('q_dtype', FP8, ids=lambda t: NAMES[t])
def test_quantize_dequantize_update_uses_the_previous_history(q_dtype):
    name = NAMES[q_dtype]
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(4, 3)) * 50).astype(np.float32)
    history = np.array([0.0, 600.0, 20.0], np.float32)
    scale = np.float32(0.25)
    qx, s, h = jax.jit(fp8_ops.quantize_dequantize_update, static_argnums=(1, 4))(
        jnp.asarray(x), q_dtype, jnp.array([scale]), jnp.asarray(history), jnp.float32
    )
    want_scale = ref.new_scale(history, scale, name)
    assert_close(np.asarray(s), np.array([want_scale]), family='elementwise')
    assert_close(np.asarray(h), ref.new_history(x, history), family='exact')
    assert_close(np.asarray(qx), ref.qdq(x, name, np.asarray(s)[0]), family='exact')


def test_zero_history_keeps_the_scale():
    s, h = fp8_ops.update_fp8_meta(jnp.ones(3), jnp.float8_e4m3fn, jnp.array([2.0]), jnp.zeros(4))
    assert_close(np.asarray(s), np.array([2.0], np.float32), family='exact')
    assert_close(np.asarray(h), np.array([1.0, 0, 0, 0], np.float32), family='exact')


def test_qdq_relative_error_is_within_half_an_ulp():
    # Normal-range e4m3 values are off by at most 2**-4 relative (3 mantissa bits).
    x = jnp.asarray(np.random.default_rng(2).uniform(0.02, 400, size=200), jnp.float32)
    err = jnp.abs(fp8_ops.qdq(x, jnp.float8_e4m3fn, jnp.ones(1), jnp.float32) - x)
    half_ulp = float(jnp.finfo(jnp.float8_e4m3fn).eps) / 2
    assert bool(jnp.all(err <= half_ulp * x))


def test_fp32_max_grad_merges_gradients_with_max():
    x = jnp.array([[1.0, -4.0], [2.5, 0.5]])

    def used_twice(x, scale, history):
        def f(v):
            return fp8_ops.in_qdq(jnp.float32, jnp.float8_e4m3fn, v, scale, history).sum()

        return f(x) + f(3 * x)

    def meta(v):
        return jax.lax.convert_element_type(v, fp8_ops.fp32_max_grad)

    scale, history = meta(jnp.ones((1,))), meta(jnp.zeros((3,)))
    assert scale.dtype == fp8_ops.fp32_max_grad
    assert fp8_ops.fm32 == fp8_ops.fp32_max_grad
    assert jnp.issubdtype(scale.dtype, fp8_ops.fp8_meta_dtype)

    def pullback(*args):
        return jax.vjp(used_twice, *args)[1](jnp.float32(1.0))

    dx, dscale, dhistory = jax.jit(pullback)(x, scale, history)
    assert dhistory.dtype == fp8_ops.fp32_max_grad

    def as_f32(v):
        return np.asarray(jax.lax.convert_element_type(v, jnp.float32))

    # max(4, 12) = 12 (a float32 history would get 4 + 12 = 16)
    assert_close(as_f32(dhistory), np.array([12.0, 0, 0], np.float32), family='exact')
    assert_close(as_f32(dscale), np.array([1.0], np.float32), family='exact')
    # straight through: d/dx [f(x) + f(3x)] = 1 + 3
    assert_close(np.asarray(dx), np.full((2, 2), 4.0, np.float32), family="exact")
    f32 = jax.grad(used_twice, argnums=2)(x, jnp.ones((1,)), jnp.zeros((3,)))
    assert_close(np.asarray(f32), np.array([16.0, 0, 0], np.float32), family='exact')
