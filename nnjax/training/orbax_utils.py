"""``nnjax.training.orbax_utils``: Orbax save and restore arguments from a target tree.

The seed's checkpointing guides build Orbax's per-leaf arguments from an
example tree; these two functions do the same for any pytree nnjax makes
(dicts, ``TrainState``, ``struct`` dataclasses, boxed ``Partitioned``
parameters):

* :func:`save_args_from_target`: one ``orbax.checkpoint.SaveArgs`` per leaf;
* :func:`restore_args_from_target`: one ``orbax.checkpoint.RestoreArgs`` per
  leaf, saying how that leaf comes back. A ``jax.Array`` (or a
  ``jax.ShapeDtypeStruct`` with a ``sharding``) comes back as a ``jax.Array``
  with that sharding, read shard by shard on whatever mesh the target lives
  on, which need not be the mesh it was saved from; a NumPy array comes back
  as NumPy; anything else as Orbax restores it by default. With ``mesh``,
  ``jax.Array`` leaves are placed on ``mesh`` instead, with the partition
  spec of their own ``NamedSharding`` (or replicated).

>>> import numpy as np
>>> import jax
>>> target = {'w': jax.numpy.zeros((2, 3)), 'table': np.zeros(4), 'step': 0}
>>> args = restore_args_from_target(target)
>>> type(args['w']).__name__, args['w'].global_shape, args['table'].restore_type
('ArrayRestoreArgs', (2, 3), <class 'numpy.ndarray'>)
>>> sorted(save_args_from_target(target))
['step', 'table', 'w']
"""

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import NamedSharding, PartitionSpec

__all__ = ['save_args_from_target', 'restore_args_from_target']


def _is_leaf(x):
    # None is a leaf Orbax must see (an empty subtree to jax.tree_util).
    return x is None


def save_args_from_target(target):
    """An ``orbax.checkpoint.SaveArgs()`` for every leaf of ``target``.

    Args:
      target: the pytree to be saved.

    Returns:
      A tree of the same structure as ``target`` (``None`` leaves stay
      ``None``), to pass as Orbax's ``save_args``.
    """
    return jax.tree_util.tree_map(lambda x: None if x is None else ocp.SaveArgs(), target, is_leaf=_is_leaf)


def _leaf_restore_args(x, mesh):
    if x is None:
        return None
    sharding = getattr(x, 'sharding', None)
    if isinstance(x, (jax.Array, jax.ShapeDtypeStruct)) and (sharding is not None or mesh is not None):
        if mesh is not None:
            spec = sharding.spec if isinstance(sharding, NamedSharding) else PartitionSpec()
            sharding = NamedSharding(mesh, spec)
        return ocp.ArrayRestoreArgs(sharding=sharding, global_shape=tuple(x.shape), dtype=x.dtype)
    if isinstance(x, np.ndarray):
        return ocp.RestoreArgs(restore_type=np.ndarray, dtype=x.dtype)
    return ocp.RestoreArgs()


def restore_args_from_target(target, mesh=None):
    """An ``orbax.checkpoint.RestoreArgs`` for every leaf of ``target``.

    Args:
      target: a pytree whose leaves show how each value should come back:
        ``jax.Array`` or ``jax.ShapeDtypeStruct`` leaves give
        ``ArrayRestoreArgs`` with their sharding, shape and dtype (the
        values of the target are not read, so an abstract target from
        ``jax.eval_shape`` with shardings attached serves as well); NumPy
        leaves restore as NumPy arrays of their dtype.
      mesh: if given, ``jax.Array`` leaves are restored onto this mesh with
        the partition spec of their ``NamedSharding`` (replicated for other
        shardings).

    Returns:
      A tree of the same structure as ``target``, to pass as Orbax's
      ``restore_args``.
    """
    return jax.tree_util.tree_map(lambda x: _leaf_restore_args(x, mesh), target, is_leaf=_is_leaf)
