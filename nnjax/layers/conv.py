"""Convolution layers: ``Conv``, ``ConvLocal`` (unshared weights) and ``ConvTranspose``.

Inputs are channels-last, ``(*batch, *spatial, features)``, with any number
of batch axes: they are flattened into one for the convolution and restored
afterwards, and an input with no batch axis gets one for the duration. The
arithmetic is XLA's (``lax.conv_general_dilated``, ``lax.conv_transpose``,
``lax.conv_general_dilated_local``).

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.conv import Conv
>>> layer = Conv(features=4, kernel_size=(3, 3))
>>> x = jnp.ones((1, 5, 5, 2))
>>> variables = layer.init(jax.random.PRNGKey(0), x)
>>> jax.tree_util.tree_map(jnp.shape, variables)
{'params': {'bias': (4,), 'kernel': (3, 3, 2, 4)}}
>>> layer.apply(variables, x).shape
(1, 5, 5, 4)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from nnjax import initializers
from nnjax.dtypes import promote_dtype
from nnjax.module import Module, compact
from shared_spec import conv_shapes, layer_args
from shared_spec.layer_args import canonicalize_padding  # noqa: F401  (public: nn.linear.canonicalize_padding)

default_kernel_init = initializers.lecun_normal()

# jnp.pad's name for what each edge padding mode does with the values past the edge.
_PAD_MODE = {"CIRCULAR": "wrap", "REFLECT": "reflect", "CAUSAL": "constant"}


def _merge_batch(inputs, plan):
    """``inputs`` with its batch axes merged into one (one added if there is none)."""
    if len(plan.batch_shape) == 1:
        return inputs
    return jnp.reshape(inputs, (plan.merged_batch,) + inputs.shape[len(plan.batch_shape) :])


def _split_batch(y, plan):
    """Inverse of :func:`_merge_batch` on the output."""
    return y if len(plan.batch_shape) == 1 else jnp.reshape(y, plan.batch_shape + y.shape[1:])


def _kernel(layer: Module, shape: tuple):
    kernel = layer.param("kernel", layer.kernel_init, shape, layer.param_dtype)
    return kernel if layer.mask is None else kernel * layer.mask


# The local and transposed convolutions are several primitives each (patches then a batched dot; flip,
# swap then convolve): compiled as one program, an eager call costs one compile per shape instead of one
# per primitive. Under an outer jit they inline as usual.
_conv_local = jax.jit(lax.conv_general_dilated_local, static_argnums=(2, 3, 4, 5, 6, 7, 8))
_conv_transpose = jax.jit(lax.conv_transpose, static_argnums=(2, 3, 4, 5, 6, 7))  # flip, swap, convolve


def _hashable(value):
    """Padding pairs or a precision pair as nested tuples, so that they can be static arguments of jit."""
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


class _ConvBase(Module):
    """What ``Conv`` and ``ConvLocal`` share: fields, padding modes, batch handling."""

    features: int
    kernel_size: int | Sequence[int]
    strides: None | int | Sequence[int] = 1
    padding: Any = "SAME"
    input_dilation: None | int | Sequence[int] = 1
    kernel_dilation: None | int | Sequence[int] = 1
    feature_group_count: int = 1
    use_bias: bool = True
    mask: Any = None
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    conv_general_dilated: Callable = lax.conv_general_dilated

    shared_weights = True  # ConvLocal: one kernel per output position

    @compact
    def __call__(self, inputs):
        """Convolves channels-last ``inputs`` of shape ``(*batch, *spatial, features)``."""
        min_ndim = len(conv_shapes.kernel_size_of(self)) + 1
        inputs = jnp.asarray(layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=self, min_ndim=min_ndim))
        plan = conv_shapes.plan_conv(self, inputs.shape, shared_weights=self.shared_weights)
        inputs = _merge_batch(inputs, plan)
        if plan.edge_mode is not None:
            inputs = jnp.pad(inputs, [(0, 0), *plan.edge_pads, (0, 0)], mode=_PAD_MODE[plan.edge_mode])
        kernel = _kernel(self, plan.kernel_shape)
        bias = self.param("bias", self.bias_init, plan.bias_shape, self.param_dtype) if self.use_bias else None

        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        dimension_numbers = lax.ConvDimensionNumbers(*plan.dimension_numbers)
        if self.shared_weights:
            y = self.conv_general_dilated(
                inputs,
                kernel,
                plan.strides,
                plan.padding,
                lhs_dilation=plan.input_dilation,
                rhs_dilation=plan.kernel_dilation,
                dimension_numbers=dimension_numbers,
                feature_group_count=self.feature_group_count,
                precision=self.precision,
            )
        else:
            y = _conv_local(
                inputs,
                kernel,
                plan.strides,
                _hashable(plan.padding),
                plan.kernel_size,
                plan.input_dilation,
                plan.kernel_dilation,
                dimension_numbers,
                _hashable(self.precision),
            )
        if bias is not None:
            y = y + jnp.reshape(bias, (1,) * (y.ndim - bias.ndim) + bias.shape)
        return _split_batch(y, plan)


class Conv(_ConvBase):
    """A convolution with one kernel shared by every position (``lax.conv_general_dilated``).

    Attributes:
      features: number of convolution filters (output features).
      kernel_size: the window shape; an int for 1D, else one int per spatial axis.
      strides: an int or one per spatial axis (default 1).
      padding: ``'SAME'`` (default), ``'VALID'``, ``'CIRCULAR'`` (periodic
        boundary), ``'REFLECT'`` (mirrored edges, as ``numpy.pad(mode='reflect')``),
        ``'CAUSAL'`` (1D: left padding, same-sized output), an int
        (both sides of every axis), or per axis an int or a ``(low, high)`` pair.
      input_dilation: an int or one per spatial axis: zeros put between input
        elements (a transposed convolution with that stride). Default 1.
      kernel_dilation: an int or one per spatial axis: spacing of the kernel
        taps ("atrous" convolution). Default 1.
      feature_group_count: split the input and output features into this many
        groups, each convolved separately (default 1).
      use_bias: whether to add a bias (default True).
      mask: optional array of the kernel's shape multiplied into the kernel.
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      precision: numerical precision of the convolution (``jax.lax.Precision``).
      kernel_init: initializer of the ``kernel_size + (in_features //
        feature_group_count, features)`` kernel (default ``lecun_normal()``).
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      conv_general_dilated: the convolution function (default
        ``jax.lax.conv_general_dilated``).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.conv import Conv
    >>> layer = Conv(features=3, kernel_size=2, strides=2, padding='VALID')
    >>> x = jnp.ones((4, 8, 5))               # (batch, length, features)
    >>> variables = layer.init(jax.random.PRNGKey(1), x)
    >>> variables['params']['kernel'].shape, layer.apply(variables, x).shape
    ((2, 5, 3), (4, 4, 3))
    >>> layer.apply(variables, x[0]).shape    # no batch axis
    (4, 3)
    """


class ConvLocal(_ConvBase):
    """A locally connected layer: a convolution whose kernel differs at every output position.

    Fields as :class:`Conv` (``feature_group_count`` must be 1). The kernel has
    shape ``out_spatial + (prod(kernel_size) * in_features, features)``, its
    second-to-last axis ordered feature-major (entry ``c * prod(kernel_size) +
    tap``, as ``lax.conv_general_dilated_patches`` orders patches); the bias
    has one entry per output element, ``out_spatial + (features,)``.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.conv import ConvLocal
    >>> layer = ConvLocal(features=4, kernel_size=(3,), padding='VALID')
    >>> x = jnp.ones((1, 8, 3))
    >>> variables = layer.init(jax.random.PRNGKey(0), x)
    >>> jax.tree_util.tree_map(jnp.shape, variables)
    {'params': {'bias': (6, 4), 'kernel': (6, 9, 4)}}
    >>> layer.apply(variables, x).shape
    (1, 6, 4)
    """

    shared_weights = False


class ConvTranspose(Module):
    """A transposed convolution (``lax.conv_transpose``).

    Attributes:
      features: number of convolution filters (output features).
      kernel_size: the window shape; an int for 1D, else one int per spatial axis.
      strides: an int or one per spatial axis: the upsampling factor (default 1).
      padding: ``'SAME'`` (default: output ``input * strides``), ``'VALID'``,
        ``'CIRCULAR'`` (periodic: the output wraps around to
        ``input * strides``), an int, or per axis an int or a ``(low, high)``
        pair, padding the stride-dilated input.
      kernel_dilation: ``None`` (1), an int or one per spatial axis.
      use_bias: whether to add a bias (default True).
      mask: optional array of the kernel's shape multiplied into the kernel.
      dtype: the computation dtype (default: promoted from input and params).
      param_dtype: the dtype of the parameters (default float32).
      precision: numerical precision of the convolution (``jax.lax.Precision``).
      kernel_init: initializer of the kernel, shape ``kernel_size +
        (in_features, features)`` (``kernel_size + (features, in_features)``
        with ``transpose_kernel``); default ``lecun_normal()``.
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      transpose_kernel: flip the kernel's spatial axes and swap its feature
        axes, making this the gradient of a :class:`Conv` with the same kernel.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.conv import ConvTranspose
    >>> layer = ConvTranspose(features=3, kernel_size=(2, 2), strides=(2, 2))
    >>> x = jnp.ones((1, 4, 4, 2))
    >>> variables = layer.init(jax.random.PRNGKey(3), x)
    >>> variables['params']['kernel'].shape, layer.apply(variables, x).shape
    ((2, 2, 2, 3), (1, 8, 8, 3))
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: None | int | Sequence[int] = None
    padding: Any = "SAME"
    kernel_dilation: None | int | Sequence[int] = None
    use_bias: bool = True
    mask: Any = None
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    transpose_kernel: bool = False

    @compact
    def __call__(self, inputs):
        """Transposed-convolves channels-last ``inputs`` of shape ``(*batch, *spatial, features)``."""
        min_ndim = len(conv_shapes.kernel_size_of(self)) + 1
        inputs = jnp.asarray(layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=self, min_ndim=min_ndim))
        plan = conv_shapes.plan_conv_transpose(self, inputs.shape)
        inputs = _merge_batch(inputs, plan)
        kernel = _kernel(self, plan.kernel_shape)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None

        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = _conv_transpose(
            inputs,
            kernel,
            plan.strides,
            _hashable(plan.padding),
            plan.kernel_dilation,
            lax.ConvDimensionNumbers(*plan.dimension_numbers),
            self.transpose_kernel,
            _hashable(self.precision),
        )
        if plan.circular:
            y = _wrap_periodically(y, plan.periods, self.transpose_kernel)
        if bias is not None:
            y = y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
        return _split_batch(y, plan)


def _wrap_periodically(y, periods: Sequence[int], transpose_kernel: bool):
    """Sums the periods of each spatial axis of a VALID transposed convolution onto one (CIRCULAR padding)."""
    pads = conv_shapes.periodic_fold_pads(y.shape[1:-1], periods, transpose_kernel)
    y = jnp.pad(y, [(0, 0), *pads, (0, 0)])
    for axis, period in enumerate(periods, start=1):
        y = jnp.reshape(y, y.shape[:axis] + (-1, period) + y.shape[axis + 1 :]).sum(axis=axis)
    return y
