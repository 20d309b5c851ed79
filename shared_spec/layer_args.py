"""Checks of layer fields and call inputs, shared by both backends so their messages cannot drift.

Each layer checks its fields where it first uses them (in ``__call__`` or
``setup``, not at construction) and its array inputs as they enter. Every
check is O(1): it reads a Python scalar, a short tuple, or an array's
``dtype``/``ndim``, never the array's elements. A failed check raises
``TypeError`` (the wrong kind of value: a float or a string where an int
belongs, ``None`` or text where an array belongs) or ``ValueError`` (the right
kind, out of range), with a message naming the layer, its module path, the
field or argument, the value received and what is expected.

>>> positive_int(3, field='features', layer='Dense', path='/mlp/Dense_0')
3
>>> positive_int(0, field='features', layer='Dense', path='/mlp/Dense_0')
Traceback (most recent call last):
...
ValueError: Dense at module path '/mlp/Dense_0': features=0 is invalid; expected a positive int (>= 1).
>>> window_dims((2, 1), 2, field='strides', layer='Conv', path='/Conv_0')
(2, 1)
>>> in_unit_interval(1.5, field='momentum', layer='BatchNorm', path='/BatchNorm_0')
Traceback (most recent call last):
...
ValueError: BatchNorm at module path '/BatchNorm_0': momentum=1.5 is invalid; expected a number in [0, 1].
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    'where',
    'positive_int',
    'optional_positive_int',
    'kernel_dims',
    'window_dims',
    'non_negative',
    'in_unit_interval',
    'callable_members',
    'array_input',
    'check_array',
    'non_empty_output',
    'padded_output_dims',
    'non_empty_batch',
    'integer_ids',
]

# dtype kinds that hold no numbers: objects, bytes, str.
_NON_NUMERIC_KINDS = frozenset('OSU')


def where(layer, path=None) -> str:
    """``"Dense at module path '/a/b'"``: who a message is about.

    ``layer`` is a name, or the module itself (its class name and module path
    are then read only when a check fails, keeping the passing path cheap).
    ``path`` None (an unbound module, or a function) gives the name alone.

    >>> where('Dense', '/a/b'), where('max_pool')
    ("Dense at module path '/a/b'", 'max_pool')
    """
    if not isinstance(layer, str):
        module = layer
        layer = type(module).__name__
        if path is None:
            describe = getattr(module, '_path_text_or_none', None)
            path = describe() if describe is not None else None
    return layer if path is None else f"{layer} at module path '{path}'"


def _fail(cls, layer, path, field, value, expected):
    return cls(f"{where(layer, path)}: {field}={value!r} is invalid; expected {expected}.")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, *, field, layer, path=None, expected='a positive int (>= 1)'):
    """``value`` as an ``int`` >= 1; ``TypeError`` if it is not an int, ``ValueError`` if < 1."""
    if type(value) is int and value >= 1:  # the common case, first
        return value
    if not _is_int(value):
        raise _fail(TypeError, layer, path, field, value, expected)
    if value < 1:
        raise _fail(ValueError, layer, path, field, value, expected)
    return int(value)


def optional_positive_int(value, *, field, layer, path=None):
    """``None`` (meaning a default chosen by the layer) or a positive int.

    >>> optional_positive_int(None, field='qkv_features', layer='MultiHeadDotProductAttention', path='/')
    """
    if value is None:
        return None
    return positive_int(value, field=field, layer=layer, path=path, expected='None or a positive int (>= 1)')


def kernel_dims(value, *, field, layer, path=None, per='spatial axis'):
    """A kernel size: an int or a non-empty sequence of positive ints, as a tuple.

    >>> kernel_dims(3, field='kernel_size', layer='Conv', path='/'), kernel_dims([3, 2], field='kernel_size', layer='Conv', path='/')
    ((3,), (3, 2))
    >>> kernel_dims((), field='kernel_size', layer='Conv', path='/Conv_0')
    Traceback (most recent call last):
    ...
    ValueError: Conv at module path '/Conv_0': kernel_size=() is invalid; expected a positive int or a non-empty sequence of positive ints (one per spatial axis).
    """
    expected = f'a positive int or a non-empty sequence of positive ints (one per {per})'
    if _is_int(value):
        dims = (value,)
    elif isinstance(value, (tuple, list)):
        dims = tuple(value)
        if not dims:
            raise _fail(ValueError, layer, path, field, value, expected)
    else:
        raise _fail(TypeError, layer, path, field, value, expected)
    for d in dims:
        if not _is_int(d):
            raise _fail(TypeError, layer, path, field, value, expected)
        if d < 1:
            raise _fail(ValueError, layer, path, field, value, expected)
    return tuple(int(d) for d in dims)


def window_dims(value, rank, *, field, layer, path=None, default=1):
    """Strides or dilations: ``None`` (= ``default``), one positive int for every axis, or ``rank`` of them.

    >>> window_dims(None, 2, field='strides', layer='Conv', path='/')
    (1, 1)
    >>> window_dims((1, 0), 2, field='strides', layer='Conv', path='/Conv_0')
    Traceback (most recent call last):
    ...
    ValueError: Conv at module path '/Conv_0': strides=(1, 0) is invalid; expected a positive int or a sequence of 2 positive ints (one per spatial axis).
    """
    expected = f'a positive int or a sequence of {rank} positive ints (one per spatial axis)'
    if value is None:
        value = default
    if _is_int(value):
        if value < 1:
            raise _fail(ValueError, layer, path, field, value, expected)
        return (int(value),) * rank
    if not isinstance(value, (tuple, list)):
        raise _fail(TypeError, layer, path, field, value, expected)
    dims = tuple(value)
    for d in dims:
        if not _is_int(d):
            raise _fail(TypeError, layer, path, field, value, expected)
    if len(dims) != rank or any(d < 1 for d in dims):
        raise _fail(ValueError, layer, path, field, value, expected)
    return tuple(int(d) for d in dims)


def _real(value):
    """``value`` as a float when it is a real Python/NumPy scalar; ``None`` for arrays and tracers (left unchecked)."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def non_negative(value, *, field, layer, path=None):
    """A real number >= 0 (``epsilon``); arrays and traced values pass unchecked.

    >>> non_negative(-1e-6, field='epsilon', layer='LayerNorm', path='/LayerNorm_0')
    Traceback (most recent call last):
    ...
    ValueError: LayerNorm at module path '/LayerNorm_0': epsilon=-1e-06 is invalid; expected a number >= 0.
    """
    expected = 'a number >= 0'
    try:
        number = _real(value)
    except TypeError:
        raise _fail(TypeError, layer, path, field, value, expected) from None
    if number is not None and not number >= 0:  # also refuses NaN
        raise _fail(ValueError, layer, path, field, value, expected)
    return value


