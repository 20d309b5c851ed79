"""Statistics normalization: BatchNorm, LayerNorm, RMSNorm, GroupNorm, InstanceNorm.

Every layer here standardizes its input with statistics it measures, then
gives it back a learned scale and offset. With ``R`` the reduction axes (the
values that share one mean and one variance) and ``n`` their count::

    mean   mu      = (1/n) * sum_R x
    var    sigma^2 = (1/n) * sum_R (x - mu)^2          (= E[x^2] - mu^2)
    norm   x_hat   = (x - mu) / sqrt(sigma^2 + epsilon)
    affine y       = scale * x_hat + bias              (scale, bias over the feature axes)

``epsilon`` keeps the division finite for a constant input. The layers
differ only in ``R`` (see :mod:`shared_spec.normalization`, which both
backends follow) and in where the statistics come from (BatchNorm may use
running averages instead). The weight wrappers SpectralNorm and WeightNorm
live in :mod:`nnref.layers.weight_normalization` and are importable here.

A row of four values, standardized: mean 0, standard deviation 1.

>>> import nnref as nn
>>> from nnref.layers.normalization import LayerNorm
>>> row = nn.numpy.asarray([[1.0, 2.0, 3.0, 4.0]])
>>> variables = LayerNorm().init(nn.random.PRNGKey(0), row)
>>> {name: p.shape for name, p in variables['params'].items()}  # one scale and bias per feature
{'scale': (4,), 'bias': (4,)}
>>> y = LayerNorm().apply(variables, row)
>>> round(float(y.mean()), 6), round(float(y.std()), 4)
(0.0, 1.0)

Named mapped axes (``axis_name``, from ``pmap``/``vmap``) do not exist in a
NumPy program: a layer asked to average its statistics over one refuses
with a ``ValueError`` (BatchNorm only at ``apply``, as ``init`` ignores
``axis_name``). The statistics of the whole unsplit batch are what nnjax's
``pmean`` over equal shards computes, and the conformance tests compare so.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from nnref import initializers
from nnref import numpy as _rnp
from nnref.dtypes import canonicalize_dtype, result_type
from nnref.layers.weight_normalization import SpectralNorm, WeightNorm  # noqa: F401 (their public path)
from nnref.merge_param import merge_param
from nnref.module import Module, compact
from shared_spec import layer_args
from shared_spec import normalization as norm_spec

_F32 = np.dtype(np.float32)


# -- the arithmetic, one step at a time ----------------------------------------------


def _as(x, dtype) -> np.ndarray:
    return np.asarray(x).astype(dtype, copy=False)


def _promoted(op, a, b):
    """``op(a, b)`` in JAX's result dtype of ``a`` and ``b``; NumPy's own promotion can differ (bfloat16, weak scalars)."""
    dtype = result_type(a, b)
    return op(_as(a, dtype), _as(b, dtype))


def _squared_magnitude(x):
    """``|x|^2``: ``x^2`` for reals, ``re^2 + im^2`` for complex numbers (so the variance is real)."""
    if np.iscomplexobj(x):
        return np.square(x.real) + np.square(x.imag)
    return np.square(x)


def _average(x, axes: tuple, where):
    """``sum(x) / count`` over ``axes``, counting only the entries ``where`` selects.

    The sum runs in ``x``'s dtype, except that half-precision floats are
    summed in float32 as XLA does. A group with nothing selected has count 0
    and its average is NaN, without a warning.
    """
    narrow = np.dtype(x.dtype).itemsize < 4 and not np.iscomplexobj(x)
    total = np.sum(_as(x, _F32 if narrow else x.dtype), axis=axes, where=where)
    count = np.sum(np.broadcast_to(where, x.shape), axis=axes).astype(total.real.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / count).astype(x.dtype)


def _statistics(layer, x, axes, mask=None, centred: bool = True):
    """Step 1: ``(mu, sigma^2)`` of ``x`` over ``axes``, in ``layer.dtype`` (or ``x``'s) widened to float32.

    With ``layer.use_fast_variance`` the variance is ``E[|x|^2] - |mu|^2``
    (one pass over the data, as the seed does by default), clipped at 0
    because rounding can take it below; otherwise the two-pass textbook
    formula ``E[|x - mu|^2]``. ``centred=False`` (RMSNorm) skips the mean:
    ``mu = 0`` and ``sigma^2 = E[|x|^2]``. ``mask`` (broadcastable to ``x``)
    keeps only the entries where it is True.
    """
    x = np.asarray(x)
    dtype = x.dtype if layer.dtype is None else np.dtype(layer.dtype)
    if layer.force_float32_reductions:
        dtype = result_type(dtype, _F32)
    x = _as(x, dtype)
    axes = norm_spec.canonicalize_axes(x.ndim, axes)
    where = True if mask is None else np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    if not centred:
        mean_square = _average(_squared_magnitude(x), axes, where)
        return np.zeros_like(mean_square), mean_square
    mu = _average(x, axes, where)
    if layer.use_fast_variance:
        return mu, np.maximum(_average(_squared_magnitude(x), axes, where) - _squared_magnitude(mu), 0)
    deviation = x - np.expand_dims(mu, axes)
    return mu, _average(_squared_magnitude(deviation), axes, where)


def _standardize_and_scale(layer, x, mu, var, reduction_axes, feature_axes):
    """Steps 2 and 3: ``(x - mu) * (1 / sqrt(var + epsilon) * scale) + bias``; declares ``scale``/``bias``.

    ``mu`` and ``var`` lack the ``reduction_axes``; they get them back as
    axes of length 1 so they broadcast over ``x``. ``scale`` and ``bias``
    are parameters of ``layer`` with the sizes of ``x`` on ``feature_axes``.
    Every step rounds in JAX's promoted dtype of its two operands (the
    scale multiplies the reciprocal square root before it meets ``x - mu``,
    as in the seed), and the result is cast to ``layer.dtype`` or, when that
    is None, to the dtype inferred from ``x`` and the parameters.
    """
    x = np.asarray(x)
    rank = x.ndim
    reduction_axes = norm_spec.canonicalize_axes(rank, reduction_axes)
    broadcast_shape, param_shape = norm_spec.feature_shapes(x.shape, norm_spec.canonicalize_axes(rank, feature_axes))
    mu = np.expand_dims(np.asarray(mu), reduction_axes)
    var = np.asarray(np.expand_dims(np.asarray(var), reduction_axes))

    centred = _promoted(np.subtract, x, mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_std = (1 / np.sqrt(var + layer.epsilon)).astype(var.dtype)
    inferred_from = [x]
    if layer.use_scale:
        scale = layer.param("scale", layer.scale_init, param_shape, layer.param_dtype)
        scale = np.reshape(scale, broadcast_shape)
        inv_std = _promoted(np.multiply, inv_std, scale)
        inferred_from.append(scale)
    y = _promoted(np.multiply, centred, inv_std)
    if getattr(layer, "use_bias", False):  # RMSNorm has no bias
        bias = np.reshape(layer.param("bias", layer.bias_init, param_shape, layer.param_dtype), broadcast_shape)
        y = _promoted(np.add, y, bias)
        inferred_from.append(bias)
    return _as(y, canonicalize_dtype(*inferred_from, dtype=layer.dtype))


def _checked(layer, x) -> np.ndarray:
    """The input as an array (rank >= 1), after the shared checks of ``x`` and ``epsilon``."""
    x = layer_args.array_input(x, _rnp.asarray, arg="x", layer=layer, min_ndim=1)
    layer_args.non_negative(layer.epsilon, field="epsilon", layer=layer)
    return np.asarray(x)


def _refuse_axis_name(layer: str, axis_name) -> None:
    if axis_name is not None:
        raise ValueError(
            f"{layer}: axis_name={axis_name!r} asks for statistics averaged over a named mapped axis "
            "(jax.pmap / jax.vmap), which the NumPy reference backend does not have. Fix: leave "
            "axis_name=None and feed the whole batch (the statistics are then those of the "
            "combined shards), or run the model on nnjax."
        )


def _moving_average(momentum: float, old, new):
    """``momentum * old + (1 - momentum) * new``, each product rounded to the result dtype first (JAX's weak floats)."""
    old, new = np.asarray(old), np.asarray(new)
    dtype = result_type(old, new)
    return (_as(momentum * old, dtype) + _as((1 - momentum) * new, dtype)).astype(dtype)


# -- the layers --------------------------------------------------------------------------


class BatchNorm(Module):
    """Batch normalization (https://arxiv.org/abs/1502.03167): statistics across the examples of a batch.

    ``R`` is every axis except ``axis`` (the features): each feature is
    standardized with the mean and variance it has over the batch (and any
    spatial axes). A network must also run on single examples at test time,
    so the layer keeps running averages in the 'batch_stats' collection:

    * training (``use_running_average=False``): normalize with the batch's
      ``mu`` and ``sigma^2``, and, when 'batch_stats' is mutable, update
      ``mean <- momentum * mean + (1 - momentum) * mu`` and likewise ``var``;
    * evaluation (``use_running_average=True``): normalize with the stored
      ``mean`` and ``var`` (float32; zeros and ones when created).

    ``init`` creates the averages but does not move them.

    Attributes:
      use_running_average: evaluation mode; given here or at call time, once.
      axis: the feature axis or axes (default -1).
      momentum: how much of the old average survives an update (default 0.99).
      epsilon: the variance's safety margin (default 1e-5).
      dtype: the output dtype (None: inferred from the input and parameters).
      param_dtype: the dtype of ``scale`` and ``bias`` (default float32).
      use_bias, use_scale: learn ``bias`` (zeros) / ``scale`` (ones); default True.
      bias_init, scale_init: their initializers.
      axis_name, axis_index_groups: statistics over a named mapped axis; not
        available in nnref (see the module docstring).
      use_fast_variance: the one-pass variance ``E[x^2] - mu^2`` (default True).
      force_float32_reductions: statistics in at least float32 (default True).

    Two examples of two features; momentum 0.9 moves each average a tenth
    of the way from its initial 0 to the batch mean (1, 3):

    >>> import nnref as nn
    >>> from nnref.layers.normalization import BatchNorm
    >>> batch = nn.numpy.asarray([[0.0, 1.0], [2.0, 5.0]])
    >>> training = BatchNorm(use_running_average=False, momentum=0.9)
    >>> variables = training.init(nn.random.PRNGKey(0), batch)
    >>> variables['batch_stats']  # init creates the averages without moving them
    {'mean': array([0., 0.], dtype=float32), 'var': array([1., 1.], dtype=float32)}
    >>> _, updated = training.apply(variables, batch, mutable=['batch_stats'])
    >>> updated['batch_stats']['mean']
    array([0.1, 0.3], dtype=float32)
    """

    use_running_average: Optional[bool] = None
    axis: Any = -1
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = np.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    axis_name: Optional[str] = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    @compact
    def __call__(self, x, use_running_average: Optional[bool] = None, *, mask=None):
        x = _checked(self, x)
        evaluating = merge_param("use_running_average", self.use_running_average, use_running_average)
        layer_args.in_unit_interval(self.momentum, field="momentum", layer=self)
        feature_axes, reduction_axes = norm_spec.batch_norm_axes(x.ndim, self.axis)
        if not evaluating:
            layer_args.non_empty_batch(x.shape, reduction_axes, arg="x", layer=self)

        # The running averages: one entry per feature, checked against given variables.
        n_features = tuple(x.shape[ax] for ax in feature_axes)
        stats_dtype = _F32 if self.force_float32_reductions else x.dtype
        running_mean = self.variable("batch_stats", "mean", lambda s: np.zeros(s, stats_dtype), n_features)
        running_mean.check_shape(n_features)
        running_var = self.variable("batch_stats", "var", lambda s: np.ones(s, stats_dtype), n_features)
        running_var.check_shape(n_features)

        if evaluating:
            mu, var = running_mean.value, running_var.value
        else:
            initializing = self.is_initializing()
            # init does not average across devices (the mapped axis may not exist yet).
            _refuse_axis_name("BatchNorm", None if initializing else self.axis_name)
            mu, var = _statistics(self, x, reduction_axes, mask)
            if not initializing:
                running_mean.value = _moving_average(self.momentum, running_mean.value, mu)
                running_var.value = _moving_average(self.momentum, running_var.value, var)
        return _standardize_and_scale(self, x, mu, var, reduction_axes, feature_axes)


class LayerNorm(Module):
    """Layer normalization (https://arxiv.org/abs/1607.06450): each example standardized on its own.

    ``R`` is ``reduction_axes`` (default the last axis): the statistics
    never mix examples, so the layer behaves the same in training and
    evaluation and keeps no running state. ``scale``/``bias`` span
    ``feature_axes`` (default the last axis).

    Attributes:
      epsilon: the variance's safety margin (default 1e-6).
      dtype: the output dtype (None: inferred); param_dtype: float32.
      use_bias, use_scale: learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: zeros / ones.
      reduction_axes: the axes ``R`` (default -1).
      feature_axes: the axes of ``scale`` and ``bias`` (default -1).
      axis_name, axis_index_groups: not available in nnref (module docstring).
      use_fast_variance: the one-pass variance (default True).
      force_float32_reductions: statistics in at least float32 (default True).

    Row ``[1, 3]`` has mean 2 and variance 1; row ``[2, 2]`` is constant:

    >>> import nnref as nn
    >>> from nnref.layers.normalization import LayerNorm
    >>> rows = nn.numpy.asarray([[1.0, 3.0], [2.0, 2.0]])
    >>> standardize = LayerNorm(use_bias=False, use_scale=False)
    >>> standardize.apply({}, rows).round(4).tolist()  # the constant row becomes 0 (epsilon avoids 0/0)
    [[-1.0, 1.0], [0.0, 0.0]]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = np.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    reduction_axes: Any = -1
    feature_axes: Any = -1
    axis_name: Optional[str] = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        x = _checked(self, x)
        _refuse_axis_name("LayerNorm", self.axis_name)
        mu, var = _statistics(self, x, self.reduction_axes, mask)
        return _standardize_and_scale(self, x, mu, var, self.reduction_axes, self.feature_axes)


class RMSNorm(Module):
    """Root-mean-square normalization (https://arxiv.org/abs/1910.07467): LayerNorm without centring.

    ``y = scale * x / sqrt(mean(x^2 over R) + epsilon)``: the input is
    divided by its root mean square and nothing is subtracted, so there is
    no mean to compute and no ``bias`` to learn. Otherwise as LayerNorm.

    Attributes:
      epsilon: the mean square's safety margin (default 1e-6).
      dtype: the output dtype (None: inferred); param_dtype: float32.
      use_scale: learn ``scale`` (default True); scale_init: ones.
      reduction_axes: the axes ``R`` (default -1); feature_axes: those of ``scale`` (default -1).
      axis_name, axis_index_groups: not available in nnref (module docstring).
      use_fast_variance: accepted as in nnjax; the mean square has one formula.
      force_float32_reductions: statistics in at least float32 (default True).

    ``[3, -3, 3, -3]`` has root mean square 3 (and mean 0, which RMSNorm would not remove anyway):

    >>> import nnref as nn
    >>> from nnref.layers.normalization import RMSNorm
    >>> v = nn.numpy.asarray([[3.0, -3.0, 3.0, -3.0]])
    >>> RMSNorm().apply(RMSNorm().init(nn.random.PRNGKey(0), v), v).round(4).tolist()
    [[1.0, -1.0, 1.0, -1.0]]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = np.float32
    use_scale: bool = True
    scale_init: Callable = initializers.ones
    reduction_axes: Any = -1
    feature_axes: Any = -1
    axis_name: Optional[str] = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        x = _checked(self, x)
        _refuse_axis_name("RMSNorm", self.axis_name)
        zero, mean_square = _statistics(self, x, self.reduction_axes, mask, centred=False)
        return _standardize_and_scale(self, x, zero, mean_square, self.reduction_axes, self.feature_axes)


class GroupNorm(Module):
    """Group normalization (https://arxiv.org/abs/1803.08494): statistics per example and per group of channels.

    The channels (last axis) are cut into ``num_groups`` consecutive groups
    (or groups of ``group_size`` channels; exactly one of the two is set).
    The steps:

    1. reshape ``[..., C]`` to ``[..., G, C // G]``;
    2. take ``mu``/``sigma^2`` over ``reduction_axes`` (default: every axis
       but the batch) with the channel axis replaced by the within-group
       axis, which gives one pair per example and group;
    3. repeat each pair for the ``C // G`` channels of its group and
       normalize as LayerNorm does, with one ``scale``/``bias`` per channel.

    One group is LayerNorm over all axes but the batch; ``C`` groups is
    InstanceNorm.

    Attributes:
      num_groups: ``G`` (default 32); None when ``group_size`` is given.
      group_size: ``C // G``, the channels of one group (default None).
      epsilon: the variance's safety margin (default 1e-6).
      dtype: the output dtype (None: inferred); param_dtype: float32.
      use_bias, use_scale: learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: zeros / ones.
      reduction_axes: ``R``; must include the channel axis (default None: all but axis 0).
      axis_name, axis_index_groups: not available in nnref (module docstring).
      use_fast_variance: the one-pass variance (default True).
      force_float32_reductions: statistics in at least float32 (default True).

    Two groups of three channels, ``[0, 1, 2]`` and ``[10, 20, 30]``, each standardized alone:

    >>> import nnref as nn
    >>> from nnref.layers.normalization import GroupNorm
    >>> channels = nn.numpy.asarray([[0.0, 1.0, 2.0, 10.0, 20.0, 30.0]])
    >>> pairs = GroupNorm(num_groups=2, use_bias=False, use_scale=False)
    >>> (pairs.apply({}, channels) * 0.8165).round(3).tolist()  # sqrt(2/3) undoes the 1/std
    [[-1.0, 0.0, 1.0, -1.0, 0.0, 1.0]]
    """

    num_groups: Optional[int] = 32
    group_size: Optional[int] = None
    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = np.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    reduction_axes: Any = None
    axis_name: Optional[str] = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        x = _checked(self, x)
        _refuse_axis_name("GroupNorm", self.axis_name)
        reduce = norm_spec.group_norm_axes(x.ndim, self.reduction_axes)
        channels = x.shape[-1]
        groups = norm_spec.group_count("GroupNorm", self.num_groups, self.group_size, channels)
        per_group = channels // groups

        # Step 1: a new last axis runs over the channels of one group.
        grouped = x.reshape(x.shape[:-1] + (groups, per_group))
        if mask is not None:
            mask = np.asarray(mask)
            mask = mask.reshape(mask.shape[:-1] + (groups, per_group))
        # Step 2: the requested axes, with the channel axis swapped for the within-group one.
        mu, var = _statistics(self, grouped, list(reduce[:-1]) + [-1], mask)
        # Step 3: every channel reads the statistics of its group.
        mu = np.repeat(mu, per_group, axis=-1)
        var = np.repeat(var, per_group, axis=-1)
        return _standardize_and_scale(self, x, mu, var, reduce[:-1], (-1,))


class InstanceNorm(Module):
    """Instance normalization (https://arxiv.org/abs/1607.08022): every example and feature standardized alone.

    ``R`` is every axis but the batch (axis 0) and ``feature_axes``: for an
    image ``[batch, height, width, channels]`` each channel of each image
    gets its own mean and variance over its pixels.

    Attributes:
      epsilon: the variance's safety margin (default 1e-6).
      dtype: the output dtype (None: inferred); param_dtype: float32.
      use_bias, use_scale: learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: zeros / ones.
      feature_axes: the feature axes (default -1); axis 0 is refused.
      axis_name, axis_index_groups: not available in nnref (module docstring).
      use_fast_variance: the one-pass variance (default True).
      force_float32_reductions: statistics in at least float32 (default True).

    One image of three pixels and two channels; channel 0 holds 1, 3, 5 and channel 1 is constant:

    >>> import nnref as nn
    >>> from nnref.layers.normalization import InstanceNorm
    >>> image = nn.numpy.asarray([[[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]]])
    >>> per_channel = InstanceNorm(use_bias=False, use_scale=False).apply({}, image)
    >>> (per_channel[0, :, 0] * 0.8165).round(3).tolist(), per_channel[0, :, 1].tolist()
    ([-1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = np.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    feature_axes: Any = -1
    axis_name: Optional[str] = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        x = _checked(self, x)
        _refuse_axis_name("InstanceNorm", self.axis_name)
        feature_axes, reduction_axes = norm_spec.instance_norm_axes(x.ndim, self.feature_axes)
        mu, var = _statistics(self, x, reduction_axes, mask)
        return _standardize_and_scale(self, x, mu, var, reduction_axes, feature_axes)
