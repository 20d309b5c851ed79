"""The older (T5X-style) logical-axis API: axis names kept beside the variables.

Large-model code written before boxed metadata (:mod:`nnjax.spmd`'s
``LogicallyPartitioned``) annotates plain arrays instead:

* :func:`param_with_axes` / :func:`variable_with_axes` declare a variable
  and record its logical axis names as an :class:`AxisMetadata` in the
  collection ``'<collection>_axes'`` under ``'<name>_axes'`` -- so
  ``init`` returns ``params`` and, beside it, ``params_axes``;
* :func:`get_axis_names` turns such a collection into a tree of logical
  ``PartitionSpec``\\ s shaped like the variables, ready for
  :func:`logical_to_mesh` and ``jax.jit(out_shardings=...)``;
* :func:`with_sharding_constraint` constrains an activation by logical
  names, through the rules of :func:`axis_rules` (the same rules as
  ``nn.logical_axis_rules``), with a :class:`RulesFallback`;
* :func:`scan_with_axes` / :func:`vmap_with_axes` are ``nn.scan`` /
  ``nn.vmap`` that also insert the new axis name into the recorded names;
  :func:`remat` is ``nn.remat`` whose ``static_argnums`` count the method's
  arguments (not the module) from 0.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> from nnjax import partitioning as nn_partitioning
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     wi = nn_partitioning.param_with_axes(
...         'wi', nn.initializers.ones_init(), (x.shape[-1], 8), axes=('embed', 'mlp'))
...     h = nn_partitioning.with_sharding_constraint(x @ wi, ('batch', 'mlp'))
...     return h
>>> with nn_partitioning.axis_rules((('batch', 'data'), ('mlp', 'model'))):
...   variables = MLP().init(jax.random.PRNGKey(0), jnp.ones((2, 4)))
>>> variables['params_axes']
{'wi_axes': AxisMetadata(names=('embed', 'mlp'))}
>>> nn_partitioning.get_axis_names(variables['params_axes'])['wi']
P('embed', 'mlp')
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import jax

from nnjax import errors, struct
from nnjax.module_context import current_module
from nnjax.spmd import get_logical_axis_rules as get_axis_rules  # noqa: F401
from nnjax.spmd import logical_axis_rules as axis_rules  # noqa: F401
from nnjax.spmd import logical_to_mesh, logical_to_mesh_axes  # noqa: F401
from nnjax.spmd import set_logical_axis_rules as set_axis_rules  # noqa: F401
from nnjax.spmd import with_logical_constraint as with_sharding_constraint
from nnjax.transforms.map_variables import map_variables
from nnjax.transforms.module_forms import lift_transform
from nnjax.transforms.remat import remat_core
from nnjax.transforms.scan import scan
from nnjax.transforms.vmap import vmap
from nnjax.variables import Variable
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


# --- recorded axis names -------------------------------------------------------------


@struct.dataclass
class AxisMetadata:
    """The logical axis names of one variable, as stored in ``'<collection>_axes'``.

    ``names`` is static (not a pytree leaf), so the metadata passes through
    ``jax.jit`` and the lifted transforms untouched. Not the boxed
    ``nn.meta.AxisMetadata`` base class: this one holds no value.

    >>> import jax
    >>> from nnjax import partitioning
    >>> md = partitioning.AxisMetadata(('embed', 'mlp'))
    >>> jax.tree_util.tree_leaves(md), md.names
    ([], ('embed', 'mlp'))
    """

    names: Any = struct.field(pytree_node=False)


def _record_axes(x, y):
    """``sow`` reduction for axis names: the first record wins, a different second one is an error."""
    return axes_records.check_resown(x, y, AxisMetadata)


def _current_module(module, what: str):
    if module is None:
        module = current_module()
    if module is None:
        raise axes_records.no_module_error(what)
    return module


def param_with_axes(name: str, init_fn: Callable[..., Any], *init_args, axes=None, module=None, **init_kwargs):
    """``module.param(name, init_fn, ...)`` that also records its logical ``axes``.

    The names go to ``params_axes`` as ``{name}_axes: AxisMetadata(axes)``
    (when that collection is mutable, as in ``init``), and the value is
    returned under :func:`with_sharding_constraint` by those names.
    ``module`` defaults to the module whose method is running.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Embed(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, ids):
    ...     table = partitioning.param_with_axes(
    ...         'embedding', nn.initializers.normal(), (10, 4), axes=('vocab', 'embed'))
    ...     return table[ids]
    >>> v = Embed().init(jax.random.PRNGKey(0), jnp.array([1, 2]))
    >>> v['params']['embedding'].shape, v['params_axes']['embedding_axes'].names
    ((10, 4), ('vocab', 'embed'))
    """
    module = _current_module(module, 'param_with_axes')
    value = module.param(name, init_fn, *init_args, **init_kwargs)
    if axes is not None:
        axes = axes_records.as_names(axes)
        value = with_sharding_constraint(value, jax.sharding.PartitionSpec(*axes))
        module.sow('params_axes', axes_records.axes_key(name), AxisMetadata(axes), reduce_fn=_record_axes)
    return value


class PartitionedVariable(Variable):
    """A :class:`~nnjax.variables.Variable` whose reads and writes are constrained by logical ``axes``.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Cache(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     cache = partitioning.variable_with_axes('cache', 'k', jnp.zeros, x.shape,
    ...                                             axes=('batch', 'embed'))
    ...     cache.value = cache.value + x
    ...     return type(cache).__name__
    >>> Cache().apply({}, jnp.ones((2, 3)), mutable=True)[0]
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

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Counter(nn.Module):
    ...   @nn.compact
    ...   def __call__(self):
    ...     partitioning.variable_with_axes('stats', 'count', jnp.zeros, (3,), axes=('mlp',))
    >>> nn.init(lambda m: m(), Counter())(jax.random.PRNGKey(0))['stats_axes']
    {'count_axes': AxisMetadata(names=('mlp',))}
    """
    module = _current_module(module, 'variable_with_axes')
    axes = axes_records.as_names(axes)

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
        module.sow(
            axes_records.axes_collection(collection),
            axes_records.axes_key(name),
            AxisMetadata(axes),
            reduce_fn=_record_axes,
        )
    return PartitionedVariable(plain.scope, collection, name, axes, fallback)


def _is_logical_spec(x) -> bool:
    return logical_axes.is_logical_names(x, jax.sharding.PartitionSpec.UNCONSTRAINED)


def get_axis_names(axes_metadata) -> FrozenDict:
    """The logical ``PartitionSpec`` of every variable recorded in one ``*_axes`` collection.

    Keys lose their ``_axes`` suffix, so the result is shaped like the
    variables' own collection (variables declared without axes are absent).

    >>> from nnjax import partitioning
    >>> names = partitioning.get_axis_names(
    ...     {'Dense_0': {'kernel_axes': partitioning.AxisMetadata(('embed', 'mlp'))}})
    >>> names['Dense_0']['kernel']
    P('embed', 'mlp')
    """

    def to_spec(names):
        return None if names is None else jax.sharding.PartitionSpec(*names)

    def leaf(metadata):
        return jax.tree_util.tree_map(to_spec, metadata.names, is_leaf=_is_logical_spec)

    return FrozenDict(axes_records.nest_records(axes_metadata, leaf))


# --- lifted transforms that keep the recorded names in step --------------------------


def _map_axis_metadata(fn, tree):
    return jax.tree_util.tree_map(
        lambda x: fn(x) if isinstance(x, AxisMetadata) else x, tree, is_leaf=lambda x: isinstance(x, AxisMetadata)
    )


def _add_axis_to_metadata(target, insertion: axes_records.AxisInsertion):
    """``target`` with ``insertion.axis_name`` inserted at ``insertion.pos`` of every name tuple in
    ``insertion.axes_col`` on the way out (and checked and removed on the way in)."""
    axes_col, pos, axis_name = insertion

    def insert(md):
        def leaf(names):
            return axes_records.insert_axis_name(names, pos, axis_name)

        return md.replace(names=jax.tree_util.tree_map(leaf, md.names, is_leaf=_is_logical_spec))

    def remove(md):
        def leaf(names):
            return axes_records.remove_axis_name(names, pos, axis_name, axes_col)

        return md.replace(names=jax.tree_util.tree_map(leaf, md.names, is_leaf=_is_logical_spec))

    parent = current_module()
    mutable = parent.is_mutable_collection(axes_col) if parent is not None else True
    return map_variables(
        target,
        axes_col,
        mutable=mutable,
        trans_in_fn=lambda tree: _map_axis_metadata(remove, tree),
        trans_out_fn=lambda tree: _map_axis_metadata(insert, tree),
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
    """``nn.scan`` that also puts ``axis_name`` into the recorded axis names.

    For each collection of ``axes_collections`` stacked by ``variable_axes``,
    the names in ``'<collection>_axes'`` gain ``axis_name`` at the stacked
    position; those ``*_axes`` collections are broadcast (one record for all
    steps).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Layer(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x, _):
    ...     w = partitioning.param_with_axes('w', nn.initializers.ones_init(), (3, 3),
    ...                                      axes=('embed', 'mlp'))
    ...     return x @ w, None
    >>> Stack = partitioning.scan_with_axes(Layer, variable_axes={'params': 0},
    ...                                     split_rngs={'params': True}, length=4)
    >>> v = Stack().init(jax.random.PRNGKey(0), jnp.ones((2, 3)), None)
    >>> v['params']['w'].shape, v['params_axes']['w_axes'].names
    ((4, 3, 3), ('layers', 'embed', 'mlp'))
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
    """``nn.vmap`` that also puts the mapped axis's name into the recorded axis names.

    ``partitioning_axis_names`` maps a collection to the logical name of its
    new axis; its ``'<collection>_axes'`` collection is broadcast and its
    names gain that name at the collection's ``variable_axes`` position.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Head(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return x @ partitioning.param_with_axes('w', nn.initializers.ones_init(), (3, 2),
    ...                                             axes=('embed', 'kv'))
    >>> Heads = partitioning.vmap_with_axes(Head, variable_axes={'params': 1},
    ...                                     split_rngs={'params': True},
    ...                                     partitioning_axis_names={'params': 'heads'})
    >>> v = Heads().init(jax.random.PRNGKey(0), jnp.ones((5, 4, 3)))
    >>> v['params']['w'].shape, v['params_axes']['w_axes'].names
    ((3, 5, 2), ('embed', 'heads', 'kv'))
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
    """``nn.remat`` whose ``static_argnums`` index the method's arguments after the module.

    ``static_argnums=(0,)`` marks the first argument after ``self`` static
    (with ``nn.remat`` it would be ``(1,)``), as in the seed's
    ``partitioning.remat``.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> from nnjax import partitioning
    >>> class Block(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x, deterministic: bool):
    ...     return x if deterministic else nn.Dense(2)(x)
    >>> Checked = partitioning.remat(Block, static_argnums=(1,))
    >>> sorted(Checked().init(jax.random.PRNGKey(0), jnp.ones((1, 2)), False)['params'])
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
