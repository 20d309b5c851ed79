"""nnjax.training.lr_schedule: the three schedules against hand-computed values.

Expected values are worked out below from the documented formulas:
warmup factor min(1, step / warmup_epochs / steps_per_epoch); stepped
factors apply after the step round(epoch * steps_per_epoch); cosine is
base * (cos(pi * step / (halfcos_epochs * steps_per_epoch)) / 2 + 1/2).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax.training import lr_schedule
from shared_spec.tolerances import assert_close


def _check(fn, expected):
    steps = np.array(sorted(expected), dtype=np.int32)
    want = np.float32([expected[int(s)] for s in steps])
    eager = np.float32([fn(int(s)) for s in steps])
    jitted = np.asarray(jax.jit(jax.vmap(fn))(jnp.asarray(steps)))
    assert jitted.dtype == np.float32
    # 'transcendental': the cosine and the warmup division round in float32.
    assert_close(eager, want, family='transcendental')
    assert_close(jitted, want, family='transcendental')


def test_constant_without_and_with_warmup():
    _check(lr_schedule.create_constant_learning_rate_schedule(0.3, 10), {0: 0.3, 7: 0.3, 1000: 0.3})
    # 2 warmup epochs of 10 steps: factor step / 20.
    _check(
        lr_schedule.create_constant_learning_rate_schedule(0.3, 10, warmup_length=2),
        {0: 0.0, 5: 0.3 * 5 / 20, 10: 0.15, 19: 0.3 * 19 / 20, 20: 0.3, 50: 0.3},
    )


def test_stepped_factors_are_absolute_and_start_after_the_boundary():
    # Epochs 3 and 5 of 4 steps: boundaries at steps 12 and 20.
    fn = lr_schedule.create_stepped_learning_rate_schedule(2.0, 4, [[3, 0.1], [5, 0.01]])
    _check(fn, {0: 2.0, 12: 2.0, 13: 0.2, 20: 0.2, 21: 0.02, 400: 0.02})


def test_stepped_with_fractional_epochs_unsorted_pairs_and_warmup():
    # Epoch 1.5 * 3 steps = 4.5 -> round half to even -> boundary 4;
    # epoch 3 -> boundary 9. Warmup over 1 epoch = 3 steps.
    fn = lr_schedule.create_stepped_learning_rate_schedule(1.0, 3, [[3, 0.25], [1.5, 0.5]], warmup_length=1)
    _check(fn, {0: 0.0, 1: 1 / 3, 2: 2 / 3, 3: 1.0, 4: 1.0, 5: 0.5, 9: 0.5, 10: 0.25})


def test_cosine_half_wave_and_warmup():
    # halfcos 4 epochs of 5 steps: H = 20.
    fn = lr_schedule.create_cosine_learning_rate_schedule(0.8, 5, 4)
    _check(
        fn,
        {
            0: 0.8,
            5: 0.8 * (math.cos(math.pi / 4) / 2 + 0.5),
            10: 0.4,
            15: 0.8 * (math.cos(3 * math.pi / 4) / 2 + 0.5),
            20: 0.0,
            # Not clamped, as in the seed system: the wave rises again.
            30: 0.4,
        },
    )
    warm = lr_schedule.create_cosine_learning_rate_schedule(0.8, 5, 4, warmup_length=2)
    _check(warm, {0: 0.0, 5: 0.8 * (math.cos(math.pi / 4) / 2 + 0.5) * 0.5, 10: 0.4})


def test_schedules_feed_optax():
    import optax

    tx = optax.sgd(lr_schedule.create_constant_learning_rate_schedule(1.0, 1, warmup_length=2))
    params = jnp.zeros(())
    state = tx.init(params)
    updates, state = tx.update(jnp.ones(()), state)  # lr(0) = 0
    assert float(updates) == 0.0
    updates, state = tx.update(jnp.ones(()), state)  # lr(1) = 1/2
    assert float(updates) == -0.5


@pytest.mark.parametrize(
    'make',
    [
        lambda: lr_schedule.create_constant_learning_rate_schedule(1.0, 0),
        lambda: lr_schedule.create_cosine_learning_rate_schedule(1.0, 10, 0),
        lambda: lr_schedule.create_stepped_learning_rate_schedule(1.0, 10, [30, 0.1]),
    ],
)
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()
