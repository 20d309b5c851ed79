"""The seed's ``nn.vmap`` and ``nn.scan`` examples on both backends (machinery: ``transform_examples.py``)."""

import numpy as np

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close
from tests.seed_code import lstm_shapes, lstm_step
from tests.semantics.transform_examples import (
    close,
    dense,
    example,
    example_tests,
    p64,
    relu,
    shapes,
)

# --- nn.vmap ---------------------------------------------------------------------


@example(
    'vmap_batch_dense',
    (9205, 9216),
    """
    BatchDense = nn.vmap(
        nn.Dense,
        in_axes=0, out_axes=0,
        variable_axes={'params': 0},
        split_rngs={'params': True})
""",
)
def drive_vmap_batch_dense(run, backend):
    ns = run.ns
    random = ns['random']
    x = random.uniform(random.PRNGKey(1), (4, 2, 5))  # 4 mapped items of a (2, 5) batch
    variables = ns['BatchDense'](3).init(random.PRNGKey(0), x)
    # variable_axes={'params': 0}: one Dense(3) per item, stacked on axis 0
    assert shapes(variables) == {'params': {'kernel': (4, 5, 3), 'bias': (4, 3)}}
    kernel = p64(variables['params'])['kernel']
    # split_rngs={'params': True}: each item's kernel is its own draw
    assert all(not np.allclose(kernel[0], kernel[i]) for i in range(1, 4))
    y = ns['BatchDense'](3).apply(variables, x)
    p = p64(variables['params'])
    close(y, np.stack([dense(x[i], {'kernel': p['kernel'][i], 'bias': p['bias'][i]}) for i in range(4)]))
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


@example(
    'vmap_shared_params',
    (9217, 9230),
    """
    BatchFoo = nn.vmap(
        Foo,
        in_axes=0, out_axes=0,
        variable_axes={'params': None},
        split_rngs={'params': False})
""",
    prelude="""
    class Foo(nn.Module):  # the seed leaves Foo undefined; any Module with params will do
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(x)
""",
)
def drive_vmap_shared_params(run, backend):
    ns = run.ns
    random, Foo = ns['random'], ns['Foo']
    x = random.uniform(random.PRNGKey(1), (4, 2, 5))
    variables = ns['BatchFoo']().init(random.PRNGKey(0), x)
    # variable_axes={'params': None}: one Foo's parameters, no mapped axis
    assert shapes(variables) == {'params': {'Dense_0': {'kernel': (5, 3), 'bias': (3,)}}}
    # ... and split_rngs={'params': False}: drawn with the unsplit key, as an unbatched Foo draws them
    assert_trees_close(to_numpy(variables), to_numpy(Foo().init(random.PRNGKey(0), x[0])), family='exact')
    y = ns['BatchFoo']().apply(variables, x)
    for i in range(4):
        assert_close(np.asarray(y[i]), np.asarray(Foo().apply(variables, x[i])), family='matmul')
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.scan ---------------------------------------------------------------------


@example(
    'scan_lstm_module',
    (9270, 9303),
    """
    import seed_linen as nn
    import jax
    import jax.numpy as jnp

    class LSTM(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            batch_size = x.shape[0]
            ScanLSTMCell = nn.scan(
                nn.LSTMCell, variable_broadcast="params",
                split_rngs={"params": False}, in_axes=1, out_axes=1)

            carry = nn.LSTMCell.initialize_carry(
                jax.random.PRNGKey(0), (batch_size,), self.features)
            carry, x = ScanLSTMCell()(carry, x)
            return x

    x = jnp.ones((4, 12, 7))
    module = LSTM(features=32)
    y, variables = module.init_with_output(jax.random.PRNGKey(0), x)
""",
)
def drive_scan_lstm_module(run, backend):
    return _check_scan_lstm(run, 'ScanLSTMCell_0', run.ns['y'])


