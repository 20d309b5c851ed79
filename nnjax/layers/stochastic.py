"""Stochastic layers: dropout.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.stochastic import Dropout
>>> layer = Dropout(rate=0.5)
>>> x = jnp.ones((2, 3))
>>> bool((layer.apply({}, x, deterministic=True) == x).all())
True
>>> y = layer.apply({}, x, deterministic=False, rngs={'dropout': jax.random.PRNGKey(0)})
>>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
True
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax.numpy as jnp
from jax import lax, random

from nnjax.merge_param import merge_param
from nnjax.module import Module, compact
from shared_spec import dropout


class Dropout(Module):
    """Zeroes each input with probability ``rate`` and scales the rest by ``1 / (1 - rate)``.

    The keep mask is ``bernoulli(key, 1 - rate, shape)``, where ``shape`` is
    the input shape with the ``broadcast_dims`` axes set to 1 (those axes
    share one mask value), and the key comes from ``make_rng(rng_collection)``
    unless one is passed as ``rng``. With ``deterministic=True`` or
    ``rate == 0`` the inputs come back unchanged and no key is drawn;
    ``rate == 1`` gives zeros (without a key, and without the ``0/0`` that
    would poison gradients).

    Attributes:
      rate: the drop probability (not the keep probability).
      broadcast_dims: axes along which the mask is shared.
      deterministic: set here or at call time, exactly once (see
        :func:`shared_spec.merge_param.merge_param`).
      rng_collection: the RNG stream the mask key comes from (default
        ``'dropout'``).

    >>> import jax, jax.numpy as jnp
    >>> layer = Dropout(rate=0.5, broadcast_dims=(0,), deterministic=False)
    >>> y = layer.apply({}, jnp.ones((4, 3)), rngs={'dropout': jax.random.PRNGKey(1)})
    >>> bool((y == y[0]).all())  # every row shares the mask
    True
    """

    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: Optional[bool] = None
    rng_collection: str = "dropout"

    @compact
    def __call__(self, inputs, deterministic: Optional[bool] = None, rng: Any = None):
        """Applies dropout to ``inputs``; ``rng`` overrides the key from ``rng_collection``."""
        deterministic = merge_param("deterministic", self.deterministic, deterministic)
        axes = dropout.check_fields(self.rate, self.broadcast_dims, jnp.ndim(inputs))
        if self.rate == 0.0 or deterministic:
            return inputs
        inputs = jnp.asarray(inputs)
        if self.rate == 1.0:
            return jnp.zeros_like(inputs)
        dropout.check_floating(jnp.issubdtype(inputs.dtype, jnp.inexact), inputs.dtype)
        keep_prob = 1.0 - self.rate
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        mask_shape = dropout.mask_shape(inputs.shape, axes)
        mask = jnp.broadcast_to(random.bernoulli(rng, p=keep_prob, shape=mask_shape), inputs.shape)
        return lax.select(mask, inputs / keep_prob, jnp.zeros_like(inputs))
