"""``shared_spec.merge_param``: one of field and call argument, with the messages both backends raise."""

import doctest

import pytest

from shared_spec import merge_param as mp


def test_doctests():
    result = doctest.testmod(mp, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize('a, b, expected', [(True, None, True), (None, False, False), (0, None, 0), (None, '', '')])
def test_the_one_that_is_set_wins(a, b, expected):
    assert mp.merge_param('x', a, b) == expected


def test_neither_names_the_setting_and_the_fix():
    with pytest.raises(ValueError, match=r'Parameter "train" must be passed to the constructor or at call time\.'):
        mp.merge_param('train', None, None)


def test_both_is_refused_with_the_layer_in_front():
    with pytest.raises(
        ValueError, match=r'^Dropout: Parameter "deterministic" was passed to the constructor and at call'
    ):
        mp.merge_param('deterministic', True, False, layer='Dropout')


def test_backends_use_the_shared_function():
    import nnjax
    import nnref
    from nnjax import merge_param as jax_path
    from nnref import merge_param as ref_path

    assert nnref.merge_param is mp.merge_param is nnjax.merge_param
    assert ref_path is mp.merge_param and jax_path is mp.merge_param
