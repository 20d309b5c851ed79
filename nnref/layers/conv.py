"""Convolution layers, computed step by step in NumPy: ``Conv``, ``ConvLocal`` and ``ConvTranspose``.

What a convolution computes
---------------------------
Take one spatial axis, an input ``x`` of shape ``(length, in_features)`` and a
kernel ``w`` of shape ``(k, in_features, features)``. Output position ``p``
is a weighted sum over the ``k`` taps of a window that starts at ``p * s``
(``s`` the stride), the taps ``d`` apart (``d`` the kernel dilation)::

    y[p, o] = b[o] + sum_{t < k} sum_{c} x[p * s + t * d, c] * w[t, c, o]

More spatial axes add one tap index each. Before that, the input may be
dilated (``input_dilation - 1`` zeros between neighbours) and padded; the
padding decides the output length (``'SAME'``: ``ceil(length / s)``,
``'VALID'``: only windows that fit). With ``feature_group_count = G`` the
input and output features split into ``G`` groups and group ``g`` of the
output sees only group ``g`` of the input.

The three layers differ in their kernel:

* ``Conv`` uses one kernel ``w`` at every position;
* ``ConvLocal`` ("locally connected") has a separate kernel per output
  position, so it learns position-dependent filters;
* ``ConvTranspose`` runs the convolution backwards: it spreads each input
  element over a window of the output, upsampling by the stride.

The shape rules (which paddings mean what, kernel and output shapes) are
shared with nnjax in :mod:`shared_spec.conv_shapes`; the arithmetic is
:mod:`nnref.convolution` (im2col and a matrix product). Inputs are
channels-last, ``(*batch, *spatial, features)``: any number of batch axes,
none included, is merged into one for the computation.

>>> import nnref as nn
>>> from nnref.layers.conv import Conv
>>> conv = Conv(features=6, kernel_size=(3, 3))    # 3x3 windows, 6 filters
>>> images = nn.numpy.ones((2, 7, 7, 3))           # two 7x7 RGB images
>>> variables = conv.init(nn.random.PRNGKey(0), images)
>>> {name: v.shape for name, v in variables['params'].items()}
{'kernel': (3, 3, 3, 6), 'bias': (6,)}
>>> conv.apply(variables, images).shape            # 'SAME' keeps 7x7
(2, 7, 7, 6)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnref import convolution, initializers
from nnref import numpy as _rnp
from nnref.dtypes import promote_dtype, result_type
from nnref.module import Module, compact
from shared_spec import conv_shapes, layer_args
from shared_spec.layer_args import canonicalize_padding  # noqa: F401  (public: nn.linear.canonicalize_padding)

default_kernel_init = initializers.lecun_normal()

# numpy.pad's name for what each edge padding mode does with the values past the edge.
_NUMPY_PAD_MODE = {"CIRCULAR": "wrap", "REFLECT": "reflect", "CAUSAL": "constant"}


def _as_array(layer: Module, inputs, kernel_size: tuple) -> np.ndarray:
    """The input as a NumPy array with at least the spatial axes and a feature axis."""
    return np.asarray(
        layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=layer, min_ndim=len(kernel_size) + 1)
    )


def _masked(layer: Module, kernel: np.ndarray) -> np.ndarray:
    """The kernel times ``layer.mask``: a new array, so the stored parameter is never changed."""
    if layer.mask is None:
        return kernel
    return np.asarray(kernel * np.asarray(layer.mask), dtype=result_type(kernel, layer.mask))


def _add_bias(y: np.ndarray, bias) -> np.ndarray:
    """``y + bias``, the bias aligned with ``y``'s trailing axes."""
    if bias is None:
        return y
    return y + bias.reshape((1,) * (y.ndim - bias.ndim) + bias.shape)


