"""nnref: the NumPy reference backend of the Linen Module system.

Eager, slow on purpose and written to be read; it never imports JAX. The same
model code runs here and on ``nnjax``: write it against ``nn.numpy`` and
``nn.random`` and a model and a key give the same variables in both.

>>> import nnref as nn
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     return nn.Dense(3)(nn.relu(nn.Dense(8)(x)))
>>> variables = MLP().init(nn.random.PRNGKey(0), nn.numpy.ones((2, 4)))
>>> sorted(variables['params'])
['Dense_0', 'Dense_1']
"""

from nnref import (  # noqa: F401
    activation,
    core,
    errors,
    initializers,
    lax,  # jax.lax's common subset, for model code rebuilt on nnref
    meta,
    numpy,
    random,
    spmd,
    traverse_util,
    tree_util,
)
from nnref.activation import *  # noqa: F401,F403  (the seed exports every activation at top level)
from nnref.init_apply import apply, init, init_with_output
from nnref.interception import InterceptorContext, intercept_methods
from nnref.layers.attention import (  # noqa: F401
    MultiHeadAttention,
    MultiHeadDotProductAttention,
    SelfAttention,
    combine_masks,
    dot_product_attention,
    dot_product_attention_weights,
    make_attention_mask,
    make_causal_mask,
)
from nnref.layers.combinators import Sequential  # noqa: F401
from nnref.layers.conv import Conv, ConvLocal, ConvTranspose  # noqa: F401
from nnref.layers.embedding import Embed  # noqa: F401
from nnref.layers.linear import Dense
from nnref.layers.linear_general import DenseGeneral, Einsum  # noqa: F401
from nnref.layers.normalization import (  # noqa: F401
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
    SpectralNorm,
    WeightNorm,
)
from nnref.layers.pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401
from nnref.layers.recurrent import (  # noqa: F401
    ConvLSTMCell,
    GRUCell,
    LSTMCell,
    MGUCell,
    OptimizedLSTMCell,
    RNNCellBase,
    SimpleCell,
)
from nnref.layers.rnn import RNN, Bidirectional  # noqa: F401
from nnref.layers.stochastic import Dropout  # noqa: F401
from nnref.merge_param import merge_param  # noqa: F401
from nnref.meta import PARTITION_NAME, AxisMetadata, Partitioned, get_partition_spec, unbox, with_partitioning  # noqa: F401
from nnref.module import Module, compact, nowrap
from nnref.scope import Scope
from nnref.shape_dtype import ShapeDtypeStruct
from nnref.spmd import (  # noqa: F401
    LogicallyPartitioned,
    get_logical_axis_rules,
    logical_axis_rules,
    logical_to_mesh,
    logical_to_mesh_axes,
    set_logical_axis_rules,
    with_logical_constraint,
    with_logical_partitioning,
)
from nnref.summary import tabulate
from nnref.transforms import (  # noqa: F401
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
from nnref.variables import Variable
from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict

BACKEND = "nnref"

# The seed's module paths: ``nn.linear``, ``nn.recurrent``, ... re-export the
# layers; ``nnref.core`` is a package; ``nn.partitioning`` is the T5X-style API.
from nnref import (  # noqa: F401,E402
    attention,
    batch_apply,
    combinators,
    config,
    dtypes,
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
from nnref.activation import normalize  # noqa: F401,E402  (the seed's alias of standardize)
from nnref.batch_apply import BatchApply  # noqa: F401,E402
from nnref.initializers import ones, ones_init, zeros, zeros_init  # noqa: F401,E402
from nnref.metadata_axis import add_metadata_axis  # noqa: F401,E402
from nnref.name_scopes import compact_name_scope, share_scope  # noqa: F401,E402
from nnref.transforms import fold_rngs, grad, value_and_grad  # noqa: F401,E402
