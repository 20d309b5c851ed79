"""Initializers: ``jax.nn.initializers``, plus the seed's ``zeros_init()`` / ``ones_init()`` factories.

An initializer is ``init(key, shape, dtype=float32) -> Array``.

>>> import jax
>>> import nnjax as nn
>>> nn.initializers.lecun_normal()(jax.random.PRNGKey(0), (3, 2)).shape
(3, 2)
"""

from jax.nn.initializers import (  # noqa: F401
    constant,
    delta_orthogonal,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    ones,
    orthogonal,
    truncated_normal,
    uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
    zeros,
)


def zeros_init():
    """An initializer that returns zeros (``zeros``, as a factory)."""
    return zeros


def ones_init():
    """An initializer that returns ones (``ones``, as a factory)."""
    return ones
