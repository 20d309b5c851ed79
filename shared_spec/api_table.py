"""The API table: every public name of the seed API, and who provides it.

One row per name the seed API reference documents for ``flax.linen`` and its
companion packages, written in our namespace spelling ('' is the top level of
a backend, i.e. ``nn.X``). ``providers`` says, per backend, whether the name
exists ('yes'), which issue will add it ('planned:<issue>'), or why it never
will ('no:<reason>'). Conformance tests read this table to know what to
compare; a backend's own tests check its 'yes' rows import.

Issues: 2 nnref core, 3 nnjax core, 4 other layers, 5 lifted transforms and
partitioning, 6 training/checkpoints/jax_utils/tabulate.

>>> [e.kind for e in entries('') if e.name == 'compact']
['decorator']
>>> backend_module_name('nnref', 'training.train_state')
'nnref.training.train_state'
>>> lookup('initializers', 'lecun_normal').providers['nnref']
'yes'
"""

import re
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    'ApiEntry',
    'BACKENDS',
    'KINDS',
    'NAMESPACES',
    'API_TABLE',
    'entries',
    'lookup',
    'provided_by',
    'backend_module_name',
    'STATUS_PATTERN',
]

BACKENDS = ('nnref', 'nnjax')
KINDS = ('class', 'function', 'decorator', 'module', 'exception', 'constant')
NAMESPACES = (
    '',
    'initializers',
    'activation',
    'core',
    'struct',
    'serialization',
    'traverse_util',
    'training.train_state',
    'training.checkpoints',
    'training.orbax_utils',
    'training.common_utils',
    'training.early_stopping',
    'training.lr_schedule',
    'jax_utils',
    'errors',
    'config',
    'traceback_util',
    # The seed's submodule paths (issue 15): flax.linen.<name>, flax.core.<name>.
    'linear',
    'attention',
    'normalization',
    'pooling',
    'stochastic',
    'recurrent',
    'combinators',
    'dtypes',
    'module',
    'transforms',
    'partitioning',
    'fp8_ops',
    'core.frozen_dict',
    'core.scope',
    'core.meta',
)
#: 'yes', 'planned:<issue number>' or 'no:<reason>'.
STATUS_PATTERN = re.compile(r'yes|planned:[0-9]+|no:\S.*')


class ApiEntry(NamedTuple):
    """One public name: where it lives, what it is, who provides it."""

    namespace: str
    name: str
    kind: str
    providers: MappingProxyType


# --- statuses ----------------------------------------------------------------

YES = 'yes'
NO_JAX_ONLY = 'no:needs JAX pytrees/devices; nnref is eager NumPy without JAX'
NO_DEVICES = 'no:device sharding needs JAX meshes; nnref has one host array'
NO_OPTAX = 'no:training utilities need optax/JAX; nnref is the numerical oracle only'
NO_PROFILING = 'no:named-call labels only annotate compiled XLA profiles'
NO_MPA = 'no:multiprocess GlobalDeviceArray checkpoints are deprecated in the seed and out of scope'
NO_TRACEBACK = 'no:we do not rewrite tracebacks; errors carry their own context instead'
NO_FP8 = 'no:fp8 training needs JAX custom_vjp rules and float8 matmuls; nnref is the float NumPy oracle'
NO_LEGACY_TRAVERSAL = 'no:Traversal objects served the removed flax.optim; use flatten_dict/path_aware_map'


def _p(nnref, nnjax):
    return MappingProxyType({'nnref': nnref, 'nnjax': nnjax})


CORE = _p(YES, YES)  # issue 2 on nnref, issue 3 on nnjax
LAYER = _p(YES, YES)  # issue 4, both backends
TRANSFORM = _p(YES, YES)  # issue 5, both backends
SHARDING_DEVICE = _p(NO_DEVICES, YES)
NNJAX_CORE_ONLY = _p(NO_JAX_ONLY, YES)
TRAINING = _p(NO_OPTAX, YES)  # issue 6, nnjax


