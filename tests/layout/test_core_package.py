"""``nn.core`` is a package with the seed's submodules: frozen_dict, scope, meta."""

import importlib
import typing

import pytest

import shared_spec.collection_filters
import shared_spec.frozen_dict
from shared_spec import type_aliases

FROZEN_DICT_NAMES = ['FrozenDict', 'copy', 'freeze', 'pop', 'pretty_repr', 'unfreeze']
SCOPE_TYPES = [
    'Array',
    'CollectionFilter',
    'PRNGSequenceFilter',
    'VariableDict',
    'FrozenVariableDict',
    'MutableVariableDict',
    'RNGSequences',
    'Filter',
    'Collection',
    'MutableCollection',
    'PRNGKey',
]
META_NAMES = [
    'AxisMetadata',
    'Partitioned',
    'unbox',
    'replace_boxed',
    'add_axis',
    'remove_axis',
    'is_axis_metadata',
    'with_partitioning',
    'get_partition_spec',
    'PARTITION_NAME',
    'LogicalNames',
]


@pytest.mark.parametrize('path', ['core', 'core.frozen_dict', 'core.scope', 'core.meta'])
def test_submodules_import_and_are_attributes(nn, path):
    module = importlib.import_module(f'{nn.__name__}.{path}')
    parent, _, child = f'{nn.__name__}.{path}'.rpartition('.')
    assert getattr(importlib.import_module(parent), child) is module
    for name in module.__all__:
        assert hasattr(module, name), f'{module.__name__}.{name}'


def test_core_names_are_the_shared_objects(nn):
    core = nn.core
    for name in FROZEN_DICT_NAMES:
        assert getattr(core, name) is getattr(shared_spec.frozen_dict, name)
        assert getattr(core.frozen_dict, name) is getattr(shared_spec.frozen_dict, name)
    assert core.DenyList is shared_spec.collection_filters.DenyList
    assert core.AxisMetadata is nn.AxisMetadata is core.meta.AxisMetadata
    assert core.unbox is nn.unbox and core.Scope is nn.Scope
    assert callable(core.copy) and core.copy.__module__ == 'shared_spec.frozen_dict'


def test_seed_style_core_imports(nn):
    namespace = {}
    exec(
        f'from {nn.__name__}.core import FrozenDict, freeze, unfreeze, copy, pop, AxisMetadata\n'  # noqa: S102
        f'from {nn.__name__}.core.frozen_dict import pretty_repr\n'
        f'from {nn.__name__}.core.meta import Partitioned, unbox\n'
        f'from {nn.__name__}.core.scope import VariableDict, CollectionFilter, DenyList, Scope, Variable\n',
        namespace,
    )
    fd = namespace['freeze']({'params': {'w': 1.0}})
    added = namespace['copy'](fd, {'cache': {}})
    assert namespace['unfreeze'](added) == {'params': {'w': 1.0}, 'cache': {}}
    rest, popped = namespace['pop'](added, 'cache')
    assert popped == {} and list(rest) == ['params']
    assert namespace['unbox']({'w': namespace['Partitioned'](2.0, names=('x',))}) == {'w': 2.0}
    assert issubclass(namespace['Partitioned'], namespace['AxisMetadata'])
    assert namespace['Variable'] is nn.Variable


def test_scope_types_annotate(nn):
    scope = nn.core.scope
    for name in SCOPE_TYPES:
        assert getattr(scope, name) is getattr(type_aliases, name)

    def step(
        variables: scope.VariableDict, rngs: scope.RNGSequences, mutable: scope.CollectionFilter = False
    ) -> scope.FrozenVariableDict:
        return nn.core.freeze(variables)

    hints = typing.get_type_hints(step)
    assert hints['variables'] == typing.Mapping[str, typing.Mapping[str, typing.Any]]
    assert typing.get_args(hints['mutable'])[-1] is nn.core.DenyList
    assert typing.get_origin(hints['return']) is nn.core.FrozenDict
    assert step({'params': {}}, {}) == nn.core.FrozenDict({'params': {}})
    assert scope.in_filter(scope.DenyList('params'), 'batch_stats')


def test_meta_module_mirrors_the_backend_meta(nn):
    meta = nn.core.meta
    for name in META_NAMES:
        assert hasattr(meta, name), name
    for name in nn.meta.__all__:
        assert getattr(meta, name) is getattr(nn.meta, name)


def test_existing_nnjax_core_users_still_work():
    import jax

    import nnjax.core
    from nnjax.core import FrozenDict, freeze

    # The pytree registration stays in the package: a FrozenDict is a node.
    leaves = jax.tree_util.tree_leaves(freeze({'b': 2.0, 'a': 1.0}))
    assert leaves == [1.0, 2.0]
    assert jax.tree_util.tree_structure(FrozenDict()).num_leaves == 0
    importlib.reload(nnjax.core)  # a reload does not register the type twice
    assert jax.tree_util.tree_leaves(FrozenDict(x=3.0)) == [3.0]
