"""``nnjax.training.lr_schedule``: the seed's epoch-based learning-rate schedules.

Each ``create_*`` function returns ``f(step) -> learning rate``, a pure
function of the (global) step that works on Python numbers and on traced
integers inside ``jax.jit``, and always returns a float32 JAX scalar. Such a
function can be passed straight to an Optax optimizer as its learning rate.

Schedules are written in *epochs*; ``steps_per_epoch`` converts, so epoch
``e`` begins at step ``e * steps_per_epoch`` (fractional epochs allowed).

Optional warmup (Goyal et al., 2017, https://arxiv.org/abs/1706.02677): with
``warmup_length = w > 0`` epochs, the schedule's value is multiplied by
``min(1, step / w / steps_per_epoch)``, a factor that ramps linearly from 0
at step 0 to 1 at the end of epoch ``w``.

The formulas, including where a step boundary falls and what happens after
the cosine's half wave, are the seed system's, so both give the same numbers.
They exist for compatibility: as in the seed system, new code should prefer
Optax's own schedules (``optax.warmup_cosine_decay_schedule``, ...).

>>> lr = create_constant_learning_rate_schedule(0.1, steps_per_epoch=100,
...                                             warmup_length=2)
>>> [round(float(lr(s)), 4) for s in (0, 50, 200, 1000)]
[0.0, 0.025, 0.1, 0.1]
"""

import jax.numpy as jnp
import numpy as np

__all__ = [
    'create_constant_learning_rate_schedule',
    'create_stepped_learning_rate_schedule',
    'create_cosine_learning_rate_schedule',
]


def _check_positive(name, value):
    if not value > 0:
        raise ValueError(f'{name} must be > 0, got {value!r}.')


def _warmup_factor(step, steps_per_epoch, warmup_length):
    """``min(1, step / warmup_length / steps_per_epoch)``, or 1 without warmup."""
    if warmup_length <= 0:
        return jnp.float32(1.0)
    return jnp.minimum(jnp.float32(1.0), step / float(warmup_length) / float(steps_per_epoch))


def _as_step(step):
    return jnp.asarray(step, dtype=jnp.float32)


def create_constant_learning_rate_schedule(base_learning_rate, steps_per_epoch, warmup_length=0.0):
    """A constant learning rate, with optional linear warmup.

    ``lr(step) = base_learning_rate * warmup(step)``, where ``warmup`` is 1
    without warmup (see the module docstring for its formula).

    Args:
      base_learning_rate: the learning rate after warmup.
      steps_per_epoch: optimizer steps per epoch.
      warmup_length: epochs of linear warmup from 0 (0 for none).

    Returns:
      ``f(step) -> lr`` (float32 scalar).

    >>> lr = create_constant_learning_rate_schedule(0.5, steps_per_epoch=10)
    >>> lr(0), lr(1000)
    (Array(0.5, dtype=float32), Array(0.5, dtype=float32))
    """
    _check_positive('steps_per_epoch', steps_per_epoch)
    base = float(base_learning_rate)

    def learning_rate_fn(step):
        step = _as_step(step)
        return jnp.float32(base) * _warmup_factor(step, steps_per_epoch, warmup_length)

    return learning_rate_fn


