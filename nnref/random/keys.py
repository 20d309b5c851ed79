"""PRNG keys: making them, splitting them, folding data in, drawing bits.

A key is two uint32 words for threefry2x32. It comes in two kinds, as in JAX:

* a *raw* key is an ``np.ndarray`` of dtype uint32 and shape ``(..., 2)``
  (what ``PRNGKey`` returns);
* a *typed* key is a :class:`KeyArray`, which wraps the same words and whose
  shape leaves out the trailing 2 (what ``key`` returns).

Every function that takes a key takes either kind and, where it returns keys,
returns the kind it was given. The counter layout is JAX's with
``jax_threefry_partitionable=True`` (its default): the i-th output of ``split``
or ``bits`` hashes the 64-bit counter ``i`` given as (high word, low word).

Seeds follow JAX's default 32-bit mode: ``PRNGKey(seed)`` is ``[0, seed mod
2**32]`` for any integer seed that fits in int64.

>>> import numpy as np
>>> PRNGKey(42)
array([ 0, 42], dtype=uint32)
>>> split(PRNGKey(42), 2)
array([[1832780943,  270669613],
       [  64467757, 2916123636]], dtype=uint32)
>>> k = key(42)
>>> k.shape, key_data(split(k, 3)).shape
((), (3, 2))
"""

import operator

import numpy as np

from nnref.random.dtypes import uint_dtype
from nnref.random.threefry import threefry2x32

__all__ = ["KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits"]

KEY_DTYPE_NAME = "key<fry>"


# What a key must look like, appended to every message about a malformed one.
_KEY_FORMS = (
    "a key is nn.random.key(0) (a typed key of shape ()) or "
    "nn.random.PRNGKey(0) (a uint32 array of shape (2,)); a batch of "
    "raw keys is uint32 of shape (..., 2)"
)


def _check_key_data(data):
    data = np.asarray(data)
    if data.dtype != np.uint32:
        raise TypeError(f"invalid PRNG key data: expected dtype uint32, got {data.dtype}; {_KEY_FORMS}")
    if data.ndim < 1 or data.shape[-1] != 2:
        raise TypeError(f"invalid PRNG key data: expected a shape ending in (2,), got {data.shape}; {_KEY_FORMS}")
    return data


class KeyArray:
    """An array of typed threefry2x32 keys; ``shape`` excludes the two words.

    >>> import numpy as np
    >>> ks = wrap_key_data(np.array([[0, 1], [0, 2]], np.uint32))
    >>> ks.shape, len(ks), ks.dtype
    ((2,), 2, 'key<fry>')
    >>> ks[1] == key(2)
    np.True_
    >>> [int(key_data(k)[1]) for k in ks]
    [1, 2]
    """

    __slots__ = ("_data",)
    __hash__ = None  # mutable-array semantics, as for np.ndarray

    def __init__(self, data):
        data = _check_key_data(data)
        self._data = data

    @property
    def shape(self):
        return self._data.shape[:-1]

    @property
    def ndim(self):
        return self._data.ndim - 1

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self):
        return KEY_DTYPE_NAME

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a scalar key)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a scalar key")
        return (KeyArray(row) for row in self._data)

    def __getitem__(self, index):
        if not isinstance(index, tuple):
            index = (index,)
        # The key words are always the last axis; index only the batch axes.
        return KeyArray(self._data[(*index, slice(None))])

    def __eq__(self, other):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return np.all(self._data == other._data, axis=-1)[()]

    def __ne__(self, other):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return np.any(self._data != other._data, axis=-1)[()]

    def __array__(self, dtype=None, copy=None):
        # As in JAX: turning keys into numbers must be explicit.
        raise TypeError("a KeyArray cannot be converted to a NumPy array; use nnref.random.key_data(keys)")

    def __repr__(self):
        words = np.array2string(self._data, separator=", ")
        return f"KeyArray(shape={self.shape}, dtype={KEY_DTYPE_NAME}, data={words})"


def _normalize_key(k, name, allow_batched=True):
    """(raw uint32 data of shape (..., 2), whether ``k`` was typed).

    The one place where both kinds of key are accepted and checked.
    """
    if isinstance(k, KeyArray):
        data, typed = k._data, True
    elif isinstance(k, (np.ndarray, np.generic)) or (hasattr(k, "__array__") and hasattr(k, "dtype")):
        data, typed = _check_key_data(np.asarray(k)), False
    else:
        raise TypeError(f"{name}: unexpected PRNG key type {type(k).__name__}; {_KEY_FORMS}")
    if not allow_batched and data.ndim != 1:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape {data.shape[:-1]} != ()")
    return data, typed


def _rewrap(data, typed):
    return KeyArray(data) if typed else data


def _canonical_shape(shape, name):
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a sequence of integers, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{name}: shape must be non-negative, got {shape}")
    return shape


