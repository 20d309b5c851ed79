"""``ConvLSTMCell``: an LSTM cell whose matmuls are convolutions (channels-last feature maps)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from nnjax import initializers
from nnjax.activation import sigmoid
from nnjax.layers.cell_base import RNNCellBase
from nnjax.layers.conv import Conv
from nnjax.module import compact, nowrap
from shared_spec import recurrent_args


class ConvLSTMCell(RNNCellBase):
    r"""Convolutional LSTM cell (Shi et al., 2015): an LSTM whose matmuls are convolutions.

    Inputs and carries are channels-last feature maps ``(*batch, *spatial,
    features)``. With ``*`` a convolution of ``kernel_size``::

        i, g, f, o = split(conv_ih * x + conv_hh * h, 4, axis=-1)
        c' = sigmoid(f + 1) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    The carry becomes ``(c', h')`` and the output is ``h'``. The ``+ 1`` on the
    forget gate starts it mostly open (Jozefowicz et al., 2015). Parameters
    are two :class:`~nnjax.layers.conv.Conv` layers with ``4 * features``
    outputs (gates in the order i, g, f, o): ``ih`` on the input and ``hh`` on
    the hidden state, each with a bias when ``use_bias``.

    Attributes:
      features: the number of channels of ``c`` and ``h``.
      kernel_size: the convolution window, one int per spatial axis (an int
        means one spatial axis).
      strides: the convolution strides (default None: 1 on every axis). The
        carry keeps the input's spatial shape, so strides other than 1 do not
        fit a recurrence.
      padding: ``'SAME'`` (default), ``'VALID'`` or explicit ``(low, high)``
        pairs, as for ``Conv``.
      use_bias: whether both convolutions add a bias (default True).
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters and of the initial carry
        (default float32).
      carry_init: initializer of ``c`` and ``h`` in ``initialize_carry``
        (default zeros).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import ConvLSTMCell
    >>> cell = ConvLSTMCell(features=4, kernel_size=(3, 3))
    >>> x = jnp.ones((2, 5, 5, 3))     # (batch, height, width, channels)
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
    >>> (c, h), y = cell.apply(variables, carry, x)
    >>> y.shape, variables['params']['ih']['kernel'].shape, cell.num_feature_axes
    ((2, 5, 5, 4), (3, 3, 3, 16), 3)
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    padding: Any = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, carry, inputs):
        c, h = recurrent_args.carry_pair(self, carry)
        recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        conv = functools.partial(
            Conv,
            features=4 * self.features,
            kernel_size=recurrent_args.conv_window(self.kernel_size),
            strides=self.strides,
            padding=self.padding,
            use_bias=self.use_bias,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        gates = conv(name="ih")(inputs) + conv(name="hh")(h)
        i, g, f, o = jnp.split(gates, 4, axis=-1)
        f = sigmoid(f + 1)
        new_c = f * c + sigmoid(i) * jnp.tanh(g)
        new_h = sigmoid(o) * jnp.tanh(new_c)
        return (new_c, new_h), new_h

    @property
    def num_feature_axes(self) -> int:
        return len(recurrent_args.conv_window(self.kernel_size)) + 1

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``(c, h)``, each ``(*batch, *spatial, features)`` from ``carry_init`` (one split key each)."""
        shape = recurrent_args.carry_shape(
            self, input_shape, num_feature_axes=self.num_feature_axes, features=self.features, check_features=False
        )
        key_c, key_h = jax.random.split(rng)
        return (self.carry_init(key_c, shape, self.param_dtype), self.carry_init(key_h, shape, self.param_dtype))
