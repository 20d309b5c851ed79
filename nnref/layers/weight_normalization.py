"""Weight normalization wrappers: SpectralNorm and WeightNorm rescale another layer's weights.

Unlike the statistics layers, these do not touch activations. They wrap a
layer (``layer_instance``), take its parameters, replace each chosen weight
``W`` by a normalized copy, and run the layer on the copies:

* WeightNorm: ``W_hat = scale * W / ||W||``, the norm taken over every axis
  but the feature axes, so each output feature's weight vector has length
  ``scale`` (decoupling a weight's direction from its magnitude);
* SpectralNorm: ``W_hat = W / sigma(W)``, with ``sigma`` the largest
  singular value, so the layer stretches no input by more than a factor 1.

The wrapped layer's own parameters stay as stored; ``init`` returns the
normalized ones, as the seed does. The wrappers' extra variables are named
after the weight they serve (``'<layer>/<path>/...'``, the rule of
:mod:`shared_spec.normalization`).

>>> import nnref as nn
>>> from nnref.layers.weight_normalization import WeightNorm
>>> import numpy as np
>>> dense = WeightNorm(nn.Dense(3, use_bias=False), use_scale=False)
>>> basis = np.eye(4, dtype=np.float32)  # row i picks row i of the kernel
>>> W_hat = dense.apply(dense.init(nn.random.PRNGKey(0), basis), basis)
>>> np.linalg.norm(W_hat, axis=0).round(4).tolist()  # each output unit's weights: a unit vector
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Callable, Optional

import numpy as np

from nnref import initializers, meta
from nnref import random as nrandom
from nnref.dtypes import canonicalize_dtype, result_type
from nnref.layers._map_variables import call_on_mapped_variables
from nnref.module import Module, compact
from shared_spec import normalization as norm_spec


def _jax_op(op, a, b):
    """``op(a, b)`` with both operands cast to JAX's result dtype first (NumPy would promote differently)."""
    dtype = result_type(a, b)
    return op(np.asarray(a).astype(dtype, copy=False), np.asarray(b).astype(dtype, copy=False))


def _unit(v, axis=None, eps: float = 1e-12):
    """``v / sqrt(sum(v^2) + eps)``: ``v`` scaled to length 1 (over ``axis``; None: all of ``v``)."""
    v = np.asarray(v)
    squared_length = np.sum(v * v, axis=axis, keepdims=True).astype(v.dtype)
    return (v * (1 / np.sqrt(squared_length + eps)).astype(v.dtype)).astype(v.dtype)


def _for_each_weight(fn: Callable, tree, path: tuple = ()):
    """``fn(path, weight)`` on every leaf of a dict tree, keys in sorted order (the order JAX visits dicts)."""
    if isinstance(tree, dict):
        return {key: _for_each_weight(fn, tree[key], path + (key,)) for key in sorted(tree)}
    if meta.is_axis_metadata(tree):  # a boxed weight (with_partitioning): normalize the value, keep the box
        inner = tree.unbox(apply_constraint=False) if isinstance(tree, meta.Partitioned) else tree.unbox()
        return tree.replace_boxed(fn(path, inner))
    return fn(path, tree)


class SpectralNorm(Module):
    """Spectral normalization (https://arxiv.org/abs/1802.05957): each matrix divided by its largest singular value.

    ``sigma(W) = max ||W v|| / ||v||`` would need a full SVD; power
    iteration estimates it cheaply, and across training steps the estimate
    keeps improving because the vector ``u`` is stored and reused:

    1. weights of rank 0 or 1 pass unchanged; higher ranks are read as
       matrices ``(-1, last_dim)`` (or refused with ``error_on_non_matrix``);
    2. ``n_steps`` times: ``v = unit(u W^T)``, ``u = unit(v W)``;
    3. ``sigma = v W u^T`` and ``W_hat = W / sigma`` (``W`` itself if
       ``sigma`` is 0), reshaped back.

    ``u`` (shape ``(1, last_dim)``, standard normal when created, one draw
    from the 'params' stream) and ``sigma`` (ones at first) are variables
    of ``collection_name`` called ``'<layer>/<weight path>/u'`` and
    ``'.../sigma'``. With ``update_stats=True`` the call stores this step's
    ``u`` and ``sigma`` (the collection must be mutable).

    Attributes:
      layer_instance: the wrapped module.
      n_steps: power-iteration steps per call (default 1; 0 leaves ``W`` as is).
      epsilon: added under the square roots of ``unit`` (default 1e-12).
      dtype: the dtype of ``W_hat`` (None: inferred).
      param_dtype: the dtype of ``u`` and ``sigma`` (default float32).
      error_on_non_matrix: refuse weights of rank > 2 instead of flattening them.
      collection_name: the collection of ``u`` and ``sigma`` (default 'batch_stats').

    >>> import nnref as nn
    >>> from nnref.layers.normalization import SpectralNorm
    >>> layer = SpectralNorm(nn.Dense(4))
    >>> x = nn.numpy.ones((1, 3))
    >>> variables = layer.init(nn.random.PRNGKey(0), x, update_stats=False)
    >>> {name: v.shape for name, v in variables['batch_stats'].items()}  # the kernel's u and sigma
    {'layer_instance/kernel/u': (1, 4), 'layer_instance/kernel/sigma': ()}
    >>> y, updated = layer.apply(variables, x, update_stats=True, mutable=['batch_stats'])
    >>> y.shape
    (1, 4)
    """

    layer_instance: Module
    n_steps: int = 1
    epsilon: float = 1e-12
    dtype: Any = None
    param_dtype: Any = np.float32
    error_on_non_matrix: bool = False
    collection_name: str = "batch_stats"

    @compact
    def __call__(self, *args, update_stats: bool, **kwargs):
        def run(layer):
            return layer(*args, **kwargs)

        def normalized(variables):
            return _for_each_weight(lambda path, w: self._divide_by_sigma(path, w, update_stats), variables)

        # mutable: the call may write u and sigma.
        initializing = self.is_initializing()
        return call_on_mapped_variables(self.layer_instance, run, normalized, init=initializing, mutable=True)

    def _divide_by_sigma(self, path: tuple, weight, update_stats: bool):
        W = np.asarray(weight)
        original_shape = W.shape
        if W.ndim <= 1 or self.n_steps < 1:
            return W
        stem = norm_spec.variable_stem(self.layer_instance.name, path)
        norm_spec.check_matrix(stem, W.ndim, self.error_on_non_matrix)
        if W.ndim > 2:
            W = W.reshape(-1, W.shape[-1])

        # A key is drawn only when u is created, so the 'params' stream moves only then (as in the seed).
        creating = not self.has_variable(self.collection_name, stem + "/u")
        key = self.make_rng("params") if creating else None
        u_var = self.variable(
            self.collection_name, stem + "/u", nrandom.normal, key, (1, W.shape[-1]), self.param_dtype
        )
        sigma_var = self.variable(self.collection_name, stem + "/sigma", np.ones, (), self.param_dtype)

        u = np.asarray(u_var.value)
        for _ in range(self.n_steps):
            v = _unit(_jax_op(np.matmul, u, W.T), eps=self.epsilon)
            u = _unit(_jax_op(np.matmul, v, W), eps=self.epsilon)
        sigma = _jax_op(np.matmul, _jax_op(np.matmul, v, W), u.T)[0, 0]
        safe_sigma = np.where(sigma != 0, sigma, np.ones_like(sigma))
        W_hat = _jax_op(np.divide, W, safe_sigma).reshape(original_shape)
        if update_stats:
            u_var.value = u
            sigma_var.value = sigma
        out_dtype = canonicalize_dtype(weight, u, v, sigma, dtype=self.dtype)
        return W_hat.astype(out_dtype, copy=False)


