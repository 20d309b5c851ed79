"""``nnjax.training.checkpoints``: save and restore training state, from one host or many.

Two formats, one API:

* **msgpack files** (the default): ``{ckpt_dir}/{prefix}{step}`` (e.g.
  ``ckpt/checkpoint_1000``) is one file holding
  ``nnjax.serialization.to_bytes(target)``, the target's state dict in the
  seed system's msgpack layout. Files written here load in the seed
  system's legacy checkpoint API and the other way round.
* **Orbax directories**: ``{ckpt_dir}/{prefix}{step}`` is a directory
  written by ``orbax-checkpoint`` (see :mod:`~nnjax.training.checkpoint_orbax`),
  used when a save gets ``orbax_checkpointer=...`` or the flag
  ``nnjax_use_orbax_checkpointing`` (seed spelling
  ``flax_use_orbax_checkpointing``) is on, and always when
  :func:`save_checkpoint_multiprocess` meets arrays sharded across
  processes: then every process writes only its own shards. An
  ``orbax.checkpoint.AsyncCheckpointer`` writes in the background while
  training goes on.

:func:`restore_checkpoint` reads both. Leaves of the target that are
``jax.Array``s (or ``jax.ShapeDtypeStruct``s with a ``sharding``) come back
as ``jax.Array``s with exactly that sharding, whatever mesh or number of
processes wrote the checkpoint; NumPy leaves come back as NumPy, and
``target=None`` gives the raw state dict of host arrays.

``step`` can be any int or float (a step count, or a metric such as an
accuracy); checkpoints are ordered by the number in their name, so
``checkpoint_1e5`` comes after ``checkpoint_9`` and ``checkpoint_-1.0``
before ``checkpoint_0.01``.

**Crash safety.** A msgpack save serializes first, then writes the bytes to
a hidden temporary file in the same directory,
``.{prefix}{step}.tmp-{host}-{pid}-{random hex}``, flushes it and forces it to disk
(``os.fsync``), renames it over ``{prefix}{step}`` with ``os.replace``
(atomic on POSIX and Windows) and forces the directory entry to disk too.
An Orbax save writes into a temporary directory that Orbax renames into
place once all processes are done. Older checkpoints are removed only after
the new one is in place (for an asynchronous Orbax save: at the start of
the next save, after waiting for this one). A process killed at any point
therefore leaves the latest complete checkpoint restorable; at worst a
stale temporary remains. Temporary names are not ``{prefix}{number}``, so
:func:`latest_checkpoint` (and the seed's own ``prefix*`` glob) never pick
them up, and the next successful msgpack save with the same prefix deletes
its leftovers.

**Concurrent saves.** Several processes (or threads) may save into one
directory at once: each writes its own temporary file (the name holds a hash
of the host name, the pid and a random token), and a save's clean-up removes
only temporaries whose writer is gone (a dead pid on this host, or no change
for :data:`~nnjax.training.checkpoint_names.STALE_TEMP_SECONDS`), never one
a live save may still rename. A checkpoint or temporary another save removed
first is not an error. Which
checkpoints remain follows each save's ``keep``/``overwrite`` as it ran; a
save without ``overwrite`` still refuses a step at or below one already on
disk (``InvalidCheckpointError``), whoever wrote it.

**Errors** come from the shared catalogue (``nnjax.errors``):
``InvalidCheckpointError`` (a checkpoint at this or a later step exists),
``AlreadyExistsError`` (``ckpt_dir`` is a regular file),
``CorruptCheckpointError`` (a file is empty, truncated or not a checkpoint)
and ``CheckpointMismatchError`` (the checkpoint lacks part of the target's
tree; with ``strict=True`` also an extra key, a shape or a dtype that
differs). Failed saves and restores leave the files on disk and the
caller's target as they were.

**Not supported**: GlobalDeviceArray managers (``gda_manager``), which the
seed deprecated for Orbax: passing anything other than ``None`` raises
``ValueError``.

**Where the parts live.** This module is the public import path and holds
saving (durable writes, clean-up, :class:`AsyncManager`);
:mod:`~nnjax.training.checkpoint_names` names checkpoints on disk and finds
them (:func:`latest_checkpoint`), :mod:`~nnjax.training.checkpoint_restore`
holds :func:`restore_checkpoint`, :mod:`~nnjax.training.checkpoint_reading`
reads a msgpack state, :mod:`~nnjax.training.checkpoint_orbax` is the Orbax
path, and :mod:`~nnjax.training.checkpoint_options` checks the arguments
save and restore share.

>>> import tempfile
>>> import numpy as np
>>> with tempfile.TemporaryDirectory() as ckpt_dir:
...     state = {'params': {'w': np.arange(3.0)}, 'step': 10}
...     path = save_checkpoint(ckpt_dir, state, step=10)
...     _ = save_checkpoint(ckpt_dir, {'params': {'w': np.ones(3)}, 'step': 20},
...                         step=20, keep=2)
...     print(os.path.basename(latest_checkpoint(ckpt_dir)))
...     print(restore_checkpoint(ckpt_dir, target=state, step=10))
checkpoint_20
{'params': {'w': array([0., 1., 2.])}, 'step': 10}
"""

