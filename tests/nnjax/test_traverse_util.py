"""nnjax.traverse_util: path_aware_map, ModelParamTraversal, Traversal chains."""

import collections
import dataclasses
import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnjax.traverse_util
import shared_spec.dict_paths
from nnjax import traverse_util
from nnjax.core import FrozenDict, freeze
from shared_spec.tolerances import assert_close


def test_docstring_examples():
    result = doctest.testmod(nnjax.traverse_util)
    assert result.attempted > 0 and result.failed == 0


def test_dict_helpers_are_the_shared_ones():
    for name in ('flatten_dict', 'unflatten_dict', 'empty_node'):
        assert getattr(traverse_util, name) is getattr(shared_spec.dict_paths, name)


# --- path_aware_map ------------------------------------------------------------


def test_path_aware_map_seed_example():
    params = {'a': {'x': 10, 'y': 3}, 'b': {'x': 20}}
    f = lambda path, x: x + 5 if 'x' in path else -x  # noqa: E731
    assert traverse_util.path_aware_map(f, params) == {'a': {'x': 15, 'y': -3}, 'b': {'x': 25}}


def test_path_aware_map_partitions_for_multi_transform():
    params = freeze({'backbone': {'w': jnp.ones(2)}, 'head': {'w': jnp.ones(2)}})
    labels = traverse_util.path_aware_map(lambda path, v: 'frozen' if 'backbone' in path else 'trainable', params)
    assert labels == {'backbone': {'w': 'frozen'}, 'head': {'w': 'trainable'}}
    tx = optax.multi_transform({'trainable': optax.sgd(1.0), 'frozen': optax.set_to_zero()}, freeze(labels))
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    assert_close(updates['backbone']['w'], np.zeros(2), family='exact')
    assert_close(updates['head']['w'], -np.ones(2), family='exact')


def test_path_aware_map_keeps_empty_subdicts_and_passes_full_paths():
    seen = []
    out = traverse_util.path_aware_map(lambda path, v: seen.append(path) or v, {'a': {}, 'b': {'c': 1}})
    assert out == {'a': {}, 'b': {'c': 1}} and seen == [('b', 'c')]


# --- ModelParamTraversal -------------------------------------------------------

PARAMS = {
    'Dense_1': {'kernel': np.full((2, 2), 3.0), 'bias': np.full(2, 4.0)},
    'Dense_0': {'kernel': np.full((2, 2), 1.0), 'bias': np.full(2, 2.0)},
}


def test_filter_gets_slash_joined_names_and_values():
    calls = []
    traversal = traverse_util.ModelParamTraversal(lambda name, value: calls.append((name, value.shape)) or False)
    assert list(traversal.iterate(PARAMS)) == []
    assert calls == [
        ('/Dense_0/bias', (2,)),
        ('/Dense_0/kernel', (2, 2)),
        ('/Dense_1/bias', (2,)),
        ('/Dense_1/kernel', (2, 2)),
    ]


def test_iterate_and_update_select_by_name():
    kernels = traverse_util.ModelParamTraversal(lambda p, _: 'kernel' in p)
    assert [v[0, 0] for v in kernels.iterate(PARAMS)] == [1.0, 3.0]
    doubled = kernels.update(lambda x: x * 2, PARAMS)
    assert_close(doubled['Dense_1']['kernel'], np.full((2, 2), 6.0), family='exact')
    assert doubled['Dense_1']['bias'] is PARAMS['Dense_1']['bias']
    assert PARAMS['Dense_1']['kernel'][0, 0] == 3.0  # input untouched


def test_update_keeps_frozendict_type():
    out = traverse_util.ModelParamTraversal(lambda p, _: True).update(lambda x: x, freeze(PARAMS))
    assert isinstance(out, FrozenDict) and out == freeze(PARAMS)