class WeightNorm(Module):
    """Weight normalization (https://arxiv.org/abs/1602.07868): ``W_hat = scale * W / ||W||``.

    For a Dense kernel ``(in, out)`` with ``feature_axes=-1`` the norm runs
    over the ``in`` axis, so every output unit's weight vector becomes a unit
    vector times its own learned ``scale``. The steps for each weight:

    1. skip it unless its ``'<layer>/<path>'`` contains one of the
       ``variable_filter`` strings (an empty or None filter takes all);
    2. ``unit``: divide by ``sqrt(sum(W^2) + epsilon)`` over the non-feature
       axes (all axes when ``feature_axes`` is None);
    3. with ``use_scale``, multiply by the parameter
       ``'<layer>/<weight path>/scale'`` of this module, shaped like the
       feature axes.

    Attributes:
      layer_instance: the wrapped module.
      epsilon: added under the square root (default 1e-12).
      dtype: the dtype of ``W_hat`` (None: inferred).
      param_dtype: the dtype of ``scale`` (default float32).
      use_scale: learn ``scale`` (default True); scale_init: ones.
      feature_axes: the axes kept apart by the norm (default -1), or None.
      variable_filter: substrings that pick the weights (default ``{'kernel'}``).

    >>> import nnref as nn
    >>> from nnref.layers.normalization import WeightNorm
    >>> variables = WeightNorm(nn.Dense(2)).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))
    >>> sorted(variables['params'])  # the Dense's own parameters, and one scale per output unit
    ['layer_instance', 'layer_instance/kernel/scale']
    >>> variables['params']['layer_instance/kernel/scale'].shape
    (2,)
    """

    layer_instance: Module
    epsilon: float = 1e-12
    dtype: Any = None
    param_dtype: Any = np.float32
    use_scale: bool = True
    scale_init: Callable = initializers.ones
    feature_axes: Any = -1
    variable_filter: Optional[Iterable] = dataclasses.field(default_factory=lambda: {"kernel"})

    @compact
    def __call__(self, *args, **kwargs):
        def run(layer):
            return layer(*args, **kwargs)

        def normalized(variables):
            return _for_each_weight(self._rescale, variables)

        initializing = self.is_initializing()
        return call_on_mapped_variables(self.layer_instance, run, normalized, init=initializing, mutable=False)

    def _rescale(self, path: tuple, weight):
        W = np.asarray(weight)
        stem = norm_spec.variable_stem(self.layer_instance.name, path)
        if not norm_spec.selected(stem, self.variable_filter):
            return W
        feature_axes, norm_axes = norm_spec.weight_norm_axes(W.ndim, self.feature_axes)
        broadcast_shape, scale_shape = norm_spec.feature_shapes(W.shape, feature_axes)
        W_hat = _unit(W, axis=norm_axes, eps=self.epsilon)
        inferred_from = [weight]
        if self.use_scale:
            scale = self.param(stem + "/scale", self.scale_init, scale_shape, self.param_dtype)
            scale = np.reshape(scale, broadcast_shape)
            W_hat = _jax_op(np.multiply, W_hat, scale)
            inferred_from.append(scale)
        return W_hat.astype(canonicalize_dtype(*inferred_from, dtype=self.dtype), copy=False)
