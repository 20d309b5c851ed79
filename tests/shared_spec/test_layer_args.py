"""The shared layer-argument checks: what passes, what fails with which class, and what the message says."""

import numpy as np
import pytest

from shared_spec import layer_args as la

WHO = {"layer": "Conv", "path": "/net/Conv_0"}


@pytest.mark.parametrize("value", [1, 7, np.int32(3), np.int64(2)])
def test_positive_int_accepts_python_and_numpy_ints(value):
    out = la.positive_int(value, field="features", **WHO)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize(
    "value, cls",
    [
        (0, ValueError),
        (-2, ValueError),
        (np.int32(0), ValueError),
        (2.0, TypeError),
        (2.5, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (True, TypeError),
        ((3,), TypeError),
    ],
)
def test_positive_int_refuses_with_the_field_value_and_path(value, cls):
    with pytest.raises(cls) as info:
        la.positive_int(value, field="features", **WHO)
    message = str(info.value)
    assert "Conv at module path '/net/Conv_0'" in message
    assert f"features={value!r}" in message and "positive int" in message


def test_optional_positive_int_lets_none_through():
    assert la.optional_positive_int(None, field="qkv_features", **WHO) is None
    assert la.optional_positive_int(8, field="qkv_features", **WHO) == 8
    with pytest.raises(ValueError, match="None or a positive int"):
        la.optional_positive_int(0, field="qkv_features", **WHO)


@pytest.mark.parametrize("value, expected", [(3, (3,)), ((3, 2), (3, 2)), ([1], (1,)), ((np.int64(2),), (2,))])
def test_kernel_dims_accepts_an_int_or_a_sequence(value, expected):
    assert la.kernel_dims(value, field="kernel_size", **WHO) == expected


@pytest.mark.parametrize(
    "value, cls",
    [
        ((), ValueError),
        ([], ValueError),
        (0, ValueError),
        ((3, 0), ValueError),
        ((-1,), ValueError),
        ((2.5,), TypeError),
        ("3", TypeError),
        (None, TypeError),
        (3.0, TypeError),
    ],
)
def test_kernel_dims_refuses_empty_zero_float_and_text(value, cls):
    with pytest.raises(cls, match=r"kernel_size=.*non-empty sequence of positive ints \(one per spatial axis\)"):
        la.kernel_dims(value, field="kernel_size", **WHO)


def test_kernel_dims_names_what_each_entry_is_for():
    with pytest.raises(ValueError, match="one per output axis"):
        la.kernel_dims((4, 0), field="features", layer="DenseGeneral", per="output axis")


@pytest.mark.parametrize("value, expected", [(None, (1, 1)), (2, (2, 2)), ((1, 3), (1, 3)), ([2, 1], (2, 1))])
def test_window_dims_broadcasts_an_int_and_defaults_none(value, expected):
    assert la.window_dims(value, 2, field="strides", **WHO) == expected


@pytest.mark.parametrize(
    "value, cls",
    [
        (0, ValueError),
        (-1, ValueError),
        ((1, 0), ValueError),
        ((1, 1, 1), ValueError),
        ((1,), ValueError),
        ((1.0, 1), TypeError),
        ("2", TypeError),
    ],
)
def test_window_dims_refuses_non_positive_wrong_length_and_floats(value, cls):
    with pytest.raises(cls) as info:
        la.window_dims(value, 2, field="kernel_dilation", **WHO)
    assert f"kernel_dilation={value!r}" in str(info.value)
    assert "sequence of 2 positive ints" in str(info.value)


@pytest.mark.parametrize("value", [0, 0.0, 1e-6, np.float32(1e-5), 10])
def test_non_negative_accepts_zero_and_positive_numbers(value):
    assert la.non_negative(value, field="epsilon", **WHO) is value


@pytest.mark.parametrize(
    "value, cls",
    [
        (-1e-6, ValueError),
        (float("nan"), ValueError),
        (np.float32(-1), ValueError),
        ("1e-6", TypeError),
        (None, TypeError),
    ],
)
def test_non_negative_refuses_negative_nan_and_text(value, cls):
    with pytest.raises(cls, match=r"epsilon=.* expected a number >= 0"):
        la.non_negative(value, field="epsilon", **WHO)


def test_non_negative_leaves_arrays_unchecked():
    # an array (or a traced value) cannot be read without per-element work: it passes as it is
    value = np.array([-1.0])
    assert la.non_negative(value, field="epsilon", **WHO) is value


@pytest.mark.parametrize("value", [0, 0.5, 1, 0.99, np.float64(0.9)])
def test_in_unit_interval_accepts_the_closed_interval(value):
    assert la.in_unit_interval(value, field="momentum", **WHO) is value


@pytest.mark.parametrize(
    "value, cls",
    [(1.5, ValueError), (-0.1, ValueError), (float("nan"), ValueError), ("0.9", TypeError), (None, TypeError)],
)
def test_in_unit_interval_refuses_outside_values(value, cls):
    with pytest.raises(cls, match=r"momentum=.* expected a number in \[0, 1\]"):
        la.in_unit_interval(value, field="momentum", **WHO)


def test_callable_members_names_the_first_bad_index():
    with pytest.raises(TypeError, match=r"layers\[2\]='relu'"):
        la.callable_members([abs, len, "relu", 3], field="layers", **WHO)
    members = [abs, len]
    assert la.callable_members(members, field="layers", **WHO) is members


def test_array_input_returns_arrays_unchanged_and_converts_lists():
    x = np.ones((2, 3), np.float32)
    assert la.array_input(x, np.asarray, arg="inputs", min_ndim=2, **WHO) is x
    converted = la.array_input([[1, 2]], np.asarray, arg="inputs", min_ndim=2, **WHO)
    assert converted.shape == (1, 2)


@pytest.mark.parametrize(
    "x, cls, text",
    [
        (None, TypeError, "inputs=None"),
        ("abc", TypeError, "inputs='abc'"),
        (np.array(["a"]), TypeError, "dtype <U1"),
        (np.array([object()]), TypeError, "dtype object"),
        ([["a", "b"]], TypeError, "holds no numbers"),
        (np.float32(1.0), ValueError, "shape ()"),
        (2.0, ValueError, "at least 1 dimension (got rank 0)"),
    ],
)
def test_array_input_refuses_none_text_objects_and_low_ranks(x, cls, text):
    with pytest.raises(cls) as info:
        la.array_input(x, np.asarray, arg="inputs", min_ndim=1, **WHO)
    assert text in str(info.value) and "'/net/Conv_0'" in str(info.value)


def test_array_input_wraps_a_failed_conversion():
    def refuse(x):
        raise ValueError("ragged")

    with pytest.raises(TypeError, match="converting it failed: ragged"):
        la.array_input([[1], [2, 3]], refuse, arg="inputs", **WHO)


def test_output_dims_and_empty_output():
    assert la.padded_output_dims((5,), (3,), (2,), ((1, 1),)) == (3,)
    assert la.padded_output_dims((4,), (2,), (1,), ((0, 0),), (2,), (1,)) == (6,)
    assert la.padded_output_dims((5,), (3,), (1,), ((0, 0),), None, (3,)) == (-2,)
    assert la.non_empty_output((3,), field="padding", value="VALID", in_shape=(5,), **WHO) == (3,)
    with pytest.raises(ValueError, match=r"spatial input shape \(2,\) gives output shape \(-2,\)"):
        la.non_empty_output((-2,), field="kernel_size", value=(5,), in_shape=(2,), **WHO)


def test_non_empty_batch_only_looks_at_reduction_axes():
    la.non_empty_batch((2, 0), (0,), arg="x", **WHO)  # an empty feature axis is not a batch problem
    with pytest.raises(ValueError, match=r"x of shape \(2, 0, 4\) is empty .*use_running_average=True"):
        la.non_empty_batch((2, 0, 4), (0, 1), arg="x", **WHO)


def test_where_reads_a_module_lazily():
    class Fake:
        def _path_text_or_none(self):
            return "/a/b"

    assert la.where(Fake()) == "Fake at module path '/a/b'"
    assert la.where("max_pool") == "max_pool"


def test_integer_ids_takes_the_backends_judgement():
    la.integer_ids(True, np.dtype("int8"), layer="Embed", path="/e")
    with pytest.raises(ValueError, match=r"Embed at module path '/e': inputs must be integer ids, got dtype float32\."):
        la.integer_ids(False, np.dtype("float32"), layer="Embed", path="/e")
