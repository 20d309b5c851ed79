"""Every catalogue error of the Module system is raised by a real misuse, with a useful message."""

import copy

import numpy as np
import pytest

import nnref as nn
from conformance.misuse_cases import JAX_ONLY_MISUSES, MISUSES
from shared_spec import errors


@pytest.mark.parametrize("error_name, description, misuse", MISUSES, ids=[m[1] for m in MISUSES])
def test_misuse_raises_catalogue_error(error_name, description, misuse):
    error_cls = getattr(errors, error_name)
    assert getattr(nn.errors, error_name) is error_cls
    with pytest.raises(error_cls):
        misuse(nn)


@pytest.mark.parametrize("entry", errors.CATALOGUE, ids=[e.error.__name__ for e in errors.CATALOGUE])
def test_every_catalogue_error_has_a_misuse(entry):
    covered = {name for name, _, _ in MISUSES + JAX_ONLY_MISUSES}  # the JAX-only ones run in tests/nnjax
    assert entry.error.__name__ in covered


def _message(misuse):
    with pytest.raises(errors.NNError) as info:
        misuse(nn)
    return str(info.value)


def test_messages_name_path_collection_and_variable():
    from conformance import misuse_cases as m

    text = _message(m.write_immutable_collection)
    assert "counter" in text and "count" in text and "mutable" in text
    text = _message(m.param_shape_changed)
    assert "kernel" in text and "(1, 8)" in text and "(5, 8)" in text
    text = _message(m.duplicate_submodule_names)
    assert "bar" in text and "/" in text
    text = _message(m.collection_not_passed)
    assert "batch_stats" in text and "mean" in text
    text = _message(m.missing_rng_stream)
    assert "noise" in text


def test_error_inside_submodule_names_its_path():
    class Inner(nn.Module):
        @nn.compact
        def __call__(self, x):
            v = self.variable("stats", "seen", lambda: 0)
            v.value = 1
            return x

    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Inner(name="inner")(x)

    variables = Outer().init(nn.random.PRNGKey(0), 1.0)
    with pytest.raises(errors.ModifyScopeVariableError) as info:
        Outer().apply(variables, 1.0)
    assert "/inner" in str(info.value) and "seen" in str(info.value)


class _Tracker(nn.Module):
    fail: bool = False

    @nn.compact
    def __call__(self, x):
        mean = self.variable("batch_stats", "mean", lambda: np.zeros(x.shape[-1:], np.float32))
        mean.value = mean.value + x.mean(0)
        y = nn.Dense(2)(x)
        if self.fail:
            raise RuntimeError("failure after the state was written")
        return y


def test_failed_apply_leaves_caller_variables_unchanged():
    x = np.ones((3, 4), np.float32)
    variables = _Tracker().init(nn.random.PRNGKey(0), x)
    snapshot = copy.deepcopy(variables)
    with pytest.raises(RuntimeError):
        _Tracker(fail=True).apply(variables, x, mutable=["batch_stats"])
    assert variables.keys() == snapshot.keys()
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, snapshot)
    # and a successful mutable apply returns new state without touching the input
    _, state = _Tracker().apply(variables, x, mutable=["batch_stats"])
    assert not np.array_equal(state["batch_stats"]["mean"], variables["batch_stats"]["mean"])
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, snapshot)


@pytest.mark.parametrize("name", ["write_immutable_collection", "param_shape_changed", "mutable_filter_invalid"])
def test_failed_apply_misuse_does_not_touch_variables(name):

    model = nn.Dense(3)
    variables = model.init(nn.random.PRNGKey(0), np.ones((2, 4), np.float32))
    snapshot = copy.deepcopy(variables)
    with pytest.raises(errors.NNError):
        model.apply(variables, np.ones((2, 5), np.float32), mutable=3.5 if name == "mutable_filter_invalid" else False)
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, snapshot)
