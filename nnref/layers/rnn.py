"""Running a cell over a sequence: ``RNN`` (one direction) and ``Bidirectional`` (both), in NumPy.

A cell (:mod:`nnref.layers.recurrent`) does one time step. ``RNN`` runs the
recurrence over a whole sequence::

    carry = initial_carry                      (or cell.initialize_carry(...))
    for t in 0, ..., T - 1:
        carry, y[t] = cell(carry, x[t])
    return y                                   (and the last carry)

with one set of cell parameters for every step. The loop is the lifted
:func:`nnref.transforms.scan.scan` (a Python loop here), which is what makes
the cell's variables shared between steps rather than created anew at each.

Shapes: the inputs are ``(*batch, time, *features)``, or ``(time, *batch,
*features)`` with ``time_major=True``; the cell's ``num_feature_axes`` says
how many trailing axes are features, so the time axis is the one before them
(:mod:`shared_spec.recurrent_args`).

Sequences of different lengths travel padded in one array, with
``seq_lengths`` giving each one's true length. The padding steps are still
computed (their outputs are not zeroed), but the carry returned is the one
after each sequence's own last step, and reversing a sequence reverses only
its valid part, so the padding stays at the end.

>>> import numpy as np
>>> from nnref import random
>>> from nnref.layers.recurrent import SimpleCell
>>> from nnref.layers.rnn import RNN
>>> x = np.ones((3, 4, 2), np.float32)            # 3 sequences, 4 steps, 2 features
>>> rnn = RNN(SimpleCell(5), return_carry=True)
>>> variables = rnn.init(random.PRNGKey(0), x)
>>> last, y = rnn.apply(variables, x, seq_lengths=np.array([4, 1, 2]))
>>> bool((last[1] == y[1, 0]).all()), y.shape  # sequence 1 ends after its first step
(True, (3, 4, 5))
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import numpy as np

from nnref import random as _random
from nnref.module import Module
from nnref.transforms.scan import scan
from nnref.tree_util import tree_map
from shared_spec import recurrent_args
from shared_spec.frozen_dict import FrozenDict

__all__ = ["RNN", "Bidirectional", "flip_sequences"]

_log = logging.getLogger(__name__)

_SCAN_FIELDS = ("variable_axes", "variable_broadcast", "variable_carry", "split_rngs", "unroll")


def flip_sequences(inputs, seq_lengths, num_batch_dims: int, time_major: bool):
    """Each sequence reversed in time; with ``seq_lengths``, only its valid part.

    Sequence ``b`` of length ``L`` (taken modulo the ``T`` steps there are,
    so ``L = T`` flips all of it) becomes ``x[L-1], ..., x[0]`` followed by
    its padding ``x[T-1], ..., x[L]``, also reversed within itself: the
    padding stays at the end, and flipping twice gives the input back.

    >>> import numpy as np
    >>> words = np.array([[1, 2, 3, 0, 0], [7, 8, 0, 0, 0]])   # lengths 3 and 2, zero-padded
    >>> flip_sequences(words, np.array([3, 2]), num_batch_dims=1, time_major=False)
    array([[3, 2, 1, 0, 0],
           [8, 7, 0, 0, 0]])
    """
    inputs = np.asarray(inputs)
    time_axis = 0 if time_major else num_batch_dims
    if seq_lengths is None:
        return np.flip(inputs, axis=time_axis)
    by_time = np.moveaxis(inputs, time_axis, 0)  # (time, *batch, *features): sequence b is by_time[:, b]
    flipped = np.empty_like(by_time)
    steps = by_time.shape[0]
    lengths = np.asarray(seq_lengths)
    for b in np.ndindex(*lengths.shape):
        valid = int(lengths[b]) % steps if steps else 0
        sequence = by_time[(slice(None),) + b]
        flipped[(slice(None),) + b] = np.concatenate([sequence[:valid][::-1], sequence[valid:][::-1]])
    return np.moveaxis(flipped, 0, time_axis)


def _carry_at_last_step(carries, seq_lengths):
    """From the carries of every step (stacked on axis 0), each sequence's carry after its last valid step.

    The step is ``length - 1``; a negative index counts from the end (so a
    length of 0 picks the last step), and it is clamped to the steps there are.
    """
    lengths = np.asarray(seq_lengths)

    def pick(stacked):
        stacked = np.asarray(stacked)
        steps = stacked.shape[0]
        last = np.empty_like(stacked[0])
        for b in np.ndindex(*lengths.shape):
            t = int(lengths[b]) - 1
            t = t + steps if t < 0 else t
            last[b] = stacked[(min(max(t, 0), steps - 1),) + b]
        return last

    return tree_map(pick, carries)


def _step(cell, carry, x):
    """The body of the loop: one call of the cell."""
    return cell(carry, x)


def _step_keeping_carries(cell, carry, x):
    """The body of the loop when every step's carry is needed afterwards (to pick each sequence's last)."""
    carry, y = cell(carry, x)
    return carry, (carry, y)


class RNN(Module):
    """Runs a recurrent ``cell`` along the time axis: ``carry, y[t] = cell(carry, x[t])`` for each step.

    The outputs ``y[t]`` are stacked along the inputs' time axis. The first
    carry is ``initial_carry`` if given, else
    ``cell.initialize_carry(init_key, x[t].shape)`` (``init_key`` defaults to
    ``PRNGKey(0)``, not a module RNG stream: most cells start from zeros and
    ignore the key).

    Where the variables live: under the cell's own name, ``cell`` when the
    cell was built outside any module (it becomes this field), or its
    auto-name (``GRUCell_0``, ...) in the parent that built it inside a
    compact method. The ``'params'`` are broadcast (one copy for all steps,
    ``variable_broadcast='params'``, ``split_rngs={'params': False}``), so
    they are exactly what the cell alone would create from the same key.

    Fields: ``cell``; ``time_major`` (inputs ``(time, *batch, *features)``
    instead of ``(*batch, time, *features)``); ``return_carry`` (return
    ``(last_carry, outputs)``); ``reverse`` (run from the last step to the
    first; with ``seq_lengths`` only the valid part of each sequence is
    reversed); ``keep_order`` (with ``reverse``, put the outputs back in the
    inputs' order, aligned with a forward run's); ``unroll`` (nnjax's scan
    unrolling; a Python loop has nothing to unroll); ``variable_axes``,
    ``variable_broadcast``, ``variable_carry`` and ``split_rngs``, passed to
    ``nn.scan``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell
    >>> from nnref.layers.rnn import RNN
    >>> x = np.ones((7, 1, 2), np.float32)      # time-major: 7 steps, 1 sequence, 2 features
    >>> lstm = RNN(LSTMCell(3), time_major=True)
    >>> variables = lstm.init(random.PRNGKey(0), x)
    >>> list(variables['params'])                # the cell's variables, shared by the 7 steps
    ['cell']
    >>> (c, h), y = lstm.apply(variables, x, return_carry=True, reverse=True, keep_order=True)   # from the last step
    >>> c.shape, y.shape
    ((1, 3), (7, 1, 3))
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
        """The outputs over ``inputs`` (and the last carry); each ``None`` argument takes the field's value.

        ``seq_lengths`` (an integer array of the batch shape) gives each
        sequence's number of valid steps.
        """
        options = recurrent_args.call_options(
            self, return_carry=return_carry, time_major=time_major, reverse=reverse, keep_order=keep_order
        )
        x = np.asarray(inputs)
        features = self.cell.num_feature_axes
        time_axis = recurrent_args.time_axis(x.ndim, features, options.time_major)
        batch_dims = recurrent_args.num_batch_dims(x.ndim, features)

        # Reversing is done on the data: the loop itself always runs forwards.
        if options.reverse:
            x = flip_sequences(x, seq_lengths, batch_dims, options.time_major)

        carry = initial_carry
        if carry is None:
            one_step_shape = x.shape[:time_axis] + x.shape[time_axis + 1 :]
            rng = _random.PRNGKey(0) if init_key is None else init_key
            carry = self.cell.initialize_carry(rng, one_step_shape)

        # With padded sequences the carry to return is not the loop's last one: keep
        # every step's carry and pick each sequence's own last step.
        keep_carries = options.return_carry and seq_lengths is not None
        # The scan's options are the fields of the same names; x and y are sliced along the time axis.
        lifted = {name: getattr(self, name) for name in _SCAN_FIELDS}
        body = _step_keeping_carries if keep_carries else _step
        loop = scan(body, in_axes=time_axis, out_axes=(0, time_axis) if keep_carries else time_axis, **lifted)
        carry, y = loop(self.cell, carry, x)
        if keep_carries:
            every_carry, y = y
            carry = _carry_at_last_step(every_carry, seq_lengths)

        if options.reverse and options.keep_order:
            y = flip_sequences(y, seq_lengths, batch_dims, options.time_major)
        return (carry, y) if options.return_carry else y


