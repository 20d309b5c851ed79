"""Modules that own fp8 scaling state and stand in for ``lax.dot_general``.

Each module declares, in the ``'_overwrite_with_gradient'`` collection, a
scale (shape ``(1,)``, initially 1.0) and an amax history (shape
``(amax_history_length,)``, initially zeros), both float32, for each of the
input, the kernel and the output gradient. Use one as a layer's dot
product::

    nn.Dense(features, dot_general_cls=nn.Fp8DirectDotGeneralOp)

The module is called like ``lax.dot_general(x, kernel, dimension_numbers)``;
the kernel's dtype is the compute dtype (``x`` is cast to it), and
``precision``/``preferred_element_type`` are accepted and ignored (the recipe
fixes them).
Training needs the gradient with respect to the whole variables dict, with
the ``'_overwrite_with_gradient'`` entries replaced by their gradient rather
than updated by the optimizer (``TrainState.apply_gradients`` does both).

>>> import jax, jax.numpy as jnp
>>> op = Fp8DirectDotGeneralOp(amax_history_length=4)
>>> x, k = jnp.ones((2, 3)), jnp.full((3, 5), 0.25)
>>> variables = op.init(jax.random.PRNGKey(0), x, k, (((1,), (0,)), ((), ())))
>>> jax.tree_util.tree_map(jnp.shape, variables['_overwrite_with_gradient'])['kernel_scale']
(1,)
>>> op.apply(variables, x, k, (((1,), (0,)), ((), ())))[0]
Array([0.75, 0.75, 0.75, 0.75, 0.75], dtype=float32)
"""

import warnings
from functools import partial
from typing import Any

import jax.numpy as jnp

from nnjax.fp8 import OVERWRITE_WITH_GRADIENT
from nnjax.fp8.rules import dot_general_with_precision, fp8_scaled_dot_general, in_qdq, out_qdq
from nnjax.module import Module

__all__ = [
    'Fp8DotGeneralBase',
    'Fp8DotGeneralOp',
    'Fp8DirectDotGeneralOp',
    'NANOOFp8DotGeneralOp',
    'Fp8Einsum',
    'Fp8DotGeneral',
]

_META_NAMES = ('input', 'kernel', 'output_grad')


def _dot_inputs(module, args, kwargs):
    """``(x, kernel, dimension_numbers, compute_dtype)`` from a dot_general call.

    Accepts ``lax.dot_general``'s signature; ``precision`` and
    ``preferred_element_type`` (positional or keyword) are ignored, since the
    fp8 recipe fixes both.
    """
    unknown = sorted(set(kwargs) - {'precision', 'preferred_element_type'})
    if not 3 <= len(args) <= 5 or unknown:
        raise TypeError(
            f'{type(module).__name__} is called like lax.dot_general(x, kernel, '
            f'dimension_numbers, precision=None, preferred_element_type=None); '
            f'got {len(args)} positional arguments' + (f' and keyword(s) {unknown}' if unknown else '') + '.'
        )
    x, kernel, dimension_numbers = args[:3]
    # The kernel's dtype is the layer's computation dtype.
    compute_dtype = kernel.dtype
    return jnp.asarray(x, compute_dtype), kernel, dimension_numbers, compute_dtype


class Fp8DotGeneralBase(Module):
    """Declares the six fp8 scaling variables; subclasses do the product.

    Attributes:
      amax_history_length: how many past amaxes decide each scale (1024).
      e4m3_dtype: the fp8 type of the operands (``float8_e4m3fn``).
      e5m2_dtype: the fp8 type of the output gradient (``float8_e5m2``).
    """

    amax_history_length: int = 1024
    e4m3_dtype: Any = jnp.float8_e4m3fn
    e5m2_dtype: Any = jnp.float8_e5m2

    def setup(self) -> None:
        history = (self.amax_history_length,)
        for what in _META_NAMES:
            setattr(
                self,
                f'{what}_amax_history',
                self.variable(OVERWRITE_WITH_GRADIENT, f'{what}_amax_history', jnp.zeros, history, jnp.float32),
            )
        for what in _META_NAMES:
            setattr(
                self,
                f'{what}_scale',
                self.variable(OVERWRITE_WITH_GRADIENT, f'{what}_scale', jnp.ones, (1,), jnp.float32),
            )


