"""``named_call``: label a method's operations with the module's name in traces and profiles.

The method's JAX operations are put under a name-stack entry
``<module name or class>[.<method>]`` (``__call__`` adds no suffix), so
they are grouped in profiles and lowered HLO. With ``force=False`` the
label is added only while ``nn.enable_named_call()`` is in effect. Calls
made while the module runs ``setup`` are not labelled.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Block(nn.Module):
...   @nn.transforms.named_call
...   @nn.compact
...   def __call__(self, x):
...     return jnp.sin(nn.Dense(2)(x))
>>> x = jnp.ones((1, 2))
>>> variables = Block(name='block').init(jax.random.PRNGKey(0), x)
>>> 'block' in jax.jit(Block(name='block').apply).lower(variables, x).as_text(debug_info=True)
True
"""

from __future__ import annotations

import functools
from typing import Callable

import jax

import nnjax.named_call as _flags


def profiling_name(module, fn) -> str:
    """``<module name or class name>`` plus ``.<method>`` unless the method is ``__call__``."""
    fn_name = getattr(fn, "__name__", "__call__")
    base = module.name or type(module).__name__
    return base if fn_name == "__call__" else f"{base}.{fn_name}"


def named_call(class_fn: Callable, force: bool = True) -> Callable:
    """``class_fn`` (a Module method) with its operations labelled by the module's name (see above)."""

    @functools.wraps(class_fn)
    def wrapped(self, *args, **kwargs):
        state = self.__dict__.get("_state")
        if (not force and not _flags.enabled) or (state is not None and state.in_setup):
            return class_fn(self, *args, **kwargs)
        return jax.named_call(class_fn, name=profiling_name(self, class_fn))(self, *args, **kwargs)

    return wrapped
