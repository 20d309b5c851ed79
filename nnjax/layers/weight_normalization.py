"""Weight normalization wrappers: SpectralNorm and WeightNorm rescale a wrapped layer's weights before it runs.

The wrapped layer keeps its own parameters; the wrapper maps them (through
``call_on_mapped_variables``) and the layer runs on the normalized copies.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> from nnjax.layers.weight_normalization import WeightNorm
>>> layer = WeightNorm(nn.Dense(3))
>>> variables = layer.init(jax.random.PRNGKey(0), jnp.ones((2, 4)))
>>> layer.apply(variables, jnp.ones((2, 4))).shape
(2, 3)
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
from nnjax.module import Module, compact
from shared_spec import normalization as norm_spec


def _l2_normalize(x, axis=None, eps: float = 1e-12):
    """``x / sqrt(sum(x^2 over axis) + eps)`` (``axis=None``: over all of ``x``)."""
    return x * lax.rsqrt((x * x).sum(axis=axis, keepdims=True) + eps)


def _map_leaves_with_path(fn: Callable, tree):
    """``fn(path, leaf)`` over a variables tree; a boxed weight (with_partitioning) is mapped inside its box."""

    def visit(path, leaf):
        if meta.is_axis_metadata(leaf):
            inner = leaf.unbox(apply_constraint=False) if isinstance(leaf, meta.Partitioned) else leaf.unbox()
            return leaf.replace_boxed(fn(path, inner))
        return fn(path, leaf)

    return jax.tree_util.tree_map_with_path(visit, tree, is_leaf=meta.is_axis_metadata)


def _stem(layer: Module, key_path) -> str:
    return norm_spec.variable_stem(layer.name, [k.key for k in key_path])


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
    >>> from nnjax.layers.weight_normalization import SpectralNorm
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
        stem = _stem(self.layer_instance, path)
        norm_spec.check_matrix(stem, value.ndim, self.error_on_non_matrix)
        if value.ndim > 2:
            value = jnp.reshape(value, (-1, value.shape[-1]))

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
    >>> from nnjax.layers.weight_normalization import WeightNorm
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
        stem = _stem(self.layer_instance, path)
        if not norm_spec.selected(stem, self.variable_filter):
            return value
        feature_axes, reduction_axes = norm_spec.weight_norm_axes(value.ndim, self.feature_axes)
        feature_shape, param_shape = norm_spec.feature_shapes(value.shape, feature_axes)

        value_bar = _l2_normalize(value, axis=reduction_axes, eps=self.epsilon)
        args = [leaf]
        if self.use_scale:
            scale = self.param(stem + "/scale", self.scale_init, param_shape, self.param_dtype).reshape(feature_shape)
            value_bar = value_bar * scale
            args.append(scale)
        return jnp.asarray(value_bar, canonicalize_dtype(*args, dtype=self.dtype))
