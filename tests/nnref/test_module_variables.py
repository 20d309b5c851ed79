"""Variables, collections, mutability, sow, perturb and intermediates on nnref."""

import numpy as np
import pytest

import nnref as nn
from shared_spec import errors

KEY = nn.random.PRNGKey(0)
X = np.arange(6, dtype=np.float32).reshape(2, 3)


class BatchMean(nn.Module):
    @nn.compact
    def __call__(self, x):
        mean = self.variable("batch_stats", "mean", lambda: np.zeros(x.shape[-1:], x.dtype))
        if self.is_mutable_collection("batch_stats"):
            mean.value = x.mean(0)
        return x - mean.value


def test_init_returns_plain_dicts_of_every_created_collection():
    variables = BatchMean().init(KEY, X)
    assert type(variables) is dict and type(variables["batch_stats"]) is dict
    np.testing.assert_array_equal(variables["batch_stats"]["mean"], X.mean(0))


def test_mutable_forms():
    variables = {"batch_stats": {"mean": np.zeros(3, np.float32)}}
    y = BatchMean().apply(variables, X)
    np.testing.assert_array_equal(y, X)  # immutable: the stored zeros are used
    for mutable in (True, "batch_stats", ["batch_stats"], nn.DenyList("params")):
        y, state = BatchMean().apply(variables, X, mutable=mutable)
        assert list(state) == ["batch_stats"]
        np.testing.assert_array_equal(state["batch_stats"]["mean"], X.mean(0))
    y, state = BatchMean().apply(variables, X, mutable=[])
    assert state == {}


def test_frozen_dict_variables_are_accepted():
    variables = nn.core.freeze(nn.Dense(2).init(KEY, X))
    assert nn.Dense(2).apply(variables, X).shape == (2, 2)


def test_has_get_put_variable_and_variables_property():
    class Probe(nn.Module):
        @nn.compact
        def __call__(self):
            assert not self.has_variable("state", "x")
            assert self.get_variable("state", "x", default=7) == 7
            self.put_variable("state", "x", 1)
            assert self.has_variable("state", "x") and self.get_variable("state", "x") == 1
            return self.variables

    out, variables = Probe().init_with_output(KEY)
    assert out == {"state": {"x": 1}} == variables


def test_variable_value_round_trip_and_is_mutable():
    class Acc(nn.Module):
        @nn.compact
        def __call__(self, x):
            total = self.variable("acc", "total", lambda: 0.0)
            if total.is_mutable():
                total.value = total.value + x
            return total.value

    variables = Acc().init(KEY, 1.0)
    assert variables == {"acc": {"total": 1.0}}
    out, state = Acc().apply(variables, 2.0, mutable=True)
    assert out == 3.0 and state == {"acc": {"total": 3.0}}
    assert Acc().apply(variables, 5.0) == 1.0


def test_variable_names_per_collection():
    # The seed system lets two collections use the same variable name.
    class Both(nn.Module):
        @nn.compact
        def __call__(self):
            self.param("mean", nn.initializers.zeros_init(), (2,))
            return self.variable("stats", "mean", lambda: np.ones(2)).value

    variables = Both().init(KEY)
    assert set(variables) == {"params", "stats"}

    class Twice(nn.Module):
        @nn.compact
        def __call__(self):
            self.variable("stats", "mean", lambda: 0)
            self.variable("stats", "mean", lambda: 0)

    with pytest.raises(errors.NameInUseError):
        Twice().init(KEY)


