"""nnref.meta and nnref.spmd: metadata boxes, PartitionSpec, logical axis rules.

Expectations come from the seed documentation (the SPMD API reference and
the "Scale up Flax Modules on multiple devices" guide) or from hand
derivations next to each case; nnref has no devices, so only the metadata
side is tested here.
"""

import dataclasses
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

from nnref import initializers, meta, random, spmd, tree_util
from nnref.meta import PartitionSpec as P
from shared_spec import errors
from shared_spec.frozen_dict import FrozenDict

PN = meta.PARTITION_NAME


def test_nnref_meta_and_spmd_import_without_jax():
    code = (
        "import sys; sys.modules['jax'] = None\n"
        "import nnref.meta, nnref.spmd\n"
        "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules "
        "if sys.modules[m] is not None)"
    )
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- PartitionSpec -----------------------------------------------------------


def test_partition_spec_is_a_tuple_with_the_seed_repr():
    spec = P('data', None)
    assert repr(spec) == "PartitionSpec('data', None)"
    assert repr(P()) == 'PartitionSpec()' and repr(P('x')) == "PartitionSpec('x',)"
    assert spec == ('data', None) and P() == () and spec != P('data')
    assert hash(spec) == hash(('data', None))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert type(pickle.loads(pickle.dumps(spec))) is P


def test_partition_spec_canonicalizes_entries_as_jax_does():
    # lists become tuples; a 1-tuple is its element; an empty one is None
    assert P(['x', 'y'], None) == (('x', 'y'), None)
    assert P(('x',), []) == ('x', None)


def test_partition_spec_is_a_tree_leaf():
    tree = {'a': P('x', None), 'b': [P()]}
    assert tree_util.tree_leaves(tree) == [P('x', None), P()]
    assert tree_util.tree_map(lambda s: len(s), tree) == {'a': 2, 'b': [0]}


# --- the box as a tree node ------------------------------------------------------


def test_box_is_a_tree_node_with_the_value_as_only_child():
    value = np.arange(6.0).reshape(2, 3)
    box = meta.Partitioned(value, ('data', None))
    leaves, treedef = tree_util.tree_flatten(box)
    assert len(leaves) == 1 and leaves[0] is value
    rebuilt = tree_util.tree_unflatten(treedef, [np.zeros((2, 3))])
    assert isinstance(rebuilt, meta.Partitioned)
    assert rebuilt.names == ('data', None) and rebuilt.mesh is None
    np.testing.assert_array_equal(rebuilt.value, np.zeros((2, 3)))


def test_tree_map_maps_the_value_and_keeps_the_metadata():
    tree = {'w': meta.Partitioned(np.ones((2, 3)), ('data', 'model')), 'b': np.ones(3)}
    out = tree_util.tree_map(lambda x: x * 3.0, tree)
    assert isinstance(out['w'], meta.Partitioned) and out['w'].names == ('data', 'model')
    np.testing.assert_array_equal(out['w'].value, np.full((2, 3), 3.0))
    np.testing.assert_array_equal(out['b'], np.full(3, 3.0))
    # two trees mapped together must have the same names too
    diff = tree_util.tree_map(lambda a, b: a - b, tree, tree)
    assert diff['w'].names == ('data', 'model')
    other = {'w': meta.Partitioned(np.ones((2, 3)), ('model', 'data')), 'b': np.ones(3)}
    with pytest.raises(ValueError):
        tree_util.tree_map(lambda a, b: a - b, tree, other)


def test_leaf_order_puts_the_box_value_at_its_key():
    tree = {'c': 3.0, 'a': meta.Partitioned(1.0, ()), 'b': [meta.Partitioned(2.0, ('x',))]}
    assert tree_util.tree_leaves(tree) == [1.0, 2.0, 3.0]


def test_replace_frozen_repr_and_names():
    box = meta.Partitioned(1.0, ['a'])
    assert box.names == ('a',)
    assert box.replace(names=('b',)).names == ('b',) and box.names == ('a',)
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.names = ('c',)
    assert (
        repr(tree_util.tree_map(np.shape, meta.Partitioned(np.ones((4, 8)), (None, 'model'))))
        == "Partitioned(value=(4, 8), names=(None, 'model'), mesh=None)"
    )
    with pytest.raises(TypeError, match="'data',"):
        meta.Partitioned(np.ones(4), 'data')
    with pytest.raises(TypeError):
        meta.AxisMetadata()


# --- add_axis / remove_axis ----------------------------------------------------------


@pytest.mark.parametrize(
    'names, index, name, expected',
    [
        (('a', 'b'), 0, 'L', ('L', 'a', 'b')),
        (('a', 'b'), 1, None, ('a', None, 'b')),
        (('a', 'b'), 2, 'L', ('a', 'b', 'L')),
        (('a',), 3, 'L', ('a', None, None, 'L')),  # padded with None up to index
        ((), 0, 'L', ('L',)),
    ],
)
def test_box_add_axis_inserts_the_partition_name(names, index, name, expected):
    added = meta.Partitioned(0.0, names).add_axis(index, {PN: name})
    assert added.names == expected
    assert added.remove_axis(index, {PN: name}).names[: len(names)] == names