import concurrent.futures
import logging
import math
import numbers
import os
import shutil

import jax

from nnjax import serialization
from nnjax.config import config
from nnjax.training import checkpoint_orbax
from nnjax.training.checkpoint_names import (
    STALE_TEMP_SECONDS,  # noqa: F401 - named in the docstring; set it in checkpoint_names
    is_stale_temp,
    is_temp_name,
    latest_checkpoint,
    list_checkpoints,
    normalize_step,
    temp_name,
)
from nnjax.training.checkpoint_options import orbax_checkpointer_arg, refuse_gda_manager
from nnjax.training.checkpoint_restore import restore_checkpoint
from nnjax.training.pre_linen import convert_pre_linen
from shared_spec.errors import (
    AlreadyExistsError,
    CheckpointMismatchError,  # noqa: F401 - raised by restore_checkpoint, reachable here as before
    CorruptCheckpointError,  # noqa: F401
    InvalidCheckpointError,
)

__all__ = [
    'save_checkpoint',
    'save_checkpoint_multiprocess',
    'latest_checkpoint',
    'restore_checkpoint',
    'convert_pre_linen',
    'AsyncManager',
]

logger = logging.getLogger(__name__)


def _check_not_a_file(ckpt_dir):
    if os.path.exists(ckpt_dir) and not os.path.isdir(ckpt_dir):
        raise AlreadyExistsError(ckpt_dir)


def _spans_processes(state):
    """Whether some array of ``state`` has shards on other processes."""
    return any(isinstance(x, jax.Array) and not x.is_fully_addressable for x in jax.tree_util.tree_leaves(state))


# --- durable writes ----------------------------------------------------------


def _fsync_dir(path):
    """Make a rename in directory ``path`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: directories cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(path, data):
    """Write ``data`` to the new file ``path`` and fsync it; remove it on failure."""
    # 'x': never write through an existing file. The crash test replaces this
    # module's ``open`` to stall a write midway and kill the process.
    try:
        with open(path, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.remove(path)
        except OSError:
            pass
        raise


def _ignore_missing(function, path, exc_info):
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def _remove(path):
    """Remove a file or directory; one already gone (another save removed it) is fine."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=_ignore_missing)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass


def _clean_up(ckpt_dir, name, step, prefix, keep, overwrite, keep_every_n_steps):
    """After ``name`` is in place: drop newer, old and temporary files."""
    checkpoints = list_checkpoints(ckpt_dir, prefix)
    if overwrite:
        # Steps at or after the new one, other than the new file itself,
        # belong to the run being overwritten.
        stale = [n for s, n in checkpoints if s >= step and n != name]
        for n in stale:
            logger.info('Removing checkpoint %s (overwrite=True)', n)
            _remove(os.path.join(ckpt_dir, n))
        checkpoints = [(s, n) for s, n in checkpoints if n not in stale]
    if len(checkpoints) > keep:
        # Oldest first; a checkpoint at least keep_every_n_steps after the
        # last one kept is kept too. Step 0 never counts, as in the seed
        # system, so its directories clean up the same way ours do.
        last_kept = -math.inf
        for s, n in checkpoints[:-keep]:
            if keep_every_n_steps and s and s - last_kept >= keep_every_n_steps:
                last_kept = s
                continue
            logger.info('Removing checkpoint %s (keep=%d)', n, keep)
            _remove(os.path.join(ckpt_dir, n))
    for n in os.listdir(ckpt_dir):
        if is_temp_name(n, prefix) and is_stale_temp(ckpt_dir, n):
            logger.info('Removing stale temporary %s', n)
            try:
                _remove(os.path.join(ckpt_dir, n))
            except OSError:
                pass


