"""Checkpoints as Orbax directories: the sharded, multi-process and asynchronous path.

``nnjax.training.checkpoints`` writes a checkpoint through Orbax when asked
(``orbax_checkpointer=...`` or the ``nnjax_use_orbax_checkpointing`` flag)
and whenever a multi-process save holds arrays that no single process can
see whole. This module is that path; the public functions live in
``checkpoints``.

* **Layout.** ``{ckpt_dir}/{prefix}{step}`` is a directory written by an
  Orbax ``Checkpointer`` with its ``PyTreeCheckpointHandler``: the target's
  state dict (``nnjax.serialization.to_state_dict``), arrays in tensorstore
  (OCDBT), one ``ocdbt.process_<i>`` subtree per process. Each process
  writes only the shards it holds (those with ``replica_id == 0``); nothing
  is gathered to one host.
* **Atomicity.** Orbax writes into a temporary directory
  (``{prefix}{step}.orbax-checkpoint-tmp-<n>``) and renames it into place
  once every process has finished, so a directory under the final name is
  complete. The temporary name is not ``{prefix}{number}``, so
  ``latest_checkpoint`` never picks it up.
* **Resharding.** A restore reads each array shard by shard into the
  sharding of the target's leaf, on any mesh in any number of processes:
  Orbax reads just the slices each device needs.

>>> import tempfile, numpy as np
>>> with tempfile.TemporaryDirectory() as d:
...     path = os.path.join(d, 'checkpoint_1')
...     save(path, {'w': np.arange(3.0), 'step': 1}, None, overwrite=False)
...     is_orbax_checkpoint(path), restore(path, None, None, None)
(True, {'step': 1, 'w': array([0., 1., 2.])})
"""

import dataclasses
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from nnjax import serialization
from nnjax.training.checkpoint_reading import first_mismatch, log_reshaped, rebuild
from nnjax.training.orbax_utils import restore_args_from_target, save_args_from_target
from shared_spec.errors import CheckpointMismatchError, CorruptCheckpointError

# Files Orbax writes at the top of every checkpoint directory (one of them
# at least, across its versions).
_MARKERS = ('_CHECKPOINT_METADATA', '_METADATA', 'commit_success.txt', 'checkpoint')


def is_orbax_checkpoint(path):
    """Whether ``path`` is a directory written by Orbax."""
    return os.path.isdir(path) and any(os.path.exists(os.path.join(path, m)) for m in _MARKERS)


def is_async(checkpointer):
    return isinstance(checkpointer, ocp.AsyncCheckpointer)


def wait(checkpointer):
    """Wait for ``checkpointer``'s save in flight, if it is asynchronous."""
    if is_async(checkpointer):
        checkpointer.wait_until_finished()


def save(path, state, checkpointer, overwrite):
    """Write ``state`` (a state dict) as the Orbax checkpoint directory ``path``.

    With an ``AsyncCheckpointer`` this returns once the arrays are copied
    off the devices, while the files are written in the background.
    """
    checkpointer = checkpointer or ocp.PyTreeCheckpointer()
    wait(checkpointer)
    checkpointer.save(os.path.abspath(path), state, save_args=save_args_from_target(state), force=overwrite)


def _metadata_tree(path):
    """The tree of per-leaf metadata (shape, dtype) stored in checkpoint ``path``."""
    try:
        md = ocp.PyTreeCheckpointer().metadata(os.path.abspath(path))
    except Exception as e:  # noqa: BLE001 - any failure to read means damage
        raise CorruptCheckpointError(path, f'Orbax cannot read its metadata ({type(e).__name__}: {e})') from e
    md = getattr(md, 'item_metadata', md)  # a StepMetadata in newer Orbax
    tree = getattr(md, 'tree', md)
    if not isinstance(tree, dict):
        raise CorruptCheckpointError(
            path,
            'its tree metadata (_METADATA) is missing or unreadable: an '
            'incomplete copy, or not a checkpoint written from a state dict',
        )
    return tree


