"""Linear layers over several axes: ``DenseGeneral`` and ``Einsum``.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.linear_general import DenseGeneral
>>> layer = DenseGeneral(features=(2, 3), axis=(-2, -1))
>>> x = jnp.ones((4, 5, 6))
>>> variables = layer.init(jax.random.PRNGKey(0), x)
>>> jax.tree_util.tree_map(jnp.shape, variables)
{'params': {'bias': (2, 3), 'kernel': (5, 6, 2, 3)}}
>>> layer.apply(variables, x).shape
(4, 2, 3)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax.numpy as jnp
from jax import lax

from nnjax import initializers, meta
from nnjax.dtypes import promote_dtype
from nnjax.merge_param import merge_param
from nnjax.module import Module, compact
from shared_spec import einsum_plan, layer_args, linear_general

default_kernel_init = initializers.lecun_normal()


def resolve_dot_general(module, default: Callable = lax.dot_general) -> Callable:
    """The contraction ``module`` uses (``dot_general_cls()``, else ``dot_general``, else ``default``)."""
    return linear_general.resolve_dot_general(module.dot_general_cls, module.dot_general, default)


def einsum_via_dot_general(subscripts: str, lhs, rhs, dot_general, precision=None, preferred_element_type=None):
    """A two-operand einsum computed by one call of ``dot_general`` (``shared_spec.einsum_plan``).

    >>> import jax.numpy as jnp
    >>> a = jnp.arange(6.0).reshape(2, 3)
    >>> einsum_via_dot_general('ij,kj->ik', a, a, lax.dot_general)
    Array([[ 5., 14.],
           [14., 50.]], dtype=float32)
    """
    p = einsum_plan.plan(subscripts, jnp.ndim(lhs), jnp.ndim(rhs))
    if p.lhs_sum_axes:
        lhs = jnp.sum(lhs, axis=p.lhs_sum_axes)
    if p.rhs_sum_axes:
        rhs = jnp.sum(rhs, axis=p.rhs_sum_axes)
    operands = (rhs, lhs) if p.swap else (lhs, rhs)
    kwargs = {} if preferred_element_type is None else {"preferred_element_type": preferred_element_type}
    y = dot_general(*operands, p.dimension_numbers, precision, **kwargs)
    return y if p.transpose is None else jnp.transpose(y, p.transpose)


def _reshaped(value, shape):
    """An initializer's draw reshaped; a metadata box (``with_partitioning``) stays around it.

    The box's axis names describe the final shape, so the value is taken out
    without a sharding constraint, reshaped, and boxed again.
    """
    if meta.is_axis_metadata(value):
        inner = value.unbox(apply_constraint=False) if isinstance(value, meta.Partitioned) else value.unbox()
        return value.replace_boxed(jnp.reshape(inner, shape))
    return jnp.reshape(value, shape)


class DenseGeneral(Module):
    """A linear transformation over any set of input axes, to any output shape.

    The kernel has shape ``batch shape + contracted axes' sizes + features``;
    it is drawn by ``kernel_init`` as the 2-D matrix ``(prod(batch + contracted),
    prod(features))`` and reshaped, so fan-in and fan-out are those of that
    matrix. The output is ``batch axes + remaining input axes + features``.

    Attributes:
      features: an int or a tuple of ints, the output feature shape.
      axis: an int or a tuple of ints, the input axes to contract (default -1).
      batch_dims: input axes kept as batch axes of the kernel; they must be the
        leading axes ``0, 1, ..., k-1``.
      use_bias: whether to add a bias of shape ``batch shape + features``.
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      kernel_init: initializer of the kernel (default ``lecun_normal()``).
      bias_init: initializer of the bias (default zeros).
      precision: numerical precision of the contraction (``jax.lax.Precision``).
      dot_general: a function replacing ``jax.lax.dot_general`` (default None:
        ``jax.lax.dot_general``).
      dot_general_cls: a class (typically a Module) called with no arguments
        at each call; the instance is used as ``dot_general``. A Module
        instance becomes a submodule (auto-named, e.g. ``MyDot_0``), so its
        variables live in this layer's tree. Takes precedence over
        ``dot_general``.

    >>> import jax, jax.numpy as jnp
    >>> layer = DenseGeneral(features=4, axis=-1, batch_dims=(0,))
    >>> x = jnp.ones((3, 2, 5))
    >>> variables = layer.init(jax.random.PRNGKey(0), x)
    >>> jax.tree_util.tree_map(jnp.shape, variables)
    {'params': {'bias': (3, 4), 'kernel': (3, 5, 4)}}
    >>> layer.apply(variables, x).shape
    (3, 2, 4)
    """

    features: int | Sequence[int]
    axis: int | Sequence[int] = -1
    batch_dims: Sequence[int] = ()
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    precision: Any = None
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs):
        inputs = layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=self)
        features = layer_args.kernel_dims(self.features, field="features", layer=self, per="output axis")
        shape = jnp.shape(inputs)
        plan = linear_general.dense_general_plan(shape, self.axis, self.batch_dims, features)

        def kernel_init(key, kshape, dtype=jnp.float32):
            # Drawn as the plan's matrix, so the initializer sees the true fan-in/out.
            return _reshaped(self.kernel_init(key, plan.flat_kernel_shape, dtype), kshape)

        def bias_init(key, bshape, dtype=jnp.float32):
            return _reshaped(self.bias_init(key, (math.prod(bshape),), dtype), bshape)

        kernel = self.param("kernel", kernel_init, plan.kernel_shape, self.param_dtype)
        bias = self.param("bias", bias_init, plan.bias_shape, self.param_dtype) if self.use_bias else None
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = resolve_dot_general(self)(inputs, kernel, plan.dimension_numbers, precision=self.precision)
        if bias is not None:
            y = y + jnp.reshape(bias, plan.bias_broadcast_shape)
        return y


class Einsum(Module):
    """An einsum of the input with a learnable kernel of shape ``shape``, plus a bias.

    ``einsum_str`` names exactly two operands, the input and the kernel, and
    the output (``'...->...'`` form). The bias covers the kernel axes that
    survive into the output, in output order, and is broadcast over the rest.
    ``einsum_str`` is given either as a field or at call time, not both.

    Attributes:
      shape: the kernel shape.
      einsum_str: the equation, e.g. ``'abc,cde->abde'``.
      use_bias: whether to add a bias (default True).
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      precision: numerical precision of the einsum (``jax.lax.Precision``).
      kernel_init: initializer of the kernel (default ``lecun_normal()``).
      bias_init: initializer of the bias (default zeros).
      preferred_element_type: the dtype of the einsum's result (default: the
        computation dtype).
      dot_general: a function replacing ``jax.lax.dot_general`` inside the
        einsum (``jnp.einsum(..., _dot_general=)``); default None.
      dot_general_cls: a class called with no arguments at each call whose
        instance serves as ``dot_general`` (a Module becomes an auto-named
        submodule). Takes precedence over ``dot_general``.

    >>> import jax, jax.numpy as jnp
    >>> layer = Einsum((5, 6, 7), 'abc,cde->abde')
    >>> x = jnp.ones((3, 4, 5))
    >>> variables = layer.init(jax.random.PRNGKey(0), x)
    >>> jax.tree_util.tree_map(jnp.shape, variables)
    {'params': {'bias': (6, 7), 'kernel': (5, 6, 7)}}
    >>> layer.apply(variables, x).shape
    (3, 4, 6, 7)
    """

    shape: Sequence[int]
    einsum_str: str | None = None
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    preferred_element_type: Any = None
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs, einsum_str: str | None = None):
        einsum_str = merge_param("einsum_str", self.einsum_str, einsum_str, layer="Einsum")
        einsum_str = linear_general.check_einsum_str(einsum_str)
        shape = tuple(self.shape)
        kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
        bias = None
        if self.use_bias:
            bias_shape, broadcast_shape = linear_general.einsum_bias_shapes(einsum_str, jnp.ndim(inputs), shape)
            bias = self.param("bias", self.bias_init, bias_shape, self.param_dtype)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        if self.dot_general_cls is None and self.dot_general is None:
            y = jnp.einsum(
                einsum_str, inputs, kernel, precision=self.precision, preferred_element_type=self.preferred_element_type
            )
        else:
            # Not jnp.einsum(_dot_general=): it jits, and a Module may not cross a JAX transform.
            y = einsum_via_dot_general(
                einsum_str, inputs, kernel, resolve_dot_general(self), self.precision, self.preferred_element_type
            )
        if bias is not None:
            y = y + jnp.reshape(bias, broadcast_shape)
        return y
