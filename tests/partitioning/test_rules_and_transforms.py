"""Logical rules with each fallback, vmap_with_axes, remat and add_metadata_axis, on both backends.

Expected specs follow the seed's documented rule semantics (rules in order
of precedence; a rule places a dimension only if unplaced and its mesh axes
are still free), worked out by hand below.
"""

import numpy as np
import pytest

from shared_spec import logical_axes

SEED_DOC_RULES = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))


def _entries(spec):
    return None if spec is None else tuple(spec)


@pytest.mark.parametrize(
    'names, rules, expected',
    [
        # The seed's documented example: 'features' loses 'X' to 'batch'.
        (('batch', 'length', 'heads', 'features'), SEED_DOC_RULES, ('X', None, 'Y', None)),
        # The first rule for a name wins; a later one for the same name is ignored.
        (('batch',), (('batch', 'Z'), ('batch', 'X')), ('Z',)),
        # A mesh axis is used once: the second dimension asking for 'model' stays unsharded...
        (('mlp', 'heads'), (('mlp', 'model'), ('heads', 'model')), ('model', None)),
        # ...and a later rule may place it on another axis.
        (('mlp', 'heads'), (('mlp', 'model'), ('heads', 'model'), ('heads', 'data')), ('model', 'data')),
        # Several mesh axes for one dimension block each of them.
        (('batch', 'embed'), (('batch', ('data', 'fsdp')), ('embed', 'fsdp')), (('data', 'fsdp'), None)),
        # A None mesh axis means unsharded and blocks nothing.
        (('embed', 'mlp'), (('embed', None), ('mlp', 'model')), (None, 'model')),
        # None dimensions stay None; no names at all give None.
        ((None, 'mlp'), (('mlp', 'model'),), (None, 'model')),
        (None, (('mlp', 'model'),), None),
    ],
)
def test_logical_to_mesh_axes(nn, names, rules, expected):
    assert _entries(nn.partitioning.logical_to_mesh_axes(names, rules)) == expected
    with nn.partitioning.axis_rules(rules):
        assert nn.partitioning.get_axis_rules() == rules
        assert _entries(nn.partitioning.logical_to_mesh_axes(names)) == expected
    assert nn.partitioning.get_axis_rules() == ()


def test_set_axis_rules(nn):
    P = nn.partitioning
    P.set_axis_rules((('batch', 'data'),))
    try:
        assert nn.get_logical_axis_rules() == (('batch', 'data'),)
        assert _entries(P.logical_to_mesh_axes(('batch',))) == ('data',)
    finally:
        P.set_axis_rules(())


def test_repeated_logical_name_is_an_error(nn):
    with pytest.raises(ValueError, match=r"^Unsupported: Dimensions \('embed',\) occur more than once"):
        nn.partitioning.logical_to_mesh_axes(('embed', 'mlp', 'embed'), ())
    with pytest.raises(ValueError, match='^Unknown axis rule specification type'):
        nn.partitioning.logical_to_mesh_axes(('embed',), {'embed': 'model'})


def test_fallbacks_without_a_mesh(nn):
    P = nn.partitioning
    x = nn.numpy.ones((2, 3))
    rules = (('batch', 'data'),)
    F = P.RulesFallback
    # No device mesh: constraints are identities, whatever the fallback...
    for fallback in (F.AXIS_IS_UNSHARDED, F.NO_CONSTRAINT):
        assert P.with_sharding_constraint(x, ('batch', 'mlp'), rules=rules, fallback=fallback) is x
    assert P.with_sharding_constraint(x, ('batch', None), rules=rules, fallback=F.RAISE_ERROR) is x
    # ...but RAISE_ERROR still rejects a name no rule places.
    with pytest.raises(ValueError, match=r"^Axis names \('batch', 'mlp'\) did not match a rule"):
        P.with_sharding_constraint(x, ('batch', 'mlp'), rules=rules, fallback=F.RAISE_ERROR)
    # With no rules at all nothing is checked (the seed returns early).
    assert P.with_sharding_constraint(x, ('batch', 'mlp'), fallback=F.RAISE_ERROR) is x
    # Trees of specs walk trees of arrays.
    tree = {'a': x, 'b': x}
    with pytest.raises(ValueError, match='did not match a rule'):
        P.with_sharding_constraint(
            tree, {'a': ('batch', None), 'b': ('mlp', None)}, rules=rules, fallback=F.RAISE_ERROR
        )


def test_shared_fallback_arithmetic():
    F = logical_axes.RulesFallback
    rules = (('batch', 'data'), ('mlp', 'data'))
    # 'mlp' is matched by a rule but its mesh axis is taken: still unplaced.
    assert logical_axes.apply_fallback(('batch', 'mlp'), rules, F.AXIS_IS_UNSHARDED) == ['data', None]
    assert logical_axes.apply_fallback(('batch', 'mlp'), rules, F.NO_CONSTRAINT) is logical_axes.UNASSIGNED
    with pytest.raises(ValueError, match=r"no rule placed \['mlp'\]"):
        logical_axes.apply_fallback(('batch', 'mlp'), rules, F.RAISE_ERROR)
    assert logical_axes.apply_fallback(('batch', None), rules, F.RAISE_ERROR) == ['data', None]


