"""The seed's design note "Lifted transformations" run on both backends (machinery: ``transform_examples.py``)."""

import numpy as np
import pytest

from shared_spec.tolerances import assert_close
from tests.semantics.transform_examples import (
    Seed,
    close,
    dense,
    example,
    example_tests,
    p64,
    printed_tree,
    relu,
    run_example,
    shapes,
)

# --- the design note "Lifted transformations" ------------------------------------

NAIVE_VMAP_MLP = 1  # block indices, for the nnjax-only checks below
MANUAL_INIT = 3


@example(
    'lifted_transformations_note',
    (6880, 7138),
    """
    import jax
    from jax import random, numpy as jnp
    from seed import linen as nn

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            h = nn.Dense(4, name='hidden')(xs)
            h = nn.relu(h)
            return nn.Dense(1, name='out')(h)
""",
    """
    class NaiveVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            mlp = MLP()
            return jax.vmap(lambda mlp, x: mlp(x))(mlp, xs) # fails
""",
    """
    class ManualVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            mlp = MLP(parent=None)
            init_fn = lambda rng, xs: jax.vmap(mlp.init, in_axes=0)(random.split(rng, xs.shape[0]), xs)['params']
            apply_fn = jax.vmap(mlp.apply, in_axes=0)
            mlp_params = self.param('mlp', init_fn, xs)
            return apply_fn({'params': mlp_params}, xs)

    xs = jnp.ones((3, 4))
""",
    Seed(
        """
    variables = ManualVmapMLP().init(random.PRNGKey(0), xs)
    print(jax.tree_util.tree_map(jnp.shape, variables['params']))
""",
        only='nnjax',
    ),
    """
    class LinenVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            VmapMLP = nn.vmap(MLP, variable_axes={'params': 0}, split_rngs={'params': True}, in_axes=0)
            return VmapMLP(name='mlp')(xs)

    variables = LinenVmapMLP().init(random.PRNGKey(0), xs)
    print(jax.tree_util.tree_map(jnp.shape, variables['params']))
""",
    """
    class StatefulMLP(nn.Module):
        @nn.compact
        def __call__(self, x, *, train):
            h = nn.Dense(4, name='hidden')(x)
            h = nn.BatchNorm(axis_name='batch')(h, use_running_average=not train)
            h = nn.relu(h)
            return nn.Dense(1, name='out')(h)

    class LinenStatefulVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs, *, train):
            VmapMLP = nn.vmap(StatefulMLP, variable_axes={'params': 0, 'batch_stats': 0}, split_rngs={'params': True}, in_axes=0)
            return VmapMLP(name='mlp')(xs, train=train)
""",
    Seed(
        """
    variables = LinenStatefulVmapMLP().init(random.PRNGKey(0), xs)
""",
        raises=TypeError,
    ),
)
def drive_lifted_transformations_note(run, backend):
    ns = run.ns
    random = ns['random']
    linen_block = MANUAL_INIT + 1
    variables = run.after[linen_block]['variables']
    # variable_axes={'params': 0} over xs (3, 4): one MLP per row of xs, stacked on axis 0
    expected = {'mlp': {'hidden': {'bias': (3, 4), 'kernel': (3, 4, 4)}, 'out': {'bias': (3, 1), 'kernel': (3, 4, 1)}}}
    assert shapes(variables['params']) == expected
    assert printed_tree(run.stdout[linen_block]) == expected
    p = p64(variables['params']['mlp'])
    assert all(not np.allclose(p['hidden']['kernel'][0], p['hidden']['kernel'][i]) for i in (1, 2))
    xs = random.normal(random.PRNGKey(1), (3, 4))
    y = ns['LinenVmapMLP']().apply(variables, xs)

    def row(i):
        return {k: {n: v[i] for n, v in p[k].items()} for k in p}

    close(y, np.stack([dense(relu(dense(xs[i], row(i)['hidden'])), row(i)['out']) for i in range(3)]))
    # The seed's last line calls init without the keyword-only `train`: a TypeError
    # (the block's `raises`), as on the seed system. Given `train`, nn.vmap still cannot
    # pass it on: the seed system drops keyword arguments of vmap (with a warning) and
    # StatefulMLP then lacks `train`; both backends refuse them. A TypeError either way.
    with pytest.raises(TypeError, match='train'):
        ns['LinenStatefulVmapMLP']().init(random.PRNGKey(0), ns['xs'], train=False)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# nnjax only: these need jax.vmap, which nnref does not have.


def test_design_note_manual_vmap_nnjax():
    """``ManualVmapMLP``: ``jax.vmap`` over ``MLP.init``/``apply`` inside ``self.param``."""
    pytest.importorskip('jax')
    run = run_example('lifted_transformations_note', 'nnjax')
    variables = run.after[MANUAL_INIT]['variables']
    expected = {'mlp': {'hidden': {'bias': (3, 4), 'kernel': (3, 4, 4)}, 'out': {'bias': (3, 1), 'kernel': (3, 4, 1)}}}
    assert shapes(variables['params']) == expected
    assert printed_tree(run.stdout[MANUAL_INIT]) == expected
    ns = run.ns
    xs = ns['random'].normal(ns['random'].PRNGKey(1), (3, 4))
    y = ns['ManualVmapMLP']().apply(variables, xs)
    params = variables['params']['mlp']
    for i in range(3):
        row = {k: {n: v[i] for n, v in params[k].items()} for k in params}
        assert_close(np.asarray(y[i]), np.asarray(ns['MLP']().apply({'params': row}, xs[i])), family='matmul')


def test_design_note_naive_vmap_fails_nnjax():
    """``jax.vmap`` over a Module argument fails ("# fails" in the seed): a Module is not a JAX type."""
    pytest.importorskip('jax')
    ns = run_example('lifted_transformations_note', 'nnjax').after[NAIVE_VMAP_MLP]
    with pytest.raises(TypeError, match='not a valid JAX type'):
        ns['NaiveVmapMLP']().init(ns['random'].PRNGKey(0), ns['jnp'].ones((3, 4)))


# Each example above runs on both backends, agrees across them and is the seed's text.
test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)
