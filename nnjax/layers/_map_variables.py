"""Run a bound layer on a transformed view of its own variables.

``SpectralNorm`` and ``WeightNorm`` wrap a layer and let it compute with
rewritten weights while the stored weights stay the layer's own. The seed
system does this with its ``map_variables`` lifted transform; this is that
transform's behaviour for one bound module, which is all the wrappers need:

1. at ``init``, the layer runs once as usual, so that its variables exist;
2. ``map_in_fn`` maps ``{collection: subtree}`` of the layer's variables;
3. the layer runs again on a private scope at the same path that holds the
   mapped variables (same RNG streams and counters, so keys do not change);
4. when the view is writable (``init``, or ``mutable=True``), what the second
   run left in the collections the caller made mutable is written back.
   Like the seed, this stores the *mapped* weights during ``init``.

Everything here is trace-time Python, so it composes with ``jax.jit``.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Twice(nn.Module):
...   layer: nn.Module
...   @nn.compact
...   def __call__(self, x):
...     double = lambda vs: jax.tree_util.tree_map(lambda a: 2 * a, vs)
...     return call_on_mapped_variables(self.layer, lambda m: m(x), double, init=False, mutable=False)
>>> variables = {'params': {'layer': {'kernel': jnp.ones((1, 1)), 'bias': jnp.zeros((1,))}}}
>>> Twice(nn.Dense(1)).apply(variables, jnp.ones((1, 1)))
Array([[2.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Callable

from nnjax.scope import Frame, Scope, copy_structure


def _filter_is_empty(col_filter) -> bool:
    return col_filter is False or (isinstance(col_filter, (list, tuple, set, frozenset)) and not col_filter)


def _nest_at(path: tuple, tree: dict) -> dict:
    """``tree`` placed at ``path`` inside empty parent dicts."""
    for name in reversed(path):
        tree = {name: tree}
    return tree


def call_on_mapped_variables(layer, fn: Callable, map_in_fn: Callable, *, init: bool, mutable: bool) -> Any:
    """``fn(view)`` where ``view`` is ``layer`` bound to ``map_in_fn(layer's variables)``.

    ``layer`` must be bound; ``init`` says whether the layer may first create
    its variables; ``mutable`` whether the view's writes (beyond init) reach
    the caller's collections.
    """
    scope = layer.scope
    writable = init or mutable
    if init and not _filter_is_empty(scope.frame.mutable):
        fn(layer)  # creates the layer's variables; the output is not used
    mapped = map_in_fn(scope.variables())
    view_mutable = scope.frame.mutable if writable else False
    nested = {col: _nest_at(scope.path, copy_structure(tree)) for col, tree in mapped.items()}
    # Shares the layer's RNG streams and counters: a key drawn in the view is
    # the key the layer itself would have drawn.
    view_scope = Scope(Frame(nested, view_mutable, scope.frame.flags), scope.path, scope.rngs, scope.rng_counters)
    try:
        y = fn(layer.clone(parent=view_scope))
        results = view_scope.variables()
    finally:
        view_scope.invalidate()
    if writable:
        for col, tree in results.items():
            if scope.is_mutable_collection(col):
                for name, value in tree.items():
                    scope.put_variable(col, name, value)
    return y
