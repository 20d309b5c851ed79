"""Guides "Upgrading my codebase to Optax" and "... to Linen" (end of 5.2.6).

Both compare an old API with its replacement, side by side. The old halves do
not run: ``flax.optim`` and the pre-Linen ``flax.nn`` were removed from the
seed system (flax 0.12.8 has neither module), and neither exists in nnjax.
The new halves run, each as one notebook over a preamble that defines what the
snippets leave out: a small model, its variables, a loss and a few random
batches for the Optax run; the typing aliases, initializers and the
sub-modules the snippets name for the Linen run.
"""

from tests.guides.reasons import SKETCH

_OPTIM = (
    'the flax.optim half of a side-by-side comparison: flax.optim was removed from the '
    'seed system (flax 0.12.8 has no flax.optim module) and nnjax has none either; the '
    'optax cell next to it runs'
)
_OLD_FLAX = (
    'the "Old Flax" half of a side-by-side comparison: the pre-Linen flax.nn API '
    '(Module.apply with shapes, nn.Model, Module.partial/shared, nn.stateful, '
    'nn.stochastic) was removed from the seed system (flax 0.12.8 has no flax.nn) and '
    'nnjax has none either; the Linen cell next to it runs'
)

NOT_RUN = {
    0: ('@jax.jit\ndef train_step(optimizer, batch):', _OPTIM),
    4: ('optimizer_def = flax.optim.Adam(', _OPTIM),
    6: ('def train_step(optimizer, batch):', _OPTIM),
    8: ('def train_step(step, optimizer, batch):', _OPTIM),
    10: ('kernels = flax.traverse_util.ModelParamTraversal', _OPTIM),
    12: ('from flax import nn\n', _OLD_FLAX),
    14: ('class Encoder(nn.Module):', _OLD_FLAX),
    16: ('class AutoEncoder(nn.Module):', _OLD_FLAX),
    18: ('# no import', _OLD_FLAX),
    19: ('    use_running_average=not train,', _OLD_FLAX + ' (the rest of cell 18, after a page break)'),
    21: ('def create_model(key):', _OLD_FLAX),
    23: ('class BatchNorm(nn.Module):\n    def apply(self, x, ...):', _OLD_FLAX),
    25: ('# initial params and state', _OLD_FLAX),
    27: ("{'Conv_0': { ... }, 'Dense_1': { ... } }", SKETCH),
    28: ("{'Conv_0': { ... }, 'Dense_0': { ... } }", SKETCH),
    29: ('def dropout(inputs, rate, deterministic=False):', _OLD_FLAX),
}

_OPTAX_CONTEXT = '''\
import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnjax as flax
import nnjax as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.relu(nn.Dense(8)(x)))


def loss(params, batch):
    predictions = Model().apply({'params': params}, batch['x'])
    return jnp.mean((predictions - batch['y']) ** 2)


_rng = np.random.default_rng(0)
ds_train = [{'x': _rng.normal(size=(8, 4)).astype(np.float32),
             'y': _rng.normal(size=(8, 1)).astype(np.float32)} for _ in range(3)]
variables = Model().init(jax.random.PRNGKey(0), ds_train[0]['x'])
learning_rate, momentum, weight_decay, grad_clip_norm = 0.1, 0.9, 1e-4, 1.0
schedule = optax.exponential_decay(learning_rate, transition_steps=10, decay_rate=0.5)
'''

_LINEN_CONTEXT = '''\
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax
from jax import lax, random

import nnjax as nn
from nnjax import initializers
from nnjax.training import train_state

PRNGKey = Shape = Dtype = Array = Any
default_kernel_init = initializers.lecun_normal()


class Decoder(nn.Module):
    @nn.compact
    def __call__(self, z):
        return nn.Dense(784)(z)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(x.reshape((x.shape[0], -1)))
'''

PREAMBLES = {
    'optax': (
        _OPTAX_CONTEXT,
        'the Optax snippets use a loss, variables, a training set and '
        'hyperparameters the guide does not show: a small MLP, a mean-squared loss, three '
        'random batches and the usual values (flax is nnjax, for flax.traverse_util)',
    ),
    'linen': (
        _LINEN_CONTEXT,
        'the Linen snippets use names from the Linen sources they are '
        'taken from (typing aliases, default_kernel_init, initializers, train_state) and '
        'modules the guide names but does not show (Decoder, CNN): small ones here',
    ),
}

RUNS = {
    'optax': [1, 2, 3, 5, 7, 9, 11],
    'linen': [13, 15, 17, 20, 22, 24, 26, 30],
}
