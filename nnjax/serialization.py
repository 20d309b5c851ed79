"""``nnjax.serialization``: state dicts, and msgpack bytes in the seed's layout.

Two layers, as in the seed system:

* **State dicts.** :func:`to_state_dict` turns an object into nested plain
  dicts with string keys and array (or scalar) leaves; :func:`from_state_dict`
  pours such a dict back into a *target* of the same structure. Dicts,
  FrozenDicts, lists, tuples and namedtuples are built in; other types join
  with :func:`register_serialization_state` (``nnjax.struct`` dataclasses do
  so automatically). Lists and tuples become dicts keyed ``'0'``, ``'1'``, ...
  and namedtuples dicts keyed by field name.
* **Bytes.** :func:`msgpack_serialize` / :func:`msgpack_restore` write and read
  such a tree with msgpack. An array is a msgpack extension of type 1 whose
  payload is itself msgpack of ``(shape, dtype name, C-order raw bytes)``; a
  Python complex is type 2 holding ``(real, imag)``; a NumPy scalar is type 3,
  written like a 0-d array. Arrays larger than :data:`MAX_CHUNK_SIZE` bytes
  are split into the seed's ``{'__msgpack_chunked_array__': True, 'shape':
  ..., 'chunks': ...}`` form, because msgpack cannot hold one object of 4 GiB
  or more.
  Files written here load in the seed system and the other way round.

Restoring never unpickles: only the three extension types above are decoded
and only numeric and bool dtypes are accepted. Bytes that are not what
:func:`msgpack_serialize` writes (another extension type, an array record
whose byte size does not fit its shape and dtype, a negative shape, an
unknown dtype, or msgpack's own ``ExtraData``/``StackError``/``FormatError``/
``OutOfData``) raise ``ValueError`` saying what is wrong;
``nnjax.training.checkpoints`` reports them as ``CorruptCheckpointError``
naming the file.

>>> import numpy as np
>>> params = {'Dense_0': {'kernel': np.ones((2, 3), np.float32), 'bias': np.zeros(3)}}
>>> restored = from_bytes(params, to_bytes(params))
>>> restored['Dense_0']['kernel'].shape, restored['Dense_0']['bias'].dtype
((2, 3), dtype('float64'))
>>> to_state_dict((1, [2, 3]))
{'0': 1, '1': {'0': 2, '1': 3}}
"""

import contextlib
import enum
import math
import threading
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import msgpack
import numpy as np

from shared_spec.frozen_dict import FrozenDict

__all__ = [
    'to_state_dict',
    'from_state_dict',
    'register_serialization_state',
    'current_path',
    'is_serializable',
    'msgpack_serialize',
    'msgpack_restore',
    'to_bytes',
    'from_bytes',
    'MAX_CHUNK_SIZE',
]


# --- state dicts -------------------------------------------------------------

_STATE_DICT_REGISTRY = {}


class _NamedTuple:
    """Registry key standing for every namedtuple class (they share handlers)."""


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, '_fields')


def _registry_key(x):
    # Dispatch is on the exact type, as in the seed: a dict subclass is a
    # leaf unless registered itself.
    return _NamedTuple if _is_namedtuple(x) else type(x)


def is_serializable(target):
    """Whether ``target`` (an object or a class) has registered state-dict handlers.

    Dispatch is on the exact type, as in ``to_state_dict``; every namedtuple
    class shares one registration.

    >>> import collections
    >>> is_serializable({'a': 1}), is_serializable(dict), is_serializable(object())
    (True, True, False)
    >>> is_serializable(collections.namedtuple('Point', 'x y'))
    True
    """
    cls = target if isinstance(target, type) else type(target)
    if issubclass(cls, tuple) and hasattr(cls, '_fields'):
        cls = _NamedTuple
    return cls in _STATE_DICT_REGISTRY


class _RestorePath(threading.local):
    """The branch names from_state_dict has walked down, per thread, and
    whether leaf shapes are checked on this thread."""

    def __init__(self):
        self.names = []
        self.check_shapes = True


_restore_path = _RestorePath()


@contextlib.contextmanager
def _entered(name):
    _restore_path.names.append(name)
    try:
        yield
    finally:
        _restore_path.names.pop()


