"""``shared_spec.attention``: shape checks, option conflicts, head sizes and input defaults of attention."""

import doctest
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from shared_spec import attention as at


def test_doctests():
    result = doctest.testmod(at, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    'q, k, v, match',
    [
        ((2, 4), (2, 4), None, 'same rank >= 3'),
        ((1, 3, 2, 4), (2, 3, 2, 4), None, 'batch dimensions differ'),
        ((3, 2, 4), (3, 1, 4), None, 'numbers of heads'),
        ((3, 2, 4), (5, 2, 4), (6, 2, 4), 'key and value lengths differ'),
    ],
)
def test_check_qkv_refusals(q, k, v, match):
    arrays = [np.ones(s) for s in (q, k)] + ([] if v is None else [np.ones(v)])
    with pytest.raises(ValueError, match=match):
        at.check_qkv('f', *arrays)


def test_einsum_options():
    at.check_einsum_choice(None, None, max)
    at.check_einsum_pair(max, min, None, None)
    with pytest.raises(ValueError, match='mutually exclusive'):
        at.check_einsum_pair(max, min, None, abs)


def test_dropout_rules():
    at.check_dropout_rng(object(), 0.5)
    assert at.dropout_shape((3, 2, 4, 5), key_ndim=4, broadcast=True) == (1, 1, 4, 5)
    assert at.dropout_shape((4, 5), key_ndim=3, broadcast=True) == (1, 4, 5)


def test_mask_ranks():
    at.check_mask_ranks([2, 2])
    with pytest.raises(ValueError, match=r'got ranks \(1, 2\)'):
        at.check_mask_ranks(iter([1, 2]))


def test_resolve_inputs():
    assert at.resolve_inputs('L', 'q', 'k', None, None) == ('k', 'k')
    assert at.resolve_inputs('L', 'q', 'k', 'v', None) == ('k', 'v')
    with pytest.raises(ValueError, match='pass either `inputs_kv`'):
        at.resolve_inputs('L', 'q', 'k', None, 'kv')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert at.resolve_inputs('L', 'q', None, None, 'kv') == ('kv', 'kv')
    assert caught[0].category is DeprecationWarning


def test_head_sizes_checks_the_fields():
    fields = SimpleNamespace(num_heads=0, qkv_features=None, out_features=None)
    with pytest.raises(ValueError, match='num_heads=0'):
        at.head_sizes(fields, 4)
    fields = SimpleNamespace(num_heads=2, qkv_features=2.0, out_features=None)
    with pytest.raises(TypeError, match='qkv_features=2.0'):
        at.head_sizes(fields, 4)


def test_projection_fields_default_the_output_initializers():
    fields = dict(dtype=None, param_dtype='f', kernel_init='k', bias_init='b', use_bias=False, precision=None)
    layer = SimpleNamespace(
        num_heads=2,
        qkv_dot_general=None,
        qkv_dot_general_cls=None,
        out_kernel_init='ok',
        out_bias_init=None,
        out_dot_general=None,
        out_dot_general_cls=None,
        **fields,
    )
    qkv = at.projection_fields(layer, 3)
    out = at.output_projection_fields(layer, 5)
    assert qkv['features'] == (2, 3) and qkv['kernel_init'] == 'k' and qkv['use_bias'] is False
    assert out['kernel_init'] == 'ok' and out['bias_init'] == 'b' and out['axis'] == (-2, -1)


def test_decode_query_shape():
    with pytest.raises(ValueError, match=r'expected query shape \(2, 1, 4, 3\) but got \(2, 2, 4, 3\)'):
        at.check_decode_query('L', (2, 8, 4, 3), (2, 2, 4, 3))


def test_self_attention_warning():
    with pytest.warns(DeprecationWarning, match='SelfAttention is deprecated'):
        at.warn_self_attention()
