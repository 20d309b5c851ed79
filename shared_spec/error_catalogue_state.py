"""Catalogue errors of variables and their state: scopes, RNG streams, filters, lifted transforms, checkpoints.

The classes of the areas ``'scope'``, ``'rng'``, ``'filter'``,
``'transform'``, ``'lazy_init'`` and ``'checkpoint'`` of
``shared_spec.errors.CATALOGUE`` (import them from ``shared_spec.errors``).

>>> ScopeParamNotFoundError('kernel', ('Dense_0',)).param_name
'kernel'
"""

from shared_spec.error_base import NNError, _at, _short_repr


class AlreadyExistsError(NNError):
    """A file would be overwritten by a copy/save that did not allow it.

    >>> print(AlreadyExistsError('/tmp/ckpt/checkpoint_3'))  # doctest: +NORMALIZE_WHITESPACE
    Trying overwrite an existing file: "/tmp/ckpt/checkpoint_3". Refusing to overwrite
    existing file '/tmp/ckpt/checkpoint_3'. Fix: pass overwrite=True to replace it, or
    write to a new path.
    """

    SEED = 'Trying overwrite an existing file: "{path}".'

    def __init__(self, path):
        self.path = path
        self._init(
            (path,),
            {},
            f'Refusing to overwrite existing file {str(path)!r}. '
            'Fix: pass overwrite=True to replace it, or write to a new path.',
        )


class CheckpointMismatchError(NNError, ValueError):
    """A restored checkpoint does not fit its target: a key, shape or dtype differs.

    >>> print(CheckpointMismatchError('/tmp/ckpt/checkpoint_3', '/params/Dense_0/kernel',
    ...                               'shape', (3, 4), (4, 4)))  # doctest: +NORMALIZE_WHITESPACE
    Checkpoint '/tmp/ckpt/checkpoint_3' does not match the target at '/params/Dense_0/kernel':
    the target has shape (3, 4), the file has (4, 4). Fix: restore into a target built by
    the same model and optimizer that saved it, or pass target=None to get the raw state dict.
    """

    def __init__(self, path, key_path, what, expected, found):
        self.path = path
        self.key_path = key_path
        self.what = what
        self.expected = expected
        self.found = found
        self._init(
            (path, key_path, what, expected, found),
            {},
            f'Checkpoint {str(path)!r} does not match the target at '
            f'{key_path!r}: the target has {what} {_short_repr(expected)}, '
            f'the file has {_short_repr(found)}. Fix: restore into a target '
            'built by the same model and optimizer that saved it, or pass '
            'target=None to get the raw state dict.',
        )


class CorruptCheckpointError(NNError, ValueError):
    """A checkpoint file is truncated, or is not a checkpoint at all.

    >>> print(CorruptCheckpointError('/tmp/ckpt/checkpoint_3', 'the data ends early'))  # doctest: +NORMALIZE_WHITESPACE
    Checkpoint file '/tmp/ckpt/checkpoint_3' cannot be read: the data ends early. Fix:
    restore an earlier step (step=...), or delete the damaged file.
    """

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        self._init(
            (path, reason),
            {},
            f'Checkpoint file {str(path)!r} cannot be read: {reason}. Fix: '
            'restore an earlier step (step=...), or delete the damaged file.',
        )


class InvalidCheckpointError(NNError):
    """A checkpoint at this or a later step already exists in the directory."""

    SEED = 'Trying to save an outdated checkpoint at step: "{step}" and path: "{path}".'

    def __init__(self, path, step):
        self.path = path
        self.step = step
        self._init(
            (path, step),
            {},
            f'Cannot save step {step} in {str(path)!r}: it already holds a '
            'checkpoint at this or a later step. Fix: pass overwrite=True '
            'to replace them, or save with a larger step.',
        )