@contextlib.contextmanager
def leaf_shapes_unchecked():
    """Within the block, :func:`from_state_dict` takes a leaf of any shape and dtype.

    For restores that follow the seed system, which takes the state's
    shapes (``nnjax.training.checkpoints.restore_checkpoint`` without
    ``strict``).

    >>> import numpy as np
    >>> with leaf_shapes_unchecked():
    ...     from_state_dict({'w': np.zeros(2)}, {'w': np.ones(3)})
    {'w': array([1., 1., 1.])}
    """
    previous = _restore_path.check_shapes
    _restore_path.check_shapes = False
    try:
        yield
    finally:
        _restore_path.check_shapes = previous


def current_path():
    """The path :func:`from_state_dict` is restoring, for error messages.

    Written ``'/a/b'``; the default root name ``'.'`` shows as ``'/'``. Custom
    ``from_fn`` handlers can put it in their own errors.

    >>> current_path()
    '/'
    """
    names = list(_restore_path.names)
    if not names or names[0] == '.':
        return '/' + '/'.join(names[1:])
    return '/'.join(names)


def register_serialization_state(ty, ty_to_state_dict, ty_from_state_dict, override=False):
    """Teach :func:`to_state_dict` / :func:`from_state_dict` about type ``ty``.

    Args:
      ty: the type (matched exactly, subclasses are not included).
      ty_to_state_dict: ``obj -> dict`` with string keys.
      ty_from_state_dict: ``(target, state_dict) -> new object``.
      override: replace an existing registration instead of raising.

    >>> class Counter:
    ...     def __init__(self, n):
    ...         self.n = n
    >>> register_serialization_state(
    ...     Counter, lambda c: {'n': c.n},
    ...     lambda c, state: Counter(from_state_dict(c.n, state['n'], name='n')))
    >>> from_state_dict(Counter(0), to_state_dict(Counter(5))).n
    5
    """
    if ty in _STATE_DICT_REGISTRY and not override:
        raise ValueError(
            f'A serialization handler for {ty.__name__!r} is already registered; pass override=True to replace it.'
        )
    _STATE_DICT_REGISTRY[ty] = (ty_to_state_dict, ty_from_state_dict)


def to_state_dict(target):
    """The state of ``target`` as nested dicts; unregistered objects are leaves.

    >>> to_state_dict({'params': {'w': 1.0}, 'steps': (1, 2)})
    {'params': {'w': 1.0}, 'steps': {'0': 1, '1': 2}}
    >>> to_state_dict(3)
    3
    """
    handlers = _STATE_DICT_REGISTRY.get(_registry_key(target))
    if handlers is None:
        return target
    state = handlers[0](target)
    if not isinstance(state, dict):
        raise TypeError(
            f'The to_state_dict handler for {type(target).__name__} returned '
            f'a {type(state).__name__}; a state dict must be a plain dict.'
        )
    bad = [k for k in state if not isinstance(k, str)]
    if bad:
        raise TypeError(
            f'The to_state_dict handler for {type(target).__name__} returned '
            f'non-string keys {bad!r}; state dict keys must be strings.'
        )
    return state


def from_state_dict(target, state, name='.', *, strict=None):
    """A copy of ``target`` holding the values of ``state``.

    ``target`` fixes the structure (only its containers and leaf shapes are
    used, not its leaf values). A key or field of the target missing from
    ``state``, a list of another length, an unknown dataclass field, a leaf
    of another shape or dtype, or a dict where the target has an array
    raises ``ValueError`` naming the path, e.g.
    ``'/params/Dense_0/kernel'``. As in the seed, extra keys of a state *dict*
    are ignored, so a target may pick a part of a larger state.

    The leaf shape/dtype check is an nnjax choice the seed does not make (it
    takes any leaf): a direct rebuild with another shape is usually a bug,
    and the seed's guides never rely on it. ``strict=False`` takes the
    state's leaves as they are, like the seed (so does
    ``nnjax.training.checkpoints.restore_checkpoint`` by default);
    ``strict=None`` (the default) keeps the setting of an enclosing call or
    :func:`leaf_shapes_unchecked` block, and checks otherwise.

    >>> import numpy as np
    >>> target = {'w': np.zeros(2), 'opt': (0, 0)}
    >>> from_state_dict(target, {'w': np.ones(2), 'opt': {'0': 1, '1': 2}})
    {'w': array([1., 1.]), 'opt': (1, 2)}
    >>> from_state_dict(target, {'w': np.ones(3), 'opt': {'0': 1, '1': 2}})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: from_state_dict: shape mismatch at '/w': the target has shape (2,), ...
    >>> from_state_dict(target, {'w': np.ones(3), 'opt': {'0': 1, '1': 2}}, strict=False)
    {'w': array([1., 1., 1.]), 'opt': (1, 2)}
    """
    if strict is not None:
        previous = _restore_path.check_shapes
        _restore_path.check_shapes = bool(strict)
        try:
            return from_state_dict(target, state, name)
        finally:
            _restore_path.check_shapes = previous
    handlers = _STATE_DICT_REGISTRY.get(_registry_key(target))
    with _entered(name):
        if handlers is None:
            _check_leaf(target, state, _restore_path.check_shapes)
            return state
        return handlers[1](target, state)