def _rows(namespace, kind, providers, names):
    return [ApiEntry(namespace, name, kind, providers) for name in names.split()]


# Activations are documented as flax.linen.activation.X and re-exported at
# the top level (nn.relu); user code uses both spellings, so both are rows.
_ACTIVATION_FUNCTIONS = '''
    celu elu gelu glu hard_sigmoid hard_silu hard_swish hard_tanh leaky_relu
    log_sigmoid log_softmax logsumexp one_hot relu relu6 selu sigmoid silu
    soft_sign softmax softplus standardize swish tanh
'''

_INITIALIZERS = '''
    constant delta_orthogonal glorot_normal glorot_uniform he_normal he_uniform
    kaiming_normal kaiming_uniform lecun_normal lecun_uniform normal ones
    ones_init orthogonal truncated_normal uniform variance_scaling xavier_normal xavier_uniform
    zeros zeros_init
'''

_CATALOGUE_ERRORS = '''
    AlreadyExistsError ApplyModuleInvalidMethodError
    ApplyScopeInvalidVariablesStructureError ApplyScopeInvalidVariablesTypeError
    AssignSubModuleError CallCompactUnboundModuleError CallSetupUnboundModuleError
    CallShareScopeOnUnboundModuleError
    CallUnbindOnUnboundModuleError CheckpointMismatchError CorruptCheckpointError
    DescriptorAttributeError
    IncorrectPostInitOverrideError InvalidCheckpointError InvalidFilterError
    InvalidInstanceModuleError InvalidRngError InvalidScopeError JaxTransformError
    LazyInitError ModifyScopeVariableError MultipleMethodsCompactError
    NameInUseError PartitioningUnspecifiedError ReservedModuleAttributeError
    ScopeCollectionNotFound ScopeParamNotFoundError ScopeParamShapeError
    ScopeVariableNotFoundError SetAttributeFrozenModuleError
    SetAttributeInModuleSetupError TransformTargetError
    TransformedMethodReturnValueError
'''

