"""The convolutional LSTM cell: an LSTM over feature maps, its matrix products replaced by convolutions.

An LSTM (see :class:`nnref.layers.recurrent.LSTMCell`) mixes its input and
hidden state with dense matrices, forgetting where in an image or a grid a
value came from. ConvLSTM (Shi et al., 2015) keeps the spatial layout: the
input ``x`` and the states ``c``, ``h`` are channels-last feature maps,
``(*batch, *spatial, channels)``, and each gate's pre-activation is a
convolution, so a position's new state depends on a neighbourhood of the
previous one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnref import initializers
from nnref import random as _random
from nnref.activation import sigmoid, tanh
from nnref.layers.cell_base import RNNCellBase
from nnref.layers.conv import Conv
from nnref.module import compact, nowrap
from shared_spec import recurrent_args


class ConvLSTMCell(RNNCellBase):
    r"""Convolutional LSTM cell: the four gates are convolutions of the input and of the hidden map.

    With ``*`` a convolution of ``kernel_size`` (``'SAME'`` padding keeps the
    map's size), one step computes::

        z          = W_x * x + W_h * h           (4 * features channels)
        z_i, z_g, z_f, z_o = the four channel blocks of z, in this order
        c' = sigmoid(z_f + 1) * c + sigmoid(z_i) * tanh(z_g)
        h' = sigmoid(z_o) * tanh(c')

    and returns ``(c', h')`` as the carry and ``h'`` as the output. Adding 1
    to the forget gate's pre-activation makes it start mostly open, so the
    memory is kept early in training (Jozefowicz et al., 2015). Unlike
    :class:`~nnref.layers.recurrent.LSTMCell`, the activations are fixed.

    The parameters are two :class:`~nnref.layers.conv.Conv` layers of ``4 *
    features`` output channels: ``ih`` convolves the input, ``hh`` the hidden
    map, each with a bias when ``use_bias``.

    Fields: ``features`` (channels of ``c`` and ``h``), ``kernel_size`` (one
    int per spatial axis; an int means one axis), ``strides`` (``None``: 1;
    the state keeps the input's spatial size, so larger strides do not fit a
    recurrence), ``padding`` (as for ``Conv``, default ``'SAME'``),
    ``use_bias``, ``dtype``, ``param_dtype`` (also the initial carry's) and
    ``carry_init`` (initializer of ``c`` and ``h``, default zeros).

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import ConvLSTMCell
    >>> cell = ConvLSTMCell(features=2, kernel_size=(3,))
    >>> frames = np.ones((4, 6, 1), np.float32)   # 4 sequences of 6 positions, 1 channel
    >>> carry = cell.initialize_carry(random.PRNGKey(0), frames.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, frames)
    >>> (c, h), y = cell.apply(variables, carry, frames)
    >>> y.shape, variables['params']['hh']['kernel'].shape, cell.num_feature_axes
    ((4, 6, 2), (3, 2, 8), 2)
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    padding: Any = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, carry, inputs):
        c, h = (np.asarray(state) for state in recurrent_args.carry_pair(self, carry))
        recurrent_args.hidden_size(self, self.features, h.shape)

        window = recurrent_args.conv_window(self.kernel_size)
        geometry = dict(strides=self.strides, padding=self.padding, use_bias=self.use_bias)
        dtypes = dict(dtype=self.dtype, param_dtype=self.param_dtype)

        def gate_convolution(name):  # all four gates at once: 4 * features output channels
            return Conv(4 * self.features, window, **geometry, **dtypes, name=name)

        z = gate_convolution("ih")(np.asarray(inputs)) + gate_convolution("hh")(h)
        i, g, f, o = np.split(z, 4, axis=-1)
        one = np.asarray(1, dtype=f.dtype)  # a typed 1: NumPy would widen bfloat16 + 1.0 to float32
        c_new = sigmoid(f + one) * c + sigmoid(i) * tanh(g)
        h_new = sigmoid(o) * tanh(c_new)
        return (c_new, h_new), h_new

    @property
    def num_feature_axes(self) -> int:
        """The spatial axes and the channel axis."""
        return len(recurrent_args.conv_window(self.kernel_size)) + 1

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``(c, h)``: two maps of the input's batch and spatial shape with ``features`` channels."""
        axes = self.num_feature_axes
        shape = recurrent_args.carry_shape(
            self, input_shape, num_feature_axes=axes, features=self.features, check_features=False
        )
        key_c, key_h = _random.split(rng)
        return self.carry_init(key_c, shape, self.param_dtype), self.carry_init(key_h, shape, self.param_dtype)
