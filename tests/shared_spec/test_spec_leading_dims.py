"""shared_spec.leading_dims: BatchApply's shape rules, tested once."""

import doctest

import numpy as np
import pytest

from shared_spec import leading_dims as ld


def test_docstring_examples():
    result = doctest.testmod(ld)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    'shape,num_dims', [((2, 3, 4), 2), ((2, 3, 4), 1), ((5,), 1), ((2, 0, 3), 2), ((1, 2, 3, 4), 3)]
)
def test_merge_then_split_restores_the_shape(shape, num_dims):
    merged = ld.merged_shape(shape, num_dims)
    assert merged == np.zeros(shape).reshape(merged).shape
    assert ld.split_shape(merged, shape[:num_dims]) == shape


def test_error():
    assert 'ndim >= 3' in str(ld.no_mergeable_input_error(3))
