"""FrozenDict and the freeze/unfreeze/copy/pop/pretty_repr helpers."""

import pickle

import numpy as np
import pytest

from shared_spec import frozen_dict as fdm
from shared_spec.frozen_dict import FrozenDict, freeze, unfreeze


def test_nested_dicts_are_frozen_and_lists_left_alone():
    fd = FrozenDict({'a': {'b': {'c': 1}}, 'l': [{'x': 1}]})
    assert isinstance(fd['a'], FrozenDict)
    assert isinstance(fd['a']['b'], FrozenDict)
    assert type(fd['l']) is list and type(fd['l'][0]) is dict


def test_constructor_accepts_dict_arguments_and_kwargs():
    fd = FrozenDict([('a', 1)], b={'c': 2})
    assert dict(fd) == {'a': 1, 'b': FrozenDict(c=2)}
    assert FrozenDict() == {}


def test_constructor_copies_its_input():
    src = {'a': {'b': 1}}
    fd = FrozenDict(src)
    src['a']['b'] = 99
    src['z'] = 0
    assert fd == {'a': {'b': 1}}


def test_unsafe_skip_copy_stores_the_mapping_as_given():
    inner = {'b': 1}
    fd = FrozenDict({'a': inner}, __unsafe_skip_copy__=True)
    assert fd['a'] is inner


@pytest.mark.parametrize(
    'mutate',
    [
        lambda fd: fd.__setitem__('a', 2),
        lambda fd: fd.__delitem__('a'),
        lambda fd: setattr(fd, 'x', 1),
        lambda fd: fd['n'].__setitem__('k', 0),
    ],
)
def test_immutable(mutate):
    fd = FrozenDict(a=1, n={'k': 1})
    with pytest.raises((TypeError, AttributeError)):
        mutate(fd)
    assert fd == {'a': 1, 'n': {'k': 1}}


def test_hash_is_order_independent_and_consistent_with_equality():
    a = FrozenDict({'x': 1, 'y': {'z': 2}})
    b = FrozenDict({'y': {'z': 2}, 'x': 1})
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != FrozenDict({'x': 1, 'y': {'z': 3}})


def test_unhashable_values_make_it_unhashable():
    with pytest.raises(TypeError):
        hash(FrozenDict(a=[1]))


def test_equality_with_plain_dicts_both_ways():
    fd = FrozenDict({'a': {'b': 1}})
    assert fd == {'a': {'b': 1}}
    assert {'a': {'b': 1}} == fd
    assert fd != {'a': {'b': 2}}
    assert fd != [('a', {'b': 1})]


def test_copy_adds_and_replaces_without_touching_the_original():
    fd = FrozenDict(a=1, b=2)
    new = fd.copy({'b': 3, 'c': {'d': 4}})
    assert new == {'a': 1, 'b': 3, 'c': {'d': 4}}
    assert isinstance(new, FrozenDict) and isinstance(new['c'], FrozenDict)
    assert fd == {'a': 1, 'b': 2}
    assert fd.copy() == fd


def test_or_operator_matches_copy():
    fd = FrozenDict(a=1)
    assert (fd | {'a': 2, 'b': 3}) == fd.copy({'a': 2, 'b': 3})
    assert (fd | FrozenDict(b=1)) == {'a': 1, 'b': 1}


def test_pop_returns_rest_and_value():
    fd = FrozenDict({'params': {'w': 1}, 'batch_stats': {'m': 2}})
    rest, params = fd.pop('params')
    assert rest == {'batch_stats': {'m': 2}} and isinstance(rest, FrozenDict)
    assert params == {'w': 1} and isinstance(params, FrozenDict)
    assert 'params' in fd
    with pytest.raises(KeyError):
        fd.pop('missing')


def test_unfreeze_returns_fresh_mutable_dicts():
    leaf = np.zeros(2)
    fd = FrozenDict({'a': {'b': leaf}})
    out = fd.unfreeze()
    assert type(out) is dict and type(out['a']) is dict
    assert out['a']['b'] is leaf  # leaves are shared, not copied
    out['a']['c'] = 1
    assert 'c' not in fd['a']


def test_module_unfreeze_deep_copies_plain_dicts_and_leaves_leaves():
    src = {'a': {'b': 1}}
    out = unfreeze(src)
    assert out == src and out is not src and out['a'] is not src['a']
    assert unfreeze(5) == 5
    leaf = [1, 2]
    assert unfreeze(leaf) is leaf


def test_freeze_unfreeze_round_trip():
    src = {'params': {'Dense_0': {'kernel': 1, 'bias': 2}}, 'empty': {}}
    assert unfreeze(freeze(src)) == src


def test_module_copy_and_pop_keep_the_input_type():
    d = {'a': {'b': 1}}
    new = fdm.copy(d, {'c': 2})
    assert type(new) is dict and new == {'a': {'b': 1}, 'c': 2}
    assert d == {'a': {'b': 1}}
    assert isinstance(fdm.copy(freeze(d), {'c': 2}), FrozenDict)
    rest, value = fdm.pop(d, 'a')
    assert rest == {} and value == {'b': 1} and 'a' in d
    rest, value = fdm.pop(freeze(d), 'a')
    assert isinstance(rest, FrozenDict) and value == {'b': 1}
    with pytest.raises(TypeError):
        fdm.copy([1], {})
    with pytest.raises(TypeError):
        fdm.pop([1], 0)


def test_pretty_repr_layout():
    fd = FrozenDict({'a': 1, 'b': {'c': 'x'}, 'e': {}})
    expected_lines = [
        'FrozenDict({',
        '  a: 1,',
        '  b: {',
        "    c: 'x',",
        '  },',
        '  e: {},',
        '})',
    ]
    assert fd.pretty_repr(num_spaces=2) == '\n'.join(expected_lines)
    assert repr(fd) == fd.pretty_repr(num_spaces=4)
    assert repr(FrozenDict()) == 'FrozenDict({})'


def test_module_pretty_repr_handles_dicts_frozendicts_and_others():
    assert fdm.pretty_repr({'a': 1}) == '{\n    a: 1,\n}'
    assert fdm.pretty_repr(FrozenDict(a=1)) == 'FrozenDict({\n    a: 1,\n})'
    assert fdm.pretty_repr((1, 'x')) == repr((1, 'x'))


def test_tree_flatten_sorts_keys_and_unflatten_inverts():
    fd = FrozenDict({'b': 2, 'a': {'x': 1}, 'c': 3})
    values, keys = fd.tree_flatten()
    assert keys == ('a', 'b', 'c')
    assert values == (fd['a'], 2, 3)
    assert FrozenDict.tree_unflatten(keys, values) == fd
    # insertion order does not change the flattening
    assert FrozenDict({'c': 3, 'a': {'x': 1}, 'b': 2}).tree_flatten() == (values, keys)


def test_tree_flatten_with_unorderable_keys_is_deterministic():
    fd = FrozenDict({1: 'a', 'x': 'b'})
    assert fd.tree_flatten() == FrozenDict({'x': 'b', 1: 'a'}).tree_flatten()


def test_pickle_round_trip():
    fd = FrozenDict({'a': {'b': 1}})
    back = pickle.loads(pickle.dumps(fd))
    assert back == fd and isinstance(back['a'], FrozenDict)


def test_mapping_views():
    fd = FrozenDict(a=1, b=2)
    assert list(fd) == ['a', 'b'] and list(fd.keys()) == ['a', 'b']
    assert list(fd.values()) == [1, 2] and dict(fd.items()) == {'a': 1, 'b': 2}
    assert fd.get('z', 0) == 0 and len(fd) == 2 and 'a' in fd
