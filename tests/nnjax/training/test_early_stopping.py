"""nnjax.training.early_stopping.EarlyStopping: improvement, patience, reset."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest

from nnjax import serialization
from nnjax.training.early_stopping import EarlyStopping


def _run(stopper, metrics):
    """(has_improved, patience_count, should_stop) after each update."""
    trace = []
    for metric in metrics:
        improved, stopper = stopper.update(metric)
        assert improved == stopper.has_improved
        trace.append((improved, stopper.patience_count, stopper.should_stop))
    return stopper, trace


def test_defaults():
    stopper = EarlyStopping()
    assert (
        stopper.min_delta,
        stopper.patience,
        stopper.best_metric,
        stopper.patience_count,
        stopper.should_stop,
        stopper.has_improved,
    ) == (0, 0, float('inf'), 0, False, False)


def test_first_update_always_improves():
    improved, stopper = EarlyStopping(min_delta=10.0).update(5.0)
    assert improved and stopper.best_metric == 5.0


def test_patience_counts_updates_without_improvement():
    stopper, trace = _run(EarlyStopping(min_delta=0.1, patience=2), [1.0, 0.8, 0.75, 0.72, 0.71, 0.5])
    # 0.8 improves by 0.2 > 0.1; 0.75, 0.72 and 0.71 are within 0.1 of 0.8.
    assert trace == [
        (True, 0, False),
        (True, 0, False),
        (False, 1, False),
        (False, 2, False),
        (False, 3, True),
        (True, 0, True),
    ]
    # should_stop is sticky; best_metric followed the improvements.
    assert stopper.best_metric == 0.5


def test_patience_zero_stops_at_the_first_miss_and_worse_values_miss():
    _, trace = _run(EarlyStopping(patience=0), [1.0, 1.0])
    assert trace == [(True, 0, False), (False, 1, True)]
    _, trace = _run(EarlyStopping(patience=1), [1.0, 2.0, 0.9])
    assert trace == [(True, 0, False), (False, 1, False), (True, 0, False)]


def test_improvement_must_exceed_min_delta_strictly():
    _, trace = _run(EarlyStopping(min_delta=0.5, patience=5), [2.0, 1.5, 1.0])
    assert [t[0] for t in trace] == [True, False, True]


def test_reset_keeps_the_configuration():
    stopper, _ = _run(EarlyStopping(min_delta=0.1, patience=0), [1.0, 1.0])
    assert stopper.should_stop
    fresh = stopper.reset()
    assert (fresh.min_delta, fresh.patience) == (0.1, 0)
    assert (fresh.best_metric, fresh.patience_count, fresh.should_stop, fresh.has_improved) == (
        float('inf'),
        0,
        False,
        False,
    )


def test_array_metrics_pytree_and_state_dict():
    improved, stopper = EarlyStopping().update(jnp.float32(0.5))
    improved, stopper = stopper.update(jnp.float32(0.25))
    assert improved and float(stopper.best_metric) == 0.25
    assert len(jax.tree_util.tree_leaves(stopper)) == 6
    state = serialization.to_state_dict(stopper)
    assert sorted(state) == ['best_metric', 'has_improved', 'min_delta', 'patience', 'patience_count', 'should_stop']
    restored = serialization.from_bytes(EarlyStopping(), serialization.to_bytes(stopper))
    assert float(restored.best_metric) == 0.25 and restored.has_improved


def test_is_immutable():
    stopper = EarlyStopping()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stopper.patience = 3