def create_stepped_learning_rate_schedule(base_learning_rate, steps_per_epoch, lr_sched_steps, warmup_length=0.0):
    """A piecewise-constant learning rate set by epoch, with optional warmup.

    ``lr_sched_steps`` is a list of ``[epoch, lr_factor]`` pairs. Each pair's
    boundary is the step ``round(epoch * steps_per_epoch)`` (NumPy rounding,
    half to even); at steps *after* the boundary the rate is
    ``base_learning_rate * lr_factor`` (factors are absolute, not
    cumulative), until the next pair takes over. Up to and including the
    first boundary it is ``base_learning_rate``. This is the seed system's
    rule: the boundary step itself still uses the previous rate. Pairs are
    taken in order of epoch. The warmup factor multiplies the result.

    The common ImageNet schedule, dividing by 10 at epochs 30, 60 and 80, is
    ``[[30, 0.1], [60, 0.01], [80, 0.001]]``.

    Args:
      base_learning_rate: the rate before the first pair's epoch.
      steps_per_epoch: optimizer steps per epoch.
      lr_sched_steps: the ``[epoch, lr_factor]`` pairs.
      warmup_length: epochs of linear warmup from 0 (0 for none).

    Returns:
      ``f(step) -> lr`` (float32 scalar).

    >>> lr = create_stepped_learning_rate_schedule(
    ...     1.0, steps_per_epoch=10, lr_sched_steps=[[1, 0.1], [2, 0.01]])
    >>> [round(float(lr(s)), 4) for s in (0, 10, 11, 20, 21, 100)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    _check_positive('steps_per_epoch', steps_per_epoch)
    pairs = []
    for pair in lr_sched_steps:
        try:
            epoch, factor = pair
        except (TypeError, ValueError):
            raise ValueError(
                'lr_sched_steps must be a list of [epoch, lr_factor] pairs, '
                f'e.g. [[30, 0.1], [60, 0.01]]; got the entry {pair!r}.'
            ) from None
        pairs.append((float(epoch), float(factor)))
    pairs.sort(key=lambda p: p[0])
    boundaries = np.round(np.array([e for e, _ in pairs], dtype=np.float64) * steps_per_epoch).astype(np.int64)
    # The rate in force after 0, 1, 2, ... boundaries, rounded once to
    # float32 from the exact (float64) product.
    rates = (np.array([1.0] + [f for _, f in pairs], dtype=np.float64) * float(base_learning_rate)).astype(np.float32)

    def learning_rate_fn(step):
        step = _as_step(step)
        passed = jnp.sum(jnp.asarray(boundaries, jnp.float32) < step)
        return jnp.asarray(rates)[passed] * _warmup_factor(step, steps_per_epoch, warmup_length)

    return learning_rate_fn


def create_cosine_learning_rate_schedule(base_learning_rate, steps_per_epoch, halfcos_epochs, warmup_length=0.0):
    """Half a cosine wave from ``base_learning_rate`` down to 0, with optional warmup.

    ``lr(step) = base_learning_rate * (cos(pi * step / H) / 2 + 1 / 2)``
    with ``H = halfcos_epochs * steps_per_epoch``: the rate falls from the
    base value at step 0 to 0 at step ``H`` (``halfcos_epochs`` is normally
    the length of training). As in the seed system the wave is not clamped:
    past ``H`` it rises again, so train for at most ``halfcos_epochs``
    epochs (or use ``optax.cosine_decay_schedule``, which stays at its final
    value). The warmup factor multiplies the result.

    Args:
      base_learning_rate: the rate at step 0 (before warmup scaling).
      steps_per_epoch: optimizer steps per epoch.
      halfcos_epochs: epochs the half wave lasts.
      warmup_length: epochs of linear warmup from 0 (0 for none).

    Returns:
      ``f(step) -> lr`` (float32 scalar).

    >>> lr = create_cosine_learning_rate_schedule(1.0, steps_per_epoch=10,
    ...                                           halfcos_epochs=2)
    >>> [round(float(lr(s)), 4) for s in (0, 10, 20)]
    [1.0, 0.5, 0.0]
    """
    _check_positive('steps_per_epoch', steps_per_epoch)
    _check_positive('halfcos_epochs', halfcos_epochs)
    halfwave_steps = float(halfcos_epochs) * float(steps_per_epoch)
    base = float(base_learning_rate)

    def learning_rate_fn(step):
        step = _as_step(step)
        scale = jnp.cos(step * np.pi / halfwave_steps) * 0.5 + 0.5
        return base * scale * _warmup_factor(step, steps_per_epoch, warmup_length)

    return learning_rate_fn
