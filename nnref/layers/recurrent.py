"""Recurrent cells: one time step of a recurrent network, in NumPy.

A cell maps ``(carry, x)`` to ``(new_carry, y)``: ``carry`` is the state
handed from one step to the next (an array, or a ``(c, h)`` pair for the LSTM
cells) and ``x`` is the input of one step, ``(*batch, in_features)``. A
sequence is processed by calling the cell once per step; the cell's variables
are created on the first call and reused on the next ones.

``initialize_carry(rng, input_shape)`` builds the first carry from the shape
of one step's input (batch dimensions and feature axes); it is a plain method
and may be called on an unbound cell.

>>> import numpy as np
>>> from nnref import random
>>> from nnref.layers.recurrent import GRUCell
>>> cell = GRUCell(features=3)
>>> x = np.ones((2, 4), np.float32)
>>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
>>> variables = cell.init(random.PRNGKey(1), carry, x)
>>> for _ in range(3):
...     carry, y = cell.apply(variables, carry, x)
>>> y.shape
(2, 3)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from nnref import initializers
from nnref import random as _random
from nnref.activation import sigmoid, tanh
from nnref.dtypes import promote_dtype
from nnref.layers.conv import Conv
from nnref.layers.linear import Dense, default_kernel_init
from nnref.module import Module, compact, nowrap
from shared_spec import layer_args

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


# -- helpers shared by the cells ---------------------------------------------------


def _typed(value, like):
    """A constant in ``like``'s dtype.

    NumPy promotes ``1.0 - bfloat16_array`` to float32; JAX treats the Python
    number as weakly typed and keeps bfloat16. A typed constant keeps both
    backends in the same dtype.
    """
    return np.asarray(value, dtype=like.dtype)


def _pair(cell, carry):
    """``(c, h)`` of an LSTM carry, refusing a bare array (it would unpack by rows)."""
    if not isinstance(carry, (tuple, list)) or len(carry) != 2:
        raise TypeError(
            f"{type(cell).__name__}: carry must be the pair (c, h) returned by "
            f"initialize_carry(rng, input_shape); got {type(carry).__name__}."
        )
    return np.asarray(carry[0]), np.asarray(carry[1])


def _single(cell, carry):
    """The carry array of a single-state cell (GRU, MGU, simple)."""
    if isinstance(carry, (tuple, list)):
        raise TypeError(
            f"{type(cell).__name__}: carry must be one array (the hidden state) as "
            f"returned by initialize_carry(rng, input_shape); got a "
            f"{type(carry).__name__} of {len(carry)}."
        )
    return np.asarray(carry)


def _hidden_size(cell, h):
    """The number of hidden units, checked against ``cell.features``."""
    layer_args.positive_int(cell.features, field="features", layer=cell)
    size = h.shape[-1] if h.ndim else None
    if size != cell.features:
        raise ValueError(
            f"{type(cell).__name__}: the carry has shape {h.shape}, but features="
            f"{cell.features} needs a last axis of {cell.features}; build the carry "
            "with initialize_carry(rng, input_shape) or set features to the carry size."
        )
    return size


def _batch_dims(cell, input_shape):
    """``input_shape`` without its feature axes (the last ``num_feature_axes``)."""
    shape = tuple(int(d) for d in input_shape)
    axes = cell.num_feature_axes
    if len(shape) < axes:
        raise ValueError(
            f"{type(cell).__name__}.initialize_carry: input_shape {shape} has fewer "
            f"than the {axes} feature axes the cell reads; pass the shape of one "
            "step's input, e.g. x.shape."
        )
    return shape, shape[: len(shape) - axes]


# -- the cells ---------------------------------------------------------------------


class _LegacyOnClass:
    """``initialize_carry`` that also answers the seed system's older call on the *class*.

    On an instance it is the method, ``cell.initialize_carry(rng, input_shape)``.
    Older tutorials (and the seed's own scan examples) call it on the class as
    ``LSTMCell.initialize_carry(rng, batch_dims, size, init_fn=zeros)``; that
    form builds ``batch_dims + (size,)``-shaped states, one split key per state.

    >>> from nnref.layers.recurrent import LSTMCell
    >>> c, h = LSTMCell.initialize_carry(None, (2,), 3)
    >>> c.shape, h.shape
    ((2, 3), (2, 3))
    """

    def __init__(self, method, n_states: int):
        self.method = method
        self.n_states = n_states
        functools.update_wrapper(self, method)

    def __get__(self, obj, cls=None):
        if obj is None:
            return functools.partial(_legacy_initialize_carry, self.n_states)
        return self.method.__get__(obj, cls)


def _legacy_initialize_carry(n_states: int, rng, batch_dims, size: int, init_fn=initializers.zeros_init()):
    shape = tuple(batch_dims) + (size,)
    if n_states == 1:
        return init_fn(rng, shape)
    keys = _random.split(rng) if rng is not None else [None] * n_states
    return tuple(init_fn(key, shape) for key in keys)


def _also_on_class(n_states: int):
    return lambda method: _LegacyOnClass(method, n_states)


class RNNCellBase(Module):
    """Base class of recurrent cells.

    A subclass implements ``__call__(carry, inputs) -> (new_carry, output)``,
    ``initialize_carry(rng, input_shape)`` (decorated with ``nowrap``: it is
    called on unbound cells) and the ``num_feature_axes`` property, the number
    of trailing axes of one step's input that are not batch axes.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.module import compact, nowrap
    >>> from nnref.layers.linear import Dense
    >>> from nnref.layers.recurrent import RNNCellBase
    >>> class Accumulator(RNNCellBase):
    ...     features: int
    ...     @compact
    ...     def __call__(self, carry, x):
    ...         carry = carry + Dense(self.features)(x)
    ...         return carry, carry
    ...     @nowrap
    ...     def initialize_carry(self, rng, input_shape):
    ...         return np.zeros(tuple(input_shape[:-1]) + (self.features,), np.float32)
    ...     @property
    ...     def num_feature_axes(self):
    ...         return 1
    >>> cell = Accumulator(2)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), (3, 5))
    >>> variables = cell.init(random.PRNGKey(1), carry, np.ones((3, 5), np.float32))
    >>> carry.shape, variables['params']['Dense_0']['kernel'].shape
    ((3, 2), (5, 2))
    """

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """The initial carry for inputs of shape ``input_shape``; each cell defines it."""
        raise TypeError(
            f"{type(self).__name__} derives from RNNCellBase but does not define "
            "initialize_carry(rng, input_shape); define it (decorated with nowrap) "
            "to return the first carry."
        )

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing non-batch axes of one step's input; each cell defines it."""
        raise TypeError(
            f"{type(self).__name__} derives from RNNCellBase but does not define "
            "the num_feature_axes property; define it to return how many trailing "
            "axes of the input are feature axes (1 for vector inputs)."
        )


