"""``nn.map_variables`` in nnref: run a module on a *transformed view* of its variables.

The module never sees the stored arrays themselves, only what
``trans_in_fn`` makes of them (a masked kernel, a tied weight, ...). When
it may write (``init=True`` or ``mutable=True``), what it wrote goes
through ``trans_out_fn`` on its way back into storage; otherwise the mapped
collections are read-only inside. In lifting terms (:mod:`nnref.lift`):
two variable groups -- the mapped collections and the rest -- and the
"transform" of stage 3 is simply ``trans_in_fn`` on the first group.

The smallest example: a Dense layer that computes with half its weights
while storing them unchanged (so ``y`` is exactly half of the plain layer's
output on the same variables).

>>> import numpy as np
>>> import nnref as nn
>>> def halve(variables):
...     return nn.tree_util.tree_map(lambda a: a / 2, variables)
>>> HalfDense = nn.map_variables(nn.Dense, 'params', trans_in_fn=halve)
>>> x = np.ones((1, 3), np.float32)
>>> variables = nn.Dense(2).init(nn.random.PRNGKey(0), x)
>>> y = HalfDense(2).apply(variables, x)
>>> bool(np.allclose(y, nn.Dense(2).apply(variables, x) / 2))
True
"""

from __future__ import annotations

from typing import Callable

from nnref.lift import Lift
from nnref.transforms.module_forms import lift_transform
from shared_spec.collection_filters import subtract_filters


def _identity(x):
    return x


def map_variables_core(
    fn: Callable,
    mapped_collections=True,
    trans_in_fn: Callable = _identity,
    trans_out_fn: Callable = _identity,
    init: bool = False,
    mutable: bool = False,
    rngs=True,
    variables=True,
):
    """The scope-level form: ``lifted(scopes, *args)`` calls ``fn`` on scopes that hold the mapped view."""
    may_write_mapped = bool(mutable or init)
    # Group 0: the mapped collections; group 1: every other visible collection
    # (first match wins, so a mapped collection never lands in group 1).
    in_filters = (mapped_collections, variables)
    if may_write_mapped:
        out_filters = in_filters
    else:  # nothing of group 0 comes back; group 1 comes back minus the mapped names
        out_filters = (False, subtract_filters(variables, mapped_collections))

    def lifted(scopes, *args, **kwargs):
        lift = Lift(scopes, in_filters, out_filters, (rngs,))
        mapped, rest = lift.variable_groups
        if init:
            # Creating variables must happen on the *stored* form: run fn once on
            # unmapped variables (it creates what is missing), then view the result.
            first = lift.scopes((mapped, rest), lift.rng_groups)
            can_create = any(scope.frame.mutable is not False for scope in first)
            if can_create:
                fn(first, *args, **kwargs)
                created, _ = lift.repack(first)
                mapped = tuple(trans_out_fn(group) for group in created)
        view = tuple(trans_in_fn(group) for group in mapped)
        # Read-only view unless writes may go back: then every collection stays writable.
        inside_mutable = True if may_write_mapped else subtract_filters(True, mapped_collections)
        inner = lift.scopes((view, rest), lift.rng_groups, mutable_filter=inside_mutable)
        y = fn(inner, *args, **kwargs)
        written_mapped, written_rest = lift.repack(inner)
        if may_write_mapped:
            written_mapped = tuple(trans_out_fn(group) for group in written_mapped)
        lift.publish((written_mapped, written_rest))
        return y

    return lifted


def map_variables(
    target,
    mapped_collections=True,
    trans_in_fn: Callable = _identity,
    trans_out_fn: Callable = _identity,
    init: bool = False,
    mutable: bool = False,
    rngs=True,
    variables=True,
    methods=None,
):
    """``target`` (a Module class or a function of a module) seeing ``mapped_collections`` through functions.

    Both functions take and return one dict ``collection -> variables``.
    ``init=True`` lets the module create its variables (stored unmapped)
    before the view is made; ``mutable=True`` lets it write the mapped
    collections, stored after ``trans_out_fn``. ``rngs`` and ``variables``
    filter the streams and the other collections visible inside (all by
    default). The module docstring has an example.
    """
    return lift_transform(
        "map_variables",
        map_variables_core,
        target,
        methods=methods,
        mapped_collections=mapped_collections,
        trans_in_fn=trans_in_fn,
        trans_out_fn=trans_out_fn,
        init=init,
        mutable=mutable,
        rngs=rngs,
        variables=variables,
    )
