"""Linear layers over several axes: ``DenseGeneral`` and ``Einsum``.

>>> import nnref as nn
>>> from nnref.layers.linear_general import DenseGeneral
>>> layer = DenseGeneral(features=(2, 3), axis=(-2, -1))
>>> x = nn.numpy.ones((4, 5, 6))
>>> variables = layer.init(nn.random.PRNGKey(0), x)
>>> {name: v.shape for name, v in variables['params'].items()}
{'kernel': (5, 6, 2, 3), 'bias': (2, 3)}
>>> layer.apply(variables, x).shape
(4, 2, 3)
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any, Callable, Sequence

import numpy as np

from nnref import initializers, meta
from nnref import numpy as _rnp
from nnref.dtypes import promote_dtype
from nnref.layers import _contract
from nnref.merge_param import merge_param
from nnref.module import Module, compact
from shared_spec import layer_args

default_kernel_init = initializers.lecun_normal()


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, Iterable) else (x,)


def _normalize_axes(layer: str, field: str, axes: tuple, ndim: int) -> tuple:
    """Non-negative, sorted axes (the seed contracts in sorted axis order)."""
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(
                f"{layer}: `{field}` {axes} names axis {ax}, out of range for an input of "
                f"rank {ndim}; use axes in [-{ndim}, {ndim})."
            )
    return tuple(sorted(ax % ndim for ax in axes))


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def resolve_dot_general(module, default: Callable | None = None) -> Callable:
    """The contraction a layer uses: ``dot_general_cls()`` (built now, so a module becomes a
    submodule of ``module`` under its auto-name), else ``dot_general``, else ``default``
    (``nnref.lax.dot_general`` when not given)."""
    if module.dot_general_cls is not None:
        return module.dot_general_cls()
    if module.dot_general is not None:
        return module.dot_general
    if default is None:
        from nnref.lax import dot_general as default  # nnref.lax imports this package's helpers
    return default


def _reshaped(value, shape):
    """An initializer's draw reshaped; a metadata box (``with_partitioning``) stays around it.

    The box's axis names describe the final shape, so the value is taken out
    without a sharding constraint, reshaped, and boxed again.
    """
    if meta.is_axis_metadata(value):
        inner = value.unbox(apply_constraint=False) if isinstance(value, meta.Partitioned) else value.unbox()
        return value.replace_boxed(np.reshape(inner, shape))
    return np.reshape(value, shape)


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
      precision: accepted for API parity with nnjax; NumPy always computes at
        full precision of ``dtype``.
      dot_general: an optional ``dot_general(x, kernel, dimension_numbers,
        precision=...)`` replacing the default ``nnref.lax.dot_general``.
      dot_general_cls: a class (typically a Module) called with no arguments
        at each call; the instance is used as ``dot_general``. A Module
        instance becomes a submodule (auto-named, e.g. ``MyDot_0``), so its
        variables live in this layer's tree. Takes precedence over
        ``dot_general``.

    >>> import nnref as nn
    >>> layer = DenseGeneral(features=4, axis=-1, batch_dims=(0,))
    >>> x = nn.numpy.ones((3, 2, 5))
    >>> variables = layer.init(nn.random.PRNGKey(0), x)
    >>> variables['params']['kernel'].shape, variables['params']['bias'].shape
    ((3, 5, 4), (3, 4))
    >>> layer.apply(variables, x).shape
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
        inputs = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self))
        features = layer_args.kernel_dims(self.features, field="features", layer=self, per="output axis")
        batch_dims = _as_tuple(self.batch_dims)
        if batch_dims and set(batch_dims) != set(range(max(batch_dims) + 1)):
            raise ValueError(
                f"DenseGeneral: `batch_dims` {batch_dims} must be the leading axes "
                f"0..k-1 of the input; move batch axes to the front (e.g. with transpose)."
            )
        ndim = inputs.ndim
        axis = _normalize_axes("DenseGeneral", "axis", _as_tuple(self.axis), ndim)
        batch_dims = _normalize_axes("DenseGeneral", "batch_dims", batch_dims, ndim)
        if set(axis) & set(batch_dims):
            raise ValueError(
                f"DenseGeneral: `axis` {self.axis} and `batch_dims` {self.batch_dims} overlap; "
                f"an input axis is either contracted or a batch axis."
            )
        n_batch, n_axis = len(batch_dims), len(axis)

        def kernel_init(key, shape, dtype=np.float32):
            # Draw the kernel as a matrix so the initializer sees the true fan-in/out.
            flat = (_size(shape[: n_batch + n_axis]), _size(shape[n_batch + n_axis :]))
            return _reshaped(self.kernel_init(key, flat, dtype), shape)

        def bias_init(key, shape, dtype=np.float32):
            return _reshaped(self.bias_init(key, (_size(shape),), dtype), shape)

        batch_shape = tuple(inputs.shape[ax] for ax in batch_dims)
        kernel_shape = batch_shape + tuple(inputs.shape[ax] for ax in axis) + features
        kernel = self.param("kernel", kernel_init, kernel_shape, self.param_dtype)
        bias = self.param("bias", bias_init, batch_shape + features, self.param_dtype) if self.use_bias else None
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)

        batch_ind = tuple(range(n_batch))
        contract_ind = tuple(range(n_batch, n_batch + n_axis))
        dimension_numbers = ((axis, contract_ind), (batch_dims, batch_ind))
        dot_general = resolve_dot_general(self, _contract.dot_general)
        y = dot_general(inputs, kernel, dimension_numbers, precision=self.precision)
        if bias is not None:
            # Output axes: batch axes, then the free input axes, then features.
            free_axes = tuple(ax for ax in range(ndim) if ax not in axis)
            expanded = tuple(inputs.shape[ax] if ax in batch_dims else 1 for ax in free_axes)
            y = y + np.reshape(bias, expanded + features)
        return y


def _einsum_terms(layer: str, einsum_str: str, lhs_ndim: int, rhs_ndim: int) -> tuple:
    """``(lhs, rhs, out)`` subscripts of ``einsum_str`` with each ``...`` spelt out in letters.

    Ellipsis axes broadcast right-aligned, as in NumPy: an operand with ``k``
    of the ``n`` ellipsis axes gets the last ``k`` of the ``n`` letters.
    """
    operands, out = einsum_str.split("->")
    terms = operands.split(",")
    ndims = (lhs_ndim, rhs_ndim)
    counts = [ndim - (len(t) - 3) if "..." in t else 0 for t, ndim in zip(terms, ndims)]
    if any(c < 0 for c in counts):
        raise ValueError(f"{layer}: `einsum_str` {einsum_str!r} has more subscripts than operand axes.")
    n = max(counts)
    unused = [c for c in string.ascii_letters if c not in einsum_str]
    letters = "".join(unused[:n])
    spelt = [t.replace("...", letters[n - c :]) for t, c in zip(terms, counts)]
    for term, ndim in zip(spelt, ndims):
        if len(term) != ndim:
            raise ValueError(
                f"{layer}: `einsum_str` {einsum_str!r} gives subscripts {term!r} to an operand "
                f"of rank {ndim}; use one letter per axis."
            )
    return spelt[0], spelt[1], out.replace("...", letters)


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
      precision: accepted for API parity with nnjax.
      kernel_init: initializer of the kernel (default ``lecun_normal()``).
      bias_init: initializer of the bias (default zeros).
      preferred_element_type: the dtype of the einsum's result (default: the
        computation dtype).
      dot_general: a function replacing ``dot_general`` inside the einsum, as
        ``jnp.einsum(..., _dot_general=)`` does in nnjax; default None.
      dot_general_cls: a class called with no arguments at each call whose
        instance serves as ``dot_general`` (a Module becomes an auto-named
        submodule). Takes precedence over ``dot_general``.

    >>> import nnref as nn
    >>> layer = Einsum((5, 6, 7), 'abc,cde->abde')
    >>> x = nn.numpy.ones((3, 4, 5))
    >>> variables = layer.init(nn.random.PRNGKey(0), x)
    >>> {name: v.shape for name, v in variables['params'].items()}
    {'kernel': (5, 6, 7), 'bias': (6, 7)}
    >>> layer.apply(variables, x).shape
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
        inputs = np.asarray(inputs)
        einsum_str = merge_param("einsum_str", self.einsum_str, einsum_str, layer="Einsum").replace(" ", "")
        if "->" not in einsum_str:
            raise ValueError(f"Einsum: `einsum_str` {einsum_str!r} must be explicit and include '->'.")
        if einsum_str.count(",") != 1:
            raise ValueError(
                f"Einsum: `einsum_str` {einsum_str!r} must have exactly two operands (the input "
                f"and the kernel), so exactly one ',', not {einsum_str.count(',')}."
            )
        shape = tuple(self.shape)
        kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
        bias = None
        if self.use_bias:
            _, rhs, out = _einsum_terms("Einsum", einsum_str, inputs.ndim, len(shape))
            if len(set(rhs)) != len(rhs):
                raise ValueError(
                    f"Einsum: the kernel subscripts {rhs!r} of `einsum_str` repeat a letter; "
                    f"use a distinct letter per kernel axis."
                )
            bias_shape = [shape[rhs.index(c)] for c in out if c in rhs]
            broadcast_shape = [shape[rhs.index(c)] if c in rhs else 1 for c in out]
            bias = self.param("bias", self.bias_init, bias_shape, self.param_dtype)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        if self.dot_general_cls is None and self.dot_general is None:
            y = _contract.einsum(einsum_str, inputs, kernel, self.preferred_element_type)
        else:
            y = _contract.einsum_via_dot_general(
                einsum_str, inputs, kernel, resolve_dot_general(self), self.precision, self.preferred_element_type
            )
        if bias is not None:
            y = y + np.reshape(bias, broadcast_shape)
        return y
