"""``nn.grad`` / ``nn.value_and_grad``: the seed's signature, return layout, errors and variable handling.

Expected numbers are derived by hand: for ``f = sum(p * x * y)`` with
``p = 1.5``, ``df/dx = p * y`` and ``df/dy = p * x``.
"""

import inspect

import numpy as np
import pytest

SEED_PARAMETERS = ['fn', 'mdl', 'primals', 'has_aux', 'reduce_axes', 'variables', 'rngs']


def learn_scale(nn):
    np_ = nn.numpy

    class LearnScale(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            p = self.param('scale', nn.initializers.constant(1.5), ())
            count = self.variable('counter', 'n', lambda: np_.zeros((), np_.float32))
            count.value = count.value + 1.0
            return (p * x * y).sum()

    return LearnScale


def test_exported_with_the_seed_signature(nn):
    for name in ('grad', 'value_and_grad'):
        fn = getattr(nn, name)
        assert fn is getattr(nn.transforms, name)
        params = inspect.signature(fn).parameters
        assert list(params) == SEED_PARAMETERS
        assert params['primals'].kind is inspect.Parameter.VAR_POSITIONAL
        assert (params['has_aux'].default, params['reduce_axes'].default) == (False, ())
        assert params['variables'].default is True and params['rngs'].default is True


def test_values_grads_aux_and_mutated_variables(nn):
    LearnScale = learn_scale(nn)

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            both = nn.value_and_grad(lambda mdl, x, y: mdl(x, y), LearnScale(), x, y)
            only_x = nn.grad(lambda mdl, x: mdl(x, y), LearnScale(name='b'), x)
            with_aux = nn.grad(lambda mdl, x: (mdl(x, y), {'a': 2 * x}), LearnScale(name='c'), x, has_aux=True)
            value_aux = nn.value_and_grad(lambda mdl, x: (mdl(x, y), x), LearnScale(name='d'), x, has_aux=True)
            return both, only_x, with_aux, value_aux

    x, y = np.array([1.0, 2.0], np.float32), np.array([3.0, -1.0], np.float32)
    variables = Foo().init(nn.random.PRNGKey(0), x, y)
    assert sorted(variables['params']) == ['LearnScale_0', 'b', 'c', 'd']  # the params are created, not lost
    (both, only_x, with_aux, value_aux), updates = Foo().apply(variables, x, y, mutable=['counter'])
    value, (gx, gy) = both
    np.testing.assert_allclose(float(value), 1.5 * (3 - 2), rtol=1e-5)
    np.testing.assert_allclose(gx, 1.5 * y, rtol=1e-3)
    np.testing.assert_allclose(gy, 1.5 * x, rtol=1e-3)
    assert isinstance(only_x, tuple) and len(only_x) == 1  # one gradient per primal, always a tuple
    np.testing.assert_allclose(only_x[0], 1.5 * y, rtol=1e-3)
    grads, aux = with_aux
    np.testing.assert_allclose(grads[0], 1.5 * y, rtol=1e-3)
    np.testing.assert_allclose(aux['a'], 2 * x)
    (value2, aux2), grads2 = value_aux
    np.testing.assert_allclose(float(value2), 1.5, rtol=1e-5)
    np.testing.assert_allclose(aux2, x)
    np.testing.assert_allclose(grads2[0], 1.5 * y, rtol=1e-3)
    # the counter written inside each differentiated call is kept once per call: 1 at init, 2 now
    assert {k: float(v['n']) for k, v in updates['counter'].items()} == {k: 2.0 for k in 'LearnScale_0 b c d'.split()}


def test_setup_submodule_and_several_primals(nn):
    class Foo(nn.Module):
        def setup(self):
            self.dense = nn.Dense(1, use_bias=False, kernel_init=nn.initializers.ones_init())

        def __call__(self, x, w):
            return nn.grad(lambda mdl, x, w: (mdl(x) * w).sum(), self.dense, x, w)

    x, w = np.array([[1.0, 2.0]], np.float32), np.array([[3.0]], np.float32)
    variables = Foo().init(nn.random.PRNGKey(0), x, w)
    gx, gw = Foo().apply(variables, x, w)
    np.testing.assert_allclose(gx, [[3.0, 3.0]], rtol=1e-3)  # d(sum(x) * w)/dx = w
    np.testing.assert_allclose(gw, [[3.0]], rtol=1e-3)  # d/dw = sum(x)


def test_non_scalar_output_and_reduce_axes_are_refused(nn):
    LearnScale = learn_scale(nn)

    class NonScalar(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.grad(lambda mdl, x: mdl(x, x) * x, LearnScale(), x)

    class Reduce(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.value_and_grad(lambda mdl, x: mdl(x, x), LearnScale(), x, reduce_axes=('batch',))

    x = np.ones(2, np.float32)
    with pytest.raises(ValueError, match=r'^grad can only work on functions with scalar-valued outputs'):
        NonScalar().init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match='reduce_axes'):
        Reduce().init(nn.random.PRNGKey(0), x)


def test_variables_filter_limits_what_fn_sees(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.grad(lambda mdl, x: (mdl(x) ** 2).sum(), nn.Dense(1), x, variables='params')

    x = np.ones((1, 2), np.float32)
    variables = Foo().init(nn.random.PRNGKey(0), x)
    (gx,) = Foo().apply(variables, x)
    assert gx.shape == (1, 2)


def test_module_holding_an_outside_submodule(nn):
    """``mdl`` holds a Dense made by its parent (two scopes lifted); hand-derived: f = |xW + b|^2 + s * sum(x)."""

    class Wrap(nn.Module):
        dense: nn.Module

        @nn.compact
        def __call__(self, x):
            return (self.dense(x) ** 2).sum() + self.param('s', nn.initializers.ones_init(), ()) * x.sum()

    class Top(nn.Module):
        @nn.compact
        def __call__(self, x):
            shared = nn.Dense(2, kernel_init=nn.initializers.ones_init())
            value, grads = nn.value_and_grad(lambda m, x: m(x), Wrap(shared), x)
            return value, grads, shared(x)

    x = np.array([[1.0, 2.0]], np.float32)
    variables = Top().init(nn.random.PRNGKey(0), x)
    assert sorted(variables['params']) == ['Dense_0', 'Wrap_0']
    value, (gx,), y = Top().apply(variables, x)
    # y = [3, 3]; f = 18 + 3 = 21; df/dx_i = 2 * sum_j y_j W_ij + 1 = 2 * 6 + 1 = 13
    np.testing.assert_allclose(float(value), 21.0, rtol=1e-5)
    np.testing.assert_allclose(gx, [[13.0, 13.0]], rtol=1e-3)
    np.testing.assert_allclose(y, [[3.0, 3.0]])