def _features_side_by_side(a, b):
    """The default merge: forward and backward features side by side."""
    return np.concatenate([a, b], axis=-1)


class Bidirectional(Module):
    """Reads the sequence both ways: one RNN forwards, another backwards, outputs merged step by step.

    At step ``t`` the forward RNN has seen ``x[0..t]`` and the backward one
    ``x[t..T-1]``; merging them (``merge_fn``, by default concatenating the
    features) gives every step the context of the whole sequence. The
    backward RNN is called with ``reverse=True, keep_order=True``, so its
    outputs come back in the inputs' order (with ``seq_lengths``, each
    sequence's valid part is what gets reversed).

    The carry is the pair ``(forward_carry, backward_carry)``; an
    ``initial_carry`` is such a pair, and an ``init_key`` is split in two,
    one half per direction. The call's ``reverse`` and ``keep_order`` are
    accepted and ignored.

    Fields: ``forward_rnn``, ``backward_rnn``, ``merge_fn(forward_outputs,
    backward_outputs)``, ``time_major`` (passed to both) and ``return_carry``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import SimpleCell
    >>> from nnref.layers.rnn import RNN, Bidirectional
    >>> both_ways = Bidirectional(RNN(SimpleCell(2)), RNN(SimpleCell(3)))
    >>> x = np.ones((1, 4, 6), np.float32)
    >>> variables = both_ways.init(random.PRNGKey(0), x)
    >>> sorted(variables['params']), both_ways.apply(variables, x).shape   # 2 + 3 features per step
    (['backward_rnn', 'forward_rnn'], (1, 4, 5))
    """

    forward_rnn: Any
    backward_rnn: Any
    merge_fn: Callable = _features_side_by_side
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
        """Both directions over ``inputs``, merged; arguments as for :meth:`RNN.__call__`."""
        options = recurrent_args.call_options(self, return_carry=return_carry, time_major=time_major)
        forward_key = backward_key = forward_start = backward_start = None
        if init_key is not None:
            forward_key, backward_key = _random.split(init_key)
        if initial_carry is not None:
            forward_start, backward_start = initial_carry
        if self.forward_rnn is self.backward_rnn:
            _log.warning(recurrent_args.SHARED_DIRECTIONS_WARNING)
        common = dict(seq_lengths=seq_lengths, return_carry=True, time_major=options.time_major)
        forward_carry, forward_y = self.forward_rnn(
            inputs, initial_carry=forward_start, init_key=forward_key, reverse=False, **common
        )
        # Backwards, with the outputs put back in the inputs' order so that step t meets step t.
        backward_carry, backward_y = self.backward_rnn(
            inputs, initial_carry=backward_start, init_key=backward_key, reverse=True, keep_order=True, **common
        )
        merged = tree_map(self.merge_fn, forward_y, backward_y)
        carry = (forward_carry, backward_carry)
        return (carry, merged) if options.return_carry else merged
