"""Convolution in plain NumPy: the reference counterparts of ``lax.conv_*``.

Each function takes the same arguments as its ``jax.lax`` namesake and
computes the same thing the obvious way, so the layers in
:mod:`nnref.layers.conv` read like the seed system's:

1. move the operands to channels-last (``(N, *spatial, C)`` inputs,
   ``(*window, I, O)`` kernels) as ``dimension_numbers`` say;
2. dilate the input (``lhs_dilation``), then pad it (``padding``);
3. cut it into windows (im2col, :func:`nnref.windows.patches`), the kernel
   dilated by ``rhs_dilation`` through the spacing of the window taps;
4. one matrix product per feature group, then back to ``dimension_numbers``'
   output layout.

Half-precision operands are accumulated in float32 and the result rounded
back, as XLA does; float32 and float64 compute in their own precision.

>>> import numpy as np
>>> x = np.arange(5.0).reshape(1, 5, 1)                 # (N, W, C)
>>> k = np.ones((2, 1, 1))                              # (W, I, O)
>>> conv_general_dilated(x, k, (1,), 'VALID', dimension_numbers=('NWC', 'WIO', 'NWC'))[0, :, 0]
array([1., 3., 5., 7.])
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nnref import windows
from nnref.dtypes import bfloat16, result_type


def accumulation_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype sums of ``dtype`` values run in: float32 for half precision, as in XLA."""
    if dtype in (np.dtype(np.float16), bfloat16):
        return np.dtype(np.float32)
    return dtype


def conv_dimension_numbers(ndim: int, dimension_numbers) -> tuple:
    """``(lhs_spec, rhs_spec, out_spec)`` as axis indices, in lax's convention.

    Each spec lists the axis of (batch | out-features, features | in-features,
    spatial...). ``None`` means ``('NC...', 'OI...', 'NC...')``; strings such
    as ``('NHWC', 'HWIO', 'NHWC')`` order the spatial axes as the kernel's
    string does; index triples (``lax.ConvDimensionNumbers``) pass through.
    """
    if dimension_numbers is None:
        spec = tuple(range(ndim))
        return spec, spec, spec
    lhs, rhs, out = dimension_numbers
    if isinstance(lhs, str):
        spatial = [c for c in rhs if c not in "OI"]
        return (
            (lhs.index("N"), lhs.index("C")) + tuple(lhs.index(c) for c in spatial),
            (rhs.index("O"), rhs.index("I")) + tuple(rhs.index(c) for c in spatial),
            (out.index("N"), out.index("C")) + tuple(out.index(c) for c in spatial),
        )
    return tuple(lhs), tuple(rhs), tuple(out)


def _channels_last(x: np.ndarray, spec: tuple) -> np.ndarray:
    """``(N, *spatial, C)`` view of an operand laid out as ``spec`` says."""
    return np.transpose(x, (spec[0],) + spec[2:] + (spec[1],))


def _kernel_last(w: np.ndarray, spec: tuple) -> np.ndarray:
    """``(*spatial, I, O)`` view of a kernel laid out as ``spec`` says."""
    return np.transpose(w, spec[2:] + (spec[1], spec[0]))


def _from_channels_last(y: np.ndarray, spec: tuple) -> np.ndarray:
    """Inverse of :func:`_channels_last` for an output laid out as ``spec``."""
    source = (0,) + tuple(range(1, y.ndim - 1)) + (y.ndim - 1,)
    roles = (spec[0],) + spec[2:] + (spec[1],)
    perm = [0] * y.ndim
    for canonical_axis, target_axis in zip(source, roles):
        perm[target_axis] = canonical_axis
    return np.transpose(y, perm)


def _ints(values, rank: int) -> tuple:
    return (1,) * rank if values is None else tuple(int(v) for v in values)


def _padded_input(x: np.ndarray, window: Sequence[int], strides, padding, lhs_dilation, rhs_dilation) -> np.ndarray:
    """Dilate then pad a channels-last input, as explicit pads or a padding name."""
    axes = tuple(range(1, x.ndim - 1))
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            # As in lax: a padding name is resolved only for undilated inputs (conv_transpose has its own rule).
            raise ValueError(
                f"Padding {padding!r} is not implemented with lhs_dilation {tuple(lhs_dilation)}; "
                "give explicit (low, high) pads, or use conv_transpose."
            )
        dilated_window = [windows.dilated_size(k, d) for k, d in zip(window, rhs_dilation)]
        padding = windows.padtype_to_pads(x.shape[1:-1], dilated_window, strides, padding)
    x = windows.dilate(x, lhs_dilation, axes)
    return windows.pad(x, [tuple(p) for p in padding], axes)


