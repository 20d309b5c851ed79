"""``nnjax.training.checkpoints``: save and restore training state as msgpack files.

A checkpoint is one file, ``{ckpt_dir}/{prefix}{step}`` (e.g.
``ckpt/checkpoint_1000``), holding ``nnjax.serialization.to_bytes(target)``:
the target's state dict in the seed system's msgpack layout. Files written
here load in the seed system's legacy (non-Orbax) checkpoint API and the
other way round. ``step`` can be any int or float (a step count, or a metric
such as an accuracy); files are ordered by the number in their name, so
``checkpoint_1e5`` comes after ``checkpoint_9`` and ``checkpoint_-1.0``
before ``checkpoint_0.01``.

**Crash safety.** :func:`save_checkpoint` serializes first, then writes the
bytes to a hidden temporary file in the same directory,
``.{prefix}{step}.tmp-{random hex}``, flushes it and forces it to disk
(``os.fsync``), renames it over ``{prefix}{step}`` with ``os.replace``
(atomic on POSIX and Windows) and forces the directory entry to disk too.
Only after that are older checkpoints removed. A process killed at any
point therefore leaves either the old set of checkpoints or the new one,
never a partial ``{prefix}{step}``; at worst a stale temporary file remains. Temporary names start with ``'.'`` and are not
``{prefix}{number}``, so :func:`latest_checkpoint` (and the seed's own
``prefix*`` glob) never pick them up, and the next successful save with the
same prefix deletes them.

**Errors** come from the shared catalogue (``nnjax.errors``):
``InvalidCheckpointError`` (a checkpoint at this or a later step exists),
``AlreadyExistsError`` (``ckpt_dir`` is a regular file),
``CorruptCheckpointError`` (a file is empty, truncated or not a checkpoint)
and ``CheckpointMismatchError`` (the file's tree, a shape or a dtype differs
from the target's). Failed saves and restores leave the files on disk and
the caller's target as they were.

**Not supported**: the Orbax backend (``orbax_checkpointers``,
``orbax_transforms``) and GlobalDeviceArray managers (``gda_manager``). The
arguments exist so seed code keeps its call signatures; passing anything
other than ``None`` raises ``ValueError``. Asynchronous saving is supported
with this module's small :class:`AsyncManager` (a background thread).

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
import re
import secrets
import shutil

import jax
import numpy as np

from nnjax import serialization
from nnjax.training.checkpoint_reading import first_mismatch, read_state
from nnjax.training.pre_linen import convert_pre_linen
from shared_spec.errors import (AlreadyExistsError, CheckpointMismatchError,
                                CorruptCheckpointError, InvalidCheckpointError)

__all__ = ['save_checkpoint', 'save_checkpoint_multiprocess',
           'latest_checkpoint', 'restore_checkpoint', 'convert_pre_linen',
           'AsyncManager']

logger = logging.getLogger(__name__)

# A step as it may appear in a file name: what str() makes of an int or a
# float (1, -1.0, 0.01, 1e-05, 1e+20), plus forms such as 1e5 and .5.
_NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
_TMP_TAG = '.tmp-'


# --- names on disk -----------------------------------------------------------

def _step_in_name(name, prefix):
    """The step of file name ``{prefix}{number}``, or None for other names."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    if not re.fullmatch(_NUMBER, rest):
        return None
    return float(rest)


