"""Reading a checkpoint file back: decoding it, and checking it against a target.

Decoding failures become ``CorruptCheckpointError`` with a reason a person
can act on (empty, truncated, not msgpack, trailing bytes); a state dict
that does not fit the restore target gives the first difference, in sorted
key order, for ``CheckpointMismatchError``.

>>> import numpy as np
>>> first_mismatch({'w': np.zeros((2, 3), np.float32)}, {'w': np.zeros((3, 2), np.float32)})
('/w', 'shape', (2, 3), (3, 2))
>>> first_mismatch({'step': 0}, {'step': 7}) is None
True
"""

import dataclasses
import logging
import numbers
import os
import stat

import numpy as np

from nnjax import serialization
from shared_spec.errors import CorruptCheckpointError
from shared_spec.frozen_dict import FrozenDict


def _dtype_name(dtype):
    return getattr(dtype, 'name', str(dtype))


def _describe(value):
    """A short description of a state-dict node, for mismatch errors."""
    if isinstance(value, dict):
        return f'a dict with keys {sorted(map(str, value))}'
    if hasattr(value, 'shape') and hasattr(value, 'dtype'):
        return f'a {_dtype_name(value.dtype)} array of shape {tuple(value.shape)}'
    return f'a leaf of type {type(value).__name__}'


def _is_array(x):
    return hasattr(x, 'shape') and hasattr(x, 'dtype')


def _is_scalar(x):
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, str)


def first_mismatch(expected, found, path='', strict=True):
    """The first difference, in sorted key order, as ``(key_path, what, expected, found)``.

    ``expected`` is the target's state dict, ``found`` the file's. None if
    they fit: the same keys at every dict node, and, with ``strict``, at
    each leaf the same shape (and dtype, when both sides are arrays). A
    ``None`` in the target accepts whatever the file holds there; a Python
    scalar accepts any scalar or 0-d array.
    """
    where = path or '/'
    if expected is None:
        return None
    if isinstance(expected, dict):
        expected_keys = sorted(map(str, expected))
        if not isinstance(found, dict):
            return where, 'keys', expected_keys, _describe(found)
        found_by_name = {str(k): k for k in found}
        found_keys = sorted(found_by_name)
        if found_keys != expected_keys:
            return where, 'keys', expected_keys, found_keys
        expected_by_name = {str(k): k for k in expected}
        for key in expected_keys:
            mismatch = first_mismatch(
                expected[expected_by_name[key]], found[found_by_name[key]], f'{path}/{key}', strict
            )
            if mismatch is not None:
                return mismatch
        return None
    if isinstance(found, dict):
        return where, 'keys', _describe(expected), sorted(map(str, found))
    if not strict:
        return None
    if _is_array(expected):
        if not (_is_array(found) or _is_scalar(found)):
            return where, 'shape', tuple(expected.shape), _describe(found)
        if tuple(expected.shape) != tuple(np.shape(found)):
            return where, 'shape', tuple(expected.shape), tuple(np.shape(found))
        if _is_array(found) and expected.dtype != found.dtype:
            return (where, 'dtype', _dtype_name(expected.dtype), _dtype_name(found.dtype))
        return None
    if _is_scalar(expected):
        if _is_array(found) and tuple(found.shape) != ():
            return where, 'shape', (), tuple(found.shape)
        if not (_is_array(found) or _is_scalar(found)):
            return where, 'shape', (), _describe(found)
    return None


logger = logging.getLogger('nnjax.training.checkpoints')


