"""Model code doing ``x += ...`` never changes the caller's arrays (nnref init/apply).

JAX arrays are immutable, so in the seed ``x += y`` rebinds ``x``. nnref
hands the model copies of the array arguments: the in-place operator still
works inside the model, the caller's arrays stay as they were.
"""

import collections

import numpy as np

import nnref as nn


class AddsInPlace(nn.Module):
    @nn.compact
    def __call__(self, x, extra=None):
        x += nn.Dense(x.shape[-1])(x)  # numpy: writes into x's buffer
        x *= 2.0
        if extra is not None:
            extra["h"] += 1.0
        return x


def _input():
    return np.arange(6, dtype=np.float32).reshape(2, 3) / 10


def test_init_and_apply_leave_the_callers_array_alone():
    x = _input()
    before = x.copy()
    model = AddsInPlace()
    variables = model.init(nn.random.PRNGKey(0), x)
    np.testing.assert_array_equal(x, before)
    y = model.apply(variables, x)
    np.testing.assert_array_equal(x, before)
    # The result is what `x = x + dense(x); x = x * 2` gives.
    kernel, bias = variables["params"]["Dense_0"]["kernel"], variables["params"]["Dense_0"]["bias"]
    np.testing.assert_allclose(y, (before + (before @ kernel + bias)) * 2, rtol=1e-6)
    # Calling twice gives the same answer (the input did not drift).
    np.testing.assert_array_equal(model.apply(variables, x), y)


def test_arrays_inside_containers_and_keywords_are_protected():
    x, h = _input(), np.zeros((2,), np.float32)
    extra = {"h": h}
    model = AddsInPlace()
    variables = model.init(nn.random.PRNGKey(0), x, extra=extra)
    model.apply(variables, x, extra=extra)
    assert extra["h"] is h and not h.any()
    np.testing.assert_array_equal(x, _input())


def test_output_is_not_the_callers_input():
    class Identity(nn.Module):
        def __call__(self, x):
            return x

    x = _input()
    y = Identity().apply({}, x)
    y += 1.0
    np.testing.assert_array_equal(x, _input())


def test_containers_keep_their_type_and_order():
    from nnref.init_apply import fresh_arrays

    Pair = collections.namedtuple("Pair", "b a")
    x = _input()
    args = fresh_arrays(({"z": x, "a": 1}, [x], Pair(x, "s"), nn.FrozenDict({"k": x})))
    d, lst, pair, frozen = args
    assert list(d) == ["z", "a"] and d["a"] == 1 and d["z"] is not x
    assert type(pair) is Pair and pair.a == "s" and pair.b is not x
    assert isinstance(lst, list) and lst[0] is not x
    assert isinstance(frozen, nn.FrozenDict) and frozen["k"] is not x
    np.testing.assert_array_equal(frozen["k"], x)
    untouched = ("text", 3, None)
    assert fresh_arrays(untouched) is untouched
