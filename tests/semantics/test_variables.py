"""Variables, collections, mutability, sow, perturb and intermediates on both backends."""

import numpy as np
import pytest

from shared_spec import errors

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def make_batch_mean(nn):
    class BatchMean(nn.Module):
        @nn.compact
        def __call__(self, x):
            mean = self.variable("batch_stats", "mean", lambda: nn.numpy.zeros(x.shape[-1:], x.dtype))
            if self.is_mutable_collection("batch_stats"):
                mean.value = x.mean(0)
            return x - mean.value

    return BatchMean


def test_init_returns_plain_dicts_of_every_created_collection(nn):
    BatchMean = make_batch_mean(nn)
    variables = BatchMean().init(nn.random.PRNGKey(0), X)
    assert type(variables) is dict and type(variables["batch_stats"]) is dict
    np.testing.assert_array_equal(variables["batch_stats"]["mean"], X.mean(0))


def test_mutable_forms(nn):
    BatchMean = make_batch_mean(nn)
    variables = {"batch_stats": {"mean": np.zeros(3, np.float32)}}
    y = BatchMean().apply(variables, X)
    np.testing.assert_array_equal(y, X)  # immutable: the stored zeros are used
    for mutable in (True, "batch_stats", ["batch_stats"], nn.DenyList("params")):
        y, state = BatchMean().apply(variables, X, mutable=mutable)
        assert list(state) == ["batch_stats"]
        np.testing.assert_array_equal(state["batch_stats"]["mean"], X.mean(0))
    y, state = BatchMean().apply(variables, X, mutable=[])
    assert state == {}


def test_frozen_dict_variables_are_accepted(nn):
    variables = nn.core.freeze(nn.Dense(2).init(nn.random.PRNGKey(0), X))
    assert nn.Dense(2).apply(variables, X).shape == (2, 2)


def test_has_get_put_variable_and_variables_property(nn):
    class Probe(nn.Module):
        @nn.compact
        def __call__(self):
            assert not self.has_variable("state", "x")
            assert self.get_variable("state", "x", default=7) == 7
            self.put_variable("state", "x", 1)
            assert self.has_variable("state", "x") and self.get_variable("state", "x") == 1
            return self.variables

    out, variables = Probe().init_with_output(nn.random.PRNGKey(0))
    assert out == {"state": {"x": 1}} == variables


def test_variable_value_round_trip_and_is_mutable(nn):
    class Acc(nn.Module):
        @nn.compact
        def __call__(self, x):
            total = self.variable("acc", "total", lambda: 0.0)
            if total.is_mutable():
                total.value = total.value + x
            return total.value

    variables = Acc().init(nn.random.PRNGKey(0), 1.0)
    assert variables == {"acc": {"total": 1.0}}
    out, state = Acc().apply(variables, 2.0, mutable=True)
    assert out == 3.0 and state == {"acc": {"total": 3.0}}
    assert Acc().apply(variables, 5.0) == 1.0


def test_variable_names_per_collection(nn):
    # The seed system lets two collections use the same variable name.
    class Both(nn.Module):
        @nn.compact
        def __call__(self):
            self.param("mean", nn.initializers.zeros_init(), (2,))
            return self.variable("stats", "mean", lambda: nn.numpy.ones(2)).value

    variables = Both().init(nn.random.PRNGKey(0))
    assert set(variables) == {"params", "stats"}

    class Twice(nn.Module):
        @nn.compact
        def __call__(self):
            self.variable("stats", "mean", lambda: 0)
            self.variable("stats", "mean", lambda: 0)

    with pytest.raises(errors.NameInUseError):
        Twice().init(nn.random.PRNGKey(0))


def test_sow_appends_and_reduces(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.sow("intermediates", "h", x)
            self.sow("intermediates", "h", 2 * x)
            self.sow("sums", "s", x, init_fn=lambda: 0, reduce_fn=lambda a, b: a + b)
            self.sow("sums", "s", 2 * x, init_fn=lambda: 0, reduce_fn=lambda a, b: a + b)
            return x

    variables = Foo().init(nn.random.PRNGKey(0), 1.0)
    assert variables == {"sums": {"s": 3.0}}  # intermediates is not mutable in init
    _, state = Foo().apply({}, 1.0, mutable=["intermediates", "sums"])
    assert state == {"intermediates": {"h": (1.0, 2.0)}, "sums": {"s": 3.0}}

    class Returns(nn.Module):
        def __call__(self, x):
            return self.sow("intermediates", "h", x)

    assert Returns().apply({}, 1.0) is False
    assert Returns().apply({}, 1.0, mutable=True) == (True, {"intermediates": {"h": (1.0,)}})


def test_capture_intermediates_default_and_filter(nn):
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(self.helper(x))

        def helper(self, x):
            return 2 * x

    variables = Net().init(nn.random.PRNGKey(0), X)
    y, state = Net().apply(variables, X, capture_intermediates=True, mutable=["intermediates"])
    inter = state["intermediates"]
    assert set(inter) == {"__call__", "Dense_0"}
    np.testing.assert_array_equal(inter["__call__"][0], y)
    np.testing.assert_array_equal(inter["Dense_0"]["__call__"][0], y)

    def only_helper(module, method_name):
        return method_name == "helper"

    _, state = Net().apply(variables, X, capture_intermediates=only_helper, mutable=["intermediates"])
    np.testing.assert_array_equal(state["intermediates"]["helper"][0], 2 * X)
    assert set(state["intermediates"]) == {"helper"}


def test_perturb_is_a_zero_variable_and_a_no_op_without_it(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(3)(x)
            x = self.perturb("dense3", x)
            return nn.Dense(2)(x)

    variables = Foo().init(nn.random.PRNGKey(0), X)
    np.testing.assert_array_equal(variables["perturbations"]["dense3"], np.zeros((2, 3), np.float32))
    with_p = Foo().apply(variables, X)
    without = Foo().apply({"params": variables["params"]}, X)
    np.testing.assert_array_equal(with_p, without)
    shifted = {"params": variables["params"], "perturbations": {"dense3": np.ones((2, 3), np.float32)}}
    assert not np.allclose(Foo().apply(shifted, X), with_p)


def test_is_initializing(nn):
    seen = []

    class Foo(nn.Module):
        @nn.compact
        def __call__(self):
            seen.append(self.is_initializing())

    variables = Foo().init(nn.random.PRNGKey(0))
    Foo().apply(variables)
    nn.init(lambda m: m(), Foo())(nn.random.PRNGKey(0))
    assert seen == [True, False, True]


def test_existing_param_is_read_not_reinitialized(nn):
    kernel = np.full((3, 2), 5.0, np.float32)
    variables = {"params": {"kernel": kernel, "bias": np.zeros(2, np.float32)}}
    np.testing.assert_array_equal(nn.Dense(2).apply(variables, X), X @ kernel)
