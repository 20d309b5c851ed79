"""The nnref twin of one nnjax call: the module, variables, inputs and rngs translated, ready to apply.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> model = nn.Dense(2)
>>> variables = model.init(jax.random.key(0), jnp.ones((1, 3)))
>>> twin = Twin(model, variables, (jnp.ones((1, 3)),), {}, rngs=None, method=None)
>>> twin.apply().dtype  # the reference computes in float64
dtype('float64')
"""

from __future__ import annotations

import contextlib

import nnref
from nnjax.debug.rebuild import Rebuilder, RebuildError


class ReferenceRunError(RuntimeError):
    """The model's code failed when run again on nnref (an operation nnref lacks, JAX-only array API)."""


class Twin:
    """The nnref side of ``module.apply(variables, *args, rngs=..., method=..., **kwargs)``."""

    def __init__(
        self, module, variables, args: tuple, kwargs: dict, *, rngs, method, mutable=False, widen: bool = True
    ):
        self.rebuilder = Rebuilder(widen=widen)
        self.module = self.rebuilder.module(module)
        self.variables = self.rebuilder.value(_plain(variables))
        self.args = self.rebuilder.value(tuple(args))
        self.kwargs = self.rebuilder.value(dict(kwargs))
        self.rngs = self.rebuilder.value(rngs)
        self.method = self._method(method)
        self.mutable = mutable

    def _method(self, method):
        if method is None or isinstance(method, str):
            return method
        name = getattr(method, '__name__', None)
        owner = getattr(method, '__qualname__', '').rsplit('.', 1)[0]
        if name and owner == type(self.module).__qualname__ and hasattr(type(self.module), name):
            return name  # Model.encode: the same method of the twin class
        return self.rebuilder.value(method)  # a function of the module, translated

    def apply(self, variables=None, interceptor=None):
        """Runs the twin (through ``interceptor``, an nnref method interceptor, when given)."""
        variables = self.variables if variables is None else variables
        context = nnref.intercept_methods(interceptor) if interceptor else contextlib.nullcontext()
        try:
            with context:
                return self.module.apply(
                    variables, *self.args, rngs=self.rngs, method=self.method, mutable=self.mutable, **self.kwargs
                )
        except (RebuildError, ReferenceRunError):
            raise
        except Exception as e:
            where = _innermost_path(interceptor)
            raise ReferenceRunError(
                f"Running the model again on nnref failed{where}: {type(e).__name__}: {e}. nnjax.debug "
                f"runs the model's own code with nnref's NumPy stand-ins for jax.numpy, jax.nn, jax.lax "
                f"and jax.random; JAX-only array methods such as `x.at[...]` have no NumPy equivalent "
                f"(use jnp.where or the lax stand-ins)."
            ) from e


def _plain(variables):
    """FrozenDicts and dicts alike as plain dicts (the twin copies everything anyway)."""
    if hasattr(variables, 'items') and not hasattr(variables, 'shape'):
        return {k: _plain(v) for k, v in variables.items()}
    return variables


def _innermost_path(recorder) -> str:
    failed_at = getattr(recorder, 'failed_at', None)
    if failed_at:
        path, method, kind, _ = failed_at
        return f" in {path} ({kind}.{method})"
    return ''
