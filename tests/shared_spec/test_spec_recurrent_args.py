"""shared_spec.recurrent_args: carry checks and shapes of recurrent cells, the time axis of RNN inputs."""

import doctest
from types import SimpleNamespace

import pytest

from shared_spec import recurrent_args
from shared_spec.recurrent_args import (
    LegacyOnClass,
    call_options,
    carry_pair,
    carry_shape,
    conv_window,
    hidden_size,
    missing_member,
    num_batch_dims,
    single_carry,
    time_axis,
)


def test_docstring_examples():
    result = doctest.testmod(recurrent_args)
    assert result.attempted > 0 and result.failed == 0


def test_lstm_carry_is_a_pair_and_other_carries_are_one_array():
    assert carry_pair('LSTMCell', ('c', 'h')) == ('c', 'h')
    for bad in ('ch', ('c',), ('c', 'h', 'x'), None):
        with pytest.raises(TypeError, match='pair \\(c, h\\)'):
            carry_pair('LSTMCell', bad)
    assert single_carry('GRUCell', 'h') == 'h'
    with pytest.raises(TypeError, match='got a list of 2'):
        single_carry('GRUCell', ['c', 'h'])


def test_hidden_size_checks_features_then_the_carry():
    assert hidden_size('GRUCell', 3, (5, 3)) == 3
    with pytest.raises(ValueError, match='features=0'):
        hidden_size('GRUCell', 0, (5, 3))
    with pytest.raises(TypeError, match='features=2.0'):
        hidden_size('GRUCell', 2.0, (5, 3))
    with pytest.raises(ValueError, match='carry has shape \\(\\)'):
        hidden_size('GRUCell', 3, ())


@pytest.mark.parametrize(
    'input_shape, axes, expected',
    [
        ((7,), 1, (2,)),
        ((4, 7), 1, (4, 2)),
        ((3, 4, 7), 1, (3, 4, 2)),
        ((5, 5, 3), 3, (5, 5, 2)),
        ((8, 5, 5, 3), 3, (8, 5, 5, 2)),
    ],
)
def test_carry_shape_keeps_the_batch_and_spatial_axes(input_shape, axes, expected):
    assert carry_shape('Cell', input_shape, num_feature_axes=axes, features=2) == expected


def test_carry_shape_refuses_inputs_without_the_feature_axes():
    with pytest.raises(ValueError, match='fewer than the 3 feature axes'):
        carry_shape('ConvLSTMCell', (5, 3), num_feature_axes=3, features=2, check_features=False)


def test_time_axis_and_batch_axes():
    assert [time_axis(n, 1, False) for n in (2, 3, 4)] == [0, 1, 2]
    assert time_axis(4, 1, True) == 0 and time_axis(5, 3, False) == 1
    assert [num_batch_dims(n, 1) for n in (2, 3, 4)] == [0, 1, 2]
    with pytest.raises(ValueError, match='no time axis'):
        time_axis(3, 3, False)


def test_conv_window_and_call_options():
    assert conv_window(3) == (3,) and conv_window((3, 1)) == (3, 1)
    layer = SimpleNamespace(return_carry=False, reverse=True)
    assert vars(call_options(layer, return_carry=None, reverse=False)) == {'return_carry': False, 'reverse': False}


def test_missing_member_messages_say_what_to_define():
    assert 'define it (decorated with nowrap)' in str(missing_member('C', 'initialize_carry'))
    assert '(1 for vector inputs)' in str(missing_member('C', 'num_feature_axes'))


def test_legacy_class_call_builds_one_state_per_carry_array():
    calls = []

    def zeros(key, shape):
        calls.append(key)
        return shape

    class Single:
        carry_states = 1

        @LegacyOnClass.wrapping(split=lambda rng: ('k1', 'k2'), zeros=zeros)
        def initialize_carry(self, rng, input_shape):
            return ('method', input_shape)

    class Pair(Single):
        carry_states = 2

    assert Single.initialize_carry('rng', (2,), 3) == (2, 3)
    assert Pair.initialize_carry('rng', (2,), 3) == ((2, 3), (2, 3)) and calls[-2:] == ['k1', 'k2']
    assert Pair.initialize_carry(None, (), 4, init_fn=lambda key, shape: key) == (None, None)
    assert Pair().initialize_carry('rng', (1, 5)) == ('method', (1, 5))
    assert Pair.initialize_carry.func.__name__ == '_on_class'
