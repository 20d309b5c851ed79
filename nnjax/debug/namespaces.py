"""The names a model's code sees when it is run again on nnref.

A model written for nnjax reaches JAX through a handful of namespaces
(``jax``, ``jax.numpy``, ``jax.nn``, ``jax.lax``, ``jax.random``,
``jax.tree_util``) and reaches the library through ``nnjax`` and its
submodules. :func:`counterpart` answers, for each of those module objects,
the nnref object that plays its part; :func:`reverse_index` does the same
for the functions and classes they hold, by identity, so that a field such
as ``activation=jax.nn.gelu`` finds ``nnref``'s ``gelu``.

With ``widen=True`` (the default for :func:`nnjax.debug.compare`) the array
namespace turns every floating dtype name (``float16``, ``bfloat16``,
``float32``) into ``float64``, so that a model that casts explicitly still
runs entirely in float64 on the reference.
"""

from __future__ import annotations

import functools
import importlib
import types
import typing

import numpy as np

import nnref
import nnref.activation
import nnref.initializers
import nnref.numpy
import nnref.random
import nnref.tree_util

_NARROW_FLOATS = ('float16', 'bfloat16', 'float32')


def widen_dtype(dtype):
    """float16/bfloat16/float32 (any spelling) -> float64; other dtypes unchanged."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        return dtype
    if d.kind == 'f' or d.name == 'bfloat16':
        return np.float64
    if d.kind == 'c':
        return np.complex128
    return dtype


class _Namespace(types.ModuleType):
    """A module object that falls back to ``base`` and names what is missing."""

    def __init__(self, name: str, base, stands_for: str, **overrides):
        super().__init__(name)
        self.__dict__.update(overrides)
        self._base = base
        self._stands_for = stands_for

    def __getattr__(self, attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        base = self.__dict__['_base']
        if base is not None and hasattr(base, attr):
            return getattr(base, attr)
        raise AttributeError(
            f"nnref has no stand-in for `{self.__dict__['_stands_for']}.{attr}`, which the model's code "
            f"uses: nnjax.debug runs the model again on nnref, which implements the part of JAX that "
            f"model code commonly uses. Write this step with jax.numpy functions, or pass it in "
            f"as an array computed outside the model."
        )


def _pass_through(fn=None, *args, **kwargs):
    """``jax.jit``/``jax.checkpoint``-style decorators: eager NumPy needs neither."""
    if fn is None:
        return lambda f: f
    return fn


def _vmap(fun, in_axes=0, out_axes=0, axis_size=None, **_ignored):
    """``jax.vmap`` by a loop over the mapped axis, stacking the results (eager, for reading)."""
    tree = nnref.tree_util

    @functools.wraps(fun)
    def mapped(*args):
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        sizes = {np.shape(leaf)[ax] for a, ax in zip(args, axes) if ax is not None for leaf in tree.tree_leaves(a)}
        n = axis_size if axis_size is not None else sizes.pop()
        outs = []
        for i in range(n):
            sliced = [
                a if ax is None else tree.tree_map(lambda x, ax=ax, i=i: np.take(x, i, axis=ax), a)
                for a, ax in zip(args, axes)
            ]
            outs.append(fun(*sliced))
        return tree.tree_map(lambda *xs: np.stack(xs, axis=out_axes), *outs)

    return mapped


class _CustomDerivative:
    """``jax.custom_vjp``/``custom_jvp`` on nnref: the reference runs forward only, so the rules go unused."""

    def __init__(self, fun, nondiff_argnums=(), **_ignored):
        self.fun = fun
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd, bwd, symbolic_zeros=False):
        return None

    def defjvp(self, jvp, symbolic_zeros=False):
        return jvp

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)


@functools.lru_cache(maxsize=2)
def namespaces(widen: bool) -> dict:
    """Name of a JAX or nnjax module -> the nnref object standing for it."""
    lax = importlib.import_module('nnref.lax')
    numpy = nnref.numpy
    if widen:
        numpy = _Namespace(
            'jax.numpy (nnref, float64)', nnref.numpy, 'jax.numpy', **{name: np.float64 for name in _NARROW_FLOATS}
        )
    initializers = _Namespace(
        'jax.nn.initializers (nnref)', nnref.initializers, 'jax.nn.initializers', Initializer=typing.Callable
    )
    attention = importlib.import_module('nnref.jax_nn_attention')
    nn = _Namespace(
        'jax.nn (nnref)',
        nnref.activation,
        'jax.nn',
        initializers=initializers,
        dot_product_attention=attention.dot_product_attention,
    )
    jax = _Namespace(
        'jax (nnref)',
        None,
        'jax',
        numpy=numpy,
        nn=nn,
        lax=lax,
        random=nnref.random,
        tree_util=nnref.tree_util,
        Array=np.ndarray,
        jit=_pass_through,
        checkpoint=_pass_through,
        remat=_pass_through,
        named_call=_pass_through,
        vmap=_vmap,
        custom_vjp=_CustomDerivative,
        custom_jvp=_CustomDerivative,
    )
    return {
        'jax': jax,
        'jax.numpy': numpy,
        'jax.nn': nn,
        'jax.nn.initializers': initializers,
        'jax.lax': lax,
        'jax.random': nnref.random,
        'jax.tree_util': nnref.tree_util,
        'nnjax': nnref,
        'nnjax.initializers': initializers,
        'nnjax.activation': nnref.activation,
    }


def counterpart(module: types.ModuleType, widen: bool):
    """The nnref stand-in for a JAX or nnjax module object, or ``None`` for any other module."""
    name = module.__name__
    table = namespaces(widen)
    if name in table:
        return table[name]
    if name.startswith('nnjax.'):
        try:
            return importlib.import_module('nnref.' + name[len('nnjax.') :])
        except ImportError:
            return None
    return None


def reverse_index(widen: bool) -> dict:
    """``id(obj) -> (obj, stand-in)`` for the public functions, classes and dtypes of JAX/nnjax modules.

    Built anew for each rebuild (a few milliseconds): a cached index would
    keep whatever object a name held when it was first built.
    """
    import jax  # noqa: F401  (the modules below are its submodules)

    index = {}
    for name, target in namespaces(widen).items():
        source = importlib.import_module(name)
        for attr in dir(source):
            if attr.startswith('_'):
                continue
            obj = getattr(source, attr)
            if isinstance(obj, types.ModuleType) or id(obj) in index:
                continue
            try:
                stand_in = getattr(target, attr)
            except AttributeError:
                continue
            index[id(obj)] = (obj, stand_in)
    return index