class Fp8DotGeneralOp(Fp8DotGeneralBase):
    """fp8 by fake quantization: operands rounded to e4m3, gradient to e5m2.

    Deprecated in the seed in favour of :class:`Fp8DirectDotGeneralOp` and
    :class:`Fp8Einsum`; constructing it warns with ``DeprecationWarning``.
    """

    def __post_init__(self):
        super().__post_init__()
        if type(self) is Fp8DotGeneralOp:
            warnings.warn(
                'Fp8DotGeneralOp is deprecated; use Fp8DirectDotGeneralOp or Fp8Einsum instead.',
                DeprecationWarning,
                stacklevel=2,
            )

    def __call__(self, *args, **kwargs):
        x, kernel, dimension_numbers, compute_dtype = _dot_inputs(self, args, kwargs)
        x = in_qdq(compute_dtype, self.e4m3_dtype, x, self.input_scale.value, self.input_amax_history.value)
        kernel = in_qdq(compute_dtype, self.e4m3_dtype, kernel, self.kernel_scale.value, self.kernel_amax_history.value)
        y = dot_general_with_precision(x, kernel, dimension_numbers)
        return out_qdq(
            compute_dtype, self.e5m2_dtype, y, self.output_grad_scale.value, self.output_grad_amax_history.value
        )


class NANOOFp8DotGeneralOp(Fp8DotGeneralOp):
    """:class:`Fp8DotGeneralOp` with the NANOO formats (``e4m3fnuz``/``e5m2fnuz``)."""

    e4m3_dtype: Any = jnp.float8_e4m3fnuz
    e5m2_dtype: Any = jnp.float8_e5m2fnuz


class Fp8DirectDotGeneralOp(Fp8DotGeneralBase):
    """fp8 by direct quantization (:func:`fp8_scaled_dot_general`).

    The result has the (compute-dtype) input's dtype.
    """

    def __call__(self, *args, **kwargs):
        x, kernel, dimension_numbers, compute_dtype = _dot_inputs(self, args, kwargs)
        return fp8_scaled_dot_general(
            x,
            kernel,
            dimension_numbers,
            precision=None,
            preferred_element_type=x.dtype,
            quantize_compute_type=compute_dtype,
            **self._meta_kwargs(),
        )

    def _meta_kwargs(self):
        return dict(
            lhs_scale=self.input_scale.value,
            rhs_scale=self.kernel_scale.value,
            grad_scale=self.output_grad_scale.value,
            lhs_amax_history=self.input_amax_history.value,
            rhs_amax_history=self.kernel_amax_history.value,
            grad_amax_history=self.output_grad_amax_history.value,
        )


class Fp8Einsum(Fp8DotGeneralBase):
    """``jnp.einsum(eqn, lhs, rhs)`` with its contraction in fp8.

    ``rhs`` is taken to be the weight: its dtype is the compute dtype, and
    ``lhs`` is cast to it.

    >>> import jax, jax.numpy as jnp
    >>> op = Fp8Einsum(amax_history_length=2)
    >>> x, w = jnp.ones((2, 3)), jnp.full((3, 4), 0.5)
    >>> variables = op.init(jax.random.PRNGKey(0), 'bi,io->bo', x, w)
    >>> op.apply(variables, 'bi,io->bo', x, w).shape
    (2, 4)
    """

    def __call__(self, eqn, lhs, rhs, precision=None, preferred_element_type=None):
        compute_dtype = rhs.dtype
        lhs = lhs.astype(compute_dtype)
        dot_general = partial(
            fp8_scaled_dot_general, quantize_compute_type=compute_dtype, **Fp8DirectDotGeneralOp._meta_kwargs(self)
        )
        return jnp.einsum(
            eqn, lhs, rhs, precision=precision, preferred_element_type=preferred_element_type, _dot_general=dot_general
        )


#: The seed's older name for :class:`Fp8DirectDotGeneralOp`.
Fp8DotGeneral = Fp8DirectDotGeneralOp
