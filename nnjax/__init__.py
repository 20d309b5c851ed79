"""nnjax: the production backend of the Linen Module system, on JAX/XLA.

Model code written against ``nn`` runs here and on ``nnref`` alike; here
``nn.random`` is ``jax.random``, ``nn.numpy`` is ``jax.numpy`` and
``nn.tree_util`` is ``jax.tree_util``, and ``init``/``apply`` compose with
``jax.jit``, ``jax.grad`` and ``jax.vmap``.

>>> import jax
>>> import nnjax as nn
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     return nn.Dense(3)(nn.relu(nn.Dense(8)(x)))
>>> x = nn.numpy.ones((2, 4))
>>> variables = jax.jit(MLP().init)(nn.random.PRNGKey(0), x)
>>> sorted(variables['params'])
['Dense_0', 'Dense_1']
"""

import jax
from jax import numpy, random, tree_util  # noqa: F401  (the backend-neutral namespaces)

from nnjax import (  # noqa: F401  # noqa: F401
    activation,
    config,
    core,
    errors,
    initializers,
    meta,
    named_call,
    serialization,
    spmd,
    struct,
    traverse_util,
)
from nnjax.activation import *  # noqa: F401,F403  (the seed exports every activation at top level)
from nnjax.init_apply import apply, init, init_with_output  # noqa: F401
from nnjax.interception import InterceptorContext, intercept_methods  # noqa: F401
from nnjax.layers.attention import (  # noqa: F401
    MultiHeadAttention,
    MultiHeadDotProductAttention,
    SelfAttention,
    combine_masks,
    dot_product_attention,
    dot_product_attention_weights,
    make_attention_mask,
    make_causal_mask,
)
from nnjax.layers.combinators import Sequential  # noqa: F401
from nnjax.layers.conv import Conv, ConvLocal, ConvTranspose  # noqa: F401
from nnjax.layers.embedding import Embed  # noqa: F401
from nnjax.layers.linear import Dense  # noqa: F401
from nnjax.layers.linear_general import DenseGeneral, Einsum  # noqa: F401
from nnjax.layers.normalization import (  # noqa: F401
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
    SpectralNorm,
    WeightNorm,
)
from nnjax.layers.pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401
from nnjax.layers.recurrent import (  # noqa: F401
    ConvLSTMCell,
    GRUCell,
    LSTMCell,
    MGUCell,
    OptimizedLSTMCell,
    RNNCellBase,
    SimpleCell,
)
from nnjax.layers.rnn import RNN, Bidirectional  # noqa: F401
from nnjax.layers.stochastic import Dropout  # noqa: F401
from nnjax.merge_param import merge_param  # noqa: F401
from nnjax.meta import (
    PARTITION_NAME,
    AxisMetadata,
    Partitioned,
    get_partition_spec,
    get_sharding,
    unbox,
    with_partitioning,
)  # noqa: F401
from nnjax.module import Module, compact, nowrap  # noqa: F401
from nnjax.named_call import disable_named_call, enable_named_call, override_named_call  # noqa: F401
from nnjax.scope import Scope  # noqa: F401
from nnjax.spmd import (  # noqa: F401
    LogicallyPartitioned,
    get_logical_axis_rules,
    logical_axis_rules,
    logical_to_mesh,
    logical_to_mesh_axes,
    logical_to_mesh_sharding,
    set_logical_axis_rules,
    with_logical_constraint,
    with_logical_partitioning,
)
from nnjax.summary import tabulate  # noqa: F401
from nnjax.transforms import (  # noqa: F401
    broadcast,
    checkpoint,
    cond,
    custom_vjp,
    jit,
    jvp,
    map_variables,
    remat,
    remat_scan,
    scan,
    switch,
    vjp,
    vmap,
    while_loop,
)
from nnjax.variables import Variable  # noqa: F401
from shared_spec.collection_filters import DenyList  # noqa: F401
from shared_spec.frozen_dict import FrozenDict  # noqa: F401

ShapeDtypeStruct = jax.ShapeDtypeStruct
BACKEND = "nnjax"

# The seed's module paths: ``nn.linear``, ``nn.recurrent``, ... re-export the
# layers; ``nnjax.core`` is a package; ``nn.partitioning`` is the T5X-style API.
from nnjax import (  # noqa: F401,E402
    attention,
    batch_apply,
    combinators,
    dtypes,
    fp8_ops,
    jax_utils,
    linear,
    module,
    normalization,
    partitioning,
    pooling,
    recurrent,
    stochastic,
    summary,
    transforms,
)
from nnjax.activation import normalize  # noqa: F401,E402  (the seed's alias of standardize)
from nnjax.batch_apply import BatchApply  # noqa: F401,E402
from nnjax.fp8_ops import (  # noqa: F401,E402
    Fp8DirectDotGeneralOp,
    Fp8DotGeneral,
    Fp8DotGeneralOp,
    Fp8Einsum,
    NANOOFp8DotGeneralOp,
)
from nnjax.initializers import ones, ones_init, zeros, zeros_init  # noqa: F401,E402
from nnjax.metadata_axis import add_metadata_axis  # noqa: F401,E402
from nnjax.name_scopes import compact_name_scope, share_scope  # noqa: F401,E402
from nnjax.transforms import fold_rngs, grad, value_and_grad  # noqa: F401,E402


def __getattr__(name):
    # nnjax.training pulls in optax and orbax (about a second of import time),
    # so ``import nnjax`` leaves it out and the first ``nnjax.training`` loads it.
    if name == 'training':
        import importlib

        return importlib.import_module('nnjax.training')
    raise AttributeError(f"module 'nnjax' has no attribute {name!r}")
