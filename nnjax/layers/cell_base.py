"""``RNNCellBase``, the interface of recurrent cells, and the carry handling of the vector cells.

A cell maps ``(carry, x)`` to ``(new_carry, y)`` for one time step; its
variables are created on the first call and reused by the next ones (a
Python loop, or a lifted scan such as :class:`nnjax.layers.rnn.RNN`).
Carry shapes and checks follow :mod:`shared_spec.recurrent_args`.
"""

from __future__ import annotations

import jax

from nnjax import initializers
from nnjax.module import Module, nowrap
from shared_spec import recurrent_args


class RNNCellBase(Module):
    """Base class of recurrent cells.

    A subclass implements ``__call__(carry, inputs) -> (new_carry, output)``,
    ``initialize_carry(rng, input_shape)`` (decorated with ``nowrap``: it is
    called on unbound cells) and the ``num_feature_axes`` property, the number
    of trailing axes of one step's input that are not batch axes.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.module import compact, nowrap
    >>> from nnjax.layers.linear import Dense
    >>> from nnjax.layers.recurrent import RNNCellBase
    >>> class Accumulator(RNNCellBase):
    ...     features: int
    ...     @compact
    ...     def __call__(self, carry, x):
    ...         carry = carry + Dense(self.features)(x)
    ...         return carry, carry
    ...     @nowrap
    ...     def initialize_carry(self, rng, input_shape):
    ...         return jnp.zeros(tuple(input_shape[:-1]) + (self.features,))
    ...     @property
    ...     def num_feature_axes(self):
    ...         return 1
    >>> cell = Accumulator(2)
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), (3, 5))
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, jnp.ones((3, 5)))
    >>> carry.shape, variables['params']['Dense_0']['kernel'].shape
    ((3, 2), (5, 2))
    """

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """The initial carry for inputs of shape ``input_shape``; each cell defines it."""
        raise recurrent_args.missing_member(self, "initialize_carry")

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing non-batch axes of one step's input; each cell defines it."""
        raise recurrent_args.missing_member(self, "num_feature_axes")


class VectorCell(RNNCellBase):
    """Cells whose inputs are vectors (one feature axis) and whose carry is ``carry_states`` arrays.

    ``initialize_carry`` also answers the seed system's older class-level call,
    ``LSTMCell.initialize_carry(rng, batch_dims, size, init_fn=zeros)``.

    >>> from nnjax.layers.recurrent import LSTMCell
    >>> c, h = LSTMCell.initialize_carry(None, (2,), 3)
    >>> c.shape, h.shape
    ((2, 3), (2, 3))
    """

    carry_states = 1

    @property
    def num_feature_axes(self) -> int:
        return 1

    @recurrent_args.LegacyOnClass.wrapping(split=jax.random.split, zeros=initializers.zeros_init())
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """The initial carry, each array ``(*batch, features)`` from ``carry_init`` (one split key each)."""
        shape = recurrent_args.carry_shape(self, input_shape, num_feature_axes=1, features=self.features)
        if self.carry_states == 1:
            return self.carry_init(rng, shape, self.param_dtype)
        keys = jax.random.split(rng, self.carry_states)
        return tuple(self.carry_init(key, shape, self.param_dtype) for key in keys)
