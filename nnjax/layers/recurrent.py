"""Recurrent cells: one time step of a recurrent network, on JAX.

A cell maps ``(carry, x)`` to ``(new_carry, y)``: ``carry`` is the state
handed from one step to the next (an array, or a ``(c, h)`` pair for the LSTM
cells) and ``x`` is the input of one step, ``(*batch, in_features)``. A
sequence is processed by calling the cell once per step (a Python loop, or a
lifted scan); the cell's variables are created on the first call and reused.

``initialize_carry(rng, input_shape)`` builds the first carry from the shape
of one step's input (batch dimensions and feature axes); it is a plain method
and may be called on an unbound cell.

``RNNCellBase`` (:mod:`nnjax.layers.cell_base`) and ``ConvLSTMCell``
(:mod:`nnjax.layers.conv_lstm`) are importable from here too.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.recurrent import GRUCell
>>> cell = GRUCell(features=3)
>>> x = jnp.ones((2, 4))
>>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
>>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
>>> for _ in range(3):
...     carry, y = cell.apply(variables, carry, x)
>>> y.shape
(2, 3)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax.numpy as jnp
from jax import lax

from nnjax import initializers
from nnjax.activation import sigmoid, tanh
from nnjax.dtypes import promote_dtype
from nnjax.layers.cell_base import RNNCellBase, VectorCell
from nnjax.layers.conv_lstm import ConvLSTMCell
from nnjax.layers.linear import Dense, default_kernel_init
from nnjax.module import Module, compact, nowrap
from shared_spec import recurrent_args

__all__ = [
    "RNNCellBase",
    "LSTMCell",
    "OptimizedLSTMCell",
    "GRUCell",
    "MGUCell",
    "SimpleCell",
    "ConvLSTMCell",
    "DenseParams",
]


class _LSTMFields(VectorCell):
    """Fields and carry of the two LSTM cells (their parameters are interchangeable)."""

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Callable = initializers.zeros_init()

    carry_states = 2  # (c, h)


class LSTMCell(_LSTMFields):
    r"""Long short-term memory cell.

    With ``x`` the step's input, ``(c, h)`` the carry, ``sigma = gate_fn`` and
    ``phi = activation_fn``::

        i  = sigma(W_ii x + W_hi h + b_hi)
        f  = sigma(W_if x + W_hf h + b_hf)
        g  = phi(W_ig x + W_hg h + b_hg)
        o  = sigma(W_io x + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * phi(c')

    The carry becomes ``(c', h')`` and the output is ``h'``. Parameters are
    Dense layers named ``ii``, ``if``, ``ig``, ``io`` (input kernels, no bias)
    and ``hi``, ``hf``, ``hg``, ``ho`` (hidden kernels with bias).

    Attributes:
      features: the number of hidden units (last axis of ``c`` and ``h``).
      gate_fn: activation of the i, f, o gates (default sigmoid).
      activation_fn: activation of the candidate g and of the output
        (default tanh).
      kernel_init: initializer of the input kernels (default lecun_normal).
      recurrent_kernel_init: initializer of the hidden kernels (default
        orthogonal).
      bias_init: initializer of the biases (default zeros).
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters and of the initial carry
        (default float32).
      carry_init: initializer of ``c`` and ``h`` in ``initialize_carry``
        (default zeros).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import LSTMCell
    >>> cell = LSTMCell(features=4)
    >>> x = jnp.ones((2, 3))
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
    >>> (c, h), y = cell.apply(variables, carry, x)
    >>> c.shape, y.shape, sorted(variables['params'])
    ((2, 4), (2, 4), ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io'])
    """

    @compact
    def __call__(self, carry, inputs):
        c, h = recurrent_args.carry_pair(self, carry)
        hidden = recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        # x and h projections are summed, so one bias per gate suffices: it
        # lives on the hidden side.
        dense_i = functools.partial(
            Dense,
            features=hidden,
            use_bias=False,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        dense_h = functools.partial(
            Dense,
            features=hidden,
            use_bias=True,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        i = self.gate_fn(dense_i(name="ii")(inputs) + dense_h(name="hi")(h))
        f = self.gate_fn(dense_i(name="if")(inputs) + dense_h(name="hf")(h))
        g = self.activation_fn(dense_i(name="ig")(inputs) + dense_h(name="hg")(h))
        o = self.gate_fn(dense_i(name="io")(inputs) + dense_h(name="ho")(h))
        new_c = f * c + i * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h


class DenseParams(Module):
    """The kernel (and bias) of a Dense layer, created but not applied.

    :class:`OptimizedLSTMCell` creates its parameters with this module so
    that they have Dense's names and shapes, then applies all gates at once.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import DenseParams
    >>> (kernel, bias), variables = DenseParams(3).init_with_output(
    ...     jax.random.PRNGKey(0), jnp.ones((1, 2)))
    >>> kernel.shape, bias.shape
    ((2, 3), (3,))
    """

    features: int
    use_bias: bool = True
    param_dtype: Any = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, inputs):
        kernel = self.param("kernel", self.kernel_init, (jnp.shape(inputs)[-1], self.features), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        return kernel, bias


class OptimizedLSTMCell(_LSTMFields):
    r"""The LSTM cell of :class:`LSTMCell`, with the four gates in one matmul per side.

    The parameters are those of :class:`LSTMCell` (same names, shapes and
    initial values for the same key); the call concatenates the four input
    kernels and the four hidden kernels (and biases) and applies each side
    with a single ``dot_general``, then splits the result into the i, f, g, o
    pre-activations. Fewer, larger matmuls are faster for hidden sizes up to
    about 2048. Fields are those of :class:`LSTMCell`.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import LSTMCell, OptimizedLSTMCell
    >>> x = jnp.ones((2, 3))
    >>> carry = LSTMCell(4).initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = OptimizedLSTMCell(4).init(jax.random.PRNGKey(1), carry, x)
    >>> _, y_fused = OptimizedLSTMCell(4).apply(variables, carry, x)
    >>> _, y_plain = LSTMCell(4).apply(variables, carry, x)
    >>> bool(jnp.allclose(y_fused, y_plain, atol=1e-6))
    True
    """

    @compact
    def __call__(self, carry, inputs):
        c, h = recurrent_args.carry_pair(self, carry)
        hidden = recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        gates = ("i", "f", "g", "o")
        params_i = [
            DenseParams(
                features=hidden,
                use_bias=False,
                param_dtype=self.param_dtype,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                name=f"i{gate}",
            )(inputs)
            for gate in gates
        ]
        params_h = [
            DenseParams(
                features=hidden,
                use_bias=True,
                param_dtype=self.param_dtype,
                kernel_init=self.recurrent_kernel_init,
                bias_init=self.bias_init,
                name=f"h{gate}",
            )(h)
            for gate in gates
        ]
        pre_i = self._fused(inputs, params_i)
        pre_h = self._fused(h, params_h)
        i, f, g, o = (a + b for a, b in zip(pre_h, pre_i))
        i, f, g, o = self.gate_fn(i), self.gate_fn(f), self.activation_fn(g), self.gate_fn(o)
        new_c = f * c + i * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    @nowrap
    def _fused(self, x, params):
        """Apply four (kernel, bias) pairs with one contraction; returns the four results."""
        kernel = jnp.concatenate([k for k, _ in params], axis=-1)
        bias = None if params[0][1] is None else jnp.concatenate([b for _, b in params], axis=-1)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))
        if bias is not None:
            y = y + bias
        return jnp.split(y, len(params), axis=-1)


class GRUCell(VectorCell):
    r"""Gated recurrent unit cell.

    With ``x`` the step's input, ``h`` the carry, ``sigma = gate_fn`` and
    ``phi = activation_fn``::

        r  = sigma(W_ir x + b_ir + W_hr h)
        z  = sigma(W_iz x + b_iz + W_hz h)
        n  = phi(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    The new carry and the output are both ``h'``. Parameters are Dense layers
    named ``ir``, ``iz``, ``in`` (input kernels with bias), ``hr``, ``hz``
    (hidden kernels, no bias) and ``hn`` (hidden kernel with bias: the reset
    gate multiplies it, so it cannot share the input bias).

    Attributes:
      features: the number of hidden units (last axis of ``h``).
      gate_fn: activation of the r and z gates (default sigmoid).
      activation_fn: activation of the candidate n (default tanh).
      kernel_init: initializer of the input kernels (default lecun_normal).
      recurrent_kernel_init: initializer of the hidden kernels (default
        orthogonal).
      bias_init: initializer of the biases (default zeros).
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters and of the initial carry
        (default float32).
      carry_init: initializer of ``h`` in ``initialize_carry`` (default zeros).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import GRUCell
    >>> cell = GRUCell(features=3)
    >>> x = jnp.ones((2, 4))
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
    >>> new_carry, y = cell.apply(variables, carry, x)
    >>> list(variables['params']), y.shape
    (['ir', 'hr', 'iz', 'hz', 'in', 'hn'], (2, 3))
    """

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, carry, inputs):
        h = recurrent_args.single_carry(self, carry)
        hidden = recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        dense_i = functools.partial(
            Dense,
            features=hidden,
            use_bias=True,
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        dense_h = functools.partial(
            Dense,
            features=hidden,
            use_bias=False,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        r = self.gate_fn(dense_i(name="ir")(inputs) + dense_h(name="hr")(h))
        z = self.gate_fn(dense_i(name="iz")(inputs) + dense_h(name="hz")(h))
        n = self.activation_fn(dense_i(name="in")(inputs) + r * dense_h(name="hn", use_bias=True)(h))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


class MGUCell(VectorCell):
    r"""Minimal gated unit cell (Zhou et al., 2016): a GRU with one gate.

    With ``x`` the step's input, ``h`` the carry, ``sigma = gate_fn`` and
    ``phi = activation_fn``::

        f  = sigma(W_if x + b_if + W_hf h)
        n  = phi(W_in x + b_in + f * (W_hn h + b_hn))    # reset_gate=True
        n  = phi(W_in x + b_in + W_hn h)                 # reset_gate=False
        h' = (1 - f) * n + f * h

    The new carry and the output are both ``h'``. Parameters are Dense layers
    named ``if``, ``in`` (input kernels with bias), ``hf`` (hidden kernel, no
    bias) and ``hn`` (hidden kernel, with a bias only when ``reset_gate``).

    Attributes:
      features: the number of hidden units (last axis of ``h``).
      gate_fn: activation of the forget gate f (default sigmoid).
      activation_fn: activation of the candidate n (default tanh).
      kernel_init: initializer of the input kernels (default lecun_normal).
      recurrent_kernel_init: initializer of the hidden kernels (default
        orthogonal).
      forget_bias_init: initializer of ``b_if`` (default ones: a forget gate
        that starts open keeps gradients flowing).
      activation_bias_init: initializer of ``b_in`` and ``b_hn`` (default
        zeros).
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters and of the initial carry
        (default float32).
      carry_init: initializer of ``h`` in ``initialize_carry`` (default zeros).
      reset_gate: whether f also gates the hidden projection in n (default
        True).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import MGUCell
    >>> cell = MGUCell(features=3)
    >>> x = jnp.ones((2, 4))
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
    >>> variables['params']['if']['bias']
    Array([1., 1., 1.], dtype=float32)
    >>> cell.apply(variables, carry, x)[1].shape
    (2, 3)
    """

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    forget_bias_init: Callable = initializers.ones_init()
    activation_bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Callable = initializers.zeros_init()
    reset_gate: bool = True

    @compact
    def __call__(self, carry, inputs):
        h = recurrent_args.single_carry(self, carry)
        hidden = recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        dense_i = functools.partial(
            Dense,
            features=hidden,
            use_bias=True,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        dense_h = functools.partial(
            Dense,
            features=hidden,
            use_bias=False,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.activation_bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        f = self.gate_fn(dense_i(name="if", bias_init=self.forget_bias_init)(inputs) + dense_h(name="hf")(h))
        # With the reset gate, f scales the hidden projection, so it needs its
        # own bias; without it the input bias b_in covers both.
        hidden_n = dense_h(name="hn", use_bias=self.reset_gate)(h)
        if self.reset_gate:
            hidden_n = f * hidden_n
        n = self.activation_fn(dense_i(name="in", bias_init=self.activation_bias_init)(inputs) + hidden_n)
        new_h = (1.0 - f) * n + f * h
        return new_h, new_h


class SimpleCell(VectorCell):
    r"""Elman cell: ``h' = activation_fn(W_i x + b_i + W_h h)``.

    With ``residual=True`` the old state is added before the activation,
    ``h' = activation_fn(W_i x + b_i + W_h h + h)``. The new carry and the
    output are both ``h'``. Parameters are Dense layers named ``i`` (input
    kernel with bias) and ``h`` (hidden kernel, no bias).

    Attributes:
      features: the number of hidden units (last axis of ``h``).
      activation_fn: the activation (default tanh).
      kernel_init: initializer of the input kernel (default lecun_normal).
      recurrent_kernel_init: initializer of the hidden kernel (default
        orthogonal).
      bias_init: initializer of the bias (default zeros).
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters and of the initial carry
        (default float32).
      carry_init: initializer of ``h`` in ``initialize_carry`` (default zeros).
      residual: add ``h`` to the pre-activation (default False).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.recurrent import SimpleCell
    >>> cell = SimpleCell(features=3)
    >>> x = jnp.ones((2, 4))
    >>> carry = cell.initialize_carry(jax.random.PRNGKey(0), x.shape)
    >>> variables = cell.init(jax.random.PRNGKey(1), carry, x)
    >>> sorted(variables['params']), cell.apply(variables, carry, x)[1].shape
    (['h', 'i'], (2, 3))
    """

    features: int
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Callable = initializers.zeros_init()
    residual: bool = False

    @compact
    def __call__(self, carry, inputs):
        h = recurrent_args.single_carry(self, carry)
        hidden = recurrent_args.hidden_size(self, self.features, jnp.shape(h))
        x_part = Dense(
            features=hidden,
            use_bias=True,
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name="i",
        )(inputs)
        h_part = Dense(
            features=hidden,
            use_bias=False,
            kernel_init=self.recurrent_kernel_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name="h",
        )(h)
        pre = x_part + h_part
        if self.residual:
            pre = pre + h
        new_h = self.activation_fn(pre)
        return new_h, new_h
