"""``shared_spec.normalization``: the axes each normalization layer reduces, group counts, wrapper names."""

import doctest

import pytest

from shared_spec import normalization as ns


def test_doctests():
    result = doctest.testmod(ns, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    'rank, axes, expected', [(3, -1, (2,)), (3, (0, -1), (0, 2)), (2, [1, -1], (1,)), (4, range(-2, 0), (2, 3))]
)
def test_canonicalize_axes(rank, axes, expected):
    assert ns.canonicalize_axes(rank, axes) == expected


def test_batch_norm_reduces_every_axis_but_the_features():
    assert ns.batch_norm_axes(2, -1) == ((1,), (0,))
    assert ns.batch_norm_axes(4, (1, 3)) == ((1, 3), (0, 2))


def test_instance_norm_keeps_the_batch_and_features_apart():
    assert ns.instance_norm_axes(3, -1) == ((2,), (1,))
    with pytest.raises(ValueError, match='includes axis 0, which is the batch axis'):
        ns.instance_norm_axes(3, (-3,))


def test_group_norm_axes_default_and_the_channel_rule():
    assert ns.group_norm_axes(2, None) == (1,)
    assert ns.group_norm_axes(4, (1, -1)) == (1, 3)
    with pytest.raises(ValueError, match=r'reduction_axes=\(\) must include the last axis'):
        ns.group_norm_axes(3, ())


@pytest.mark.parametrize(
    'num_groups, group_size, channels, expected', [(32, None, 64, 32), (None, 8, 64, 8), (1, None, 5, 1)]
)
def test_group_count(num_groups, group_size, channels, expected):
    assert ns.group_count('GroupNorm', num_groups, group_size, channels) == expected


@pytest.mark.parametrize(
    'num_groups, group_size, match',
    [
        (32, 4, 'give exactly one of num_groups and group_size'),
        (None, None, 'give exactly one'),
        (None, 5, 'group_size=5 does not divide the 12 channels'),
        (None, 0, 'group_size=0 does not divide'),
        (5, None, 'num_groups=5 does not divide the 12 channels'),
        (0, None, 'num_groups=0 does not divide'),
    ],
)
def test_group_count_refusals(num_groups, group_size, match):
    with pytest.raises(ValueError, match=match):
        ns.group_count('GroupNorm', num_groups, group_size, 12)


def test_feature_and_weight_norm_shapes():
    assert ns.feature_shapes((2, 3, 4), (2,)) == ((1, 1, 4), (4,))
    assert ns.feature_shapes((2, 3), ()) == ((1, 1), ())
    assert ns.weight_norm_axes(3, (0, -1)) == ((0, 2), (1,))


def test_wrapper_names_and_filter():
    assert ns.variable_stem('wrapped', ('params', 'kernel')) == 'wrapped/kernel'
    assert ns.selected('wrapped/Dense_0/kernel', ['kernel']) and not ns.selected('wrapped/bias', ['kernel'])
    assert ns.selected('wrapped/bias', set())
    ns.check_matrix('w/kernel', 4, False)
    ns.check_matrix('w/kernel', 2, True)
    with pytest.raises(ValueError, match="weight 'w/kernel' is 3-D"):
        ns.check_matrix('w/kernel', 3, True)
