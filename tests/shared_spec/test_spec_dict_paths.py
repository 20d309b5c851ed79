"""flatten_dict / unflatten_dict / empty_node."""

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_spec.dict_paths import empty_node, flatten_dict, unflatten_dict
from shared_spec.frozen_dict import FrozenDict, freeze

keys = st.text(alphabet='abcxyz_0123', min_size=1, max_size=4)
leaves = st.one_of(st.integers(), st.floats(allow_nan=False), st.none(), st.text(max_size=3))
nested = st.recursive(
    leaves,
    lambda children: st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)
nested_dicts = st.dictionaries(keys, nested, max_size=4)


def _drop_empty(tree):
    """Tree with empty sub-dicts removed, the way flatten_dict loses them."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            v = _drop_empty(v)
            if not v:
                continue
        out[k] = v
    return out


def _leaf_count(tree):
    return sum(_leaf_count(v) if isinstance(v, dict) else 1 for v in tree.values())


@given(nested_dicts)
def test_round_trip_with_empty_nodes_is_exact(tree):
    flat = flatten_dict(tree, keep_empty_nodes=True)
    assert unflatten_dict(flat) == tree


@given(nested_dicts)
def test_round_trip_without_empty_nodes_drops_only_empty_dicts(tree):
    flat = flatten_dict(tree)
    assert len(flat) == _leaf_count(tree)
    assert empty_node not in flat.values()
    assert unflatten_dict(flat) == _drop_empty(tree)


@given(nested_dicts)
def test_separator_round_trip(tree):
    flat = flatten_dict(tree, keep_empty_nodes=True, sep='/')
    assert all(isinstance(k, str) for k in flat)
    assert unflatten_dict(flat, sep='/') == tree
    tuple_flat = flatten_dict(tree, keep_empty_nodes=True)
    assert set(flat) == {'/'.join(p) for p in tuple_flat}


@given(nested_dicts)
def test_frozen_input_flattens_like_dict(tree):
    assert flatten_dict(freeze(tree), keep_empty_nodes=True) == flatten_dict(tree, keep_empty_nodes=True)


def test_documented_example():
    xs = {'foo': 1, 'bar': {'a': 2, 'b': {}}}
    assert flatten_dict(xs) == {('foo',): 1, ('bar', 'a'): 2}
    assert flatten_dict(xs, keep_empty_nodes=True) == {('foo',): 1, ('bar', 'a'): 2, ('bar', 'b'): empty_node}


def test_empty_input_gives_empty_output_even_with_empty_nodes():
    assert flatten_dict({}) == {}
    assert flatten_dict({}, keep_empty_nodes=True) == {}
    assert flatten_dict(FrozenDict()) == {}


def test_is_leaf_stops_descent_and_sees_paths():
    seen = []

    def is_leaf(path, value):
        seen.append(path)
        return path == ('a', 'b')

    xs = {'a': {'b': {'c': 1}, 'd': {'e': 2}}}
    assert flatten_dict(xs, is_leaf=is_leaf) == {('a', 'b'): {'c': 1}, ('a', 'd', 'e'): 2}
    assert ('a',) in seen and ('a', 'd') in seen and () not in seen


def test_sep_requires_string_keys():
    with pytest.raises(TypeError, match='string keys'):
        flatten_dict({1: {'a': 2}}, sep='/')
    assert flatten_dict({1: {'a': 2}}) == {(1, 'a'): 2}


def test_rejects_non_dicts():
    with pytest.raises(TypeError):
        flatten_dict([1, 2])
    with pytest.raises(TypeError):
        unflatten_dict([(('a',), 1)])


def test_unflatten_reports_leaf_prefix_conflicts():
    with pytest.raises(ValueError, match='already a leaf'):
        unflatten_dict({('a',): 1, ('a', 'b'): 2})
    with pytest.raises(ValueError, match='prefix'):
        unflatten_dict({('a', 'b'): 2, ('a',): 1})
    with pytest.raises(ValueError):
        unflatten_dict({(): 1})


def test_empty_node_is_a_singleton_across_copy_and_pickle():
    assert copy.deepcopy(empty_node) is empty_node
    assert pickle.loads(pickle.dumps(empty_node)) is empty_node
    assert repr(empty_node) == 'empty_node'
    assert unflatten_dict({('x',): empty_node}) == {'x': {}}
