"""The seed's ``nn.remat``/``nn.checkpoint`` and ``nn.remat_scan`` examples on both backends (machinery: ``transform_examples.py``)."""

import numpy as np
import pytest

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_trees_close
from tests.semantics.transform_examples import (
    close,
    dense,
    example,
    example_tests,
    p64,
    relu,
    run_example,
    shapes,
)

# --- nn.remat / nn.checkpoint, nn.remat_scan -------------------------------------


@example(
    'remat_checkpointed_mlp',
    (9425, 9449),
    """
    import jax
    import jax.numpy as jnp
    import seed_linen as nn

    class CheckpointedMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            CheckpointDense = nn.checkpoint(nn.Dense)
            x = CheckpointDense(128)(x)
            x = nn.relu(x)
            x = CheckpointDense(1)(x)
            return x

    model = CheckpointedMLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 16)))
""",
)
def drive_remat_checkpointed_mlp(run, backend):
    ns = run.ns
    random, variables = ns['random'], ns['variables']
    # the transformed class is named CheckpointDense, and auto-named per class
    assert shapes(variables) == {
        'params': {
            'CheckpointDense_0': {'kernel': (16, 128), 'bias': (128,)},
            'CheckpointDense_1': {'kernel': (128, 1), 'bias': (1,)},
        }
    }
    x = random.normal(random.PRNGKey(1), (3, 16))
    y = ns['model'].apply(variables, x)
    p = p64(variables['params'])
    close(y, dense(relu(dense(x, p['CheckpointDense_0'])), p['CheckpointDense_1']))
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# remat_scan runs the seed's 100 Dense layers (lengths=(10, 10), unchanged: fast enough).
@example(
    'remat_scan_big_model',
    (9480, 9489),
    """
    class BigModel(nn.Module):
        @nn.compact
        def __call__(self, x):
            DenseStack = nn.remat_scan(nn.Dense, lengths=(10, 10))
            # 100x dense with O(sqrt(N)) memory for gradient computation
            return DenseStack(8, name="dense_stack")(x)
""",
)
def drive_remat_scan_big_model(run, backend):
    ns = run.ns
    random = ns['random']
    x = random.uniform(random.PRNGKey(1), (2, 8))
    variables = ns['BigModel']().init(random.PRNGKey(0), x)
    # lengths=(10, 10): the Dense(8) parameters of 10 x 10 steps, one scanned axis per level
    assert shapes(variables) == {'params': {'dense_stack': {'kernel': (10, 10, 8, 8), 'bias': (10, 10, 8)}}}
    p = p64(variables['params']['dense_stack'])
    assert len({float(p['kernel'][i, j, 0, 0]) for i in range(10) for j in range(10)}) == 100  # split rngs
    y = ns['BigModel']().apply(variables, x)
    h = np.asarray(x, np.float64)
    for i in range(10):  # the outer level is axis 0
        for j in range(10):
            h = dense(h, {'kernel': p['kernel'][i, j], 'bias': p['bias'][i, j]})
    # 100 matmuls compound rounding: compare relative to the output's scale
    scale = np.abs(h).max()
    y = (np.asarray(y) / scale).astype(np.float32)
    close(y, h / scale)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# nnjax only: this needs jax.grad, which nnref does not have.


def test_remat_gradients_nnjax():
    """``nn.checkpoint`` changes memory, not derivatives: gradients equal the plain MLP's."""
    pytest.importorskip('jax')
    import jax
    import jax.numpy as jnp

    run = run_example('remat_checkpointed_mlp', 'nnjax')
    variables, model = run.ns['variables'], run.ns['model']
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 16))

    def plain(params, x):
        h = jax.nn.relu(x @ params['CheckpointDense_0']['kernel'] + params['CheckpointDense_0']['bias'])
        return jnp.sum(h @ params['CheckpointDense_1']['kernel'] + params['CheckpointDense_1']['bias'])

    got = jax.grad(lambda v: jnp.sum(model.apply(v, x)))(variables)['params']
    want = jax.grad(plain)(variables['params'], x)
    assert_trees_close(to_numpy(got), to_numpy(want), family='matmul')


# Each example above runs on both backends, agrees across them and is the seed's text.
test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)
