"""param_with_axes / variable_with_axes / get_axis_names / scan_with_axes on both backends.

Expected names and shapes are the seed's (``t5_block.EXPECTED_*``, derived
from its documented recording rules).
"""

import importlib

import numpy as np
import pytest

from tests.partitioning import t5_block as T


def test_importable_as_the_seed_spells_it(nn):
    mod = importlib.import_module(f'{nn.__name__}.partitioning')
    assert nn.partitioning is mod
    assert mod.axis_rules is nn.logical_axis_rules
    assert mod.with_sharding_constraint is nn.with_logical_constraint
    assert mod.AxisMetadata is not nn.meta.AxisMetadata


def test_t5_stack_records_the_seed_axis_names(nn):
    v, _, _ = T.run(nn.__name__)
    assert set(v) == {'params', 'params_axes', 'cache', 'cache_axes'}
    assert T.axes_names(v['params_axes']) == T.EXPECTED_PARAMS_AXES
    assert T.axes_names(v['cache_axes']) == T.EXPECTED_CACHE_AXES
    assert T.shapes(v['params']) == T.EXPECTED_SHAPES
    assert T.shapes(v['cache']) == {'layers': {'attention': {'calls': (T.HEADS, T.LAYERS)}}}
    md = v['params_axes']['embedding_axes']
    assert type(md) is nn.partitioning.AxisMetadata
    assert nn.tree_util.tree_leaves(md) == []  # names are static, not leaves


def test_apply_checks_and_keeps_the_names(nn):
    _, y, upd = T.run(nn.__name__)
    assert y.shape == (2, 3, T.EMBED)
    assert T.axes_names(upd['params_axes']) == T.EXPECTED_PARAMS_AXES
    np.testing.assert_array_equal(
        np.asarray(upd['cache']['layers']['attention']['calls']), np.full((T.HEADS, T.LAYERS), 2.0)
    )


def _small(nn, scanned: bool):
    P = nn.partitioning

    class Layer(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return x * P.param_with_axes('w', nn.initializers.ones_init(), (2,), axes=('embed',)), None

    if not scanned:
        return Layer
    return P.scan_with_axes(Layer, variable_axes={'params': 0}, split_rngs={'params': True}, length=2)


def test_names_sown_twice_must_match(nn):
    Layer = _small(nn, scanned=False)
    x = nn.numpy.ones(2)
    v = Layer().init(nn.random.PRNGKey(0), x, None)
    assert v['params_axes'] == {'w_axes': nn.partitioning.AxisMetadata(('embed',))}
    Layer().apply(v, x, None, mutable=['params_axes'])  # the same names again: fine
    tampered = dict(v, params_axes={'w_axes': nn.partitioning.AxisMetadata(('mlp',))})
    with pytest.raises(ValueError, match='^If axis names are sown twice, expected them to match'):
        Layer().apply(tampered, x, None, mutable=['params_axes'])


def test_scanned_names_must_carry_the_scan_axis_on_the_way_in(nn):
    Stack = _small(nn, scanned=True)
    x = nn.numpy.ones(2)
    v = Stack().init(nn.random.PRNGKey(0), x, None)
    assert v['params_axes'] == {'w_axes': nn.partitioning.AxisMetadata(('layers', 'embed'))}
    bad = dict(v, params_axes={'w_axes': nn.partitioning.AxisMetadata(('embed', 'layers'))})
    with pytest.raises(ValueError, match="^Expected axis layers at position 0 in axis metadata"):
        Stack().apply(bad, x, None)


def test_get_axis_names_drops_the_suffix(nn):
    v, _, _ = T.run(nn.__name__)
    specs = nn.partitioning.get_axis_names(v['params_axes'])
    assert isinstance(specs, nn.FrozenDict)
    PS = type(nn.partitioning.logical_to_mesh_axes(('a',), ()))
    assert specs['embedding'] == PS('vocab', 'embed')
    assert specs['layers']['mlp']['wo'] == PS('layers', 'mlp', 'embed')
    assert set(specs['layers']['attention']) == {'query', 'key', 'value', 'out'}
    mesh = nn.partitioning.logical_to_mesh(specs, T.RULES)
    assert tuple(mesh['embedding']) == ('model', None)
    assert tuple(mesh['layers']['attention']['query']) == (None, None, 'model', None)
    assert tuple(mesh['layers']['mlp']['wi']) == (None, None, 'model')
    assert tuple(mesh['layers']['scale']) == (None, None)


def test_get_axis_names_of_none_and_empty(nn):
    P = nn.partitioning
    assert P.get_axis_names({}) == nn.FrozenDict({})
    out = P.get_axis_names({'a': {'k_axes': P.AxisMetadata(('x', None))}, 'b_axes': P.AxisMetadata(None)})
    assert out['b'] is None and tuple(out['a']['k']) == ('x', None)


def test_param_without_axes_records_nothing(nn):
    P = nn.partitioning

    class Plain(nn.Module):
        @nn.compact
        def __call__(self):
            return P.param_with_axes('w', nn.initializers.ones_init(), (2,))

    v = nn.init(lambda m: m(), Plain())(nn.random.PRNGKey(0))
    assert set(v) == {'params'}


def test_param_with_axes_needs_a_module(nn):
    with pytest.raises(ValueError, match='needs a Module'):
        nn.partitioning.param_with_axes('w', nn.initializers.ones_init(), (2,), axes=('a',))


def test_variable_with_axes_reads_and_writes(nn):
    P = nn.partitioning

    class Counter(nn.Module):
        @nn.compact
        def __call__(self):
            v = P.variable_with_axes(
                'stats', 'n', nn.numpy.zeros, (3,), axes=('mlp',), fallback=P.RulesFallback.RAISE_ERROR
            )
            v.value = v.value + 1
            return v

    with P.axis_rules((('mlp', 'model'),)):
        var, state = nn.init_with_output(lambda m: m(), Counter())(nn.random.PRNGKey(0))
    assert isinstance(var, P.PartitionedVariable) and var.axes == ('mlp',)
    assert state['stats_axes'] == {'n_axes': P.AxisMetadata(('mlp',))}
    np.testing.assert_array_equal(np.asarray(state['stats']['n']), np.ones(3))
    # RAISE_ERROR applies to reads and writes: 'mlp' has no rule here.
    with P.axis_rules((('batch', 'data'),)):
        with pytest.raises(ValueError, match=r"^Axis names \('mlp',\) did not match a rule"):
            nn.apply(lambda m: m(), Counter(), mutable=['stats'])(state)
    # An immutable collection without the variable: the seed's lookup error.
    with pytest.raises(nn.errors.ScopeVariableNotFoundError):
        nn.apply(lambda m: m(), Counter())({})
