"""shared_spec.variable_rules: what a variable, its name and its initializer's output must look like."""

import numpy as np
import pytest

from shared_spec import variable_rules as rules


@pytest.mark.parametrize('name', ['', 'a/b'])
def test_bad_submodule_names(name):
    err = rules.bad_name_error(name, rules.SUBMODULE, '/m')
    assert isinstance(err, ValueError) and 'Fix:' in str(err) and "module '/m'" in str(err)


def test_bad_name_types_and_variable_names_with_slash():
    assert isinstance(rules.bad_name_error(1, 'params', '/'), TypeError)
    assert "variable in collection 'params'" in str(rules.bad_name_error('', 'params', '/'))


def test_requested_shape_follows_the_initializer_protocol_only():
    assert rules.requested_shape(((2, 3), np.float32)) == (2, 3)
    assert rules.requested_shape(((2, np.int64(3)), 'float32')) == (2, np.int64(3))
    assert rules.requested_shape(((2, 3),)) is None
    assert rules.requested_shape(([2, 3], np.float32)) is None
    assert rules.requested_shape(((2.0,), np.float32)) is None


def test_non_numeric_leaves():
    assert rules.is_non_numeric(None) and rules.is_non_numeric(b'x') and rules.is_non_numeric(np.array([object()]))
    assert not rules.is_non_numeric(np.zeros(1, np.int8)) and not rules.is_non_numeric(3)


def test_init_output_messages():
    assert 'returned None; expected an array of numbers.' in str(rules.init_output_type_error('w', '/', None, None))
    err = rules.init_output_shape_error('w', '/d', (1,), (2,))
    assert isinstance(err, ValueError) and "parameter 'w' at module path '/d'" in str(err)


def test_check_state_value():
    rules.check_state_value('c', 'v', '/', 1.0, ())
    with pytest.raises(TypeError, match='needs an array of shape'):
        rules.check_state_value('c', 'v', '/', 'text', (2,))
    with pytest.raises(ValueError, match=r'has shape \(3,\)'):
        rules.check_state_value('c', 'v', '/', np.zeros(3), (2,))


def test_structure_and_callable_messages_and_short_repr():
    assert '2 array(s)' in str(rules.param_structure_error('w', '/', np.zeros(1), 2))
    assert '(float)' in str(rules.init_not_callable_error('w', '/', 0.5))
    assert len(rules.short_repr('x' * 500)) == 60