class InvalidFilterError(NNError):
    """A collection filter is not a bool, a name, a container of names or a DenyList."""

    SEED = 'Invalid Filter: "{filter_like}"'

    def __init__(self, filter_like):
        self.filter_like = filter_like
        self._init(
            (filter_like,),
            {},
            f'Invalid collection filter {_short_repr(filter_like)} '
            f'({type(filter_like).__name__}). Fix: use True/False (all/none), '
            "a collection name ('params'), a list/tuple/set of names, or "
            "DenyList(deny=...).",
        )


class InvalidRngError(NNError):
    """An RNG stream is missing or malformed; ``msg`` says which and where."""

    SEED = '{msg}'

    def __init__(self, msg):
        self.msg = msg
        self._init(
            (msg,),
            {},
            'Fix: give init() a key per stream the model uses, e.g. '
            "init({'params': k1, 'dropout': k2}, x), and give apply() the "
            "non-params streams: apply(variables, x, rngs={'dropout': k3}).",
        )


class InvalidScopeError(NNError):
    """A temporary scope was used after the context that created it ended."""

    SEED = 'The scope "{scope_name}" is no longer valid.'

    def __init__(self, scope_name):
        self.scope_name = scope_name
        self._init(
            (scope_name,),
            {},
            f'Scope {scope_name!r} is no longer valid: a temporary scope '
            'lives only inside the init/apply call (or with-block) that '
            'created it. Fix: do not keep bound modules or scopes after it '
            'returns; clone() the module or return plain values instead.',
        )


class JaxTransformError(NNError):
    """A raw JAX transform was applied across a bound module."""

    SEED = 'Jax transforms and Flax models cannot be mixed.'

    def __init__(self):
        self._init(
            (),
            {},
            'A JAX transform (jax.jit, jax.vmap, jax.grad, ...) was applied '
            'to a function that uses a bound Module. Fix: inside modules use '
            'the lifted transforms (nn.jit, nn.vmap, nn.scan, nn.remat, ...); '
            'outside, transform a function of the variables that calls '
            'apply().',
        )


class LazyInitError(NNError):
    """``lazy_init`` met an initializer that needs an input's value, not its shape."""

    SEED = 'Lazy init encountered a value that could with the given inputs (shape: {partial_val}).'

    def __init__(self, partial_val):
        self.partial_val = partial_val
        self._init(
            (partial_val,),
            {},
            'lazy_init() cannot compute the variables: an initializer '
            'depends on the value of an input given only as a shape/dtype '
            f'({_short_repr(partial_val)}). Fix: make initializers depend '
            'only on shapes and dtypes, or pass a real array.',
        )


class ModifyScopeVariableError(NNError):
    """A variable was written while its collection is immutable."""

    SEED = 'Cannot update variable "{variable_name}" in "{scope_path}" because collection "{col}" is immutable.'

    def __init__(self, col, variable_name, scope_path):
        self.col = col
        self.variable_name = variable_name
        self.scope_path = scope_path
        self._init(
            (col, variable_name, scope_path),
            {},
            f"Cannot update variable '{variable_name}' in collection "
            f"'{col}'{_at(scope_path)}: the collection is immutable in this "
            f"call. Fix: apply(variables, x, mutable=['{col}']) makes it "
            'mutable and returns (output, updated_collections).',
        )


class PartitioningUnspecifiedError(NNError):
    """A transform adds an axis to a partitioned variable without naming it."""

    SEED = (
        'Trying to transform a Partitioned variable but "partition_name" is not specified in metadata_params: {target}'
    )

    def __init__(self, target):
        self.target = target
        self._init(
            (target,),
            {},
            'A lifted transform (scan/vmap) adds an axis to partitioned '
            f'variable {_short_repr(target)} without naming it. Fix: pass '
            "metadata_params={'partition_name': 'layers'} (the key "
            'nn.meta.PARTITION_NAME) to the transform.',
        )


