"""Gated recurrent cells, written as their equations: LSTM, GRU, MGU and the simple (Elman) cell.

Every cell here does one time step, ``(carry, x) -> (new_carry, y)`` (see
:mod:`nnref.layers.cell_base` for the contract and how a sequence is run).
They differ in how the new state is made from the old one and the input.

The plain recurrence (:class:`SimpleCell`) rewrites its whole state every
step, ``h' = tanh(W_i x + b + W_h h)``; over long sequences the gradient
through many such steps vanishes or explodes. The *gated* cells fix this with
gates: vectors of numbers in ``(0, 1)`` (a sigmoid of a learned projection)
that decide, per unit, how much of the old state to keep and how much new
content to write. Where a gate is close to "keep", the state, and its
gradient, pass through the step almost unchanged.

Each projection ``W v + b`` is a :class:`~nnref.layers.linear.Dense` layer
with its own name (``ii``: input to input gate, ``hf``: hidden to forget
gate, ...), so the parameters are a dictionary of small kernels. Input-side
kernels default to ``lecun_normal``, hidden-side ones to ``orthogonal`` (a
rotation neither grows nor shrinks the state), biases to zeros.

The convolutional LSTM is in :mod:`nnref.layers.conv_lstm`; both it and
``RNNCellBase`` are importable from here too.

>>> import numpy as np
>>> from nnref import random
>>> from nnref.layers.recurrent import GRUCell
>>> cell = GRUCell(features=2)
>>> sentence = np.ones((5, 1, 3), np.float32)         # 5 steps, 1 sequence, 3 features per step
>>> h = cell.initialize_carry(random.PRNGKey(0), sentence[0].shape)
>>> variables = cell.init(random.PRNGKey(1), h, sentence[0])
>>> for x in sentence:                                # the recurrence, written as a loop
...     h, y = cell.apply(variables, h, x)
>>> h.shape
(1, 2)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnref import initializers
from nnref.activation import sigmoid, tanh
from nnref.dtypes import promote_dtype
from nnref.layers.cell_base import RNNCellBase, VectorCell
from nnref.layers.conv_lstm import ConvLSTMCell
from nnref.layers.linear import Dense, default_kernel_init
from nnref.module import Module, compact, nowrap
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


def _one_minus(z: np.ndarray) -> np.ndarray:
    """``1 - z`` in ``z``'s dtype (NumPy would widen ``1.0 - bfloat16`` to float32; JAX keeps bfloat16)."""
    return np.asarray(1, dtype=z.dtype) - z


def _projection(cell, features: int, name: str, *, bias: bool, kernel_init, bias_init=None) -> Dense:
    """The Dense layer ``v -> W v (+ b)`` named ``name``, in the cell's dtypes."""
    options = dict(dtype=cell.dtype, param_dtype=cell.param_dtype, kernel_init=kernel_init)
    if bias_init is not None:
        options["bias_init"] = bias_init
    return Dense(features, use_bias=bias, name=name, **options)


def _hidden_state(cell, carry) -> tuple:
    """``(h, n)``: a single-state cell's carry as an array, and its size (checked against ``features``)."""
    h = np.asarray(recurrent_args.single_carry(cell, carry))
    return h, recurrent_args.hidden_size(cell, cell.features, h.shape)


def _memory_and_hidden(cell, carry) -> tuple:
    """``(c, h, n)``: an LSTM carry as two arrays, and the hidden size (checked against ``features``)."""
    c, h = (np.asarray(state) for state in recurrent_args.carry_pair(cell, carry))
    return c, h, recurrent_args.hidden_size(cell, cell.features, h.shape)


class _LSTMFields(VectorCell):
    """The fields and the carry ``(c, h)`` of both LSTM cells, whose parameters are interchangeable."""

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = np.float32
    carry_init: Callable = initializers.zeros_init()

    carry_states = 2  # the memory c and the hidden state h