class _VectorCell(RNNCellBase):
    """Shared carry shape of the cells whose inputs are vectors (one feature axis)."""

    @property
    def num_feature_axes(self) -> int:
        return 1

    @nowrap
    def _state_shape(self, input_shape):
        _, batch = _batch_dims(self, input_shape)
        return batch + (layer_args.positive_int(self.features, field="features", layer=self),)


class _LSTMFields(_VectorCell):
    """Fields and carry of the two LSTM cells (their parameters are interchangeable)."""

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()

    @_also_on_class(2)
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``(c, h)``, each ``(*batch, features)`` from ``carry_init`` (one split key each)."""
        shape = self._state_shape(input_shape)
        key_c, key_h = _random.split(rng)
        return (self.carry_init(key_c, shape, self.param_dtype), self.carry_init(key_h, shape, self.param_dtype))


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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell
    >>> cell = LSTMCell(features=4)
    >>> x = np.ones((2, 3), np.float32)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
    >>> (c, h), y = cell.apply(variables, carry, x)
    >>> c.shape, y.shape, sorted(variables['params'])
    ((2, 4), (2, 4), ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io'])
    """

    @compact
    def __call__(self, carry, inputs):
        c, h = _pair(self, carry)
        hidden = _hidden_size(self, h)
        inputs = np.asarray(inputs)
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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import DenseParams
    >>> (kernel, bias), variables = DenseParams(3).init_with_output(
    ...     random.PRNGKey(0), np.ones((1, 2), np.float32))
    >>> kernel.shape, bias.shape
    ((2, 3), (3,))
    """

    features: int
    use_bias: bool = True
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, inputs):
        kernel = self.param("kernel", self.kernel_init, (np.shape(inputs)[-1], self.features), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        return kernel, bias


class OptimizedLSTMCell(_LSTMFields):
    r"""The LSTM cell of :class:`LSTMCell`, with the four gates in one matmul per side.

    The parameters are those of :class:`LSTMCell` (same names, shapes and
    initial values for the same key); the call concatenates the four input
    kernels and the four hidden kernels (and biases) and applies each side
    with a single contraction, then splits the result into the i, f, g, o
    pre-activations. Fields are those of :class:`LSTMCell`.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell, OptimizedLSTMCell
    >>> x = np.ones((2, 3), np.float32)
    >>> carry = LSTMCell(4).initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = OptimizedLSTMCell(4).init(random.PRNGKey(1), carry, x)
    >>> _, y_fused = OptimizedLSTMCell(4).apply(variables, carry, x)
    >>> _, y_plain = LSTMCell(4).apply(variables, carry, x)
    >>> bool(np.allclose(y_fused, y_plain, atol=1e-6))
    True
    """

    @compact
    def __call__(self, carry, inputs):
        c, h = _pair(self, carry)
        hidden = _hidden_size(self, h)
        inputs = np.asarray(inputs)
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
        kernel = np.concatenate([k for k, _ in params], axis=-1)
        bias = None if params[0][1] is None else np.concatenate([b for _, b in params], axis=-1)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = np.tensordot(x, kernel, axes=((x.ndim - 1,), (0,)))
        if bias is not None:
            y = y + bias
        return np.split(y, len(params), axis=-1)


class GRUCell(_VectorCell):
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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import GRUCell
    >>> cell = GRUCell(features=3)
    >>> x = np.ones((2, 4), np.float32)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
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
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, carry, inputs):
        h = _single(self, carry)
        hidden = _hidden_size(self, h)
        inputs = np.asarray(inputs)
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
        new_h = (_typed(1, z) - z) * n + z * h
        return new_h, new_h

    @_also_on_class(1)
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``h`` of shape ``(*batch, features)`` from ``carry_init(rng, ...)``."""
        return self.carry_init(rng, self._state_shape(input_shape), self.param_dtype)


