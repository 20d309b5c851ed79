"""What ``import nn`` makes reachable: seed module paths as attributes, top-level initializers."""

import subprocess
import sys

import numpy as np
import pytest

COMMON_ATTRIBUTES = [
    'linear',
    'attention',
    'normalization',
    'pooling',
    'stochastic',
    'recurrent',
    'combinators',
    'dtypes',
    'summary',
    'initializers',
    'activation',
    'transforms',
    'spmd',
    'module',
    'meta',
    'core',
    'config',
    'traverse_util',
]
NNJAX_ONLY = ['jax_utils', 'training', 'serialization', 'struct']

_CHECK = '''
import sys, types
import {backend} as nn
for name in {names!r}:
    assert isinstance(getattr(nn, name), types.ModuleType), name
'''


def _run(code):
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_nnjax_attributes_after_a_bare_import_and_training_loads_lazily():
    # A fresh interpreter: nothing else has imported the submodules.
    out = _run(
        "import sys\n"
        "import nnjax\n"
        "print('nnjax.training' in sys.modules)\n"
        + _CHECK.format(backend='nnjax', names=COMMON_ATTRIBUTES + NNJAX_ONLY)
        + "print(nn.training.train_state.TrainState.__name__)\n"
        "from nnjax.training import checkpoints\n"
        "print(checkpoints is nn.training.checkpoints)\n"
    )
    assert out.split() == ['False', 'TrainState', 'True']


def test_nnref_attributes_after_a_bare_import_and_no_jax():
    out = _run(
        _CHECK.format(backend='nnref', names=COMMON_ATTRIBUTES)
        + "import nnref.core.scope, nnref.core.meta, nnref.linear, nnref.recurrent\n"
        "print('jax' in sys.modules, hasattr(nn, 'training'), hasattr(nn, 'serialization'))\n"
    )
    assert out.split() == ['False', 'False', 'False']


def test_unknown_attribute_is_still_an_attribute_error():
    import nnjax

    with pytest.raises(AttributeError, match='no_such_thing'):
        nnjax.no_such_thing  # noqa: B018


def test_zeros_ones_and_their_factories(nn):
    assert nn.zeros is nn.initializers.zeros and nn.ones is nn.initializers.ones
    assert nn.zeros_init is nn.initializers.zeros_init and nn.ones_init is nn.initializers.ones_init
    # zeros/ones are initializers themselves; *_init build one.
    assert nn.zeros_init() is nn.zeros and nn.ones_init() is nn.ones
    key = nn.random.PRNGKey(0)
    z = nn.zeros(key, (2, 3))
    o = nn.ones(key, (3,), nn.numpy.float16)
    assert str(z.dtype) == 'float32' and np.array_equal(np.asarray(z), np.zeros((2, 3)))
    assert str(o.dtype) == 'float16' and np.array_equal(np.asarray(o), np.ones(3))


def test_nnjax_zeros_are_the_jax_initializers():
    import jax

    import nnjax

    assert nnjax.zeros is jax.nn.initializers.zeros and nnjax.ones is jax.nn.initializers.ones


def test_zeros_init_in_a_layer(nn):
    layer = nn.Dense(2, kernel_init=nn.ones_init(), bias_init=nn.zeros)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))
    assert np.array_equal(np.asarray(variables['params']['kernel']), np.ones((3, 2)))
    assert np.array_equal(np.asarray(layer.apply(variables, nn.numpy.ones((1, 3)))), [[3.0, 3.0]])


@pytest.mark.parametrize('name', ['Module', 'compact', 'nowrap', 'merge_param'])
def test_module_path_names(nn, name):
    assert getattr(nn.module, name) is getattr(nn, name)
