"""``ShapeDtypeStruct``: an array described by its shape and dtype only (for ``lazy_init``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ShapeDtypeStruct:
    """Stands for an array of ``shape`` and ``dtype``, like ``jax.ShapeDtypeStruct``.

    >>> ShapeDtypeStruct((2, 3), np.float32).size
    6
    """

    shape: tuple
    dtype: Any

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))