def _check_leaf(target, state, check_shape_and_dtype):
    """Refuse a state leaf that cannot stand for the target's array leaf.

    A dict where the target has an array is always refused; with
    ``check_shape_and_dtype``, so is an array of another shape or dtype.
    """
    target_shape = getattr(target, 'shape', None)
    target_dtype = getattr(target, 'dtype', None)
    if target_shape is None or target_dtype is None:
        return
    if isinstance(state, Mapping):
        raise ValueError(
            f"from_state_dict: at '{current_path()}' the target is an array "
            f'of shape {tuple(target_shape)}, but the state holds a dict with '
            f'keys {sorted(map(str, state))}. Check that the state was saved '
            'from an object of the same structure.'
        )
    if not check_shape_and_dtype:
        return
    state_shape = getattr(state, 'shape', None)
    if state_shape is None:
        return
    if tuple(target_shape) != tuple(state_shape):
        raise ValueError(
            f"from_state_dict: shape mismatch at '{current_path()}': the "
            f'target has shape {tuple(target_shape)}, the state has shape '
            f'{tuple(state_shape)}. Restore into a target built for the saved '
            'model (same shapes), or reshape the state first.'
        )
    state_dtype = getattr(state, 'dtype', None)
    if state_dtype is not None and state_dtype != target_dtype:
        raise ValueError(
            f"from_state_dict: dtype mismatch at '{current_path()}': the "
            f'target has dtype {_dtype_label(target_dtype)}, the state has '
            f'dtype {_dtype_label(state_dtype)}. Restore into a target built '
            'with the saved dtypes, or cast the state first (e.g. '
            'jax.tree.map(lambda x: x.astype(...), state)).'
        )


def _dtype_label(dtype):
    return getattr(dtype, 'name', str(dtype))


def _expect_mapping(state, what):
    if not isinstance(state, Mapping):
        raise ValueError(
            f"from_state_dict: at '{current_path()}' the target is a {what}, "
            f'so the state must be a dict, but it is a {type(state).__name__}. '
            'Check that the state was saved from an object of the same '
            'structure.'
        )


def _string_keys(xs):
    """``{str(key): key}``; two keys with one string form cannot round-trip."""
    keys = {str(k): k for k in xs}
    if len(keys) != len(xs):
        raise ValueError(
            f'Dict keys {list(xs)!r} do not have unique string forms, so they cannot be told apart in a state dict.'
        )
    return keys


def _dict_to_state(xs):
    _string_keys(xs)
    return {str(k): to_state_dict(v) for k, v in xs.items()}


def _restore_mapping(xs, state, what):
    _expect_mapping(state, what)
    missing = [s for s in _string_keys(xs) if s not in state]
    if missing:
        raise ValueError(
            f"from_state_dict: the state at '{current_path()}' lacks key(s) "
            f'{missing} that the target {what} has (state keys: '
            f'{sorted(map(str, state))}). Restore into a target with the '
            'structure that was saved, or add the missing entries to the state.'
        )
    return {k: from_state_dict(v, state[str(k)], name=str(k)) for k, v in xs.items()}


def _restore_dict(xs, state):
    return _restore_mapping(xs, state, 'dict')


def _restore_frozen_dict(xs, state):
    return FrozenDict(_restore_mapping(xs, state, 'FrozenDict'))


def _sequence_to_state(xs):
    return {str(i): to_state_dict(x) for i, x in enumerate(xs)}


