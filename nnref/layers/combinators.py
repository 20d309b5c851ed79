"""Combinators: a module whose whole job is to call other modules in order.

A two-layer perceptron as a chain. Only the two Dense layers own
parameters, so only positions 0 and 2 appear in the tree:

>>> import nnref as nn
>>> from nnref.layers.combinators import Sequential
>>> mlp = Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
>>> params = mlp.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))['params']
>>> list(params)
['layers_0', 'layers_2']
>>> mlp.apply({'params': params}, nn.numpy.ones((5, 3))).shape  # 5 rows in, 5 rows out
(5, 2)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from nnref.module import Module, compact
from shared_spec import sequential


class Sequential(Module):
    """A pipeline: ``Sequential([f, g, h])(x)`` computes ``h(g(f(x)))``.

    The first layer receives whatever the call received. Between two layers
    the value is handed over by :func:`shared_spec.sequential.feed`: a tuple
    becomes several positional arguments, a dict becomes keyword arguments,
    any other value is one argument. So ``f`` may return ``(a, b)`` to call
    ``g(a, b)``. The result of the last layer is the result of the chain.

    Where the parameters land: a module that was built outside any parent
    (or in a parent's ``setup``) becomes a child of this Sequential, named
    after the field and its position (``layers_0``, ``layers_1``, ...).
    Functions such as ``relu`` hold no parameters and take a position but no
    name. A module built inside a parent's ``compact`` method already
    belongs to that parent and keeps the name it got there.

    Attributes:
      layers: the callables to chain, a non-empty list or tuple.

    >>> import nnref as nn
    >>> class Summary(nn.Module):  # returns a dict: the next layer gets keywords
    ...   def __call__(self, values):
    ...     return {'total': values.sum(), 'count': values.size}
    >>> class Mean(nn.Module):
    ...   def __call__(self, total, count):
    ...     return total / count
    >>> float(Sequential([Summary(), Mean()]).apply({}, nn.numpy.arange(5.0)))
    2.0
    """

    layers: Sequence[Callable[..., Any]]

    def __post_init__(self) -> None:
        sequential.check_layers_field(self.layers)  # refused before the members become children
        super().__post_init__()

    @compact
    def __call__(self, *args, **kwargs):
        """Calls each layer in turn on the previous one's output."""
        sequential.check_chain(self.layers, module=self, name=self.name)
        value = self.layers[0](*args, **kwargs)
        for step in self.layers[1:]:
            value = sequential.feed(step, value)
        return value
