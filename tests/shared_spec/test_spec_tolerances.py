"""The tolerance table and the assert_close / assert_trees_close contracts."""

import numpy as np
import pytest

from shared_spec import tolerances
from shared_spec.frozen_dict import freeze
from shared_spec.tolerances import DTYPES, FAMILIES, assert_close, assert_trees_close, tolerance

FLOAT_DTYPES = ['float64', 'float32', 'bfloat16', 'float16']
NON_EXACT = [f for f in FAMILIES if f != 'exact']
# Unit roundoff per dtype, from the mantissa widths (not from the module).
EPS = {'float64': 2.0**-52, 'float32': 2.0**-23, 'float16': 2.0**-10, 'bfloat16': 2.0**-7}


def test_every_dtype_and_family_has_an_entry():
    assert set(DTYPES) == set(FLOAT_DTYPES)
    assert set(FAMILIES) == {
        'exact',
        'elementwise',
        'transcendental',
        'matmul',
        'reduction',
        'normalization',
        'conv',
        'attention',
        'prng_normal',
        'derivative',
    }
    for family in FAMILIES:
        for dtype in DTYPES:
            rtol, atol = tolerance(dtype, family)
            assert isinstance(rtol, float) and isinstance(atol, float)
            assert rtol >= 0 and atol >= 0


def test_exact_is_zero():
    assert all(tolerance(d, 'exact') == (0.0, 0.0) for d in DTYPES)


@pytest.mark.parametrize('family', NON_EXACT)
def test_wider_dtypes_are_strictly_tighter(family):
    order = ['float64', 'float32', 'float16', 'bfloat16']
    for narrow, wide in zip(order[1:], order[:-1]):
        assert tolerance(wide, family)[0] < tolerance(narrow, family)[0], (family, wide)
        assert tolerance(wide, family)[1] < tolerance(narrow, family)[1], (family, wide)


@pytest.mark.parametrize('family', NON_EXACT)
@pytest.mark.parametrize('dtype', FLOAT_DTYPES)
def test_at_least_one_ulp_and_well_below_one(family, dtype):
    rtol, _ = tolerance(dtype, family)
    assert EPS[dtype] <= rtol < 0.2


@pytest.mark.parametrize('dtype', FLOAT_DTYPES)
def test_single_ops_are_tighter_than_accumulations(dtype):
    elementwise = tolerance(dtype, 'elementwise')[0]
    for family in ('matmul', 'conv', 'attention', 'normalization', 'derivative'):
        assert elementwise <= tolerance(dtype, family)[0], family
    assert tolerance(dtype, 'matmul')[0] <= tolerance(dtype, 'attention')[0]


def test_dtype_spellings():
    assert tolerance(np.float32, 'matmul') == tolerance('float32', 'matmul')
    assert tolerance(np.dtype('float64'), 'conv') == tolerance('float64', 'conv')
    assert tolerance('complex64', 'matmul') == tolerance('float32', 'matmul')
    assert tolerance('complex128', 'matmul') == tolerance('float64', 'matmul')
    for exact in ('int32', 'uint32', 'bool', np.int8):
        assert tolerance(exact, 'transcendental') == (0.0, 0.0)
    with pytest.raises(ValueError, match='family'):
        tolerance('float32', 'matmull')
    with pytest.raises(ValueError, match='dtype'):
        tolerance('float8_e4m3', 'matmul')


@pytest.mark.parametrize('family', NON_EXACT)
@pytest.mark.parametrize('dtype', ['float64', 'float32'])
def test_assert_close_passes_inside_and_fails_outside(family, dtype):
    rtol, atol = tolerance(dtype, family)
    desired = np.array([1.0, -2.0, 0.5], dtype=dtype)
    inside = desired.astype(np.float64) * (1 + rtol / 4)
    assert_close(inside.astype(dtype), desired, family=family)
    outside = desired.astype(np.float64) + 10 * (atol + rtol * np.abs(desired))
    with pytest.raises(AssertionError, match=family):
        assert_close(outside.astype(dtype), desired, family=family)


def test_atol_governs_values_near_zero():
    rtol, atol = tolerance('float32', 'matmul')
    desired = np.zeros(4, np.float32)
    assert_close(np.full(4, atol / 2, np.float32), desired, family='matmul')
    with pytest.raises(AssertionError):
        assert_close(np.full(4, atol * 3, np.float32), desired, family='matmul')


def test_dtype_argument_overrides_the_desired_dtype():
    desired = np.array([1.0])
    actual = np.array([1.0 + 1e-4])
    with pytest.raises(AssertionError):
        assert_close(actual, desired, family='matmul')  # float64 row
    assert_close(actual, desired, family='matmul', dtype='bfloat16')


def test_shape_mismatch_fails_even_if_broadcastable():
    with pytest.raises(AssertionError, match='shape'):
        assert_close(np.ones((1, 3)), np.ones(3), family='elementwise')


