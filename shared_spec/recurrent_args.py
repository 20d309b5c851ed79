"""Recurrent cells and RNN layers: carry checks, carry shapes and the time axis.

A recurrent cell maps ``(carry, x)`` to ``(new_carry, y)`` for one time step;
``RNN`` runs it over the time axis of a sequence. What both backends decide
alike, from shapes and types only, lives here:

* the carry's form: a ``(c, h)`` pair for the LSTM cells (:func:`carry_pair`),
  one array for the others (:func:`single_carry`), whose last axis must be
  ``features`` (:func:`hidden_size`);
* the shape of the first carry, from the shape of one step's input
  (:func:`carry_shape`) or from the legacy ``(batch_dims, size)`` arguments
  (:func:`legacy_carry_shape`);
* which input axis is time (:func:`time_axis`) and how many batch axes
  precede the features (:func:`num_batch_dims`).

Messages name the cell by its class name (a module or a string is accepted).

>>> carry_shape('GRUCell', (8, 5), num_feature_axes=1, features=3)
(8, 3)
>>> time_axis(ndim=3, num_feature_axes=1, time_major=False)
1
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Sequence

from shared_spec import layer_args

__all__ = [
    'missing_member',
    'carry_pair',
    'single_carry',
    'hidden_size',
    'carry_shape',
    'legacy_carry_shape',
    'LegacyOnClass',
    'conv_window',
    'call_options',
    'SHARED_DIRECTIONS_WARNING',
    'time_axis',
    'num_batch_dims',
]


def _name(cell) -> str:
    return cell if isinstance(cell, str) else type(cell).__name__


_MISSING = {
    'initialize_carry': 'initialize_carry(rng, input_shape); define it (decorated with nowrap) '
    'to return the first carry.',
    'num_feature_axes': 'the num_feature_axes property; define it to return how many trailing '
    'axes of the input are feature axes (1 for vector inputs).',
}


#: Logged by ``Bidirectional`` when both directions are one module (so they share parameters).
SHARED_DIRECTIONS_WARNING = (
    "Bidirectional: forward_rnn and backward_rnn are the same module, so the two directions share their parameters."
)


def missing_member(cell, member: str) -> TypeError:
    """The error for a subclass of ``RNNCellBase`` that does not define ``member``.

    >>> missing_member('MyCell', 'num_feature_axes')
    TypeError('MyCell derives from RNNCellBase but does not define the num_feature_axes property; define it to return how many trailing axes of the input are feature axes (1 for vector inputs).')
    """
    return TypeError(f"{_name(cell)} derives from RNNCellBase but does not define {_MISSING[member]}")


def carry_pair(cell, carry) -> tuple:
    """``(c, h)`` of an LSTM carry; a bare array is refused (it would unpack by rows).

    >>> carry_pair('LSTMCell', [1, 2])
    (1, 2)
    >>> carry_pair('LSTMCell', 0.0)
    Traceback (most recent call last):
    ...
    TypeError: LSTMCell: carry must be the pair (c, h) returned by initialize_carry(rng, input_shape); got float.
    """
    if not isinstance(carry, (tuple, list)) or len(carry) != 2:
        raise TypeError(
            f"{_name(cell)}: carry must be the pair (c, h) returned by "
            f"initialize_carry(rng, input_shape); got {type(carry).__name__}."
        )
    return carry[0], carry[1]


def single_carry(cell, carry):
    """The one carry array of a single-state cell (GRU, MGU, simple); a tuple or list is refused.

    >>> single_carry('GRUCell', (1, 2))
    Traceback (most recent call last):
    ...
    TypeError: GRUCell: carry must be one array (the hidden state) as returned by initialize_carry(rng, input_shape); got a tuple of 2.
    """
    if isinstance(carry, (tuple, list)):
        raise TypeError(
            f"{_name(cell)}: carry must be one array (the hidden state) as "
            f"returned by initialize_carry(rng, input_shape); got a "
            f"{type(carry).__name__} of {len(carry)}."
        )
    return carry


def hidden_size(cell, features, h_shape: Sequence[int]) -> int:
    """``features`` (checked a positive int), which must be the last axis of the hidden state.

    >>> hidden_size('GRUCell', 4, (2, 4))
    4
    >>> hidden_size('GRUCell', 4, (2, 3))
    Traceback (most recent call last):
    ...
    ValueError: GRUCell: the carry has shape (2, 3), but features=4 needs a last axis of 4; build the carry with initialize_carry(rng, input_shape) or set features to the carry size.
    """
    layer_args.positive_int(features, field='features', layer=cell)
    h_shape = tuple(h_shape)
    size = h_shape[-1] if h_shape else None
    if size != features:
        raise ValueError(
            f"{_name(cell)}: the carry has shape {h_shape}, but features="
            f"{features} needs a last axis of {features}; build the carry "
            "with initialize_carry(rng, input_shape) or set features to the carry size."
        )
    return size


def carry_shape(cell, input_shape: Sequence[int], *, num_feature_axes: int, features, check_features=True) -> tuple:
    """The shape of each carry array, from the shape of one step's input.

    The batch axes of the input are kept; its ``num_feature_axes`` trailing
    axes are replaced: by ``(features,)`` for a vector cell
    (``num_feature_axes == 1``), or, for a convolutional cell, by its spatial
    axes followed by ``features``. ``check_features`` checks ``features`` is a
    positive int (the vector cells do; ``ConvLSTMCell`` takes it as given).

    >>> carry_shape('ConvLSTMCell', (2, 5, 5, 3), num_feature_axes=3, features=4, check_features=False)
    (2, 5, 5, 4)
    >>> carry_shape('LSTMCell', (), num_feature_axes=1, features=4)
    Traceback (most recent call last):
    ...
    ValueError: LSTMCell.initialize_carry: input_shape () has fewer than the 1 feature axes the cell reads; pass the shape of one step's input, e.g. x.shape.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) < num_feature_axes:
        raise ValueError(
            f"{_name(cell)}.initialize_carry: input_shape {shape} has fewer "
            f"than the {num_feature_axes} feature axes the cell reads; pass the shape of one "
            "step's input, e.g. x.shape."
        )
    batch = shape[: len(shape) - num_feature_axes]
    if check_features:
        features = layer_args.positive_int(features, field='features', layer=cell)
    return batch + shape[len(batch) : -1] + (features,)