class ScopeCollectionNotFound(NNError):
    """A variable was read from a collection that is empty or was not passed."""

    SEED = 'Tried to access "{var_name}" from collection "{col_name}" in "{scope_path}" but the collection is empty.'

    def __init__(self, col_name, var_name, scope_path):
        self.col_name = col_name
        self.var_name = var_name
        self.scope_path = scope_path
        self._init(
            (col_name, var_name, scope_path),
            {},
            f"Cannot read variable '{var_name}' from collection "
            f"'{col_name}'{_at(scope_path)}: the collection is empty or "
            f"missing. Fix: pass it to apply() ({{'params': ..., "
            f"'{col_name}': ...}}, not the bare params), or let apply() "
            f"create it with mutable=['{col_name}'].",
        )


class ScopeParamNotFoundError(NNError):
    """A parameter is missing from the ``params`` given to ``apply``."""

    SEED = 'Could not find parameter named "{param_name}" in scope "{scope_path}".'

    def __init__(self, param_name, scope_path):
        self.param_name = param_name
        self.scope_path = scope_path
        self._init(
            (param_name, scope_path),
            {},
            f"No parameter '{param_name}' in collection 'params'"
            f'{_at(scope_path)}. Fix: apply() the variables that init() of '
            'the same model returned (names must match), passed as '
            "{'params': params}.",
        )


class ScopeParamShapeError(NNError):
    """A given parameter's shape differs from what its initializer would make now."""

    SEED = (
        'For parameter "{param_name}" in "{scope_path}", the given initializer '
        'is expected to generate shape {init_shape}, but the existing '
        'parameter it received has shape {value_shape}.'
    )

    def __init__(self, param_name, scope_path, value_shape, init_shape):
        self.param_name = param_name
        self.scope_path = scope_path
        self.value_shape = value_shape
        self.init_shape = init_shape
        self._init(
            (param_name, scope_path, value_shape, init_shape),
            {},
            f"Parameter '{param_name}' in collection 'params'"
            f'{_at(scope_path)} has shape {tuple(value_shape)} but its '
            f'initializer now expects {tuple(init_shape)}. Fix: call apply() '
            'with inputs shaped like those given to init(), or init() again '
            'for the new shapes.',
        )


class ScopeVariableNotFoundError(NNError):
    """A variable is missing and its collection is immutable, so it cannot be made."""

    SEED = 'No Variable named "{name}" for collection "{col}" exists in "{scope_path}".'

    def __init__(self, name, col, scope_path):
        self.name = name
        self.col = col
        self.scope_path = scope_path
        self._init(
            (name, col, scope_path),
            {},
            f"No variable '{name}' in collection '{col}'{_at(scope_path)}, "
            'and the collection is immutable so it cannot be created. Fix: '
            f"pass mutable=['{col}'] to apply(), or include it in the "
            'variables.',
        )


class TransformTargetError(NNError):
    """A lifted transform got something other than a Module class or a function."""

    SEED = (
        'Linen transformations must be applied to Modules classes or functions '
        'taking a Module instance as the first argument. The provided target '
        'is not a Module class or callable: {target}'
    )

    def __init__(self, target):
        self.target = target
        self._init(
            (target,),
            {},
            'Lifted transforms take a Module class or a function whose first '
            f'argument is a Module; got {_short_repr(target)} '
            f'({type(target).__name__}). Fix: transform the class, '
            'nn.vmap(nn.Dense)(features), not an instance, '
            'nn.vmap(nn.Dense(features)).',
        )


class TransformedMethodReturnValueError(NNError):
    """A transformed method returned a Module or Variable."""

    SEED = 'Transformed module method {name} cannot return Modules or Variables.'

    def __init__(self, name):
        self.name = name
        self._init(
            (name,),
            {},
            f"Transformed method '{name}' returned a Module or Variable, "
            'which cannot leave a lifted transform. Fix: return arrays '
            '(e.g. variable.value) or pytrees of arrays.',
        )
