"""Stochastic layers: dropout, the regulariser that trains on randomly thinned activations.

In training, each activation is kept with probability ``p = 1 - rate`` and
the survivors are divided by ``p``, so that the expected value of every
entry is unchanged (``E[y] = p * x / p = x``); at evaluation the layer is
the identity. Half the entries survive a rate of 0.5, each doubled:

>>> import nnref as nn
>>> from nnref.layers.stochastic import Dropout
>>> ones = nn.numpy.ones((2, 3))
>>> y = Dropout(rate=0.5).apply({}, ones, deterministic=False, rngs={'dropout': nn.random.PRNGKey(0)})
>>> set(y.ravel().tolist()) <= {0.0, 2.0}
True
>>> bool((Dropout(rate=0.5).apply({}, ones, deterministic=True) == ones).all())  # evaluation
True
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import ml_dtypes
import numpy as np

from nnref import random
from nnref.merge_param import merge_param
from nnref.module import Module, compact
from shared_spec import dropout


def _is_float(dtype: np.dtype) -> bool:
    """Whether ``dtype`` holds fractions; bfloat16 (ml_dtypes) is no NumPy ``inexact`` yet has a ``finfo``."""
    if np.issubdtype(dtype, np.inexact):
        return True
    try:
        ml_dtypes.finfo(dtype)
    except (ValueError, TypeError):
        return False
    return True


class Dropout(Module):
    """Inverted dropout: ``y = where(keep, x / (1 - rate), 0)`` with ``keep ~ Bernoulli(1 - rate)``.

    The steps of one training call:

    1. ``key``: the ``rng`` argument, else the next key of the
       ``rng_collection`` stream (``make_rng``);
    2. ``keep``: a boolean draw ``bernoulli(key, 1 - rate)`` in the input's
       shape with each ``broadcast_dims`` axis shrunk to 1, then broadcast
       back, so those axes share one decision (for instance a whole channel
       dropped at once);
    3. the kept entries divided by ``1 - rate``, the others set to 0.

    The probability is a float32 number whatever the input dtype, so a
    float64 run drops exactly the entries a float32 run drops.
    ``deterministic=True`` (evaluation) or ``rate == 0`` returns the input
    as is and draws no key; ``rate == 1`` returns zeros, also without a key.

    Attributes:
      rate: the probability of dropping an entry.
      broadcast_dims: axes that share one keep/drop decision.
      deterministic: given here or at call time, exactly once (the rule of
        :mod:`nnref.merge_param`).
      rng_collection: the RNG stream of the keys (default ``'dropout'``).

    >>> import nnref as nn
    >>> shared_rows = Dropout(rate=0.5, broadcast_dims=(0,), deterministic=False)
    >>> y = shared_rows.apply({}, nn.numpy.ones((4, 3)), rngs={'dropout': nn.random.PRNGKey(1)})
    >>> bool((y == y[0]).all())  # axis 0 shares the decision: all rows alike
    True
    """

    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: Optional[bool] = None
    rng_collection: str = "dropout"

    @compact
    def __call__(self, inputs, deterministic: Optional[bool] = None, rng: Any = None):
        """``inputs`` with dropout applied (unless deterministic); ``rng`` replaces the stream's key."""
        deterministic = merge_param("deterministic", self.deterministic, deterministic)
        shared_axes = dropout.check_fields(self.rate, self.broadcast_dims, np.ndim(inputs))
        if self.rate == 0.0 or deterministic:
            return inputs
        x = np.asarray(inputs)
        if self.rate == 1.0:
            return np.zeros_like(x)  # nothing survives; no key is needed
        dropout.check_floating(_is_float(x.dtype), x.dtype)

        keep_prob = 1.0 - self.rate
        key = self.make_rng(self.rng_collection) if rng is None else rng
        keep = random.bernoulli(key, p=keep_prob, shape=dropout.mask_shape(x.shape, shared_axes))
        keep = np.broadcast_to(keep, x.shape)
        # 1 - rate takes the input's dtype before the division, as a weakly typed JAX scalar does.
        survivors = x / np.asarray(keep_prob, dtype=x.dtype)
        return np.where(keep, survivors, np.zeros_like(x))
