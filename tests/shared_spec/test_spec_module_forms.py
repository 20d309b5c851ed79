"""shared_spec.module_forms: the rules of a lifted transform's user forms (the forms themselves are per backend)."""

import pytest

from shared_spec.module_forms import method_options, single_scope


def test_methods_none_lifts_call_only():
    assert method_options('vmap', None, {'in_axes': 0}) == {'__call__': {'in_axes': 0}}


def test_a_list_of_methods_shares_the_options():
    assert method_options('vmap', ('a', 'b'), {'x': 1}) == {'a': {'x': 1}, 'b': {'x': 1}}
    assert method_options('vmap', [], {'x': 1}) == {}


def test_a_dict_gives_each_method_its_own_options_copied():
    per_method = {'enc': {'static_argnums': 2}}
    out = method_options('jit', per_method, {'ignored': True})
    assert out == {'enc': {'static_argnums': 2}}
    assert out['enc'] is not per_method['enc']


def test_other_methods_values_are_a_type_error_naming_the_transform():
    with pytest.raises(TypeError, match=r'vmap.*methods=.*got int'):
        method_options('vmap', 3, {})


def test_single_scope_accepts_one_and_refuses_more():
    assert single_scope(['a']) == ['a']
    with pytest.raises(NotImplementedError, match='one module only'):
        single_scope(['a', 'b'])
    with pytest.raises(NotImplementedError):
        single_scope([])
