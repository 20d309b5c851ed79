"""Activations: ``jax.nn``'s functions under the seed's names, and ``PReLU``.

>>> import jax.numpy as jnp
>>> import nnjax as nn
>>> nn.relu(jnp.array([-1.0, 2.0]))
Array([0., 2.], dtype=float32)
"""

from typing import Any

import jax.numpy as jnp
from jax.nn import (  # noqa: F401
    celu,
    elu,
    gelu,
    glu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_sign,
    softmax,
    softplus,
    standardize,
    swish,
)
from jax.numpy import tanh  # noqa: F401

from nnjax.module import Module, compact

# The seed keeps ``normalize`` as an alias of ``standardize`` (jax.nn dropped the old name).
normalize = standardize

__all__ = [
    'celu',
    'elu',
    'gelu',
    'glu',
    'hard_sigmoid',
    'hard_silu',
    'hard_swish',
    'hard_tanh',
    'leaky_relu',
    'log_sigmoid',
    'log_softmax',
    'logsumexp',
    'one_hot',
    'relu',
    'relu6',
    'selu',
    'sigmoid',
    'silu',
    'soft_sign',
    'softmax',
    'softplus',
    'standardize',
    'swish',
    'tanh',
    'PReLU',
]


class PReLU(Module):
    """Leaky ReLU with a learned negative slope (a scalar parameter 'negative_slope').

    Attributes:
      param_dtype: dtype of the slope parameter (default float32).
      negative_slope_init: its initial value (default 0.01).

    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([-2.0, 3.0])
    >>> variables = PReLU().init(jax.random.PRNGKey(0), x)
    >>> PReLU().apply(variables, x)
    Array([-0.02,  3.  ], dtype=float32)
    """

    param_dtype: Any = jnp.float32
    negative_slope_init: float = 0.01

    @compact
    def __call__(self, inputs):
        slope = self.param('negative_slope', lambda _key: jnp.asarray(self.negative_slope_init, self.param_dtype))
        return jnp.where(inputs >= 0, inputs, jnp.asarray(slope, inputs.dtype) * inputs)
