"""The older (T5X-style) logical-axis API: axis names kept beside the variables.

Large-model code written before boxed metadata (:mod:`nnref.spmd`'s
``LogicallyPartitioned``) annotates plain arrays instead:

* :func:`param_with_axes` / :func:`variable_with_axes` declare a variable
  and record its logical axis names as an :class:`AxisMetadata` in the
  collection ``'<collection>_axes'`` under ``'<name>_axes'`` -- so
  ``init`` returns ``params`` and, beside it, ``params_axes``;
* :func:`get_axis_names` turns such a collection into a tree of logical
  ``PartitionSpec``\\ s shaped like the variables, ready for
  :func:`logical_to_mesh` (nnref has no devices: the specs are computed as
  in ``nnjax`` and no constraint is ever applied);
* :func:`with_sharding_constraint` constrains an activation by logical
  names, through the rules of :func:`axis_rules` (the same rules as
  ``nn.logical_axis_rules``), with a :class:`RulesFallback`;
* :func:`scan_with_axes` / :func:`vmap_with_axes` are ``nn.scan`` /
  ``nn.vmap`` that also insert the new axis name into the recorded names;
  :func:`remat` is ``nn.remat`` whose ``static_argnums`` count the method's
  arguments (not the module) from 0.

>>> import numpy as np
>>> import nnref as nn
>>> from nnref import partitioning as nn_partitioning
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     wi = nn_partitioning.param_with_axes(
...         'wi', nn.initializers.ones_init(), (x.shape[-1], 8), axes=('embed', 'mlp'))
...     h = nn_partitioning.with_sharding_constraint(x @ wi, ('batch', 'mlp'))
...     return h
>>> with nn_partitioning.axis_rules((('batch', 'data'), ('mlp', 'model'))):
...   variables = MLP().init(nn.random.PRNGKey(0), np.ones((2, 4)))
>>> variables['params_axes']
{'wi_axes': AxisMetadata(names=('embed', 'mlp'))}
>>> nn_partitioning.get_axis_names(variables['params_axes'])['wi']
PartitionSpec('embed', 'mlp')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from nnref import errors, tree_util
from nnref import module as _module
from nnref.meta import PartitionSpec
from nnref.spmd import (  # noqa: F401  (the seed re-exports these here)
    get_logical_axis_rules as get_axis_rules,
)
from nnref.spmd import (
    logical_axis_rules as axis_rules,
)
from nnref.spmd import (
    logical_to_mesh,
    logical_to_mesh_axes,
)
from nnref.spmd import (
    set_logical_axis_rules as set_axis_rules,
)
from nnref.spmd import (
    with_logical_constraint as with_sharding_constraint,
)
from nnref.transforms.jit import remat_core
from nnref.transforms.lifting import _argnums, lift_transform
from nnref.transforms.map_variables import map_variables
from nnref.transforms.scan import scan
from nnref.transforms.vmap import vmap
from nnref.variables import Variable
from shared_spec.collection_filters import union_filters
from shared_spec.frozen_dict import FrozenDict
from shared_spec.in_out_axes import In as ScanIn  # noqa: F401
from shared_spec.in_out_axes import Out as ScanOut
from shared_spec.logical_axes import RulesFallback
from shared_spec.type_aliases import Array, CollectionFilter, InOutScanAxis, PRNGSequenceFilter  # noqa: F401

__all__ = [
    'AxisMetadata',
    'PartitionedVariable',
    'RulesFallback',
    'ScanIn',
    'ScanOut',
    'axis_rules',
    'get_axis_rules',
    'set_axis_rules',
    'get_axis_names',
    'logical_to_mesh',
    'logical_to_mesh_axes',
    'with_sharding_constraint',
    'param_with_axes',
    'variable_with_axes',
    'scan_with_axes',
    'vmap_with_axes',
    'remat',
]

# Typing aliases the seed's module exports (annotations only).
LogicalRules = Any  # a sequence of (logical_name, mesh_axes) pairs
ArrayPytree = Any
LogicalPartitionSpec = Any  # a PartitionSpec (or tuple) of logical names
LogicalPartitionSpecPytree = Any
PartitionSpecPytree = Any


# --- recorded axis names -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AxisMetadata:
    """The logical axis names of one variable, as stored in ``'<collection>_axes'``.

    ``names`` is static data, not a tree leaf, so the metadata passes the
    lifted transforms untouched (as the ``nnjax`` pytree does). Not the boxed
    ``nn.meta.AxisMetadata`` base class: this one holds no value.

    >>> from nnref import partitioning, tree_util
    >>> md = partitioning.AxisMetadata(('embed', 'mlp'))
    >>> tree_util.tree_leaves(md), md.names
    ([], ('embed', 'mlp'))
    """

    names: Any

    def replace(self, **updates) -> 'AxisMetadata':
        return dataclasses.replace(self, **updates)

    def _tree_children(self):
        return (), self.names

    @classmethod
    def _tree_rebuild(cls, static, children):
        return cls(static)


def _record_axes(x, y):
    """``sow`` reduction for axis names: the first record wins, a different second one is an error."""
    if not isinstance(y, AxisMetadata):
        raise TypeError(f'Expected newly sown value to be an AxisMetadata, got {type(y).__name__}.')
    if isinstance(x, AxisMetadata) and x != y:
        raise ValueError(
            f'If axis names are sown twice, expected them to match. Got {x} and {y}. '
            'Fix: declare the variable with the same axes= every time.'
        )
    return y


def _current_module(module, what: str):
    if module is None:
        module = _module._module_stack[-1]
    if module is None:
        raise ValueError(f'{what} needs a Module: call it inside a compact method or setup(), or pass module=.')
    return module


def _as_names(axes):
    return tuple(axes) if isinstance(axes, list) else axes


def param_with_axes(name: str, init_fn: Callable[..., Any], *init_args, axes=None, module=None, **init_kwargs):
    """``module.param(name, init_fn, ...)`` that also records its logical ``axes``.

    The names go to ``params_axes`` as ``{name}_axes: AxisMetadata(axes)``
    (when that collection is mutable, as in ``init``), and the value is
    returned under :func:`with_sharding_constraint` by those names.
    ``module`` defaults to the module whose method is running.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Embed(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, ids):
    ...     table = partitioning.param_with_axes(
    ...         'embedding', nn.initializers.normal(), (10, 4), axes=('vocab', 'embed'))
    ...     return table[ids]
    >>> v = Embed().init(nn.random.PRNGKey(0), np.array([1, 2]))
    >>> v['params']['embedding'].shape, v['params_axes']['embedding_axes'].names
    ((10, 4), ('vocab', 'embed'))
    """
    module = _current_module(module, 'param_with_axes')
    value = module.param(name, init_fn, *init_args, **init_kwargs)
    if axes is not None:
        axes = _as_names(axes)
        value = with_sharding_constraint(value, PartitionSpec(*axes))
        module.sow('params_axes', f'{name}_axes', AxisMetadata(axes), reduce_fn=_record_axes)
    return value


class PartitionedVariable(Variable):
    """A :class:`~nnref.variables.Variable` whose reads and writes are constrained by logical ``axes``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Cache(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     cache = partitioning.variable_with_axes('cache', 'k', np.zeros, x.shape,
    ...                                             axes=('batch', 'embed'))
    ...     cache.value = cache.value + x
    ...     return type(cache).__name__
    >>> Cache().apply({}, np.ones((2, 3)), mutable=True)[0]
    'PartitionedVariable'
    """

    def __init__(
        self, scope, collection: str, name: str, axes=None, fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED
    ):
        super().__init__(scope, collection, name, unbox=False)
        self.axes = axes
        self.fallback = fallback

    @property
    def value(self) -> Any:
        value = self.scope.get_variable(self.collection, self.name)
        if self.axes is not None:
            value = with_sharding_constraint(value, self.axes, fallback=self.fallback)
        return value

    @value.setter
    def value(self, new_value: Any) -> None:
        if self.axes is not None:
            new_value = with_sharding_constraint(new_value, self.axes, fallback=self.fallback)
        self.scope.put_variable(self.collection, self.name, new_value)


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
    """``module.variable(collection, name, init_fn, ...)`` that also records its logical ``axes``.

    Returns a :class:`PartitionedVariable`; the initial value and every read
    and write go through :func:`with_sharding_constraint` with ``fallback``.
    The names go to ``'{collection}_axes'`` under ``'{name}_axes'``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Counter(nn.Module):
    ...   @nn.compact
    ...   def __call__(self):
    ...     partitioning.variable_with_axes('stats', 'count', np.zeros, (3,), axes=('mlp',))
    >>> nn.init(lambda m: m(), Counter())(nn.random.PRNGKey(0))['stats_axes']
    {'count_axes': AxisMetadata(names=('mlp',))}
    """
    module = _current_module(module, 'variable_with_axes')
    axes = _as_names(axes)

    def constrained_init(*args, **kwargs):
        value = init_fn(*args, **kwargs)
        if axes is not None:
            value = with_sharding_constraint(value, axes, fallback=fallback)
        return value

    if not module.has_variable(collection, name) and not module.is_mutable_collection(collection):
        # The seed reports the variable (not the collection) missing, empty collection or not.
        raise errors.ScopeVariableNotFoundError(name, collection, module.scope.path_text)
    plain = module.variable(
        collection, name, constrained_init if init_fn is not None else None, *init_args, unbox=False, **init_kwargs
    )
    if axes is not None:
        module.sow(f'{collection}_axes', f'{name}_axes', AxisMetadata(axes), reduce_fn=_record_axes)
    return PartitionedVariable(plain.scope, collection, name, axes, fallback)


def _is_logical_spec(x) -> bool:
    return x is None or (
        isinstance(x, tuple) and all(e is None or isinstance(e, str) or e is PartitionSpec.UNCONSTRAINED for e in x)
    )


def _flatten(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def get_axis_names(axes_metadata) -> FrozenDict:
    """The logical ``PartitionSpec`` of every variable recorded in one ``*_axes`` collection.

    Keys lose their ``_axes`` suffix, so the result is shaped like the
    variables' own collection (variables declared without axes are absent).

    >>> from nnref import partitioning
    >>> names = partitioning.get_axis_names(
    ...     {'Dense_0': {'kernel_axes': partitioning.AxisMetadata(('embed', 'mlp'))}})
    >>> names['Dense_0']['kernel']
    PartitionSpec('embed', 'mlp')
    """

    def to_spec(names):
        return None if names is None else PartitionSpec(*names)

    result: dict = {}
    for path, metadata in _flatten(axes_metadata):
        leaf = path[-1][: -len('_axes')] if path[-1].endswith('_axes') else path[-1]
        node = result
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[leaf] = tree_util.tree_map(to_spec, metadata.names, is_leaf=_is_logical_spec)
    return FrozenDict(result)


# --- lifted transforms that keep the recorded names in step --------------------------


def _map_axis_metadata(fn, tree):
    return tree_util.tree_map(
        lambda x: fn(x) if isinstance(x, AxisMetadata) else x, tree, is_leaf=lambda x: isinstance(x, AxisMetadata)
    )


def _add_axis_to_metadata(target, axis_pos, axis_name: str, axis_col: str):
    """``target`` with ``axis_name`` inserted at ``axis_pos`` of every name tuple in ``axis_col``
    on the way out (and checked and removed on the way in)."""
    pos = _logical_axes_pos(axis_pos)

    def insert(md):
        def leaf(names):
            if names is None:
                return None
            names = list(names)
            names.insert(pos, axis_name)
            return tuple(names)

        return md.replace(names=tree_util.tree_map(leaf, md.names, is_leaf=_is_logical_spec))

    def remove(md):
        def leaf(names):
            if names is None:
                return None
            names = list(names)
            if names[pos] != axis_name:
                raise ValueError(
                    f'Expected axis {axis_name} at position {pos} in axis metadata {names}. '
                    f'Fix: pass the {axis_col} collection that this transform produced.'
                )
            del names[pos]
            return tuple(names)

        return md.replace(names=tree_util.tree_map(leaf, md.names, is_leaf=_is_logical_spec))

    parent = _module._module_stack[-1]
    mutable = parent.is_mutable_collection(axis_col) if parent is not None else True
    return map_variables(
        target,
        axis_col,
        mutable=mutable,
        trans_in_fn=lambda tree: _map_axis_metadata(remove, tree),
        trans_out_fn=lambda tree: _map_axis_metadata(insert, tree),
    )


def _logical_axes_pos(axis_pos):
    return axis_pos.axis if isinstance(axis_pos, (ScanIn, ScanOut)) else axis_pos


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
    """``nn.scan`` that also puts ``axis_name`` into the recorded axis names.

    For each collection of ``axes_collections`` stacked by ``variable_axes``,
    the names in ``'<collection>_axes'`` gain ``axis_name`` at the stacked
    position; those ``*_axes`` collections are broadcast (one record for all
    steps).

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Layer(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x, _):
    ...     w = partitioning.param_with_axes('w', nn.initializers.ones_init(), (3, 3),
    ...                                      axes=('embed', 'mlp'))
    ...     return x @ w, None
    >>> Stack = partitioning.scan_with_axes(Layer, variable_axes={'params': 0},
    ...                                     split_rngs={'params': True}, length=4)
    >>> v = Stack().init(nn.random.PRNGKey(0), np.ones((2, 3)), None)
    >>> v['params']['w'].shape, v['params_axes']['w_axes'].names
    ((4, 3, 3), ('layers', 'embed', 'mlp'))
    """
    axes_filters = tuple(f'{col}_axes' for col in axes_collections)
    scanned = scan(
        target,
        variable_axes=variable_axes,
        variable_broadcast=union_filters(variable_broadcast, axes_filters),
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
    for col in axes_collections:
        if col in variable_axes:
            scanned = _add_axis_to_metadata(scanned, variable_axes[col], axis_name, f'{col}_axes')
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
    """``nn.vmap`` that also puts the mapped axis's name into the recorded axis names.

    ``partitioning_axis_names`` maps a collection to the logical name of its
    new axis; its ``'<collection>_axes'`` collection is broadcast and its
    names gain that name at the collection's ``variable_axes`` position.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Head(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return x @ partitioning.param_with_axes('w', nn.initializers.ones_init(), (3, 2),
    ...                                             axes=('embed', 'kv'))
    >>> Heads = partitioning.vmap_with_axes(Head, variable_axes={'params': 1},
    ...                                     split_rngs={'params': True},
    ...                                     partitioning_axis_names={'params': 'heads'})
    >>> v = Heads().init(nn.random.PRNGKey(0), np.ones((5, 4, 3)))
    >>> v['params']['w'].shape, v['params_axes']['w_axes'].names
    ((3, 5, 2), ('embed', 'heads', 'kv'))
    """
    variable_axes = dict(variable_axes)
    for col in partitioning_axis_names:
        variable_axes[f'{col}_axes'] = None
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
    for col, axis in variable_axes.items():
        if col in partitioning_axis_names:
            mapped = _add_axis_to_metadata(mapped, axis, partitioning_axis_names[col], f'{col}_axes')
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
    """``nn.remat`` whose ``static_argnums`` index the method's arguments after the module.

    ``static_argnums=(0,)`` marks the first argument after ``self`` static
    (with ``nn.remat`` it would be ``(1,)``), as in the seed's
    ``partitioning.remat``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> from nnref import partitioning
    >>> class Block(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x, deterministic: bool):
    ...     return x if deterministic else nn.Dense(2)(x)
    >>> Checked = partitioning.remat(Block, static_argnums=(1,))
    >>> sorted(Checked().init(nn.random.PRNGKey(0), np.ones((1, 2)), False)['params'])
    ['Dense_0']
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
