"""shared_spec.windows: pooling's window arguments and XLA's SAME/VALID padding rule."""

import doctest
import itertools

import pytest

from shared_spec import windows
from shared_spec.windows import dilated_size, padtype_to_pads, pool_geometry, pool_window, window_count


def test_docstring_examples():
    result = doctest.testmod(windows)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize('n, k, s', list(itertools.product(range(1, 9), range(1, 5), range(1, 4))))
def test_same_padding_gives_ceil_n_over_s_windows_with_the_odd_pad_high(n, k, s):
    [(low, high)] = padtype_to_pads((n,), (k,), (s,), 'SAME')
    assert window_count(n + low + high, k, s) == -(-n // s)
    assert high - low in (0, 1) and low >= 0
    [(lower_low, lower_high)] = padtype_to_pads((n,), (k,), (s,), 'same_lower')
    assert (lower_low, lower_high) == (high, low)


def test_valid_pads_nothing_and_unknown_names_are_refused():
    assert padtype_to_pads((5, 4), (2, 2), (1, 1), 'valid') == [(0, 0), (0, 0)]
    with pytest.raises(ValueError, match='Unknown padding'):
        padtype_to_pads((5,), (2,), (1,), 'FULL')


@pytest.mark.parametrize('n, k, s, d', list(itertools.product(range(0, 7), range(1, 4), range(1, 3), range(1, 3))))
def test_window_count_matches_counting_the_window_starts(n, k, s, d):
    starts = [p for p in range(0, n, s) if p + (k - 1) * d < n]
    assert window_count(n, k, s, d) == len(starts)
    assert dilated_size(n, d) == (n + (n - 1) * (d - 1) if n else 0)


def test_pool_geometry_extends_the_window_to_the_batch_and_feature_axes():
    g = pool_geometry('avg_pool', (2, 3, 6, 6, 4), (2, 3), (2, 1), ((0, 1), (1, 1)))
    assert g.window == (1, 1, 2, 3, 1)
    assert g.strides == (1, 1, 2, 1, 1)
    assert g.padding == ((0, 0), (0, 0), (0, 1), (1, 1), (0, 0))
    assert (g.add_batch_axis, g.window_shape, g.window_strides) == (False, (2, 3), (2, 1))


def test_pool_geometry_without_a_batch_axis_adds_one_and_keeps_names():
    g = pool_geometry('max_pool', (5, 2), (2,), None, 'same')
    assert (g.window, g.strides, g.padding, g.add_batch_axis) == ((1, 2, 1), (1, 1, 1), 'same', True)


@pytest.mark.parametrize(
    'window_shape, strides, padding, error, match',
    [
        ((0,), None, 'VALID', ValueError, 'window_shape'),
        (('2',), None, 'VALID', TypeError, 'window_shape'),
        ((2,), (0,), 'VALID', ValueError, 'strides'),
        ((2,), (1, 1), 'VALID', ValueError, 'strides'),
        ((2,), None, ((1, 1), (1, 1)), ValueError, 'padding'),
        ((9,), None, 'VALID', ValueError, 'non-empty'),
        ((2,), None, ((-3, 0),), ValueError, 'non-empty'),
    ],
)
def test_bad_window_arguments_raise_naming_the_function_and_the_argument(window_shape, strides, padding, error, match):
    with pytest.raises(error, match=match) as info:
        window = pool_window(window_shape, 'max_pool')
        pool_geometry('max_pool', (1, 4, 3), window, strides, padding)
    assert str(info.value).startswith('max_pool')
