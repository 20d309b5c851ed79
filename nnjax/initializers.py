"""Initializers: ``jax.nn.initializers``, plus the seed's ``zeros_init()`` / ``ones_init()`` factories.

An initializer is ``init(key, shape, dtype=float32) -> Array``. The same key
gives the seed system's parameters bit for bit, whether the initializer runs
eagerly (as the seed's do, one operation at a time) or inside ``jax.jit``
(as ``nnjax.init`` does).

Most are JAX's own. ``normal`` and ``variance_scaling`` are rebuilt here:
JAX's draw a standard normal as ``sqrt(2) * erfinv(u)`` and then multiply by
the standard deviation. Eagerly each product is rounded; inside ``jit`` XLA
folds the two constant factors into one (``(x * c1) * c2 -> x * (c1 * c2)``)
and the result moves by one float32 ulp in most entries. Optimization
barriers between the draw and the scaling, and after the scaling (so a
caller's ``init(...) * c`` cannot fold either), keep each rounding.
``truncated_normal`` is rebuilt too: inside ``jit`` its bounds are constants,
and XLA folds ``erf(bound / sqrt(2))`` at compile time with a different erf
than its kernels use (eagerly the bounds are arguments, computed by the
kernel); a barrier on the bounds keeps them run-time values.

>>> import jax
>>> import nnjax as nn
>>> init = nn.initializers.normal(0.02)
>>> key = jax.random.PRNGKey(0)
>>> bool((init(key, (3, 2)) == jax.jit(init, static_argnums=1)(key, (3, 2))).all())
True
"""

import math

import jax
import jax.numpy as jnp
from jax.nn import initializers as _jax_init
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
    ones,
    orthogonal,
    uniform,
    xavier_normal,
    xavier_uniform,
    zeros,
)


def _dtype_or_default(dtype):
    """JAX's default: float64 with ``jax_enable_x64``, else float32."""
    return jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype


def _standard_normal(key, shape, dtype, out_sharding):
    """``jax.random.normal``, rounded as its own eager call would leave it."""
    draws = jax.random.normal(key, shape, dtype, out_sharding=out_sharding)
    # Without the barrier XLA multiplies sqrt(2) and the caller's scale into
    # one constant first: see the module docstring.
    return jax.lax.optimization_barrier(draws)


def _as_computed(x):
    """``x`` as computed, not folded into whatever the caller does with it."""
    return jax.lax.optimization_barrier(x)


def normal(stddev=1e-2, dtype=None):
    """Builds an initializer drawing from a normal with mean 0 and ``stddev``.

    >>> import jax
    >>> normal(5.0)(jax.random.PRNGKey(42), (2, 3)).shape
    (2, 3)
    """

    def init(key, shape, dtype=dtype, out_sharding=None):
        dtype = _dtype_or_default(dtype)
        draws = _standard_normal(key, shape, dtype, out_sharding)
        return _as_computed(draws * jnp.array(stddev, dtype))

    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """Builds an initializer drawing a standard normal truncated to ``(lower, upper)``, times ``stddev``.

    >>> import jax
    >>> w = truncated_normal(1.0, lower=-1.5, upper=2.5)(jax.random.PRNGKey(0), (100,))
    >>> bool((w > -1.5).all() and (w < 2.5).all())
    True
    """

    def init(key, shape, dtype=dtype, out_sharding=None):
        dtype = _dtype_or_default(dtype)
        # Run-time bounds, as in an eager call: see the module docstring.
        low, high = jax.lax.optimization_barrier((jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)))
        draws = jax.random.truncated_normal(key, low, high, shape, dtype, out_sharding=out_sharding)
        return _as_computed(draws * jnp.array(stddev, dtype))

    return init


def _fan(shape, axis):
    if isinstance(axis, int):
        return shape[axis]
    return math.prod(shape[i] for i in axis)


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Builds an initializer of variance ``scale / n``, ``n`` chosen by ``mode``.

    ``mode``: "fan_in", "fan_out", "fan_avg" or "fan_geo_avg";
    ``distribution``: "truncated_normal", "normal" or "uniform" (JAX's
    meaning for each). The "normal" case is computed here (see the module
    docstring); the others are JAX's.

    >>> import jax
    >>> init = variance_scaling(2.0, 'fan_in', 'normal')
    >>> init(jax.random.PRNGKey(0), (50, 10)).shape
    (50, 10)
    """
    jax_init = _jax_init.variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)
    if distribution != 'normal':
        return jax_init

    def init(key, shape, dtype=dtype, out_sharding=None):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if (
            isinstance(in_axis, int)
            and in_axis == -2
            and len(shape) <= 1
            or mode not in ('fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg')
        ):
            return jax_init(key, shape, dtype, out_sharding)  # JAX's error
        dtype = _dtype_or_default(dtype)
        in_size, out_size = _fan(shape, in_axis), _fan(shape, out_axis)
        # Float divisions in JAX's order, so the fans are the same floats.
        receptive = math.prod(shape) / in_size / out_size / _fan(shape, batch_axis)
        fan_in, fan_out = in_size * receptive, out_size * receptive
        denominator = {
            'fan_in': fan_in,
            'fan_out': fan_out,
            'fan_avg': (fan_in + fan_out) / 2,
            'fan_geo_avg': (fan_in * fan_out) ** 0.5,
        }[mode]
        variance = jnp.array(scale / denominator, dtype=dtype)
        draws = _standard_normal(key, shape, dtype, out_sharding)
        return _as_computed(draws * jnp.sqrt(variance))

    return init


def zeros_init():
    """An initializer that returns zeros (``zeros``, as a factory)."""
    return zeros


def ones_init():
    """An initializer that returns ones (``ones``, as a factory)."""
    return ones