def test_axis_errors():
    box = meta.Partitioned(np.ones(2), ('data',))
    with pytest.raises(errors.PartitioningUnspecifiedError, match='partition_name'):
        box.add_axis(0, {})
    with pytest.raises(ValueError, match="'data'"):
        box.remove_axis(0, {PN: 'layers'})
    with pytest.raises(ValueError, match='no such axis'):
        box.remove_axis(3, {PN: 'data'})


def test_tree_add_remove_axis_on_nested_trees_leave_plain_arrays_alone():
    plain = np.ones((2,))
    tree = {
        'enc': [meta.Partitioned(0.0, ('a',)), plain],
        'dec': FrozenDict({'w': meta.Partitioned(1.0, (None, 'model')), 'n': 7}),
        'none': None,
    }
    added = meta.add_axis(tree, 0, {PN: 'layers'})
    assert added['enc'][0].names == ('layers', 'a')
    assert added['dec']['w'].names == ('layers', None, 'model')
    assert added['enc'][1] is plain and added['dec']['n'] == 7 and added['none'] is None
    assert isinstance(added['dec'], FrozenDict)
    removed = meta.remove_axis(added, 0, {PN: 'layers'})
    assert removed['enc'][0].names == ('a',) and removed['dec']['w'].names == (None, 'model')


def test_tree_add_axis_acts_on_the_outermost_box_only():
    inner = meta.Partitioned(1.0, ('i',))
    added = meta.add_axis({'x': meta.Partitioned(inner, ('o',))}, 0, {PN: 'L'})['x']
    assert added.names == ('L', 'o') and added.value is inner


# --- unbox / replace_boxed / get_partition_spec ---------------------------------------


def test_unbox_returns_values_and_strips_nested_boxes():
    value = np.ones((2, 2))
    box = meta.Partitioned(value, ('data', 'model'))
    assert box.unbox() is value and box.unbox(apply_constraint=False) is value
    out = meta.unbox({'w': meta.Partitioned(box, ('outer',)), 'n': 2})
    assert out['w'] is value and out['n'] == 2


def test_replace_boxed_keeps_box_types_and_metadata():
    tree = {'w': meta.Partitioned(np.zeros(2), ('data',)), 'b': np.zeros(1)}
    new = meta.replace_boxed(tree, {'w': np.ones(2), 'b': np.ones(1)})
    assert isinstance(new['w'], meta.Partitioned) and new['w'].names == ('data',)
    np.testing.assert_array_equal(new['w'].value, [1.0, 1.0])
    np.testing.assert_array_equal(new['b'], [1.0])
    # a box's update may itself be a subtree (the box holds a dict here)
    dict_box = {'w': meta.Partitioned({'k': 1.0}, ())}
    assert meta.replace_boxed(dict_box, {'w': {'k': 2.0}})['w'].value == {'k': 2.0}
    with pytest.raises(ValueError):
        meta.replace_boxed(tree, {'w': 1.0})


def test_with_partitioning_wraps_the_initializer():
    init = initializers.lecun_normal()
    key = random.PRNGKey(3)
    box = meta.with_partitioning(init, ('data', 'model'))(key, (4, 6))
    assert isinstance(box, meta.Partitioned) and box.names == ('data', 'model')
    np.testing.assert_array_equal(box.value, init(key, (4, 6)))


def test_get_partition_spec_of_the_seed_guide_state():
    layer = {
        'W1': meta.Partitioned(np.ones((3, 3)), (None, 'model')),
        'W2': meta.Partitioned(np.ones((3, 3)), ('model', None)),
    }
    state = {'params': meta.add_axis(layer, 0, {PN: None}), 'step': np.array(0), 'count': 1, 'name': 'adam'}
    spec = meta.get_partition_spec(state)
    assert spec['params']['W1'] == (None, None, 'model')
    assert spec['params']['W2'] == (None, 'model', None)
    assert type(spec['params']['W1']) is P and spec['step'] == P() and type(spec['step']) is P
    assert spec['count'] is None and spec['name'] is None


# --- spmd -------------------------------------------------------------------------


def test_logical_to_mesh_axes_seed_example():
    rules = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))
    out = spmd.logical_to_mesh_axes(('batch', 'length', 'heads', 'features'), rules)
    assert out == ('X', None, 'Y', None) and type(out) is P


