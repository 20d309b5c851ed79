"""Recurrent networks: a cell run over a sequence (``RNN``), and in both directions (``Bidirectional``), on JAX.

:class:`RNN` turns a cell of :mod:`nnjax.layers.recurrent` (one time step)
into a layer over whole sequences: the cell is called once per step inside
one lifted scan (:func:`nnjax.transforms.scan.scan`), with its parameters
shared by every step. Inputs are ``(*batch, time, *features)`` (or
``(time, *batch, *features)`` with ``time_major=True``); the cell's
``num_feature_axes`` tells which axis is time.

Sequences of different lengths share one padded array: ``seq_lengths`` gives
each one's length. Steps past the length are still computed (their outputs are
not zeroed), but the carry returned is the one after each sequence's last
valid step, and reversing flips only the valid part of each sequence.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.recurrent import GRUCell
>>> from nnjax.layers.rnn import RNN
>>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
>>> layer = RNN(GRUCell(4), return_carry=True)
>>> variables = layer.init(jax.random.PRNGKey(0), x)
>>> carry, y = layer.apply(variables, x, seq_lengths=jnp.array([5, 2]))
>>> carry.shape, y.shape
((2, 4), (2, 5, 4))
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from nnjax.module import Module
from nnjax.transforms.scan import scan
from shared_spec import recurrent_args
from shared_spec.frozen_dict import FrozenDict

__all__ = ["RNN", "Bidirectional", "flip_sequences"]

_log = logging.getLogger(__name__)


# -- time-axis helpers -------------------------------------------------------------


def _lengths_along(seq_lengths, time_axis: int, ndim: int):
    """``seq_lengths`` (shape ``batch``) with singleton axes for time and the features, to broadcast over inputs."""
    lengths = jnp.asarray(seq_lengths)
    lengths = jnp.expand_dims(lengths, time_axis)
    return lengths.reshape(lengths.shape + (1,) * (ndim - lengths.ndim))


def flip_sequences(inputs, seq_lengths, num_batch_dims: int, time_major: bool):
    """``inputs`` reversed along time; with ``seq_lengths``, each sequence's first ``length`` steps are reversed.

    Step ``t`` of a sequence of length ``L`` out of ``T`` steps takes the
    element at ``(L - 1 - t) mod T``: the valid part ``0..L-1`` is reversed in
    place and the padding after it is reversed within itself, so it stays at
    the end. Applying the flip twice gives back the input.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    >>> flip_sequences(x, jnp.array([3, 2]), num_batch_dims=1, time_major=False)
    Array([[3, 2, 1, 0],
           [5, 4, 0, 0]], dtype=int32)
    """
    time_axis = 0 if time_major else num_batch_dims
    if seq_lengths is None:
        return jnp.flip(inputs, axis=time_axis)
    steps = inputs.shape[time_axis]
    t = jnp.arange(steps).reshape((1,) * time_axis + (steps,) + (1,) * (inputs.ndim - time_axis - 1))
    source = jnp.mod(_lengths_along(seq_lengths, time_axis, inputs.ndim) - 1 - t, steps)
    return jnp.take_along_axis(inputs, source, axis=time_axis)


def _last_valid(carries, seq_lengths):
    """Each sequence's carry after its last valid step, from carries stacked on a leading time axis.

    Index ``length - 1``, negative indices counting from the end (a length
    of 0 takes the last step), clamped to the steps there are.
    """

    def pick(stacked):
        steps = stacked.shape[0]
        last = jnp.asarray(seq_lengths) - 1
        last = jnp.clip(jnp.where(last < 0, last + steps, last), 0, steps - 1)
        index = last.reshape((1,) + last.shape + (1,) * (stacked.ndim - 1 - last.ndim))
        return jnp.take_along_axis(stacked, index, axis=0)[0]

    return jax.tree_util.tree_map(pick, carries)


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
      cell: an :class:`~nnjax.layers.recurrent.RNNCellBase` instance.
      time_major: inputs are ``(time, *batch, *features)`` if True, else
        ``(*batch, time, *features)`` (default).
      return_carry: return ``(final_carry, outputs)`` instead of ``outputs``.
      reverse: process the sequence from its last step to its first; the
        outputs then come in processing order unless ``keep_order``. With
        ``seq_lengths``, only the valid part of each sequence is reversed
        (padding stays at the end).
      keep_order: with ``reverse``, flip the outputs back to the inputs' order
        (aligns them with a forward RNN's, as in :class:`Bidirectional`).
      unroll: scan steps per loop iteration (``nn.scan``'s ``unroll``).
      variable_axes, variable_broadcast, variable_carry, split_rngs:
        forwarded to ``nn.scan``.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import LSTMCell
    >>> from nnjax.layers.rnn import RNN
    >>> x = jnp.ones((6, 2, 3))  # (time, batch, features)
    >>> lstm = RNN(LSTMCell(4), time_major=True)
    >>> variables = lstm.init(jax.random.PRNGKey(0), x)
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
        o = recurrent_args.call_options(
            self, return_carry=return_carry, time_major=time_major, reverse=reverse, keep_order=keep_order
        )
        return_carry, time_major, reverse, keep_order = o.return_carry, o.time_major, o.reverse, o.keep_order
        time_axis = recurrent_args.time_axis(inputs.ndim, self.cell.num_feature_axes, time_major)
        num_batch = recurrent_args.num_batch_dims(inputs.ndim, self.cell.num_feature_axes)
        if reverse:
            inputs = flip_sequences(inputs, seq_lengths, num_batch, time_major)

        if initial_carry is None:
            key = jax.random.PRNGKey(0) if init_key is None else init_key
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
    return jnp.concatenate([a, b], axis=-1)


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

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import GRUCell
    >>> from nnjax.layers.rnn import RNN, Bidirectional
    >>> layer = Bidirectional(RNN(GRUCell(4)), RNN(GRUCell(5)))
    >>> x = jnp.ones((2, 7, 3))
    >>> variables = layer.init(jax.random.PRNGKey(0), x)
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
        o = recurrent_args.call_options(self, time_major=time_major, return_carry=return_carry)
        time_major, return_carry = o.time_major, o.return_carry
        key_forward = key_backward = None
        if init_key is not None:
            key_forward, key_backward = jax.random.split(init_key)
        carry_forward = carry_backward = None
        if initial_carry is not None:
            carry_forward, carry_backward = initial_carry
        if self.forward_rnn is self.backward_rnn:
            _log.warning(recurrent_args.SHARED_DIRECTIONS_WARNING)

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
        outputs = jax.tree_util.tree_map(self.merge_fn, outputs_forward, outputs_backward)
        return (carry, outputs) if return_carry else outputs