def _list_checkpoints(ckpt_dir, prefix):
    """``[(step, name)]`` of the checkpoints in ``ckpt_dir``, oldest first."""
    try:
        names = os.listdir(ckpt_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        step = _step_in_name(name, prefix)
        if step is not None:
            found.append((step, name))
    found.sort()
    return found


def _is_temp_name(name, prefix):
    """Whether ``name`` is a temporary file of a save with this prefix."""
    if not name.startswith('.' + prefix) or _TMP_TAG not in name:
        return False
    final, _, token = name[1:].rpartition(_TMP_TAG)
    return (_step_in_name(final, prefix) is not None
            and re.fullmatch(r'[0-9a-f]+', token) is not None)


def _normalize_step(step):
    """``step`` as a Python int or finite float, for the file name."""
    if isinstance(step, bool):
        raise TypeError('step must be an int or a float, not a bool.')
    if isinstance(step, numbers.Integral):
        return int(step)
    if isinstance(step, numbers.Real):
        value = float(step)
    else:
        try:
            arr = np.asarray(step)
        except Exception:  # noqa: BLE001 - any unconvertible object
            arr = None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in 'iuf':
            raise TypeError(
                f'step must be an int or a float (or a 0-d numeric array), got '
                f'{type(step).__name__} {step!r}.')
        if arr.dtype.kind in 'iu':
            return int(arr)
        value = float(arr)
    if not math.isfinite(value):
        raise ValueError(f'step must be finite, got {value}.')
    return value


def _check_not_a_file(ckpt_dir):
    if os.path.exists(ckpt_dir) and not os.path.isdir(ckpt_dir):
        raise AlreadyExistsError(ckpt_dir)


def _refuse(name, value, what):
    if value is not None:
        raise ValueError(
            f'{name} is not supported by nnjax.training.checkpoints: it has no '
            f'{what} backend; it writes and reads single msgpack files only. '
            f'Leave {name}=None (the argument exists for signature '
            'compatibility with the seed system).')


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


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _clean_up(ckpt_dir, name, step, prefix, keep, overwrite,
              keep_every_n_steps):
    """After ``name`` is in place: drop newer, old and temporary files."""
    checkpoints = _list_checkpoints(ckpt_dir, prefix)
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
        if _is_temp_name(n, prefix):
            logger.info('Removing stale temporary file %s', n)
            try:
                os.remove(os.path.join(ckpt_dir, n))
            except OSError:
                pass


def _commit(ckpt_dir, name, step, data, prefix, keep, overwrite,
            keep_every_n_steps):
    os.makedirs(ckpt_dir, exist_ok=True)
    tmp_path = os.path.join(ckpt_dir,
                            f'.{name}{_TMP_TAG}{secrets.token_hex(8)}')
    _write_durably(tmp_path, data)
    try:
        os.replace(tmp_path, os.path.join(ckpt_dir, name))
    except BaseException:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(ckpt_dir)
    _clean_up(ckpt_dir, name, step, prefix, keep, overwrite,
              keep_every_n_steps)


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
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix='nnjax-checkpoint')
        self._future = None

    def wait_previous_save(self):
        """Block until the last save is written; re-raise its error if it failed."""
        future, self._future = self._future, None
        if future is not None:
            future.result()

    def save_async(self, task):
        """Run ``task()`` in the background after the previous save finishes."""
        self.wait_previous_save()
        self._future = self._executor.submit(task)


# --- saving -----------------------------------------------------------------

def _save(ckpt_dir, state, step, prefix, keep, overwrite, keep_every_n_steps,
          async_manager):
    """The shared body of the two save functions; ``state`` is the target."""
    ckpt_dir = os.fspath(ckpt_dir)
    if not isinstance(keep, numbers.Integral) or isinstance(keep, bool) \
            or keep < 1:
        raise ValueError(f'keep must be an int >= 1 (the number of '
                         f'checkpoints to keep), got {keep!r}.')
    if keep_every_n_steps is not None and not keep_every_n_steps > 0:
        raise ValueError('keep_every_n_steps must be None or > 0, got '
                         f'{keep_every_n_steps!r}.')
    step = _normalize_step(step)
    name = f'{prefix}{step}'
    if os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f'prefix {prefix!r} must not contain a path '
                         'separator; put directories into ckpt_dir.')
    path = os.path.join(ckpt_dir, name)
    if async_manager is not None:
        async_manager.wait_previous_save()
    _check_not_a_file(ckpt_dir)
    if not overwrite:
        later = [n for s, n in _list_checkpoints(ckpt_dir, prefix) if s >= step]
        if later:
            raise InvalidCheckpointError(path, step)
    # Serialize before touching the disk: a target that cannot be written
    # leaves the directory as it was.
    data = serialization.to_bytes(state)

    def commit():
        _commit(ckpt_dir, name, step, data, prefix, keep, overwrite,
                keep_every_n_steps)

    if async_manager is not None:
        async_manager.save_async(commit)
    else:
        commit()
    logger.info('Saved checkpoint at %s', path)
    return path


