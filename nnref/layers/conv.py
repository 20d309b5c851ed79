"""Convolution layers: ``Conv``, ``ConvLocal`` (unshared weights) and ``ConvTranspose``.

Inputs are channels-last, ``(*batch, *spatial, features)``, with any number
of batch axes: they are flattened into one for the convolution and restored
afterwards, and an input with no batch axis gets one for the duration. The
arithmetic is :mod:`nnref.convolution` (NumPy).

>>> import nnref as nn
>>> from nnref.layers.conv import Conv
>>> layer = Conv(features=4, kernel_size=(3, 3))
>>> x = nn.numpy.ones((1, 5, 5, 2))
>>> variables = layer.init(nn.random.PRNGKey(0), x)
>>> {name: v.shape for name, v in variables['params'].items()}
{'kernel': (3, 3, 2, 4), 'bias': (4,)}
>>> layer.apply(variables, x).shape
(1, 5, 5, 4)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from nnref import convolution, initializers, windows
from nnref import numpy as _rnp
from nnref.dtypes import promote_dtype, result_type
from nnref.module import Module, compact
from shared_spec import layer_args
from shared_spec.layer_args import canonicalize_padding  # noqa: F401  (public: nn.linear.canonicalize_padding)

default_kernel_init = initializers.lecun_normal()

#: Padding names each layer understands besides explicit pairs.
_CONV_PADDINGS = ("SAME", "SAME_LOWER", "VALID", "CIRCULAR", "REFLECT", "CAUSAL")
_TRANSPOSE_PADDINGS = ("SAME", "VALID", "CIRCULAR")


def _kernel_size(layer: Module) -> tuple:
    return layer_args.kernel_dims(layer.kernel_size, field="kernel_size", layer=layer)


def _per_axis(value, rank: int, layer: Module, field: str) -> tuple:
    """An int (or ``None`` = 1) broadcast to every spatial axis, or one positive int per axis."""
    return layer_args.window_dims(value, rank, field=field, layer=layer)


def _flatten_batch(layer: Module, inputs: np.ndarray, rank: int):
    """``inputs`` with all batch axes merged into one (added if absent), and the original batch shape."""
    batch_ndim = inputs.ndim - (rank + 1)
    if batch_ndim < 0:
        raise ValueError(
            f"{type(layer).__name__}: inputs of shape {inputs.shape} need at least {rank + 1} dimensions "
            f"(the {rank} spatial axes of kernel_size and a feature axis); pass channels-last inputs "
            "(*batch, *spatial, features)."
        )
    batch_shape = inputs.shape[:batch_ndim]
    return inputs.reshape((math.prod(batch_shape),) + inputs.shape[batch_ndim:]), batch_shape


def _check_padding_name(layer: Module, padding, allowed, any_case=()) -> None:
    # lax.conv_general_dilated reads its own names (SAME, VALID, ...) in any case; the layers' names are exact.
    if isinstance(padding, str) and padding not in allowed and padding.upper() not in any_case:
        raise ValueError(
            f"{type(layer).__name__}.padding={padding!r} is not supported; use one of {allowed} "
            "or explicit (low, high) pairs."
        )


def _check_output_not_empty(
    layer: Module,
    spatial: tuple,
    kernel_size: tuple,
    strides: tuple,
    padding,
    input_dilation: tuple,
    kernel_dilation: tuple,
) -> None:
    """Refuses explicit or VALID padding that leaves an output axis empty (O(rank), shapes only)."""
    if isinstance(padding, str):
        if padding.upper() != "VALID":
            return
        pads, field, value = ((0, 0),) * len(spatial), "kernel_size", layer.kernel_size
    else:
        pads, field, value = padding, "padding", layer.padding
    out = layer_args.padded_output_dims(spatial, kernel_size, strides, pads, input_dilation, kernel_dilation)
    layer_args.non_empty_output(out, field=field, value=value, layer=layer, in_shape=spatial)


def _check_mask(layer: Module, kernel_shape: tuple) -> None:
    if layer.mask is not None and tuple(np.shape(layer.mask)) != tuple(kernel_shape):
        raise ValueError(
            f"{type(layer).__name__}: mask needs to have the same shape as the kernel; shapes are "
            f"{tuple(np.shape(layer.mask))} (mask) and {tuple(kernel_shape)} (kernel)."
        )


def _apply_mask(layer: Module, kernel: np.ndarray) -> np.ndarray:
    if layer.mask is None:
        return kernel
    # Never `*=`: that would write into the stored parameter.
    return np.asarray(kernel * np.asarray(layer.mask), dtype=result_type(kernel, layer.mask))


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
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    conv_general_dilated: Callable = convolution.conv_general_dilated

    shared_weights = True  # ConvLocal: one kernel per output position

    @compact
    def __call__(self, inputs):
        """Convolves channels-last ``inputs`` of shape ``(*batch, *spatial, features)``."""
        layer_args.positive_int(self.features, field="features", layer=self)
        kernel_size = _kernel_size(self)
        rank = len(kernel_size)
        inputs = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self, min_ndim=rank + 1))
        inputs, batch_shape = _flatten_batch(self, inputs, rank)
        strides = _per_axis(self.strides, rank, self, "strides")
        input_dilation = _per_axis(self.input_dilation, rank, self, "input_dilation")
        kernel_dilation = _per_axis(self.kernel_dilation, rank, self, "kernel_dilation")

        padding = canonicalize_padding(self.padding, rank)
        _check_padding_name(self, padding, _CONV_PADDINGS, any_case=("SAME", "SAME_LOWER", "VALID"))
        if isinstance(padding, str) and any(d != 1 for d in input_dilation):
            # XLA's convolution resolves padding names only for undilated inputs; the seed system raises too.
            raise ValueError(
                f"{type(self).__name__}.input_dilation={input_dilation} needs explicit padding, not "
                f"{padding!r}: pass padding as an int or (low, high) pairs per spatial axis."
            )
        _check_output_not_empty(
            self, inputs.shape[1:-1], kernel_size, strides, padding, input_dilation, kernel_dilation
        )
        if padding in ("CIRCULAR", "REFLECT"):
            # Wrap around (CIRCULAR) or mirror without repeating the edge (REFLECT) by half the
            # dilated kernel on each side (the extra one high), then convolve VALID.
            spans = [(k - 1) * d + 1 for k, d in zip(kernel_size, kernel_dilation)]
            pads = [(0, 0)] + [((s - 1) // 2, s // 2) for s in spans] + [(0, 0)]
            mode = {"CIRCULAR": "wrap", "REFLECT": "reflect"}[padding]
            inputs, padding = np.pad(inputs, pads, mode=mode), "VALID"
        elif padding == "CAUSAL":
            if rank != 1:
                raise ValueError(
                    f"{type(self).__name__}.padding='CAUSAL' is only implemented for 1D convolutions "
                    f"(kernel_size has {rank} axes); pad explicitly for more."
                )
            left = kernel_dilation[0] * (kernel_size[0] - 1)
            inputs, padding = np.pad(inputs, [(0, 0), (left, 0), (0, 0)]), "VALID"

        in_features = inputs.shape[-1]
        groups = self.feature_group_count
        dimension_numbers = _channels_last_numbers(inputs.ndim)
        if self.shared_weights:
            if in_features % groups or self.features % groups:
                raise ValueError(
                    f"{type(self).__name__}.feature_group_count={groups} must divide both the input features "
                    f"({in_features}) and features ({self.features})."
                )
            kernel_shape = kernel_size + (in_features // groups, self.features)
        else:
            if groups != 1:
                raise ValueError(
                    f"{type(self).__name__}.feature_group_count={groups}: unshared (local) "
                    "convolutions have no feature groups; use feature_group_count=1."
                )
            out_shape = _output_shape(
                inputs.shape, kernel_size, self.features, strides, padding, input_dilation, kernel_dilation
            )
            kernel_shape = out_shape[1:-1] + (math.prod(kernel_size) * in_features, self.features)

        _check_mask(self, kernel_shape)
        kernel = _apply_mask(self, self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype))
        bias = None
        if self.use_bias:
            bias_shape = (self.features,) if self.shared_weights else out_shape[1:]
            bias = self.param("bias", self.bias_init, bias_shape, self.param_dtype)

        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        if self.shared_weights:
            y = self.conv_general_dilated(
                inputs,
                kernel,
                strides,
                padding,
                lhs_dilation=input_dilation,
                rhs_dilation=kernel_dilation,
                dimension_numbers=dimension_numbers,
                feature_group_count=groups,
                precision=self.precision,
            )
        else:
            y = convolution.conv_general_dilated_local(
                inputs,
                kernel,
                strides,
                padding,
                kernel_size,
                lhs_dilation=input_dilation,
                rhs_dilation=kernel_dilation,
                dimension_numbers=dimension_numbers,
                precision=self.precision,
            )
        if bias is not None:
            y = y + bias.reshape((1,) * (y.ndim - bias.ndim) + bias.shape)
        return y.reshape(batch_shape + y.shape[1:])


def _channels_last_numbers(ndim: int) -> tuple:
    """lax dimension numbers of ``(N, *spatial, C)`` inputs and ``(*spatial, I, O)`` kernels."""
    spatial = tuple(range(1, ndim - 1))
    lhs = (0, ndim - 1) + spatial
    rhs = (ndim - 1, ndim - 2) + tuple(range(ndim - 2))
    return lhs, rhs, lhs


def _output_shape(in_shape, kernel_size, features, strides, padding, input_dilation, kernel_dilation) -> tuple:
    """Shape of a shared-weight convolution's output, without computing it."""
    spatial = in_shape[1:-1]
    if isinstance(padding, str):
        spans = [windows.dilated_size(k, d) for k, d in zip(kernel_size, kernel_dilation)]
        padding = windows.padtype_to_pads(spatial, spans, strides, padding)
    out = []
    for n, k, s, ld, kd, (low, high) in zip(spatial, kernel_size, strides, input_dilation, kernel_dilation, padding):
        padded = windows.dilated_size(n, ld) + low + high
        out.append(windows.window_count(padded, k, s, kd))
    return (in_shape[0],) + tuple(out) + (features,)


