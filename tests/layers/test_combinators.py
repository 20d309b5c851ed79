"""Sequential on both backends: chaining, output spreading, naming and misuse."""

import importlib

import numpy as np
import pytest

from shared_spec.tolerances import assert_close, assert_trees_close


def Sequential(nn):
    return importlib.import_module(f"{nn.__name__}.layers.combinators").Sequential


def _np(x):
    return np.asarray(x)


def _x(nn, shape=(2, 3)):
    return nn.numpy.asarray(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def _shapes(tree):
    return {k: _shapes(v) if isinstance(v, dict) else tuple(np.shape(v)) for k, v in tree.items()}


def test_top_level_layers_are_adopted_as_layers_i(nn):
    model = Sequential(nn)([nn.Dense(4), nn.relu, nn.Dense(2)])
    x = _x(nn)
    variables = model.init(nn.random.PRNGKey(0), x)
    assert _shapes(variables["params"]) == {
        "layers_0": {"kernel": (3, 4), "bias": (4,)},
        "layers_2": {"kernel": (4, 2), "bias": (2,)},
    }
    params = variables["params"]
    h = nn.Dense(4).apply({"params": params["layers_0"]}, x)
    expected = nn.Dense(2).apply({"params": params["layers_2"]}, nn.relu(h))
    assert_close(model.apply(variables, x), expected, family="exact")


def test_keys_follow_the_adopted_names(nn):
    # layers_0 must draw its kernel from the key of path ('layers_0',), like a
    # parent that names its child 'layers_0' explicitly.
    class Named(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(4, name="layers_0")(x)

    x = _x(nn)
    seq = Sequential(nn)([nn.Dense(4)]).init(nn.random.PRNGKey(7), x)
    named = Named().init(nn.random.PRNGKey(7), x)
    assert_trees_close(seq, named, family="exact")


def test_inside_setup_the_chain_lives_under_the_attribute(nn):
    S = Sequential(nn)

    class Model(nn.Module):
        def setup(self):
            self.body = S([nn.Dense(3), nn.Dense(2)])

        def __call__(self, x):
            return self.body(x)

    variables = Model().init(nn.random.PRNGKey(0), _x(nn))
    assert _shapes(variables["params"]) == {
        "body": {
            "layers_0": {"kernel": (3, 3), "bias": (3,)},
            "layers_1": {"kernel": (3, 2), "bias": (2,)},
        }
    }


def test_inside_compact_the_layers_belong_to_the_parent(nn):
    # Modules built in a compact method are named and bound there, before
    # Sequential sees them (the seed system's rule): no layers_i, no Sequential_0 params.
    S = Sequential(nn)

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return S([nn.Dense(3), nn.Dense(2)])(x)

    variables = Model().init(nn.random.PRNGKey(0), _x(nn))
    assert _shapes(variables["params"]) == {
        "Dense_0": {"kernel": (3, 3), "bias": (3,)},
        "Dense_1": {"kernel": (3, 2), "bias": (2,)},
    }


def test_nested_sequentials_nest_their_names(nn):
    S = Sequential(nn)
    model = S([S([nn.Dense(3), nn.Dense(3)]), nn.Dense(1)])
    variables = model.init(nn.random.PRNGKey(0), _x(nn))
    assert sorted(variables["params"]) == ["layers_0", "layers_1"]
    assert sorted(variables["params"]["layers_0"]) == ["layers_0", "layers_1"]


def test_a_module_listed_twice_is_shared(nn):
    dense = nn.Dense(3)
    model = Sequential(nn)([dense, dense])
    x = _x(nn)
    variables = model.init(nn.random.PRNGKey(0), x)
    assert sorted(variables["params"]) == ["layers_0"]
    once = nn.Dense(3).apply({"params": variables["params"]["layers_0"]}, x)
    twice = nn.Dense(3).apply({"params": variables["params"]["layers_0"]}, once)
    assert_close(model.apply(variables, x), twice, family="exact")


def test_tuple_outputs_become_positional_and_dict_outputs_keyword_arguments(nn):
    class Split(nn.Module):
        def __call__(self, x):
            return x, 2 * x

    class AddPair(nn.Module):
        def __call__(self, a, b):
            return {"total": a + b, "scale": 10.0}

    class Scale(nn.Module):
        def __call__(self, *, total, scale):
            return total * scale

    x = _x(nn)
    y = Sequential(nn)([Split(), AddPair(), Scale()]).apply({}, x)
    assert_close(y, _np(x) * 3 * 10, family="elementwise")


def test_call_arguments_go_to_the_first_layer(nn):
    def first(a, b, *, c):
        return a + b * c

    y = Sequential(nn)([first, lambda v: -v]).apply({}, 1.0, 2.0, c=3.0)
    assert y == -7.0


def test_a_single_layer_returns_its_output_unchanged(nn):
    out = ("a", {"b": 1})
    assert Sequential(nn)([lambda: out]).apply({}) is out


def test_empty_layers_raise_at_call(nn):
    model = Sequential(nn)([])
    with pytest.raises(ValueError, match="Sequential: empty"):
        model.init(nn.random.PRNGKey(0), _x(nn))


@pytest.mark.parametrize("layers", [{"a": 1}, None, 3])
def test_non_sequence_layers_raise_at_construction(nn, layers):
    with pytest.raises(ValueError, match="Sequential: 'layers' must be a sequence"):
        Sequential(nn)(layers)


def test_layers_field_is_read_back_as_a_sequence(nn):
    model = Sequential(nn)([nn.Dense(2), nn.relu])
    assert len(model.layers) == 2 and model.layers[1] is nn.relu