def legacy_carry_shape(batch_dims: Sequence[int], size: int) -> tuple:
    """The carry shape of the older class-level call ``Cell.initialize_carry(rng, batch_dims, size)``.

    >>> legacy_carry_shape((2,), 3)
    (2, 3)
    """
    return tuple(batch_dims) + (size,)


class LegacyOnClass:
    """``initialize_carry`` that also answers the seed system's older call on the *class*.

    On an instance it is the method itself, ``cell.initialize_carry(rng,
    input_shape)``. Older tutorials call it on the class,
    ``Cell.initialize_carry(rng, batch_dims, size, init_fn=zeros)``: that
    form builds :func:`legacy_carry_shape`-shaped states, as many as the
    class's ``carry_states`` (2 for the LSTMs' ``(c, h)``), one key each
    from ``split(rng)`` (all ``None`` without a key). ``split`` and
    ``zeros`` are the backend's key split and zeros initializer.

    >>> class Cell:
    ...     carry_states = 2
    ...     @LegacyOnClass.wrapping(split=lambda rng: (rng, rng), zeros=lambda key, shape: shape)
    ...     def initialize_carry(self, rng, input_shape):
    ...         return 'the method'
    >>> Cell.initialize_carry(None, (4,), 3), Cell().initialize_carry(None, (4, 3))
    (((4, 3), (4, 3)), 'the method')
    """

    def __init__(self, method, split, zeros):
        self.method, self.split, self.zeros = method, split, zeros
        functools.update_wrapper(self, method)

    @classmethod
    def wrapping(cls, *, split, zeros):
        """A decorator making a method a :class:`LegacyOnClass`."""
        return lambda method: cls(method, split, zeros)

    def __get__(self, obj, owner=None):
        if obj is None:
            return functools.partial(self._on_class, owner.carry_states)
        return self.method.__get__(obj, owner)

    def _on_class(self, n_states: int, rng, batch_dims, size: int, init_fn=None):
        init_fn = self.zeros if init_fn is None else init_fn
        shape = legacy_carry_shape(batch_dims, size)
        if n_states == 1:
            return init_fn(rng, shape)
        keys = self.split(rng) if rng is not None else [None] * n_states
        return tuple(init_fn(key, shape) for key in keys)


def conv_window(kernel_size) -> tuple:
    """``ConvLSTMCell``'s kernel size as a tuple of ints (an int means one spatial axis).

    >>> conv_window(3), conv_window([3, 2])
    ((3,), (3, 2))
    """
    if isinstance(kernel_size, int) or (hasattr(kernel_size, '__index__') and not hasattr(kernel_size, '__len__')):
        return (int(kernel_size),)
    return tuple(int(k) for k in kernel_size)


def time_axis(ndim: int, num_feature_axes: int, time_major: bool) -> int:
    """The input axis that is time: 0 when time-major, else the one just before the feature axes.

    >>> time_axis(4, 1, time_major=True), time_axis(4, 1, time_major=False)
    (0, 2)
    >>> time_axis(1, 1, time_major=False)
    Traceback (most recent call last):
    ...
    ValueError: RNN: inputs of rank 1 have no time axis: the cell reads 1 feature axis/axes, so inputs need at least 2 axes ((*batch, time, *features)).
    """
    if time_major:
        return 0
    axis = ndim - (num_feature_axes + 1)
    if axis < 0:
        raise ValueError(
            f"RNN: inputs of rank {ndim} have no time axis: the cell reads {num_feature_axes} feature "
            f"axis/axes, so inputs need at least {num_feature_axes + 1} axes ((*batch, time, *features))."
        )
    return axis


def num_batch_dims(ndim: int, num_feature_axes: int) -> int:
    """How many batch axes a sequence of rank ``ndim`` has (all but time and the feature axes).

    >>> num_batch_dims(3, 1), num_batch_dims(5, 3)
    (1, 1)
    """
    return ndim - 1 - num_feature_axes


def call_options(layer, **overrides) -> SimpleNamespace:
    """The options of an ``RNN``/``Bidirectional`` call: each argument given, else the field of that name.

    >>> from types import SimpleNamespace as Fields
    >>> call_options(Fields(reverse=False, time_major=True), reverse=True, time_major=None)
    namespace(reverse=True, time_major=True)
    """
    return SimpleNamespace(
        **{name: getattr(layer, name) if value is None else value for name, value in overrides.items()}
    )