def save_checkpoint(ckpt_dir, target, step, prefix='checkpoint_', keep=1,
                    overwrite=False, keep_every_n_steps=None,
                    async_manager=None, orbax_checkpointers=None):
    """Save ``target`` as ``{ckpt_dir}/{prefix}{step}``; keep the newest ``keep``.

    Each process writes on its own (single-host use); for several processes
    sharing a directory use :func:`save_checkpoint_multiprocess`. The write
    is crash-safe (see the module docstring).

    Args:
      ckpt_dir: directory for the checkpoint files (str or path-like);
        created if missing.
      target: anything ``nnjax.serialization.to_bytes`` takes: a dict of
        arrays, a ``TrainState``, a ``struct`` dataclass, ...
      step: int or float (a training step or a metric), used in the name.
      prefix: file name prefix.
      keep: how many of the newest checkpoints to keep (>= 1); older ones are
        deleted after the new one is in place.
      overwrite: if a checkpoint at ``step`` or a later step exists, replace
        it and delete the later ones instead of raising
        ``InvalidCheckpointError``.
      keep_every_n_steps: also keep, among the older checkpoints, every one
        at least this many steps after the last one kept; step 0 is never
        kept this way (as in the seed system), so with checkpoints at every
        step from 0, steps 1, 1+n, 1+2n, ... remain.
      async_manager: an :class:`AsyncManager`: write in the background.
      orbax_checkpointers: unsupported; must be ``None``.

    Returns:
      The path of the checkpoint file.

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
    _refuse('orbax_checkpointers', orbax_checkpointers, 'Orbax')
    return _save(ckpt_dir, target, step, prefix, keep, overwrite,
                 keep_every_n_steps, async_manager)


def _gather_to_host(state_dict):
    """Replace arrays spread over several processes by their full value."""
    from jax.experimental import multihost_utils

    def gather(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return multihost_utils.process_allgather(x, tiled=True)
        return x

    return jax.tree_util.tree_map(gather, state_dict)


def save_checkpoint_multiprocess(ckpt_dir, target, step, prefix='checkpoint_',
                                 keep=1, overwrite=False,
                                 keep_every_n_steps=None, async_manager=None,
                                 gda_manager=None, orbax_checkpointers=None):
    """Save from several JAX processes into one shared directory.

    Every process must call it, with the same arguments. Arrays that are not
    fully addressable by one process (sharded across hosts) are first
    gathered with ``jax.experimental.multihost_utils.process_allgather``, a
    collective all processes take part in; then process 0 alone writes the
    file (as :func:`save_checkpoint` does, crash-safe) and removes old
    checkpoints, while the others wait at a barrier
    (``multihost_utils.sync_global_devices``) until it is done. Errors of the
    write (e.g. ``InvalidCheckpointError``) are raised on process 0 only.
    With one process this is :func:`save_checkpoint`.

    The whole target is gathered into process 0's host memory, so this suits
    states that fit there. ``async_manager`` works, but then the barrier
    only covers the synchronous part: other processes go on before the file
    is committed. ``gda_manager`` and ``orbax_checkpointers`` (Orbax /
    tensorstore backends) are not supported and must be ``None``.

    Args:
      ckpt_dir, target, step, prefix, keep, overwrite, keep_every_n_steps,
      async_manager: as for :func:`save_checkpoint`.
      gda_manager: unsupported; must be ``None``.
      orbax_checkpointers: unsupported; must be ``None``.

    Returns:
      The path of the checkpoint file (on every process).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = save_checkpoint_multiprocess(d, {'w': jax.numpy.ones(2)}, 7)
    ...     os.path.basename(path)
    'checkpoint_7'
    """
    _refuse('gda_manager', gda_manager, 'GlobalDeviceArray (tensorstore)')
    _refuse('orbax_checkpointers', orbax_checkpointers, 'Orbax')
    state = _gather_to_host(serialization.to_state_dict(target))
    if jax.process_count() == 1:
        return _save(ckpt_dir, state, step, prefix, keep, overwrite,
                     keep_every_n_steps, async_manager)
    from jax.experimental import multihost_utils
    barrier = f'nnjax_save_checkpoint_{prefix}{step}'
    if jax.process_index() == 0:
        try:
            return _save(ckpt_dir, state, step, prefix, keep, overwrite,
                         keep_every_n_steps, async_manager)
        finally:
            multihost_utils.sync_global_devices(barrier)
    multihost_utils.sync_global_devices(barrier)
    return os.path.join(os.fspath(ckpt_dir),
                        f'{prefix}{_normalize_step(step)}')


# --- finding and restoring ---------------------------------------------------

def latest_checkpoint(ckpt_dir, prefix='checkpoint_'):
    """The path of the checkpoint with the highest step in ``ckpt_dir``, or None.

    Only names ``{prefix}{number}`` count (temporary files of interrupted
    saves do not); numbers compare as numbers, e.g. ``1e5 > 9 > 0.5 > -1.0``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ['ckpt_0.01', 'ckpt_0.1', 'ckpt_0.001', 'ckpt_x']:
    ...         open(os.path.join(d, name), 'wb').close()
    ...     os.path.basename(latest_checkpoint(d, prefix='ckpt_'))
    'ckpt_0.1'
    """
    checkpoints = _list_checkpoints(os.fspath(ckpt_dir), prefix)
    if not checkpoints:
        return None
    return os.path.join(os.fspath(ckpt_dir), checkpoints[-1][1])


def restore_checkpoint(ckpt_dir, target, step=None, prefix='checkpoint_',
                       parallel=True, gda_manager=None,
                       allow_partial_mpa_restoration=False,
                       orbax_checkpointers=None, orbax_transforms=None):
    """Restore the latest (or a given) checkpoint into ``target``.

    Picks the highest-numbered ``{prefix}{number}`` file in ``ckpt_dir``
    (``ckpt_1, ckpt_2, ckpt_3 -> ckpt_3``; ``ckpt_0.01, ckpt_0.1, ckpt_0.001
    -> ckpt_0.1``; ``ckpt_-1.0, ckpt_1.0, ckpt_1e5 -> ckpt_1e5``), or the one
    for ``step``. ``ckpt_dir`` may also name a checkpoint file.

    Before anything is built, the file's state dict is compared with
    ``nnjax.serialization.to_state_dict(target)``: the keys at every level,
    and at each leaf the shape, and the dtype where both sides are arrays,
    must agree (a ``None`` leaf in the target takes whatever the file holds;
    a Python scalar in the target, such as an ``int`` step, takes any scalar
    or 0-d array). The first difference, in sorted key order, raises
    ``CheckpointMismatchError``. Arrays come back as read-only NumPy arrays.

    Args:
      ckpt_dir: directory of checkpoints, or the path of one checkpoint file.
      target: the object to rebuild (its structure is used, not its values),
        or None to get the raw state dict.
      step: the step to load, or None for the latest. With a step,
        ``ckpt_dir`` must be a directory holding ``{prefix}{step}``.
      prefix: file name prefix.
      parallel: accepted for compatibility; the file is read in one go.
      gda_manager: unsupported; must be ``None``.
      allow_partial_mpa_restoration: accepted for compatibility; there are
        no multiprocess-array placeholders in this format, so it changes
        nothing.
      orbax_checkpointers: unsupported; must be ``None``.
      orbax_transforms: unsupported; must be ``None``.

    Returns:
      ``target`` updated from the file (a new object; ``target`` itself is
      not changed), or the state dict if ``target`` is None. If ``step`` is
      None and there is no checkpoint (or ``ckpt_dir`` does not exist),
      ``target`` is returned unchanged.

    Raises:
      ValueError: ``step`` was given and ``{prefix}{step}`` does not exist.
      CorruptCheckpointError: the file is empty, truncated or not a
        checkpoint.
      CheckpointMismatchError: the file does not fit ``target``.

    >>> import tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_checkpoint(d, {'w': np.zeros((2, 2), np.float32)}, step=1)
    ...     try:
    ...         restore_checkpoint(d, {'w': np.zeros(3, np.float32)})
    ...     except CheckpointMismatchError as e:
    ...         print(e.key_path, e.what, e.expected, e.found)
    /w shape (3,) (2, 2)
    """
    _refuse('gda_manager', gda_manager, 'GlobalDeviceArray (tensorstore)')
    _refuse('orbax_checkpointers', orbax_checkpointers, 'Orbax')
    _refuse('orbax_transforms', orbax_transforms, 'Orbax')
    del parallel, allow_partial_mpa_restoration  # see the docstring
    ckpt_dir = os.fspath(ckpt_dir)
    if step is not None:
        name = f'{prefix}{_normalize_step(step)}'
        ckpt_path = os.path.join(ckpt_dir, name)
        if not os.path.exists(ckpt_path):
            # A float step may have been saved under its int spelling or
            # the other way round; match by value.
            wanted = float(_normalize_step(step))
            same = [n for s, n in _list_checkpoints(ckpt_dir, prefix)
                    if s == wanted]
            if not same:
                available = [n for _, n in _list_checkpoints(ckpt_dir, prefix)]
                raise ValueError(
                    f'Matching checkpoint not found: {ckpt_path}. Checkpoints '
                    f'in {ckpt_dir!r} with prefix {prefix!r}: '
                    f'{available or "none"}. Pass one of their steps, or '
                    'step=None for the latest.')
            ckpt_path = os.path.join(ckpt_dir, same[-1])
    else:
        if not os.path.exists(ckpt_dir):
            logger.info('No checkpoint directory at %s', ckpt_dir)
            return target
        if os.path.isdir(ckpt_dir):
            ckpt_path = latest_checkpoint(ckpt_dir, prefix)
            if ckpt_path is None:
                logger.info('No checkpoint with prefix %r in %s', prefix,
                            ckpt_dir)
                return target
        else:
            ckpt_path = ckpt_dir
    if os.path.isdir(ckpt_path):
        raise ValueError(
            f'Checkpoint {ckpt_path!r} is a directory, as the Orbax backend '
            'writes them; nnjax reads only single-file msgpack checkpoints. '
            'Restore it with Orbax, or re-save it with save_checkpoint.')
    logger.info('Restoring checkpoint from %s', ckpt_path)
    expected = None if target is None else serialization.to_state_dict(target)
    state = read_state(ckpt_path, expect_dict=target is None
                        or isinstance(expected, dict))
    if target is None:
        return state
    mismatch = first_mismatch(expected, state)
    if mismatch is not None:
        raise CheckpointMismatchError(ckpt_path, *mismatch)
    return serialization.from_state_dict(target, state)
