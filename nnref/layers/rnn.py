"""Recurrent networks: a cell run over a sequence (``RNN``), and in both directions (``Bidirectional``), in NumPy.

:class:`RNN` turns a cell of :mod:`nnref.layers.recurrent` (one time step)
into a layer over whole sequences: the cell is called once per step through
the lifted scan (:func:`nnref.transforms.scan.scan`, a Python loop), with its
parameters shared by every step. Inputs are ``(*batch, time, *features)`` (or
``(time, *batch, *features)`` with ``time_major=True``); the cell's
``num_feature_axes`` tells which axis is time.

Sequences of different lengths share one padded array: ``seq_lengths`` gives
each one's length. Steps past the length are still computed (their outputs are
not zeroed), but the carry returned is the one after each sequence's last
valid step, and reversing flips only the valid part of each sequence.

>>> import numpy as np
>>> from nnref import random
>>> from nnref.layers.recurrent import GRUCell
>>> from nnref.layers.rnn import RNN
>>> x = np.ones((2, 5, 3), np.float32)  # (batch, time, features)
>>> layer = RNN(GRUCell(4), return_carry=True)
>>> variables = layer.init(random.PRNGKey(0), x)
>>> carry, y = layer.apply(variables, x, seq_lengths=np.array([5, 2]))
>>> carry.shape, y.shape
((2, 4), (2, 5, 4))
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import numpy as np

from nnref import random as _random
from nnref.module import Module
from nnref.transforms.scan import scan
from nnref.tree_util import tree_map
from shared_spec.frozen_dict import FrozenDict

__all__ = ["RNN", "Bidirectional", "flip_sequences"]

_log = logging.getLogger(__name__)


# -- time-axis helpers -------------------------------------------------------------


def _time_axis(ndim: int, num_feature_axes: int, time_major: bool) -> int:
    """The axis of ``inputs`` that is time: first (time-major) or just before the feature axes."""
    if time_major:
        return 0
    axis = ndim - (num_feature_axes + 1)
    if axis < 0:
        raise ValueError(
            f"RNN: inputs of rank {ndim} have no time axis: the cell reads {num_feature_axes} feature "
            f"axis/axes, so inputs need at least {num_feature_axes + 1} axes ((*batch, time, *features))."
        )
    return axis


def flip_sequences(inputs, seq_lengths, num_batch_dims: int, time_major: bool):
    """``inputs`` reversed along time; with ``seq_lengths``, each sequence's first ``length`` steps are reversed.

    Written as a loop over the sequences: for a sequence of length ``L``
    (clamped to ``0..T``) its steps ``0..L-1`` are reversed, and so are its
    padding steps ``L..T-1``, each within itself, so the padding stays at the
    end. Applying the flip twice gives back the input.

    >>> import numpy as np
    >>> x = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    >>> flip_sequences(x, np.array([3, 2]), num_batch_dims=1, time_major=False)
    array([[3, 2, 1, 0],
           [5, 4, 0, 0]])
    """
    inputs = np.asarray(inputs)
    time_axis = 0 if time_major else num_batch_dims
    if seq_lengths is None:
        return np.flip(inputs, axis=time_axis)
    # (time, *batch, *features): one sequence is out[:, b]
    seq_first = np.moveaxis(inputs, time_axis, 0)
    out = np.empty_like(seq_first)
    steps = seq_first.shape[0]
    lengths = np.asarray(seq_lengths)
    for b in np.ndindex(*lengths.shape):
        length = int(lengths[b]) % steps if steps else 0  # a length of T flips as 0 does: all of it
        sequence = seq_first[(slice(None),) + b]
        out[(slice(None),) + b] = np.concatenate([sequence[:length][::-1], sequence[length:][::-1]])
    return np.moveaxis(out, 0, time_axis)


def _last_valid(carries, seq_lengths):
    """Each sequence's carry after its last valid step, from carries stacked on a leading time axis.

    Index ``length - 1``, negative indices counting from the end (a length
    of 0 takes the last step), clamped to the steps there are.
    """
    lengths = np.asarray(seq_lengths)

    def pick(stacked):
        stacked = np.asarray(stacked)
        steps = stacked.shape[0]
        out = np.empty_like(stacked[0])
        for b in np.ndindex(*lengths.shape):
            last = int(lengths[b]) - 1
            last = min(max(last + steps if last < 0 else last, 0), steps - 1)
            out[b] = stacked[(last,) + b]
        return out

    return tree_map(pick, carries)


def _cell_step(cell, carry, x):
    carry, y = cell(carry, x)
    return carry, y


def _cell_step_with_carries(cell, carry, x):
    carry, y = cell(carry, x)
    return carry, (carry, y)


# -- the layers ---------------------------------------------------------------------


class RNN(Module):
    """Runs a recurrent ``cell`` over the time axis of a sequence, one lifted scan.

    The cell is called as ``cell(carry, x_t) -> (carry, y_t)`` for every step
    ``t``; the outputs ``y_t`` are stacked along the time axis of the inputs.
    The first carry is ``initial_carry`` or, when none is given,
    ``cell.initialize_carry(init_key, x_t.shape)`` with ``init_key`` defaulting
    to ``PRNGKey(0)`` (not a stream of the module: most cells start from
    zeros and ignore the key).

    The cell's variables live under the cell's own name: ``cell`` when the
    cell is built outside any module (adopted as this field), or its auto-name
    (``GRUCell_0``, ...) in the parent when built inside a parent's compact
    method. By default they are ``'params'`` shared by all steps
    (``variable_broadcast='params'``, ``split_rngs={'params': False}``), so
    they equal the cell's own parameters for the same key.

    Attributes:
      cell: an :class:`~nnref.layers.recurrent.RNNCellBase` instance.
      time_major: inputs are ``(time, *batch, *features)`` if True, else
        ``(*batch, time, *features)`` (default).
      return_carry: return ``(final_carry, outputs)`` instead of ``outputs``.
      reverse: process the sequence from its last step to its first; the
        outputs then come in processing order unless ``keep_order``. With
        ``seq_lengths``, only the valid part of each sequence is reversed
        (padding stays at the end).
      keep_order: with ``reverse``, flip the outputs back to the inputs' order
        (aligns them with a forward RNN's, as in :class:`Bidirectional`).
      unroll: accepted for the production backend's ``nn.scan``; a Python
        loop ignores it.
      variable_axes, variable_broadcast, variable_carry, split_rngs:
        forwarded to ``nn.scan``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell
    >>> from nnref.layers.rnn import RNN
    >>> x = np.ones((6, 2, 3), np.float32)  # (time, batch, features)
    >>> lstm = RNN(LSTMCell(4), time_major=True)
    >>> variables = lstm.init(random.PRNGKey(0), x)
    >>> sorted(variables['params']['cell'])
    ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io']
    >>> (c, h), y = lstm.apply(variables, x, return_carry=True, reverse=True, keep_order=True)
    >>> h.shape, y.shape
    ((2, 4), (6, 2, 4))
    """

    cell: Any
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1
    variable_axes: Mapping = FrozenDict()
    variable_broadcast: Any = "params"
    variable_carry: Any = False
    split_rngs: Mapping = FrozenDict({"params": False})

    def __call__(
        self,
        inputs,
        *,
        initial_carry=None,
        init_key=None,
        seq_lengths=None,
        return_carry=None,
        time_major=None,
        reverse=None,
        keep_order=None,
    ):
        """Runs the cell over ``inputs``; ``None`` arguments take the attribute of the same name.

        Args:
          inputs: ``(*batch, time, *features)`` (``(time, *batch, *features)``
            when time-major).
          initial_carry: the first carry; default from ``cell.initialize_carry``.
          init_key: the key given to ``initialize_carry`` (default ``PRNGKey(0)``).
          seq_lengths: integer array of shape ``batch``: the number of valid
            steps of each sequence (the rest is padding).
          return_carry, time_major, reverse, keep_order: override the attributes.

        Returns:
          the outputs, or ``(carry, outputs)`` with ``return_carry``.
        """
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        reverse = self.reverse if reverse is None else reverse
        keep_order = self.keep_order if keep_order is None else keep_order

        inputs = np.asarray(inputs)
        time_axis = _time_axis(inputs.ndim, self.cell.num_feature_axes, time_major)
        num_batch = inputs.ndim - 1 - self.cell.num_feature_axes
        if reverse:
            inputs = flip_sequences(inputs, seq_lengths, num_batch, time_major)

        if initial_carry is None:
            key = _random.PRNGKey(0) if init_key is None else init_key
            step_shape = inputs.shape[:time_axis] + inputs.shape[time_axis + 1 :]
            carry = self.cell.initialize_carry(key, step_shape)
        else:
            carry = initial_carry

        # The carry after the last valid step of each sequence is picked from
        # the stacked carries of all steps (only when it is returned).
        pick_carry = return_carry and seq_lengths is not None
        step = scan(
            _cell_step_with_carries if pick_carry else _cell_step,
            variable_axes=self.variable_axes,
            variable_broadcast=self.variable_broadcast,
            variable_carry=self.variable_carry,
            split_rngs=self.split_rngs,
            in_axes=time_axis,
            out_axes=(0, time_axis) if pick_carry else time_axis,
            unroll=self.unroll,
        )
        carry, outputs = step(self.cell, carry, inputs)
        if pick_carry:
            carries, outputs = outputs
            carry = _last_valid(carries, seq_lengths)

        if reverse and keep_order:
            outputs = flip_sequences(outputs, seq_lengths, num_batch, time_major)
        return (carry, outputs) if return_carry else outputs


def _concatenate(a, b):
    """Joins the two directions' outputs along the last (feature) axis."""
    return np.concatenate([a, b], axis=-1)


class Bidirectional(Module):
    """Runs one RNN forward and another backward over the same inputs, and merges their outputs.

    ``backward_rnn`` is called with ``reverse=True, keep_order=True``, so its
    outputs are aligned with the forward ones step by step (with
    ``seq_lengths``, the valid part of each sequence is reversed); the two
    are then combined by ``merge_fn`` (default: concatenated on the last
    axis). The carry returned is ``(forward_carry, backward_carry)``. An
    ``init_key`` is split in two, one half per direction; an
    ``initial_carry`` is a ``(forward, backward)`` pair. The call's
    ``reverse`` and ``keep_order`` are accepted and ignored.

    Attributes:
      forward_rnn: the RNN run from the first step to the last.
      backward_rnn: the RNN run from the last step to the first.
      merge_fn: ``merge_fn(forward_outputs, backward_outputs)``.
      time_major: as in :class:`RNN`, passed to both directions.
      return_carry: return ``((forward_carry, backward_carry), outputs)``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import GRUCell
    >>> from nnref.layers.rnn import RNN, Bidirectional
    >>> layer = Bidirectional(RNN(GRUCell(4)), RNN(GRUCell(5)))
    >>> x = np.ones((2, 7, 3), np.float32)
    >>> variables = layer.init(random.PRNGKey(0), x)
    >>> sorted(variables['params'])
    ['backward_rnn', 'forward_rnn']
    >>> layer.apply(variables, x).shape
    (2, 7, 9)
    """

    forward_rnn: Any
    backward_rnn: Any
    merge_fn: Callable = _concatenate
    time_major: bool = False
    return_carry: bool = False

    def __call__(
        self,
        inputs,
        *,
        initial_carry=None,
        init_key=None,
        seq_lengths=None,
        return_carry=None,
        time_major=None,
        reverse=None,
        keep_order=None,
    ):
        """Both directions over ``inputs``; arguments as in :meth:`RNN.__call__` (``reverse``/``keep_order`` unused)."""
        time_major = self.time_major if time_major is None else time_major
        return_carry = self.return_carry if return_carry is None else return_carry
        key_forward = key_backward = None
        if init_key is not None:
            key_forward, key_backward = _random.split(init_key)
        carry_forward = carry_backward = None
        if initial_carry is not None:
            carry_forward, carry_backward = initial_carry
        if self.forward_rnn is self.backward_rnn:
            _log.warning(
                "Bidirectional: forward_rnn and backward_rnn are the same module, so the two "
                "directions share their parameters."
            )

        carry_forward, outputs_forward = self.forward_rnn(
            inputs,
            initial_carry=carry_forward,
            init_key=key_forward,
            seq_lengths=seq_lengths,
            return_carry=True,
            time_major=time_major,
            reverse=False,
        )
        carry_backward, outputs_backward = self.backward_rnn(
            inputs,
            initial_carry=carry_backward,
            init_key=key_backward,
            seq_lengths=seq_lengths,
            return_carry=True,
            time_major=time_major,
            reverse=True,
            keep_order=True,
        )

        carry = (carry_forward, carry_backward)
        outputs = tree_map(self.merge_fn, outputs_forward, outputs_backward)
        return (carry, outputs) if return_carry else outputs