def _commit(ckpt_dir, name, step, data, prefix, keep, overwrite, keep_every_n_steps):
    os.makedirs(ckpt_dir, exist_ok=True)
    for attempt in range(3):
        tmp_path = os.path.join(ckpt_dir, temp_name(name))
        _write_durably(tmp_path, data)
        try:
            os.replace(tmp_path, os.path.join(ckpt_dir, name))
            break
        except FileNotFoundError:
            # Our temporary vanished before the rename (a clean-up by an
            # older version, or by hand): write it again.
            if attempt == 2:
                raise
        except BaseException:
            try:
                os.remove(tmp_path)
            except OSError:
                pass
            raise
    _fsync_dir(ckpt_dir)
    _clean_up(ckpt_dir, name, step, prefix, keep, overwrite, keep_every_n_steps)


class AsyncManager:
    """Runs checkpoint writes on a background thread, one at a time.

    Pass it as ``save_checkpoint(..., async_manager=manager)``: the call
    checks its arguments and serializes ``target`` (so later changes to the
    target cannot leak into the file), then returns while the write, rename
    and clean-up happen in the background. A new save first waits for the
    previous one, so the ``keep``/``overwrite`` logic sees finished files.
    :meth:`wait_previous_save` waits explicitly and re-raises an error the
    background save hit. Pending saves finish before the interpreter exits.

    >>> import tempfile
    >>> manager = AsyncManager()
    >>> with tempfile.TemporaryDirectory() as ckpt_dir:
    ...     _ = save_checkpoint(ckpt_dir, {'w': 1.0}, step=1, async_manager=manager)
    ...     manager.wait_previous_save()
    ...     restore_checkpoint(ckpt_dir, None)
    {'w': 1.0}
    """

    def __init__(self, max_workers=1):
        # One worker keeps saves in order whatever max_workers says; the
        # argument exists for the seed's signature.
        del max_workers
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix='nnjax-checkpoint')
        self._future = None
        self._orbax = None  # created by the first Orbax save through us

    def orbax_checkpointer(self):
        """The Orbax ``AsyncCheckpointer`` this manager's Orbax saves go through."""
        if self._orbax is None:
            import orbax.checkpoint as ocp  # noqa: PLC0415

            self._orbax = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
        return self._orbax

    def wait_previous_save(self):
        """Block until the last save is written; re-raise its error if it failed."""
        future, self._future = self._future, None
        if self._orbax is not None:
            self._orbax.wait_until_finished()
        if future is not None:
            future.result()

    def save_async(self, task):
        """Run ``task()`` in the background after the previous save finishes."""
        self.wait_previous_save()
        self._future = self._executor.submit(task)


# --- saving -----------------------------------------------------------------


def _check_keep(keep, keep_every_n_steps):
    if not isinstance(keep, numbers.Integral) or isinstance(keep, bool) or keep < 1:
        raise ValueError(f'keep must be an int >= 1 (the number of checkpoints to keep), got {keep!r}.')
    if keep_every_n_steps is not None and not keep_every_n_steps > 0:
        raise ValueError(f'keep_every_n_steps must be None or > 0, got {keep_every_n_steps!r}.')


