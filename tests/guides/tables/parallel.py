"""Guide 5.2.4 "Parallel training": ensembling with pmap, then pjit with sharding annotations.

The guide is two guides. "Ensembling on multiple devices" shows a single-model
and an ensemble version of the MNIST example side by side (left and right
cells); each column runs as its own notebook, over the example's parts the
guide does not show (the CNN, ``get_datasets``, the hyperparameters), here a
small CNN on random MNIST-shaped arrays. "Scale up Flax Modules on multiple
devices with pjit" is one notebook on the 8 host devices the guide asks for.
"""

from tests.guides.reasons import OUTPUT, OUTPUT_REPR, PAGE_INDENT, SHELL, indented

_JAX_RENAMED_PJIT_ARGS = (
    'JAX renamed the pjit arguments in_axis_resources/out_axis_resources '
    'to in_shardings/out_shardings and then removed the old names (the '
    'seed system on JAX 0.10.2 fails the same); same meaning'
)
_JAX_REMOVED_TREE_MAP = (
    'jax.tree_map was removed from JAX (0.6); jax.tree_util.tree_map is the '
    'same function (the seed system on JAX 0.10.2 fails the same)'
)

NOT_RUN = {
    9: ('# Once Flax v0.6.4 is released', SHELL),
    12: ('2024-05-02 00:11:31.353559: W tensorflow', OUTPUT),
    13: ('WARNING:absl:GlobalAsyncCheckpointManager', OUTPUT),
    15: ('WARNING:jax._src.xla_bridge:No GPU/TPU found', OUTPUT),
    16: ('[[CpuDevice(id=0)', OUTPUT),
    17: ('Mesh(device_ids=array(', OUTPUT_REPR),
    21: ("PartitionSpec('data', None)", OUTPUT_REPR),
    23: ('TrainState(step=PartitionSpec()', OUTPUT),
    25: ('TrainState(step=()', OUTPUT),
    27: ("<class 'flax.core.meta.Partitioned'>", OUTPUT),
    29: ("NamedSharding(mesh={'data': 2, 'model': 4}", OUTPUT_REPR),
    31: ('FrozenDict({', OUTPUT),
    34: ("<class 'jaxlib.xla_extension.ArrayImpl'>", OUTPUT),
    35: (
        '%%timeit',
        'an IPython cell magic (`%%timeit`), not Python; it also times '
        '`pjit_step_fn`, a name the guide never defines (its train step is '
        '`pjitted_train_step`, which cell 32 runs)',
    ),
    36: ('519 ms', OUTPUT),
    39: ('TrainState(step=PartitionSpec()', OUTPUT),
    41: ('TrainState(step=PartitionSpec()', OUTPUT),
    43: ('True', OUTPUT_REPR),
    45: ('TrainState(step=()', OUTPUT),
    46: ("W2: LogicallyPartitioned(value=(4, 1024, 1024)", OUTPUT + ' (the rest of cell 45, after a page break)'),
}

_DOT_RELU_DOT_TAIL = """\
W2 = self.param(
    'W2',
    nn.with_partitioning(nn.initializers.xavier_normal(), ('model', None)),
    (self.depth, x.shape[-1]))

z = jnp.dot(y, W2)
# Force a local sharding annotation.
z = with_sharding_constraint(z, PartitionSpec('data', None))

# Return a tuple to conform with the API `flax.linen.scan` as shown in the cell below.
return z, None
"""
_MLP_CALL = """\
@nn.compact
def __call__(self, x):
    if self.use_scan:
        x, _ = nn.scan(DotReluDot, length=self.num_layers,
                       variable_axes={"params": 0},
                       split_rngs={"params": True},
                       metadata_params={nn.PARTITION_NAME: None}
                       )(self.depth)(x)
    else:
        for i in range(self.num_layers):
            x, _ = DotReluDot(self.depth)(x)
    return x
"""
_LOGICAL_DOT_RELU_DOT_CALL = """\
def __call__(self, x):
    W1 = self.param(
        'W1',
        spmd.with_logical_partitioning(nn.initializers.xavier_normal(), ('embed', 'hidden')),
        (x.shape[-1], self.depth))

    y = jax.nn.relu(jnp.dot(x, W1))
    # Force a local sharding annotation.
    y = spmd.with_logical_constraint(y, ('batch', 'hidden'))

    W2 = self.param(
        'W2',
        spmd.with_logical_partitioning(nn.initializers.xavier_normal(), ('hidden', 'embed')),
        (self.depth, x.shape[-1]))

    z = jnp.dot(y, W2)
    # Force a local sharding annotation.
    z = spmd.with_logical_constraint(z, ('batch', 'embed'))
    return z, None
"""
_LOGICAL_MLP_RETURN = '                x, _ = DotReluDot(self.depth)(x)\n    return x\n'