class _ConvBase(Module):
    """``Conv`` and ``ConvLocal``: the same fields and steps, one kernel or one per position."""

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

    shared_weights = True  # False in ConvLocal

    @compact
    def __call__(self, inputs):
        """``y = conv(x, kernel) + bias`` over ``inputs`` of shape ``(*batch, *spatial, in_features)``."""
        # 1. Shapes first: every field is checked against the input's shape before any
        #    parameter exists (the rules shared with nnjax, in the same order).
        x = _as_array(self, inputs, conv_shapes.kernel_size_of(self))
        plan = conv_shapes.plan_conv(self, x.shape, shared_weights=self.shared_weights)
        x = x.reshape((plan.merged_batch,) + x.shape[len(plan.batch_shape) :])

        # 2. Edge padding modes are padded here, by hand; the convolution then runs VALID.
        if plan.edge_mode is not None:
            x = np.pad(x, [(0, 0), *plan.edge_pads, (0, 0)], mode=_NUMPY_PAD_MODE[plan.edge_mode])

        # 3. The parameters (the kernel masked on use, never in storage).
        kernel = _masked(self, self.param("kernel", self.kernel_init, plan.kernel_shape, self.param_dtype))
        bias = None
        if self.use_bias:
            bias = self.param("bias", self.bias_init, plan.bias_shape, self.param_dtype)

        # 4. Convolve in the common dtype, add the bias, give back the batch axes.
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        geometry = dict(lhs_dilation=plan.input_dilation, rhs_dilation=plan.kernel_dilation)
        geometry.update(dimension_numbers=plan.dimension_numbers)
        if not self.shared_weights:
            y = convolution.conv_general_dilated_local(
                x, kernel, plan.strides, plan.padding, plan.kernel_size, **geometry
            )
        else:
            groups, precision = self.feature_group_count, self.precision
            conv = self.conv_general_dilated  # the NumPy one by default; a field, so it can be swapped
            y = conv(x, kernel, plan.strides, plan.padding, **geometry, feature_group_count=groups, precision=precision)
        y = _add_bias(y, bias)
        return y.reshape(plan.batch_shape + y.shape[1:])


class Conv(_ConvBase):
    """One kernel slid over every position of the input.

    For each output position the layer cuts the window of the (dilated,
    padded) input that the kernel covers and takes its dot product with the
    kernel, one per output feature; the bias is then added. In NumPy this is
    im2col: all windows stacked into a matrix, one matrix product.

    Fields and what they change:

    * ``features`` output features; ``kernel_size`` the window (an int: one
      spatial axis), which also fixes how many spatial axes the input has;
    * ``strides`` how far the window moves per output step (1);
    * ``padding``: ``'SAME'`` (the output keeps ``ceil(n / stride)``
      positions), ``'VALID'`` (only whole windows), ``'CIRCULAR'`` (the
      input wraps around, a periodic signal), ``'REFLECT'`` (the input is
      mirrored at its edges, the edge itself not repeated), ``'CAUSAL'`` (1D:
      padded at the start only, so ``y[t]`` never sees ``x[t + 1:]``), an
      int or ``(low, high)`` pairs per axis;
    * ``input_dilation`` zeros put between input elements (1: none);
      ``kernel_dilation`` the spacing of the kernel's taps, widening the
      window without adding weights;
    * ``feature_group_count`` splits the features into independent groups (a
      depthwise convolution when it equals the input features);
    * ``use_bias``, ``kernel_init`` (kernel shape ``kernel_size + (in_features
      // feature_group_count, features)``), ``bias_init``;
    * ``mask`` multiplies the kernel when it is used (e.g. for masked,
      autoregressive convolutions), the stored kernel staying as it is;
    * ``dtype`` of the computation (default: promoted from inputs and
      parameters), ``param_dtype`` of the parameters (float32);
    * ``precision`` is nnjax's knob: NumPy always sums at the operands'
      precision (half precision in float32);
    * ``conv_general_dilated`` the function doing the arithmetic
      (:func:`nnref.convolution.conv_general_dilated`).

    >>> import nnref as nn
    >>> from nnref.layers.conv import Conv
    >>> pairs = Conv(features=2, kernel_size=2, strides=2, padding='VALID')   # non-overlapping pairs
    >>> signals = nn.numpy.ones((3, 10, 4))   # 3 signals of length 10 with 4 channels
    >>> variables = pairs.init(nn.random.PRNGKey(1), signals)
    >>> variables['params']['kernel'].shape, pairs.apply(variables, signals).shape
    ((2, 4, 2), (3, 5, 2))
    >>> pairs.apply(variables, signals[0]).shape    # one signal, no batch axis
    (5, 2)
    """