API_TABLE = tuple(
    # --- top level: the Module system (issue 2 / 3) ---
    _rows('', 'class', CORE, 'Module Variable DenyList')
    + _rows('', 'decorator', CORE, 'compact nowrap')
    + _rows('', 'function', CORE, 'init apply init_with_output intercept_methods')
    # Namespaces that model code reaches through the backend: the seed's
    # initializers/activation, plus our array and PRNG namespaces, which
    # make model code backend-neutral (nn.numpy, nn.random).
    + _rows('', 'module', CORE, 'initializers activation random numpy')
    + _rows('', 'function', _p(NO_PROFILING, YES), 'enable_named_call disable_named_call override_named_call')
    # --- layers ---
    + _rows('', 'class', CORE, 'Dense PReLU')
    + _rows('', 'function', CORE, _ACTIVATION_FUNCTIONS)
    + _rows(
        '',
        'class',
        LAYER,
        '''
        DenseGeneral Conv ConvTranspose ConvLocal Embed
        BatchNorm LayerNorm GroupNorm
        Sequential SelfAttention MultiHeadDotProductAttention Dropout
        LSTMCell OptimizedLSTMCell GRUCell RNNCellBase
    ''',
    )
    # The recurrent wrappers are built on nn.scan.
    + _rows('', 'class', TRANSFORM, 'RNN Bidirectional')
    # Not in the May 2024 reference but in the seed system, and named by the
    # layers issue (RMSNorm also by the known-answer case 'rmsnorm').
    + _rows(
        '',
        'class',
        LAYER,
        '''
        RMSNorm InstanceNorm SpectralNorm WeightNorm Einsum MultiHeadAttention
        MGUCell SimpleCell ConvLSTMCell
    ''',
    )
    + _rows(
        '',
        'function',
        LAYER,
        '''
        max_pool avg_pool min_pool pool
        dot_product_attention_weights dot_product_attention
        make_attention_mask make_causal_mask combine_masks merge_param
    ''',
    )
    # --- inspection ---
    + _rows('', 'function', _p(YES, YES), 'tabulate')
    # --- lifted transforms (issue 5, both backends) ---
    + _rows(
        '',
        'function',
        TRANSFORM,
        '''
        vmap scan jit remat remat_scan map_variables jvp vjp custom_vjp
        while_loop cond switch
    ''',
    )
    # nn.broadcast: the in_axes marker "same value for every scan step".
    + _rows('', 'constant', TRANSFORM, 'broadcast')
    # --- partitioning metadata: pure metadata on both, device work nnjax only ---
    + _rows('', 'class', TRANSFORM, 'Partitioned LogicallyPartitioned')
    + _rows(
        '',
        'function',
        TRANSFORM,
        '''
        with_partitioning with_logical_partitioning get_partition_spec
        logical_axis_rules set_logical_axis_rules get_logical_axis_rules
        logical_to_mesh_axes logical_to_mesh
    ''',
    )
    + _rows('', 'function', _p(YES, YES), 'with_logical_constraint')  # nnref: the identity, rules still checked
    + _rows('', 'function', SHARDING_DEVICE, 'get_sharding logical_to_mesh_sharding')
    + _rows('', 'function', TRANSFORM, 'checkpoint unbox')
    + _rows('', 'class', TRANSFORM, 'AxisMetadata')
    # --- issue 15: the rest of the Linen API ---
    + _rows(
        '',
        'module',
        CORE,
        '''
        linear attention normalization pooling stochastic recurrent combinators dtypes
        summary transforms spmd meta core config traverse_util partitioning batch_apply module
    ''',
    )
    + _rows('', 'module', _p(NO_JAX_ONLY, YES), 'jax_utils serialization struct')
    + _rows('', 'module', _p(NO_OPTAX, YES), 'training')
    + _rows('', 'function', CORE, 'zeros ones zeros_init ones_init')
    + _rows('', 'function', TRANSFORM, 'grad value_and_grad fold_rngs share_scope add_metadata_axis')
    + _rows('', 'decorator', TRANSFORM, 'compact_name_scope')
    + _rows('', 'class', CORE, 'BatchApply')
    + _rows('', 'module', _p(NO_FP8, YES), 'fp8_ops')
    + _rows(
        '',
        'class',
        _p(NO_FP8, YES),
        '''
        Fp8DotGeneralOp Fp8DirectDotGeneralOp Fp8DotGeneral Fp8Einsum NANOOFp8DotGeneralOp
    ''',
    )
    + _rows(
        'fp8_ops',
        'function',
        _p(NO_FP8, YES),
        '''
        qdq quantize dequantize compute_scale compute_amax_history quantize_dequantize_update
        in_qdq out_qdq in_q out_dq dot_general_with_precision fp8_scaled_dot_general get_fp8_max
    ''',
    )
    + _rows('fp8_ops', 'class', _p(NO_FP8, YES), 'Fp8DotGeneralBase')
    + _rows('fp8_ops', 'constant', _p(NO_FP8, YES), 'fp32_max_grad')
    + _rows('fp8_ops', 'constant', _p(NO_FP8, YES), 'OVERWRITE_WITH_GRADIENT')
    + _rows('linear', 'class', LAYER, 'Dense DenseGeneral Einsum Conv ConvLocal ConvTranspose Embed')
    + _rows(
        'linear',
        'function',
        LAYER,
        '''
        canonicalize_padding promote_dtype default_kernel_init default_embed_init
    ''',
    )
    + _rows('attention', 'class', LAYER, 'MultiHeadAttention MultiHeadDotProductAttention SelfAttention')
    + _rows(
        'attention',
        'function',
        LAYER,
        '''
        combine_masks dot_product_attention dot_product_attention_weights
        make_attention_mask make_causal_mask
    ''',
    )
    + _rows(
        'normalization',
        'class',
        LAYER,
        '''
        BatchNorm GroupNorm InstanceNorm LayerNorm RMSNorm SpectralNorm WeightNorm
    ''',
    )
    + _rows('pooling', 'function', LAYER, 'avg_pool max_pool min_pool pool')
    + _rows('stochastic', 'class', LAYER, 'Dropout')
    + _rows(
        'recurrent',
        'class',
        LAYER,
        '''
        RNNCellBase LSTMCell OptimizedLSTMCell GRUCell MGUCell SimpleCell ConvLSTMCell
        RNN Bidirectional
    ''',
    )
    + _rows('recurrent', 'function', LAYER, 'flip_sequences')
    + _rows('combinators', 'class', LAYER, 'Sequential')
    + _rows('dtypes', 'function', CORE, 'promote_dtype canonicalize_dtype')
    + _rows('module', 'class', CORE, 'Module')
    + _rows('module', 'decorator', CORE, 'compact nowrap compact_name_scope')
    + _rows('module', 'function', CORE, 'merge_param share_scope apply init init_with_output')
    + _rows(
        'transforms',
        'function',
        TRANSFORM,
        '''
        vmap scan jit remat remat_scan map_variables jvp vjp custom_vjp while_loop cond
        switch grad value_and_grad fold_rngs
    ''',
    )
    + _rows(
        'partitioning',
        'function',
        TRANSFORM,
        '''
        param_with_axes variable_with_axes get_axis_names scan_with_axes vmap_with_axes remat
        axis_rules set_axis_rules get_axis_rules logical_to_mesh logical_to_mesh_axes
        with_sharding_constraint
    ''',
    )
    + _rows(
        'partitioning',
        'class',
        TRANSFORM,
        '''
        AxisMetadata PartitionedVariable RulesFallback ScanIn ScanOut
    ''',
    )
    + _rows('core', 'module', CORE, 'frozen_dict scope meta')
    + _rows('core', 'class', CORE, 'DenyList AxisMetadata')
    + _rows('core.frozen_dict', 'class', CORE, 'FrozenDict')
    + _rows('core.frozen_dict', 'function', CORE, 'freeze unfreeze copy pop pretty_repr')
    + _rows('core.scope', 'class', CORE, 'Scope Variable DenyList')
    + _rows('core.meta', 'class', TRANSFORM, 'AxisMetadata Partitioned')
    + _rows('core.meta', 'function', TRANSFORM, 'unbox with_partitioning get_partition_spec')
    # --- flax.linen.activation / flax.linen.initializers ---
    + _rows('activation', 'class', CORE, 'PReLU')
    + _rows('activation', 'function', CORE, _ACTIVATION_FUNCTIONS)
    + _rows('initializers', 'function', CORE, _INITIALIZERS)
    # --- flax.core.frozen_dict ---
    + _rows('core', 'class', CORE, 'FrozenDict')
    + _rows('core', 'function', CORE, 'freeze unfreeze copy pop pretty_repr')
    # --- flax.traverse_util ---
    + _rows('traverse_util', 'function', CORE, 'flatten_dict unflatten_dict')
    + _rows('traverse_util', 'constant', CORE, 'empty_node')
    + _rows('traverse_util', 'function', NNJAX_CORE_ONLY, 'path_aware_map')
    + _rows(
        'traverse_util',
        'class',
        _p(NO_LEGACY_TRAVERSAL, YES),
        '''
        Traversal TraverseId TraverseMerge TraverseCompose TraverseFilter
        TraverseAttr TraverseItem TraverseEach TraverseTree ModelParamTraversal
    ''',
    )
    + _rows('traverse_util', 'constant', _p(NO_LEGACY_TRAVERSAL, YES), 't_identity')
    # --- flax.struct / flax.serialization / flax.config (nnjax core) ---
    + _rows('struct', 'decorator', NNJAX_CORE_ONLY, 'dataclass')
    + _rows('struct', 'class', NNJAX_CORE_ONLY, 'PyTreeNode')
    + _rows('struct', 'function', NNJAX_CORE_ONLY, 'field')
    + _rows(
        'serialization',
        'function',
        NNJAX_CORE_ONLY,
        '''
        from_state_dict to_state_dict register_serialization_state is_serializable
        msgpack_serialize msgpack_restore to_bytes from_bytes
    ''',
    )
    # flax.config.update, and flax.configurations' flag helpers, documented
    # in the same section.
    + _rows('config', 'function', NNJAX_CORE_ONLY, 'update define_bool_state static_bool_env')
    # --- flax.training (issue 6, nnjax) ---
    + _rows('training.train_state', 'class', TRAINING, 'TrainState')
    + _rows(
        'training.checkpoints',
        'function',
        TRAINING,
        '''
        save_checkpoint save_checkpoint_multiprocess latest_checkpoint
        restore_checkpoint convert_pre_linen
    ''',
    )
    # Orbax arguments from a target, as the seed's checkpointing guides use them (issue 13).
    + _rows('training.orbax_utils', 'function', TRAINING, 'save_args_from_target restore_args_from_target')
    + _rows('training.common_utils', 'function', TRAINING, 'shard shard_prng_key stack_forest get_metrics onehot')
    + _rows('training.early_stopping', 'class', TRAINING, 'EarlyStopping')
    + _rows(
        'training.lr_schedule',
        'function',
        TRAINING,
        '''
        create_constant_learning_rate_schedule
        create_stepped_learning_rate_schedule
        create_cosine_learning_rate_schedule
    ''',
    )
    # --- flax.jax_utils (nnjax) ---
    + _rows(
        'jax_utils',
        'function',
        _p(NO_JAX_ONLY, YES),
        '''
        partial_eval_by_shape replicate unreplicate prefetch_to_device pmean
        pad_shard_unpad
    ''',
    )
    # --- flax.errors: the catalogue of shared_spec.errors, plus our base ---
    + _rows('errors', 'exception', CORE, 'NNError' + _CATALOGUE_ERRORS)
    + _rows('errors', 'exception', CORE, 'FlaxError')  # the seed's name of NNError
    + _rows(
        'errors',
        'exception',
        _p(NO_MPA, NO_MPA),
        '''
        MPACheckpointingRequiredError MPARestoreDataCorruptedError
        MPARestoreTargetRequiredError MPARestoreTypeNotMatchError
    ''',
    )
    # --- flax.traceback_util ---
    + _rows(
        'traceback_util', 'function', _p(NO_TRACEBACK, NO_TRACEBACK), 'hide_flax_in_tracebacks show_flax_in_tracebacks'
    )
)