# How tensorstore says that stored bytes are missing or damaged (it raises
# ValueError for that, as for many other things).
_DATA_ERRORS = ('OUT_OF_RANGE', 'DATA_LOSS', 'NOT_FOUND', 'Error reading', 'Error opening')


def _read(checkpointer, path, **kwargs):
    """``checkpointer.restore``, with unreadable data reported as corruption."""
    try:
        return checkpointer.restore(path, **kwargs)
    except (ValueError, OSError) as e:
        if isinstance(e, ValueError) and not any(m in str(e) for m in _DATA_ERRORS):
            raise  # e.g. a sharding that cannot split the saved shape
        raise CorruptCheckpointError(path, f'Orbax could not read its data ({type(e).__name__}: {e})') from e


def _is_metadata_leaf(x):
    return x is None or not isinstance(x, (dict, list, tuple))


def _is_array_metadata(x):
    """An array (0-d included); Orbax's ScalarMetadata marks Python scalars."""
    return isinstance(x, ocp.metadata.ArrayMetadata) and not isinstance(x, ocp.metadata.ScalarMetadata)


def _as_found(metadata):
    """The metadata tree in the shape ``first_mismatch`` compares with a target.

    Arrays become ``ShapeDtypeStruct``s; scalars (a saved ``int`` step, a
    float) become Python scalars, which any scalar of the target accepts, as
    in the msgpack format.
    """

    def leaf(m):
        if _is_array_metadata(m):
            return jax.ShapeDtypeStruct(tuple(m.shape), m.dtype)
        if hasattr(m, 'dtype') and m.dtype is not None:
            return np.zeros((), m.dtype).item()
        return m

    return jax.tree_util.tree_map(leaf, metadata, is_leaf=_is_metadata_leaf)


def _host_restore_args(metadata):
    """Restore every array as a host NumPy array (no sharding needed)."""
    return jax.tree_util.tree_map(
        lambda m: (
            None
            if m is None
            else (ocp.RestoreArgs(restore_type=np.ndarray) if _is_array_metadata(m) else ocp.RestoreArgs())
        ),
        metadata,
        is_leaf=_is_metadata_leaf,
    )


def _as_saved(args, found):
    """Restore arguments that read an array at its saved shape and dtype."""

    def leaf(arg, saved):
        if isinstance(arg, ocp.ArrayRestoreArgs) and isinstance(saved, jax.ShapeDtypeStruct):
            return dataclasses.replace(arg, global_shape=saved.shape, shape=None, dtype=saved.dtype)
        if type(arg) is ocp.RestoreArgs and isinstance(saved, jax.ShapeDtypeStruct):
            return dataclasses.replace(arg, dtype=saved.dtype)
        return arg

    return jax.tree_util.tree_map(leaf, args, found, is_leaf=_is_metadata_leaf)


def restore(path, target, checkpointer, transforms, strict=False):
    """Restore checkpoint directory ``path`` into ``target`` (or a raw state dict).

    Leaves of ``target`` that are ``jax.Array``s (or ``ShapeDtypeStruct``s
    with a sharding) come back with the target's sharding. The tree must
    match; shapes and dtypes are the saved ones unless ``strict``, which
    requires them to match the target's. With ``transforms`` (Orbax's
    restore transformations) the tree check is left to Orbax, whose
    transforms exist to reconcile different trees.
    """
    checkpointer = checkpointer or ocp.PyTreeCheckpointer()
    wait(checkpointer)
    metadata = _metadata_tree(path)
    path = os.path.abspath(path)
    if target is None:
        return _read(checkpointer, path, restore_args=_host_restore_args(metadata))
    expected = serialization.to_state_dict(target)
    args = restore_args_from_target(expected)
    if transforms is None:
        found = _as_found(metadata)
        mismatch = first_mismatch(expected, found, strict=strict)
        if mismatch is not None:
            raise CheckpointMismatchError(path, *mismatch)
        if not strict:
            log_reshaped(path, expected, found)
            args = _as_saved(args, found)
    kwargs = {'item': expected, 'restore_args': args}
    if transforms is not None:
        kwargs['transforms'] = transforms
    restored = _read(checkpointer, path, **kwargs)
    return rebuild(target, restored, strict)