class LSTMCell(_LSTMFields):
    r"""Long short-term memory (Hochreiter & Schmidhuber, 1997): a memory ``c`` behind three gates.

    The carry is a pair: ``c``, the memory, and ``h``, what the cell shows of
    it. One step, with ``sigma = gate_fn`` (sigmoid) and ``phi =
    activation_fn`` (tanh)::

        i  = sigma(W_ii x + W_hi h + b_hi)     input gate: how much new content to write
        f  = sigma(W_if x + W_hf h + b_hf)     forget gate: how much of the memory to keep
        g  = phi  (W_ig x + W_hg h + b_hg)     the candidate content
        o  = sigma(W_io x + W_ho h + b_ho)     output gate: how much of the memory to show
        c' = f * c + i * g                     keep part of the memory, add part of the candidate
        h' = o * phi(c')                       show part of it

    The new carry is ``(c', h')``, the output ``h'``. The memory is updated
    by a sum, not rewritten: where ``f`` is near 1 and ``i`` near 0, ``c``
    passes through the step unchanged. The input and hidden projections are
    added, so one bias per gate is enough; it sits on the hidden side.

    Parameters: Dense layers ``ii, if, ig, io`` (``W_i*``, no bias) and
    ``hi, hf, hg, ho`` (``W_h*`` and ``b_h*``). Fields: ``features`` (the
    size of ``c`` and ``h``), ``gate_fn``, ``activation_fn``,
    ``kernel_init`` (``W_i*``), ``recurrent_kernel_init`` (``W_h*``),
    ``bias_init``, ``dtype``, ``param_dtype`` (also the carry's) and
    ``carry_init`` (of ``c`` and ``h``).

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell
    >>> cell = LSTMCell(features=2)
    >>> x = np.zeros((1, 3), np.float32)      # with x = 0 and (c, h) = 0, every gate is sigmoid(0) = 1/2
    >>> carry = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), carry, x)
    >>> (c, h), y = cell.apply(variables, carry, x)
    >>> c, sorted(variables['params'])          # g = tanh(0) = 0, so nothing is written
    (array([[0., 0.]], dtype=float32), ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io'])
    """

    @compact
    def __call__(self, carry, inputs):
        c, h, n = _memory_and_hidden(self, carry)
        x = np.asarray(inputs)

        def pre_activation(gate):  # W_i{gate} x + W_h{gate} h + b_h{gate}
            from_x = _projection(self, n, "i" + gate, bias=False, kernel_init=self.kernel_init)
            from_h = _projection(
                self, n, "h" + gate, bias=True, kernel_init=self.recurrent_kernel_init, bias_init=self.bias_init
            )
            return from_x(x) + from_h(h)

        i = self.gate_fn(pre_activation("i"))
        f = self.gate_fn(pre_activation("f"))
        g = self.activation_fn(pre_activation("g"))
        o = self.gate_fn(pre_activation("o"))
        c_next = f * c + i * g
        h_next = o * self.activation_fn(c_next)
        return (c_next, h_next), h_next


class DenseParams(Module):
    """A Dense layer's kernel ``(in_features, features)`` and bias, created and returned, not applied.

    :class:`OptimizedLSTMCell` creates its parameters with it (so that they
    have the names and shapes :class:`LSTMCell`'s Dense layers give them) and
    then applies all gates together.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import DenseParams
    >>> (W, b), _ = DenseParams(4).init_with_output(random.PRNGKey(0), np.ones((2, 5), np.float32))
    >>> W.shape, b.shape
    ((5, 4), (4,))
    """

    features: int
    use_bias: bool = True
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()

    @compact
    def __call__(self, inputs):
        in_features = np.shape(inputs)[-1]
        W = self.param("kernel", self.kernel_init, (in_features, self.features), self.param_dtype)
        b = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        return W, b


