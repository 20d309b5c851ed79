"""Convolution layers' shape rules: padding modes, kernel shapes, output sizes, batch axes.

``Conv``, ``ConvLocal`` and ``ConvTranspose`` decide these the same way in
both backends, from shapes and field values only (no array is read); each
backend then convolves its own way. The padding itself is canonicalised by
:func:`shared_spec.layer_args.canonicalize_padding` (a name, or one
``(low, high)`` pair per spatial axis); this module says what each name means
to a layer:

* ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` go to the convolution as they are
  (read in any case, as XLA reads them);
* ``'CIRCULAR'`` and ``'REFLECT'`` pad the input by half the dilated kernel
  on each side, the odd element high (:func:`edge_pads`), wrapping around or
  mirroring, and then the convolution is VALID;
* ``'CAUSAL'`` (1D only) pads the start by the dilated kernel's span less
  one, so output ``t`` sees inputs ``<= t``.

Messages name the layer by its class name (a module or a string is accepted).

Layers call :func:`plan_conv` or :func:`plan_conv_transpose` once with the
module and its input's shape; the smaller rules below are its steps.

>>> from types import SimpleNamespace as Fields
>>> conv = Fields(features=4, kernel_size=(3,), strides=1, padding='CAUSAL', input_dilation=1,
...               kernel_dilation=2, feature_group_count=1, mask=None)
>>> plan = plan_conv(conv, (2, 7, 5), shared_weights=True)
>>> plan.edge_pads, plan.padding, plan.kernel_shape, plan.bias_shape
([(4, 0)], 'VALID', (3, 5, 4), (4,))
>>> edge_pads('Conv', 'CIRCULAR', (3, 4), (1, 1))
[(1, 1), (1, 2)]
>>> conv_output_dims((5, 5), (3, 3), (2, 2), 'SAME', (1, 1), (1, 1))
(3, 3)
>>> shared_kernel_shape('Conv', (3, 3), 8, 16, 4)
(3, 3, 2, 16)
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from shared_spec import layer_args
from shared_spec.windows import dilated_size, padtype_to_pads, window_count

__all__ = [
    'ConvPlan',
    'kernel_size_of',
    'TransposePlan',
    'plan_conv',
    'plan_conv_transpose',
    'CONV_PADDINGS',
    'TRANSPOSE_PADDINGS',
    'PRIMITIVE_PADDINGS',
    'batch_split',
    'check_padding_name',
    'check_named_padding_dilation',
    'check_output_not_empty',
    'edge_pads',
    'shared_kernel_shape',
    'local_kernel_shape',
    'conv_output_dims',
    'check_mask_shape',
    'channels_last_dimension_numbers',
    'periodic_fold_pads',
]

#: Padding names ``Conv`` and ``ConvLocal`` understand besides explicit pairs.
CONV_PADDINGS = ('SAME', 'SAME_LOWER', 'VALID', 'CIRCULAR', 'REFLECT', 'CAUSAL')
#: Padding names ``ConvTranspose`` understands besides explicit pairs.
TRANSPOSE_PADDINGS = ('SAME', 'VALID', 'CIRCULAR')
#: Names the convolution primitive itself resolves, in any case.
PRIMITIVE_PADDINGS = ('SAME', 'SAME_LOWER', 'VALID')


def _name(layer) -> str:
    return layer if isinstance(layer, str) else type(layer).__name__


def batch_split(layer, shape: Sequence[int], rank: int) -> tuple:
    """``(batch_shape, flat_batch)``: the batch axes of a channels-last input, and their product.

    The input is ``(*batch, *spatial, features)`` with ``rank`` spatial axes;
    any number of batch axes (none included) is merged into one.

    >>> batch_split('Conv', (2, 3, 8, 8, 1), 2), batch_split('Conv', (8, 1), 1)
    (((2, 3), 6), ((), 1))
    >>> batch_split('Conv', (8,), 1)
    Traceback (most recent call last):
    ...
    ValueError: Conv: inputs of shape (8,) need at least 2 dimensions (the 1 spatial axes of kernel_size and a feature axis); pass channels-last inputs (*batch, *spatial, features).
    """
    batch_ndim = len(shape) - (rank + 1)
    if batch_ndim < 0:
        raise ValueError(
            f"{_name(layer)}: inputs of shape {tuple(shape)} need at least {rank + 1} dimensions "
            f"(the {rank} spatial axes of kernel_size and a feature axis); pass channels-last inputs "
            "(*batch, *spatial, features)."
        )
    batch_shape = tuple(shape[:batch_ndim])
    return batch_shape, math.prod(batch_shape)


def check_padding_name(layer, padding, allowed: Sequence[str], any_case: Sequence[str] = ()) -> None:
    """Refuses a padding name the layer does not know (explicit pairs pass).

    Names in ``allowed`` are exact; those in ``any_case`` are also read in any
    case (``Conv`` hands ``'same'`` to the primitive, which reads it so).

    >>> check_padding_name('Conv', 'same', CONV_PADDINGS, any_case=PRIMITIVE_PADDINGS)
    >>> check_padding_name('ConvTranspose', 'REFLECT', TRANSPOSE_PADDINGS)
    Traceback (most recent call last):
    ...
    ValueError: ConvTranspose.padding='REFLECT' is not supported; use one of ('SAME', 'VALID', 'CIRCULAR') or explicit (low, high) pairs.
    """
    if isinstance(padding, str) and padding not in allowed and padding.upper() not in any_case:
        raise ValueError(
            f"{_name(layer)}.padding={padding!r} is not supported; use one of {tuple(allowed)} "
            "or explicit (low, high) pairs."
        )


def check_named_padding_dilation(layer, padding, input_dilation: tuple) -> None:
    """A padding name with a dilated input is refused: XLA resolves names only for undilated inputs.

    >>> check_named_padding_dilation('Conv', 'SAME', (2,))
    Traceback (most recent call last):
    ...
    ValueError: Conv.input_dilation=(2,) needs explicit padding, not 'SAME': pass padding as an int or (low, high) pairs per spatial axis.
    """
    if isinstance(padding, str) and any(d != 1 for d in input_dilation):
        raise ValueError(
            f"{_name(layer)}.input_dilation={input_dilation} needs explicit padding, not "
            f"{padding!r}: pass padding as an int or (low, high) pairs per spatial axis."
        )


def check_output_not_empty(
    layer, spatial, kernel_size, strides, padding, input_dilation, kernel_dilation, *, kernel_field, padding_field
) -> None:
    """Refuses explicit or VALID padding that leaves an output axis empty.

    ``kernel_field`` and ``padding_field`` are the layer's field values, named
    in the message (the kernel for VALID, the padding for explicit pairs).
    Other names always leave an output.

    >>> check_output_not_empty('Conv', (4,), (3,), (1,), [(-2, 0)], (1,), (1,), kernel_field=3, padding_field=((-2, 0),))
    Traceback (most recent call last):
    ...
    ValueError: Conv: padding=((-2, 0),) is invalid; expected a value that leaves every output axis non-empty (spatial input shape (4,) gives output shape (-1,)).
    """
    if isinstance(padding, str):
        if padding.upper() != 'VALID':
            return
        pads, field, value = ((0, 0),) * len(spatial), 'kernel_size', kernel_field
    else:
        pads, field, value = padding, 'padding', padding_field
    out = layer_args.padded_output_dims(spatial, kernel_size, strides, pads, input_dilation, kernel_dilation)
    layer_args.non_empty_output(out, field=field, value=value, layer=layer, in_shape=spatial)


def edge_pads(layer, padding: str, kernel_size: tuple, kernel_dilation: tuple) -> list:
    """The ``(low, high)`` input pads of ``'CIRCULAR'``, ``'REFLECT'`` or ``'CAUSAL'``, one per spatial axis.

    CIRCULAR and REFLECT pad half the dilated kernel's span less one on each
    side, the odd element high, so that a VALID convolution keeps the input's
    size (at stride 1). CAUSAL pads only the start, by the whole span less one.

    >>> edge_pads('Conv', 'CAUSAL', (3,), (2,))
    [(4, 0)]
    >>> edge_pads('Conv', 'CAUSAL', (3, 3), (1, 1))
    Traceback (most recent call last):
    ...
    ValueError: Conv.padding='CAUSAL' is only implemented for 1D convolutions (kernel_size has 2 axes); pad explicitly for more.
    """
    spans = [dilated_size(k, d) for k, d in zip(kernel_size, kernel_dilation)]
    if padding == 'CAUSAL':
        if len(kernel_size) != 1:
            raise ValueError(
                f"{_name(layer)}.padding='CAUSAL' is only implemented for 1D convolutions "
                f"(kernel_size has {len(kernel_size)} axes); pad explicitly for more."
            )
        return [(spans[0] - 1, 0)]
    return [((s - 1) // 2, s // 2) for s in spans]


def shared_kernel_shape(layer, kernel_size: tuple, in_features: int, features: int, groups: int) -> tuple:
    """``kernel_size + (in_features // groups, features)``, after checking that ``groups`` divides both.

    >>> shared_kernel_shape('Conv', (3,), 6, 4, 4)
    Traceback (most recent call last):
    ...
    ValueError: Conv.feature_group_count=4 must divide both the input features (6) and features (4).
    """
    if in_features % groups or features % groups:
        raise ValueError(
            f"{_name(layer)}.feature_group_count={groups} must divide both the input features "
            f"({in_features}) and features ({features})."
        )
    return tuple(kernel_size) + (in_features // groups, features)


def local_kernel_shape(layer, out_spatial: tuple, kernel_size: tuple, in_features: int, features: int, groups: int):
    """``ConvLocal``'s kernel: ``out_spatial + (prod(kernel_size) * in_features, features)``; no feature groups.

    >>> local_kernel_shape('ConvLocal', (6,), (3,), 2, 4, 1)
    (6, 6, 4)
    """
    if groups != 1:
        raise ValueError(
            f"{_name(layer)}.feature_group_count={groups}: unshared (local) "
            "convolutions have no feature groups; use feature_group_count=1."
        )
    return tuple(out_spatial) + (math.prod(kernel_size) * in_features, features)


def conv_output_dims(spatial, kernel_size, strides, padding, input_dilation, kernel_dilation) -> tuple:
    """Spatial output sizes of a convolution with a primitive padding name or explicit pairs.

    The input is dilated, padded, then the dilated kernel slides over it.

    >>> conv_output_dims((8,), (3,), (1,), 'VALID', (1,), (2,)), conv_output_dims((4,), (2,), (1,), [(0, 0)], (2,), (1,))
    ((4,), (6,))
    """
    if isinstance(padding, str):
        spans = [dilated_size(k, d) for k, d in zip(kernel_size, kernel_dilation)]
        padding = padtype_to_pads(spatial, spans, strides, padding)
    out = []
    for n, k, s, ld, kd, (low, high) in zip(spatial, kernel_size, strides, input_dilation, kernel_dilation, padding):
        out.append(window_count(dilated_size(n, ld) + low + high, k, s, kd))
    return tuple(out)


def check_mask_shape(layer, mask_shape, kernel_shape) -> None:
    """A kernel mask must have the kernel's shape (``mask_shape`` None: no mask).

    >>> check_mask_shape('Conv', (3, 1, 2), (3, 1, 4))
    Traceback (most recent call last):
    ...
    ValueError: Conv: mask needs to have the same shape as the kernel; shapes are (3, 1, 2) (mask) and (3, 1, 4) (kernel).
    """
    if mask_shape is not None and tuple(mask_shape) != tuple(kernel_shape):
        raise ValueError(
            f"{_name(layer)}: mask needs to have the same shape as the kernel; shapes are "
            f"{tuple(mask_shape)} (mask) and {tuple(kernel_shape)} (kernel)."
        )


def channels_last_dimension_numbers(ndim: int) -> tuple:
    """``(lhs, rhs, out)`` axis specs of ``(N, *spatial, C)`` inputs and ``(*spatial, I, O)`` kernels.

    Each spec lists the axes of (batch | out-features, features |
    in-features, spatial...), as ``lax.ConvDimensionNumbers`` does.

    >>> channels_last_dimension_numbers(4)
    ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    """
    lhs = (0, ndim - 1) + tuple(range(1, ndim - 1))
    rhs = (ndim - 1, ndim - 2) + tuple(range(ndim - 2))
    return lhs, rhs, lhs


def periodic_fold_pads(sizes: Sequence[int], periods: Sequence[int], transpose_kernel: bool) -> list:
    """Pads that bring each axis of a VALID transposed convolution to a whole, aligned number of periods.

    ``ConvTranspose(padding='CIRCULAR')`` computes a VALID transposed
    convolution and then sums its periods (``input * strides`` elements) onto
    one. The pad is placed so that the input's start falls on a period
    boundary (else the result comes out circularly shifted); an odd pad puts
    its extra element low, or high with ``transpose_kernel`` (mirroring
    ``Conv``'s CIRCULAR padding, so the same kernel gives the true transpose).

    >>> periodic_fold_pads((9,), (4,), False), periodic_fold_pads((9,), (4,), True)
    ([(2, 1)], [(1, 2)])
    """
    pads = []
    for size, period in zip(sizes, periods):
        extra = -(size - period) % (2 * period)
        pads.append((extra // 2, extra - extra // 2) if transpose_kernel else (extra - extra // 2, extra // 2))
    return pads


class ConvPlan(NamedTuple):
    """Everything ``Conv``/``ConvLocal`` decide before touching an array.

    ``edge_pads`` (one ``(low, high)`` pair per spatial axis) and
    ``edge_mode`` (``'CIRCULAR'``, ``'REFLECT'`` or ``'CAUSAL'``) are set when
    the layer pads the input itself; ``padding`` is then ``'VALID'``, else
    what the convolution primitive receives. ``dimension_numbers`` describe
    the input with its batch axes merged into one (``merged_batch`` long).
    """

    batch_shape: tuple
    merged_batch: int
    kernel_size: tuple
    strides: tuple
    input_dilation: tuple
    kernel_dilation: tuple
    edge_pads: list | None
    edge_mode: str | None
    padding: object
    kernel_shape: tuple
    bias_shape: tuple
    dimension_numbers: tuple


def kernel_size_of(layer) -> tuple:
    """Checks ``layer.features`` and returns ``layer.kernel_size`` as a tuple: the first reads of a conv layer.

    The kernel size fixes the number of spatial axes, which the input check needs.

    >>> from types import SimpleNamespace as Fields
    >>> kernel_size_of(Fields(features=2, kernel_size=3))
    (3,)
    """
    layer_args.positive_int(layer.features, field='features', layer=layer)
    return layer_args.kernel_dims(layer.kernel_size, field='kernel_size', layer=layer)


def plan_conv(layer, in_shape: Sequence[int], *, shared_weights: bool) -> ConvPlan:
    """Reads a ``Conv`` (``shared_weights``) or ``ConvLocal`` layer's fields against its input shape.

    In order: the batch axes, strides and dilations, the padding (name
    known, no name with a dilated input, no empty output, edge pads), then
    the kernel and bias shapes and the mask's shape. Each step raises the
    layer's error for a bad field; the order is the order of the checks.
    """
    kernel_size = layer_args.kernel_dims(layer.kernel_size, field='kernel_size', layer=layer)
    rank = len(kernel_size)
    batch_shape, merged = batch_split(layer, in_shape, rank)
    strides = layer_args.window_dims(layer.strides, rank, field='strides', layer=layer)
    lhs_dilation = layer_args.window_dims(layer.input_dilation, rank, field='input_dilation', layer=layer)
    rhs_dilation = layer_args.window_dims(layer.kernel_dilation, rank, field='kernel_dilation', layer=layer)

    padding = layer_args.canonicalize_padding(layer.padding, rank)
    check_padding_name(layer, padding, CONV_PADDINGS, any_case=PRIMITIVE_PADDINGS)
    check_named_padding_dilation(layer, padding, lhs_dilation)
    spatial = tuple(in_shape[len(batch_shape) : -1])
    check_output_not_empty(
        layer,
        spatial,
        kernel_size,
        strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        kernel_field=layer.kernel_size,
        padding_field=layer.padding,
    )
    edges = mode = None
    if padding in ('CIRCULAR', 'REFLECT', 'CAUSAL'):
        edges, mode = edge_pads(layer, padding, kernel_size, rhs_dilation), padding
        spatial = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, edges))
        padding = 'VALID'

    in_features, groups, features = in_shape[-1], layer.feature_group_count, layer.features
    if shared_weights:
        kernel_shape = shared_kernel_shape(layer, kernel_size, in_features, features, groups)
        bias_shape = (features,)
    else:
        out_spatial = conv_output_dims(spatial, kernel_size, strides, padding, lhs_dilation, rhs_dilation)
        kernel_shape = local_kernel_shape(layer, out_spatial, kernel_size, in_features, features, groups)
        bias_shape = out_spatial + (features,)  # one bias per output element
    check_mask_shape(layer, _shape_or_none(layer.mask), kernel_shape)
    return ConvPlan(
        batch_shape,
        merged,
        kernel_size,
        strides,
        lhs_dilation,
        rhs_dilation,
        edges,
        mode,
        padding,
        kernel_shape,
        bias_shape,
        channels_last_dimension_numbers(rank + 2),
    )


class TransposePlan(NamedTuple):
    """Everything ``ConvTranspose`` decides before touching an array.

    With ``circular`` the primitive runs VALID (``padding``) and its result is
    folded onto ``periods`` elements per spatial axis.
    """

    batch_shape: tuple
    merged_batch: int
    kernel_size: tuple
    strides: tuple
    kernel_dilation: tuple
    kernel_shape: tuple
    padding: object
    circular: bool
    periods: tuple
    dimension_numbers: tuple


def plan_conv_transpose(layer, in_shape: Sequence[int]) -> TransposePlan:
    """Reads a ``ConvTranspose`` layer's fields against its input shape.

    The kernel is ``kernel_size + (in_features, features)``, or
    ``kernel_size + (features, in_features)`` with ``transpose_kernel``.

    >>> from types import SimpleNamespace as Fields
    >>> layer = Fields(features=3, kernel_size=2, strides=2, padding='CIRCULAR', kernel_dilation=None,
    ...                transpose_kernel=False, mask=None)
    >>> plan = plan_conv_transpose(layer, (5, 2))
    >>> plan.batch_shape, plan.kernel_shape, plan.padding, plan.periods
    ((), (2, 2, 3), 'VALID', (10,))
    """
    kernel_size = layer_args.kernel_dims(layer.kernel_size, field='kernel_size', layer=layer)
    rank = len(kernel_size)
    batch_shape, merged = batch_split(layer, in_shape, rank)
    strides = layer_args.window_dims(layer.strides, rank, field='strides', layer=layer)
    rhs_dilation = layer_args.window_dims(layer.kernel_dilation, rank, field='kernel_dilation', layer=layer)
    in_features = in_shape[-1]
    io = (layer.features, in_features) if layer.transpose_kernel else (in_features, layer.features)
    kernel_shape = kernel_size + io
    check_mask_shape(layer, _shape_or_none(layer.mask), kernel_shape)
    padding = layer_args.canonicalize_padding(layer.padding, rank)
    check_padding_name(layer, padding, TRANSPOSE_PADDINGS)
    circular = padding == 'CIRCULAR'
    spatial = in_shape[len(batch_shape) : -1]
    return TransposePlan(
        batch_shape,
        merged,
        kernel_size,
        strides,
        rhs_dilation,
        kernel_shape,
        'VALID' if circular else padding,
        circular,
        tuple(n * s for n, s in zip(spatial, strides)),
        channels_last_dimension_numbers(rank + 2),
    )


def _shape_or_none(mask):
    return None if mask is None else tuple(np.shape(mask))
