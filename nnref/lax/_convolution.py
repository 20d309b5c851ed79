"""The ``lax.conv*`` family, with lax's full signatures, on :mod:`nnref.convolution`.

:mod:`nnref.convolution` holds the arithmetic (im2col, dilation, padding,
feature groups); this module adds what lax's signatures have beyond it:
lax's dtype check (both operands of one dtype), ``batch_group_count``,
``preferred_element_type``, the ``conv``/``conv_with_general_padding``
shorthands, ``use_consistent_padding`` and ``conv_dimension_numbers``.

>>> import numpy as np
>>> x = np.arange(5.0, dtype=np.float32).reshape(1, 1, 5)      # NCW
>>> conv(x, np.ones((1, 1, 2), np.float32), (1,), 'VALID')      # OIW
array([[[1., 3., 5., 7.]]], dtype=float32)
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from nnref import convolution, windows
from nnref.dtypes import result_type
from nnref.lax import _dtype_rules as rules
from nnref.lax._dot import check_precision


class ConvDimensionNumbers(NamedTuple):
    """Axis indices of (batch | out-features, features | in-features, spatial...) of each operand."""

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """``dimension_numbers`` (None, layout strings, or specs) as a :class:`ConvDimensionNumbers`.

    >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ('NHWC', 'HWIO', 'NHWC'))
    ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(
            f'nnref.lax.conv_dimension_numbers: operands of ranks {len(lhs_shape)} and '
            f'{len(rhs_shape)}; a convolution needs one rank.'
        )
    specs = convolution.conv_dimension_numbers(len(lhs_shape), dimension_numbers)
    return ConvDimensionNumbers(*(tuple(int(i) for i in s) for s in specs))


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """Explicit ``(low, high)`` pads for ``'SAME'``, ``'SAME_LOWER'`` or ``'VALID'``.

    >>> padtype_to_pads((5,), (3,), (2,), 'SAME')
    [(1, 1)]
    """
    return windows.padtype_to_pads(tuple(in_shape), tuple(window_shape), tuple(window_strides), padding)


def _operands(op, lhs, rhs, preferred_element_type):
    """Operands of one dtype (lax's rule), widened to what ``preferred_element_type`` asks."""
    (a, b), dtype = rules.same_dtype(op, lhs, rhs)
    if preferred_element_type is None:
        return a, b, dtype
    out = rules.requested_dtype(preferred_element_type, like=dtype)
    work = result_type(dtype, out)  # accumulate in the wider of the two
    return a.astype(work, copy=False), b.astype(work, copy=False), out


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
    out_sharding=None,
):
    """General dilated convolution, as ``jax.lax.conv_general_dilated``.

    ``padding``: ``'SAME'``, ``'VALID'``, ``'SAME_LOWER'`` or ``(low, high)``
    per spatial axis. ``feature_group_count`` splits the input features
    into groups (grouped/depthwise convolution); ``batch_group_count``
    splits the batch instead, each batch group meeting its share of the
    output features (the form of a grouped convolution's kernel gradient).

    >>> import numpy as np
    >>> x, k = np.ones((1, 4, 4, 2), np.float32), np.ones((3, 3, 2, 5), np.float32)
    >>> conv_general_dilated(x, k, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')).shape
    (1, 4, 4, 5)
    """
    del out_sharding  # one host array: nothing to shard
    check_precision('conv_general_dilated', precision)
    a, b, out_dtype = _operands('conv_general_dilated', lhs, rhs, preferred_element_type)
    specs = conv_dimension_numbers(a.shape, b.shape, dimension_numbers)
    groups = operator.index(batch_group_count)
    kwargs = dict(
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=specs,
        feature_group_count=feature_group_count,
    )
    if groups == 1:
        y = convolution.conv_general_dilated(a, b, window_strides, padding, **kwargs)
        return np.asarray(y).astype(out_dtype, copy=False)
    batch_axis, out_feature_axis = specs.lhs_spec[0], specs.rhs_spec[0]
    if a.shape[batch_axis] % groups or b.shape[out_feature_axis] % groups:
        raise ValueError(
            f'nnref.lax.conv_general_dilated: batch {a.shape[batch_axis]} and output features '
            f'{b.shape[out_feature_axis]} must both divide into batch_group_count={groups}.'
        )
    # Batch group g convolves with output-feature group g; the groups stack along the output features.
    pieces = [
        convolution.conv_general_dilated(x_g, w_g, window_strides, padding, **kwargs)
        for x_g, w_g in zip(np.split(a, groups, axis=batch_axis), np.split(b, groups, axis=out_feature_axis))
    ]
    return np.concatenate(pieces, axis=specs.out_spec[1]).astype(out_dtype, copy=False)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """Convolution in lax's default layout (``NC...`` input, ``OI...`` kernel).

    >>> import numpy as np
    >>> conv(np.ones((1, 1, 3), np.float32), np.ones((2, 1, 2), np.float32), (1,), 'SAME').shape
    (1, 2, 3)
    """
    return conv_general_dilated(
        lhs, rhs, window_strides, padding, precision=precision, preferred_element_type=preferred_element_type
    )


