"""The seed's ``nn.map_variables``, ``nn.jvp``, ``nn.vjp`` and ``nn.custom_vjp`` examples on both backends (machinery: ``transform_examples.py``)."""

import numpy as np
import pytest

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close
from tests.semantics.transform_examples import (
    DEVIATIONS,
    EXAMPLES,
    Seed,
    close,
    dense,
    example,
    example_tests,
    names_in,
    p64,
    run_example,
    shapes,
)

# --- nn.map_variables ------------------------------------------------------------


@example(
    'map_variables_causal_dense',
    (9515, 9546),
    """
    import jax
    import jax.numpy as jnp
    import seed_linen as nn

    class CausalDense(nn.Module):
        \"\"\"A dense layer that masks the weights such that the output is
        causal, i.e. output i only depends on input <= i.
        \"\"\"
        features: int

        def apply_mask(self, variables):
            return (jax.tree_util.tree_map(jnp.triu, variables)
                    if not self.is_initializing() else variables)

        def setup(self):
            # temporary class
            _CausalDense = nn.map_variables(
                nn.Dense, 'params', self.apply_mask, init=self.is_initializing())
            self.dense = _CausalDense(features=self.features, use_bias=False)

        def __call__(self, x):
            return self.dense(x)

    module = CausalDense(features=5)
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((1, 5)))
""",
)
def drive_map_variables_causal_dense(run, backend):
    ns = run.ns
    random, variables, module = ns['random'], ns['variables'], ns['module']
    assert shapes(variables) == {'params': {'dense': {'kernel': (5, 5)}}}
    kernel = p64(variables['params']['dense'])['kernel']
    # the stored kernel is the unmasked draw (apply_mask passes variables through at init) ...
    assert np.any(np.tril(kernel, -1) != 0)
    x = random.normal(random.PRNGKey(1), (3, 5))
    y = module.apply(variables, x)
    # ... and apply sees it masked: output i only depends on inputs <= i
    close(y, dense(x, {'kernel': np.triu(kernel)}))
    for j in range(5):
        bumped = np.array(x)
        bumped[:, j] += 1.0
        y2 = np.asarray(module.apply(variables, ns['jnp'].asarray(bumped)))
        np.testing.assert_array_equal(y2[:, :j], np.asarray(y)[:, :j])
        assert np.all(y2[:, j:] != np.asarray(y)[:, j:])
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.jvp, nn.vjp, nn.custom_vjp -----------------------------------------------


@example(
    'jvp_learn_scale',
    (9574, 9593),
    """
    class LearnScale(nn.Module):
        @nn.compact
        def __call__(self, x):
            p = self.param('test', nn.initializers.zeros_init(), ())
            return p * x

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            scale = LearnScale()
            vars_t = jax.tree_util.tree_map(jnp.ones_like,
                                           scale.variables.get('params', {}))

            _, out_t = nn.jvp(
                lambda mdl, x: mdl(x), scale, (x,), (jnp.zeros_like(x),),
                variable_tangents={'params': vars_t})
            return out_t
""",
)
def drive_jvp_learn_scale(run, backend):
    ns = run.ns
    jnp, random, Foo = ns['jnp'], ns['random'], ns['Foo']
    x = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
    out_init, variables = Foo().init_with_output(random.PRNGKey(0), x)
    assert shapes(variables) == {'params': {'LearnScale_0': {'test': ()}}}
    # at init the child has no params yet when vars_t is built: no tangent, so out_t = p * 0 = 0
    close(out_init, np.zeros(3), family='derivative')
    # d(p * x) along (dp, dx) = (1, 0) is x, whatever p is
    variables = {'params': {'LearnScale_0': {'test': jnp.asarray(0.75, jnp.float32)}}}
    out_t = Foo().apply(variables, x)
    close(out_t, np.asarray(x), family='derivative')
    return {'init_out': ('derivative', out_init), 'out_t': ('derivative', out_t)}