class Conv(_ConvBase):
    """A convolution with one kernel shared by every position (``lax.conv_general_dilated`` in NumPy).

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
      precision: accepted for parity with nnjax; NumPy computes at the full
        precision of ``dtype``.
      kernel_init: initializer of the ``kernel_size + (in_features //
        feature_group_count, features)`` kernel (default ``lecun_normal()``).
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      conv_general_dilated: the convolution function (default the NumPy
        :func:`nnref.convolution.conv_general_dilated`).

    >>> import nnref as nn
    >>> from nnref.layers.conv import Conv
    >>> layer = Conv(features=3, kernel_size=2, strides=2, padding='VALID')
    >>> x = nn.numpy.ones((4, 8, 5))          # (batch, length, features)
    >>> variables = layer.init(nn.random.PRNGKey(1), x)
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
    tap``); the bias has one entry per output element, ``out_spatial +
    (features,)``.

    >>> import nnref as nn
    >>> from nnref.layers.conv import ConvLocal
    >>> layer = ConvLocal(features=4, kernel_size=(3,), padding='VALID')
    >>> x = nn.numpy.ones((1, 8, 3))
    >>> variables = layer.init(nn.random.PRNGKey(0), x)
    >>> {name: v.shape for name, v in variables['params'].items()}
    {'kernel': (6, 9, 4), 'bias': (6, 4)}
    >>> layer.apply(variables, x).shape
    (1, 6, 4)
    """

    shared_weights = False


