"""Module lifecycle on both backends: naming, setup, binding, cloning, sharing."""

import numpy as np
import pytest

from shared_spec import errors


def shapes(nn, tree):
    return nn.tree_util.tree_map(np.shape, tree)


X = np.ones((2, 3), np.float32)


def test_compact_autonames_count_per_class_per_parent(nn):
    key = nn.random.PRNGKey(0)

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(nn.Dense(3)(x))

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(3)(x)
            x = Block()(x)
            x = Block()(x)
            return nn.Dense(2, name="head")(x)

    params = Net().init(key, X)["params"]
    assert set(params) == {"Dense_0", "Block_0", "Block_1", "head"}
    assert set(params["Block_1"]) == {"Dense_0", "Dense_1"}


def test_setup_names_lists_tuples_dicts_and_nesting(nn):
    key = nn.random.PRNGKey(0)

    class Net(nn.Module):
        def setup(self):
            self.single = nn.Dense(2)
            self.seq = (nn.Dense(2), nn.Dense(2))
            self.table = {"a": nn.Dense(2), "b": [nn.Dense(2)]}

        def __call__(self, x):
            return self.single(x) + self.seq[1](self.seq[0](x)) + self.table["a"](x) + self.table["b"][0](x)

    params = Net().init(key, X)["params"]
    assert set(params) == {"single", "seq_0", "seq_1", "table_a", "table_b_0"}


def test_setup_runs_lazily_once_per_bound_instance(nn):
    key = nn.random.PRNGKey(0)
    calls = []

    class Net(nn.Module):
        def setup(self):
            calls.append("setup")
            self.dense = nn.Dense(2)

        def __call__(self, x):
            return self.dense(x)

        def twice(self, x):
            return self(x) + self(x)

    variables = Net().init(key, X)
    assert calls == ["setup"]
    Net().apply(variables, X, method="twice")
    assert calls == ["setup", "setup"]
    bound = Net().bind(variables)
    assert calls == ["setup"] * 2  # not yet: setup waits for first use
    _ = bound.dense  # attribute access triggers it
    bound(X)
    assert calls == ["setup"] * 3


def test_shared_submodule_has_one_set_of_params(nn):
    key = nn.random.PRNGKey(0)

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(3, name="shared")
            return dense(dense(x))

    params = Net().init(key, X)["params"]
    assert list(params) == ["shared"]
    assert params["shared"]["kernel"].shape == (3, 3)


def test_same_module_assigned_to_two_attributes_is_shared(nn):
    key = nn.random.PRNGKey(0)

    class Net(nn.Module):
        def setup(self):
            dense = nn.Dense(3)
            self.a = dense
            self.b = dense

        def __call__(self, x):
            return self.b(self.a(x))

    assert list(Net().init(key, np.ones((1, 3), np.float32))["params"]) == ["a"]


def test_modules_passed_as_fields_are_adopted_under_the_field_name(nn):
    key = nn.random.PRNGKey(0)

    class Wrapper(nn.Module):
        inner: nn.Module
        layers: tuple

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.inner(x)

    model = Wrapper(inner=nn.Dense(1), layers=[nn.Dense(4), nn.Dense(3)])
    params = model.init(key, X)["params"]
    assert set(params) == {"inner", "layers_0", "layers_1"}
    assert isinstance(model.layers, list)  # the caller's instance is untouched


def test_explicit_names_and_path(nn):
    key = nn.random.PRNGKey(0)
    paths = []

    class Leaf(nn.Module):
        @nn.compact
        def __call__(self, x):
            paths.append(self.path)
            return x

    class Root(nn.Module):
        @nn.compact
        def __call__(self, x):
            paths.append(self.path)
            return Leaf(name="leaf")(Leaf()(x))

    Root().init(key, X)
    assert paths == [(), ("Leaf_0",), ("leaf",)]


def test_compact_module_called_twice_reuses_submodules(nn):
    key = nn.random.PRNGKey(0)

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(x)

    class Twice(nn.Module):
        def setup(self):
            self.net = Net()

        def __call__(self, x):
            return self.net(x) + self.net(x)

    params = Twice().init(key, np.ones((1, 3), np.float32))["params"]
    assert list(params["net"]) == ["Dense_0"]


