"""``apply`` checks every existing parameter's shape, without drawing random numbers.

The seed system raises ``ScopeParamShapeError`` when a parameter given to
``apply`` does not have the shape its initializer would make for these
inputs. nnref keeps that guarantee for its own initializers, boxed ones
(``with_partitioning``) and user-written ones, and for its own initializers
computes the expected shape from the arguments: no key is hashed during an
``apply`` whose parameters all exist. Nor is any parameter copied: it is
handed out as a read-only view, which must still keep the caller's arrays
unchanged whatever the model code does with it.
"""

import functools

import numpy as np
import pytest

import nnref as nn
from nnref.random import keys as random_keys
from shared_spec import errors


@pytest.fixture
def threefry_calls(monkeypatch):
    """One entry per run of the threefry hash (behind every random draw) since the fixture started."""
    calls = []
    real = random_keys.threefry2x32

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(random_keys, "threefry2x32", counting)
    return calls


def _raises_shape_error(fn, name, path, value_shape, init_shape):
    with pytest.raises(errors.ScopeParamShapeError) as info:
        fn()
    err = info.value
    assert (err.param_name, err.scope_path, tuple(err.value_shape), tuple(err.init_shape)) == (
        name,
        path,
        value_shape,
        init_shape,
    )
    assert str(err) == str(errors.ScopeParamShapeError(name, path, value_shape, init_shape))


def test_dense_on_inputs_of_another_feature_size():
    model = nn.Dense(4)
    variables = model.init(nn.random.PRNGKey(0), np.ones((2, 3), np.float32))
    _raises_shape_error(lambda: model.apply(variables, np.ones((2, 5), np.float32)), "kernel", "/", (3, 4), (5, 4))


def test_conv_with_other_in_channels_inside_a_parent():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Conv(features=4, kernel_size=(3, 3))(x)

    variables = Net().init(nn.random.PRNGKey(0), np.ones((1, 8, 8, 2), np.float32))
    _raises_shape_error(
        lambda: Net().apply(variables, np.ones((1, 8, 8, 3), np.float32)),
        "kernel",
        "/Conv_0",
        (3, 3, 2, 4),
        (3, 3, 3, 4),
    )


@pytest.mark.parametrize(
    "box",
    [
        lambda init: nn.with_partitioning(init, (None, "model")),
        lambda init: nn.with_logical_partitioning(init, ("embed", "mlp")),
    ],
    ids=["with_partitioning", "with_logical_partitioning"],
)
def test_boxed_initializer_is_checked_through_the_box(box):
    model = nn.Dense(4, kernel_init=box(nn.initializers.lecun_normal()))
    variables = model.init(nn.random.PRNGKey(0), np.ones((2, 3), np.float32))
    assert nn.meta.is_axis_metadata(variables["params"]["kernel"])
    assert model.apply(variables, np.ones((2, 3), np.float32)).shape == (2, 4)
    _raises_shape_error(lambda: model.apply(variables, np.ones((2, 6), np.float32)), "kernel", "/", (3, 4), (6, 4))


def _ramp(key, n):
    """A user-written initializer: not one of nnref's, so it declares no shape."""
    return np.arange(n, dtype=np.float32)


class Ramp(nn.Module):
    init_fn: object = _ramp

    @nn.compact
    def __call__(self, x):
        return x * self.param("ramp", self.init_fn, x.shape[-1])


def test_user_initializer_with_a_wrong_shape():
    variables = Ramp().init(nn.random.PRNGKey(0), np.ones((2, 3), np.float32))
    assert Ramp().apply(variables, np.ones((2, 3), np.float32)).shape == (2, 3)  # same arguments again: fine
    _raises_shape_error(lambda: Ramp().apply(variables, np.ones((2, 4), np.float32)), "ramp", "/", (3,), (4,))


