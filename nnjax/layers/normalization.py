"""Normalization layers: BatchNorm, LayerNorm, RMSNorm, GroupNorm, InstanceNorm, SpectralNorm, WeightNorm.

All but the two wrappers share one recipe (the seed system's): statistics
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

import dataclasses
from collections.abc import Iterable
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from nnjax import initializers, meta
from nnjax.dtypes import canonicalize_dtype
from nnjax.layers._map_variables import call_on_mapped_variables
from nnjax.merge_param import merge_param
from nnjax.module import Module, compact
from shared_spec import layer_args

# -- shared numerics --------------------------------------------------------------


def _canonicalize_axes(rank: int, axes) -> tuple:
    """Axes as a sorted tuple of distinct non-negative ints."""
    if not isinstance(axes, Iterable):
        axes = (axes,)
    return tuple(sorted({rank + axis if axis < 0 else axis for axis in axes}))


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
    axes = _canonicalize_axes(x.ndim, axes)

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
    reduction_axes = _canonicalize_axes(x.ndim, reduction_axes)
    feature_axes = _canonicalize_axes(x.ndim, feature_axes)
    feature_shape = [1] * x.ndim
    for ax in feature_axes:
        feature_shape[ax] = x.shape[ax]
    param_shape = tuple(x.shape[ax] for ax in feature_axes)

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


def _l2_normalize(x, axis=None, eps: float = 1e-12):
    """``x / sqrt(sum(x^2 over axis) + eps)`` (``axis=None``: over all of ``x``)."""
    return x * lax.rsqrt((x * x).sum(axis=axis, keepdims=True) + eps)


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
        feature_axes = _canonicalize_axes(x.ndim, self.axis)
        reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)
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


def group_count(layer: str, num_groups, group_size, channels: int) -> int:
    """The number of channel groups from exactly one of ``num_groups`` / ``group_size``."""
    if (num_groups is None) == (group_size is None):
        raise ValueError(
            f"{layer}: give exactly one of num_groups and group_size (got num_groups={num_groups!r}, "
            f"group_size={group_size!r}). Fix: to set group_size, also pass num_groups=None, which "
            "overrides the default num_groups=32."
        )
    if group_size is not None:
        if group_size <= 0 or channels % group_size != 0:
            raise ValueError(
                f"{layer}: group_size={group_size} does not divide the {channels} channels of the last axis. "
                "Fix: pick a group_size that divides the channel count."
            )
        return channels // group_size
    if num_groups <= 0 or channels % num_groups != 0:
        raise ValueError(
            f"{layer}: num_groups={num_groups} does not divide the {channels} channels of the last axis. "
            "Fix: pick num_groups dividing the channel count (the default is 32), or pass "
            "num_groups=None and a group_size."
        )
    return num_groups


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
        if self.reduction_axes is None:
            reduction_axes = list(range(1, x.ndim - 1)) + [-1]
        else:
            reduction_axes = self.reduction_axes
        reduction_axes = _canonicalize_axes(x.ndim, reduction_axes)
        if not reduction_axes or reduction_axes[-1] != x.ndim - 1:
            raise ValueError(
                f"GroupNorm: reduction_axes={self.reduction_axes!r} must include the last axis (the channels, "
                "which the groups split). Fix: add -1 to reduction_axes."
            )
        channels = x.shape[-1]
        num_groups = group_count("GroupNorm", self.num_groups, self.group_size, channels)
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
        feature_axes = _canonicalize_axes(x.ndim, self.feature_axes)
        if 0 in feature_axes:
            raise ValueError(
                f"InstanceNorm: feature_axes={self.feature_axes!r} includes axis 0, which is the batch axis. "
                "Fix: name feature axes among 1..ndim-1 (default -1)."
            )
        reduction_axes = [i for i in range(1, x.ndim) if i not in feature_axes]
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


# -- weight wrappers -----------------------------------------------------------------


def _map_leaves_with_path(fn: Callable, tree):
    """``fn(path, leaf)`` over a variables tree; a boxed weight (with_partitioning) is mapped inside its box."""

    def visit(path, leaf):
        if meta.is_axis_metadata(leaf):
            inner = leaf.unbox(apply_constraint=False) if isinstance(leaf, meta.Partitioned) else leaf.unbox()
            return leaf.replace_boxed(fn(path, inner))
        return fn(path, leaf)

    return jax.tree_util.tree_map_with_path(visit, tree, is_leaf=meta.is_axis_metadata)


def _variable_path(layer: Module, key_path) -> str:
    """``'<layer name>/<path below the collection>'``: the name stem of the wrappers' variables."""
    return layer.name + "/" + "/".join(str(k.key) for k in key_path[1:])