def test_vmap_with_axes_inserts_the_mapped_axis_name(nn):
    P = nn.partitioning

    class Head(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x @ P.param_with_axes('w', nn.initializers.ones_init(), (3, 2), axes=('embed', 'kv'))

    Heads = P.vmap_with_axes(
        Head, variable_axes={'params': 1}, split_rngs={'params': True}, partitioning_axis_names={'params': 'heads'}
    )
    x = nn.numpy.ones((5, 4, 3))
    v = Heads().init(nn.random.PRNGKey(0), x)
    # The seed: the stacked axis is at variable_axes' position 1, and so is its name.
    assert v['params']['w'].shape == (3, 5, 2)
    assert v['params_axes'] == {'w_axes': P.AxisMetadata(('embed', 'heads', 'kv'))}
    y, upd = Heads().apply(v, x, mutable=['params_axes'])
    assert y.shape == (5, 4, 2)
    assert upd['params_axes'] == v['params_axes']


def test_remat_counts_static_argnums_after_the_module(nn):
    P = nn.partitioning

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, deterministic: bool):
            h = P.param_with_axes('w', nn.initializers.ones_init(), (2, 2), axes=('embed', 'mlp'))
            return x if deterministic else x @ h

    x = nn.numpy.ones((1, 2))
    # static_argnums=(1,) is `deterministic` (x is 0): it may drive Python control flow.
    Checked = P.remat(Block, static_argnums=(1,))
    v = Checked().init(nn.random.PRNGKey(0), x, False)
    assert v['params_axes'] == {'w_axes': P.AxisMetadata(('embed', 'mlp'))}
    np.testing.assert_allclose(np.asarray(Checked().apply(v, x, False)), np.full((1, 2), 2.0))
    np.testing.assert_allclose(np.asarray(Checked().apply(v, x, True)), np.ones((1, 2)))


def _boxed_layer(nn):
    class Layer(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            init = nn.with_partitioning(nn.initializers.ones_init(), ('embed', 'mlp'))
            return c, x @ self.param('w', init, (3, 4))

    return Layer


def test_add_metadata_axis_alone_changes_only_the_names(nn):
    Tagged = nn.add_metadata_axis(
        _boxed_layer(nn), variable_axes={'params': 1}, metadata_params={nn.PARTITION_NAME: 'heads'}
    )
    x = nn.numpy.ones((5, 3))
    v = Tagged().init(nn.random.PRNGKey(0), 0.0, x)
    assert v['params']['w'].names == ('embed', 'heads', 'mlp')
    assert v['params']['w'].value.shape == (3, 4)
    assert Tagged().apply(v, 0.0, x)[1].shape == (5, 4)  # the axis is stripped again on the way in


def test_add_metadata_axis_under_scan_and_vmap(nn):
    Tagged = nn.add_metadata_axis(
        _boxed_layer(nn), variable_axes={'params': 0}, metadata_params={nn.PARTITION_NAME: 'heads'}
    )
    xs = nn.numpy.ones((2, 5, 3))
    Scanned = nn.scan(
        Tagged,
        variable_axes={'params': 0},
        split_rngs={'params': True},
        length=2,
        metadata_params={nn.PARTITION_NAME: 'layers'},
    )
    v = Scanned().init(nn.random.PRNGKey(0), 0.0, xs)
    # The seed: the inner transform adds 'heads' at 0, then scan adds 'layers' at 0.
    assert v['params']['w'].names == ('layers', 'heads', 'embed', 'mlp')
    assert v['params']['w'].value.shape == (2, 3, 4)
    assert Scanned().apply(v, 0.0, xs)[1].shape == (2, 5, 4)
    Mapped = nn.vmap(
        Tagged,
        variable_axes={'params': 1},
        split_rngs={'params': True},
        in_axes=(None, 0),
        metadata_params={nn.PARTITION_NAME: 'batch'},
    )
    v = Mapped().init(nn.random.PRNGKey(0), 0.0, xs)
    assert v['params']['w'].names == ('heads', 'batch', 'embed', 'mlp')
    assert v['params']['w'].value.shape == (3, 2, 4)


def test_add_metadata_axis_needs_the_partition_name(nn):
    Tagged = nn.add_metadata_axis(_boxed_layer(nn), variable_axes={'params': 0})
    with pytest.raises(nn.errors.PartitioningUnspecifiedError):
        Tagged().init(nn.random.PRNGKey(0), 0.0, nn.numpy.ones((5, 3)))