class OptimizedLSTMCell(_LSTMFields):
    r""":class:`LSTMCell` computed with two matrix products per step instead of eight.

    The four input kernels are side by side one matrix ``[W_ii W_if W_ig
    W_io]``, and the same for the hidden side, so::

        [z_i z_f z_g z_o] = x [W_ii W_if W_ig W_io] + h [W_hi W_hf W_hg W_ho] + [b_hi b_hf b_hg b_ho]

    and the four blocks of ``z`` are the gates' pre-activations; the rest is
    :class:`LSTMCell`'s equations. The parameters are stored as the plain
    cell stores them (same names, shapes and initial values for the same
    key), so either cell runs the other's variables.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import LSTMCell, OptimizedLSTMCell
    >>> x = np.full((3, 2), 0.5, np.float32)
    >>> carry = LSTMCell(5).initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = LSTMCell(5).init(random.PRNGKey(1), carry, x)
    >>> fused = OptimizedLSTMCell(5).apply(variables, carry, x)[1]
    >>> plain = LSTMCell(5).apply(variables, carry, x)[1]
    >>> bool(np.allclose(fused, plain, atol=1e-6))
    True
    """

    @compact
    def __call__(self, carry, inputs):
        c, h, n = _memory_and_hidden(self, carry)
        x = np.asarray(inputs)
        input_side = [
            DenseParams(n, use_bias=False, param_dtype=self.param_dtype, kernel_init=self.kernel_init, name="i" + gate)(
                x
            )
            for gate in "ifgo"
        ]
        hidden_side = [
            DenseParams(
                n,
                param_dtype=self.param_dtype,
                kernel_init=self.recurrent_kernel_init,
                bias_init=self.bias_init,
                name="h" + gate,
            )(h)
            for gate in "ifgo"
        ]
        z_h, z_x = self._side_by_side(h, hidden_side), self._side_by_side(x, input_side)
        z_i, z_f, z_g, z_o = (a + b for a, b in zip(z_h, z_x))
        i, f, g, o = self.gate_fn(z_i), self.gate_fn(z_f), self.activation_fn(z_g), self.gate_fn(z_o)
        c_next = f * c + i * g
        h_next = o * self.activation_fn(c_next)
        return (c_next, h_next), h_next

    @nowrap
    def _side_by_side(self, v, params):
        """``v [W_1 ... W_4] (+ [b_1 ... b_4])`` in one product, cut back into the four blocks."""
        W = np.concatenate([kernel for kernel, _ in params], axis=-1)
        b = None if params[0][1] is None else np.concatenate([bias for _, bias in params], axis=-1)
        v, W, b = promote_dtype(v, W, b, dtype=self.dtype)
        z = np.tensordot(v, W, axes=((v.ndim - 1,), (0,)))
        return np.split(z if b is None else z + b, len(params), axis=-1)


