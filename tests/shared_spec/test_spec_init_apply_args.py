"""``shared_spec.init_apply_args``: the argument forms of init/apply/bind and the messages for bad ones."""

import doctest

import numpy as np
import pytest

from shared_spec import errors
from shared_spec import init_apply_args as ia


def test_doctests():
    result = doctest.testmod(ia, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_capture_filter_forms():
    assert ia.capture_filter(None) is None and ia.capture_filter(False) is None
    every = ia.capture_filter(True)
    assert every(None, '__call__') and not every(None, 'encode')

    def custom(module, name):
        return True

    assert ia.capture_filter(custom) is custom
    with pytest.raises(TypeError, match='capture_intermediates must be a bool or a function'):
        ia.capture_filter(1)


class _Model:
    _field_names = frozenset({'act', 'features'})
    features = 3  # a field that is not callable

    def __call__(self, x):
        return x

    def encode(self, x):
        return x


def test_resolve_method_forms():
    m = _Model()
    assert ia.resolve_method(m, None) is _Model.__call__
    assert ia.resolve_method(m, 'encode') is _Model.encode
    assert ia.resolve_method(m, m.encode) is _Model.encode

    def fn(module, x):
        return x

    assert ia.resolve_method(m, fn) is fn

    class Bound:
        def act(self, x):
            return 2 * x

    by_field = ia.resolve_method(m, 'act')
    assert by_field(Bound(), 4) == 8
    for bad in ('missing', lambda *, x: x, 3):
        with pytest.raises(errors.ApplyModuleInvalidMethodError):
            ia.resolve_method(m, bad)


def _copy(tree, is_params):
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out[k] = _copy(v, is_params)
        elif ia.bad_leaf(v, is_params):
            raise ia.BadLeaf
        else:
            out[k] = v
    return out


def _validate(variables):
    return ia.validated_variables(variables, _copy, ia.bad_leaf, lambda n: isinstance(n, dict))


def test_variables_are_copied_and_checked():
    params = {'w': np.ones(2)}
    out = _validate({'params': params})
    assert out == {'params': {'w': params['w']}} and out['params'] is not params
    with pytest.raises(errors.ApplyScopeInvalidVariablesTypeError, match='got list'):
        _validate([1])
    with pytest.raises(errors.ApplyScopeInvalidVariablesTypeError, match="int in collection 'params'"):
        _validate({'params': 1})
    with pytest.raises(errors.ApplyScopeInvalidVariablesStructureError):
        _validate({'params': {'params': {}}})


def test_a_bad_leaf_is_named_with_its_path():
    with pytest.raises(TypeError, match=r"Variable 'kernel' in collection 'params' at module path '/Dense_0' is None"):
        _validate({'params': {'Dense_0': {'bias': np.zeros(1), 'kernel': None}}})
    with pytest.raises(TypeError, match=r"'count' in collection 'stats' at module path '/' has dtype <U1"):
        _validate({'stats': {'count': np.array(['a'])}})
    assert _validate({'stats': {'label': None}}) == {'stats': {'label': None}}  # None is fine outside params


def test_rng_forms_and_messages():
    def is_key(k):
        return isinstance(k, str) and k.startswith('key')

    assert ia.validated_rngs('key0', is_key, 'jax.random') == {'params': 'key0'}
    assert ia.validated_rngs({'dropout': 'key1'}, is_key, 'jax.random') == {'dropout': 'key1'}
    with pytest.raises(
        errors.InvalidRngError, match=r"rngs must be one PRNG key .* got int 3; a key is nn\.random\.key"
    ):
        ia.validated_rngs(3, is_key, 'nn.random')
    with pytest.raises(errors.InvalidRngError, match=r"Pass e\.g\. rngs=\{'params': jax\.random\.PRNGKey\(0\)"):
        ia.validated_rngs(3, is_key, 'jax.random')
    assert ia.init_rngs({'params': 'x'}, is_key, 'jax.random') == {'params': 'x'}  # checked later, when bound
    with pytest.raises(errors.InvalidRngError, match=r'init needs one PRNG key .* Pass e\.g\. nn\.random\.PRNGKey'):
        ia.init_rngs(None, is_key, 'nn.random')


def test_describe_key():
    assert ia.describe_key(np.zeros((2,), np.float32)) == 'ndarray of dtype float32 and shape (2,)'
    assert ia.describe_key(None) == 'NoneType None'


def test_backends_use_the_shared_checks():
    import nnjax
    import nnref

    for nn in (nnref, nnjax):
        with pytest.raises(errors.InvalidRngError, match=f'{"nn" if nn is nnref else "jax"}\\.random\\.PRNGKey'):
            nn.Dense(2).init(3, np.ones((1, 2), np.float32))
        with pytest.raises(TypeError, match='capture_intermediates must be'):
            nn.Dense(2).apply({}, np.ones((1, 2)), capture_intermediates='yes')
