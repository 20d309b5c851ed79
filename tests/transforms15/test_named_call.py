"""``nn.transforms.named_call``: a profiling label (nnjax) that never changes results (both backends)."""

import numpy as np


def block(nn, force=True):
    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            return self.helper(nn.Dense(2)(x))

        def helper(self, y):
            return y * 2

    Block.helper = nn.transforms.named_call(Block.helper, force=force)
    return Block


def test_results_unchanged(nn):
    x = np.ones((1, 3), np.float32)
    Block = block(nn)
    variables = Block().init(nn.random.PRNGKey(0), x)
    kernel = np.asarray(variables['params']['Dense_0']['kernel'])
    bias = np.asarray(variables['params']['Dense_0']['bias'])
    np.testing.assert_allclose(Block().apply(variables, x), 2 * (x @ kernel + bias), rtol=1e-5)


def test_nnjax_label_names_module_and_method():
    import jax

    import nnjax as nn

    x = np.ones((1, 3), np.float32)
    Block = block(nn)
    variables = Block(name='blk').init(jax.random.PRNGKey(0), x)
    text = jax.jit(lambda v, x: Block(name='blk').apply(v, x)).lower(variables, x).as_text(debug_info=True)
    assert 'blk.helper' in text  # "<module name>.<method>", as the seed labels it
    with nn.override_named_call(False):
        quiet = jax.jit(lambda v, x: block(nn, force=False)(name='blk').apply(v, x)).lower(variables, x)
        assert 'blk.helper' not in quiet.as_text(debug_info=True)  # force=False follows the global switch