def test_nan_must_match_positions():
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), family='elementwise')
    with pytest.raises(AssertionError):
        assert_close(np.array([1.0, 1.0]), np.array([np.nan, 1.0]), family='elementwise')
    with pytest.raises(AssertionError):
        assert_close(np.array([np.inf]), np.array([-np.inf]), family='elementwise')
    assert_close(np.array([np.inf]), np.array([np.inf]), family='elementwise')


def test_exact_family_and_integer_dtypes():
    bits = np.array([1, 2, 3], np.uint32)
    assert_close(bits.copy(), bits, family='exact')
    with pytest.raises(AssertionError):
        assert_close(np.array([1, 2, 4], np.uint32), bits, family='matmul')
    with pytest.raises(AssertionError, match='kind'):
        assert_close(bits.astype(np.float32), bits, family='elementwise')
    with pytest.raises(AssertionError, match='kind'):
        assert_close(np.array([True]), np.array([1], np.int32), family='exact')
    with pytest.raises(AssertionError):
        assert_close(np.float32([1.0]), np.float32([np.nextafter(1, 2, dtype=np.float32)]), family='exact')
    # big integers are compared as integers, not through float64
    big = np.array([2**62], np.int64)
    with pytest.raises(AssertionError):
        assert_close(big + 1, big, family='exact')


def test_err_msg_is_included():
    with pytest.raises(AssertionError, match='^Dense_0/kernel: '):
        assert_close(np.ones(2), np.zeros(2), family='matmul', err_msg='Dense_0/kernel')


class _FakeDeviceArray:
    """Stands in for a JAX array: only __array__ and a dtype."""

    def __init__(self, value):
        self._value = np.asarray(value)
        self.dtype = self._value.dtype

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)


def test_array_likes_with___array__():
    assert_close(_FakeDeviceArray([1.0, 2.0]), np.array([1.0, 2.0]), family='exact')
    with pytest.raises(AssertionError):
        assert_close(_FakeDeviceArray([1.0, 2.5]), np.array([1.0, 2.0]), family='matmul')


def test_bfloat16_arrays_when_available():
    ml_dtypes = pytest.importorskip('ml_dtypes')
    desired = np.array([1.0, 2.0, 3.0], ml_dtypes.bfloat16)
    one_ulp = np.array([1.0 + 2**-7, 2.0, 3.0], ml_dtypes.bfloat16)
    assert_close(one_ulp, desired, family='elementwise')
    assert_close(desired.copy(), desired, family='exact')
    with pytest.raises(AssertionError):
        assert_close(np.array([1.25, 2.0, 3.0], ml_dtypes.bfloat16), desired, family='elementwise')


def test_complex_values_compare_by_modulus_of_difference():
    d = np.array([1 + 1j], np.complex64)
    assert_close(d, d, family='elementwise')
    with pytest.raises(AssertionError):
        assert_close(np.array([1 + 1.1j], np.complex64), d, family='elementwise')


# --- trees ------------------------------------------------------------------


def _tree():
    return {
        'params': {'Dense_0': {'kernel': np.ones((2, 3)), 'bias': np.zeros(3)}},
        'out': [np.array(1.0), (np.arange(3, dtype=np.int32),)],
    }


def test_trees_equal_including_frozen_and_tuple_list_mix():
    desired = _tree()
    actual = _tree()
    actual['out'] = tuple(actual['out'])
    assert_trees_close(freeze(actual), desired, family='matmul')


def test_trees_report_missing_path_by_name():
    actual = _tree()
    del actual['params']['Dense_0']['bias']
    with pytest.raises(AssertionError) as info:
        assert_trees_close(actual, _tree(), family='matmul')
    assert "missing paths (only in desired): ['params/Dense_0/bias']" in str(info.value)


def test_trees_report_extra_path_by_name():
    actual = _tree()
    actual['batch_stats'] = {'mean': np.zeros(3)}
    with pytest.raises(AssertionError, match=r"extra paths.*'batch_stats/mean'"):
        assert_trees_close(actual, _tree(), family='matmul')


def test_trees_report_every_failing_leaf_by_path():
    actual = _tree()
    actual['params']['Dense_0']['kernel'] = actual['params']['Dense_0']['kernel'] + 1
    actual['out'][1] = (np.arange(3, dtype=np.int32) + 1,)
    with pytest.raises(AssertionError) as info:
        assert_trees_close(actual, _tree(), family='matmul', err_msg='case dense')
    text = str(info.value)
    assert text.startswith('case dense: 2 of 4 leaves differ')
    assert 'params/Dense_0/kernel' in text and 'out/1/0' in text


def test_trees_empty_containers_and_none():
    assert_trees_close({'a': {}, 'b': None}, {'a': {}, 'b': None}, family='exact')
    with pytest.raises(AssertionError, match='empty'):
        assert_trees_close({}, {'a': {}}, family='exact')
    with pytest.raises(AssertionError, match='b'):
        assert_trees_close({'b': np.zeros(1)}, {'b': None}, family='exact')


def test_module_exports_the_table_it_uses():
    assert tolerances.TOLERANCES['matmul']['float32'] == tolerance('float32', 'matmul')