class MGUCell(_VectorCell):
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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import MGUCell
    >>> cell = MGUCell(features=3)
    >>> x = np.ones((2, 4), np.float32)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
    >>> variables['params']['if']['bias']
    array([1., 1., 1.], dtype=float32)
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
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()
    reset_gate: bool = True

    @compact
    def __call__(self, carry, inputs):
        h = _single(self, carry)
        hidden = _hidden_size(self, h)
        inputs = np.asarray(inputs)
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
        new_h = (_typed(1, f) - f) * n + f * h
        return new_h, new_h

    @_also_on_class(1)
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``h`` of shape ``(*batch, features)`` from ``carry_init(rng, ...)``."""
        return self.carry_init(rng, self._state_shape(input_shape), self.param_dtype)


class SimpleCell(_VectorCell):
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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import SimpleCell
    >>> cell = SimpleCell(features=3)
    >>> x = np.ones((2, 4), np.float32)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
    >>> sorted(variables['params']), cell.apply(variables, carry, x)[1].shape
    (['h', 'i'], (2, 3))
    """

    features: int
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()
    residual: bool = False

    @compact
    def __call__(self, carry, inputs):
        h = _single(self, carry)
        hidden = _hidden_size(self, h)
        inputs = np.asarray(inputs)
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

    @_also_on_class(1)
    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``h`` of shape ``(*batch, features)`` from ``carry_init(rng, ...)``."""
        return self.carry_init(rng, self._state_shape(input_shape), self.param_dtype)


class ConvLSTMCell(RNNCellBase):
    r"""Convolutional LSTM cell (Shi et al., 2015): an LSTM whose matmuls are convolutions.

    Inputs and carries are channels-last feature maps ``(*batch, *spatial,
    features)``. With ``*`` a convolution of ``kernel_size``::

        i, g, f, o = split(conv_ih * x + conv_hh * h, 4, axis=-1)
        c' = sigmoid(f + 1) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    The carry becomes ``(c', h')`` and the output is ``h'``. The ``+ 1`` on the
    forget gate starts it mostly open (Jozefowicz et al., 2015). Parameters
    are two :class:`~nnref.layers.conv.Conv` layers with ``4 * features``
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

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import ConvLSTMCell
    >>> cell = ConvLSTMCell(features=4, kernel_size=(3, 3))
    >>> x = np.ones((2, 5, 5, 3), np.float32)     # (batch, height, width, channels)
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
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
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, carry, inputs):
        c, h = _pair(self, carry)
        _hidden_size(self, h)
        conv = functools.partial(
            Conv,
            features=4 * self.features,
            kernel_size=self._window(),
            strides=self.strides,
            padding=self.padding,
            use_bias=self.use_bias,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        gates = conv(name="ih")(np.asarray(inputs)) + conv(name="hh")(h)
        i, g, f, o = np.split(gates, 4, axis=-1)
        f = sigmoid(f + _typed(1, f))
        new_c = f * c + sigmoid(i) * tanh(g)
        new_h = sigmoid(o) * tanh(new_c)
        return (new_c, new_h), new_h

    @nowrap
    def _window(self):
        size = self.kernel_size
        return (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(k) for k in size)

    @property
    def num_feature_axes(self) -> int:
        return len(self._window()) + 1

    @nowrap
    def initialize_carry(self, rng, input_shape):
        """``(c, h)``, each ``(*batch, *spatial, features)`` from ``carry_init`` (one split key each)."""
        shape, batch = _batch_dims(self, input_shape)
        state = batch + shape[len(batch) : -1] + (self.features,)
        key_c, key_h = _random.split(rng)
        return (self.carry_init(key_c, state, self.param_dtype), self.carry_init(key_h, state, self.param_dtype))