def _restore_items(xs, state, what):
    _expect_mapping(state, what)
    expected = [str(i) for i in range(len(xs))]
    if len(state) != len(xs) or sorted(map(str, state)) != sorted(expected):
        raise ValueError(
            f"from_state_dict: the target {what} at '{current_path()}' has "
            f'{len(xs)} entries (keys {expected}), but the state has '
            f'{len(state)} (keys {sorted(map(str, state))}). Restore into a '
            f'target of the saved length.'
        )
    return [from_state_dict(x, state[k], name=k) for x, k in zip(xs, expected)]


def _restore_list(xs, state):
    return _restore_items(xs, state, 'list')


def _restore_tuple(xs, state):
    return tuple(_restore_items(xs, state, 'tuple'))


def _namedtuple_to_state(nt):
    return {field: to_state_dict(getattr(nt, field)) for field in nt._fields}


def _restore_namedtuple(nt, state):
    what = f'namedtuple {type(nt).__name__}'
    _expect_mapping(state, what)
    if set(state) != set(nt._fields):
        raise ValueError(
            f"from_state_dict: the {what} at '{current_path()}' has fields "
            f'{list(nt._fields)}, but the state has keys {sorted(map(str, state))}.'
        )
    return type(nt)(**{field: from_state_dict(getattr(nt, field), state[field], name=field) for field in nt._fields})


register_serialization_state(dict, _dict_to_state, _restore_dict)
register_serialization_state(FrozenDict, _dict_to_state, _restore_frozen_dict)
register_serialization_state(list, _sequence_to_state, _restore_list)
register_serialization_state(tuple, _sequence_to_state, _restore_tuple)
register_serialization_state(_NamedTuple, _namedtuple_to_state, _restore_namedtuple)


# --- msgpack -----------------------------------------------------------------

#: Arrays above this many bytes are written in chunks (msgpack's limit for
#: one object is 2**32 - 1 bytes; the seed keeps a wide margin).
MAX_CHUNK_SIZE = 2**30

_CHUNKED_MARK = '__msgpack_chunked_array__'


class _ExtType(enum.IntEnum):
    """The msgpack extension type codes of the seed's format."""

    NDARRAY = 1
    NATIVE_COMPLEX = 2
    NPSCALAR = 3


def _ndarray_to_bytes(arr):
    arr = np.asarray(arr)
    if arr.dtype.hasobject or arr.dtype.names is not None:
        raise TypeError(
            f'Cannot serialize an array of dtype {arr.dtype}: only plain '
            'numeric, bool and ml_dtypes (bfloat16, float8, int4, ...) arrays '
            'are supported, not object or structured dtypes.'
        )
    if not arr.dtype.isnative:
        # The dtype name does not carry byte order; readers assume native
        # (little-endian) bytes.
        arr = arr.astype(arr.dtype.newbyteorder('='))
    return msgpack.packb((arr.shape, arr.dtype.name, arr.tobytes('C')), use_bin_type=True)


class _CorruptData(ValueError):
    """Bytes that are not what :func:`msgpack_serialize` writes.

    ``reason`` says what is wrong, without the function name, so that
    checkpoint restores can put it into ``CorruptCheckpointError``.
    """

    def __init__(self, reason):
        self.reason = reason
        super().__init__(f'msgpack_restore: the data is corrupt: {reason}.')


def _dtype_from_name(name):
    if isinstance(name, bytes):
        try:
            name = name.decode('ascii')
        except UnicodeDecodeError:
            name = None
    if not isinstance(name, str):
        raise _CorruptData(f'an array record has dtype name {_short(name)}, not a string')
    # jnp.dtype also knows the ml_dtypes names (bfloat16, float8_*, int4)
    # that plain np.dtype does not.
    try:
        dtype = jnp.dtype(name)
    except Exception:  # noqa: BLE001 - numpy raises TypeError or others
        raise _CorruptData(f'an array record has unknown dtype {name!r}') from None
    if dtype.hasobject:
        raise _CorruptData(
            f'refusing to restore an array of dtype {name!r}: object arrays could carry arbitrary Python objects'
        )
    if not (jnp.issubdtype(dtype, jnp.number) or dtype == np.bool_):
        raise _CorruptData(f'an array record has dtype {name!r}; only numeric and bool arrays are written')
    return dtype


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _ndarray_from_bytes(data):
    record = msgpack.unpackb(data, raw=True)
    if not (isinstance(record, (list, tuple)) and len(record) == 3):
        raise _CorruptData('an array record is not (shape, dtype name, bytes)')
    shape, dtype_name, buffer = record
    if not (isinstance(shape, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)):
        raise _CorruptData(f'an array record has shape {_short(shape)}, not a list of ints')
    if any(d < 0 for d in shape):
        raise _CorruptData(f'an array record has negative shape {tuple(shape)}')
    dtype = _dtype_from_name(dtype_name)
    if not isinstance(buffer, bytes):
        raise _CorruptData('an array record holds no byte string')
    # Python ints: a huge declared shape cannot overflow here.
    expected = math.prod(shape) * dtype.itemsize
    if expected != len(buffer):
        raise _CorruptData(
            f'an array record declares shape {tuple(shape)} and dtype '
            f'{dtype.name} ({expected} bytes) but holds {len(buffer)} bytes'
        )
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order='C')


