"""``nn.map_variables`` in nnref: run a module on a *transformed view* of its variables.

The module never sees the stored arrays themselves, only what
``trans_in_fn`` makes of them (a masked kernel, a tied weight, ...). When
it may write (``init=True`` or ``mutable=True``), what it wrote goes
through ``trans_out_fn`` on its way back into storage; otherwise the mapped
collections are read-only inside. In lifting terms (:mod:`nnref.lift`):
two variable groups -- the mapped collections and the rest -- and the
"transform" of stage 3 is simply ``trans_in_fn`` on the first group.

One call, in order:

1. split the visible variables into *mapped* (``mapped_collections``) and
   *rest* (the other collections ``variables`` lets in);
2. with ``init=True``, first run the module on the stored, unmapped form so
   it can create what is missing, and take what it created as the stored
   form (passed through ``trans_out_fn``);
3. build the view: ``trans_in_fn`` of the mapped group, the rest as is;
4. run the module on the view;
5. on the way out, the mapped group goes through ``trans_out_fn`` (only when
   writes may go back) and both groups are committed.

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


def _identity(tree):
    """The default of both functions: the view is the stored value itself."""
    return tree


def _each(function: Callable, groups: tuple) -> tuple:
    """``function`` applied to each lifted root's ``{collection: subtree}`` of one group."""
    return tuple(function(per_root) for per_root in groups)


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
    """The scope-level form: the returned function calls ``fn`` on scopes holding the mapped view (steps 1-5)."""
    writes_go_back = bool(mutable or init)
    # Step 1. Group 0 is the mapped collections, group 1 every other visible
    # collection (the first filter that matches wins, so a mapped collection
    # never lands in group 1).
    in_filters = (mapped_collections, variables)
    if writes_go_back:
        out_filters = in_filters
    else:
        # Nothing of group 0 comes back; group 1 comes back minus the mapped names.
        out_filters = (False, subtract_filters(variables, mapped_collections))
    # Inside, the mapped collections are read-only unless writes may go back.
    writable_inside = True if writes_go_back else subtract_filters(True, mapped_collections)

    def run_on_view(scopes, *args, **kwargs):
        lift = Lift(scopes, in_filters, out_filters, (rngs,))
        stored, rest = lift.variable_groups
        if init:  # step 2: creation has to happen on the stored form
            unmapped_scopes = lift.scopes((stored, rest), lift.rng_groups)
            if any(scope.frame.mutable is not False for scope in unmapped_scopes):
                fn(unmapped_scopes, *args, **kwargs)
                created, _ = lift.repack(unmapped_scopes)
                stored = _each(trans_out_fn, created)
        view = _each(trans_in_fn, stored)  # step 3
        view_scopes = lift.scopes((view, rest), lift.rng_groups, mutable_filter=writable_inside)
        result = fn(view_scopes, *args, **kwargs)  # step 4
        wrote_mapped, wrote_rest = lift.repack(view_scopes)  # step 5
        if writes_go_back:
            wrote_mapped = _each(trans_out_fn, wrote_mapped)
        lift.publish((wrote_mapped, wrote_rest))
        return result

    return run_on_view


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
    """``target`` (a Module class, or a function whose first argument is a module) on a mapped view.

    Each of the two functions receives one dict ``collection -> variables``
    for one lifted module and returns a dict of the same shape:
    ``trans_in_fn`` what the module reads, ``trans_out_fn`` what is stored
    of what it wrote. ``init`` and ``mutable`` decide whether anything is
    written back (steps 2 and 5 of the module docstring); ``rngs`` and
    ``variables`` are filters of the streams and of the other collections
    the module can see (by default, all of them).
    """
    # Every option except ``target`` and ``methods`` is for the scope-level form.
    core_options = dict(mapped_collections=mapped_collections, trans_in_fn=trans_in_fn, trans_out_fn=trans_out_fn)
    core_options.update(init=init, mutable=mutable, rngs=rngs, variables=variables)
    return lift_transform("map_variables", map_variables_core, target, methods=methods, **core_options)