class GRUCell(VectorCell):
    r"""Gated recurrent unit (Cho et al., 2014): one state ``h``, interpolated by an update gate.

    One step, with ``sigma = gate_fn`` (sigmoid) and ``phi = activation_fn`` (tanh)::

        r  = sigma(W_ir x + b_ir + W_hr h)                  reset gate
        z  = sigma(W_iz x + b_iz + W_hz h)                  update gate
        n  = phi  (W_in x + b_in + r * (W_hn h + b_hn))     candidate state
        h' = (1 - z) * n + z * h

    The new carry and the output are both ``h'``: a per-unit mix of the old
    state (``z`` near 1) and the candidate (``z`` near 0). The reset gate
    decides how much of the old state the candidate may see. ``b_hn`` is
    separate from ``b_in`` because ``r`` multiplies it.

    Parameters: Dense layers ``ir, iz, in`` (with bias), ``hr, hz`` (no
    bias) and ``hn`` (with bias). Fields: ``features``, ``gate_fn``,
    ``activation_fn``, ``kernel_init``, ``recurrent_kernel_init``,
    ``bias_init``, ``dtype``, ``param_dtype`` and ``carry_init``, as for
    :class:`LSTMCell`.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import GRUCell
    >>> cell = GRUCell(features=4)
    >>> x = np.ones((3, 2), np.float32)
    >>> h = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), h, x)
    >>> h_next, y = cell.apply(variables, h, x)
    >>> list(variables['params']), bool((h_next == y).all())
    (['ir', 'hr', 'iz', 'hz', 'in', 'hn'], True)
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
        h, n = _hidden_state(self, carry)
        x = np.asarray(inputs)

        def W_x(gate):  # W_i{gate} x + b_i{gate}
            return _projection(self, n, "i" + gate, bias=True, kernel_init=self.kernel_init, bias_init=self.bias_init)(
                x
            )

        def W_h(gate, bias=False):  # W_h{gate} h (+ b_h{gate})
            kernel_init, bias_init = self.recurrent_kernel_init, self.bias_init
            return _projection(self, n, "h" + gate, bias=bias, kernel_init=kernel_init, bias_init=bias_init)(h)

        r = self.gate_fn(W_x("r") + W_h("r"))
        z = self.gate_fn(W_x("z") + W_h("z"))
        candidate = self.activation_fn(W_x("n") + r * W_h("n", bias=True))
        h_next = _one_minus(z) * candidate + z * h
        return h_next, h_next


class MGUCell(VectorCell):
    r"""Minimal gated unit (Zhou et al., 2016): a GRU whose two gates are one.

    One forget gate ``f`` does the work of the GRU's reset and update gates::

        f  = sigma(W_if x + b_if + W_hf h)
        n  = phi  (W_in x + b_in + f * (W_hn h + b_hn))     with reset_gate (default)
        n  = phi  (W_in x + b_in + W_hn h)                  without
        h' = (1 - f) * n + f * h

    Fewer parameters than a GRU, often as good. ``b_if`` starts at one
    (``forget_bias_init``), so the gate starts open towards keeping ``h``,
    which lets gradients flow through early training.

    Parameters: Dense layers ``if``, ``in`` (with bias), ``hf`` (no bias)
    and ``hn`` (with a bias only with ``reset_gate``: without it, ``b_in``
    already covers the sum). Fields: ``features``, ``gate_fn``,
    ``activation_fn``, ``kernel_init``, ``recurrent_kernel_init``,
    ``forget_bias_init`` (``b_if``, default ones), ``activation_bias_init``
    (``b_in`` and ``b_hn``, default zeros), ``dtype``, ``param_dtype``,
    ``carry_init`` and ``reset_gate``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import MGUCell
    >>> cell = MGUCell(features=2, reset_gate=False)
    >>> x = np.ones((1, 3), np.float32)
    >>> h = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), h, x)
    >>> variables['params']['if']['bias'], 'bias' in variables['params']['hn']
    (array([1., 1.], dtype=float32), False)
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
        h, n = _hidden_state(self, carry)
        x = np.asarray(inputs)
        recurrent, zeros = self.recurrent_kernel_init, self.activation_bias_init

        f_x = _projection(self, n, "if", bias=True, kernel_init=self.kernel_init, bias_init=self.forget_bias_init)
        f = self.gate_fn(f_x(x) + _projection(self, n, "hf", bias=False, kernel_init=recurrent, bias_init=zeros)(h))
        hidden_part = _projection(self, n, "hn", bias=self.reset_gate, kernel_init=recurrent, bias_init=zeros)(h)
        if self.reset_gate:
            hidden_part = f * hidden_part
        n_x = _projection(self, n, "in", bias=True, kernel_init=self.kernel_init, bias_init=zeros)(x)
        candidate = self.activation_fn(n_x + hidden_part)
        h_next = _one_minus(f) * candidate + f * h
        return h_next, h_next


class SimpleCell(VectorCell):
    r"""The Elman cell, the plain recurrence: ``h' = phi(W_i x + b_i + W_h h)``.

    Every step rewrites the whole state, which is why long-range memory is
    hard for it (the gated cells above exist to fix that). With
    ``residual=True`` the old state is added inside, ``h' = phi(W_i x + b_i
    + W_h h + h)``, a shortcut that eases the flow of gradients. The new
    carry and the output are both ``h'``.

    Parameters: Dense layers ``i`` (with bias) and ``h`` (no bias). Fields:
    ``features``, ``activation_fn`` (``phi``, default tanh),
    ``kernel_init``, ``recurrent_kernel_init``, ``bias_init``, ``dtype``,
    ``param_dtype``, ``carry_init`` and ``residual``.

    >>> import numpy as np
    >>> from nnref import random
    >>> from nnref.layers.recurrent import SimpleCell
    >>> cell = SimpleCell(features=2)
    >>> x = np.zeros((1, 4), np.float32)
    >>> h = cell.initialize_carry(random.PRNGKey(0), x.shape)
    >>> variables = cell.init(random.PRNGKey(1), h, x)
    >>> sorted(variables['params']), cell.apply(variables, h, x)[1]   # tanh(0) = 0
    (['h', 'i'], array([[0., 0.]], dtype=float32))
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
        h, n = _hidden_state(self, carry)
        x = np.asarray(inputs)
        W_i = _projection(self, n, "i", bias=True, kernel_init=self.kernel_init, bias_init=self.bias_init)
        W_h = _projection(self, n, "h", bias=False, kernel_init=self.recurrent_kernel_init)
        pre_activation = W_i(x) + W_h(h)
        if self.residual:
            pre_activation = pre_activation + h
        h_next = self.activation_fn(pre_activation)
        return h_next, h_next
