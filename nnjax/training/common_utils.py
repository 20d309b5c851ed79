"""``nnjax.training.common_utils``: small helpers for data-parallel training loops.

With ``jax.pmap`` every input carries a leading axis of length
``jax.local_device_count()``: :func:`shard` reshapes a host batch that way and
:func:`shard_prng_key` gives each device its own key. Metrics come back with
that axis too; :func:`get_metrics` takes one replica of each step's metrics
and :func:`stack_forest` stacks them over time. :func:`onehot` makes one-hot
label vectors.

>>> import numpy as np
>>> batch = {'image': np.zeros((8, 4)), 'label': np.arange(8)}
>>> {k: v.shape for k, v in shard(batch).items()}   # on one device
{'image': (1, 8, 4), 'label': (1, 8)}
>>> onehot(np.array([0, 2]), 3)
Array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['shard', 'shard_prng_key', 'stack_forest', 'get_metrics', 'onehot']


def shard(xs):
    """Reshape every array's leading axis ``B`` to ``(local_device_count, B // n)``.

    The result has the layout ``jax.pmap`` expects: entry ``i`` of the new
    leading axis goes to device ``i``. ``B`` must be divisible by the local
    device count (pad the batch first, or see
    ``nnjax.jax_utils.pad_shard_unpad``).

    Args:
      xs: a pytree of arrays sharing a batch axis 0.

    >>> import numpy as np, jax
    >>> shard(np.arange(6).reshape(3, 2)).shape == (jax.local_device_count(), 3, 2)
    True
    """
    n = jax.local_device_count()

    def reshape(path, x):
        shape = np.shape(x)
        if not shape or shape[0] % n:
            raise ValueError(
                f'shard: the array at {jax.tree_util.keystr(path) or "<root>"} '
                f'has shape {shape}; its leading (batch) axis must be divisible '
                f'by the local device count {n}. Pad or trim the batch first '
                '(nnjax.jax_utils.pad_shard_unpad pads automatically).'
            )
        new_shape = (n, shape[0] // n) + tuple(shape[1:])
        if not hasattr(x, 'reshape'):
            x = np.asarray(x)
        return x.reshape(new_shape)

    return jax.tree_util.tree_map_with_path(reshape, xs)


def shard_prng_key(prng_key):
    """Split ``prng_key`` into one key per local device (leading axis ``n``).

    Stochastic layers (e.g. Dropout) inside a ``pmap`` then draw different
    numbers on each device.

    >>> import jax
    >>> keys = shard_prng_key(jax.random.PRNGKey(0))
    >>> keys.shape == (jax.local_device_count(), 2)
    True
    """
    return jax.random.split(prng_key, num=jax.local_device_count())


def stack_forest(forest):
    """Stack a sequence of same-structured pytrees into one pytree, leafwise.

    Leaves become NumPy arrays with a new leading axis of length
    ``len(forest)`` (stacking happens on the host).

    Args:
      forest: a list or tuple of pytrees with the same structure and, leaf by
        leaf, the same shapes.

    >>> stack_forest([{'loss': 1.0, 'acc': 0.5}, {'loss': 0.5, 'acc': 0.75}])
    {'acc': array([0.5 , 0.75]), 'loss': array([1. , 0.5])}
    """
    forest = list(forest)
    if not forest:
        raise ValueError('stack_forest: got an empty sequence; there is nothing to stack.')
    treedef = jax.tree_util.tree_structure(forest[0])
    for i, tree in enumerate(forest[1:], start=1):
        other = jax.tree_util.tree_structure(tree)
        if other != treedef:
            raise ValueError(
                f'stack_forest: tree {i} has structure {other}, but tree 0 has '
                f'{treedef}; all trees must have the same structure.'
            )
    return jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *forest)


def get_metrics(device_metrics):
    """Per-step replicated metrics to host arrays stacked over steps.

    Args:
      device_metrics: a sequence (one entry per step) of metric pytrees whose
        leaves have a leading replica axis, as returned by a ``pmap``'d
        train step.

    Returns:
      One pytree of NumPy arrays: replica 0 of each leaf, stacked over steps.

    >>> import numpy as np
    >>> steps = [{'loss': np.array([1.0, 1.0])}, {'loss': np.array([0.5, 0.5])}]
    >>> get_metrics(steps)
    {'loss': array([1. , 0.5])}
    """
    first_replica = jax.tree_util.tree_map(lambda x: x[0], device_metrics)
    return stack_forest(jax.device_get(first_replica))


def onehot(labels, num_classes, on_value=1.0, off_value=0.0):
    """One-hot vectors of length ``num_classes`` along a new last axis (float32).

    Labels outside ``[0, num_classes)`` give all-``off_value`` rows.
    ``jax.nn.one_hot`` does the same with a choice of dtype.

    Args:
      labels: integer array of any shape.
      num_classes: length of the one-hot axis.
      on_value: value at the label's index.
      off_value: value everywhere else.

    >>> onehot([1, 5], 3, on_value=0.9, off_value=0.05)
    Array([[0.05, 0.9 , 0.05],
           [0.05, 0.05, 0.05]], dtype=float32)
    """
    labels = jnp.asarray(labels)
    hit = labels[..., None] == jnp.arange(num_classes)
    return jnp.where(hit, on_value, off_value).astype(jnp.float32)