def _renamed_pjit_args(index):
    return [
        (index, 'in_axis_resources=', 'in_shardings=', _JAX_RENAMED_PJIT_ARGS),
        (index, 'out_axis_resources=', 'out_shardings=', _JAX_RENAMED_PJIT_ARGS),
    ]


REPAIRS = [
    (
        14,
        'from jax.experimental.pjit import pjit, with_sharding_constraint',
        'from jax.experimental.pjit import pjit\nfrom jax.lax import with_sharding_constraint',
        'JAX removed with_sharding_constraint from jax.experimental.pjit; it is '
        'jax.lax.with_sharding_constraint (the seed system on JAX 0.10.2 fails the same import)',
    ),
    (18, _DOT_RELU_DOT_TAIL, indented(_DOT_RELU_DOT_TAIL, 8), PAGE_INDENT),
    (19, _MLP_CALL, indented(_MLP_CALL, 4), PAGE_INDENT),
    *_renamed_pjit_args(24),
    (24, 'jax.tree_map(', 'jax.tree_util.tree_map(', _JAX_REMOVED_TREE_MAP),
    (30, 'jax.tree_map(', 'jax.tree_util.tree_map(', _JAX_REMOVED_TREE_MAP),
    *_renamed_pjit_args(32),
    *_renamed_pjit_args(33),
    (37, _LOGICAL_DOT_RELU_DOT_CALL, indented(_LOGICAL_DOT_RELU_DOT_CALL, 4), PAGE_INDENT),
    (37, _LOGICAL_MLP_RETURN, _LOGICAL_MLP_RETURN.replace('    return x', '        return x'), PAGE_INDENT),
    *_renamed_pjit_args(44),
    (44, 'jax.tree_map(', 'jax.tree_util.tree_map(', _JAX_REMOVED_TREE_MAP),
]

MERGES = [(6, 4, "the single-model loop's logging.info call (its last statement) starts on the next page")]

_ENSEMBLE_CONTEXT = '''\
import functools
import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnjax as nn
from nnjax import jax_utils
from nnjax.training import train_state


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(features=4, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(4, 4), strides=(4, 4))
        return nn.Dense(features=10)(x.reshape((x.shape[0], -1)))


def get_datasets():
    rng = np.random.default_rng(0)

    def split(n):
        return {'image': rng.random((n, 28, 28, 1), dtype=np.float32),
                'label': rng.integers(0, 10, (n,))}

    return split(64), split(32)


learning_rate, momentum, num_epochs, batch_size = 0.1, 0.9, 1, 16
'''
_ENSEMBLE_WHY = (
    "the guide shows the parts of the MNIST example that change; the example's "
    'imports, its CNN (here a smaller one), get_datasets() (here random '
    'MNIST-shaped arrays: the download replaced) and its hyperparameters are '
    'defined here'
)

PREAMBLES = {
    'single_model': (_ENSEMBLE_CONTEXT, _ENSEMBLE_WHY),
    'ensemble': (_ENSEMBLE_CONTEXT, _ENSEMBLE_WHY),
}

RUNS = {
    'single_model': [0, 2, 4, 6],  # 7 is merged into 6
    'ensemble': [1, 3, 5, 8],
    'pjit': list(range(9, 47)),
}
