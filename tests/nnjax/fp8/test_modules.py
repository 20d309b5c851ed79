"""fp8 dot-general modules in layers, and training them with TrainState."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnjax as nn
from nnjax import fp8_ops
from nnjax.training.train_state import TrainState
from shared_spec.frozen_dict import FrozenDict
from shared_spec.tolerances import assert_close
from tests.nnjax.fp8 import fp8_reference as ref

OWG = '_overwrite_with_gradient'
E4M3 = 'float8_e4m3fn'
META = (
    'input_amax_history',
    'input_scale',
    'kernel_amax_history',
    'kernel_scale',
    'output_grad_amax_history',
    'output_grad_scale',
)


def _f32(x):
    return np.asarray(x, np.float32)


def test_public_names():
    assert fp8_ops.OVERWRITE_WITH_GRADIENT == OWG
    assert nn.fp8_ops is fp8_ops
    assert nn.Fp8DotGeneral is nn.Fp8DirectDotGeneralOp
    for name in ('Fp8DotGeneralOp', 'Fp8DirectDotGeneralOp', 'Fp8Einsum', 'NANOOFp8DotGeneralOp'):
        assert getattr(nn, name) is getattr(fp8_ops, name)
        assert issubclass(getattr(nn, name), fp8_ops.Fp8DotGeneralBase)
    assert nn.NANOOFp8DotGeneralOp.e4m3_dtype == jnp.float8_e4m3fnuz
    assert nn.NANOOFp8DotGeneralOp.e5m2_dtype == jnp.float8_e5m2fnuz
    with pytest.warns(DeprecationWarning, match='Fp8DirectDotGeneralOp'):
        nn.Fp8DotGeneralOp()


def test_dense_variables_and_initial_values():
    model = nn.Dense(4, dot_general_cls=nn.Fp8DirectDotGeneralOp)
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((2, 3)))
    meta = variables[OWG]['Fp8DirectDotGeneralOp_0']
    assert sorted(meta) == sorted(META)
    for name, value in meta.items():
        assert value.dtype == jnp.float32
        if name.endswith('scale'):
            assert value.shape == (1,) and float(value[0]) == 1.0
        else:
            assert value.shape == (1024,) and not np.any(_f32(value))
    assert jax.tree_util.tree_map(jnp.shape, variables['params']) == {'kernel': (3, 4), 'bias': (4,)}


@pytest.mark.parametrize('cls', ['Fp8DirectDotGeneralOp', 'Fp8DotGeneralOp'])
def test_dense_forward_matches_numpy_and_float32_bound(cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        fp8 = nn.Dense(4, dot_general_cls=getattr(nn, cls))
        variables = fp8.init(jax.random.PRNGKey(1), x)
        y8 = _f32(fp8.apply(variables, x))
    kernel, bias = _f32(variables['params']['kernel']), _f32(variables['params']['bias'])
    # Fresh state: a zero history keeps scale 1.
    qx, qk = ref.qdq(x, E4M3, 1.0), ref.qdq(kernel, E4M3, 1.0)
    assert_close(y8, qx @ qk + bias, family='matmul')
    # Against the float32 layer: each operand is off by at most half an ulp
    # (relative u = 2**-4) or half the subnormal step (absolute a), so each
    # product term by at most |x||w|(2u + u^2) + a(|x| + |w|) + a^2.
    mbits, emin, _ = ref.FORMATS[E4M3]
    u, a = 2.0 ** -(mbits + 1), 2.0 ** (emin - mbits) / 2
    y32 = _f32(nn.Dense(4).apply({'params': variables['params']}, x))
    ax, ak = np.abs(x), np.abs(kernel)
    bound = (ax @ ak) * (2 * u + u * u) + a * (ax.sum(1, keepdims=True) + ak.sum(0)) + a * a * x.shape[1]
    assert np.all(np.abs(y8 - y32) <= bound * (1 + 1e-5) + 1e-6)


def test_fp8_einsum_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    w = (rng.normal(size=(4, 5)) * 0.3).astype(np.float32)
    op = nn.Fp8Einsum(amax_history_length=3)
    variables = op.init(jax.random.PRNGKey(0), 'bti,io->bto', x, w)
    y = op.apply(variables, 'bti,io->bto', x, w)
    want = np.einsum('bti,io->bto', ref.qdq(x, E4M3, 1.0), ref.qdq(w, E4M3, 1.0))
    assert_close(_f32(y), want, family='matmul')


def test_wrong_call_signature_is_a_type_error():
    op = nn.Fp8DirectDotGeneralOp()
    with pytest.raises(TypeError, match='called like lax.dot_general'):
        op.init(jax.random.PRNGKey(0), jnp.ones((2, 2)), jnp.ones((2, 2)))


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
@pytest.mark.parametrize('cls', ['Fp8DirectDotGeneralOp', 'Fp8DotGeneralOp'])
def test_jitted_training_overwrites_meta_and_lowers_the_loss(cls):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 6)).astype(np.float32)
    t = rng.normal(size=(8, 4)).astype(np.float32)
    op = functools.partial(getattr(nn, cls), amax_history_length=3)
    model = nn.Dense(4, dot_general_cls=op)
    variables = model.init(jax.random.PRNGKey(0), x)
    state = TrainState.create(apply_fn=model.apply, params=variables, tx=optax.adam(0.05))
    # The optimizer holds state for 'params' only.
    assert jax.tree_util.tree_structure(state.opt_state) == jax.tree_util.tree_structure(
        state.tx.init(variables['params'])
    )

    @jax.jit
    def step(state):
        def loss_fn(v):
            return jnp.mean((state.apply_fn(v, x) - t) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    kernels, losses, metas = [_f32(variables['params']['kernel'])], [], []
    for _ in range(6):
        state, loss = step(state)
        losses.append(float(loss))
        kernels.append(_f32(state.params['params']['kernel']))
        metas.append(jax.tree_util.tree_map(_f32, state.params[OWG][f'{cls}_0']))
    assert losses[-1] < losses[0]
    assert int(state.step) == 6
    # Step 1 records max|x| and max|kernel| at the front; scales stay 1
    # (the history was all zeros).
    first = metas[0]
    assert_close(first['input_amax_history'], ref.new_history(x, np.zeros(3)), family='exact')
    assert_close(first['kernel_amax_history'], ref.new_history(kernels[0], np.zeros(3)), family='exact')
    assert first['output_grad_amax_history'][0] > 0
    assert_close(first['input_scale'], np.ones(1, np.float32), family='exact')
    # Each later step: scale from the previous history, then record.
    for before, after, kernel in zip(metas, metas[1:], kernels[1:]):
        assert_close(
            after['input_scale'],
            np.array([ref.new_scale(before['input_amax_history'], 1.0, E4M3)]),
            family='elementwise',
        )
        assert_close(
            after['kernel_scale'],
            np.array([ref.new_scale(before['kernel_amax_history'], 1.0, E4M3)]),
            family='elementwise',
        )
        assert_close(
            after['kernel_amax_history'], ref.new_history(kernel, before['kernel_amax_history']), family='exact'
        )
        assert_close(
            after['output_grad_scale'],
            np.array([ref.new_scale(before['output_grad_amax_history'], 1.0, 'float8_e5m2')]),
            family='elementwise',
        )


def test_train_state_overwrite_rules():
    params = {'params': {'w': jnp.ones(2)}, OWG: {'s': jnp.ones(1)}}
    state = TrainState.create(apply_fn=None, params=params, tx=optax.sgd(0.5))
    grads = {'params': {'w': jnp.array([1.0, 2.0])}, OWG: {'s': jnp.array([7.0])}}
    new = state.apply_gradients(grads=grads)
    assert_close(_f32(new.params['params']['w']), np.array([0.5, 0.0], np.float32), family='exact')
    assert_close(_f32(new.params[OWG]['s']), np.array([7.0], np.float32), family='exact')
    frozen = TrainState.create(apply_fn=None, params=FrozenDict(params), tx=optax.sgd(0.5))
    assert isinstance(frozen.apply_gradients(grads=FrozenDict(grads)).params, FrozenDict)
    with pytest.raises(ValueError, match="batch_stats"):
        TrainState.create(apply_fn=None, tx=optax.sgd(0.5), params=dict(params, batch_stats={'m': jnp.ones(1)}))