@pytest.mark.parametrize(
    'names, rules, expected',
    [
        (('a',), (('a', 'x'), ('a', 'y')), ('x',)),
        (('a', 'b'), (('a', 'x'), ('b', 'x'), ('b', 'y')), ('x', 'y')),
        (('a',), (('a', None), ('a', 'x')), (None,)),
        (('a', 'b'), (('a', ('x', 'y')), ('b', 'y'), ('b', 'z')), (('x', 'y'), 'z')),
        ((None, 'unknown', 'a'), (('a', 'x'),), (None, None, 'x')),
        ((), (('a', 'x'),), ()),
    ],
)
def test_logical_to_mesh_axes_precedence(names, rules, expected):
    assert spmd.logical_to_mesh_axes(names, rules) == expected
    assert spmd.logical_to_mesh_axes(list(names), list(rules)) == expected


def test_logical_to_mesh_axes_errors_and_none():
    assert spmd.logical_to_mesh_axes(None, (('a', 'x'),)) is None
    with pytest.raises(ValueError, match='more than once'):
        spmd.logical_to_mesh_axes(('a', 'b', 'a'), ())
    assert spmd.logical_to_mesh_axes((None, None), ()) == (None, None)
    with pytest.raises(ValueError, match='rule'):
        spmd.logical_to_mesh_axes(('a',), {'a': 'x'})
    with pytest.raises(TypeError):
        spmd.logical_to_mesh_axes('a', (('a', 'x'),))


def test_rules_context_manager_restores_previous_rules():
    assert spmd.get_logical_axis_rules() == ()
    outer, inner = (('a', 'x'),), (('a', 'y'),)
    with spmd.logical_axis_rules(outer):
        assert spmd.logical_to_mesh_axes(('a',)) == ('x',)
        with spmd.logical_axis_rules(inner):
            assert spmd.logical_to_mesh_axes(('a',)) == ('y',)
        assert spmd.get_logical_axis_rules() == outer
        with pytest.raises(RuntimeError):
            with spmd.logical_axis_rules(inner):
                raise RuntimeError
        assert spmd.get_logical_axis_rules() == outer
    assert spmd.get_logical_axis_rules() == ()
    assert spmd.logical_to_mesh_axes(('a',)) == (None,)


def test_set_logical_axis_rules_is_per_thread():
    try:
        spmd.set_logical_axis_rules((('a', 'x'),))
        seen = []
        thread = threading.Thread(target=lambda: seen.append(spmd.get_logical_axis_rules()))
        thread.start()
        thread.join()
        assert seen == [()] and spmd.get_logical_axis_rules() == (('a', 'x'),)
    finally:
        spmd.set_logical_axis_rules(())


def test_logical_to_mesh_of_the_seed_guide_specs():
    logical = {'W1': P('layer', 'embed', 'hidden'), 'W2': P('layer', 'hidden', 'embed'), 'step': P(), 'other': None}
    out = spmd.logical_to_mesh(logical, (('batch', 'data'), ('hidden', 'model')))
    assert out == {'W1': (None, None, 'model'), 'W2': (None, 'model', None), 'step': (), 'other': None}
    assert all(type(out[k]) is P for k in ('W1', 'W2', 'step'))


def test_with_logical_constraint_is_the_identity_but_checks_rules():
    x = np.ones((2, 2))
    rules = (('batch', 'data'),)
    assert spmd.with_logical_constraint(x, ('batch', 'embed'), rules=rules) is x
    tree = {'a': x, 'b': x}
    assert spmd.with_logical_constraint(tree, {'a': ('batch',), 'b': None}, rules=rules) is tree
    with pytest.raises(ValueError, match='more than once'):
        spmd.with_logical_constraint(x, ('batch', 'batch'), rules=rules)
    with pytest.raises(ValueError, match='did not match'):
        spmd.with_logical_constraint(x, ('q',), rules=rules, fallback=spmd.RulesFallback.RAISE_ERROR)
    assert spmd.with_logical_constraint(x, ('q',), rules=rules, fallback=spmd.RulesFallback.NO_CONSTRAINT) is x


def test_logically_partitioned_box():
    rules = (('embed', 'data'),)
    box = spmd.LogicallyPartitioned(np.ones((2, 2)), ('embed', 'hidden'), rules=rules)
    assert isinstance(box, meta.Partitioned)
    assert box.get_partition_spec() == ('embed', 'hidden')
    assert box.unbox() is box.value
    mapped = tree_util.tree_map(lambda v: v + 1, box)
    assert isinstance(mapped, spmd.LogicallyPartitioned) and mapped.rules == rules
    added = meta.add_axis({'w': box}, 0, {PN: 'layer'})['w']
    assert added.names == ('layer', 'embed', 'hidden') and added.rules == rules
    assert repr(tree_util.tree_map(np.shape, added)) == (
        "LogicallyPartitioned(value=(2, 2), names=('layer', 'embed', 'hidden'), mesh=None, rules=(('embed', 'data'),))"
    )
    made = spmd.with_logical_partitioning(initializers.ones_init(), ('embed',), rules=rules)(random.PRNGKey(0), (3,))
    assert isinstance(made, spmd.LogicallyPartitioned) and made.rules == rules
    np.testing.assert_array_equal(made.value, np.ones(3))
