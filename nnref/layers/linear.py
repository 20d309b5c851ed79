"""The dense (fully connected) layer: every output feature a weighted sum of every input feature.

With ``n`` input features and ``m`` outputs, the layer holds a kernel ``W``
of shape ``(n, m)`` and a bias ``b`` of shape ``(m,)``; for a row ``x``,
``y_j = sum_i x_i * W[i, j] + b_j``. Leading axes are carried along, so a
batch of rows is one matrix product.

>>> import nnref as nn
>>> dense = nn.Dense(features=3)
>>> rows = nn.numpy.ones((2, 4))
>>> params = dense.init(nn.random.PRNGKey(0), rows)['params']
>>> params['kernel'].shape, params['bias'].shape  # (n, m) and (m,)
((4, 3), (3,))
>>> dense.apply({'params': params}, rows).shape
(2, 3)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnref import initializers
from nnref import numpy as _rnp
from nnref.dtypes import promote_dtype
from nnref.layers.linear_general import resolve_dot_general
from nnref.module import Module, compact
from shared_spec import layer_args

default_kernel_init = initializers.lecun_normal()


class Dense(Module):
    """``y = x @ W + b`` over the last axis of ``x``.

    The steps of a call: read ``n`` from the input's last axis, create (at
    ``init``) or fetch ``W`` ``(n, features)`` and ``b`` ``(features,)``,
    promote input and parameters to one dtype (``dtype`` if given), contract
    the last axis of ``x`` with the first of ``W``, add ``b`` to every row.

    ``lecun_normal`` draws ``W`` with variance ``1 / n``, so that a unit
    variance input gives outputs of about unit variance.

    Attributes:
      features: ``m``, the number of outputs.
      use_bias: add ``b`` (default True).
      dtype: the computation dtype (None: promoted from input and parameters).
      param_dtype: the parameters' dtype (default float32).
      precision: kept for nnjax's API; NumPy computes at the full precision
        of the dtype.
      kernel_init: how ``W`` is drawn (``lecun_normal()``); bias_init: zeros.
      dot_general: a function ``(x, W, dimension_numbers, precision=)`` to
        contract with instead of the plain matrix product.
      dot_general_cls: a class instantiated at every call and used as
        ``dot_general``; a Module instance becomes an auto-named submodule
        (its variables then live under this layer). Wins over ``dot_general``.

    With a kernel and bias written out, ``[1, 1, 1] @ W + b`` by hand:

    >>> import numpy as np
    >>> W = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)  # column sums 2 and 3
    >>> b = np.array([0.5, 0.0], np.float32)
    >>> Dense(2).apply({'params': {'kernel': W, 'bias': b}}, np.ones((1, 3), np.float32))
    array([[2.5, 3. ]], dtype=float32)
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs):
        layer_args.positive_int(self.features, field="features", layer=self)
        x = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self, min_ndim=1))
        n = x.shape[-1]
        W = self.param("kernel", self.kernel_init, (n, self.features), self.param_dtype)
        b = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        x, W, b = promote_dtype(x, W, b, dtype=self.dtype)
        last = x.ndim - 1
        if self.dot_general is None and self.dot_general_cls is None:
            # The matrix product itself (what nnref.lax.dot_general would do, minus its generality).
            y = np.tensordot(x, W, axes=((last,), (0,)))
        else:
            contract = resolve_dot_general(self)
            y = contract(x, W, (((last,), (0,)), ((), ())), precision=self.precision)
        if b is not None:
            y = y + b  # broadcasts over every leading axis
        return y