class ConvLocal(_ConvBase):
    """A locally connected layer: the sum of ``Conv``, with a different kernel at each output position.

    Because the weights are not shared, the number of output positions must
    be known to create them: the kernel has shape ``out_spatial +
    (prod(kernel_size) * in_features, features)``, the window's entries
    flattened feature-major (entry ``c * prod(kernel_size) + tap``), and the
    bias one value per output element, ``out_spatial + (features,)``. The
    fields are :class:`Conv`'s; there are no feature groups.

    >>> import nnref as nn
    >>> from nnref.layers.conv import ConvLocal
    >>> local = ConvLocal(features=2, kernel_size=(3,), padding='VALID')
    >>> x = nn.numpy.ones((1, 5, 4))          # 5 positions of 4 features: 3 whole windows of 3
    >>> variables = local.init(nn.random.PRNGKey(0), x)
    >>> {name: v.shape for name, v in variables['params'].items()}   # 3 kernels of 3 * 4 inputs
    {'kernel': (3, 12, 2), 'bias': (3, 2)}
    >>> local.apply(variables, x).shape
    (1, 3, 2)
    """

    shared_weights = False


class ConvTranspose(Module):
    """A transposed convolution: each input element spreads a weighted copy of the kernel over the output.

    Where a strided ``Conv`` gathers a window into one output, the transposed
    one scatters one input over a window: output position ``q`` collects
    ``x[p] * w[t]`` from every ``p, t`` with ``p * stride + t = q`` (then
    the padding crops or extends the result). Computed as a convolution of
    the input dilated by ``strides`` (``stride - 1`` zeros between elements),
    so an input of ``n`` positions gives ``n * stride`` with ``'SAME'``.

    With ``transpose_kernel=True`` the kernel's taps are flipped and its
    feature axes swapped first: the layer is then exactly the gradient (the
    adjoint) of a ``Conv`` with the same kernel.

    Fields: ``features``, ``kernel_size``, ``strides`` (the upsampling
    factor, default 1), ``padding`` (``'SAME'``, ``'VALID'``, ``'CIRCULAR'``:
    the output wraps around onto ``n * stride`` positions, or explicit pairs
    padding the dilated input), ``kernel_dilation``, ``use_bias``, ``mask``,
    ``dtype``, ``param_dtype``, ``precision`` (accepted, as for ``Conv``),
    ``kernel_init`` (kernel ``kernel_size + (in_features, features)``,
    reversed feature axes with ``transpose_kernel``), ``bias_init``.

    >>> import nnref as nn
    >>> from nnref.layers.conv import ConvTranspose
    >>> upsample = ConvTranspose(features=1, kernel_size=(3, 3), strides=(2, 2))
    >>> x = nn.numpy.ones((1, 3, 3, 2))       # a 3x3 image becomes 6x6
    >>> variables = upsample.init(nn.random.PRNGKey(3), x)
    >>> variables['params']['kernel'].shape, upsample.apply(variables, x).shape
    ((3, 3, 2, 1), (1, 6, 6, 1))
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
        """Scatters each input position over an output window; ``inputs`` is ``(*batch, *spatial, in_features)``."""
        x = _as_array(self, inputs, conv_shapes.kernel_size_of(self))
        plan = conv_shapes.plan_conv_transpose(self, x.shape)
        x = x.reshape((plan.merged_batch,) + x.shape[len(plan.batch_shape) :])
        kernel = _masked(self, self.param("kernel", self.kernel_init, plan.kernel_shape, self.param_dtype))
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None

        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = convolution.conv_transpose(
            x,
            kernel,
            plan.strides,
            plan.padding,
            rhs_dilation=plan.kernel_dilation,
            transpose_kernel=self.transpose_kernel,
        )
        if plan.circular:
            # The whole VALID result, folded onto one period per axis: the output wraps around.
            y = _fold_periods(y, plan.periods, self.transpose_kernel)
        y = _add_bias(y, bias)
        return y.reshape(plan.batch_shape + y.shape[1:])


def _fold_periods(y: np.ndarray, periods: Sequence[int], transpose_kernel: bool) -> np.ndarray:
    """Sum the periods of each spatial axis onto one: what wrapping the output around means.

    The axis is first padded to a whole number of periods, aligned so that
    the input's start falls on a period boundary
    (:func:`shared_spec.conv_shapes.periodic_fold_pads`); then the axis is
    cut into periods, ``(count, period)``, and the ``count`` axis summed.
    """
    dtype = y.dtype
    aligned = conv_shapes.periodic_fold_pads(y.shape[1:-1], periods, transpose_kernel)
    y = np.pad(y, [(0, 0), *aligned, (0, 0)]).astype(convolution.accumulation_dtype(dtype))
    for axis, period in zip(range(1, y.ndim - 1), periods):
        cut = y.reshape(y.shape[:axis] + (y.shape[axis] // period, period) + y.shape[axis + 1 :])
        y = cut.sum(axis=axis)
    return y.astype(dtype)