def conv_with_general_padding(
    lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, precision=None, preferred_element_type=None
):
    """``conv`` with explicit dilations.

    >>> import numpy as np
    >>> conv_with_general_padding(np.ones((1, 1, 5), np.float32), np.ones((1, 1, 2), np.float32),
    ...                           (1,), 'VALID', None, (2,)).shape
    (1, 1, 3)
    """
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def conv_transpose(
    lhs,
    rhs,
    strides,
    padding,
    rhs_dilation=None,
    dimension_numbers=None,
    transpose_kernel=False,
    precision=None,
    preferred_element_type=None,
    use_consistent_padding=False,
):
    """Transposed ("fractionally strided") convolution, as ``jax.lax.conv_transpose``.

    ``'SAME'``/``'VALID'`` are read as the padding of the forward
    convolution this one is the transpose of; explicit ``(low, high)``
    pairs pad the stride-dilated input directly, unless
    ``use_consistent_padding``, which reads them as the forward padding too.
    The default layout is channels-last (``'NHWC', 'HWIO', 'NHWC'``).

    >>> import numpy as np
    >>> conv_transpose(np.ones((1, 3, 1), np.float32), np.ones((2, 1, 1), np.float32), (2,), 'SAME').shape
    (1, 6, 1)
    """
    check_precision('conv_transpose', precision)
    a, b, out_dtype = _operands('conv_transpose', lhs, rhs, preferred_element_type)
    if use_consistent_padding and not isinstance(padding, str):
        rank = a.ndim - 2
        if dimension_numbers is None:
            spatial = 'HWDABEFGJKLM'[:rank]
            dimension_numbers = ('N' + spatial + 'C', spatial + 'IO', 'N' + spatial + 'C')
        rhs_spec = conv_dimension_numbers(a.shape, b.shape, dimension_numbers).rhs_spec
        dilation = (1,) * rank if rhs_dilation is None else tuple(rhs_dilation)
        kernel = [windows.dilated_size(b.shape[axis], d) for axis, d in zip(rhs_spec[2:], dilation)]
        # The forward pads (lo, hi) become k - 1 - lo and k - 1 - hi on the dilated input.
        padding = [(k - 1 - int(lo), k - 1 - int(hi)) for k, (lo, hi) in zip(kernel, padding)]
    y = convolution.conv_transpose(
        a,
        b,
        strides,
        padding,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        transpose_kernel=transpose_kernel,
    )
    return np.asarray(y).astype(out_dtype, copy=False)


def conv_general_dilated_local(
    lhs,
    rhs,
    window_strides,
    padding,
    filter_shape,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    precision=None,
):
    """Locally connected convolution: a separate kernel at each output position.

    ``rhs`` has the output's spatial axes and ``C * prod(filter_shape)``
    input features, feature-major, as in lax.

    >>> import numpy as np
    >>> x, w = np.ones((1, 2, 4), np.float32), np.ones((3, 2 * 2, 1), np.float32)   # NCW, WIO-like
    >>> conv_general_dilated_local(x, w, (1,), 'VALID', (2,), dimension_numbers=('NCW', 'WIO', 'NCW')).shape
    (1, 1, 3)
    """
    check_precision('conv_general_dilated_local', precision)
    (a, b), dtype = rules.same_dtype('conv_general_dilated_local', lhs, rhs)
    y = convolution.conv_general_dilated_local(
        a,
        b,
        window_strides,
        padding,
        filter_shape,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
    )
    return np.asarray(y).astype(dtype, copy=False)
