"""nnjax.core: FrozenDict as a JAX pytree (tree_map, key paths, jit, grad, vmap)."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np

import nnjax.core
import shared_spec.collection_filters
import shared_spec.frozen_dict
from nnjax.core import FrozenDict, freeze, unfreeze
from shared_spec.tolerances import assert_close, assert_trees_close


def test_docstring_examples():
    result = doctest.testmod(nnjax.core)
    assert result.attempted > 0 and result.failed == 0


def test_reexports_are_the_shared_objects():
    for name in ('FrozenDict', 'freeze', 'unfreeze', 'copy', 'pop', 'pretty_repr'):
        assert getattr(nnjax.core, name) is getattr(shared_spec.frozen_dict, name)
    assert nnjax.core.DenyList is shared_spec.collection_filters.DenyList


def test_tree_map_keeps_frozendict_and_nesting():
    fd = freeze({'params': {'w': np.ones(2), 'b': np.zeros(2)}, 'step': 3})
    out = jax.tree_util.tree_map(lambda x: x + 1, fd)
    assert isinstance(out, FrozenDict) and isinstance(out['params'], FrozenDict)
    assert_trees_close(unfreeze(out), {'params': {'w': np.full(2, 2.0), 'b': np.ones(2)}, 'step': 4}, family='exact')


def test_children_are_in_sorted_key_order_whatever_the_insertion_order():
    a = FrozenDict({'b': 2, 'a': 1, 'c': 3})
    b = FrozenDict({'c': 3, 'a': 1, 'b': 2})
    assert jax.tree_util.tree_leaves(a) == [1, 2, 3]
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    # Different keys are a different structure even with the same leaf count.
    assert jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(FrozenDict(a=1, b=2, d=3))


def test_key_paths_are_dict_keys():
    fd = freeze({'params': {'kernel': 1.0, 'bias': 2.0}})
    flat, _ = jax.tree_util.tree_flatten_with_path(fd)
    paths = [path for path, _ in flat]
    assert all(isinstance(k, jax.tree_util.DictKey) for path in paths for k in path)
    assert [tuple(k.key for k in path) for path in paths] == [('params', 'bias'), ('params', 'kernel')]
    assert jax.tree_util.keystr(paths[1]) == "['params']['kernel']"


def test_matches_plain_dict_key_paths():
    tree = {'a': {'x': 1, 'y': 2}}
    plain = [p for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    frozen = [p for p, _ in jax.tree_util.tree_flatten_with_path(freeze(tree))[0]]
    assert plain == frozen


def test_jit_grad_vmap_see_through_frozendict():
    params = freeze({'w': jnp.array([1.0, 2.0]), 'b': jnp.array(0.5)})

    @jax.jit
    def loss(p, x):
        return jnp.sum((x @ p['w'] + p['b']) ** 2)

    x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    grads = jax.grad(loss)(params, x)
    assert isinstance(grads, FrozenDict)
    # d/dw sum((xw+b)^2) = 2 x^T (xw+b); x = I, so 2*(w+b); d/db = 2*sum(w+b).
    assert_close(grads['w'], np.array([3.0, 5.0]), family='elementwise')
    assert_close(grads['b'], np.array(8.0), family='elementwise')

    batched = freeze({'w': jnp.arange(6.0).reshape(3, 2)})
    sums = jax.vmap(lambda p: jnp.sum(p['w']))(batched)
    assert_close(sums, np.array([1.0, 5.0, 9.0]), family='exact')


def test_jit_returns_frozendict():
    out = jax.jit(lambda p: p.copy({'c': p['a'] * 2}))(freeze({'a': jnp.ones(2)}))
    assert isinstance(out, FrozenDict) and set(out) == {'a', 'c'}


def test_hashable_frozendict_works_as_static_argument():
    f = jax.jit(lambda x, cfg: x * cfg['scale'], static_argnums=1)
    assert_close(f(jnp.ones(2), freeze({'scale': 3.0})), np.full(2, 3.0), family='exact')


def test_registered_once_and_reload_is_harmless():
    importlib.reload(nnjax.core)
    assert jax.tree_util.tree_structure(FrozenDict()).num_leaves == 0
    assert jax.tree_util.tree_leaves(FrozenDict(a=1)) == [1]


def test_empty_frozendict_and_none_leaves():
    out = jax.tree_util.tree_map(lambda x: x, freeze({'a': {}, 'b': None}))
    assert out == {'a': {}, 'b': None} and isinstance(out, FrozenDict)
