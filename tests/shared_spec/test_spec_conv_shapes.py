"""shared_spec.conv_shapes: the convolution layers' padding modes, kernel shapes and output sizes."""

import doctest
import itertools
from types import SimpleNamespace

import pytest

from shared_spec import conv_shapes
from shared_spec.conv_shapes import (
    conv_output_dims,
    edge_pads,
    local_kernel_shape,
    periodic_fold_pads,
    plan_conv,
    plan_conv_transpose,
    shared_kernel_shape,
)


def conv_fields(**overrides):
    fields = dict(
        features=4,
        kernel_size=(3,),
        strides=1,
        padding='SAME',
        input_dilation=1,
        kernel_dilation=1,
        feature_group_count=1,
        mask=None,
    )
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_docstring_examples():
    result = doctest.testmod(conv_shapes)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize('mode', ['CIRCULAR', 'REFLECT'])
@pytest.mark.parametrize('k, d', list(itertools.product(range(1, 6), range(1, 4))))
def test_edge_pads_keep_the_size_at_stride_one_with_the_odd_element_high(mode, k, d):
    [(low, high)] = edge_pads('Conv', mode, (k,), (d,))
    span = (k - 1) * d + 1
    assert low + high == span - 1 and high - low in (0, 1)
    assert conv_output_dims((10,), (k,), (1,), [(low, high)], (1,), (d,)) == (10,)


@pytest.mark.parametrize('k, d', list(itertools.product(range(1, 5), range(1, 3))))
def test_causal_pads_only_the_start(k, d):
    [(low, high)] = edge_pads('Conv', 'CAUSAL', (k,), (d,))
    assert (low, high) == ((k - 1) * d, 0)


@pytest.mark.parametrize(
    'n, k, s, padding, lhs, rhs',
    [
        (n, k, s, p, lhs, rhs)
        for n in (1, 4, 7)
        for k in (1, 2, 3)
        for s in (1, 2)
        for p in ('SAME', 'VALID', [(1, 2)])
        for lhs in (1, 2)
        for rhs in (1, 2)
        if not (isinstance(p, str) and lhs != 1)
    ],
)
def test_output_dims_count_the_window_positions_of_the_dilated_padded_input(n, k, s, padding, lhs, rhs):
    pads = (
        padding
        if not isinstance(padding, str)
        else conv_shapes.padtype_to_pads((n,), ((k - 1) * rhs + 1,), (s,), padding)
    )
    [(low, high)] = pads
    length = (n - 1) * lhs + 1 + low + high
    span = (k - 1) * rhs + 1
    expected = len([p for p in range(0, length, s) if p + span <= length])
    assert conv_output_dims((n,), (k,), (s,), padding, (lhs,), (rhs,)) == (expected,)


def test_feature_groups_must_divide_both_feature_counts():
    assert shared_kernel_shape('Conv', (2, 2), 6, 9, 3) == (2, 2, 2, 9)
    with pytest.raises(ValueError, match='feature_group_count=4'):
        shared_kernel_shape('Conv', (2,), 8, 6, 4)
    with pytest.raises(ValueError, match='no feature groups'):
        local_kernel_shape('ConvLocal', (3,), (2,), 4, 4, 2)


@pytest.mark.parametrize('size, period, transpose', list(itertools.product(range(4, 14), (2, 3, 4), (False, True))))
def test_periodic_fold_pads_reach_an_odd_number_of_periods_centred_on_the_output(size, period, transpose):
    # An odd count of periods, padded evenly on both sides, puts the middle period where the input starts.
    [(low, high)] = periodic_fold_pads((size,), (period,), transpose)
    assert (size + low + high) % (2 * period) == period
    assert (high - low) in ((0, 1) if transpose else (0, -1))


def test_plan_conv_for_explicit_padding_and_a_local_kernel():
    layer = conv_fields(kernel_size=(2, 2), padding=[(0, 1), 1], strides=(2, 1))
    plan = plan_conv(layer, (3, 5, 4, 6), shared_weights=False)
    assert plan.batch_shape == (3,) and plan.merged_batch == 3
    assert plan.padding == [(0, 1), (1, 1)] and plan.edge_mode is None
    assert plan.kernel_shape == (3, 5, 24, 4) and plan.bias_shape == (3, 5, 4)
    assert plan.dimension_numbers == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def test_plan_conv_merges_many_batch_axes_and_none():
    assert plan_conv(conv_fields(), (2, 3, 7, 5), shared_weights=True).merged_batch == 6
    assert plan_conv(conv_fields(), (7, 5), shared_weights=True)[:2] == ((), 1)


@pytest.mark.parametrize(
    'overrides, in_shape, match',
    [
        (dict(padding='FULL'), (1, 7, 2), "padding='FULL' is not supported"),
        (dict(padding='SAME', input_dilation=2), (1, 7, 2), 'needs explicit padding'),
        (dict(padding='VALID', kernel_size=(9,)), (1, 7, 2), 'kernel_size=\\(9,\\) is invalid'),
        (dict(padding='CAUSAL', kernel_size=(2, 2)), (1, 7, 7, 2), 'only implemented for 1D'),
        (dict(feature_group_count=3), (1, 7, 2), 'feature_group_count=3'),
        (dict(mask=[[[1.0]]]), (1, 7, 2), 'mask needs to have the same shape'),
        (dict(strides=0), (1, 7, 2), 'strides=0'),
        (dict(), (7,), 'need at least 2 dimensions'),
    ],
)
def test_plan_conv_refuses_bad_fields(overrides, in_shape, match):
    with pytest.raises(ValueError, match=match):
        plan_conv(conv_fields(**overrides), in_shape, shared_weights=True)


def test_padding_names_of_the_primitive_are_read_in_any_case_by_conv_only():
    assert plan_conv(conv_fields(padding='same'), (1, 7, 2), shared_weights=True).padding == 'same'
    transpose = SimpleNamespace(
        features=2,
        kernel_size=(3,),
        strides=None,
        padding='same',
        kernel_dilation=None,
        transpose_kernel=False,
        mask=None,
    )
    with pytest.raises(ValueError, match='not supported'):
        plan_conv_transpose(transpose, (1, 7, 2))


def test_plan_conv_transpose_kernel_layout_and_circular_periods():
    layer = SimpleNamespace(
        features=5,
        kernel_size=(3, 3),
        strides=(2, 1),
        padding='CIRCULAR',
        kernel_dilation=None,
        transpose_kernel=True,
        mask=None,
    )
    plan = plan_conv_transpose(layer, (4, 6, 2))
    assert plan.kernel_shape == (3, 3, 5, 2)
    assert (plan.circular, plan.padding, plan.periods, plan.batch_shape) == (True, 'VALID', (8, 6), ())