def test_bind_and_unbind(nn):
    key = nn.random.PRNGKey(0)

    class AutoEncoder(nn.Module):
        def setup(self):
            self.encoder = nn.Dense(3)
            self.decoder = nn.Dense(5)

        def __call__(self, x):
            return self.decoder(self.encoder(x))

    x = np.ones((4, 5), np.float32)
    variables = AutoEncoder().init(key, x)
    model = AutoEncoder().bind(variables)
    z = model.encoder(x)
    np.testing.assert_array_equal(model.decoder(z), AutoEncoder().apply(variables, x))
    encoder, encoder_vars = model.encoder.unbind()
    assert encoder.scope is None and encoder.name is None
    np.testing.assert_array_equal(encoder.apply(encoder_vars, x), z)
    assert shapes(nn, encoder_vars) == {"params": {"bias": (3,), "kernel": (5, 3)}}


def test_bind_with_mutable_does_not_write_caller_variables(nn):
    class Counter(nn.Module):
        @nn.compact
        def __call__(self):
            v = self.variable("counter", "n", lambda: 0)
            v.value += 1
            return v.value

    variables = {"counter": {"n": 10}}
    bound = Counter().bind(variables, mutable=True)
    assert bound() == 11 and bound() == 12
    assert variables == {"counter": {"n": 10}}


def test_clone_and_copy(nn):
    key = nn.random.PRNGKey(0)
    dense = nn.Dense(3, use_bias=False)
    clone = dense.clone(features=5)
    assert (clone.features, clone.use_bias, clone.parent) == (5, False, None)
    assert dense.features == 3

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            base = nn.Dense(2, name="base")
            wider = base.copy(features=4, name="wider")
            return base(x), wider(x)

    params = Net().init(key, X)["params"]
    assert shapes(nn, params) == {"base": {"bias": (2,), "kernel": (3, 2)}, "wider": {"bias": (4,), "kernel": (3, 4)}}


def test_modules_are_frozen_dataclasses_that_compare_by_fields(nn):
    assert nn.Dense(3) == nn.Dense(3)
    assert nn.Dense(3) != nn.Dense(4)
    assert hash(nn.Dense(3)) == hash(nn.Dense(3))
    with pytest.raises(errors.SetAttributeFrozenModuleError):
        nn.Dense(3).features = 4


def test_nowrap_methods_are_plain_helpers(nn):
    key = nn.random.PRNGKey(0)

    class Net(nn.Module):
        features: int = 3

        @nn.nowrap
        def make_layer(self):
            return nn.Dense(self.features)

        @nn.compact
        def __call__(self, x):
            return self.make_layer()(x)

    assert list(Net().init(key, X)["params"]) == ["Dense_0"]
    assert Net().make_layer().features == 3  # callable on an unbound module


def test_unbound_plain_methods_run_without_variables(nn):
    class Scale(nn.Module):
        factor: float = 2.0

        def __call__(self, x):
            return self.factor * x

    assert Scale()(3.0) == 6.0


def test_setup_attribute_access_on_unbound_module_explains(nn):
    class Net(nn.Module):
        def setup(self):
            self.dense = nn.Dense(2)

    with pytest.raises(AttributeError, match="bound"):
        _ = Net().dense


def test_subclass_inherits_fields_and_compact(nn):
    key = nn.random.PRNGKey(0)

    class Base(nn.Module):
        features: int = 2

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features)(x)

    class Child(Base):
        scale: float = 3.0

    model = Child(4, 2.0)
    assert (model.features, model.scale) == (4, 2.0)
    assert shapes(nn, model.init(key, X)["params"]) == {"Dense_0": {"bias": (4,), "kernel": (3, 4)}}


def test_parent_and_name_are_keyword_only(nn):
    import inspect

    params = inspect.signature(nn.Dense).parameters
    assert params["parent"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["name"].kind is inspect.Parameter.KEYWORD_ONLY
    assert nn.Dense(3, name="x").name == "x"
