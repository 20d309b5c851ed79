"""``named_call`` in nnref: profile labels do not exist here, so the method runs unchanged.

The production backend puts the method's operations under the module's
name in traces and profiles; results are the same with or without it.

>>> import numpy as np
>>> import nnref as nn
>>> class Block(nn.Module):
...   @nn.transforms.named_call
...   @nn.compact
...   def __call__(self, x):
...     return np.sin(nn.Dense(2)(x))
>>> x = np.ones((1, 2), np.float32)
>>> variables = Block().init(nn.random.PRNGKey(0), x)
>>> Block().apply(variables, x).shape
(1, 2)
"""

from __future__ import annotations

import functools
from typing import Callable


def named_call(class_fn: Callable, force: bool = True) -> Callable:
    """``class_fn`` unchanged in behaviour (the production backend adds a profiling label)."""

    @functools.wraps(class_fn)
    def wrapped(self, *args, **kwargs):
        return class_fn(self, *args, **kwargs)

    return wrapped