def conv_general_dilated(
    lhs,
    rhs,
    window_strides: Sequence[int],
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    precision=None,
):
    """General dilated convolution (the NumPy ``lax.conv_general_dilated``).

    ``padding`` is ``'SAME'``, ``'VALID'``, ``'SAME_LOWER'`` or one
    ``(low, high)`` pair per spatial axis (negative pairs crop). The input
    features split into ``feature_group_count`` groups, each convolved with
    its share of the output features. ``precision`` is accepted for parity;
    NumPy always computes at the full precision of the operands' dtype.
    """
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    out_dtype = result_type(lhs, rhs)
    lhs_spec, rhs_spec, out_spec = conv_dimension_numbers(lhs.ndim, dimension_numbers)
    rank = lhs.ndim - 2
    x = _channels_last(lhs, lhs_spec).astype(accumulation_dtype(out_dtype), copy=False)
    w = _kernel_last(rhs, rhs_spec).astype(x.dtype, copy=False)
    window, (group_in, features) = w.shape[:-2], w.shape[-2:]
    groups = int(feature_group_count)
    if x.shape[-1] != group_in * groups or features % groups:
        raise ValueError(
            f"conv_general_dilated: {x.shape[-1]} input features and a kernel of {group_in} inputs x {features} "
            f"outputs do not split into feature_group_count={groups} groups; the input features must be "
            f"kernel inputs x groups and the outputs a multiple of the groups."
        )
    strides = _ints(window_strides, rank)
    rhs_dilation = _ints(rhs_dilation, rank)
    x = _padded_input(x, window, strides, padding, _ints(lhs_dilation, rank), rhs_dilation)
    # cols[..., p, g, c]: tap p of the window, input feature c of group g.
    cols = windows.patches(x, window, strides, rhs_dilation)
    cols = cols.reshape(cols.shape[:-1] + (groups, group_in))
    taps = w.reshape((math.prod(window), group_in, groups, features // groups))
    per_group = [np.tensordot(cols[..., g, :], taps[:, :, g, :], axes=([-2, -1], [0, 1])) for g in range(groups)]
    y = per_group[0] if groups == 1 else np.concatenate(per_group, axis=-1)
    return _from_channels_last(y, out_spec).astype(out_dtype, copy=False)


def _conv_transpose_padding(k: int, s: int, padding: str) -> tuple:
    """Pads of the stride-dilated input that make ``conv_transpose`` the gradient of a strided conv."""
    if padding == "SAME":
        total = k + s - 2
        low = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        low = k - 1
    else:
        raise ValueError(f"conv_transpose: padding {padding!r} must be 'SAME', 'VALID' or explicit (low, high) pairs.")
    return low, total - low


def conv_transpose(
    lhs,
    rhs,
    strides: Sequence[int],
    padding,
    rhs_dilation=None,
    dimension_numbers=None,
    transpose_kernel: bool = False,
    precision=None,
):
    """Transposed convolution (the NumPy ``lax.conv_transpose``).

    A convolution of the input dilated by ``strides``, with unit window
    strides. ``'SAME'``/``'VALID'`` choose the pads that make it the gradient
    of the strided convolution of that padding; explicit pairs pad the dilated
    input directly. With ``transpose_kernel`` the kernel's spatial axes are
    flipped and its input/output feature axes swapped first. Without
    ``dimension_numbers`` the layout is channels-last (``'NHWC', 'HWIO'``).
    """
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    rank = lhs.ndim - 2
    if dimension_numbers is None:
        spatial = "HWDABEFGJKLM"[:rank]
        dimension_numbers = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    specs = conv_dimension_numbers(lhs.ndim, dimension_numbers)
    rhs_spec = specs[1]
    rhs_dilation = _ints(rhs_dilation, rank)
    if isinstance(padding, str):
        window = [windows.dilated_size(rhs.shape[a], d) for a, d in zip(rhs_spec[2:], rhs_dilation)]
        padding = [_conv_transpose_padding(k, s, padding) for k, s in zip(window, strides)]
    if transpose_kernel:
        rhs = np.flip(rhs, axis=rhs_spec[2:])
        rhs = np.swapaxes(rhs, rhs_spec[0], rhs_spec[1])
    return conv_general_dilated(
        lhs,
        rhs,
        (1,) * rank,
        padding,
        lhs_dilation=strides,
        rhs_dilation=rhs_dilation,
        dimension_numbers=specs,
        precision=precision,
    )


def conv_general_dilated_local(
    lhs,
    rhs,
    window_strides: Sequence[int],
    padding,
    filter_shape: Sequence[int],
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    precision=None,
):
    """Locally connected (unshared) convolution (the NumPy ``lax.conv_general_dilated_local``).

    ``rhs`` holds one kernel per output position: its spatial axes are the
    output's, its input-feature axis has ``C * prod(filter_shape)`` entries,
    ordered feature-major (entry ``c * prod(filter_shape) + tap``) as lax's
    patches are.
    """
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    out_dtype = result_type(lhs, rhs)
    lhs_spec, rhs_spec, out_spec = conv_dimension_numbers(lhs.ndim, dimension_numbers)
    rank = lhs.ndim - 2
    x = _channels_last(lhs, lhs_spec).astype(accumulation_dtype(out_dtype), copy=False)
    w = _kernel_last(rhs, rhs_spec).astype(x.dtype, copy=False)  # (*out_spatial, C * taps, O)
    strides = _ints(window_strides, rank)
    rhs_dilation = _ints(rhs_dilation, rank)
    x = _padded_input(x, tuple(filter_shape), strides, padding, _ints(lhs_dilation, rank), rhs_dilation)
    cols = windows.patches(x, tuple(filter_shape), strides, rhs_dilation)  # (N, *out, taps, C)
    cols = np.swapaxes(cols, -1, -2).reshape(cols.shape[:-2] + (cols.shape[-1] * cols.shape[-2],))  # feature-major
    if cols.shape[1:] != w.shape[:-1]:
        raise ValueError(
            f"conv_general_dilated_local: the kernel has shape {w.shape} (channels-last) but the input gives "
            f"{cols.shape[1:-1]} output positions with {cols.shape[-1]} patch entries each."
        )
    y = np.einsum("n...k,...ko->n...o", cols, w)
    return _from_channels_last(y, out_spec).astype(out_dtype, copy=False)
