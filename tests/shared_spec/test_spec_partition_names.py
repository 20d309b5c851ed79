"""shared_spec.partition_names: how transforms edit a Partitioned box's names, tested once."""

import doctest

import pytest

from shared_spec import errors
from shared_spec import partition_names as pn


def test_docstring_examples():
    result = doctest.testmod(pn)
    assert result.attempted > 0 and result.failed == 0


def test_check_names():
    assert pn.check_names(['a', None], 'X') == ('a', None)
    assert pn.check_names((), 'X') == ()
    with pytest.raises(TypeError, match="got the string 'a'"):
        pn.check_names('a', 'X')
    with pytest.raises(TypeError, match='got 3'):
        pn.check_names(3, 'X')


def test_axis_name_needs_the_key_but_allows_none():
    assert pn.axis_name({pn.PARTITION_NAME: None}, 'box') is None
    with pytest.raises(errors.PartitioningUnspecifiedError):
        pn.axis_name({'other': 1}, 'box')


@pytest.mark.parametrize('names,index', [(('a', 'b'), 0), (('a', 'b'), 2), (('a',), 3), ((), 0)])
def test_with_then_without_is_identity_up_to_padding(names, index):
    grown = pn.names_with_axis(names, index, 'n')
    padded = tuple(names) + (None,) * max(0, index - len(names))
    assert pn.names_without_axis(grown, index, 'n') == padded


def test_without_reports_missing_axis():
    with pytest.raises(ValueError, match='<no such axis>'):
        pn.names_without_axis(('a',), 3, 'n')
    with pytest.raises(ValueError, match="is 'a', but the transform removes the axis it added as 'n'"):
        pn.names_without_axis(('a',), 0, 'n')
