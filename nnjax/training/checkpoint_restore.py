"""``restore_checkpoint``: read a msgpack file or an Orbax directory back into a target.

Public through :mod:`nnjax.training.checkpoints` (the seed's import path);
the file names it looks for are :mod:`~nnjax.training.checkpoint_names`',
reading a msgpack state is :mod:`~nnjax.training.checkpoint_reading` and the
Orbax path :mod:`~nnjax.training.checkpoint_orbax`.
"""

import logging
import os

import jax
import numpy as np

from nnjax import serialization
from nnjax.training import checkpoint_orbax
from nnjax.training.checkpoint_names import resolve_path
from nnjax.training.checkpoint_options import orbax_checkpointer_arg, refuse_gda_manager
from nnjax.training.checkpoint_reading import drop_unused_keys, first_mismatch, log_reshaped, read_state, rebuild
from shared_spec.errors import CheckpointMismatchError, CorruptCheckpointError

__all__ = ['restore_checkpoint']

# The logger of nnjax.training.checkpoints, the public module.
logger = logging.getLogger('nnjax.training.checkpoints')


def _place(expected, state):
    """Put the arrays of ``state`` where the target's array leaves live.

    ``expected`` is the target's state dict. Where it holds a ``jax.Array``
    (or a ``ShapeDtypeStruct`` with a sharding), the host array read from the
    file becomes a ``jax.Array`` with that sharding: each process builds only
    the shards its devices hold, so this works across processes too.
    """
    if isinstance(expected, dict) and isinstance(state, dict):
        by_name = {str(k): k for k in expected}
        return {k: _place(expected[by_name[str(k)]], v) if str(k) in by_name else v for k, v in state.items()}
    sharding = getattr(expected, 'sharding', None)
    if isinstance(expected, (jax.Array, jax.ShapeDtypeStruct)) and sharding is not None:
        host = np.asarray(state)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
    return state