def test_user_initializer_made_on_every_call():
    class Scale(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x * self.param("scale", lambda key, n: np.ones((n,), np.float32), x.shape[-1])

    variables = Scale().init(nn.random.PRNGKey(0), np.ones((2, 3), np.float32))
    _raises_shape_error(lambda: Scale().apply(variables, np.ones((2, 2), np.float32)), "scale", "/", (3,), (2,))


def test_user_initializer_returning_several_leaves():
    def pair(key, n):
        return {"a": np.zeros((n,)), "b": np.zeros((n, n))}

    class Pair(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.param("pair", pair, x.shape[-1])
            return x

    variables = Pair().init(nn.random.PRNGKey(0), np.ones((1, 2)))
    _raises_shape_error(lambda: Pair().apply(variables, np.ones((1, 3))), "pair", "/", (2,), (3,))


def test_a_wrapper_that_changes_the_shape_is_not_taken_for_its_wrapped_initializer():
    base = nn.initializers.lecun_normal()

    @functools.wraps(base)  # copies the wrapped function's attributes, not its declared shape
    def first_row(key, shape, dtype=np.float32):
        return base(key, shape, dtype)[:1]

    model = nn.Dense(4, kernel_init=first_row)
    variables = model.init(nn.random.PRNGKey(0), np.ones((1, 1), np.float32))
    assert variables["params"]["kernel"].shape == (1, 4)
    assert model.apply(variables, np.ones((2, 1), np.float32)).shape == (2, 4)


def test_a_keyword_partial_of_a_library_initializer_is_still_checked(threefry_calls):
    class Bias(nn.Module):
        @nn.compact
        def __call__(self, x):
            init = functools.partial(nn.initializers.normal(0.1), dtype=np.float64)
            return x + self.param("bias", init, (x.shape[-1],))

    variables = Bias().init(nn.random.PRNGKey(0), np.ones((2, 3)))
    assert variables["params"]["bias"].dtype == np.float64
    del threefry_calls[:]
    Bias().apply(variables, np.ones((2, 3)))
    assert not threefry_calls
    _raises_shape_error(lambda: Bias().apply(variables, np.ones((2, 2))), "bias", "/", (3,), (2,))


def _cnn():
    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.BatchNorm(use_running_average=True)(nn.Conv(8, (3, 3))(x)))
            x = nn.Conv(
                8,
                (3, 3),
                kernel_init=nn.initializers.orthogonal(),
                bias_init=nn.with_partitioning(nn.initializers.constant(0.1), ("model",)),
            )(x)
            x = x + nn.Embed(5, x.shape[-1])(np.zeros(x.shape[:-1], np.int32))
            x = nn.Dense(6, kernel_init=nn.initializers.he_uniform())(x.reshape((x.shape[0], -1)))
            return nn.LayerNorm()(nn.Dense(3, kernel_init=nn.initializers.glorot_normal())(x))

    return CNN()


def test_apply_draws_no_random_numbers_when_every_parameter_exists(threefry_calls):
    model, x = _cnn(), np.ones((2, 6, 6, 2), np.float32)
    variables = model.init(nn.random.PRNGKey(0), x)
    assert threefry_calls, "the probe sees the initializers draw at init"
    del threefry_calls[:]
    model.apply(variables, x)
    assert not threefry_calls


class _Writer(nn.Module):
    """Writes into its parameter the way the test asks, then uses it."""

    how: str

    @nn.compact
    def __call__(self, x):
        w = self.param("w", nn.initializers.ones, (x.shape[-1],))
        if not self.is_initializing():
            if self.how == "augmented":
                w += 1  # in JAX a new array; it must not reach the caller's
            elif self.how == "item":
                w[0] = 5.0
            else:
                np.multiply(w, 2, out=w)
        return x * w


def test_augmented_assignment_on_a_parameter_makes_a_new_array_as_in_jax():
    x = np.ones((1, 2), np.float32)
    variables = _Writer("augmented").init(nn.random.PRNGKey(0), x)
    before = variables["params"]["w"].copy()
    y = _Writer("augmented").apply(variables, x)
    np.testing.assert_array_equal(y, x * (before + 1))
    assert type(y) is np.ndarray
    np.testing.assert_array_equal(variables["params"]["w"], before)
    assert variables["params"]["w"].flags.writeable  # the caller's array itself is left as it was


@pytest.mark.parametrize("how", ["item", "out"])
def test_writing_into_a_parameter_during_apply_raises_and_changes_nothing(how):
    x = np.ones((1, 2), np.float32)
    variables = _Writer(how).init(nn.random.PRNGKey(0), x)
    before = variables["params"]["w"].copy()
    with pytest.raises(ValueError, match="read-only"):
        _Writer(how).apply(variables, x)
    np.testing.assert_array_equal(variables["params"]["w"], before)


@pytest.mark.parametrize("how", ["augmented", "item", "out"])
def test_with_params_mutable_the_model_writes_a_private_copy(how):
    x = np.ones((1, 2), np.float32)
    variables = _Writer(how).init(nn.random.PRNGKey(0), x)
    before = variables["params"]["w"].copy()
    _Writer(how).apply(variables, x, mutable=["params"])
    np.testing.assert_array_equal(variables["params"]["w"], before)