class SpectralNorm(Module):
    """Spectral normalization (https://arxiv.org/abs/1802.05957) of a wrapped layer's weights.

    Before the layer runs, each weight of two or more dimensions (others
    pass unchanged) is divided by an estimate of its largest singular value
    ``sigma``, from ``n_steps`` of power iteration started at the stored
    vector ``u``. Higher-rank weights are seen as ``(-1, last_dim)``
    matrices. ``u`` (``(1, last_dim)``, standard normal at init) and
    ``sigma`` (ones at init) live in ``collection_name`` under
    ``'<layer>/<weight path>/u'`` and ``'.../sigma'``; with
    ``update_stats=True`` they are overwritten with this call's values (make
    the collection mutable). As in the seed, ``init`` stores the normalized
    weights of the wrapped layer.

    Attributes:
      layer_instance: the wrapped module.
      n_steps: power-iteration steps per call (default 1; 0 disables).
      epsilon: added inside the l2 norms (default 1e-12).
      dtype: the normalized weights' dtype (default: inferred).
      param_dtype: dtype of ``u`` and ``sigma`` (default float32).
      error_on_non_matrix: raise on weights of rank > 2 instead of flattening.
      collection_name: where ``u`` and ``sigma`` live (default 'batch_stats').

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax.layers.normalization import SpectralNorm
    >>> x = jnp.ones((1, 3))
    >>> layer = SpectralNorm(nn.Dense(4))
    >>> variables = layer.init(jax.random.PRNGKey(0), x, update_stats=False)
    >>> jax.tree_util.tree_map(jnp.shape, variables['batch_stats'])
    {'layer_instance/kernel/sigma': (), 'layer_instance/kernel/u': (1, 4)}
    >>> y, updates = layer.apply(variables, x, update_stats=True, mutable=['batch_stats'])
    >>> y.shape
    (1, 4)
    """

    layer_instance: Module
    n_steps: int = 1
    epsilon: float = 1e-12
    dtype: Any = None
    param_dtype: Any = jnp.float32
    error_on_non_matrix: bool = False
    collection_name: str = "batch_stats"

    @compact
    def __call__(self, *args, update_stats: bool, **kwargs):
        def normalize_all(variables):
            return _map_leaves_with_path(
                lambda path, leaf: self._spectral_normalize(path, leaf, update_stats), variables
            )

        return call_on_mapped_variables(
            self.layer_instance,
            lambda layer: layer(*args, **kwargs),
            normalize_all,
            init=self.is_initializing(),
            mutable=True,
        )

    def _spectral_normalize(self, path, leaf, update_stats: bool):
        value = jnp.asarray(leaf)
        value_shape = value.shape
        if value.ndim <= 1 or self.n_steps < 1:
            return value
        if value.ndim > 2:
            if self.error_on_non_matrix:
                raise ValueError(
                    f"SpectralNorm: weight '{_variable_path(self.layer_instance, path)}' is {value.ndim}-D but "
                    "error_on_non_matrix=True. Fix: set error_on_non_matrix=False to normalize it as a "
                    "(-1, last_dim) matrix."
                )
            value = jnp.reshape(value, (-1, value.shape[-1]))

        stem = _variable_path(self.layer_instance, path)
        u_name, sigma_name = stem + "/u", stem + "/sigma"
        # Draw a key only when u is created, as the seed does (the 'params' counter moves only then).
        key = self.make_rng("params") if not self.has_variable(self.collection_name, u_name) else None
        u_var = self.variable(
            self.collection_name, u_name, jax.random.normal, key, (1, value.shape[-1]), self.param_dtype
        )
        sigma_var = self.variable(self.collection_name, sigma_name, jnp.ones, (), self.param_dtype)

        u0 = u_var.value
        for _ in range(self.n_steps):
            v0 = _l2_normalize(jnp.matmul(u0, value.T), eps=self.epsilon)
            u0 = _l2_normalize(jnp.matmul(v0, value), eps=self.epsilon)
        # The estimate is a constant of the weights as far as gradients go.
        u0, v0 = lax.stop_gradient(u0), lax.stop_gradient(v0)
        sigma = jnp.matmul(jnp.matmul(v0, value), u0.T)[0, 0]
        value_bar = (value / jnp.where(sigma != 0, sigma, 1)).reshape(value_shape)
        if update_stats:
            u_var.value = u0
            sigma_var.value = sigma
        return jnp.asarray(value_bar, canonicalize_dtype(leaf, u0, v0, sigma, dtype=self.dtype))


