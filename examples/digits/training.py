"""Train state, jitted steps and the checkpointed run state of the digits example."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nnjax.training import train_state

METRICS = ('train_loss', 'train_accuracy', 'test_loss', 'test_accuracy')


class TrainState(train_state.TrainState):
    """TrainState plus the BatchNorm statistics and the dropout key (as the seed guides do)."""

    batch_stats: Any
    key: jax.Array


def create_state(model, rng, sample_images, learning_rate: float) -> TrainState:
    """Initialize the model's variables and an Adam optimizer around them."""
    params_rng, dropout_rng = jax.random.split(rng)
    variables = jax.jit(lambda k, x: model.init(k, x, train=False))(params_rng, sample_images)
    return TrainState.create(
        apply_fn=model.apply,
        params=variables['params'],
        batch_stats=variables['batch_stats'],
        key=dropout_rng,
        tx=optax.adam(learning_rate),
    )


def _loss_and_accuracy(logits, labels):
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == labels)


@jax.jit
def train_step(state: TrainState, images, labels):
    """One Adam step with dropout on and BatchNorm collecting batch statistics."""
    dropout_key = jax.random.fold_in(state.key, state.step)  # a fresh key per step, resumable

    def loss_fn(params):
        logits, updates = state.apply_fn(
            {'params': params, 'batch_stats': state.batch_stats},
            images,
            train=True,
            rngs={'dropout': dropout_key},
            mutable=['batch_stats'],
        )
        loss, accuracy = _loss_and_accuracy(logits, labels)
        return loss, (accuracy, updates['batch_stats'])

    (loss, (accuracy, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), loss, accuracy


@jax.jit
def eval_step(state: TrainState, images, labels):
    """Logits, loss and accuracy with the running BatchNorm averages and no dropout."""
    logits = state.apply_fn({'params': state.params, 'batch_stats': state.batch_stats}, images, train=False)
    loss, accuracy = _loss_and_accuracy(logits, labels)
    return logits, loss, accuracy


def run_state(state: TrainState, epochs: int) -> dict:
    """What a checkpoint holds: the train state, finished epochs and the metric curves.

    The curves are fixed-length arrays (NaN until an epoch is done), so the
    checkpoint's structure does not change from one epoch to the next and a
    fresh run state is a valid restore target.
    """
    return {'state': state, 'epoch': 0, 'history': {name: np.full(epochs, np.nan, np.float32) for name in METRICS}}