@example(
    'vjp_foo',
    (9637, 9651),
    """
    class LearnScale(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            p = self.param('scale', nn.initializers.zeros_init(), ())
            return p * x * y

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            z, bwd = nn.vjp(lambda mdl, x, y: mdl(x, y), LearnScale(), x, y)
            params_grad, x_grad, y_grad = bwd(jnp.ones(z.shape))
            return z, params_grad, x_grad, y_grad
""",
)
def drive_vjp_foo(run, backend):
    ns = run.ns
    jnp, random, Foo = ns['jnp'], ns['random'], ns['Foo']
    x = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
    y = jnp.asarray([3.0, 0.25, -1.5], jnp.float32)
    out_init, variables = Foo().init_with_output(random.PRNGKey(0), x, y)
    assert shapes(variables) == {'params': {'LearnScale_0': {'scale': ()}}}
    z, params_grad, x_grad, y_grad = out_init
    # at init the params do not exist before the call, so there is nothing to differentiate
    assert to_numpy(params_grad) == {}
    close(z, np.zeros(3), family='exact')
    variables = {'params': {'LearnScale_0': {'scale': jnp.asarray(0.5, jnp.float32)}}}
    z, params_grad, x_grad, y_grad = Foo().apply(variables, x, y)
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    close(z, 0.5 * xs * ys, family='elementwise')
    # cotangent ones: d/dp sum(p x y) = sum(x y); d/dx = p y; d/dy = p x.
    # The gradient tree is the lifted module's own scope: no 'LearnScale_0' level.
    assert shapes(params_grad) == {'params': {'scale': ()}}
    close(params_grad['params']['scale'], np.sum(xs * ys), family='derivative')
    close(x_grad, 0.5 * ys, family='derivative')
    close(y_grad, 0.5 * xs, family='derivative')
    return {'z': ('elementwise', z), 'grads': ('derivative', (params_grad, x_grad, y_grad))}


@example(
    'custom_vjp_foo',
    (9684, 9715),
    """
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            def f(mdl, x):
                return mdl(x)

            def fwd(mdl, x):
                return nn.vjp(f, mdl, x)

            def bwd(vjp_fn, y_t):
                params_t, *inputs_t = vjp_fn(y_t)
                params_t = jax.tree_util.tree_map(jnp.sign, params_t)
                return (params_t, *inputs_t)

            sign_grad = nn.custom_vjp(
                f, forward_fn=fwd, backward_fn=bwd)
            return sign_grad(nn.Dense(1), x).reshape(())

    x = jnp.ones((2,))
    variables = Foo().init(random.PRNGKey(0), x)
""",
    Seed(
        """
    grad = jax.grad(Foo().apply)(variables, x)
""",
        only='nnjax',
    ),
)
def drive_custom_vjp_foo(run, backend):
    ns = run.ns
    jnp, variables, Foo = ns['jnp'], ns['variables'], ns['Foo']
    assert shapes(variables) == {'params': {'Dense_0': {'kernel': (2, 1), 'bias': (1,)}}}
    # forward: fn itself runs
    x = jnp.asarray([2.0, -3.0], jnp.float32)
    y = Foo().apply(variables, x)
    assert np.shape(y) == ()
    close(y, dense(x, p64(variables['params']['Dense_0']))[0])
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# nnjax only: this needs jax.grad, which nnref does not have.


def test_custom_vjp_backward_rule_nnjax():
    """``jax.grad(Foo().apply)`` (the seed's last line) goes through the custom sign-gradient rule."""
    pytest.importorskip('jax')
    import jax

    run = run_example('custom_vjp_foo', 'nnjax')
    grad, variables, Foo = run.ns['grad'], run.ns['variables'], run.ns['Foo']
    # the plain gradient of x @ k + b at x = ones would be (ones, 1): its sign is the same
    assert_trees_close(
        to_numpy(grad),
        {'params': {'Dense_0': {'kernel': np.ones((2, 1), np.float32), 'bias': np.ones(1, np.float32)}}},
        family='exact',
    )
    # at x = (2, -3) the plain kernel gradient is x; the rule returns its sign
    x = np.asarray([2.0, -3.0], np.float32)
    grad = jax.grad(Foo().apply)(variables, x)
    assert_close(
        np.asarray(grad['params']['Dense_0']['kernel']), np.asarray([[1.0], [-1.0]], np.float32), family='exact'
    )
    assert_close(np.asarray(grad['params']['Dense_0']['bias']), np.ones(1, np.float32), family='exact')


def test_every_deviation_is_used():
    """``DEVIATIONS`` lists only lines the examples contain (and so only edits actually made); all are in this file's."""
    lines = {line for name in names_in(__name__) for block in EXAMPLES[name].blocks for line in block.code.split('\n')}
    assert set(DEVIATIONS) <= lines


# Each example above runs on both backends, agrees across them and is the seed's text.
test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)
