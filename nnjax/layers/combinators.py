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

from collections.abc import Sequence as _SequenceABC
from typing import Any, Callable, Sequence

from nnjax.module import Module, compact
from shared_spec import layer_args


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
        # Checked before the modules in ``layers`` are adopted as children.
        if not isinstance(self.layers, _SequenceABC) or isinstance(self.layers, str):
            raise ValueError(
                f"Sequential: 'layers' must be a sequence (list or tuple) of modules or functions, "
                f"got {type(self.layers).__name__!r}. Fix: pass Sequential([layer1, layer2, ...])."
            )
        super().__post_init__()

    @compact
    def __call__(self, *args, **kwargs):
        """Runs the chain on ``args``/``kwargs`` (see the class docstring for how outputs feed inputs)."""
        if not self.layers:
            raise ValueError(f"Sequential: empty 'layers' in module {self.name!r}. Fix: give it at least one layer.")
        layer_args.callable_members(self.layers, field="layers", layer=self)
        outputs = self.layers[0](*args, **kwargs)
        for layer in self.layers[1:]:
            if isinstance(outputs, tuple):
                outputs = layer(*outputs)
            elif isinstance(outputs, dict):
                outputs = layer(**outputs)
            else:
                outputs = layer(outputs)
        return outputs
