"""Sliding-window arguments: how pooling reads ``window_shape``, ``strides`` and ``padding``.

Pooling (``pool``, ``avg_pool``, ``max_pool``, ``min_pool``) slides a window
over the axes between the batch axes and the feature axis of a channels-last
array, ``(*batch, *window_axes, features)``. Both backends resolve their
arguments here, shapes only, before each reduces the windows its own way
(``lax.reduce_window`` in nnjax, a fold over strided views in nnref):

* :func:`pool_window` checks ``window_shape`` (it fixes the number of window
  axes, so it is read first);
* :func:`pool_geometry` checks ``strides`` and ``padding`` against the input
  shape, refuses a window that leaves an output axis empty, and extends all
  three to every axis of the input (one batch axis added when there is none);
* :func:`padtype_to_pads` is XLA's rule turning ``'SAME'``/``'VALID'`` into
  explicit ``(low, high)`` pairs, which convolution shares.

>>> window = pool_window((2, 2), 'max_pool')
>>> g = pool_geometry('max_pool', (4, 4, 3), window, None, 'VALID')
>>> g.window, g.strides, g.padding, g.add_batch_axis
((1, 2, 2, 1), (1, 1, 1, 1), 'VALID', True)
>>> padtype_to_pads((5,), (3,), (2,), 'SAME')
[(1, 1)]
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from shared_spec import layer_args

__all__ = ['PoolGeometry', 'pool_window', 'pool_geometry', 'padtype_to_pads', 'window_count']


class PoolGeometry(NamedTuple):
    """A pooling call's arguments over every axis of its (batched) input.

    ``window`` and ``strides`` have one entry per input axis (1 on the batch
    and feature axes); ``padding`` is a name or one pair per input axis;
    ``add_batch_axis`` says the input had no batch axis, so the backend adds
    one before reducing and removes it after; ``window_shape`` and
    ``window_strides`` are the window and strides over the window axes only.
    """

    window: tuple
    strides: tuple
    padding: object
    add_batch_axis: bool
    window_shape: tuple
    window_strides: tuple


def pool_window(window_shape, fn: str) -> tuple:
    """``window_shape`` as a tuple of positive ints, one per window axis.

    >>> pool_window(3, 'avg_pool')
    (3,)
    """
    return layer_args.kernel_dims(window_shape, field='window_shape', layer=fn, per='window axis')


def _explicit_pads(fn: str, padding, rank: int) -> tuple:
    expected = f"expected 'SAME', 'VALID' or one (low, high) pair of ints per window axis ({rank})."
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: padding={padding!r} is invalid; {expected}") from None
    if len(pads) != rank:
        raise ValueError(f"{fn}: padding={padding!r} is invalid; {expected}")
    return pads


def pool_geometry(fn: str, in_shape: Sequence[int], window: tuple, strides, padding) -> PoolGeometry:
    """Checks ``strides`` and ``padding`` of a pooling call and extends them to every input axis.

    ``in_shape`` is the input's shape, which already has at least
    ``len(window) + 1`` axes; ``strides`` ``None`` (or empty) means all ones;
    ``padding`` is ``'SAME'``, ``'VALID'`` (in any case) or one
    ``(low, high)`` pair per window axis. An explicit or VALID padding that
    leaves an output axis empty is refused (SAME never does).

    >>> pool_geometry('pool', (2, 6, 1), (3,), (2,), ((1, 0),)).padding
    ((0, 0), (1, 0), (0, 0))
    >>> pool_geometry('max_pool', (2, 2, 1), (3,), None, 'VALID')
    Traceback (most recent call last):
    ...
    ValueError: max_pool: window_shape=(3,) is invalid; expected a value that leaves every output axis non-empty (spatial input shape (2,) gives output shape (-1,)).
    """
    rank = len(window)
    window_strides = layer_args.window_dims(strides or None, rank, field='strides', layer=fn)
    spatial = tuple(in_shape[len(in_shape) - rank - 1 : -1])
    if isinstance(padding, str):
        pads = ((0, 0),) * rank if padding.upper() == 'VALID' else None
    else:
        pads = _explicit_pads(fn, padding, rank)
    if pads is not None:
        out = layer_args.padded_output_dims(spatial, window, window_strides, pads)
        layer_args.non_empty_output(out, field='window_shape', value=window, layer=fn, in_shape=spatial)
    batch_ndim = len(in_shape) - (rank + 1)
    add_batch_axis = batch_ndim == 0
    batch_ndim = max(batch_ndim, 1)
    edge = (1,) * batch_ndim
    if pads is not None and not isinstance(padding, str):
        padding = ((0, 0),) * batch_ndim + pads + ((0, 0),)
    return PoolGeometry(
        edge + window + (1,), edge + window_strides + (1,), padding, add_batch_axis, window, window_strides
    )


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int], strides: Sequence[int], padding) -> list:
    """Explicit ``(low, high)`` pads for a padding name, as XLA chooses them.

    ``'VALID'`` pads nothing. ``'SAME'`` pads just enough that the output
    has ``ceil(n / stride)`` elements; the total is split half low, half
    high, the odd element going high (``'SAME_LOWER'`` puts it low). Names
    are read in any case.

    >>> padtype_to_pads((5, 4), (2, 3), (1, 2), 'SAME'), padtype_to_pads((5,), (2,), (1,), 'same_lower')
    ([(0, 1), (0, 1)], [(1, 0)])
    """
    name = padding.upper() if isinstance(padding, str) else padding
    if name == 'VALID':
        return [(0, 0)] * len(in_shape)
    if name not in ('SAME', 'SAME_LOWER'):
        raise ValueError(
            f"Unknown padding {padding!r}: use 'SAME', 'SAME_LOWER', 'VALID' or explicit (low, high) pairs."
        )
    pads = []
    for n, k, s in zip(in_shape, window_shape, strides):
        out = -(-n // s)  # ceil(n / s)
        total = max((out - 1) * s + k - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if name == 'SAME' else (large, small))
    return pads


def dilated_size(n: int, dilation: int) -> int:
    """Length of an axis of ``n`` elements with ``dilation - 1`` gaps put between neighbours.

    >>> dilated_size(3, 2), dilated_size(0, 2)
    (5, 0)
    """
    return 0 if n == 0 else (n - 1) * dilation + 1


def window_count(n: int, window: int, stride: int, dilation: int = 1) -> int:
    """How many windows of ``window`` taps spaced ``dilation`` apart fit in ``n`` elements at ``stride``.

    >>> window_count(7, 3, 2), window_count(7, 3, 1, dilation=3), window_count(2, 3, 1)
    (3, 1, 0)
    """
    span = dilated_size(window, dilation)
    return (n - span) // stride + 1 if n >= span else 0
