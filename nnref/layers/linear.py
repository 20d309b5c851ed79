"""Linear layers.

>>> import nnref as nn
>>> layer = nn.Dense(features=3)
>>> x = nn.numpy.ones((2, 4))
>>> variables = layer.init(nn.random.PRNGKey(0), x)
>>> {name: v.shape for name, v in variables['params'].items()}
{'kernel': (4, 3), 'bias': (3,)}
>>> layer.apply(variables, x).shape
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
    """A linear transformation over the last axis: ``y = x @ kernel + bias``.

    Attributes:
      features: the number of output features.
      use_bias: whether to add a bias (default True).
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      precision: accepted for API parity with nnjax; NumPy always computes at
        full precision of ``dtype``.
      kernel_init: initializer of the ``(in_features, features)`` kernel
        (default ``lecun_normal()``).
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      dot_general: an optional ``dot_general(x, kernel, dimension_numbers,
        precision=...)`` replacing the default contraction over the last axis
        (``nnref.lax.dot_general``).
      dot_general_cls: a class (typically a Module) called with no arguments
        at each call; the instance is used as ``dot_general``. A Module
        instance becomes an auto-named submodule (e.g. ``MyDot_0``), so its
        variables live in this layer's tree. Takes precedence over
        ``dot_general``.
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
        inputs = layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self, min_ndim=1)
        inputs = np.asarray(inputs)
        kernel = self.param("kernel", self.kernel_init, (inputs.shape[-1], self.features), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        if self.dot_general is None and self.dot_general_cls is None:
            # The same contraction as nnref.lax.dot_general, without the generic path.
            y = np.tensordot(inputs, kernel, axes=((inputs.ndim - 1,), (0,)))
        else:
            y = resolve_dot_general(self)(
                inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())), precision=self.precision
            )
        if bias is not None:
            y = y + np.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
        return y
