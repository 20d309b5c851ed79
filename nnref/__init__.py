"""nnref: the Linen Module system, written in NumPy to be read.

nnref is the reference twin of ``nnjax``: the same API and the same
numbers, computed eagerly and step by step, with no JAX at all. Use it to
learn what a module does, or as an oracle that a fast backend is checked
against. A model written against ``nn`` -- arrays from ``nn.numpy``, keys
from ``nn.random`` -- runs unchanged on both backends, and the same key
gives the same variables.

What is exported below, by theme: the module system (``Module``,
``compact``, ``init``/``apply``, variables and scopes); layers (dense,
convolution, attention, normalization, recurrent, pooling, dropout);
lifted transforms (``vmap``, ``scan``, ``remat``, ``jit`` ...); metadata and
sharding annotations (``Partitioned``, logical axis rules); and the
stand-ins for JAX's namespaces (``numpy``, ``random``, ``lax``,
``tree_util``).

>>> import nnref as nn
>>> class Classifier(nn.Module):
...     classes: int = 3
...
...     @nn.compact
...     def __call__(self, x):
...         h = nn.gelu(nn.Dense(16)(x))
...         return nn.log_softmax(nn.Dense(self.classes)(h))
>>> params = Classifier().init(nn.random.PRNGKey(0), nn.numpy.zeros((1, 8)))['params']
>>> nn.tree_util.tree_map(lambda w: w.shape, params)['Dense_1']
{'bias': (3,), 'kernel': (16, 3)}
"""

# The stand-ins for jax.numpy / jax.random / jax.lax / jax.tree_util, and the other namespaces.
from nnref import activation, core, errors, initializers, lax, meta, numpy, random, spmd, traverse_util, tree_util  # noqa: F401
from nnref.activation import *  # noqa: F401,F403  (the seed exports every activation at top level)

# The module system: define a Module, then init/apply it; intercept its method calls.
from nnref.init_apply import apply, init, init_with_output
from nnref.interception import InterceptorContext, intercept_methods

# Layers.
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
from nnref.layers.normalization import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, RMSNorm, SpectralNorm, WeightNorm  # noqa: F401
from nnref.layers.pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401
from nnref.layers.recurrent import ConvLSTMCell, GRUCell, LSTMCell, MGUCell, OptimizedLSTMCell, RNNCellBase, SimpleCell  # noqa: F401
from nnref.layers.rnn import RNN, Bidirectional  # noqa: F401
from nnref.layers.stochastic import Dropout  # noqa: F401
from nnref.merge_param import merge_param  # noqa: F401

# Metadata boxes and sharding annotations (computed here, never applied: one host).
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

# Lifted transforms: JAX-style transformations that also thread module variables and RNGs.
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
