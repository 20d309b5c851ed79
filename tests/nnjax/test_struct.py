"""nnjax.struct: frozen pytree dataclasses, static fields, replace, serialization."""

import dataclasses
import doctest
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnjax.struct
from nnjax import serialization, struct
from shared_spec.tolerances import assert_close


@struct.dataclass
class Model:
    params: Any
    apply_fn: Callable = struct.field(pytree_node=False)


class Partial(struct.PyTreeNode):
    fn: Callable = struct.field(pytree_node=False)
    args: tuple = ()


def test_docstring_examples():
    result = doctest.testmod(nnjax.struct)
    assert result.attempted > 0 and result.failed == 0


def test_only_pytree_fields_are_leaves():
    m = Model({'w': jnp.ones(2)}, jnp.sum)
    leaves, treedef = jax.tree_util.tree_flatten(m)
    assert len(leaves) == 1 and leaves[0].shape == (2,)
    rebuilt = jax.tree_util.tree_unflatten(treedef, [jnp.zeros(2)])
    assert rebuilt.apply_fn is jnp.sum and isinstance(rebuilt, Model)


def test_key_paths_name_fields():
    flat, _ = jax.tree_util.tree_flatten_with_path(Model({'w': 1.0}, jnp.sum))
    ((path, _),) = flat
    assert isinstance(path[0], jax.tree_util.GetAttrKey) and path[0].name == 'params'


def test_frozen_and_replace():
    m = Model(1, jnp.sum)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.params = 2
    m2 = m.replace(params=2)
    assert (m.params, m2.params, m2.apply_fn) == (1, 2, jnp.sum)


def test_grad_over_struct():
    m = Model({'w': jnp.array([1.0, -2.0])}, lambda p, x: p['w'] @ x)
    x = jnp.array([3.0, 4.0])
    grads = jax.grad(lambda model: model.apply_fn(model.params, x) ** 2)(m)
    assert isinstance(grads, Model)
    # d/dw (w.x)^2 = 2 (w.x) x, with w.x = -5.
    assert_close(grads.params['w'], np.array([-30.0, -40.0]), family='elementwise')


def test_static_field_is_part_of_the_jit_cache_key():
    traces = []

    @jax.jit
    def run(p):
        traces.append(None)
        return p.fn(*p.args)

    assert_close(run(Partial(jnp.add, (jnp.ones(2), jnp.ones(2)))), np.full(2, 2.0), family='exact')
    run(Partial(jnp.add, (jnp.zeros(2), jnp.ones(2))))
    assert len(traces) == 1  # same static fn: cached
    assert_close(run(Partial(jnp.subtract, (jnp.ones(2), jnp.ones(2)))), np.zeros(2), family='exact')
    assert len(traces) == 2  # another static fn: retraced


def test_vmap_over_struct():
    m = Model({'w': jnp.arange(6.0).reshape(3, 2)}, jnp.sum)
    out = jax.vmap(lambda model: model.apply_fn(model.params['w']))(m)
    assert_close(out, np.array([1.0, 5.0, 9.0]), family='exact')


def test_tree_map_keeps_static_fields():
    m = jax.tree_util.tree_map(lambda x: x * 2, Model({'w': 3}, 'fn'))
    assert m == Model({'w': 6}, 'fn')


def test_kw_only_class_argument_and_decorator_option():
    class K(struct.PyTreeNode, kw_only=True):
        a: int
        b: int = 0

    with pytest.raises(TypeError):
        K(1)
    assert K(a=1).b == 0

    @struct.dataclass(kw_only=True)
    class D:
        x: int

    with pytest.raises(TypeError):
        D(1)
    assert jax.tree_util.tree_leaves(D(x=5)) == [5]


def test_decorating_twice_is_harmless():
    @struct.dataclass
    class P:
        x: int

    assert struct.dataclass(P) is P
    assert jax.tree_util.tree_leaves(P(1)) == [1]


def test_pytreenode_subclass_of_subclass_adds_fields():
    class Base(struct.PyTreeNode):
        a: int

    class Child(Base):
        b: int = struct.field(pytree_node=False, default=7)

    c = Child(1)
    assert jax.tree_util.tree_leaves(c) == [1] and c.b == 7
    assert jax.tree_util.tree_map(lambda v: v + 1, c) == Child(2)


def test_field_metadata_is_merged():
    f = struct.field(pytree_node=False, metadata={'doc': 'x'}, default=1)
    assert dict(f.metadata) == {'doc': 'x', 'pytree_node': False}


def test_init_false_fields_are_recomputed_not_leaves():
    @struct.dataclass
    class Scaled:
        x: Any
        double: Any = dataclasses.field(init=False)

        def __post_init__(self):
            object.__setattr__(self, 'double', self.x * 2)

    s = jax.tree_util.tree_map(lambda v: v + 1, Scaled(1))
    assert (s.x, s.double) == (2, 4)
    assert jax.tree_util.tree_leaves(Scaled(1)) == [1]


def test_state_dict_holds_pytree_fields_only():
    m = Model({'w': np.ones(2)}, jnp.sum)
    state = serialization.to_state_dict(m)
    assert list(state) == ['params'] and list(state['params']) == ['w']
    restored = serialization.from_state_dict(m, {'params': {'w': np.zeros(2)}})
    assert restored.apply_fn is jnp.sum
    assert_close(restored.params['w'], np.zeros(2), family='exact')


def test_bytes_round_trip_of_nested_structs():
    tree = {
        'model': Model({'w': np.arange(3.0)}, jnp.sum),
        'partial': Partial(jnp.add, (np.int32(4), np.ones(2, np.float32))),
    }
    restored = serialization.from_bytes(tree, serialization.to_bytes(tree))
    assert isinstance(restored['model'], Model)
    assert restored['partial'].fn is jnp.add
    assert_close(restored['model'].params['w'], np.arange(3.0), family='exact')
    assert restored['partial'].args[0] == 4
    assert restored['partial'].args[0].dtype == np.int32


def test_restore_errors_name_the_field_and_path():
    tree = {'outer': Model({'w': 1}, jnp.sum)}
    with pytest.raises(ValueError, match=r"missing field.*'params'.*Model.*'/outer'"):
        serialization.from_state_dict(tree, {'outer': {}})
    with pytest.raises(ValueError, match=r"unknown field.*'extra'.*Model.*'/outer'"):
        serialization.from_state_dict(tree, {'outer': {'params': {'w': 1}, 'extra': 2}})
    with pytest.raises(ValueError, match=r"'/outer/params'.*lacks key.*'w'"):
        serialization.from_state_dict(tree, {'outer': {'params': {}}})
    with pytest.raises(ValueError, match=r"'/outer'.*must be a dict"):
        serialization.from_state_dict(tree, {'outer': 3})