_BY_KEY = {(e.namespace, e.name): e for e in API_TABLE}


def entries(namespace=None):
    """All rows, or those of one namespace ('' is the top level).

    >>> len(entries('core'))
    11
    """
    if namespace is None:
        return list(API_TABLE)
    if namespace not in NAMESPACES:
        raise ValueError(f'Unknown namespace {namespace!r}; known: {NAMESPACES}.')
    return [e for e in API_TABLE if e.namespace == namespace]


def lookup(namespace, name):
    """The row for ``name`` in ``namespace``; KeyError if the table lacks it."""
    try:
        return _BY_KEY[(namespace, name)]
    except KeyError:
        raise KeyError(f'{name!r} is not in the API table under namespace {namespace!r}.') from None


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f'Unknown backend {backend!r}; known: {BACKENDS}.')


def provided_by(backend):
    """The rows whose status for ``backend`` is 'yes'.

    >>> ('', 'Dense') in {(e.namespace, e.name) for e in provided_by('nnref')}
    True
    """
    _check_backend(backend)
    return [e for e in API_TABLE if e.providers[backend] == YES]


def backend_module_name(backend, namespace):
    """The importable module of ``namespace`` in ``backend``.

    >>> backend_module_name('nnref', ''), backend_module_name('nnjax', 'initializers')
    ('nnref', 'nnjax.initializers')
    """
    _check_backend(backend)
    if namespace not in NAMESPACES:
        raise ValueError(f'Unknown namespace {namespace!r}; known: {NAMESPACES}.')
    return f'{backend}.{namespace}' if namespace else backend
