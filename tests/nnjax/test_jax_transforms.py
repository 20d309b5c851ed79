"""nnjax's init/apply under JAX's own transforms: jit, grad, vmap, eval_shape, lazy_init."""

import jax
import jax.numpy as jnp
import pytest

import nnjax as nn
from shared_spec import errors
from shared_spec.tolerances import assert_close, assert_trees_close


class MLP(nn.Module):
    hidden: int = 5
    out: int = 2

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(self.hidden)(x))  # Dense_0: names follow construction order
        return nn.Dense(self.out)(h)


def hand_written_mlp(params, x):
    h = jnp.maximum(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"], 0)
    return h @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]


KEY = jax.random.PRNGKey(0)
X = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
Y = jax.random.normal(jax.random.PRNGKey(2), (4, 2))


def test_jit_of_init_and_apply_match_eager():
    model = MLP()
    eager = model.init(KEY, X)
    jitted = jax.jit(model.init)(KEY, X)
    assert_trees_close(jitted, eager, family="exact")
    assert_close(jax.jit(model.apply)(eager, X), model.apply(eager, X), family="matmul")


def test_grad_through_apply_matches_hand_written_jax():
    model = MLP()
    variables = model.init(KEY, X)

    def loss(params):
        return jnp.mean((model.apply({"params": params}, X) - Y) ** 2)

    def reference_loss(params):
        return jnp.mean((hand_written_mlp(params, X) - Y) ** 2)

    assert_close(loss(variables["params"]), reference_loss(variables["params"]), family="matmul")
    assert_trees_close(
        jax.grad(loss)(variables["params"]), jax.grad(reference_loss)(variables["params"]), family="matmul"
    )


def test_vmap_over_apply_matches_hand_written_jax():
    model = MLP()
    variables = model.init(KEY, X)
    batched = jax.random.normal(jax.random.PRNGKey(3), (6, 4, 3))
    got = jax.vmap(model.apply, in_axes=(None, 0))(variables, batched)
    want = jax.vmap(hand_written_mlp, in_axes=(None, 0))(variables["params"], batched)
    assert_close(got, want, family="matmul")
    # vmapped init over keys: one independent set of parameters per key
    keys = jax.random.split(KEY, 3)
    stacked = jax.vmap(model.init, in_axes=(0, None))(keys, X)
    assert stacked["params"]["Dense_0"]["kernel"].shape == (3, 3, 5)
    assert_close(
        stacked["params"]["Dense_0"]["kernel"][1], model.init(keys[1], X)["params"]["Dense_0"]["kernel"], family="exact"
    )


def test_eval_shape_and_lazy_init_create_no_arrays():
    model = MLP()
    shapes = jax.eval_shape(model.init, KEY, X)
    assert isinstance(shapes["params"]["Dense_0"]["kernel"], jax.ShapeDtypeStruct)
    assert shapes["params"]["Dense_1"]["kernel"].shape == (5, 2)
    lazy = model.lazy_init(KEY, jax.ShapeDtypeStruct((4, 3), jnp.float32))
    assert_trees_close(lazy, model.init(KEY, X), family="exact")


def test_lazy_init_refuses_variables_that_depend_on_abstract_values():
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x * self.param("k", lambda _: x)

    with pytest.raises(errors.LazyInitError):
        Foo().lazy_init(KEY, jax.ShapeDtypeStruct((2, 3), jnp.float32))


def test_lazy_init_with_concrete_static_arguments():
    class Switch(nn.Module):
        @nn.compact
        def __call__(self, x, wide: bool):
            return nn.Dense(8 if wide else 2)(x)

    lazy = Switch().lazy_init(KEY, jax.ShapeDtypeStruct((1, 3), jnp.float32), wide=True)
    assert lazy["params"]["Dense_0"]["kernel"].shape == (3, 8)


def test_modules_are_static_hashable_data_for_jit():
    @jax.jit
    def run(variables, x):
        return MLP().apply(variables, x)

    variables = MLP().init(KEY, X)
    apply_static = jax.jit(lambda model, v, x: model.apply(v, x), static_argnums=0)
    assert_close(apply_static(MLP(), variables, X), run(variables, X), family="exact")
    assert hash(MLP()) == hash(MLP()) and MLP() == MLP() and MLP(hidden=3) != MLP()


def test_typed_keys_give_the_same_parameters_as_raw_keys():
    raw = MLP().init(jax.random.PRNGKey(7), X)
    typed = MLP().init(jax.random.key(7), X)
    assert_trees_close(typed, raw, family="exact")

    class Draw(nn.Module):
        @nn.compact
        def __call__(self):
            return self.make_rng("noise")

    key = Draw().apply({}, rngs={"noise": jax.random.key(0)})
    assert jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)


def test_mutable_state_under_jit():
    class Counter(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable("counter", "n", lambda: jnp.zeros((), jnp.int32))
            if not self.is_initializing():
                count.value += 1
            return x * count.value

    variables = Counter().init(KEY, 1.0)
    step = jax.jit(lambda v, x: Counter().apply(v, x, mutable=["counter"]))
    for expected in (1, 2, 3):
        y, variables = step(variables, 2.0)
        assert int(variables["counter"]["n"]) == expected and float(y) == 2.0 * expected


def test_named_call_labels_module_calls_in_hlo():
    variables = MLP().init(KEY, X)
    with nn.override_named_call(True):
        text = jax.jit(MLP().apply).lower(variables, X).as_text(debug_info=True)
    assert "MLP.__call__/Dense_0.__call__/dot_general" in text
    plain = jax.jit(MLP().apply).lower(variables, X).as_text(debug_info=True)
    assert "Dense_0.__call__" not in plain
