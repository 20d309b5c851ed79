"""What every recurrent cell is: the ``RNNCellBase`` contract, and the carry of the vector cells.

A recurrent network reads a sequence ``x_1, ..., x_T`` one step at a time,
keeping a state (the *carry*) from one step to the next::

    carry_0 = initialize_carry(rng, x_1.shape)
    carry_t, y_t = cell(carry_{t-1}, x_t)        for t = 1, ..., T

A *cell* is the body of that loop, one step. Its parameters are created on
the first call and the same ones are used at every step: that weight sharing
is what makes it recurrent. :class:`nnref.layers.rnn.RNN` runs the loop.

The carry's form depends on the cell: a single hidden state ``h`` (GRU, MGU,
the simple Elman cell) or a pair ``(c, h)`` of memory cell and hidden state
(the LSTMs). Its shape is the batch shape of one step's input followed by
``features``; the rules are shared with nnjax in
:mod:`shared_spec.recurrent_args`.
"""

from __future__ import annotations

from nnref import initializers
from nnref import random as _random
from nnref.module import Module, nowrap
from shared_spec import recurrent_args

# Compatibility, not part of what a cell is: older tutorials call
# `LSTMCell.initialize_carry(rng, batch_dims, size)` on the *class*; this keeps that code running.
_legacy_too = recurrent_args.LegacyOnClass.wrapping(split=_random.split, zeros=initializers.zeros_init())


class RNNCellBase(Module):
    """The contract of a recurrent cell, for writing your own.

    A cell defines three things:

    * ``__call__(carry, x) -> (new_carry, y)``: one time step;
    * ``initialize_carry(rng, input_shape)``: the carry before the first
      step, from the shape of one step's input. Decorate it with ``nowrap``:
      it is called on cells that are not bound to variables yet;
    * ``num_feature_axes``: how many trailing axes of one step's input are
      features (1 for vectors), so that ``RNN`` can tell the time axis from
      the batch axes.

    Here, a cell that sums a projection of its inputs (no nonlinearity):

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.module import compact, nowrap
    >>> from nnref.layers.linear import Dense
    >>> from nnref.layers.recurrent import RNNCellBase
    >>> class RunningSum(RNNCellBase):
    ...     features: int                                # the size of the running sum
    ...     @compact
    ...     def __call__(self, total, x):
    ...         total = total + Dense(self.features)(x)
    ...         return total, total
    ...     num_feature_axes = 1                         # x is (*batch, in_features)
    ...     @nowrap                                      # called before the cell has variables
    ...     def initialize_carry(self, key, x_shape):    # the key is unused: the sum starts at zero
    ...         return np.zeros(tuple(x_shape[:-1]) + (self.features,), np.float32)
    >>> cell = RunningSum(3)
    >>> total = cell.initialize_carry(random.PRNGKey(0), (2, 4))      # 2 sequences, 4 input features
    >>> variables = cell.init(random.PRNGKey(1), total, np.ones((2, 4), np.float32))
    >>> total.shape, variables['params']['Dense_0']['kernel'].shape
    ((2, 3), (4, 3))
    """

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """The first carry; a subclass must say what it is."""
        raise recurrent_args.missing_member(self, "initialize_carry")

    @property
    def num_feature_axes(self) -> int:
        """How many trailing axes of one step's input are features; a subclass must say."""
        raise recurrent_args.missing_member(self, "num_feature_axes")


class VectorCell(RNNCellBase):
    """A cell whose step input is a vector of features: all but the convolutional LSTM.

    Its carry is ``carry_states`` arrays (one ``h``, or the LSTMs' ``(c, h)``)
    of shape ``(*batch, features)``, each drawn from ``carry_init``.
    """

    carry_states = 1
    num_feature_axes = 1  # one step's input is (*batch, in_features)

    @_legacy_too
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """The first carry: ``h``, or ``(c, h)`` drawn with one split key each, shaped ``(*batch, features)``."""
        shape = recurrent_args.carry_shape(self, input_shape, num_feature_axes=1, features=self.features)
        if self.carry_states == 1:
            return self.carry_init(rng, shape, self.param_dtype)
        c_key, h_key = _random.split(rng)
        return self.carry_init(c_key, shape, self.param_dtype), self.carry_init(h_key, shape, self.param_dtype)
