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
for :data:`STALE_TEMP_SECONDS`), never one a live save may still rename. A
checkpoint or temporary another save removed first is not an error. Which
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
import socket
import time
import zlib

import jax
import numpy as np

from nnjax import serialization
from nnjax.config import config
from nnjax.training import checkpoint_orbax
from nnjax.training.checkpoint_reading import drop_unused_keys, first_mismatch, log_reshaped, read_state, rebuild
from nnjax.training.pre_linen import convert_pre_linen
from shared_spec.errors import (
    AlreadyExistsError,
    CheckpointMismatchError,
    CorruptCheckpointError,
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

# A step as it may appear in a file name: what str() makes of an int or a
# float (1, -1.0, 0.01, 1e-05, 1e+20), plus forms such as 1e5 and .5.
_NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
_TMP_TAG = '.tmp-'
_ORBAX_TMP_TAG = '.orbax-checkpoint-tmp-'


# --- names on disk -----------------------------------------------------------


def _step_in_name(name, prefix):
    """The step of file name ``{prefix}{number}``, or None for other names."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
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
    """Whether ``name`` is a temporary of a save with this prefix.

    Ours are ``.{prefix}{step}.tmp-{host}-{pid}-{hex}`` files (older
    versions wrote ``.{prefix}{step}.tmp-{hex}``); Orbax's are
    ``{prefix}{step}.orbax-checkpoint-tmp-{number}`` directories.
    """
    if name.startswith(prefix) and _ORBAX_TMP_TAG in name:
        final, _, token = name.rpartition(_ORBAX_TMP_TAG)
        return _step_in_name(final, prefix) is not None and token.isdigit()
    if not name.startswith('.' + prefix) or _TMP_TAG not in name:
        return False
    final, _, token = name[1:].rpartition(_TMP_TAG)
    return _step_in_name(final, prefix) is not None and _TMP_TOKEN.fullmatch(token) is not None


# ``{host}-{pid}-{random}`` of a temporary written by this version, or the
# bare ``{random}`` of older ones.
_TMP_TOKEN = re.compile(r'(?:([0-9a-f]{8})-(\d+)-)?[0-9a-f]+')

#: A temporary file of a live save is never removed by another save; one
#: whose writer is gone (its pid is dead on this host) is, and so is one not
#: modified for this many seconds (a writer on another host, or a pid reused).
STALE_TEMP_SECONDS = 3600


def _host_tag():
    return f'{zlib.crc32(socket.gethostname().encode()):08x}'


def _temp_name(name):
    """A temporary name no other process or thread can pick: host, pid, random."""
    return f'.{name}{_TMP_TAG}{_host_tag()}-{os.getpid()}-{secrets.token_hex(8)}'


def _pid_alive(pid):
    if os.name != 'posix':
        return True  # no cheap, safe probe (os.kill(pid, 0) would signal)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: it exists, owned by someone else
    return True


def _is_stale_temp(ckpt_dir, name):
    """Whether temporary ``name`` may be removed: its writer cannot be saving it.

    Orbax directories and our older, owner-less names count as stale (as
    before); ours are stale once their writer's pid is dead on this host or
    after :data:`STALE_TEMP_SECONDS` without a change.
    """
    if not name.startswith('.'):
        return True  # Orbax's temporary directory
    token = name.rpartition(_TMP_TAG)[2]
    match = _TMP_TOKEN.fullmatch(token)
    if match is None or match.group(1) is None:
        return True
    host, pid = match.group(1), int(match.group(2))
    if host == _host_tag() and pid != os.getpid() and not _pid_alive(pid):
        return True
    try:
        age = time.time() - os.stat(os.path.join(ckpt_dir, name)).st_mtime
    except FileNotFoundError:
        return False  # already gone
    return age > STALE_TEMP_SECONDS


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
                f'step must be an int or a float (or a 0-d numeric array), got {type(step).__name__} {step!r}.'
            )
        if arr.dtype.kind in 'iu':
            return int(arr)
        value = float(arr)
    if not math.isfinite(value):
        raise ValueError(f'step must be finite, got {value}.')
    return value


def _check_not_a_file(ckpt_dir):
    if os.path.exists(ckpt_dir) and not os.path.isdir(ckpt_dir):
        raise AlreadyExistsError(ckpt_dir)


def _refuse_gda(gda_manager):
    if gda_manager is not None:
        raise ValueError(
            'gda_manager is not supported by nnjax.training.checkpoints: '
            'GlobalDeviceArray checkpoints are deprecated in the seed system '
            'in favour of Orbax. Leave gda_manager=None; arrays sharded over '
            'several processes are written by Orbax, each process writing its '
            'own shards (pass orbax_checkpointer= to choose the checkpointer).'
        )


def _checkpointer(orbax_checkpointer, orbax_checkpointers):
    """The Orbax checkpointer given under either of the seed's two names."""
    if orbax_checkpointer is not None and orbax_checkpointers is not None:
        raise TypeError('Pass orbax_checkpointer or its older spelling orbax_checkpointers, not both.')
    checkpointer = orbax_checkpointer if orbax_checkpointer is not None else orbax_checkpointers
    if checkpointer is not None and not (
        callable(getattr(checkpointer, 'save', None)) and callable(getattr(checkpointer, 'restore', None))
    ):
        raise TypeError(
            'orbax_checkpointer must be an orbax.checkpoint checkpointer, e.g. '
            'orbax.checkpoint.PyTreeCheckpointer() or orbax.checkpoint.'
            'AsyncCheckpointer(orbax.checkpoint.PyTreeCheckpointHandler()); got '
            f'{type(checkpointer).__name__}.'
        )
    return checkpointer


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
        if _is_temp_name(n, prefix) and _is_stale_temp(ckpt_dir, n):
            logger.info('Removing stale temporary %s', n)
            try:
                _remove(os.path.join(ckpt_dir, n))
            except OSError:
                pass


def _commit(ckpt_dir, name, step, data, prefix, keep, overwrite, keep_every_n_steps):
    os.makedirs(ckpt_dir, exist_ok=True)
    for attempt in range(3):
        tmp_path = os.path.join(ckpt_dir, _temp_name(name))
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
    step = _normalize_step(step)
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
        later = [n for s, n in _list_checkpoints(ckpt_dir, prefix) if s >= step]
        if later:
            raise InvalidCheckpointError(path, step)
    if use_orbax:
        state = serialization.to_state_dict(target)
        if overwrite and primary and checkpoint_orbax.is_async(checkpointer):
            # Checkpoints after this step belong to the run being
            # overwritten; earlier ones stay until this save is committed.
            for s, n in _list_checkpoints(ckpt_dir, prefix):
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
    checkpointer = _checkpointer(orbax_checkpointer, orbax_checkpointers)
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
    _refuse_gda(gda_manager)
    checkpointer = _checkpointer(orbax_checkpointer, orbax_checkpointers)
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
    return os.path.join(os.fspath(ckpt_dir), f'{prefix}{_normalize_step(step)}')


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


def _resolve_path(ckpt_dir, step, prefix):
    """The checkpoint to read, or None where the seed returns the target as is."""
    if step is not None:
        name = f'{prefix}{_normalize_step(step)}'
        ckpt_path = os.path.join(ckpt_dir, name)
        if os.path.exists(ckpt_path):
            return ckpt_path
        # A float step may have been saved under its int spelling or the
        # other way round; match by value.
        wanted = float(_normalize_step(step))
        same = [n for s, n in _list_checkpoints(ckpt_dir, prefix) if s == wanted]
        if not same:
            available = [n for _, n in _list_checkpoints(ckpt_dir, prefix)]
            raise ValueError(
                f'Matching checkpoint not found: {ckpt_path}. Checkpoints in '
                f'{ckpt_dir!r} with prefix {prefix!r}: {available or "none"}. '
                'Pass one of their steps, or step=None for the latest.'
            )
        return os.path.join(ckpt_dir, same[-1])
    if not os.path.exists(ckpt_dir):
        logger.info('No checkpoint directory at %s', ckpt_dir)
        return None
    if os.path.isdir(ckpt_dir) and not checkpoint_orbax.is_orbax_checkpoint(ckpt_dir):
        ckpt_path = latest_checkpoint(ckpt_dir, prefix)
        if ckpt_path is None:
            logger.info('No checkpoint with prefix %r in %s', prefix, ckpt_dir)
        return ckpt_path
    return ckpt_dir  # the path of one checkpoint, file or Orbax directory


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
    _refuse_gda(gda_manager)
    checkpointer = _checkpointer(orbax_checkpointer, orbax_checkpointers)
    del parallel, allow_partial_mpa_restoration  # see the docstring
    # A save still in flight may be the very checkpoint asked for.
    checkpoint_orbax.wait(checkpointer)
    ckpt_dir = os.fspath(ckpt_dir)
    ckpt_path = _resolve_path(ckpt_dir, step, prefix)
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