def _save(
    ckpt_dir, target, step, prefix, keep, overwrite, keep_every_n_steps, async_manager, checkpointer, use_orbax, primary
):
    """The shared body of the two save functions.

    ``use_orbax`` picks the format; ``primary`` says whether this process
    removes old checkpoints (every process of a msgpack ``save_checkpoint``,
    process 0 of anything written by several processes together).
    """
    ckpt_dir = os.fspath(ckpt_dir)
    _check_keep(keep, keep_every_n_steps)
    step = normalize_step(step)
    name = f'{prefix}{step}'
    if os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f'prefix {prefix!r} must not contain a path separator; put directories into ckpt_dir.')
    path = os.path.join(ckpt_dir, name)
    if async_manager is not None:
        async_manager.wait_previous_save()
        if use_orbax and checkpointer is None:
            checkpointer = async_manager.orbax_checkpointer()
    # A previous asynchronous Orbax save is committed once this returns,
    # so the listing below sees it.
    checkpoint_orbax.wait(checkpointer)
    _check_not_a_file(ckpt_dir)
    if use_orbax and primary and checkpoint_orbax.is_async(checkpointer) and os.path.isdir(ckpt_dir):
        # The clean-up an asynchronous save could not do when it was launched.
        _clean_up(ckpt_dir, None, math.inf, prefix, keep, False, keep_every_n_steps)
    if not overwrite:
        later = [n for s, n in list_checkpoints(ckpt_dir, prefix) if s >= step]
        if later:
            raise InvalidCheckpointError(path, step)
    if use_orbax:
        state = serialization.to_state_dict(target)
        if overwrite and primary and checkpoint_orbax.is_async(checkpointer):
            # Checkpoints after this step belong to the run being
            # overwritten; earlier ones stay until this save is committed.
            for s, n in list_checkpoints(ckpt_dir, prefix):
                if s > step:
                    _remove(os.path.join(ckpt_dir, n))
        checkpoint_orbax.save(path, state, checkpointer, overwrite)
        if primary and not checkpoint_orbax.is_async(checkpointer):
            _clean_up(ckpt_dir, name, step, prefix, keep, overwrite, keep_every_n_steps)
        logger.info('Saved Orbax checkpoint at %s', path)
        return path
    # Serialize before touching the disk: a target that cannot be written
    # leaves the directory as it was.
    data = serialization.to_bytes(target)

    def commit():
        _commit(ckpt_dir, name, step, data, prefix, keep, overwrite, keep_every_n_steps)

    if async_manager is not None:
        async_manager.save_async(commit)
    else:
        commit()
    logger.info('Saved checkpoint at %s', path)
    return path


def save_checkpoint(
    ckpt_dir,
    target,
    step,
    prefix='checkpoint_',
    keep=1,
    overwrite=False,
    keep_every_n_steps=None,
    async_manager=None,
    orbax_checkpointer=None,
    *,
    orbax_checkpointers=None,
):
    """Save ``target`` as ``{ckpt_dir}/{prefix}{step}``; keep the newest ``keep``.

    Each process writes on its own (single-host use); for several processes
    sharing a directory, or arrays sharded across processes, use
    :func:`save_checkpoint_multiprocess`. The write is crash-safe (see the
    module docstring).

    Args:
      ckpt_dir: directory for the checkpoints (str or path-like); created if
        missing.
      target: anything ``nnjax.serialization.to_state_dict`` takes: a dict of
        arrays, a ``TrainState``, a ``struct`` dataclass, ...
      step: int or float (a training step or a metric), used in the name.
      prefix: name prefix.
      keep: how many of the newest checkpoints to keep (>= 1); older ones are
        deleted after the new one is in place.
      overwrite: if a checkpoint at ``step`` or a later step exists, replace
        it and delete the later ones instead of raising
        ``InvalidCheckpointError``.
      keep_every_n_steps: also keep, among the older checkpoints, every one
        at least this many steps after the last one kept; step 0 is never
        kept this way (as in the seed system), so with checkpoints at every
        step from 0, steps 1, 1+n, 1+2n, ... remain.
      async_manager: an :class:`AsyncManager`: write in the background (an
        Orbax save through it uses the manager's ``AsyncCheckpointer``).
      orbax_checkpointer: an ``orbax.checkpoint`` checkpointer with a
        ``PyTreeCheckpointHandler`` (``PyTreeCheckpointer()``,
        ``Checkpointer(PyTreeCheckpointHandler())`` or
        ``AsyncCheckpointer(PyTreeCheckpointHandler())``): write an Orbax
        directory through it. Without it, the flag
        ``nnjax_use_orbax_checkpointing`` chooses the format. An
        ``AsyncCheckpointer`` returns at once; its
        ``wait_until_finished()`` waits for the write, and checkpoints
        beyond ``keep`` are removed at the start of the next save.
      orbax_checkpointers: the API reference's spelling of
        ``orbax_checkpointer``.

    Returns:
      The path of the checkpoint.

    Raises:
      InvalidCheckpointError: a checkpoint at this or a later step exists and
        ``overwrite`` is False.
      AlreadyExistsError: ``ckpt_dir`` is an existing regular file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for step in range(4):
    ...         _ = save_checkpoint(d, {'step': step}, step, keep=2)
    ...     sorted(os.listdir(d))
    ['checkpoint_2', 'checkpoint_3']
    """
    checkpointer = orbax_checkpointer_arg(orbax_checkpointer, orbax_checkpointers)
    if _spans_processes(target):
        raise ValueError(
            f'save_checkpoint({os.fspath(ckpt_dir)!r}, step={step!r}): the '
            'target holds arrays sharded across processes, which no single '
            'process can write. Call save_checkpoint_multiprocess on every '
            'process instead: each writes its own shards.'
        )
    use_orbax = checkpointer is not None or config.nnjax_use_orbax_checkpointing
    primary = not use_orbax or jax.process_index() == 0
    return _save(
        ckpt_dir,
        target,
        step,
        prefix,
        keep,
        overwrite,
        keep_every_n_steps,
        async_manager,
        checkpointer,
        use_orbax,
        primary,
    )


