"""Run a bound layer on a transformed view of its own variables.

``SpectralNorm`` and ``WeightNorm`` wrap a layer and let it compute with
rewritten weights (divided by a singular value, l2-normalized) while the
stored weights stay the layer's own. The seed system does this with its
``map_variables`` lifted transform; this is that transform's behaviour for
one bound module, which is all the wrappers need:

1. at ``init``, the layer runs once as usual, so that its variables exist;
2. ``map_in_fn`` maps ``{collection: subtree}`` of the layer's variables;
3. the layer runs again on a private scope at the same path that holds the
   mapped variables (same RNG streams and counters, so keys do not change);
4. when the view is writable (``init``, or ``mutable=True``), what the second
   run left in the collections the caller made mutable is written back.
   Like the seed, this stores the *mapped* weights during ``init``.

>>> import nnref as nn
>>> class Twice(nn.Module):
...   layer: nn.Module
...   @nn.compact
...   def __call__(self, x):
...     double = lambda vs: nn.tree_util.tree_map(lambda a: 2 * a, vs)
...     return call_on_mapped_variables(self.layer, lambda m: m(x), double, init=False, mutable=False)
>>> variables = {'params': {'layer': {'kernel': nn.numpy.ones((1, 1)), 'bias': nn.numpy.zeros((1,))}}}
>>> Twice(nn.Dense(1)).apply(variables, nn.numpy.ones((1, 1)))
array([[2.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Callable

from nnref.scope import Frame, Scope, private_copy


def _selects_nothing(col_filter) -> bool:
    """True for the filters that select no collection: ``False`` and an empty container."""
    if col_filter is False:
        return True
    return isinstance(col_filter, (list, tuple, set, frozenset)) and len(col_filter) == 0


def _at_path(path: tuple, tree: dict) -> dict:
    """``tree`` wrapped in one dict per path name: ``_at_path(('a', 'b'), t) == {'a': {'b': t}}``."""
    nested = tree
    for name in path[::-1]:
        nested = {name: nested}
    return nested


def call_on_mapped_variables(layer, fn: Callable, map_in_fn: Callable, *, init: bool, mutable: bool) -> Any:
    """Returns ``fn(view)``: ``view`` is a clone of the bound ``layer`` that reads ``map_in_fn(its variables)``.

    ``init``: the layer may create its variables first (step 1 of the module
    docstring); ``mutable``: what the view writes reaches the caller's
    mutable collections (step 4) even outside init.
    """
    scope = layer.scope
    # Step 1: a normal run creates whatever is missing; its output is thrown away.
    if init and not _selects_nothing(scope.frame.mutable):
        fn(layer)
    # Step 2: the mapped copy of the layer's variables, re-nested at the layer's path.
    mapped = map_in_fn(scope.variables())
    view_variables = {col: _at_path(scope.path, private_copy(subtree)) for col, subtree in mapped.items()}
    # Step 3: a private frame for the view. It shares the layer's RNG streams
    # and counters, so the view draws exactly the keys the layer would.
    can_write = init or mutable
    view_frame = Frame(view_variables, scope.frame.mutable if can_write else False, scope.frame.flags)
    view_scope = Scope(view_frame, scope.path, scope.rngs, scope.rng_counters)
    try:
        y = fn(layer.clone(parent=view_scope))
        written = view_scope.variables()
    finally:
        view_scope.invalidate()  # the view must not outlive this call
    # Step 4: copy back into the collections the caller lets us write.
    if can_write:
        for col, subtree in written.items():
            if not scope.is_mutable_collection(col):
                continue
            for name, value in subtree.items():
                scope.put_variable(col, name, value)
    return y
