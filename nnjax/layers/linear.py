"""Linear layers.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> layer = nn.Dense(features=3)
>>> x = jnp.ones((2, 4))
>>> variables = layer.init(jax.random.PRNGKey(0), x)
>>> jax.tree_util.tree_map(jnp.shape, variables)
{'params': {'bias': (3,), 'kernel': (4, 3)}}
>>> layer.apply(variables, x).shape
(2, 3)
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp

from nnjax import initializers
from nnjax.dtypes import promote_dtype
from nnjax.layers.linear_general import resolve_dot_general
from nnjax.module import Module, compact
from shared_spec import layer_args

default_kernel_init = initializers.lecun_normal()


class Dense(Module):
    """A linear transformation over the last axis: ``y = x @ kernel + bias``.

    Attributes:
      features: the number of output features.
      use_bias: whether to add a bias (default True).
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      precision: numerical precision of the matmul (``jax.lax.Precision``).
      kernel_init: initializer of the ``(in_features, features)`` kernel
        (default ``lecun_normal()``).
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      dot_general: a function replacing ``jax.lax.dot_general`` (default None:
        ``jax.lax.dot_general``).
      dot_general_cls: a class (typically a Module) called with no arguments
        at each call; the instance is used as ``dot_general``. A Module
        instance becomes an auto-named submodule (e.g. ``MyDot_0``), so its
        variables live in this layer's tree. Takes precedence over
        ``dot_general``.
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs):
        layer_args.positive_int(self.features, field="features", layer=self)
        inputs = layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=self, min_ndim=1)
        kernel = self.param("kernel", self.kernel_init, (jnp.shape(inputs)[-1], self.features), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = resolve_dot_general(self)(inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())), precision=self.precision)
        if bias is not None:
            y += jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
        return y