class WeightNorm(Module):
    """Weight normalization (https://arxiv.org/abs/1602.07868) of a wrapped layer's weights.

    Each selected weight is divided by its l2 norm over the non-feature axes
    (all axes if ``feature_axes`` is None) and, with ``use_scale``, times a
    learned ``scale`` of the feature axes' shape, a parameter of this module
    named ``'<layer>/<weight path>/scale'``. A weight is selected when one of
    the ``variable_filter`` strings occurs in its ``'<layer>/<path>'`` (all
    weights when the filter is None or empty). As in the seed, ``init``
    stores the normalized weights of the wrapped layer.

    Attributes:
      layer_instance: the wrapped module.
      epsilon: added inside the l2 norm (default 1e-12).
      dtype: the normalized weights' dtype (default: inferred).
      param_dtype: dtype of ``scale`` (default float32).
      use_scale: learn a ``scale`` per feature (default True); scale_init: ones.
      feature_axes: axes kept by the norm (default -1), or None.
      variable_filter: substrings selecting weights (default ``{'kernel'}``).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax.layers.normalization import WeightNorm
    >>> x = jnp.ones((1, 3))
    >>> variables = WeightNorm(nn.Dense(2)).init(jax.random.PRNGKey(0), x)
    >>> jax.tree_util.tree_map(jnp.shape, variables['params'])
    {'layer_instance': {'bias': (2,), 'kernel': (3, 2)}, 'layer_instance/kernel/scale': (2,)}
    """

    layer_instance: Module
    epsilon: float = 1e-12
    dtype: Any = None
    param_dtype: Any = jnp.float32
    use_scale: bool = True
    scale_init: Callable = initializers.ones
    feature_axes: Any = -1
    variable_filter: Optional[Iterable] = dataclasses.field(default_factory=lambda: {"kernel"})

    @compact
    def __call__(self, *args, **kwargs):
        def normalize_all(variables):
            return _map_leaves_with_path(self._l2_normalize, variables)

        return call_on_mapped_variables(
            self.layer_instance,
            lambda layer: layer(*args, **kwargs),
            normalize_all,
            init=self.is_initializing(),
            mutable=False,
        )

    def _l2_normalize(self, path, leaf):
        value = jnp.asarray(leaf)
        stem = _variable_path(self.layer_instance, path)
        if self.variable_filter and not any(name in stem for name in self.variable_filter):
            return value
        if self.feature_axes is None:
            feature_axes = ()
        else:
            feature_axes = _canonicalize_axes(value.ndim, self.feature_axes)
        reduction_axes = tuple(i for i in range(value.ndim) if i not in feature_axes)
        feature_shape = [1] * value.ndim
        for ax in feature_axes:
            feature_shape[ax] = value.shape[ax]
        param_shape = tuple(value.shape[ax] for ax in feature_axes)

        value_bar = _l2_normalize(value, axis=reduction_axes, eps=self.epsilon)
        args = [leaf]
        if self.use_scale:
            scale = self.param(stem + "/scale", self.scale_init, param_shape, self.param_dtype).reshape(feature_shape)
            value_bar = value_bar * scale
            args.append(scale)
        return jnp.asarray(value_bar, canonicalize_dtype(*args, dtype=self.dtype))
