"""The seed guides' layer code (5.2.3: batch normalization, dropout) run verbatim on both backends.

The cells below are the guide's code as written; only the namespace they run
in differs: on nnjax ``nn``, ``jax`` and ``jnp`` are nnjax, JAX and
jax.numpy; on nnref they are nnref and a stand-in ``jax`` holding nnref's
``random``, ``numpy`` and ``tree_util``. Both runs must agree with each other
and with what the guide says the code produces.
"""

import types

import numpy as np
import pytest

from shared_spec.tolerances import assert_trees_close

BATCHNORM_CELLS = [
    '''
class MLP(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(features=4)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.relu(x)
        x = nn.Dense(features=1)(x)
        return x
''',
    '''
mlp = MLP()
x = jnp.ones((1, 3))
variables = mlp.init(jax.random.PRNGKey(0), x, train=False)
params = variables['params']
batch_stats = variables['batch_stats']

jax.tree_util.tree_map(jnp.shape, variables)
''',
    '''
y, updates = mlp.apply(
    {'params': params, 'batch_stats': batch_stats},
    x,
    train=True, mutable=['batch_stats']
)
batch_stats = updates['batch_stats']
''',
]

DROPOUT_CELLS = [
    '''
root_key = jax.random.PRNGKey(seed=0)
main_key, params_key, dropout_key = jax.random.split(key=root_key, num=3)
''',
    '''
class MyModel(nn.Module):
    num_neurons: int

    @nn.compact
    def __call__(self, x, training: bool):
        x = nn.Dense(self.num_neurons)(x)
        # Set the dropout layer with a `rate` of 50%.
        # When the `deterministic` flag is `True`, dropout is turned off.
        x = nn.Dropout(rate=0.5, deterministic=not training)(x)
        return x
''',
    '''
my_model = MyModel(num_neurons=3)
x = jnp.empty((3, 4, 4))
# Dropout is disabled with `training=False` (that is, `deterministic=True`).
variables = my_model.init(params_key, x, training=False)
params = variables['params']
''',
    '''
# Dropout is enabled with `training=True` (that is, `deterministic=False`).
y = my_model.apply({'params': params}, x, training=True, rngs={'dropout': dropout_key})
''',
]


def _namespace(backend_name):
    if backend_name == "nnjax":
        jax = pytest.importorskip("jax")
        import nnjax

        return {"nn": nnjax, "jax": jax, "jnp": jax.numpy}
    import nnref

    standin = types.SimpleNamespace(random=nnref.random, numpy=nnref.numpy, tree_util=nnref.tree_util)
    return {"nn": nnref, "jax": standin, "jnp": nnref.numpy}


def _run(backend_name, cells):
    namespace = _namespace(backend_name)
    for cell in cells:
        exec(compile(cell, "<seed guide>", "exec"), namespace)
    return namespace


def _numpy(tree):
    if isinstance(tree, dict):
        return {k: _numpy(v) for k, v in tree.items()}
    return np.asarray(tree)


def test_batchnorm_guide_runs_on_both_backends_and_they_agree():
    ref, jax_ns = _run("nnref", BATCHNORM_CELLS), _run("nnjax", BATCHNORM_CELLS)
    for ns in (ref, jax_ns):
        # the guide: BatchNorm adds mean/var to batch_stats and scale/bias to params
        assert set(ns["variables"]) == {"params", "batch_stats"}
        assert set(ns["batch_stats"]["BatchNorm_0"]) == {"mean", "var"}
        assert set(ns["params"]["BatchNorm_0"]) == {"bias", "scale"}
        assert np.shape(ns["y"]) == (1, 1)
    assert_trees_close(_numpy(jax_ns["variables"]), _numpy(ref["variables"]), family="exact")
    assert_trees_close(_numpy(jax_ns["batch_stats"]), _numpy(ref["batch_stats"]), family="normalization")


def test_dropout_guide_runs_on_both_backends_and_they_agree():
    ref, jax_ns = _run("nnref", DROPOUT_CELLS), _run("nnjax", DROPOUT_CELLS)
    for ns in (ref, jax_ns):
        assert np.shape(ns["y"]) == (3, 4, 3)
        assert set(ns["variables"]) == {"params"}
    assert_trees_close(_numpy(jax_ns["params"]), _numpy(ref["params"]), family="exact")
    # The guide feeds jnp.empty (zeros on JAX, uninitialized on NumPy); on a
    # defined input the same key draws the same dropout mask on both backends.
    x = np.linspace(1.0, 2.0, 48, dtype=np.float32).reshape(3, 4, 4)
    outs = [
        ns["my_model"].apply({"params": ns["params"]}, x, training=True, rngs={"dropout": ns["dropout_key"]})
        for ns in (ref, jax_ns)
    ]
    np.testing.assert_array_equal(np.asarray(outs[1]) == 0, np.asarray(outs[0]) == 0)
    assert 0 < int((np.asarray(outs[0]) == 0).sum()) < outs[0].size
