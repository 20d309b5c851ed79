"""``shared_spec.dropout``: field checks, the mask shape and the float-input rule of Dropout."""

import doctest

import pytest

from shared_spec import dropout


def test_doctests():
    result = doctest.testmod(dropout, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize('rate', [0.0, 0.3, 1.0, 1])
def test_rates_in_the_unit_interval_pass(rate):
    assert dropout.check_fields(rate, (), 2) == []


@pytest.mark.parametrize('rate', [-0.1, 1.01, float('nan')])
def test_rates_outside_fail(rate):
    with pytest.raises(ValueError, match='rate must lie in'):
        dropout.check_fields(rate, (), 2)


def test_broadcast_dims_become_non_negative_axes():
    assert dropout.check_fields(0.5, (-1, 0), 3) == [2, 0]
    with pytest.raises(ValueError, match='entry -4 is out of range for inputs of rank 3'):
        dropout.check_fields(0.5, (-4,), 3)


def test_mask_shape_shrinks_the_shared_axes():
    assert dropout.mask_shape((2, 3, 4), [0, 2]) == (1, 3, 1)
    assert dropout.mask_shape((), []) == ()


def test_check_floating():
    dropout.check_floating(True, 'float32')
    with pytest.raises(TypeError, match='got int8'):
        dropout.check_floating(False, 'int8')