def test_sow_appends_and_reduces():
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.sow("intermediates", "h", x)
            self.sow("intermediates", "h", 2 * x)
            self.sow("sums", "s", x, init_fn=lambda: 0, reduce_fn=lambda a, b: a + b)
            self.sow("sums", "s", 2 * x, init_fn=lambda: 0, reduce_fn=lambda a, b: a + b)
            return x

    variables = Foo().init(KEY, 1.0)
    assert variables == {"sums": {"s": 3.0}}  # intermediates is not mutable in init
    _, state = Foo().apply({}, 1.0, mutable=["intermediates", "sums"])
    assert state == {"intermediates": {"h": (1.0, 2.0)}, "sums": {"s": 3.0}}

    class Returns(nn.Module):
        def __call__(self, x):
            return self.sow("intermediates", "h", x)

    assert Returns().apply({}, 1.0) is False
    assert Returns().apply({}, 1.0, mutable=True) == (True, {"intermediates": {"h": (1.0,)}})


def test_capture_intermediates_default_and_filter():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(self.helper(x))

        def helper(self, x):
            return 2 * x

    variables = Net().init(KEY, X)
    y, state = Net().apply(variables, X, capture_intermediates=True, mutable=["intermediates"])
    inter = state["intermediates"]
    assert set(inter) == {"__call__", "Dense_0"}
    np.testing.assert_array_equal(inter["__call__"][0], y)
    np.testing.assert_array_equal(inter["Dense_0"]["__call__"][0], y)

    only_helper = lambda module, method_name: method_name == "helper"
    _, state = Net().apply(variables, X, capture_intermediates=only_helper, mutable=["intermediates"])
    np.testing.assert_array_equal(state["intermediates"]["helper"][0], 2 * X)
    assert set(state["intermediates"]) == {"helper"}


def test_perturb_is_a_zero_variable_and_a_no_op_without_it():
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(3)(x)
            x = self.perturb("dense3", x)
            return nn.Dense(2)(x)

    variables = Foo().init(KEY, X)
    np.testing.assert_array_equal(variables["perturbations"]["dense3"], np.zeros((2, 3), np.float32))
    with_p = Foo().apply(variables, X)
    without = Foo().apply({"params": variables["params"]}, X)
    np.testing.assert_array_equal(with_p, without)
    shifted = {"params": variables["params"], "perturbations": {"dense3": np.ones((2, 3), np.float32)}}
    assert not np.allclose(Foo().apply(shifted, X), with_p)


def test_is_initializing():
    seen = []

    class Foo(nn.Module):
        @nn.compact
        def __call__(self):
            seen.append(self.is_initializing())

    variables = Foo().init(KEY)
    Foo().apply(variables)
    nn.init(lambda m: m(), Foo())(KEY)
    assert seen == [True, False, True]


def test_existing_param_is_read_not_reinitialized():
    kernel = np.full((3, 2), 5.0, np.float32)
    variables = {"params": {"kernel": kernel, "bias": np.zeros(2, np.float32)}}
    np.testing.assert_array_equal(nn.Dense(2).apply(variables, X), X @ kernel)


def test_in_place_updates_in_model_code_never_reach_stored_or_caller_arrays():
    # JAX arrays are immutable; NumPy's += is in place. Neither the caller's
    # arrays nor the initial values may change behind the caller's back.
    class Counter(nn.Module):
        @nn.compact
        def __call__(self):
            first = not self.has_variable("counter", "count")
            count = self.variable("counter", "count", lambda: np.zeros((), np.int32))
            if not first:
                count.value += 1
            return count.value

    variables = Counter().init(KEY)
    assert variables["counter"]["count"] == 0
    for expected in (1, 1):
        _, state = Counter().apply(variables, mutable=["counter"])
        assert state["counter"]["count"] == expected
    assert variables["counter"]["count"] == 0
    with pytest.raises(errors.ModifyScopeVariableError):
        Counter().apply(variables)
    assert variables["counter"]["count"] == 0

    class Bias(nn.Module):
        @nn.compact
        def __call__(self):
            b = self.param("b", nn.initializers.zeros_init(), (2,))
            b += 1.0
            return b

    params = Bias().init(KEY)
    np.testing.assert_array_equal(params["params"]["b"], np.zeros(2, np.float32))
    Bias().apply(params)
    np.testing.assert_array_equal(params["params"]["b"], np.zeros(2, np.float32))