class ConvTranspose(Module):
    """A transposed convolution (``lax.conv_transpose`` in NumPy).

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
      precision: accepted for parity with nnjax.
      kernel_init: initializer of the kernel, shape ``kernel_size +
        (in_features, features)`` (``kernel_size + (features, in_features)``
        with ``transpose_kernel``); default ``lecun_normal()``.
      bias_init: initializer of the ``(features,)`` bias (default zeros).
      transpose_kernel: flip the kernel's spatial axes and swap its feature
        axes, making this the gradient of a :class:`Conv` with the same kernel.

    >>> import nnref as nn
    >>> from nnref.layers.conv import ConvTranspose
    >>> layer = ConvTranspose(features=3, kernel_size=(2, 2), strides=(2, 2))
    >>> x = nn.numpy.ones((1, 4, 4, 2))
    >>> variables = layer.init(nn.random.PRNGKey(3), x)
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
    param_dtype: Any = np.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros_init()
    transpose_kernel: bool = False

    @compact
    def __call__(self, inputs):
        """Transposed-convolves channels-last ``inputs`` of shape ``(*batch, *spatial, features)``."""
        layer_args.positive_int(self.features, field="features", layer=self)
        kernel_size = _kernel_size(self)
        rank = len(kernel_size)
        inputs = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self, min_ndim=rank + 1))
        inputs, batch_shape = _flatten_batch(self, inputs, rank)
        strides = _per_axis(self.strides, rank, self, "strides")
        kernel_dilation = _per_axis(self.kernel_dilation, rank, self, "kernel_dilation")

        in_features = inputs.shape[-1]
        io = (self.features, in_features) if self.transpose_kernel else (in_features, self.features)
        kernel_shape = kernel_size + io
        _check_mask(self, kernel_shape)
        kernel = _apply_mask(self, self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype))

        padding = canonicalize_padding(self.padding, rank)
        _check_padding_name(self, padding, _TRANSPOSE_PADDINGS)
        circular = padding == "CIRCULAR"
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None

        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = convolution.conv_transpose(
            inputs,
            kernel,
            strides,
            "VALID" if circular else padding,
            rhs_dilation=kernel_dilation,
            transpose_kernel=self.transpose_kernel,
            precision=self.precision,
        )
        if circular:
            y = _wrap_periodically(y, [n * s for n, s in zip(inputs.shape[1:-1], strides)], self.transpose_kernel)
        if bias is not None:
            y = y + bias.reshape((1,) * (y.ndim - 1) + (-1,))
        return y.reshape(batch_shape + y.shape[1:])


def _wrap_periodically(y: np.ndarray, periods: Sequence[int], transpose_kernel: bool) -> np.ndarray:
    """Fold a VALID transposed convolution onto periodic outputs of ``periods`` elements per axis.

    Each axis is padded up to a whole number of periods, placed so that the
    input's start falls on a period boundary (otherwise the result would come
    out circularly shifted), then the periods are summed. An odd pad puts its
    extra element low, or high with ``transpose_kernel`` (mirroring ``Conv``'s
    CIRCULAR padding, so that the same kernel gives the true transpose).
    """
    pads = [(0, 0)]
    for size, period in zip(y.shape[1:-1], periods):
        extra = -(size - period) % (2 * period)
        pads.append((extra // 2, extra - extra // 2) if transpose_kernel else (extra - extra // 2, extra // 2))
    dtype = y.dtype
    y = np.pad(y, pads + [(0, 0)]).astype(convolution.accumulation_dtype(dtype))
    for axis, period in enumerate(periods, start=1):
        y = y.reshape(y.shape[:axis] + (-1, period) + y.shape[axis + 1 :]).sum(axis=axis)
    return y.astype(dtype)
