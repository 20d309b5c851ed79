"""Statistics normalization layers: BatchNorm, LayerNorm, RMSNorm, GroupNorm, InstanceNorm.

(SpectralNorm and WeightNorm live in :mod:`nnjax.layers.weight_normalization`
and are importable from here too.) All five share one recipe: statistics
over ``reduction_axes`` in at least float32, then
``(x - mean) * rsqrt(var + epsilon) * scale + bias`` with ``scale`` and
``bias`` shaped by ``feature_axes``. They differ only in which axes they
reduce and where the statistics come from. With ``axis_name`` the
statistics are also averaged over a named mapped axis (``jax.pmap``,
``jax.vmap``, ``shard_map``) by one ``lax.pmean``.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.normalization import LayerNorm
>>> x = jnp.asarray([[1.0, 2.0, 3.0, 4.0]])
>>> variables = LayerNorm().init(jax.random.PRNGKey(0), x)
>>> jax.tree_util.tree_map(jnp.shape, variables)
{'params': {'bias': (4,), 'scale': (4,)}}
>>> y = LayerNorm().apply(variables, x)
>>> bool(abs(y.mean()) < 1e-6), bool(abs(y.std() - 1) < 1e-4)
(True, True)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax.numpy as jnp
from jax import lax

from nnjax import initializers
from nnjax.dtypes import canonicalize_dtype
from nnjax.layers.weight_normalization import SpectralNorm, WeightNorm  # noqa: F401 (their public path)
from nnjax.merge_param import merge_param
from nnjax.module import Module, compact
from shared_spec import layer_args
from shared_spec import normalization as norm_spec

# -- shared numerics --------------------------------------------------------------


def _abs_sq(x):
    """``|x|^2`` elementwise, real for complex ``x``."""
    if jnp.iscomplexobj(x):
        return lax.square(lax.real(x)) + lax.square(lax.imag(x))
    return lax.square(x)


def _compute_stats(
    x,
    axes,
    dtype,
    axis_name=None,
    axis_index_groups=None,
    *,
    use_mean: bool = True,
    use_fast_variance: bool = True,
    mask=None,
    force_float32_reductions: bool = True,
):
    """``(mean, var)`` of ``x`` over ``axes`` (and over ``axis_name``, if given).

    Computed in ``dtype`` (default ``x``'s) promoted to at least float32
    unless ``force_float32_reductions`` is off. ``use_fast_variance`` gives
    ``E[|x|^2] - |E[x]|^2`` clipped at 0 (one fused pass, the seed's
    default); otherwise ``E[|x - E[x]|^2]``. ``use_mean=False`` gives a zero
    mean and ``E[|x|^2]`` (RMSNorm). ``mask`` (broadcastable to ``x``)
    selects the entries that count.
    """
    if dtype is None:
        dtype = jnp.result_type(x)
    if force_float32_reductions:
        dtype = jnp.promote_types(dtype, jnp.float32)
    x = jnp.asarray(x, dtype)
    axes = norm_spec.canonicalize_axes(x.ndim, axes)

    def mean(*xs):
        mus = tuple(v.mean(axes, where=mask) for v in xs)
        if axis_name is None:
            return mus
        # One collective for all the statistics: stack, average, unstack.
        stacked = lax.pmean(jnp.stack(mus), axis_name, axis_index_groups=axis_index_groups)
        return tuple(stacked[i] for i in range(len(xs)))

    if not use_mean:
        (var,) = mean(_abs_sq(x))
        return jnp.zeros_like(var), var
    if use_fast_variance:
        mu, mu2 = mean(x, _abs_sq(x))
        # E[x^2] - E[x]^2 can round below zero; the clip keeps rsqrt finite.
        return mu, jnp.maximum(0.0, mu2 - _abs_sq(mu))
    (mu,) = mean(x)
    (var,) = mean(_abs_sq(x - jnp.expand_dims(mu, axes)))
    return mu, var


def _normalize(
    module: Module,
    x,
    mean,
    var,
    reduction_axes,
    feature_axes,
    dtype,
    param_dtype,
    epsilon: float,
    use_bias: bool,
    use_scale: bool,
    bias_init: Callable,
    scale_init: Callable,
):
    """``(x - mean) * rsqrt(var + epsilon) * scale + bias``; declares ``scale``/``bias`` on ``module``.

    ``mean``/``var`` lack ``reduction_axes``; ``scale``/``bias`` have the
    shape of ``x`` on ``feature_axes``; the result is cast to ``dtype``
    (default: from ``x`` and the parameters).
    """
    reduction_axes = norm_spec.canonicalize_axes(x.ndim, reduction_axes)
    feature_axes = norm_spec.canonicalize_axes(x.ndim, feature_axes)
    feature_shape, param_shape = norm_spec.feature_shapes(x.shape, feature_axes)

    mean = jnp.expand_dims(mean, reduction_axes)
    var = jnp.expand_dims(var, reduction_axes)
    y = x - mean
    mul = lax.rsqrt(var + epsilon)
    args = [x]
    if use_scale:
        scale = module.param("scale", scale_init, param_shape, param_dtype).reshape(feature_shape)
        mul = mul * scale
        args.append(scale)
    y = y * mul
    if use_bias:
        bias = module.param("bias", bias_init, param_shape, param_dtype).reshape(feature_shape)
        y = y + bias
        args.append(bias)
    return jnp.asarray(y, canonicalize_dtype(*args, dtype=dtype))


# -- statistics layers ------------------------------------------------------------


class BatchNorm(Module):
    """Normalizes over the batch: every axis but ``axis``, with running averages kept in 'batch_stats'.

    Training (``use_running_average=False``) normalizes with the statistics
    of the current batch (averaged over ``axis_name`` when given) and, when
    'batch_stats' is mutable, moves the running averages:
    ``ra = momentum * ra + (1 - momentum) * batch_stat``. Evaluation
    (``use_running_average=True``) uses the stored ``mean`` and ``var``
    (float32, initialized to zeros and ones). ``init`` never moves them, and
    ignores ``axis_name`` (the axis need not exist yet).

    Attributes:
      use_running_average: set here or at call time, exactly once.
      axis: the feature axis (or axes); the others are reduced (default -1).
      momentum: decay of the running averages (default 0.99).
      epsilon: added to the variance (default 1e-5).
      dtype: the result dtype (default: from inputs and params).
      param_dtype: dtype of ``scale``/``bias`` (default float32).
      use_bias, use_scale: whether to learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: their initializers (zeros / ones).
      axis_name: a named mapped axis to average the statistics over (default None).
      axis_index_groups: subgroups of that axis, as in ``lax.psum``.
      use_fast_variance: ``E[x^2] - E[x]^2`` (default) instead of the two-pass variance.
      force_float32_reductions: compute statistics in at least float32 (default True).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.normalization import BatchNorm
    >>> x = jnp.asarray([[0.0, 1.0], [2.0, 5.0]])
    >>> bn = BatchNorm(use_running_average=False, momentum=0.9)
    >>> variables = bn.init(jax.random.PRNGKey(0), x)
    >>> variables['batch_stats']
    {'mean': Array([0., 0.], dtype=float32), 'var': Array([1., 1.], dtype=float32)}
    >>> y, updates = bn.apply(variables, x, mutable=['batch_stats'])
    >>> updates['batch_stats']['mean']
    Array([0.1, 0.3], dtype=float32)
    """

    use_running_average: Optional[bool] = None
    axis: Any = -1
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        x = layer_args.array_input(x, jnp.asarray, arg="x", layer=self, min_ndim=1)
        layer_args.non_negative(self.epsilon, field="epsilon", layer=self)
        use_running_average = merge_param("use_running_average", self.use_running_average, use_running_average)
        layer_args.in_unit_interval(self.momentum, field="momentum", layer=self)
        feature_axes, reduction_axes = norm_spec.batch_norm_axes(x.ndim, self.axis)
        if not use_running_average:
            layer_args.non_empty_batch(x.shape, reduction_axes, arg="x", layer=self)
        feature_shape = tuple(x.shape[ax] for ax in feature_axes)
        stats_dtype = jnp.float32 if self.force_float32_reductions else x.dtype
        ra_mean = self.variable("batch_stats", "mean", lambda s: jnp.zeros(s, stats_dtype), feature_shape)
        ra_mean.check_shape(feature_shape)  # statistics given to apply must match the features
        ra_var = self.variable("batch_stats", "var", lambda s: jnp.ones(s, stats_dtype), feature_shape)
        ra_var.check_shape(feature_shape)  # statistics given to apply must match the features

        if use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            initializing = self.is_initializing()
            mean, var = _compute_stats(
                x,
                reduction_axes,
                self.dtype,
                # The seed skips the cross-device average at init, so the axis need not exist yet.
                None if initializing else self.axis_name,
                self.axis_index_groups,
                use_fast_variance=self.use_fast_variance,
                mask=mask,
                force_float32_reductions=self.force_float32_reductions,
            )
            if not initializing:
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var

        return _normalize(
            self,
            x,
            mean,
            var,
            reduction_axes,
            feature_axes,
            self.dtype,
            self.param_dtype,
            self.epsilon,
            self.use_bias,
            self.use_scale,
            self.bias_init,
            self.scale_init,
        )


class LayerNorm(Module):
    """Layer normalization (https://arxiv.org/abs/1607.06450): each example on its own.

    Statistics over ``reduction_axes`` (default the last), ``scale``/``bias``
    over ``feature_axes`` (default the last).

    Attributes:
      epsilon: added to the variance (default 1e-6).
      dtype, param_dtype: result dtype (default inferred) and parameter dtype (float32).
      use_bias, use_scale: whether to learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: their initializers (zeros / ones).
      reduction_axes: axes of the statistics (default -1).
      feature_axes: axes of ``scale``/``bias`` (default -1).
      axis_name, axis_index_groups: average the statistics over a named
        mapped axis (when the normalized array itself is sharded).
      use_fast_variance: ``E[x^2] - E[x]^2`` (default) instead of the two-pass variance.
      force_float32_reductions: compute statistics in at least float32 (default True).

    >>> import jax.numpy as jnp
    >>> from nnjax.layers.normalization import LayerNorm
    >>> x = jnp.asarray([[1.0, 3.0], [2.0, 2.0]])
    >>> LayerNorm(use_bias=False, use_scale=False).apply({}, x).round(4).tolist()
    [[-1.0, 1.0], [0.0, 0.0]]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        x = layer_args.array_input(x, jnp.asarray, arg="x", layer=self, min_ndim=1)
        layer_args.non_negative(self.epsilon, field="epsilon", layer=self)
        mean, var = _compute_stats(
            x,
            self.reduction_axes,
            self.dtype,
            self.axis_name,
            self.axis_index_groups,
            use_fast_variance=self.use_fast_variance,
            mask=mask,
            force_float32_reductions=self.force_float32_reductions,
        )
        return _normalize(
            self,
            x,
            mean,
            var,
            self.reduction_axes,
            self.feature_axes,
            self.dtype,
            self.param_dtype,
            self.epsilon,
            self.use_bias,
            self.use_scale,
            self.bias_init,
            self.scale_init,
        )


class RMSNorm(Module):
    """RMS normalization (https://arxiv.org/abs/1910.07467): ``x * rsqrt(mean(x^2) + epsilon) * scale``.

    No centring and no bias; otherwise as :class:`LayerNorm`.

    Attributes:
      epsilon: added to the mean square (default 1e-6).
      dtype, param_dtype: result dtype (default inferred) and parameter dtype (float32).
      use_scale: whether to learn ``scale`` (default True); scale_init: ones.
      reduction_axes, feature_axes: as LayerNorm (default -1 both).
      axis_name, axis_index_groups: as LayerNorm.
      use_fast_variance: accepted for parity (the mean square has one formula).
      force_float32_reductions: compute statistics in at least float32 (default True).

    >>> import jax, jax.numpy as jnp
    >>> from nnjax.layers.normalization import RMSNorm
    >>> x = jnp.asarray([[2.0, -2.0]])
    >>> variables = RMSNorm().init(jax.random.PRNGKey(0), x)
    >>> RMSNorm().apply(variables, x).round(4).tolist()
    [[1.0, -1.0]]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        x = layer_args.array_input(x, jnp.asarray, arg="x", layer=self, min_ndim=1)
        layer_args.non_negative(self.epsilon, field="epsilon", layer=self)
        mean, var = _compute_stats(
            x,
            self.reduction_axes,
            self.dtype,
            self.axis_name,
            self.axis_index_groups,
            use_mean=False,
            use_fast_variance=self.use_fast_variance,
            mask=mask,
            force_float32_reductions=self.force_float32_reductions,
        )
        return _normalize(
            self,
            x,
            mean,
            var,
            self.reduction_axes,
            self.feature_axes,
            self.dtype,
            self.param_dtype,
            self.epsilon,
            False,
            self.use_scale,
            initializers.zeros,
            self.scale_init,
        )


class GroupNorm(Module):
    """Group normalization (https://arxiv.org/abs/1803.08494): statistics per example per group of channels.

    The last axis holds the channels, split into ``num_groups`` groups (or
    groups of ``group_size``; give exactly one). Statistics run over
    ``reduction_axes`` (default: every axis but the first, the batch) within
    each group; ``scale``/``bias`` have one entry per channel.

    Attributes:
      num_groups: the number of groups (default 32), or None with ``group_size``.
      group_size: channels per group (default None).
      epsilon: added to the variance (default 1e-6).
      dtype, param_dtype: result dtype (default inferred) and parameter dtype (float32).
      use_bias, use_scale: whether to learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: their initializers (zeros / ones).
      reduction_axes: axes of the statistics; must include the last axis.
      axis_name, axis_index_groups: as LayerNorm.
      use_fast_variance: ``E[x^2] - E[x]^2`` (default) instead of the two-pass variance.
      force_float32_reductions: compute statistics in at least float32 (default True).

    >>> import jax.numpy as jnp
    >>> from nnjax.layers.normalization import GroupNorm
    >>> x = jnp.asarray([[0.0, 2.0, 10.0, 30.0]])
    >>> GroupNorm(num_groups=2, use_bias=False, use_scale=False).apply({}, x).round(4).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """

    num_groups: Optional[int] = 32
    group_size: Optional[int] = None
    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        x = layer_args.array_input(x, jnp.asarray, arg="x", layer=self, min_ndim=1)
        layer_args.non_negative(self.epsilon, field="epsilon", layer=self)
        reduction_axes = norm_spec.group_norm_axes(x.ndim, self.reduction_axes)
        channels = x.shape[-1]
        num_groups = norm_spec.group_count("GroupNorm", self.num_groups, self.group_size, channels)
        group_size = channels // num_groups
        grouped = x.reshape(x.shape[:-1] + (num_groups, group_size))
        if mask is not None:
            mask = mask.reshape(mask.shape[:-1] + (num_groups, group_size))
        # Reduce over the requested axes plus the within-group axis; one value per group.
        mean, var = _compute_stats(
            grouped,
            list(reduction_axes[:-1]) + [-1],
            self.dtype,
            self.axis_name,
            self.axis_index_groups,
            use_fast_variance=self.use_fast_variance,
            mask=mask,
            force_float32_reductions=self.force_float32_reductions,
        )
        mean = jnp.repeat(mean, group_size, axis=-1)
        var = jnp.repeat(var, group_size, axis=-1)
        return _normalize(
            self,
            x,
            mean,
            var,
            reduction_axes[:-1],
            (-1,),
            self.dtype,
            self.param_dtype,
            self.epsilon,
            self.use_bias,
            self.use_scale,
            self.bias_init,
            self.scale_init,
        )


class InstanceNorm(Module):
    """Instance normalization (https://arxiv.org/abs/1607.08022): per example and per feature.

    Statistics over every axis except the first (the batch) and
    ``feature_axes``; ``scale``/``bias`` over ``feature_axes``.

    Attributes:
      epsilon: added to the variance (default 1e-6).
      dtype, param_dtype: result dtype (default inferred) and parameter dtype (float32).
      use_bias, use_scale: whether to learn ``bias`` / ``scale`` (default True).
      bias_init, scale_init: their initializers (zeros / ones).
      feature_axes: the feature axes (default -1); may not include axis 0.
      axis_name, axis_index_groups: as LayerNorm.
      use_fast_variance: ``E[x^2] - E[x]^2`` (default) instead of the two-pass variance.
      force_float32_reductions: compute statistics in at least float32 (default True).

    >>> import jax.numpy as jnp
    >>> from nnjax.layers.normalization import InstanceNorm
    >>> x = jnp.asarray([[[1.0, 5.0], [3.0, 5.0]]])
    >>> InstanceNorm(use_bias=False, use_scale=False).apply({}, x)[..., 0].round(4).tolist()
    [[-1.0, 1.0]]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        x = layer_args.array_input(x, jnp.asarray, arg="x", layer=self, min_ndim=1)
        layer_args.non_negative(self.epsilon, field="epsilon", layer=self)
        feature_axes, reduction_axes = norm_spec.instance_norm_axes(x.ndim, self.feature_axes)
        mean, var = _compute_stats(
            x,
            reduction_axes,
            self.dtype,
            self.axis_name,
            self.axis_index_groups,
            use_fast_variance=self.use_fast_variance,
            mask=mask,
            force_float32_reductions=self.force_float32_reductions,
        )
        return _normalize(
            self,
            x,
            mean,
            var,
            reduction_axes,
            feature_axes,
            self.dtype,
            self.param_dtype,
            self.epsilon,
            self.use_bias,
            self.use_scale,
            self.bias_init,
            self.scale_init,
        )