def in_unit_interval(value, *, field, layer, path=None):
    """A real number in ``[0, 1]`` (``momentum``, a rate); arrays and traced values pass unchecked."""
    expected = 'a number in [0, 1]'
    try:
        number = _real(value)
    except TypeError:
        raise _fail(TypeError, layer, path, field, value, expected) from None
    if number is not None and not 0 <= number <= 1:
        raise _fail(ValueError, layer, path, field, value, expected)
    return value


def callable_members(members, *, field, layer, path=None):
    """Every item of ``members`` is callable; names the first that is not by its index.

    >>> callable_members([abs, 3], field='layers', layer='Sequential', path='/Sequential_0')
    Traceback (most recent call last):
    ...
    TypeError: Sequential at module path '/Sequential_0': layers[1]=3 is invalid; expected a module or a function (a callable).
    """
    for i, member in enumerate(members):
        if not callable(member):
            raise _fail(TypeError, layer, path, f'{field}[{i}]', member, 'a module or a function (a callable)')
    return members


def check_array(x, *, arg, layer, path=None, min_ndim=0):
    """Checks an array-like's ``dtype`` and ``ndim`` (no element is read); returns ``x``.

    ``TypeError`` for a dtype that holds no numbers (strings, bytes, objects),
    ``ValueError`` for fewer than ``min_ndim`` axes.
    """
    dtype = x.dtype
    if dtype.kind in _NON_NUMERIC_KINDS:
        raise TypeError(
            f"{where(layer, path)}: {arg} has dtype {dtype}, which holds no numbers; "
            "expected a numeric array (float, int, bool or complex)."
        )
    if x.ndim < min_ndim:
        raise ValueError(
            f"{where(layer, path)}: {arg} of shape {tuple(x.shape)} is invalid; expected an array "
            f"with at least {min_ndim} dimension{'' if min_ndim == 1 else 's'} (got rank {x.ndim})."
        )
    return x


def array_input(x, asarray, *, arg, layer, path=None, min_ndim=0):
    """``x`` as an array of the backend (``asarray``): refuses ``None``, text, non-numeric dtypes and low ranks.

    Arrays (anything with ``dtype`` and ``ndim``) are checked as they are and
    returned unchanged; Python scalars, lists and tuples go through
    ``asarray`` first, as the seed system accepts them.

    >>> array_input([[1.0, 2.0]], np.asarray, arg='inputs', layer='Dense', path='/Dense_0', min_ndim=1).shape
    (1, 2)
    >>> array_input(None, np.asarray, arg='inputs', layer='Dense', path='/Dense_0')
    Traceback (most recent call last):
    ...
    TypeError: Dense at module path '/Dense_0': inputs=None is invalid; expected a numeric array (or a nested list of numbers).
    >>> array_input(2.0, np.asarray, arg='inputs', layer='Dense', path='/Dense_0', min_ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: Dense at module path '/Dense_0': inputs of shape () is invalid; expected an array with at least 1 dimension (got rank 0).
    """
    try:  # the common case, first: an array of a numeric dtype and a sufficient rank
        if x.dtype.kind not in _NON_NUMERIC_KINDS and x.ndim >= min_ndim:
            return x
    except AttributeError:
        pass
    if x is None or isinstance(x, (str, bytes)):
        raise _fail(TypeError, layer, path, arg, x, 'a numeric array (or a nested list of numbers)')
    if not hasattr(x, 'dtype') or not hasattr(x, 'ndim'):
        try:
            x = asarray(x)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"{where(layer, path)}: {arg}={x!r:.120} is invalid; expected a numeric array "
                f"(or a nested list of numbers); converting it failed: {e}"
            ) from None
    return check_array(x, arg=arg, layer=layer, path=path, min_ndim=min_ndim)


