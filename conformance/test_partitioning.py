"""The older partitioning API (``nn.partitioning``) agrees across backends.

* The T5-style stack of ``tests/partitioning/t5_block.py`` -- param_with_axes,
  variable_with_axes, with_sharding_constraint, scan_with_axes -- gives the
  same ``params_axes`` / ``cache_axes`` records, the same variable shapes and
  parameter values, and the same outputs on both backends (the nnjax apply
  is given nnref's variables, so a difference in apply cannot hide behind one
  in init).
* Drawn logical names, rules and fallbacks: ``logical_to_mesh_axes`` gives the
  same entries, and ``with_sharding_constraint`` the same outcome (the input
  back, or the same exception class), on both.
* Drawn ``*_axes`` collections: ``get_axis_names`` gives the same spec trees.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_trees_close
from tests.partitioning import t5_block as T

nnref = pytest.importorskip('nnref')
nnjax = pytest.importorskip('nnjax')

LOGICAL = ('batch', 'embed', 'mlp', 'heads')
MESH = ('data', 'model')


def _arrays(tree):
    return to_numpy({k: v for k, v in tree.items() if not k.endswith('_axes')})


def test_t5_stack_agrees():
    ref_v, ref_y, ref_upd = T.run('nnref')
    jax_v, jax_y, jax_upd = T.run('nnjax')
    assert T.axes_names(ref_v['params_axes']) == T.axes_names(jax_v['params_axes'])
    assert T.axes_names(ref_v['cache_axes']) == T.axes_names(jax_v['cache_axes'])
    assert T.shapes(ref_v['params']) == T.shapes(jax_v['params'])
    # Same parameters (checked first), so the applies see the same inputs.
    assert_trees_close(_arrays(jax_v), _arrays(ref_v), family='prng_normal', err_msg='init')
    assert_trees_close(to_numpy(jax_y), to_numpy(ref_y), family='matmul', err_msg='apply output')
    assert_trees_close(_arrays(jax_upd), _arrays(ref_upd), family='elementwise', err_msg='apply cache')
    assert T.axes_names(jax_upd['params_axes']) == T.axes_names(ref_upd['params_axes'])


names_st = st.lists(st.one_of(st.none(), st.sampled_from(LOGICAL)), min_size=1, max_size=4).map(tuple)
mesh_st = st.one_of(st.none(), st.sampled_from(MESH), st.just(MESH), st.just(('model', 'data')))
rules_st = st.lists(st.tuples(st.sampled_from(LOGICAL), mesh_st), max_size=5).map(tuple)
fallback_st = st.sampled_from(['axis_is_unsharded', 'raise_error', 'no_constraint'])


def _outcome(fn):
    try:
        return 'ok', fn()
    except Exception as e:  # noqa: BLE001 -- the class is what is compared
        return 'error', type(e)


@given(names=names_st, rules=rules_st, fallback=fallback_st)
def test_rules_and_fallbacks_agree(names, rules, fallback):
    def mesh(nn):
        spec = nn.partitioning.logical_to_mesh_axes(names, rules)
        return tuple(spec)

    def constrain(nn):
        x = nn.numpy.ones((2,) * len(names))
        out = nn.partitioning.with_sharding_constraint(
            x, names, rules=rules, fallback=nn.partitioning.RulesFallback(fallback)
        )
        return out is x  # no mesh: the array itself comes back, or the rules raise

    assert _outcome(lambda: mesh(nnref)) == _outcome(lambda: mesh(nnjax))
    assert _outcome(lambda: constrain(nnref)) == _outcome(lambda: constrain(nnjax))


axes_trees = st.recursive(
    st.one_of(st.none(), names_st),
    lambda children: st.dictionaries(st.sampled_from(('a', 'b', 'c')), children, min_size=1, max_size=3),
    max_leaves=6,
)


def _records(nn, tree):
    if isinstance(tree, dict):
        return {(k if isinstance(v, dict) else f'{k}_axes'): _records(nn, v) for k, v in tree.items()}
    return nn.partitioning.AxisMetadata(tree)


def _plain(tree):
    if hasattr(tree, 'items'):
        return {k: _plain(v) for k, v in tree.items()}
    return None if tree is None else tuple(tree)


@given(tree=st.dictionaries(st.sampled_from(('x', 'y')), axes_trees, max_size=2))
def test_get_axis_names_agrees(tree):
    ref = nnref.partitioning.get_axis_names(_records(nnref, tree))
    jax = nnjax.partitioning.get_axis_names(_records(nnjax, tree))
    assert _plain(ref) == _plain(jax) == _plain(tree)
