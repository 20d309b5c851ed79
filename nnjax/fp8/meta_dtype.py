"""``fp32_max_grad``: float32 values whose gradient contributions combine by max.

When a module's fp8 scale or amax history is read in several places (a
layer applied twice, a scan body), autodiff adds up the "gradients" coming
back from every use. For these variables the "gradient" is a new value, not
a derivative, so a sum is wrong: two uses would double the scale. Giving
the value this dtype makes JAX combine the contributions with ``max``,
which is the right merge for an amax history and a conservative one for a
scale.

It is a JAX *extended* dtype that is stored as a plain float32 on device
(same layout, same HLO), so conversion is free in both directions:

>>> import jax, jax.numpy as jnp
>>> s = jax.lax.convert_element_type(jnp.ones((1,)), fp32_max_grad)
>>> s.dtype
fp8_meta32
>>> to_float32(s)
Array([1.], dtype=float32)

Arithmetic is not defined on it: convert to float32 (:func:`to_float32`),
compute, and convert back. Under ``jax.jit`` values of this dtype can be
returned from the compiled function; ``jax.grad`` refuses them as inputs (it
wants a float dtype), so take ``jax.vjp`` or convert inside the function.

Extended dtypes are not a public JAX API yet; this module is the only place
in nnjax that defines one, so a JAX upgrade that moves the hooks breaks here
and nowhere else.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax._src import core as _core  # extended dtypes need these internals
from jax._src import dtypes as _dtypes

try:  # returning an extended-dtype array from jit needs EArray
    from jax._src import earray as _earray
    from jax._src.interpreters import pxla as _pxla
except ImportError:  # pragma: no cover - depends on the JAX version
    _earray = _pxla = None

__all__ = ['fp32_max_grad', 'fm32', 'fp8_meta_dtype', 'to_float32']


class _MaxGradRules:
    """How JAX lowers, converts, and accumulates the extended dtype."""

    @staticmethod
    def physical_element_aval(dtype):
        # Each element is one float of the underlying type on device.
        return _core.ShapedArray((), dtype.float_dtype)

    @staticmethod
    def convert_from(meta_dtype, other_dtype) -> bool:
        return meta_dtype.float_dtype == other_dtype

    @staticmethod
    def convert_to(other_dtype, meta_dtype) -> bool:
        return meta_dtype.float_dtype == other_dtype

    @staticmethod
    def add(dtype, x, y):
        # The point of the dtype: cotangents merge by max, not by sum.
        def as_float(v):
            return lax.convert_element_type(v, dtype.float_dtype)

        return lax.convert_element_type(lax.max(as_float(x), as_float(y)), dtype)

    @staticmethod
    def zero(dtype):
        # The identity of max: -inf (or the lowest finite value).
        fdt = dtype.float_dtype
        low = -np.inf if _dtypes.supports_inf(fdt) else _dtypes.finfo(fdt).min
        return lax.convert_element_type(np.array(low, fdt), dtype)

    @staticmethod
    def tangent_dtype(dtype):
        return dtype

    @staticmethod
    def full(shape, fill_value, dtype):
        fdt = dtype.float_dtype
        raw = lax.full(shape, lax.convert_element_type(fill_value, fdt), fdt)
        return lax.convert_element_type(raw, dtype)

    @staticmethod
    def global_sharded_result_handler(aval, out_sharding, committed):
        if _earray is None:  # pragma: no cover - depends on the JAX version
            raise TypeError(
                'This JAX version cannot return fp32_max_grad arrays from a '
                'compiled function; convert them with to_float32() inside it.'
            )
        physical = _core.physical_aval(aval)
        make = _pxla.global_result_handlers[_core.ShapedArray]
        handler = make(physical, out_sharding, committed)
        return lambda bufs: _earray.EArray(aval, handler(bufs))


class fp8_meta_dtype(_dtypes.extended):
    """The abstract type of the meta dtypes (for ``jnp.issubdtype``)."""


@dataclasses.dataclass(frozen=True)
class _MetaDType(_dtypes.ExtendedDType):
    float_dtype: _dtypes.DType
    _rules: type = _MaxGradRules
    type: type = fp8_meta_dtype

    def __repr__(self) -> str:
        return f'fp8_meta{_dtypes.finfo(self.float_dtype).bits}'

    name = property(__repr__)


#: float32 stored values whose cotangents accumulate with ``max``.
fp32_max_grad = _MetaDType(jnp.float32)
#: The seed's short name for the same dtype.
fm32 = fp32_max_grad


def to_float32(value):
    """``value`` as float32 if it has the max-grad dtype, else unchanged.

    >>> import jax.numpy as jnp
    >>> to_float32(jnp.ones(2)).dtype
    dtype('float32')
    """
    if getattr(value, 'dtype', None) == fp32_max_grad:
        return lax.convert_element_type(value, jnp.float32)
    return value


def is_max_grad(value) -> bool:
    """Whether ``value`` carries the max-grad dtype."""
    return getattr(value, 'dtype', None) == fp32_max_grad