def _seed_words(seed, name):
    if isinstance(seed, KeyArray):
        raise TypeError(f"{name} accepts a scalar seed, but was given a PRNG key")
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"{name}: PRNG key seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        if not -(2**63) <= seed < 2**63:
            raise OverflowError(f"{name}: seed {seed} does not fit in int64")
        value = seed
    else:
        arr = np.asarray(seed)
        if arr.ndim:
            raise TypeError(f"{name} accepts a scalar seed, but was given an array of shape {arr.shape} != ()")
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: PRNG key seed must be an integer, got {seed!r}")
        value = int(arr)
    # JAX's default mode holds the seed in 32 bits, so the high word is 0.
    return np.array([0, value % 2**32], dtype=np.uint32)


def PRNGKey(seed):
    """A raw key (uint32 array of shape (2,)) from an integer seed.

    >>> PRNGKey(0), PRNGKey(-1)
    (array([0, 0], dtype=uint32), array([         0, 4294967295], dtype=uint32))
    """
    return _seed_words(seed, "PRNGKey")


def key(seed):
    """A scalar typed key (:class:`KeyArray`) from an integer seed.

    >>> key_data(key(7))
    array([0, 7], dtype=uint32)
    """
    return KeyArray(_seed_words(seed, "key"))


def key_data(keys):
    """The uint32 words under ``keys``, shape ``keys.shape + (2,)``.

    >>> key_data(PRNGKey(3))
    array([0, 3], dtype=uint32)
    """
    data, _ = _normalize_key(keys, "key_data")
    return data


def wrap_key_data(key_bits_array):
    """Typed keys over a uint32 array whose last axis has length 2.

    >>> import numpy as np
    >>> wrap_key_data(np.array([0, 5], np.uint32)) == key(5)
    np.True_
    """
    return KeyArray(np.array(_check_key_data(key_bits_array)))


def _counters(shape):
    """The 64-bit counters 0..prod(shape)-1 as (high, low) uint32 arrays."""
    n = int(np.prod(shape, dtype=np.int64))
    count = np.arange(n, dtype=np.uint64).reshape(shape)
    return (count >> np.uint64(32)).astype(np.uint32), count.astype(np.uint32)


def _hash_counters(data, shape):
    """threefry2x32 of each key in ``data`` over the counters of ``shape``.

    Output arrays have shape ``data.shape[:-1] + shape``.
    """
    hi, lo = _counters(shape)
    expand = (Ellipsis,) + (None,) * len(shape)
    return threefry2x32(data[..., 0][expand], data[..., 1][expand], hi, lo)


def _split_data(data, shape):
    b0, b1 = _hash_counters(data, shape)
    return np.stack([b0, b1], axis=-1)


def split(key, num=2):
    """Split ``key`` into ``num`` new keys (``num`` an int or a shape).

    Batched keys are split one by one: the result has shape
    ``keys.shape + num_shape`` (JAX needs ``vmap`` for that).

    >>> split(PRNGKey(0), (2, 3)).shape
    (2, 3, 2)
    >>> split(key(0)).shape
    (2,)
    """
    data, typed = _normalize_key(key, "split")
    shape = (num,) if np.ndim(num) == 0 and not isinstance(num, tuple) else num
    shape = _canonical_shape(shape, "split")
    return _rewrap(_split_data(data, shape), typed)


def _fold_in_word(value):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("fold_in data must be an integer")
    if isinstance(value, int):
        if not 0 <= value < 2**32:
            raise OverflowError(f"fold_in data {value} out of bounds for uint32")
        return np.uint32(value)
    arr = np.asarray(value)
    if arr.ndim:
        raise TypeError(f"fold_in accepts a scalar, but was given an array of shape {arr.shape} != ()")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"fold_in data must be an integer, got {arr.dtype}")
    # A NumPy integer is reinterpreted modulo 2**32, as a dtype cast does.
    return arr.astype(np.uint32)[()]


def fold_in(key, data):
    """Mix the 32-bit integer ``data`` into ``key``: hash the counter (0, data).

    >>> fold_in(PRNGKey(42), 7).shape
    (2,)
    """
    keys, typed = _normalize_key(key, "fold_in")
    word = _fold_in_word(data)
    b0, b1 = threefry2x32(keys[..., 0], keys[..., 1], np.uint32(0), word)
    return _rewrap(np.stack([b0, b1], axis=-1), typed)


def _bits_from_data(data, bit_width, shape):
    """Random words of ``bit_width`` bits for one raw key, of shape ``shape``."""
    b0, b1 = _hash_counters(data, shape)
    if bit_width == 64:
        return (b0.astype(np.uint64) << np.uint64(32)) | b1.astype(np.uint64)
    # Narrower words keep the low bits of the XOR of the two outputs.
    return (b0 ^ b1).astype(uint_dtype(bit_width))


def bits(key, shape=(), dtype=np.uint32):
    """Uniform random bits as unsigned integers of ``dtype``.

    >>> bits(PRNGKey(0), (3,), np.uint8).dtype
    dtype('uint8')
    """
    data, _ = _normalize_key(key, "bits", allow_batched=False)
    dtype = np.dtype(np.uint32 if dtype is None else dtype)
    if dtype.kind != "u":
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dtype}")
    shape = _canonical_shape(shape, "bits")
    return _bits_from_data(data, dtype.itemsize * 8, shape)
