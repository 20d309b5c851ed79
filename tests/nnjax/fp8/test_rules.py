"""The custom differentiation rules of nn.fp8_ops, against NumPy and lax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from nnjax import fp8_ops
from shared_spec.tolerances import assert_close
from tests.nnjax.fp8 import fp8_reference as ref

E4M3, E5M2 = 'float8_e4m3fn', 'float8_e5m2'


def _f32(x):
    return np.asarray(x, np.float32)


def test_in_qdq_is_straight_through_and_returns_new_meta():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 5)) * 30).astype(np.float32)
    cot = rng.normal(size=(3, 5)).astype(np.float32)
    scale, history = np.float32(0.5), np.array([0.0, 112.0], np.float32)

    def loss(x, s, h):
        return jnp.sum(cot * fp8_ops.in_qdq(jnp.float32, jnp.float8_e4m3fn, x, s, h))

    value, (dx, ds, dh) = jax.value_and_grad(loss, argnums=(0, 1, 2))(
        jnp.asarray(x), jnp.array([scale]), jnp.asarray(history)
    )
    s_new = ref.new_scale(history, scale, E4M3)  # 112 / 448 = 0.25
    assert_close(_f32(dx), cot, family='exact')  # rounding ignored
    assert_close(_f32(ds), np.array([s_new]), family='elementwise')
    assert_close(_f32(dh), ref.new_history(x, history), family='exact')
    assert_close(_f32(value), np.sum(cot * ref.qdq(x, E4M3, s_new)), family='reduction')


def test_out_qdq_is_identity_forward_and_rounds_the_gradient():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(4, 2)).astype(np.float32)
    cot = (rng.normal(size=(4, 2)) * 1e-3).astype(np.float32)
    scale, history = np.float32(1.0), np.array([2e-3, 0.0, 0.0], np.float32)

    def f(y, s, h):
        return fp8_ops.out_qdq(jnp.float32, jnp.float8_e5m2, y, s, h)

    out, pullback = jax.vjp(f, jnp.asarray(y), jnp.array([scale]), jnp.asarray(history))
    assert_close(_f32(out), y, family='exact')
    dy, ds, dh = pullback(jnp.asarray(cot))
    s_new = ref.new_scale(history, scale, E5M2)
    assert_close(_f32(ds), np.array([s_new]), family='elementwise')
    assert_close(_f32(dh), ref.new_history(cot, history), family='exact')
    assert_close(_f32(dy), ref.qdq(cot, E5M2, _f32(ds)[0]), family='exact')


def test_fp8_scaled_dot_general_matches_numpy_forward_and_backward():
    rng = np.random.default_rng(2)
    lhs = rng.normal(size=(3, 4)).astype(np.float32)
    rhs = (rng.normal(size=(4, 2)) * 0.1).astype(np.float32)
    cot = (rng.normal(size=(3, 2)) * 0.01).astype(np.float32)
    scales = [np.float32(v) for v in (1.0, 0.5, 1.0)]
    hist = [np.array(v, np.float32) for v in ([3.0, 0.0], [0.5, 0.25], [0.05, 0.0])]
    dn = (((1,), (0,)), ((), ()))

    def loss(lhs, rhs, ls, rs, gs, lh, rh, gh):
        y = fp8_ops.fp8_scaled_dot_general(
            lhs,
            rhs,
            dn,
            preferred_element_type=jnp.float32,
            lhs_scale=ls,
            rhs_scale=rs,
            grad_scale=gs,
            lhs_amax_history=lh,
            rhs_amax_history=rh,
            grad_amax_history=gh,
        )
        return jnp.sum(y * cot), y

    args = [jnp.asarray(lhs), jnp.asarray(rhs)] + [jnp.array([s]) for s in scales] + [jnp.asarray(h) for h in hist]
    grads, y = jax.jit(jax.grad(loss, argnums=tuple(range(8)), has_aux=True))(*args)

    sl = ref.new_scale(hist[0], scales[0], E4M3)
    sr = ref.new_scale(hist[1], scales[1], E4M3)
    sg = ref.new_scale(hist[2], scales[2], E5M2)
    ql, qr = ref.quantize(lhs, E4M3, sl), ref.quantize(rhs, E4M3, sr)
    qg = ref.quantize(cot, E5M2, sg)
    assert_close(_f32(y), _f32(ql @ qr) * (sl * sr), family='matmul')
    want = [
        _f32(qg @ qr.T) * (sr * sg),
        _f32(ql.T @ qg) * (sl * sg),
        [sl],
        [sr],
        [sg],
        ref.new_history(lhs, hist[0]),
        ref.new_history(rhs, hist[1]),
        ref.new_history(cot, hist[2]),
    ]
    for got, expected in zip(grads, want):
        assert_close(_f32(got), _f32(expected), family='matmul')


@pytest.mark.parametrize(
    'dn, lshape, rshape',
    [
        ((((1,), (0,)), ((), ())), (3, 4), (4, 5)),
        ((((2,), (1,)), ((0,), (0,))), (2, 3, 4), (2, 4, 5)),
        ((((0, 2), (3, 1)), ((1,), (0,))), (4, 2, 6, 3), (2, 6, 5, 4)),
    ],
)
def test_dot_general_transposes_match_lax_vjp(dn, lshape, rshape):
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=lshape), jnp.float32)
    y = jnp.asarray(rng.normal(size=rshape), jnp.float32)
    out, pullback = jax.vjp(lambda a, b: lax.dot_general(a, b, dn, precision=lax.Precision.HIGHEST), x, y)
    g = jnp.asarray(rng.normal(size=out.shape), jnp.float32)
    want_x, want_y = pullback(g)
    kw = dict(dimension_numbers=dn, precision=lax.Precision.HIGHEST)
    assert_close(_f32(fp8_ops.dot_general_transpose_lhs(g, x, y, **kw)), _f32(want_x), family='matmul')
    assert_close(_f32(fp8_ops.dot_general_transpose_rhs(g, x, y, **kw)), _f32(want_y), family='matmul')


def test_dot_general_with_precision_value_and_derivatives():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(2, 3)).astype(np.float32)
    b = rng.normal(size=(3, 4)).astype(np.float32)
    dn = (((1,), (0,)), ((), ()))

    def f(a, b):
        return jnp.sum(jnp.sin(fp8_ops.dot_general_with_precision(a, b, dn)))

    da, db = jax.grad(f, argnums=(0, 1))(jnp.asarray(a), jnp.asarray(b))
    c = np.cos(a @ b)
    assert_close(_f32(da), c @ b.T, family='matmul')
    assert_close(_f32(db), a.T @ c, family='matmul')
    with pytest.warns(UserWarning, match='precision'):
        fp8_ops.dot_general_with_precision(a, b, dn, lax.Precision.HIGHEST)


def test_fp8_scaled_dot_general_needs_its_scales():
    with pytest.raises(TypeError, match='missing grad_amax_history, grad_scale'):
        s, h = jnp.ones((1,)), jnp.zeros((2,))
        fp8_ops.fp8_scaled_dot_general(
            jnp.ones((2, 2)),
            jnp.ones((2, 2)),
            (((1,), (0,)), ((), ())),
            lhs_scale=s,
            rhs_scale=s,
            lhs_amax_history=h,
            rhs_amax_history=h,
        )


def test_fp8_scaled_dot_general_warns_on_precision():
    s, h = jnp.ones((1,)), jnp.zeros((2,))
    with pytest.warns(UserWarning, match='precision'):
        fp8_ops.fp8_scaled_dot_general(
            jnp.ones((2, 2)),
            jnp.ones((2, 2)),
            (((1,), (0,)), ((), ())),
            lax.Precision.HIGHEST,
            jnp.float32,
            lhs_scale=s,
            rhs_scale=s,
            grad_scale=s,
            lhs_amax_history=h,
            rhs_amax_history=h,
            grad_amax_history=h,
        )