def test_seed_optax_masked_example():
    params = {'Dense_0': {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones(2)}}
    kernels = traverse_util.ModelParamTraversal(lambda p, _: 'kernel' in p)
    biases = traverse_util.ModelParamTraversal(lambda p, _: 'bias' in p)
    all_false = jax.tree_util.tree_map(lambda _: False, params)
    kernels_mask = kernels.update(lambda _: True, all_false)
    biases_mask = biases.update(lambda _: True, all_false)
    assert kernels_mask == {'Dense_0': {'kernel': True, 'bias': False}}
    assert biases_mask == {'Dense_0': {'kernel': False, 'bias': True}}
    tx = optax.chain(optax.masked(optax.scale(-1.0), kernels_mask), optax.masked(optax.scale(-0.1), biases_mask))
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params))
    assert_close(updates['Dense_0']['kernel'], -np.ones((2, 2)), family='exact')
    assert_close(updates['Dense_0']['bias'], np.full(2, -0.1, np.float32), family='elementwise')


# --- Traversal chains ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Foo:
    bar: object = None
    foo: object = None


def test_seed_traversal_examples():
    assert list(traverse_util.TraverseAttr('foo').iterate(Foo(foo=1))) == [1]
    data = [{'foo': 1, 'bar': 2}, {'foo': 3, 'bar': 4}]
    assert list(traverse_util.t_identity.each()['foo'].iterate(data)) == [1, 3]
    data = {'foo': Foo(bar=2)}
    out = traverse_util.t_identity['foo'].bar.update(lambda x: x + x, data)
    assert out == {'foo': Foo(bar=4)} and data == {'foo': Foo(bar=2)}


def test_each_keeps_container_types():
    Pair = collections.namedtuple('Pair', 'a b')
    each = traverse_util.t_identity.each()
    assert each.update(str, Pair(1, 2)) == Pair('1', '2')
    assert each.update(str, (1, 2)) == ('1', '2')
    assert each.update(str, freeze({'a': 1})) == FrozenDict(a='1')
    assert list(each.iterate({'a': 1, 'b': 2})) == [1, 2]


def test_item_slices_and_frozendict():
    t = traverse_util.t_identity[1:]
    assert list(t.iterate([1, 2, 3])) == [2, 3]
    assert t.update(lambda x: -x, [1, 2, 3]) == [1, -2, -3]
    fd = traverse_util.t_identity['a'].update(lambda x: x + 1, freeze({'a': 1, 'b': 2}))
    assert fd == FrozenDict(a=2, b=2) and isinstance(fd, FrozenDict)


def test_filter_merge_tree_and_set():
    t = traverse_util.t_identity
    evens = t.each().filter(lambda x: x % 2 == 0)
    assert evens.update(lambda x: 0, [1, 2, 3, 4]) == [1, 0, 3, 0]
    both = t.merge(t['a'], t['b'])
    assert list(both.iterate({'a': 1, 'b': 2, 'c': 3})) == [1, 2]
    assert both.update(lambda x: x * 10, {'a': 1, 'b': 2, 'c': 3}) == {'a': 10, 'b': 20, 'c': 3}
    assert list(t.tree().iterate({'x': [1, (2, 3)]})) == [1, 2, 3]
    assert t.tree().update(lambda v: v + 1, {'x': [1, (2, 3)]}) == {'x': [2, (3, 4)]}
    assert t.each().set([7, 8], [1, 2]) == [7, 8]
    with pytest.raises(ValueError, match='fewer'):
        t.each().set([7], [1, 2])
    with pytest.raises(ValueError, match='selects 2'):
        t.each().set([7, 8, 9], [1, 2])


def test_attr_update_of_plain_object_is_refused():
    class Plain:
        x = 1

    with pytest.raises(TypeError, match='dataclasses and namedtuples'):
        traverse_util.TraverseAttr('x').update(lambda v: v, Plain())


def test_private_names_are_not_attribute_traversals():
    with pytest.raises(AttributeError):
        traverse_util.t_identity._hidden  # noqa: B018