def save_checkpoint_multiprocess(
    ckpt_dir,
    target,
    step,
    prefix='checkpoint_',
    keep=1,
    overwrite=False,
    keep_every_n_steps=None,
    async_manager=None,
    gda_manager=None,
    orbax_checkpointer=None,
    *,
    orbax_checkpointers=None,
):
    """Save from several JAX processes into one shared directory.

    Every process must call it, with the same arguments.

    * Through Orbax (``orbax_checkpointer`` given, the flag
      ``nnjax_use_orbax_checkpointing`` on, or arrays in ``target`` sharded
      across processes): all processes write the checkpoint directory
      together, each only the shards it holds; nothing is gathered to one
      host. Process 0 removes old checkpoints.
    * Otherwise (a target every process holds whole): process 0 alone writes
      the msgpack file, as :func:`save_checkpoint` does, crash-safe, while
      the others wait at a barrier (``multihost_utils.sync_global_devices``)
      until it is done. Errors of the write (e.g.
      ``InvalidCheckpointError``) are raised on process 0 only.
      ``async_manager`` works, but then the barrier only covers the
      synchronous part.

    With one process this is :func:`save_checkpoint`.

    Args:
      ckpt_dir, target, step, prefix, keep, overwrite, keep_every_n_steps,
      async_manager, orbax_checkpointer, orbax_checkpointers: as for
        :func:`save_checkpoint`.
      gda_manager: unsupported (the seed deprecated it for Orbax); must be
        ``None``.

    Returns:
      The path of the checkpoint (on every process).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = save_checkpoint_multiprocess(d, {'w': jax.numpy.ones(2)}, 7)
    ...     os.path.basename(path)
    'checkpoint_7'
    """
    refuse_gda_manager(gda_manager)
    checkpointer = orbax_checkpointer_arg(orbax_checkpointer, orbax_checkpointers)
    use_orbax = checkpointer is not None or config.nnjax_use_orbax_checkpointing or _spans_processes(target)
    primary = jax.process_index() == 0
    if use_orbax or jax.process_count() == 1:
        return _save(
            ckpt_dir,
            target,
            step,
            prefix,
            keep,
            overwrite,
            keep_every_n_steps,
            async_manager,
            checkpointer,
            use_orbax,
            primary,
        )
    from jax.experimental import multihost_utils

    barrier = f'nnjax_save_checkpoint_{prefix}{step}'
    if primary:
        try:
            return _save(
                ckpt_dir, target, step, prefix, keep, overwrite, keep_every_n_steps, async_manager, None, False, True
            )
        finally:
            multihost_utils.sync_global_devices(barrier)
    multihost_utils.sync_global_devices(barrier)
    return os.path.join(os.fspath(ckpt_dir), f'{prefix}{normalize_step(step)}')
