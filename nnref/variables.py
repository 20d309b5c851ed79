"""``Variable``: a handle on one stored value, looked up each time it is read.

Module state lives in the scope, as nested dicts ``collection -> name ->
value``; ``self.variable(col, name, init_fn, ...)`` gives back a
:class:`Variable` that remembers *where* a value is (scope, collection,
name), not the value itself. So:

* reading ``v.value`` fetches what the scope holds now;
* assigning ``v.value = x`` stores ``x`` in the scope -- allowed only when
  ``col`` was made mutable for this ``apply`` (otherwise
  ``ModifyScopeVariableError``), which is how ``apply`` returns updated
  state without the module ever mutating its inputs.

>>> import numpy as np
>>> import nnref as nn
>>> class RunningSum(nn.Module):
...     @nn.compact
...     def __call__(self, x):
...         total = self.variable('state', 'total', lambda: np.zeros(()))
...         total.value = total.value + x.sum()     # read, add, write back
...         return total.value
>>> y, updates = RunningSum().apply({'state': {'total': np.float64(1.0)}}, np.ones(3), mutable=['state'])
>>> y, updates['state']['total']
(np.float64(4.0), np.float64(4.0))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnref import meta


class Variable:
    """Where one variable lives: ``scope``, ``collection`` and ``name``, plus whether to unbox it.

    With ``unbox`` (the default), a value stored inside a metadata box
    (``nn.Partitioned`` ...) is read as the bare array, and a write puts the
    new array back inside the same box, so the metadata survives updates.
    """

    __slots__ = ("scope", "collection", "name", "unbox")

    def __init__(self, scope, collection: str, name: str, unbox: bool = True):
        self.scope = scope
        self.collection = collection
        self.name = name
        self.unbox = unbox

    @property
    def value(self) -> Any:
        stored = self.scope.get_variable(self.collection, self.name)
        # A plain array cannot be a box: skip the tree walk in that common case.
        if not self.unbox or isinstance(stored, np.ndarray):
            return stored
        return meta.unbox(stored)

    @value.setter
    def value(self, new_value: Any) -> None:
        if self.unbox:
            # Keep the box (and its metadata) that is stored now; replace only what is inside.
            stored = self.scope.get_variable(self.collection, self.name)
            if meta.is_axis_metadata(stored):
                new_value = stored.replace_boxed(new_value)
        self.scope.put_variable(self.collection, self.name, new_value)

    def check_shape(self, shape) -> "Variable":
        """Fail early, with a clear message, if the stored value is not an array of ``shape``.

        A layer whose state has a known shape (a normalization's running
        mean has one entry per feature) calls this right after declaring the
        variable. Without it, state of the wrong shape passed to ``apply``
        could broadcast into a wrong answer instead of failing. The initial
        value is not looked at: only what is stored. The error is a
        ``ValueError`` naming the module path, collection and variable
        (``TypeError`` if the stored value is ``None`` or a string).
        Returns the variable, so the call can be chained.

        >>> import numpy as np
        >>> import nnref as nn
        >>> class Center(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, x):
        ...         mean = self.variable('stats', 'mean', np.zeros, x.shape[-1:]).check_shape(x.shape[-1:])
        ...         return x - mean.value
        >>> Center().apply({'stats': {'mean': np.zeros(2)}}, np.ones((1, 5)))
        Traceback (most recent call last):
        ValueError: Variable 'mean' in collection 'stats' at module path '/' has shape (2,) but this layer needs (5,). Fix: apply() the variables that init() made for a model of the same configuration, or init() again.
        """
        self.scope.check_variable_shape(self.collection, self.name, shape)
        return self

    def is_mutable(self) -> bool:
        """Whether assigning ``.value`` is allowed in the current call (its collection is mutable)."""
        return self.scope.is_mutable_collection(self.collection)

    def __repr__(self) -> str:
        return f"Variable({self.scope.path_text}, collection={self.collection!r}, name={self.name!r})"
