"""nnjax.training.train_state.TrainState: create, apply_gradients, jit, subclasses, checkpoints."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnjax as nn
from nnjax import serialization
from nnjax.training import checkpoints, train_state
from shared_spec.tolerances import assert_close, assert_trees_close

TrainState = train_state.TrainState


def _params():
    return {'w': jnp.array([1.0, -2.0, 0.5]), 'b': jnp.array(0.25)}


def test_create_starts_at_step_zero_with_initialized_optimizer():
    tx = optax.sgd(0.1, momentum=0.9)
    state = TrainState.create(apply_fn=jnp.dot, params=_params(), tx=tx)
    assert state.step == 0 and state.apply_fn is jnp.dot and state.tx is tx
    assert_trees_close(
        jax.tree_util.tree_leaves(state.opt_state), jax.tree_util.tree_leaves(tx.init(_params())), family='exact'
    )
    # Static fields are not leaves: only step, params and the momentum trace.
    assert len(jax.tree_util.tree_leaves(state)) == 1 + 2 + 2


def test_sgd_with_momentum_matches_the_hand_computed_update():
    lr, beta = 0.1, 0.9
    state = TrainState.create(apply_fn=None, params={'w': jnp.array([1.0, -2.0])}, tx=optax.sgd(lr, momentum=beta))
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    state = state.apply_gradients(grads={'w': jnp.asarray(g1, jnp.float32)})
    state = state.apply_gradients(grads={'w': jnp.asarray(g2, jnp.float32)})
    # Heavy-ball momentum: m1 = g1, p1 = p0 - lr*m1; m2 = beta*m1 + g2, p2 = p1 - lr*m2.
    p0 = np.array([1.0, -2.0])
    m1 = g1
    p1 = p0 - lr * m1
    m2 = beta * m1 + g2
    p2 = p1 - lr * m2  # [0.8, -2.19]
    assert int(state.step) == 2
    assert_close(state.params['w'], np.float32(p2), family='elementwise')


def test_apply_gradients_replaces_extra_fields_and_keeps_self():
    class EMAState(TrainState):
        ema: Any = None

    state = EMAState.create(apply_fn=None, params=_params(), tx=optax.sgd(1.0), ema=_params())
    grads = jax.tree_util.tree_map(jnp.ones_like, _params())
    new = state.apply_gradients(grads=grads, ema={'w': jnp.zeros(3), 'b': jnp.array(1.0)})
    assert float(new.ema['b']) == 1.0 and float(state.ema['b']) == 0.25
    assert state.step == 0 and new.step == 1
    assert_close(new.params['w'], np.float32([0.0, -3.0, -0.5]), family='elementwise')


def test_apply_gradients_under_jit_matches_eager():
    state = TrainState.create(apply_fn=None, params=_params(), tx=optax.adam(1e-2))
    grads = {'w': jnp.array([0.1, 0.2, -0.3]), 'b': jnp.array(1.0)}
    step = jax.jit(lambda s, g: s.apply_gradients(grads=g))
    jitted = step(step(state, grads), grads)
    eager = state.apply_gradients(grads=grads).apply_gradients(grads=grads)
    assert int(jitted.step) == 2
    assert_trees_close(jitted.params, eager.params, family='elementwise')
    assert jitted.tx is state.tx


def test_mismatched_grads_are_reported():
    state = TrainState.create(apply_fn=None, params=_params(), tx=optax.sgd(1.0))
    with pytest.raises(ValueError, match='same pytree structure as params'):
        state.apply_gradients(grads={'w': jnp.ones(3)})
    with pytest.raises(TypeError, match='GradientTransformation'):
        TrainState.create(apply_fn=None, params=_params(), tx=0.1)


class _BNModel(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(3)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        return nn.Dropout(0.5, deterministic=not train)(x)


class BNTrainState(TrainState):
    batch_stats: Any
    key: Any


def test_subclass_with_batch_stats_and_dropout_key_trains_under_jit():
    model = _BNModel()
    x = jnp.linspace(-1.0, 1.0, 8).reshape(4, 2)
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    state = BNTrainState.create(
        apply_fn=model.apply,
        params=variables['params'],
        tx=optax.sgd(0.1),
        batch_stats=variables['batch_stats'],
        key=jax.random.PRNGKey(1),
    )

    @jax.jit
    def train_step(state, x):
        dropout_key = jax.random.fold_in(state.key, state.step)

        def loss_fn(params):
            y, updates = state.apply_fn(
                {'params': params, 'batch_stats': state.batch_stats},
                x,
                train=True,
                rngs={'dropout': dropout_key},
                mutable=['batch_stats'],
            )
            return jnp.mean(y**2), updates

        grads, updates = jax.grad(loss_fn, has_aux=True)(state.params)
        return state.apply_gradients(grads=grads, batch_stats=updates['batch_stats'])

    new = train_step(state, x)
    assert int(new.step) == 1 and isinstance(new, BNTrainState)
    # BatchNorm's running mean moved halfway (momentum 0.5) towards the batch mean.
    dense = state.params['Dense_0']
    h = np.asarray(x) @ np.asarray(dense['kernel']) + np.asarray(dense['bias'])
    assert_close(new.batch_stats['BatchNorm_0']['mean'], 0.5 * jnp.mean(h, axis=0), family='reduction')
    assert not np.allclose(new.params['Dense_0']['kernel'], state.params['Dense_0']['kernel'])


def test_state_serializes_and_checkpoints(tmp_path):
    def make():
        return TrainState.create(apply_fn=None, params=_params(), tx=optax.adam(1e-2))

    state = make()
    grads = {'w': jnp.array([0.1, 0.2, -0.3]), 'b': jnp.array(1.0)}
    state = state.apply_gradients(grads=grads).apply_gradients(grads=grads)

    state_dict = serialization.to_state_dict(state)
    assert sorted(state_dict) == ['opt_state', 'params', 'step']
    fresh = make()
    from_bytes = serialization.from_bytes(fresh, serialization.to_bytes(state))
    checkpoints.save_checkpoint(tmp_path, state, step=int(state.step))
    restored = checkpoints.restore_checkpoint(tmp_path, fresh)
    for other in (from_bytes, restored):
        assert type(other) is TrainState and other.tx is fresh.tx
        assert int(other.step) == 2
        assert_trees_close(
            jax.tree_util.tree_leaves(other.params), jax.tree_util.tree_leaves(state.params), family='exact'
        )
        assert_trees_close(
            jax.tree_util.tree_leaves(other.opt_state), jax.tree_util.tree_leaves(state.opt_state), family='exact'
        )
        assert jax.tree_util.tree_structure(other.opt_state) == jax.tree_util.tree_structure(state.opt_state)
    # The restored state trains on.
    assert int(restored.apply_gradients(grads=grads).step) == 3
