"""nnjax.meta and nnjax.spmd: metadata boxes, partition specs, logical axis rules.

Expectations come from the seed documentation: the SPMD API reference
(``Partitioned``, ``logical_to_mesh_axes``' worked example) and the "Scale up
Flax Modules on multiple devices" guide (the scan-stacked ``W1``/``W2`` specs,
``logical_to_mesh`` of its logical specs, ``PartitionSpec()`` for plain
arrays), or from hand derivations written next to each case.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nnjax import initializers, meta, spmd
from shared_spec import errors
from shared_spec.frozen_dict import FrozenDict

PN = meta.PARTITION_NAME


def one_device_mesh(names=('data', 'model')):
    return Mesh(np.array(jax.devices()[:1]).reshape((1,) * len(names)), names)


def constraints(jaxpr):
    """The sharding of each sharding_constraint in a (closed) jaxpr, in order."""
    return [eqn.params['sharding'] for eqn in jaxpr.jaxpr.eqns if eqn.primitive.name == 'sharding_constraint']


# --- the box as a pytree -------------------------------------------------------


def test_partition_name_key_is_the_seed_spelling():
    assert meta.PARTITION_NAME == 'partition_name'


def test_box_is_a_pytree_node_with_the_value_as_only_child():
    value = jnp.arange(6.0).reshape(2, 3)
    box = meta.Partitioned(value, ('data', None))
    leaves, treedef = jax.tree_util.tree_flatten(box)
    assert len(leaves) == 1 and leaves[0] is value
    rebuilt = jax.tree_util.tree_unflatten(treedef, [jnp.zeros((2, 3))])
    assert isinstance(rebuilt, meta.Partitioned)
    assert rebuilt.names == ('data', None) and rebuilt.mesh is None
    np.testing.assert_array_equal(rebuilt.value, np.zeros((2, 3)))


def test_tree_map_maps_the_value_and_keeps_the_metadata():
    mesh = one_device_mesh()
    tree = {'w': meta.Partitioned(jnp.ones((2, 3)), ('data', 'model'), mesh=mesh), 'b': jnp.ones(3)}
    out = jax.tree_util.tree_map(lambda x: x * 3.0, tree)
    assert isinstance(out['w'], meta.Partitioned)
    assert out['w'].names == ('data', 'model') and out['w'].mesh is mesh
    np.testing.assert_array_equal(out['w'].value, np.full((2, 3), 3.0))
    np.testing.assert_array_equal(out['b'], np.full(3, 3.0))


def test_metadata_is_part_of_the_tree_structure():
    a = jax.tree_util.tree_structure(meta.Partitioned(1.0, ('x',)))
    b = jax.tree_util.tree_structure(meta.Partitioned(1.0, ('y',)))
    assert a != b


def test_jit_and_grad_see_through_boxes():
    box = meta.Partitioned(jnp.array([1.0, 2.0]), ('data',))
    doubled = jax.jit(lambda b: jax.tree_util.tree_map(lambda v: 2 * v, b))(box)
    assert doubled.names == ('data',)
    np.testing.assert_array_equal(doubled.value, [2.0, 4.0])
    grads = jax.grad(lambda b: jnp.sum(b.value**2))(box)
    assert isinstance(grads, meta.Partitioned) and grads.names == ('data',)
    np.testing.assert_array_equal(grads.value, [2.0, 4.0])


def test_seed_guide_tree_map_difference_of_boxed_params():
    # The guide subtracts two boxed param dicts with tree_map and unboxes.
    params = {'W1': meta.Partitioned(jnp.ones((4, 5, 5)), (None, None, 'model'))}
    diff = jax.tree_util.tree_map(lambda a, b: a - b, params, params)
    assert diff['W1'].names == (None, None, 'model')
    assert diff['W1'].unbox().shape == (4, 5, 5)


def test_replace_and_frozen():
    box = meta.Partitioned(1.0, ('a',))
    assert box.replace(names=('b',)).names == ('b',) and box.names == ('a',)
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.names = ('c',)


def test_names_are_stored_as_a_tuple_and_a_bare_string_is_rejected():
    assert meta.Partitioned(jnp.ones(2), ['data']).names == ('data',)
    with pytest.raises(TypeError, match="'data',"):
        meta.Partitioned(jnp.ones(4), 'data')
    with pytest.raises(TypeError):
        meta.with_partitioning(initializers.zeros_init(), 'data')


def test_repr_matches_the_seed_guide_format():
    box = jax.tree_util.tree_map(jnp.shape, meta.Partitioned(jnp.ones((4, 8)), (None, 'model')))
    assert repr(box) == "Partitioned(value=(4, 8), names=(None, 'model'), mesh=None)"


def test_abstract_base_cannot_be_instantiated():
    with pytest.raises(TypeError):
        meta.AxisMetadata()
    assert meta.is_axis_metadata(meta.Partitioned(1.0, ()))
    assert not meta.is_axis_metadata(jnp.ones(2))


# --- add_axis / remove_axis ------------------------------------------------------


@pytest.mark.parametrize(
    'names, index, name, expected',
    [
        (('a', 'b'), 0, 'L', ('L', 'a', 'b')),
        (('a', 'b'), 1, None, ('a', None, 'b')),
        (('a', 'b'), 2, 'L', ('a', 'b', 'L')),
        # index past the end: the gap is padded with None (unsharded) first
        (('a',), 3, 'L', ('a', None, None, 'L')),
        ((), 0, 'L', ('L',)),
    ],
)
def test_box_add_axis_inserts_the_partition_name(names, index, name, expected):
    box = meta.Partitioned(0.0, names)
    added = box.add_axis(index, {PN: name})
    assert added.names == expected
    assert added.remove_axis(index, {PN: name}).names[: len(names)] == names


def test_add_axis_without_partition_name_is_the_catalogue_error():
    box = meta.Partitioned(jnp.ones(2), ('data',))
    with pytest.raises(errors.PartitioningUnspecifiedError, match='partition_name'):
        box.add_axis(0, {})
    with pytest.raises(errors.PartitioningUnspecifiedError):
        box.remove_axis(0, {'other': 1})


def test_remove_axis_of_a_different_name_raises():
    box = meta.Partitioned(0.0, ('layers', 'data'))
    with pytest.raises(ValueError, match="'layers'"):
        box.remove_axis(0, {PN: 'other'})
    with pytest.raises(ValueError, match='no such axis'):
        box.remove_axis(5, {PN: 'layers'})


def test_tree_add_remove_axis_on_nested_trees_leave_plain_arrays_alone():
    plain = jnp.ones((2,))
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
    outer = meta.Partitioned(inner, ('o',))
    added = meta.add_axis({'x': outer}, 0, {PN: 'L'})['x']
    assert added.names == ('L', 'o') and added.value is inner


def test_tree_functions_without_boxes_are_identity():
    tree = {'a': jnp.ones(2), 'b': [1, 2.0]}
    for out in (meta.add_axis(tree, 0, {}), meta.remove_axis(tree, 0, {}), meta.unbox(tree)):
        assert out['a'] is tree['a'] and out['b'] == [1, 2.0]


# --- unbox / replace_boxed ------------------------------------------------------


def test_unbox_without_mesh_returns_the_value_itself():
    value = jnp.ones((2, 2))
    box = meta.Partitioned(value, ('data', 'model'))
    assert box.unbox() is value
    assert meta.unbox({'w': box})['w'] is value
    jaxpr = jax.make_jaxpr(lambda v: meta.Partitioned(v, ('data', 'model')).unbox())(value)
    assert constraints(jaxpr) == []


def test_unbox_strips_nested_boxes():
    tree = {'w': meta.Partitioned(meta.Partitioned(jnp.arange(3), ('a',)), ('b',)), 'n': 2}
    out = meta.unbox(tree)
    np.testing.assert_array_equal(out['w'], [0, 1, 2])
    assert out['n'] == 2


def test_replace_boxed_keeps_box_types_and_metadata():
    tree = {'w': meta.Partitioned(jnp.zeros(2), ('data',)), 'b': jnp.zeros(1)}
    new = meta.replace_boxed(tree, {'w': jnp.ones(2), 'b': jnp.ones(1)})
    assert isinstance(new['w'], meta.Partitioned) and new['w'].names == ('data',)
    np.testing.assert_array_equal(new['w'].value, [1.0, 1.0])
    np.testing.assert_array_equal(new['b'], [1.0])
    nested = meta.Partitioned(meta.Partitioned(0.0, ('i',)), ('o',))
    out = meta.replace_boxed(nested, 5.0)
    assert out.names == ('o',) and out.value.names == ('i',) and out.value.value == 5.0


def test_unbox_with_a_box_mesh_applies_its_named_sharding():
    mesh = one_device_mesh()
    x = jnp.ones((2, 4))
    jaxpr = jax.make_jaxpr(lambda v: meta.Partitioned(v, ('data', 'model'), mesh=mesh).unbox())(x)
    (sharding,) = constraints(jaxpr)
    assert isinstance(sharding, NamedSharding) and sharding.mesh == mesh
    assert tuple(sharding.spec) == ('data', 'model')
    off = jax.make_jaxpr(lambda v: meta.Partitioned(v, ('data', 'model'), mesh=mesh).unbox(apply_constraint=False))(x)
    assert constraints(off) == []


def test_unbox_under_an_active_mesh_applies_the_spec():
    mesh = one_device_mesh()
    assert not meta.global_mesh_defined()
    with jax.set_mesh(mesh):
        assert meta.global_mesh_defined()
        jaxpr = jax.make_jaxpr(lambda v: meta.Partitioned(v, (None, 'model')).unbox())(jnp.ones((2, 2)))
    (sharding,) = constraints(jaxpr)
    assert tuple(sharding.spec) == (None, 'model')
    assert not meta.global_mesh_defined()


# --- with_partitioning, get_partition_spec, get_sharding -------------------------


def test_with_partitioning_wraps_the_initializer():
    init = initializers.lecun_normal()
    wrapped = meta.with_partitioning(init, ('data', 'model'))
    key = jax.random.PRNGKey(3)
    box = wrapped(key, (4, 6))
    assert isinstance(box, meta.Partitioned) and box.names == ('data', 'model')
    np.testing.assert_array_equal(box.value, init(key, (4, 6)))
    assert meta.with_partitioning(initializers.zeros_init(), ()).__name__ == initializers.zeros_init().__name__


def test_get_partition_spec_of_the_seed_guide_state():
    # After nn.scan with metadata_params={PARTITION_NAME: None} the guide shows
    # W1: (None, None, 'model'), W2: (None, 'model', None); plain arrays -> PartitionSpec().
    layer = {
        'W1': meta.Partitioned(jnp.ones((3, 3)), (None, 'model')),
        'W2': meta.Partitioned(jnp.ones((3, 3)), ('model', None)),
    }
    stacked = meta.add_axis(layer, 0, {PN: None})
    state = {'params': stacked, 'step': jnp.array(0), 'count': 1, 'name': 'adam'}
    spec = meta.get_partition_spec(state)
    assert spec['params']['W1'] == P(None, None, 'model')
    assert spec['params']['W2'] == P(None, 'model', None)
    assert spec['step'] == P()
    assert spec['count'] is None and spec['name'] is None


def test_get_partition_spec_of_eval_shape_output():
    init = meta.with_partitioning(initializers.ones_init(), ('data', None))
    abstract = jax.eval_shape(lambda k: {'w': init(k, (4, 2)), 'b': jnp.zeros(2)}, jax.random.PRNGKey(0))
    assert isinstance(abstract['w'], meta.Partitioned)
    assert meta.get_partition_spec(abstract) == {'w': P('data', None), 'b': P()}


def test_get_sharding_and_a_missing_mesh():
    mesh = one_device_mesh()
    tree = {'w': meta.Partitioned(jnp.ones((2, 2)), ('data', 'model')), 'b': jnp.ones(2), 'n': 3}
    shardings = meta.get_sharding(tree, mesh)
    assert shardings['w'] == NamedSharding(mesh, P('data', 'model'))
    assert shardings['b'] == NamedSharding(mesh, P())
    assert shardings['n'] is None
    with pytest.raises(ValueError, match='Mesh'):
        meta.get_sharding(tree, None)


# --- spmd: rules ----------------------------------------------------------------


def test_logical_to_mesh_axes_seed_example():
    rules = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))
    out = spmd.logical_to_mesh_axes(('batch', 'length', 'heads', 'features'), rules)
    assert out == P('X', None, 'Y', None)


@pytest.mark.parametrize(
    'names, rules, expected',
    [
        # first matching rule wins; a later rule for the same name is ignored
        (('a',), (('a', 'x'), ('a', 'y')), ('x',)),
        # a rule whose mesh axis is taken is skipped; the next one for the name applies
        (('a', 'b'), (('a', 'x'), ('b', 'x'), ('b', 'y')), ('x', 'y')),
        # a rule to None settles the dimension as unsharded
        (('a',), (('a', None), ('a', 'x')), (None,)),
        # multi-axis assignments block each of their axes
        (('a', 'b'), (('a', ('x', 'y')), ('b', 'y'), ('b', 'z')), (('x', 'y'), 'z')),
        # None dims and unknown names are unsharded
        ((None, 'unknown', 'a'), (('a', 'x'),), (None, None, 'x')),
        ((), (('a', 'x'),), ()),
    ],
)
def test_logical_to_mesh_axes_precedence(names, rules, expected):
    assert tuple(spmd.logical_to_mesh_axes(names, rules)) == expected
    assert tuple(spmd.logical_to_mesh_axes(list(names), list(rules))) == expected


def test_logical_to_mesh_axes_errors_and_none():
    assert spmd.logical_to_mesh_axes(None, (('a', 'x'),)) is None
    with pytest.raises(ValueError, match='more than once'):
        spmd.logical_to_mesh_axes(('a', 'b', 'a'), ())
    assert spmd.logical_to_mesh_axes((None, None), ()) == P(None, None)  # None may repeat
    with pytest.raises(ValueError, match='rule'):
        spmd.logical_to_mesh_axes(('a',), {'a': 'x'})
    with pytest.raises(TypeError):
        spmd.logical_to_mesh_axes('a', (('a', 'x'),))


def test_rules_context_manager_restores_previous_rules():
    assert spmd.get_logical_axis_rules() == ()
    outer, inner = (('a', 'x'),), (('a', 'y'),)
    with spmd.logical_axis_rules(outer):
        assert spmd.logical_to_mesh_axes(('a',)) == P('x')
        with spmd.logical_axis_rules(inner):
            assert spmd.logical_to_mesh_axes(('a',)) == P('y')
        assert spmd.get_logical_axis_rules() == outer
        with pytest.raises(RuntimeError):
            with spmd.logical_axis_rules(inner):
                raise RuntimeError
        assert spmd.get_logical_axis_rules() == outer
    assert spmd.get_logical_axis_rules() == ()
    assert spmd.logical_to_mesh_axes(('a',)) == P(None)


def test_set_logical_axis_rules_and_threads():
    try:
        spmd.set_logical_axis_rules((('a', 'x'),))
        assert spmd.get_logical_axis_rules() == (('a', 'x'),)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(spmd.get_logical_axis_rules()))
        thread.start()
        thread.join()
        assert seen == [()]
    finally:
        spmd.set_logical_axis_rules(())


def test_logical_to_mesh_of_the_seed_guide_specs():
    logical = {'W1': P('layer', 'embed', 'hidden'), 'W2': P('layer', 'hidden', 'embed'), 'step': P(), 'other': None}
    rules = (('batch', 'data'), ('hidden', 'model'))
    mesh_specs = spmd.logical_to_mesh(logical, rules)
    assert mesh_specs == {'W1': P(None, None, 'model'), 'W2': P(None, 'model', None), 'step': P(), 'other': None}
    # ... which the guide checks equals the device-axis model's specs.
    device = meta.get_partition_spec(
        meta.add_axis(
            {
                'W1': meta.Partitioned(jnp.ones((2, 2)), (None, 'model')),
                'W2': meta.Partitioned(jnp.ones((2, 2)), ('model', None)),
            },
            0,
            {PN: None},
        )
    )
    assert device == {k: mesh_specs[k] for k in ('W1', 'W2')}


def test_logical_to_mesh_sharding():
    mesh = one_device_mesh()
    out = spmd.logical_to_mesh_sharding({'w': P('embed', 'hidden')}, mesh, (('hidden', 'model'),))
    assert out['w'] == NamedSharding(mesh, P(None, 'model'))


# --- spmd: constraints and the logical box ---------------------------------------


def test_with_logical_constraint_is_a_no_op_without_rules_or_mesh():
    x = jnp.ones((2, 2))
    assert spmd.with_logical_constraint(x, ('batch', 'embed')) is x  # no rules
    assert spmd.with_logical_constraint(x, ('batch', 'embed'), rules=(('batch', 'data'),)) is x
    assert spmd.with_logical_constraint(x, None, rules=(('batch', 'data'),)) is x
    # rule errors are raised even without a mesh
    with pytest.raises(ValueError, match='more than once'):
        spmd.with_logical_constraint(x, ('b', 'b'), rules=(('b', 'data'),))
    with pytest.raises(ValueError, match='did not match'):
        spmd.with_logical_constraint(x, ('q', 'b'), rules=(('b', 'data'),), fallback=spmd.RulesFallback.RAISE_ERROR)


def test_with_logical_constraint_under_a_mesh():
    mesh = one_device_mesh()
    rules = (('batch', 'data'), ('hidden', 'model'))
    x = jnp.ones((2, 4))
    jaxpr = jax.make_jaxpr(lambda v: spmd.with_logical_constraint(v, ('batch', 'embed'), rules=rules, mesh=mesh))(x)
    (sharding,) = constraints(jaxpr)
    assert sharding == NamedSharding(mesh, P('data', None))
    with jax.set_mesh(mesh), spmd.logical_axis_rules(rules):
        jaxpr = jax.make_jaxpr(lambda t: spmd.with_logical_constraint(t, {'a': ('hidden', 'batch'), 'b': None}))(
            {'a': x, 'b': x}
        )
        unconstrained = jax.make_jaxpr(
            lambda v: spmd.with_logical_constraint(v, ('q', 'batch'), fallback=spmd.RulesFallback.NO_CONSTRAINT)
        )(x)
    (sharding,) = constraints(jaxpr)
    assert tuple(sharding.spec) == ('model', 'data')
    assert constraints(unconstrained) == []


def test_logically_partitioned_specs_are_logical_and_unbox_maps_them():
    mesh = one_device_mesh()
    rules = (('embed', 'data'), ('hidden', 'model'))
    box = spmd.LogicallyPartitioned(jnp.ones((2, 4)), ('embed', 'hidden'), mesh=mesh, rules=rules)
    assert box.get_partition_spec() == P('embed', 'hidden')  # as in the seed guide
    assert isinstance(box, meta.Partitioned)
    (sharding,) = constraints(jax.make_jaxpr(lambda v: box.replace_boxed(v).unbox())(box.value))
    assert sharding == NamedSharding(mesh, P('data', 'model'))
    plain = spmd.LogicallyPartitioned(jnp.ones(2), ('embed',))
    assert plain.unbox() is plain.value


def test_logically_partitioned_keeps_rules_through_trees_and_axes():
    rules = (('embed', 'data'),)
    box = spmd.LogicallyPartitioned(jnp.ones((2, 2)), ('embed', 'hidden'), rules=rules)
    mapped = jax.tree_util.tree_map(lambda v: v + 1, box)
    assert isinstance(mapped, spmd.LogicallyPartitioned) and mapped.rules == rules
    added = meta.add_axis({'w': box}, 0, {PN: 'layer'})['w']
    assert isinstance(added, spmd.LogicallyPartitioned)
    assert added.names == ('layer', 'embed', 'hidden') and added.rules == rules
    assert repr(jax.tree_util.tree_map(jnp.shape, added)) == (
        "LogicallyPartitioned(value=(2, 2), names=('layer', 'embed', 'hidden'), mesh=None, rules=(('embed', 'data'),))"
    )


def test_with_logical_partitioning_wraps_the_initializer():
    wrapped = spmd.with_logical_partitioning(initializers.ones_init(), ('embed', 'hidden'), rules=(('embed', 'data'),))
    box = wrapped(jax.random.PRNGKey(0), (2, 3))
    assert isinstance(box, spmd.LogicallyPartitioned)
    assert box.names == ('embed', 'hidden') and box.rules == (('embed', 'data'),)
    np.testing.assert_array_equal(box.value, np.ones((2, 3)))


def test_on_eight_devices_unbox_shards_as_the_seed_guide_shows():
    # Needs several devices, so it runs in a fresh process with 8 CPU devices.
    script = textwrap.dedent('''
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import Mesh, PartitionSpec as P
        from nnjax import meta, spmd
        mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ('data', 'model'))
        box = meta.Partitioned(jnp.ones((4, 8, 8)), (None, None, 'model'), mesh=mesh)
        out = jax.jit(lambda b: b.unbox())(box)
        print(tuple(out.sharding.spec), out.sharding.mesh.shape['model'])
        rules = (('batch', 'data'), ('hidden', 'model'))
        with jax.set_mesh(mesh):
            lbox = spmd.LogicallyPartitioned(jnp.ones((8, 8)), ('batch', 'hidden'), rules=rules)
            print(tuple(jax.jit(lambda b: b.unbox())(lbox).sharding.spec))
    ''')
    env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=8', JAX_PLATFORMS='cpu')
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, '-c', script], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines == ["(None, None, 'model') 4", "('data', 'model')"]
