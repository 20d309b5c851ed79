"""Logical axis names recorded next to the variables (the T5X-style API).

The idea: a weight matrix of shape ``(d_model, d_ff)`` is easier to shard by
*meaning* than by position, so model code names its dimensions
(``('embed', 'mlp')``) and a table of rules (:func:`axis_rules`) says which
device-mesh axis each name is split along. This module is the older way of
attaching such names, from before metadata boxes (:mod:`nnref.spmd`'s
``LogicallyPartitioned``). Instead of wrapping the array, it writes the
names into a *sibling collection*:

1. :func:`param_with_axes` creates ``params/<name>`` as ``module.param``
   does, then sows ``AxisMetadata(names)`` into ``params_axes/<name>_axes``;
   :func:`variable_with_axes` does the same for any collection ``c``
   (records in ``c_axes``);
2. after ``init``, :func:`get_axis_names` reads a ``*_axes`` collection back
   as a tree of ``PartitionSpec`` shaped like the variables;
3. :func:`logical_to_mesh` maps those specs through the rules to mesh axes.

A layer stacked by :func:`scan_with_axes` or :func:`vmap_with_axes` gains a
dimension in every variable, so its records gain a name at the same
position: the wrappers rewrite records as they leave the transform and undo
that as they enter it. :func:`remat` is ``nn.remat`` with the older
``static_argnums`` count. The naming and rewriting rules are shared with
``nnjax`` (:mod:`shared_spec.axes_records`).

nnref runs on one host, so a sharding constraint here computes its mesh spec
and returns the array unchanged: names and specs are the observable result.

>>> import numpy as np
>>> import nnref as nn
>>> from nnref import partitioning
>>> class Proj(nn.Module):
...     @nn.compact
...     def __call__(self, x):
...         w = partitioning.param_with_axes('w', nn.initializers.zeros_init(), (3, 6), axes=('embed', 'mlp'))
...         return x @ w
>>> variables = Proj().init(nn.random.PRNGKey(0), np.ones((1, 3)))
>>> sorted(variables)                                   # step 1: values and records
['params', 'params_axes']
>>> specs = partitioning.get_axis_names(variables['params_axes'])
>>> specs['w']                                          # step 2
PartitionSpec('embed', 'mlp')
>>> partitioning.logical_to_mesh(specs, (('mlp', 'model'),))['w']   # step 3
PartitionSpec(None, 'model')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from nnref import errors, tree_util
from nnref.meta import PartitionSpec
from nnref.module_context import current_module
from nnref.spmd import get_logical_axis_rules as get_axis_rules  # noqa: F401
from nnref.spmd import logical_axis_rules as axis_rules  # noqa: F401
from nnref.spmd import logical_to_mesh, logical_to_mesh_axes  # noqa: F401
from nnref.spmd import set_logical_axis_rules as set_axis_rules  # noqa: F401
from nnref.spmd import with_logical_constraint as with_sharding_constraint
from nnref.transforms.map_variables import map_variables
from nnref.transforms.module_forms import lift_transform
from nnref.transforms.remat import remat_core
from nnref.transforms.scan import scan
from nnref.transforms.vmap import vmap
from nnref.variables import Variable
from shared_spec import axes_records, logical_axes
from shared_spec.frozen_dict import FrozenDict
from shared_spec.in_out_axes import In as ScanIn  # noqa: F401
from shared_spec.in_out_axes import Out as ScanOut  # noqa: F401
from shared_spec.logical_axes import RulesFallback
from shared_spec.transform_args import _argnums
from shared_spec.type_aliases import (  # noqa: F401  (the seed's module exports these for annotations)
    Array,
    ArrayPytree,
    CollectionFilter,
    InOutScanAxis,
    LogicalPartitionSpec,
    LogicalPartitionSpecPytree,
    LogicalRules,
    PartitionSpecPytree,
    PRNGSequenceFilter,
)

__all__ = list(axes_records.PARTITIONING_API)


# --- step 1: recording the names -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AxisMetadata:
    """One variable's logical axis names: the record that sits in a ``*_axes`` collection.

    It carries names only, never the value (unlike the boxes of
    :mod:`nnref.meta`). For tree traversal it is a node with no children and
    the names as static data, so ``tree_map`` over a collection of records
    visits nothing inside them and the lifted transforms copy them whole.

    >>> from nnref import partitioning, tree_util
    >>> record = partitioning.AxisMetadata(('vocab', 'embed'))
    >>> tree_util.tree_leaves({'table_axes': record})
    []
    >>> record.replace(names=('embed',))
    AxisMetadata(names=('embed',))
    """

    names: Any

    def replace(self, **updates) -> 'AxisMetadata':
        return dataclasses.replace(self, **updates)

    # The tree_util hooks: no children, the names are the static part.
    def _tree_children(self):
        return (), self.names

    @classmethod
    def _tree_rebuild(cls, static, children):
        return cls(static)


def _record_axes(old, new):
    # A module called twice sows its record twice; both must say the same thing.
    return axes_records.check_resown(old, new, AxisMetadata)


def _current_module(module, what: str):
    """The module to declare the variable in: the one given, else the one whose method runs now."""
    module = current_module() if module is None else module
    if module is None:
        raise axes_records.no_module_error(what)
    return module


def param_with_axes(name: str, init_fn: Callable[..., Any], *init_args, axes=None, module=None, **init_kwargs):
    """Declare parameter ``name`` and record its logical ``axes``.

    Three steps: (1) ``module.param(name, init_fn, *init_args)`` gives the
    value; (2) the value passes :func:`with_sharding_constraint` with
    ``axes`` (which, on one host, only checks the names against the rules);
    (3) ``AxisMetadata(axes)`` is sown into ``params_axes`` under
    ``'<name>_axes'`` -- only where that collection is mutable, i.e. during
    ``init``; in ``apply`` the record is already there.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Bias(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         b = partitioning.param_with_axes('b', nn.initializers.zeros_init(), (x.shape[-1],), axes=['mlp'])
    ...         return x + b
    >>> v = Bias().init(nn.random.PRNGKey(1), np.ones((2, 5)))
    >>> v['params_axes']                # the list was stored as a tuple
    {'b_axes': AxisMetadata(names=('mlp',))}
    """
    module = _current_module(module, 'param_with_axes')
    value = module.param(name, init_fn, *init_args, **init_kwargs)
    if axes is None:
        return value  # nothing to record
    axes = axes_records.as_names(axes)
    value = with_sharding_constraint(value, PartitionSpec(*axes))
    module.sow('params_axes', axes_records.axes_key(name), AxisMetadata(axes), reduce_fn=_record_axes)
    return value


class PartitionedVariable(Variable):
    """A variable whose every read and write passes a logical sharding constraint.

    ``variable_with_axes`` returns one. ``value`` reads the stored array and
    constrains it by ``axes`` (with ``fallback`` for names no rule places);
    assigning to ``value`` constrains first and then stores.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Accumulate(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         total = partitioning.variable_with_axes('state', 'total', np.zeros, x.shape[-1:], axes=('embed',))
    ...         total.value = total.value + x.sum(0)
    ...         return total
    >>> var, state = Accumulate().apply({}, np.ones((3, 2)), mutable=True)
    >>> isinstance(var, partitioning.PartitionedVariable), state['state']['total']
    (True, array([3., 3.]))
    """

    def __init__(
        self, scope, collection: str, name: str, axes=None, fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED
    ):
        super().__init__(scope, collection, name, unbox=False)
        self.axes = axes
        self.fallback = fallback

    def _constrained(self, array):
        if self.axes is None:
            return array
        return with_sharding_constraint(array, self.axes, fallback=self.fallback)

    @property
    def value(self) -> Any:
        return self._constrained(self.scope.get_variable(self.collection, self.name))

    @value.setter
    def value(self, new_value: Any) -> None:
        self.scope.put_variable(self.collection, self.name, self._constrained(new_value))


def variable_with_axes(
    collection: str,
    name: str,
    init_fn: Callable[..., Any] | None,
    *init_args,
    axes=None,
    module=None,
    fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED,
    **init_kwargs,
) -> PartitionedVariable:
    """Declare variable ``collection/name`` and record its logical ``axes`` in ``'<collection>_axes'``.

    The same steps as :func:`param_with_axes` for any collection, with two
    differences: the result is a :class:`PartitionedVariable` (constrained
    on every read and write, not just once), and ``fallback`` says what to do
    with names no rule places. Asking for a variable that does not exist in
    an immutable collection fails as ``module.variable`` would.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Memory(nn.Module):
    ...     @nn.compact
    ...     def __call__(self):
    ...         partitioning.variable_with_axes('cache', 'keys', np.zeros, (4, 2), axes=('length', 'kv'))
    >>> records = nn.init(lambda m: m(), Memory())(nn.random.PRNGKey(2))['cache_axes']
    >>> records['keys_axes'].names
    ('length', 'kv')
    """
    module = _current_module(module, 'variable_with_axes')
    axes = axes_records.as_names(axes)

    def constrained_init(*args, **kwargs):
        initial = init_fn(*args, **kwargs)
        return initial if axes is None else with_sharding_constraint(initial, axes, fallback=fallback)

    if not module.has_variable(collection, name) and not module.is_mutable_collection(collection):
        # Reported as a missing variable (as the seed does), whether or not the collection is empty.
        raise errors.ScopeVariableNotFoundError(name, collection, module.scope.path_text)
    init = None if init_fn is None else constrained_init
    stored = module.variable(collection, name, init, *init_args, unbox=False, **init_kwargs)
    if axes is not None:
        record = AxisMetadata(axes)
        col_axes = axes_records.axes_collection(collection)
        module.sow(col_axes, axes_records.axes_key(name), record, reduce_fn=_record_axes)
    return PartitionedVariable(stored.scope, collection, name, axes, fallback)


# --- step 2: reading the names back ---------------------------------------------------


def _is_logical_spec(x) -> bool:
    # A tuple of logical names is one spec, not a container to walk into.
    return logical_axes.is_logical_names(x, PartitionSpec.UNCONSTRAINED)


def get_axis_names(axes_metadata) -> FrozenDict:
    """Turn a ``*_axes`` collection into logical ``PartitionSpec``\\ s shaped like its variables.

    Walk the nested dict; at each record, drop the ``_axes`` suffix from its
    key and replace ``AxisMetadata(names)`` by ``PartitionSpec(*names)``.
    A variable declared without ``axes=`` has no record, so it is absent here.

    >>> from nnref import partitioning
    >>> records = {'attn': {'query_axes': partitioning.AxisMetadata(('embed', 'heads', 'kv'))}}
    >>> dict(partitioning.get_axis_names(records)['attn'])
    {'query': PartitionSpec('embed', 'heads', 'kv')}
    """

    def spec_of(record):
        return tree_util.tree_map(
            lambda names: None if names is None else PartitionSpec(*names), record.names, is_leaf=_is_logical_spec
        )

    return FrozenDict(axes_records.nest_records(axes_metadata, spec_of))


# --- step 3: keeping the names in step with scan and vmap ----------------------------


def _map_axis_metadata(fn, tree):
    """``fn`` applied to every record (``AxisMetadata``) of a collection; other leaves kept."""
    return tree_util.tree_map(
        lambda x: fn(x) if isinstance(x, AxisMetadata) else x, tree, is_leaf=lambda x: isinstance(x, AxisMetadata)
    )


def _add_axis_to_metadata(target, insertion: axes_records.AxisInsertion):
    """Wrap ``target`` so the records in ``insertion.axes_col`` carry the transform's new axis.

    Leaving the transform (``trans_out_fn``), every record gains
    ``axis_name`` at ``pos``, matching the stacked variables; entering it
    again (``trans_in_fn``, e.g. on ``apply``) the name is checked and
    removed, so the body sees the per-step records it wrote. A record's
    names may be a tree of specs, so each spec in it is rewritten.
    """
    axes_col, pos, axis_name = insertion

    def with_axis(record):
        def grow(names):
            return axes_records.insert_axis_name(names, pos, axis_name)

        return record.replace(names=tree_util.tree_map(grow, record.names, is_leaf=_is_logical_spec))

    def without_axis(record):
        def shrink(names):
            return axes_records.remove_axis_name(names, pos, axis_name, axes_col)

        return record.replace(names=tree_util.tree_map(shrink, record.names, is_leaf=_is_logical_spec))

    parent = current_module()
    # Outside any module (a top-level transform) the records may always be written.
    writable = True if parent is None else parent.is_mutable_collection(axes_col)
    return map_variables(
        target,
        axes_col,
        mutable=writable,
        trans_in_fn=lambda tree: _map_axis_metadata(without_axis, tree),
        trans_out_fn=lambda tree: _map_axis_metadata(with_axis, tree),
    )


def scan_with_axes(
    target,
    variable_axes: Mapping = {},
    variable_broadcast=False,
    variable_carry=False,
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    length=None,
    reverse=False,
    unroll=1,
    axis_name: str = 'layers',
    axes_collections: tuple = ('params',),
    data_transform=None,
    methods=None,
):
    """``nn.scan`` over ``target`` whose records also name the stacked axis ``axis_name``.

    Scanning stacks each step's variables along a new axis. The records must
    follow, so: (1) the ``*_axes`` collections of ``axes_collections`` are
    broadcast -- one record describes every step -- rather than stacked;
    (2) for each of those collections that ``variable_axes`` stacks, the
    records gain ``axis_name`` at the stacked position.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Step(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, h, x):
    ...         u = partitioning.param_with_axes('u', nn.initializers.zeros_init(), (2, 2), axes=('embed', 'hidden'))
    ...         return h @ u + x, h
    >>> Rnn = partitioning.scan_with_axes(Step, variable_axes={'params': 1}, split_rngs={'params': True},
    ...                                   in_axes=0, out_axes=0, axis_name='time')
    >>> v = Rnn().init(nn.random.PRNGKey(3), np.zeros(2), np.ones((5, 2)))
    >>> v['params']['u'].shape, v['params_axes']['u_axes'].names
    ((2, 5, 2), ('embed', 'time', 'hidden'))
    """
    broadcast, insertions = axes_records.scan_plan(variable_axes, variable_broadcast, axes_collections, axis_name)
    scanned = scan(
        target,
        variable_axes=variable_axes,
        variable_broadcast=broadcast,
        variable_carry=variable_carry,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        length=length,
        reverse=reverse,
        unroll=unroll,
        data_transform=data_transform,
        methods=methods,
    )
    for insertion in insertions:
        scanned = _add_axis_to_metadata(scanned, insertion)
    return scanned


def vmap_with_axes(
    target,
    variable_axes: Mapping,
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    axis_size=None,
    axis_name=None,
    partitioning_axis_names: Mapping = {},
    spmd_axis_name=None,
    methods=None,
):
    """``nn.vmap`` over ``target`` whose records also name the mapped axis.

    ``partitioning_axis_names`` says, per collection, the logical name of
    the axis ``vmap`` adds to its variables. As in :func:`scan_with_axes`:
    (1) that collection's ``*_axes`` records are broadcast (``variable_axes``
    gets ``'<col>_axes': None``); (2) they gain the name at the collection's
    ``variable_axes`` position.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Expert(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         w = partitioning.param_with_axes('w', nn.initializers.zeros_init(), (4, 3), axes=('embed', 'mlp'))
    ...         return x @ w
    >>> Experts = partitioning.vmap_with_axes(Expert, variable_axes={'params': 0}, split_rngs={'params': True},
    ...                                       partitioning_axis_names={'params': 'expert'})
    >>> v = Experts().init(nn.random.PRNGKey(4), np.ones((8, 1, 4)))
    >>> v['params']['w'].shape, v['params_axes']['w_axes'].names
    ((8, 4, 3), ('expert', 'embed', 'mlp'))
    """
    variable_axes, insertions = axes_records.vmap_plan(variable_axes, partitioning_axis_names)
    mapped = vmap(
        target,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        axis_size=axis_size,
        axis_name=axis_name,
        spmd_axis_name=spmd_axis_name,
        methods=methods,
    )
    for insertion in insertions:
        mapped = _add_axis_to_metadata(mapped, insertion)
    return mapped


def remat(
    target,
    variables=True,
    rngs=True,
    concrete: bool = False,
    prevent_cse: bool = True,
    static_argnums=(),
    policy=None,
    methods=None,
):
    """Rematerialisation (``nn.remat``) with ``static_argnums`` counted from the first argument after ``self``.

    ``nn.remat`` counts the module itself as argument 0; this older spelling
    does not, so ``static_argnums=(0,)`` here means ``x`` in
    ``__call__(self, x, ...)``. In nnref nothing is recomputed -- there is
    no backward pass to save memory for -- so the result is the plain call.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Gate(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x, use_bias: bool):
    ...         return nn.Dense(3, use_bias=use_bias)(x)
    >>> v = partitioning.remat(Gate, static_argnums=(1,))().init(nn.random.PRNGKey(5), np.ones((1, 2)), False)
    >>> sorted(v['params']['Dense_0'])
    ['kernel']
    """
    static_argnums = _argnums('remat', 'static_argnums', static_argnums)
    return lift_transform(
        'remat',
        remat_core,
        target,
        methods=methods,
        variables=variables,
        rngs=rngs,
        concrete=concrete,
        prevent_cse=prevent_cse,
        static_argnums=static_argnums,
        policy=policy,
    )
