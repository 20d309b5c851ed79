"""Stochastic layers: dropout.

>>> import nnref as nn
>>> from nnref.layers.stochastic import Dropout
>>> layer = Dropout(rate=0.5)
>>> x = nn.numpy.ones((2, 3))
>>> bool((layer.apply({}, x, deterministic=True) == x).all())
True
>>> y = layer.apply({}, x, deterministic=False, rngs={'dropout': nn.random.PRNGKey(0)})
>>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
True
"""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence

import ml_dtypes
import numpy as np

from nnref import random
from nnref.merge_param import merge_param
from nnref.module import Module, compact


def check_dropout_fields(rate, broadcast_dims, ndim: int) -> list:
    """Validates ``rate`` and ``broadcast_dims``; returns the dims as non-negative axes."""
    if isinstance(rate, numbers.Real) and not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"Dropout: rate must lie in [0, 1] (it is the drop probability), got {rate}. Fix: pass e.g. Dropout(rate=0.1)."
        )
    axes = []
    for dim in broadcast_dims:
        if not -ndim <= dim < ndim:
            raise ValueError(
                f"Dropout: broadcast_dims entry {dim} is out of range for inputs of rank {ndim}. "
                f"Fix: name axes in [-{ndim}, {ndim}) that should share one mask value."
            )
        axes.append(dim % ndim)
    return axes


def _is_inexact(dtype: np.dtype) -> bool:
    # ml_dtypes' bfloat16 is not a NumPy `inexact` subtype, but has a finfo.
    if np.issubdtype(dtype, np.inexact):
        return True
    try:
        ml_dtypes.finfo(dtype)
    except (ValueError, TypeError):
        return False
    return True


class Dropout(Module):
    """Zeroes each input with probability ``rate`` and scales the rest by ``1 / (1 - rate)``.

    The keep mask is ``bernoulli(key, 1 - rate, shape)``, where ``shape`` is
    the input shape with the ``broadcast_dims`` axes set to 1 (those axes
    share one mask value), and the key comes from ``make_rng(rng_collection)``
    unless one is passed as ``rng``. The mask is drawn in float32 whatever the
    input dtype, so a float64 run drops exactly the entries a float32 run
    drops. With ``deterministic=True`` or ``rate == 0`` the inputs come back
    unchanged and no key is drawn; ``rate == 1`` gives zeros (without a key).

    Attributes:
      rate: the drop probability (not the keep probability).
      broadcast_dims: axes along which the mask is shared.
      deterministic: set here or at call time, exactly once (see
        :func:`nnref.merge_param.merge_param`).
      rng_collection: the RNG stream the mask key comes from (default
        ``'dropout'``).

    >>> import nnref as nn
    >>> layer = Dropout(rate=0.5, broadcast_dims=(0,), deterministic=False)
    >>> y = layer.apply({}, nn.numpy.ones((4, 3)), rngs={'dropout': nn.random.PRNGKey(1)})
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
        axes = check_dropout_fields(self.rate, self.broadcast_dims, np.ndim(inputs))
        if self.rate == 0.0 or deterministic:
            return inputs
        inputs = np.asarray(inputs)
        if self.rate == 1.0:
            return np.zeros_like(inputs)
        if not _is_inexact(inputs.dtype):
            raise TypeError(
                f"Dropout: inputs must be floating point to be rescaled by 1/(1 - rate), got {inputs.dtype}. "
                "Fix: cast them to a float dtype first, or pass deterministic=True."
            )
        keep_prob = 1.0 - self.rate
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        mask_shape = tuple(1 if axis in axes else size for axis, size in enumerate(inputs.shape))
        # A Python float probability is float32 to the sampler, as in JAX.
        mask = np.broadcast_to(random.bernoulli(rng, p=keep_prob, shape=mask_shape), inputs.shape)
        # The Python scalar takes the input's dtype before dividing (JAX's weak typing).
        scaled = inputs / np.asarray(keep_prob, dtype=inputs.dtype)
        return np.where(mask, scaled, np.zeros_like(inputs))
