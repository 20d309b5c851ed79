"""nnjax.training.common_utils: shard, shard_prng_key, stack_forest, get_metrics, onehot."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax.training import common_utils


def test_onehot_values_shape_and_dtype():
    out = common_utils.onehot(jnp.array([[0, 2], [1, 7]]), 3)
    assert out.shape == (2, 2, 3) and out.dtype == jnp.float32
    np.testing.assert_array_equal(out, np.float32([[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]]))
    smooth = common_utils.onehot(np.array([1]), 2, on_value=0.75, off_value=0.25)
    np.testing.assert_array_equal(smooth, np.float32([[0.25, 0.75]]))
    np.testing.assert_array_equal(common_utils.onehot(np.array([0, 1]), 2), jax.nn.one_hot(np.array([0, 1]), 2))


def test_shard_reshapes_the_leading_axis_per_device():
    n = jax.local_device_count()
    batch = {'x': np.arange(n * 6, dtype=np.float32).reshape(n * 3, 2), 'y': np.arange(n * 3)}
    sharded = common_utils.shard(batch)
    assert sharded['x'].shape == (n, 3, 2) and sharded['y'].shape == (n, 3)
    assert isinstance(sharded['x'], np.ndarray)  # stays on the host
    np.testing.assert_array_equal(sharded['x'].reshape(n * 3, 2), batch['x'])


def test_shard_rejects_scalars_and_indivisible_batches():
    with pytest.raises(ValueError, match=r"\['s'\].*leading \(batch\) axis"):
        common_utils.shard({'s': np.float32(1.0)})
    if jax.local_device_count() > 1:
        with pytest.raises(ValueError, match='divisible'):
            common_utils.shard(np.ones(jax.local_device_count() + 1))


def test_shard_prng_key_splits_one_key_per_device():
    key = jax.random.PRNGKey(3)
    keys = common_utils.shard_prng_key(key)
    np.testing.assert_array_equal(keys, jax.random.split(key, jax.local_device_count()))


def test_stack_forest_stacks_leafwise():
    forest = [{'a': np.array([1, 2]), 'b': (3.0,)}, {'a': np.array([4, 5]), 'b': (6.0,)}]
    stacked = common_utils.stack_forest(forest)
    np.testing.assert_array_equal(stacked['a'], np.array([[1, 2], [4, 5]]))
    np.testing.assert_array_equal(stacked['b'][0], np.array([3.0, 6.0]))
    with pytest.raises(ValueError, match='same structure'):
        common_utils.stack_forest([{'a': 1}, {'b': 1}])
    with pytest.raises(ValueError, match='empty'):
        common_utils.stack_forest([])


def test_get_metrics_takes_replica_zero_and_stacks_over_steps():
    device_metrics = [
        {'loss': jnp.array([0.5, 0.5]), 'acc': jnp.array([1, 1])},
        {'loss': jnp.array([0.25, 0.25]), 'acc': jnp.array([2, 2])},
        {'loss': jnp.array([0.125, 0.125]), 'acc': jnp.array([3, 3])},
    ]
    metrics = common_utils.get_metrics(device_metrics)
    assert isinstance(metrics['loss'], np.ndarray)
    np.testing.assert_array_equal(metrics['loss'], np.float32([0.5, 0.25, 0.125]))
    np.testing.assert_array_equal(metrics['acc'], np.int32([1, 2, 3]))
