"""Combinators: modules built from other modules.

>>> import jax
>>> import nnjax as nn
>>> from nnjax.layers.combinators import Sequential
>>> model = Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
>>> x = jax.numpy.ones((1, 3))
>>> variables = model.init(jax.random.PRNGKey(0), x)
>>> sorted(variables['params'])
['layers_0', 'layers_2']
>>> model.apply(variables, x).shape
(1, 2)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from nnjax.module import Module, compact
from shared_spec import sequential


class Sequential(Module):
    """Applies ``layers`` one after the other, each to the previous one's output.

    The first layer gets the call's arguments. After that, a tuple output is
    spread as positional arguments of the next layer, a dict output as its
    keyword arguments, anything else is passed as the single argument. The
    last layer's output is returned. Layers may be modules or plain
    functions (activations). Modules built outside any module (or in a
    parent's ``setup``) are adopted under the field's name: ``layers_0``,
    ``layers_1``, ... by their position in the list; modules built inside a
    parent's ``compact`` method already belong to that parent and keep its
    auto-names.

    Attributes:
      layers: the sequence of callables to chain (must not be empty).

    >>> import jax.numpy as jnp
    >>> import nnjax as nn
    >>> class Pair(nn.Module):
    ...   def __call__(self, x):
    ...     return x, 2 * x
    >>> class Add(nn.Module):
    ...   def __call__(self, a, b):
    ...     return a + b
    >>> Sequential([Pair(), Add()]).apply({}, jnp.ones(2))
    Array([3., 3.], dtype=float32)
    """

    layers: Sequence[Callable[..., Any]]

    def __post_init__(self) -> None:
        sequential.check_layers_field(self.layers)  # before the members are adopted
        super().__post_init__()

    @compact
    def __call__(self, *args, **kwargs):
        """Runs the chain on ``args``/``kwargs`` (see the class docstring for how outputs feed inputs)."""
        sequential.check_chain(self.layers, module=self, name=self.name)
        first, *rest = self.layers
        outputs = first(*args, **kwargs)
        for layer in rest:
            outputs = sequential.feed(layer, outputs)
        return outputs