def _ext_pack(x):
    """msgpack ``default`` hook: the values msgpack cannot write natively."""
    if isinstance(x, (np.ndarray, jax.Array)):
        return msgpack.ExtType(_ExtType.NDARRAY, _ndarray_to_bytes(x))
    # Before complex: np.complex128 is both a NumPy scalar and a complex,
    # and the seed writes NumPy scalars as type 3.
    if isinstance(x, np.generic):
        return msgpack.ExtType(_ExtType.NPSCALAR, _ndarray_to_bytes(np.asarray(x)))
    if isinstance(x, complex):
        return msgpack.ExtType(_ExtType.NATIVE_COMPLEX, msgpack.packb((x.real, x.imag)))
    raise TypeError(
        f'Cannot msgpack-serialize an object of type {type(x).__name__}. '
        'msgpack_serialize takes trees of dict/list/tuple with arrays and '
        'Python scalars; for other objects use to_bytes, after '
        'register_serialization_state if the type is your own.'
    )


def _ext_unpack(code, data):
    if code == _ExtType.NDARRAY:
        return _ndarray_from_bytes(data)
    if code == _ExtType.NATIVE_COMPLEX:
        parts = msgpack.unpackb(data)
        if not (
            isinstance(parts, (list, tuple))
            and len(parts) == 2
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts)
        ):
            raise _CorruptData('a complex record is not (real, imag)')
        return complex(*parts)
    if code == _ExtType.NPSCALAR:
        array = _ndarray_from_bytes(data)
        if array.ndim:
            raise _CorruptData(f'a NumPy scalar record has shape {array.shape}, not ()')
        return array[()]
    raise _CorruptData(
        f'msgpack extension type {code} is unknown (checkpoints use types 1: array, 2: complex, 3: NumPy scalar)'
    )


def _chunk(arr):
    """The seed's chunked form of a large array: flat pieces below the limit."""
    chunk_len = max(1, int(MAX_CHUNK_SIZE / arr.dtype.itemsize))
    flat = arr.reshape(-1)
    chunks = [flat[i : i + chunk_len] for i in range(0, flat.size, chunk_len)]
    return {
        _CHUNKED_MARK: True,
        'shape': {str(i): int(d) for i, d in enumerate(arr.shape)},
        'chunks': {str(i): c for i, c in enumerate(chunks)},
    }


def _unchunk(data):
    try:
        shape = tuple(data['shape'][str(i)] for i in range(len(data['shape'])))
        chunks = [data['chunks'][str(i)] for i in range(len(data['chunks']))]
    except (KeyError, TypeError) as e:
        raise _CorruptData(f'a chunked array lacks {e}') from None
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise _CorruptData(f'a chunked array has shape {_short(shape)}, not a list of non-negative ints')
    if not chunks or not all(isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype == chunks[0].dtype for c in chunks):
        raise _CorruptData('the chunks of a chunked array are not flat arrays of one dtype')
    size = sum(c.size for c in chunks)
    if size != math.prod(shape):
        raise _CorruptData(f'a chunked array declares shape {shape} but its chunks hold {size} elements')
    return np.concatenate(chunks).reshape(shape)