def _children(target):
    """{state-dict key: child} of a container the seed restores field by field."""
    if isinstance(target, tuple) and hasattr(target, '_fields'):  # namedtuple
        return {f: getattr(target, f) for f in target._fields}
    if type(target) in (list, tuple):
        return {str(i): x for i, x in enumerate(target)}
    if dataclasses.is_dataclass(target) and not isinstance(target, type):
        return {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    return None


def drop_unused_keys(target, state, dropped=None, path=''):
    """``state`` without the entries a plain dict of ``target`` has no key for.

    The seed restores a dict node from any state dict that holds *at least*
    the target's keys and ignores the rest, so a target may pick a part of a
    checkpoint (its other containers -- dataclasses, lists, namedtuples --
    still need their exact fields, and keep them here). The paths dropped are
    appended to ``dropped``.

    >>> drop_unused_keys({'params': {'w': 0}}, {'params': {'w': 1, 'b': 2}, 'step': 3})
    {'params': {'w': 1}}
    """
    if not isinstance(state, dict):
        return state
    if type(target) in (dict, FrozenDict):
        by_name = {str(k): v for k, v in target.items()}
        if dropped is not None:
            dropped.extend(f'{path}/{k}' for k in state if str(k) not in by_name)
        return {
            k: drop_unused_keys(by_name[str(k)], v, dropped, f'{path}/{k}')
            for k, v in state.items()
            if str(k) in by_name
        }
    children = _children(target)
    if children is None:
        return state
    return {
        k: drop_unused_keys(children[str(k)], v, dropped, f'{path}/{k}') if str(k) in children else v
        for k, v in state.items()
    }


def log_reshaped(path, expected, found):
    """Log the leaves whose shape in the checkpoint differs from the target's.

    A non-strict restore takes the checkpoint's shapes, as the seed system
    does; the log names the first leaf where that happened.
    """
    mismatch = first_mismatch(expected, found, strict=True)
    if mismatch is not None and mismatch[1] == 'shape':
        logger.warning(
            'Restoring %s: %s has shape %s in the checkpoint and %s in '
            'the target; the checkpoint\'s shape is kept (strict=True '
            'refuses this).',
            path,
            mismatch[0],
            mismatch[3],
            mismatch[2],
        )


def rebuild(target, state, strict):
    """``from_state_dict(target, state)``, at the state's shapes unless ``strict``."""
    if strict:
        return serialization.from_state_dict(target, state)
    with serialization.leaf_shapes_unchecked():
        return serialization.from_state_dict(target, state)


def _corruption_reason(error):
    reason = getattr(error, 'reason', None)  # serialization's decoding errors
    if reason is not None:
        return reason
    return f'decoding failed with {type(error).__name__}: {error}'


_FILE_KINDS = [
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO (named pipe)'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
    (stat.S_ISSOCK, 'a socket'),
]


def _not_regular(mode):
    kind = next((what for test, what in _FILE_KINDS if test(mode)), 'not a regular file')
    return f'it is {kind}, not a regular file, so it was not read'


def read_bytes(path):
    """The bytes of regular file ``path``; anything else raises CorruptCheckpointError.

    The file is opened without blocking (a FIFO with no writer would hang a
    plain ``open``), checked with ``fstat`` on the open descriptor (so a
    symlink swapped meanwhile cannot slip through) and read up to its size
    at that moment, never more: a device such as ``/dev/zero`` behind a
    symlink is refused before any read.
    """
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_BINARY', 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise CorruptCheckpointError(path, _not_regular(stat.S_IFDIR)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptCheckpointError(path, _not_regular(info.st_mode))
        size = info.st_size
        chunks = []
        remaining = size
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 26))
            if not chunk:
                break  # the file shrank meanwhile: decoding will say it is truncated
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    return b''.join(chunks)


def read_state(path, expect_dict):
    """The state dict stored in file ``path``, or CorruptCheckpointError.

    ``expect_dict``: the restore target is a tree, so the file must hold one.
    Otherwise the file may also hold a single leaf (a checkpoint of one
    array), but never a msgpack list, which no state dict contains.
    """
    data = read_bytes(path)
    if not data:
        raise CorruptCheckpointError(path, 'the file is empty (0 bytes)')
    try:
        state = serialization.msgpack_restore(data)
    except Exception as e:  # noqa: BLE001 - any decoding failure means corrupt
        raise CorruptCheckpointError(path, _corruption_reason(e)) from e
    if (expect_dict and not isinstance(state, dict)) or isinstance(state, (list, tuple)):
        raise CorruptCheckpointError(path, f'it decodes to {_describe(state)}, not to a state dict')
    return state
