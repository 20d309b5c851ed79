"""``Variable``: a named slot in one collection of one scope.

``self.variable(col, name, init_fn, ...)`` returns one of these. Reading
``.value`` looks the current value up in the scope; assigning ``.value``
writes it back, which is only allowed when ``col`` is mutable in this call
(``ModifyScopeVariableError`` otherwise).

>>> import nnref as nn
>>> class Counter(nn.Module):
...   @nn.compact
...   def __call__(self):
...     count = self.variable('counter', 'count', lambda: 0)
...     count.value += 1
...     return count.value
>>> Counter().apply({'counter': {'count': 41}}, mutable=['counter'])
(42, {'counter': {'count': 42}})
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnref import meta


class Variable:
    """A reference to variable ``name`` of collection ``collection`` in ``scope``."""

    __slots__ = ("scope", "collection", "name", "unbox")

    def __init__(self, scope, collection: str, name: str, unbox: bool = True):
        self.scope = scope
        self.collection = collection
        self.name = name
        self.unbox = unbox  # read through AxisMetadata boxes (nn.Partitioned, ...) and keep them on write

    @property
    def value(self) -> Any:
        value = self.scope.get_variable(self.collection, self.name)
        if self.unbox and not isinstance(value, np.ndarray):  # arrays, the common case, hold no box
            value = meta.unbox(value)
        return value

    @value.setter
    def value(self, new_value: Any) -> None:
        if self.unbox:
            current = self.scope.get_variable(self.collection, self.name)
            if meta.is_axis_metadata(current):
                new_value = current.replace_boxed(new_value)
        self.scope.put_variable(self.collection, self.name, new_value)

    def check_shape(self, shape) -> "Variable":
        """Raises unless the stored value is an array of ``shape``; returns this variable.

        For state whose shape a layer knows, such as BatchNorm's statistics
        (``feature_shape``): a value of another shape, given to ``apply``,
        would otherwise broadcast silently or fail deep inside the layer.
        ``init_fn`` is not consulted: for a cache, say, the shape at creation
        may differ from the shape of later calls on purpose. Names the module
        path, collection and variable (``ValueError``; ``TypeError`` for
        ``None`` or text).

        >>> import nnref as nn
        >>> class Stats(nn.Module):
        ...   @nn.compact
        ...   def __call__(self, x):
        ...     mean = self.variable('batch_stats', 'mean', lambda: nn.numpy.zeros(3)).check_shape((3,))
        ...     return x - mean.value
        >>> Stats().apply({'batch_stats': {'mean': nn.numpy.zeros(4)}}, nn.numpy.ones(3))
        Traceback (most recent call last):
        ValueError: Variable 'mean' in collection 'batch_stats' at module path '/' has shape (4,) but this layer needs (3,). Fix: apply() the variables that init() made for a model of the same configuration, or init() again.
        """
        self.scope.check_variable_shape(self.collection, self.name, shape)
        return self

    def is_mutable(self) -> bool:
        """True if this call may assign ``.value``."""
        return self.scope.is_mutable_collection(self.collection)

    def __repr__(self) -> str:
        return f"Variable({self.scope.path_text}, collection={self.collection!r}, name={self.name!r})"