@example(
    'scan_lstm_function',
    (9306, 9332),
    """
    class LSTM(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            batch_size = x.shape[0]

            cell = nn.LSTMCell()
            def body_fn(cell, carry, x):
                carry, y = cell(carry, x)
                return carry, y
            scan = nn.scan(
                body_fn, variable_broadcast="params",
                split_rngs={"params": False}, in_axes=1, out_axes=1)

            carry = nn.LSTMCell.initialize_carry(
                jax.random.PRNGKey(0), (batch_size,), self.features)
            carry, x = scan(cell, carry, x)
            return x

    module = LSTM(features=32)
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((4, 12, 7)))
""",
)
def drive_scan_lstm_function(run, backend):
    return _check_scan_lstm(run, 'LSTMCell_0', None)


def _check_scan_lstm(run, cell_name, y_init):
    ns = run.ns
    jnp, random = ns['jnp'], ns['random']
    variables = ns['variables']
    # variable_broadcast='params': one cell's parameters, shared by the 12 steps
    assert shapes(variables) == {'params': {cell_name: lstm_shapes(7, 32)}}
    x = random.uniform(random.PRNGKey(1), (4, 12, 7))
    y = ns['module'].apply(variables, x)
    assert y.shape == (4, 12, 32)  # out_axes=1: the steps' outputs stacked on the time axis
    # the legacy initialize_carry gives zeros of (batch, features); then one cell step per time index
    p = p64(variables['params'][cell_name])
    carry, ys = (np.zeros((4, 32)), np.zeros((4, 32))), []
    for t in range(12):
        carry, h = lstm_step(p, carry, np.asarray(x[:, t], np.float64))
        ys.append(h)
    close(y, np.stack(ys, axis=1))
    if y_init is not None:  # init_with_output's output: the same scan over jnp.ones
        assert_close(
            np.asarray(y_init), np.asarray(ns['module'].apply(variables, jnp.ones((4, 12, 7)))), family='exact'
        )
    # the recurrent kernels are orthogonal draws: a QR in each backend's LAPACK, so
    # compared at the matmul row (as conformance compares the orthogonal initializer)
    return {'variables': ('matmul', variables), 'y': ('matmul', y)}


@example(
    'scan_residual_mlp',
    (9336, 9369),
    """
    class ResidualMLPBlock(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            h = nn.Dense(features=2)(x)
            h = nn.relu(h)
            return x + h, None

    class ResidualMLP(nn.Module):
        n_layers: int = 4

        @nn.compact
        def __call__(self, x):
            ScanMLP = nn.scan(
                ResidualMLPBlock, variable_axes={'params': 0},
                variable_broadcast=False, split_rngs={'params': True},
                length=self.n_layers)
            x, _ = ScanMLP()(x, None)
            return x

    model = ResidualMLP(n_layers=4)
    variables = model.init(jax.random.PRNGKey(42), jnp.ones((1, 2)))
""",
)
def drive_scan_residual_mlp(run, backend):
    ns = run.ns
    random, variables = ns['random'], ns['variables']
    # variable_axes={'params': 0}, length=4: one Dense(2) per layer, stacked on axis 0
    assert shapes(variables) == {
        'params': {'ScanResidualMLPBlock_0': {'Dense_0': {'kernel': (4, 2, 2), 'bias': (4, 2)}}}
    }
    p = p64(variables['params']['ScanResidualMLPBlock_0']['Dense_0'])
    assert all(not np.allclose(p['kernel'][0], p['kernel'][i]) for i in range(1, 4))  # split rngs
    x = random.uniform(random.PRNGKey(1), (3, 2), minval=-1.0, maxval=1.0)
    y = ns['model'].apply(variables, x)
    h = np.asarray(x, np.float64)
    for i in range(4):  # the carry goes through the layers in order
        h = h + relu(dense(h, {'kernel': p['kernel'][i], 'bias': p['bias'][i]}))
    close(y, h)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# Each example above runs on both backends, agrees across them and is the seed's text.
test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)
