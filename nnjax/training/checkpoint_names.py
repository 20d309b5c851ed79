"""How checkpoints are named on disk, and finding them by step.

A checkpoint is ``{ckpt_dir}/{prefix}{step}``: one msgpack file or one Orbax
directory. Steps are ints or finite floats, ordered by value (so
``checkpoint_1e5`` comes after ``checkpoint_9``). A save in progress writes a
hidden temporary, ``.{prefix}{step}.tmp-{host}-{pid}-{random hex}`` (Orbax:
``{prefix}{step}.orbax-checkpoint-tmp-{number}``), that never matches
``{prefix}{number}``; this module also decides when such a temporary is
stale (its writer is gone) and may be removed.
"""

import logging
import math
import numbers
import os
import re
import secrets
import socket
import time
import zlib

import numpy as np

from nnjax.training import checkpoint_orbax

__all__ = ['latest_checkpoint', 'STALE_TEMP_SECONDS']

# The logger of nnjax.training.checkpoints, whose helpers these are.
logger = logging.getLogger('nnjax.training.checkpoints')

# A step as it may appear in a file name: what str() makes of an int or a
# float (1, -1.0, 0.01, 1e-05, 1e+20), plus forms such as 1e5 and .5.
_NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
_TMP_TAG = '.tmp-'
_ORBAX_TMP_TAG = '.orbax-checkpoint-tmp-'


def step_in_name(name, prefix):
    """The step of file name ``{prefix}{number}``, or None for other names."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if not re.fullmatch(_NUMBER, rest):
        return None
    return float(rest)


def list_checkpoints(ckpt_dir, prefix):
    """``[(step, name)]`` of the checkpoints in ``ckpt_dir``, oldest first."""
    try:
        names = os.listdir(ckpt_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        step = step_in_name(name, prefix)
        if step is not None:
            found.append((step, name))
    found.sort()
    return found


def is_temp_name(name, prefix):
    """Whether ``name`` is a temporary of a save with this prefix.

    Ours are ``.{prefix}{step}.tmp-{host}-{pid}-{hex}`` files (older
    versions wrote ``.{prefix}{step}.tmp-{hex}``); Orbax's are
    ``{prefix}{step}.orbax-checkpoint-tmp-{number}`` directories.
    """
    if name.startswith(prefix) and _ORBAX_TMP_TAG in name:
        final, _, token = name.rpartition(_ORBAX_TMP_TAG)
        return step_in_name(final, prefix) is not None and token.isdigit()
    if not name.startswith('.' + prefix) or _TMP_TAG not in name:
        return False
    final, _, token = name[1:].rpartition(_TMP_TAG)
    return step_in_name(final, prefix) is not None and _TMP_TOKEN.fullmatch(token) is not None


# ``{host}-{pid}-{random}`` of a temporary written by this version, or the
# bare ``{random}`` of older ones.
_TMP_TOKEN = re.compile(r'(?:([0-9a-f]{8})-(\d+)-)?[0-9a-f]+')

#: A temporary file of a live save is never removed by another save; one
#: whose writer is gone (its pid is dead on this host) is, and so is one not
#: modified for this many seconds (a writer on another host, or a pid reused).
STALE_TEMP_SECONDS = 3600


def _host_tag():
    return f'{zlib.crc32(socket.gethostname().encode()):08x}'


def temp_name(name):
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


def is_stale_temp(ckpt_dir, name):
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


def normalize_step(step):
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
    checkpoints = list_checkpoints(os.fspath(ckpt_dir), prefix)
    if not checkpoints:
        return None
    return os.path.join(os.fspath(ckpt_dir), checkpoints[-1][1])


def resolve_path(ckpt_dir, step, prefix):
    """The checkpoint to read, or None where the seed returns the target as is."""
    if step is not None:
        name = f'{prefix}{normalize_step(step)}'
        ckpt_path = os.path.join(ckpt_dir, name)
        if os.path.exists(ckpt_path):
            return ckpt_path
        # A float step may have been saved under its int spelling or the
        # other way round; match by value.
        wanted = float(normalize_step(step))
        same = [n for s, n in list_checkpoints(ckpt_dir, prefix) if s == wanted]
        if not same:
            available = [n for _, n in list_checkpoints(ckpt_dir, prefix)]
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