def restore_checkpoint(
    ckpt_dir,
    target,
    step=None,
    prefix='checkpoint_',
    parallel=True,
    gda_manager=None,
    allow_partial_mpa_restoration=False,
    orbax_checkpointer=None,
    orbax_transforms=None,
    *,
    orbax_checkpointers=None,
    strict=False,
):
    """Restore the latest (or a given) checkpoint into ``target``.

    Picks the highest-numbered ``{prefix}{number}`` checkpoint in
    ``ckpt_dir`` (``ckpt_1, ckpt_2, ckpt_3 -> ckpt_3``; ``ckpt_0.01,
    ckpt_0.1, ckpt_0.001 -> ckpt_0.1``; ``ckpt_-1.0, ckpt_1.0, ckpt_1e5 ->
    ckpt_1e5``), or the one for ``step``. ``ckpt_dir`` may also name one
    checkpoint. msgpack files and Orbax directories are both read, whatever
    the flag ``nnjax_use_orbax_checkpointing`` says.

    The seed's restore rules hold by default, so its guides run unchanged:

    * **Partial target.** A plain dict (or ``FrozenDict``) in ``target`` may
      hold a subset of the checkpoint's keys there: the other entries are
      left out (and logged), as the seed's ``from_state_dict`` ignores them.
      Dataclasses (``TrainState``), lists, tuples and namedtuples need their
      exact fields, as in the seed. ``target=None`` returns the whole raw
      state dict, whatever it holds -- a single array too, when the
      checkpoint is a bare array.
    * **Any shape.** The values, shapes and dtypes are the checkpoint's, as
      in the seed system, whose guides restore with a smaller reference
      array ("the reference doesn't need to be as large as your
      checkpoint"); a leaf whose shape differs is logged.
    * A key the target has and the checkpoint lacks, or a dict where the
      target has an array (or the reverse), is refused: before anything is
      built, the (trimmed) checkpoint tree is compared with
      ``nnjax.serialization.to_state_dict(target)`` and the first difference,
      in sorted key order, raises ``CheckpointMismatchError`` (a
      ``ValueError``, like the seed's). A ``None`` leaf in the target takes
      whatever the checkpoint holds there. With ``orbax_transforms`` Orbax's
      transformations reconcile the trees instead.

    ``strict=True`` (an nnjax extension) refuses what the seed lets through:
    every dict must hold exactly the target's keys, and each leaf's shape,
    and dtype where both sides are arrays, must match the target's (a Python
    scalar, such as an ``int`` step, takes any scalar or 0-d array). Use it
    when a checkpoint from another configuration must not be resumed.
    Either way a refused restore changes neither ``target`` nor the file.

    Leaves of ``target`` that are ``jax.Array``s, or ``jax.ShapeDtypeStruct``s
    with a ``sharding`` (an abstract target from ``jax.eval_shape``), come
    back as ``jax.Array``s with the target's sharding, on any mesh and in
    any number of processes: a checkpoint written from a 2x4 mesh restores
    onto a 1x8 or a 4-device mesh. Other arrays come back as NumPy arrays
    (read-only from msgpack files).

    Args:
      ckpt_dir: directory of checkpoints, or the path of one checkpoint.
      target: the object to rebuild (its structure, shardings and dtypes are
        used, not its values), or None to get the raw state dict of host
        NumPy arrays.
      step: the step to load, or None for the latest. With a step,
        ``ckpt_dir`` must be a directory holding ``{prefix}{step}``.
      prefix: name prefix.
      parallel: accepted for compatibility; a msgpack file is read in one go.
      gda_manager: unsupported (the seed deprecated it for Orbax); must be
        ``None``.
      allow_partial_mpa_restoration: accepted for compatibility; there are
        no multiprocess-array placeholders in either format, so it changes
        nothing.
      orbax_checkpointer: the Orbax checkpointer to read an Orbax checkpoint
        with (default: a ``PyTreeCheckpointer``); an ``AsyncCheckpointer``'s
        save in flight is waited for first.
      orbax_transforms: Orbax restore transformations (e.g. ``{}`` to fill
        what the checkpoint lacks from ``target``), for Orbax checkpoints.
      orbax_checkpointers: the API reference's spelling of
        ``orbax_checkpointer``.
      strict: require exactly the target's keys, and every leaf's shape and
        dtype to match the target's (an nnjax extension; the seed system has
        no such checks). Default False: the seed's rules above.

    Returns:
      ``target`` updated from the checkpoint (a new object; ``target`` itself
      is not changed), or the state dict if ``target`` is None. If ``step``
      is None and there is no checkpoint (or ``ckpt_dir`` does not exist),
      ``target`` is returned unchanged.

    Raises:
      ValueError: ``step`` was given and ``{prefix}{step}`` does not exist;
        or ``orbax_transforms`` was given for a msgpack checkpoint.
      CorruptCheckpointError: the checkpoint is empty, truncated or not a
        checkpoint.
      CheckpointMismatchError: the checkpoint does not fit ``target``.

    >>> import tempfile
    >>> import numpy as np
    >>> from nnjax.training.checkpoints import save_checkpoint
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_checkpoint(d, {'w': np.ones((2, 2), np.float32)}, step=1)
    ...     print(restore_checkpoint(d, {'w': np.zeros(3, np.float32)})['w'].shape)
    ...     try:
    ...         restore_checkpoint(d, {'w': np.zeros(3, np.float32)}, strict=True)
    ...     except CheckpointMismatchError as e:
    ...         print(e.key_path, e.what, e.expected, e.found)
    (2, 2)
    /w shape (3,) (2, 2)
    """
    refuse_gda_manager(gda_manager)
    checkpointer = orbax_checkpointer_arg(orbax_checkpointer, orbax_checkpointers)
    del parallel, allow_partial_mpa_restoration  # see the docstring
    # A save still in flight may be the very checkpoint asked for.
    checkpoint_orbax.wait(checkpointer)
    ckpt_dir = os.fspath(ckpt_dir)
    ckpt_path = resolve_path(ckpt_dir, step, prefix)
    if ckpt_path is None:
        return target
    if os.path.isdir(ckpt_path):
        if not checkpoint_orbax.is_orbax_checkpoint(ckpt_path):
            raise CorruptCheckpointError(
                ckpt_path,
                'it is a directory without the files Orbax writes '
                '(_CHECKPOINT_METADATA, _METADATA): not a checkpoint, or an '
                'incomplete copy',
            )
        logger.info('Restoring Orbax checkpoint from %s', ckpt_path)
        return checkpoint_orbax.restore(ckpt_path, target, checkpointer, orbax_transforms, strict)
    if orbax_transforms is not None:
        raise ValueError(
            f'orbax_transforms applies to Orbax checkpoints; {ckpt_path!r} is a '
            'msgpack file. Restore with target=None, change the state dict, '
            'and rebuild with nnjax.serialization.from_state_dict.'
        )
    logger.info('Restoring checkpoint from %s', ckpt_path)
    expected = None if target is None else serialization.to_state_dict(target)
    state = read_state(ckpt_path, expect_dict=isinstance(expected, dict))
    if target is None:
        return state
    if not strict:
        dropped = []
        state = drop_unused_keys(target, state, dropped)
        if dropped:
            logger.info(
                'Restoring %s: the target has no place for %s; left out (strict=True refuses this).',
                ckpt_path,
                ', '.join(dropped),
            )
    mismatch = first_mismatch(expected, state, strict=strict)
    if mismatch is not None:
        raise CheckpointMismatchError(ckpt_path, *mismatch)
    log_reshaped(ckpt_path, expected, state)
    return rebuild(target, _place(expected, state), strict)
