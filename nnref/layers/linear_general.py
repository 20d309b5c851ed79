"""Linear maps over several axes at once: ``DenseGeneral`` and ``Einsum``.

``Dense`` multiplies the last axis by a matrix. These two generalize it:
``DenseGeneral`` contracts any chosen axes and produces any feature shape,
``Einsum`` takes the contraction as an equation. Both are a sum of products,
one output entry at a time; how the axes are matched up is the contract
in :mod:`shared_spec.linear_general`, the sum is NumPy's.

Turning a ``[5, 6]`` block of each row into a ``[2, 3]`` block:

>>> import nnref as nn
>>> from nnref.layers.linear_general import DenseGeneral
>>> block = DenseGeneral(features=(2, 3), axis=(-2, -1))
>>> rows = nn.numpy.ones((4, 5, 6))
>>> params = block.init(nn.random.PRNGKey(0), rows)['params']
>>> params['kernel'].shape  # (contracted sizes) + (features)
(5, 6, 2, 3)
>>> block.apply({'params': params}, rows).shape
(4, 2, 3)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnref import initializers, meta
from nnref import numpy as _rnp
from nnref.dtypes import promote_dtype
from nnref.layers import _contract
from nnref.merge_param import merge_param
from nnref.module import Module, compact
from shared_spec import layer_args, linear_general

default_kernel_init = initializers.lecun_normal()


def resolve_dot_general(module, default: Callable | None = None) -> Callable:
    """Which function contracts for ``module``: its ``dot_general_cls()``, its ``dot_general``, or ``default``.

    Without a ``default`` it is ``nnref.lax.dot_general``, imported here
    rather than at the top because ``nnref.lax`` itself uses this package.
    """
    if default is None:
        from nnref.lax import dot_general as default
    cls, function = module.dot_general_cls, module.dot_general
    return linear_general.resolve_dot_general(cls, function, default)


def _reshape_draw(draw, shape):
    """An initializer's result brought to ``shape``; a ``with_partitioning`` box is kept around the value.

    The box's axis names are those of the final shape, so the value is
    unboxed without a sharding constraint, reshaped, and boxed again.
    """
    if not meta.is_axis_metadata(draw):
        return np.reshape(draw, shape)
    value = draw.unbox(apply_constraint=False) if isinstance(draw, meta.Partitioned) else draw.unbox()
    return draw.replace_boxed(np.reshape(value, shape))


class DenseGeneral(Module):
    """``y = x . W + b`` with ``x``'s ``axis`` contracted and ``features`` as the new trailing axes.

    In index notation, with ``B`` the batch axes, ``F`` the input's free axes
    and ``C`` the contracted ones::

        y[B, F, features] = sum over C of  x[B, F, C] * W[B, C, features]  +  b[B, features]

    The kernel's axes are ``batch_dims`` sizes, then the sizes of ``axis``,
    then ``features``. A batch axis keeps a separate kernel per entry
    (like ``k`` different Dense layers side by side); ``batch_dims`` must
    be the leading axes ``0..k-1``. The initializer draws the kernel as the
    matrix ``(prod(B + C), prod(features))`` and the draw is reshaped, so
    ``lecun_normal`` sees the true fan-in.

    Attributes:
      features: the output feature shape (an int or a tuple).
      axis: the input axes to contract (default -1, the last).
      batch_dims: the leading input axes that get one kernel slice each.
      use_bias: add ``b`` (default True).
      dtype: the computation dtype (None: promoted from input and parameters).
      param_dtype: the parameters' dtype (default float32).
      kernel_init: ``lecun_normal()`` by default; bias_init: zeros.
      precision: kept for nnjax's API; NumPy computes at the full precision
        of the dtype.
      dot_general: a function ``(x, W, dimension_numbers, precision=)`` to
        use instead of ``nnref.lax.dot_general``.
      dot_general_cls: a class instantiated at every call and used as
        ``dot_general``; a Module instance becomes an auto-named submodule
        (its variables live under this layer). Wins over ``dot_general``.

    Three batch entries, each with its own ``(5, 4)`` matrix:

    >>> import nnref as nn
    >>> per_entry = DenseGeneral(features=4, batch_dims=(0,))
    >>> x = nn.numpy.ones((3, 2, 5))
    >>> params = per_entry.init(nn.random.PRNGKey(0), x)['params']
    >>> params['kernel'].shape, params['bias'].shape
    ((3, 5, 4), (3, 4))
    >>> per_entry.apply({'params': params}, x).shape  # batch, free axis, features
    (3, 2, 4)
    """

    features: int | Sequence[int]
    axis: int | Sequence[int] = -1
    batch_dims: Sequence[int] = ()
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = np.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    precision: Any = None
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs):
        x = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self))
        features = layer_args.kernel_dims(self.features, field="features", layer=self, per="output axis")
        plan = linear_general.dense_general_plan(x.shape, self.axis, self.batch_dims, features)

        def draw_kernel(key, shape, dtype=np.float32):
            return _reshape_draw(self.kernel_init(key, plan.flat_kernel_shape, dtype), shape)

        def draw_bias(key, shape, dtype=np.float32):
            return _reshape_draw(self.bias_init(key, (int(np.prod(shape, dtype=np.int64)),), dtype), shape)

        W = self.param("kernel", draw_kernel, plan.kernel_shape, self.param_dtype)
        b = self.param("bias", draw_bias, plan.bias_shape, self.param_dtype) if self.use_bias else None
        x, W, b = promote_dtype(x, W, b, dtype=self.dtype)
        contract = resolve_dot_general(self, _contract.dot_general)
        y = contract(x, W, plan.dimension_numbers, precision=self.precision)
        if b is not None:
            # b has the batch and feature axes; 1s stand for the free axes it is the same along.
            y = y + np.reshape(b, plan.bias_broadcast_shape)
        return y


class Einsum(Module):
    """``y = einsum(einsum_str, x, W) + b``: a learned kernel ``W`` of shape ``shape``, axes named by letters.

    ``einsum_str`` has the form ``'<x letters>,<W letters>-><y letters>'``:
    a letter in both operands and not in the output is summed over, a
    letter in the output is kept. For example ``'abc,cde->abde'`` is
    ``y[a, b, d, e] = sum_c x[a, b, c] * W[c, d, e]``. ``...`` stands for
    any leading axes. The bias has the kernel axes that reach the output
    (``d, e`` above), in output order, and is the same along the others.
    ``einsum_str`` is a field or a call argument, exactly one of the two.

    Attributes:
      shape: the kernel's shape.
      einsum_str: the equation (``'abc,cde->abde'`` in the example).
      use_bias: add ``b`` (default True).
      dtype: the computation dtype (None: promoted from input and parameters).
      param_dtype: the parameters' dtype (default float32).
      precision: kept for nnjax's API.
      kernel_init: ``lecun_normal()`` by default; bias_init: zeros.
      preferred_element_type: the einsum's result dtype (None: that of the computation).
      dot_general: a function that computes the einsum's one contraction in
        its place (the plan of :mod:`shared_spec.einsum_plan`).
      dot_general_cls: a class instantiated at every call and used as
        ``dot_general`` (a Module becomes an auto-named submodule).

    >>> import nnref as nn
    >>> project = Einsum((5, 6, 7), 'abc,cde->abde')
    >>> x = nn.numpy.ones((3, 4, 5))
    >>> params = project.init(nn.random.PRNGKey(0), x)['params']
    >>> params['kernel'].shape, params['bias'].shape  # the bias has W's surviving axes d, e
    ((5, 6, 7), (6, 7))
    >>> project.apply({'params': params}, x).shape
    (3, 4, 6, 7)
    """

    shape: Sequence[int]
    einsum_str: str | None = None
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    preferred_element_type: Any = None
    dot_general: Callable | None = None
    dot_general_cls: Any = None

    @compact
    def __call__(self, inputs, einsum_str: str | None = None):
        x = np.asarray(inputs)
        equation = linear_general.check_einsum_str(
            merge_param("einsum_str", self.einsum_str, einsum_str, layer="Einsum")
        )
        W = self.param("kernel", self.kernel_init, tuple(self.shape), self.param_dtype)
        b = None
        if self.use_bias:
            b_shape, b_broadcast = linear_general.einsum_bias_shapes(equation, x.ndim, tuple(self.shape))
            b = self.param("bias", self.bias_init, b_shape, self.param_dtype)
        x, W, b = promote_dtype(x, W, b, dtype=self.dtype)
        if self.dot_general_cls is None and self.dot_general is None:
            y = _contract.einsum(equation, x, W, self.preferred_element_type)
        else:
            contract = resolve_dot_general(self)
            y = _contract.einsum_via_dot_general(equation, x, W, contract, self.precision, self.preferred_element_type)
        return y if b is None else y + np.reshape(b, b_broadcast)