def _prepare(node, in_place):
    """The tree as msgpack can write it: plain dicts/lists, NumPy leaves, chunks.

    With ``in_place`` the caller's plain dicts and lists are reused and
    updated; otherwise fresh containers are built and the input is untouched.
    """
    if isinstance(node, Mapping):
        out = node if (in_place and type(node) is dict) else {}
        for key, value in node.items():
            out[key] = _prepare(value, in_place)
        return out
    if isinstance(node, (list, tuple)):
        # strict_types packs only exact lists; tuples and namedtuples are
        # written as msgpack arrays too (they come back as lists).
        items = [_prepare(value, in_place) for value in node]
        if in_place and type(node) is list:
            node[:] = items
            return node
        return items
    if isinstance(node, jax.Array):
        node = np.asarray(node)
    if isinstance(node, np.ndarray) and node.nbytes > MAX_CHUNK_SIZE:
        return _chunk(node)
    return node


def _restore_chunks(node):
    if isinstance(node, dict):
        if _CHUNKED_MARK in node:
            return _unchunk(node)
        for key, value in node.items():
            node[key] = _restore_chunks(value)
    elif isinstance(node, list):
        node[:] = [_restore_chunks(value) for value in node]
    return node


def msgpack_serialize(pytree, in_place=False):
    """msgpack bytes of a tree of dicts/lists/tuples with array and scalar leaves.

    JAX arrays are copied to host memory; arrays above :data:`MAX_CHUNK_SIZE`
    bytes are chunked. ``in_place=True`` lets the conversion reuse (and
    overwrite) the caller's dicts and lists instead of copying them.

    >>> import numpy as np
    >>> msgpack_serialize({'a': np.int8(1)})
    b'\\x81\\xa1a\\xc7\\n\\x03\\x93\\x90\\xa4int8\\xc4\\x01\\x01'
    """
    return msgpack.packb(_prepare(pytree, in_place), default=_ext_pack, strict_types=True)


def msgpack_restore(encoded_pytree):
    """The tree written by :func:`msgpack_serialize`; arrays come back as NumPy.

    Restored arrays are read-only views of the input bytes (no copy), except
    chunked ones, which are reassembled into new arrays.

    >>> import numpy as np
    >>> msgpack_restore(msgpack_serialize({'x': np.arange(3), 'z': 1 + 2j}))
    {'x': array([0, 1, 2]), 'z': (1+2j)}
    """
    if not isinstance(encoded_pytree, (bytes, bytearray, memoryview)):
        raise TypeError(
            'msgpack_restore takes bytes (e.g. from to_bytes or a file opened '
            f"with 'rb'), got {type(encoded_pytree).__name__}."
        )
    try:
        tree = msgpack.unpackb(encoded_pytree, ext_hook=_ext_unpack, raw=False, strict_map_key=False)
        return _restore_chunks(tree)
    except _CorruptData:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.exceptions.UnpackException) as e:
        raise _CorruptData(_decode_failure(e)) from e


def _decode_failure(error):
    """What a msgpack decoding error means, in words."""
    text = str(error)
    if isinstance(error, msgpack.exceptions.ExtraData):
        return (
            'bytes follow the end of the msgpack data, so it is not one '
            'msgpack document (not msgpack_serialize output, or damaged)'
        )
    if isinstance(error, (msgpack.exceptions.StackError, RecursionError)):
        return 'it nests deeper than msgpack allows (not a checkpoint)'
    if isinstance(error, msgpack.exceptions.FormatError):
        return 'it is not msgpack data (invalid type byte)'
    if isinstance(error, msgpack.exceptions.OutOfData) or 'incomplete input' in text or 'exceeds max' in text:
        return 'the msgpack data ends early: it is truncated (an interrupted copy or write?)'
    if isinstance(error, TypeError) and 'unhashable' in text:
        return f'a map has a key that cannot be a dict key ({text})'
    return f'decoding failed with {type(error).__name__}: {text}'


def to_bytes(target):
    """msgpack bytes of ``to_state_dict(target)``.

    >>> to_bytes({'step': 1})
    b'\\x81\\xa4step\\x01'
    """
    return msgpack_serialize(to_state_dict(target))


def from_bytes(target, encoded_bytes):
    """A copy of ``target`` restored from :func:`to_bytes` output.

    >>> from_bytes((0, 0.0), to_bytes((3, 0.5)))
    (3, 0.5)
    """
    return from_state_dict(target, msgpack_restore(encoded_bytes))