def non_empty_output(out_shape, *, field, value, layer, path=None, in_shape):
    """Refuses a window or padding that leaves an output axis of length <= 0.

    >>> non_empty_output((0,), field='padding', value=((-3, -3),), layer='Conv', path='/Conv_0', in_shape=(5,))
    Traceback (most recent call last):
    ...
    ValueError: Conv at module path '/Conv_0': padding=((-3, -3),) is invalid; expected a value that leaves every output axis non-empty (spatial input shape (5,) gives output shape (0,)).
    """
    if any(d <= 0 for d in out_shape):
        raise _fail(
            ValueError,
            layer,
            path,
            field,
            value,
            f'a value that leaves every output axis non-empty (spatial input shape {tuple(in_shape)} '
            f'gives output shape {tuple(out_shape)})',
        )
    return out_shape


def padded_output_dims(in_shape, window, strides, pads, input_dilation=None, window_dilation=None):
    """Output lengths of a strided, dilated window over explicitly padded axes (``<= 0``: empty).

    >>> padded_output_dims((5,), (3,), (1,), ((-3, -3),))
    (-4,)
    >>> padded_output_dims((5, 4), (2, 2), (2, 1), ((0, 0), (1, 1)))
    (2, 5)
    """
    rank = len(window)
    input_dilation = input_dilation or (1,) * rank
    window_dilation = window_dilation or (1,) * rank
    out = []
    for n, k, s, (lo, hi), di, dk in zip(in_shape, window, strides, pads, input_dilation, window_dilation):
        span = (n - 1) * di + 1 + lo + hi - ((k - 1) * dk + 1)
        out.append(span // s + 1 if span >= 0 else span)
    return tuple(out)


def non_empty_batch(shape, reduction_axes, *, arg, layer, path=None):
    """Refuses batch statistics over axes of length 0 (their mean is undefined).

    >>> non_empty_batch((0, 4), (0,), arg='x', layer='BatchNorm', path='/bn')
    Traceback (most recent call last):
    ...
    ValueError: BatchNorm at module path '/bn': x of shape (0, 4) is empty along the reduction axes (0,), so its batch statistics are undefined; pass at least one example, or use_running_average=True to normalize with the stored statistics.
    """
    for axis in reduction_axes:
        if shape[axis] == 0:
            raise ValueError(
                f"{where(layer, path)}: {arg} of shape {tuple(shape)} is empty along the reduction axes "
                f"{tuple(reduction_axes)}, so its batch statistics are undefined; pass at least one example, "
                "or use_running_average=True to normalize with the stored statistics."
            )


def integer_ids(is_integer: bool, dtype, *, layer, path=None) -> None:
    """Refuses Embed ids whose ``dtype`` is not an integer type (the backend judges ``is_integer``: int4 differs).

    >>> integer_ids(False, np.dtype('float64'), layer='Embed', path='/Embed_0')
    Traceback (most recent call last):
    ...
    ValueError: Embed at module path '/Embed_0': inputs must be integer ids, got dtype float64. Cast the token ids to an integer type (e.g. x.astype(int32)) before embedding them.
    """
    if not is_integer:
        raise ValueError(
            f"{where(layer, path)}: inputs must be integer ids, got dtype {dtype}. "
            "Cast the token ids to an integer type (e.g. x.astype(int32)) before embedding them."
        )


def canonicalize_padding(padding, rank: int):
    """A padding name as is, or ``rank`` explicit ``(low, high)`` pairs (the rule both backends share).

    Names (``'SAME'``, ``'SAME_LOWER'``, ``'VALID'``, ``'CIRCULAR'``,
    ``'REFLECT'``, ``'CAUSAL'``) pass through; each layer says which it takes.

    A single int pads every spatial axis by that much on both sides; in a
    sequence of length ``rank`` an int pads its axis on both sides and a pair
    gives both sides.

    >>> canonicalize_padding(1, 2), canonicalize_padding([(0, 1), 2], 2)
    ([(1, 1), (1, 1)], [(0, 1), (2, 2)])
    """
    if isinstance(padding, str):
        return padding
    if isinstance(padding, (int, np.integer)):
        return [(int(padding), int(padding))] * rank
    if isinstance(padding, Sequence) and len(padding) == rank:
        pairs = []
        for p in padding:
            if isinstance(p, (int, np.integer)):
                pairs.append((int(p), int(p)))
            elif isinstance(p, (tuple, list)) and len(p) == 2:
                pairs.append((int(p[0]), int(p[1])))
            else:
                break
        if len(pairs) == rank:
            return pairs
    raise ValueError(
        f"Invalid padding format: {padding}, should be str, int, or a sequence of len {rank} where each "
        "element is an int or pair of ints. Fix: e.g. 'SAME', 1, or [(0, 1), 2] for two spatial axes."
    )
