"""``nn.BatchApply`` on both backends, and the seed's public names of ``nn.module``."""

import numpy as np
import pytest

import nnjax
import nnref

BACKENDS = pytest.mark.parametrize("nn", [nnref, nnjax], ids=["nnref", "nnjax"])


@BACKENDS
def test_batch_apply_merges_and_splits_leading_dims(nn):
    a = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    b = np.arange(4, dtype=np.float32)
    seen = []

    def f(a, b, scale=1.0):
        seen.append((tuple(a.shape), tuple(b.shape)))
        return {'dot': (a @ b) * scale, 'rows': a}

    out = nn.BatchApply(f)(nn.numpy.asarray(a), nn.numpy.asarray(b), scale=2.0)
    assert seen == [((6, 4), (4,))]  # b has fewer than num_dims dimensions: passed unchanged
    np.testing.assert_array_equal(np.asarray(out['dot']), np.einsum('tbk,k->tb', a, b) * 2)
    np.testing.assert_array_equal(np.asarray(out['rows']), a)
    three = nn.batch_apply.BatchApply(lambda x: (x.shape, x * 2)[1], num_dims=3)(nn.numpy.asarray(a))
    np.testing.assert_array_equal(np.asarray(three), a * 2)
    with pytest.raises(ValueError, match="BatchApply requires at least one input with ndim >= 4"):
        nn.BatchApply(lambda x: x, num_dims=4)(nn.numpy.asarray(a))
    assert not isinstance(nn.BatchApply(f), nn.Module)


@BACKENDS
def test_batch_apply_with_a_module(nn):
    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.BatchApply(nn.Dense(2))(x)

    x = nn.numpy.ones((3, 5, 4))
    y, variables = Model().init_with_output(nn.random.PRNGKey(0), x)
    assert y.shape == (3, 5, 2) and set(variables['params']) == {'Dense_0'}


# The public names of the seed's flax.linen.module (dir(), without underscores) that model code uses.
SEED_MODULE_NAMES = [
    'Module',
    'compact',
    'nowrap',
    'merge_param',
    'share_scope',
    'compact_name_scope',
    'apply',
    'init',
    'init_with_output',
    'Variable',
    'Scope',
    'intercept_methods',
    'InterceptorContext',
    'CompactNameScope',
]


@BACKENDS
def test_module_namespace_has_seed_names(nn):
    missing = [name for name in SEED_MODULE_NAMES if not hasattr(nn.module, name)]
    assert not missing
    assert nn.module.share_scope is nn.share_scope and nn.module.compact_name_scope is nn.compact_name_scope
    assert nn.module.apply is nn.apply and nn.module.Module is nn.Module


def test_nnjax_module_named_call_helpers():
    for name in ('enable_named_call', 'disable_named_call', 'override_named_call'):
        assert getattr(nnjax.module, name) is getattr(nnjax, name)
