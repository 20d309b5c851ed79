"""``shared_spec.sequential``: the accepted ``layers`` values and the hand-over rule between layers."""

import doctest

import pytest

from shared_spec import sequential


def test_doctests():
    result = doctest.testmod(sequential, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize('layers', [[abs], (abs, abs), []])
def test_lists_and_tuples_are_accepted_as_a_field(layers):
    sequential.check_layers_field(layers)


@pytest.mark.parametrize('layers', ['abc', {'a': abs}, abs, None])
def test_other_values_are_refused_with_their_type(layers):
    with pytest.raises(ValueError, match=f"got {type(layers).__name__!r}"):
        sequential.check_layers_field(layers)


def test_a_non_callable_member_is_named_by_index():
    with pytest.raises(TypeError, match=r'layers\[1\]=3'):
        sequential.check_chain([abs, 3], module='Sequential', name='s')


def test_feed_spreads_tuples_and_dicts_only():
    assert sequential.feed(lambda *a: a, (1, 2)) == (1, 2)
    assert sequential.feed(lambda **k: k, {'a': 1}) == {'a': 1}
    assert sequential.feed(lambda x: x, [1, 2]) == [1, 2]
