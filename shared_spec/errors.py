"""The error catalogue: one exception class per misuse, shared by both backends.

Misuse raises the same class in ``nnref`` and ``nnjax``, so a conformance test
can demand ``pytest.raises(ScopeParamShapeError)`` of either. Every message
says what happened, where (module path written ``'/a/b'``, the root as ``'/'``,
plus the collection and variable when known) and how to fix it. The
constructor arguments follow the seed system's ``flax.errors`` and are kept as
attributes, so handlers can inspect them instead of parsing text.

**Seed wording first.** Each class the seed has keeps the seed's message as
the start of ours (class attribute ``SEED``, formatted with the same
arguments the seed gets: module paths as ``'/a/b'``, class names, shapes as
tuples), so code and tests matching the seed's text keep working. The rule:
``str(err)`` starts with the seed's message *without* the documentation URL
the seed appends (`` (https://flax.readthedocs.io/...#flax.errors.Name)``):
that page documents another project. Our own text follows after a space
(after ``'. '`` where the seed's text has no closing full stop): the module
path, collection, variable and ``Fix:`` described above. The seed part
alone is ``err.seed_message``; ``InvalidRngError``'s is its ``msg``.

The seed's multiprocess-array checkpoint errors (``MPACheckpointingRequired``,
``MPARestoreDataCorrupted``, ``MPARestoreTargetRequired``,
``MPARestoreTypeNotMatch``) are left out: they belong to the deprecated
GlobalDeviceArray checkpoint path, which neither backend implements.

Two classes go beyond the seed, both raised when a checkpoint is restored
(:data:`EXTENSIONS`): ``CheckpointMismatchError`` (the file's tree, a shape or
a dtype differs from the target's) and ``CorruptCheckpointError`` (the file is
truncated or is not a checkpoint). The seed reports both as a bare
``ValueError`` or a msgpack exception; ours subclass ``ValueError`` too, so
handlers written for the seed still catch them.

>>> err = ModifyScopeVariableError('batch_stats', 'mean', ('encoder', 'BatchNorm_0'))
>>> isinstance(err, NNError), err.col, format_path(err.scope_path)
(True, 'batch_stats', '/encoder/BatchNorm_0')
>>> "mutable=['batch_stats']" in str(err)
True
>>> str(err).startswith('Cannot update variable "mean" in "/encoder/BatchNorm_0" '
...                     'because collection "batch_stats" is immutable. ')
True
"""

import string
from typing import NamedTuple

__all__ = [
    'NNError',
    'FlaxError',
    'format_path',
    'CatalogueEntry',
    'CATALOGUE',
    'AREAS',
    'AlreadyExistsError',
    'ApplyModuleInvalidMethodError',
    'ApplyScopeInvalidVariablesStructureError',
    'ApplyScopeInvalidVariablesTypeError',
    'AssignSubModuleError',
    'CallCompactUnboundModuleError',
    'CallSetupUnboundModuleError',
    'CallShareScopeOnUnboundModuleError',
    'CallUnbindOnUnboundModuleError',
    'CheckpointMismatchError',
    'CorruptCheckpointError',
    'DescriptorAttributeError',
    'EXTENSIONS',
    'IncorrectPostInitOverrideError',
    'InvalidCheckpointError',
    'InvalidFilterError',
    'InvalidInstanceModuleError',
    'InvalidRngError',
    'InvalidScopeError',
    'JaxTransformError',
    'LazyInitError',
    'ModifyScopeVariableError',
    'MultipleMethodsCompactError',
    'NameInUseError',
    'PartitioningUnspecifiedError',
    'ReservedModuleAttributeError',
    'ScopeCollectionNotFound',
    'ScopeParamNotFoundError',
    'ScopeParamShapeError',
    'ScopeVariableNotFoundError',
    'SetAttributeFrozenModuleError',
    'SetAttributeInModuleSetupError',
    'TransformTargetError',
    'TransformedMethodReturnValueError',
    'SEED_UNDOCUMENTED',
]


# --- formatting helpers ------------------------------------------------------


def format_path(path):
    """A module path as ``'/a/b'``; the root (``()``, ``''``, ``'/'``) as ``'/'``.

    >>> format_path(('encoder', 'Dense_0')), format_path(()), format_path('a/b')
    ('/encoder/Dense_0', '/', '/a/b')
    """
    if path is None:
        return '<unknown path>'
    if isinstance(path, str):
        parts = [p for p in path.split('/') if p]
    else:
        parts = [str(p) for p in path]
    return '/' + '/'.join(parts)


def _name_of(obj, default='Module'):
    """A readable name for a class, instance, function or string."""
    if obj is None:
        return default
    if isinstance(obj, str):
        return obj
    if isinstance(obj, type):
        return obj.__name__
    name = getattr(obj, '__name__', None)
    return name if isinstance(name, str) else type(obj).__name__


def _short_repr(value, limit=120):
    # Values can be whole parameter trees; keep messages readable.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _at(path):
    return f" at module path '{format_path(path)}'"


def _construct(cls, args, kwargs):
    return cls(*args, **kwargs)


def _seed_text(name, value):
    """An argument as the seed's callers pass it (paths as text, classes by name)."""
    if name == 'scope_path' or (name == 'module_name' and isinstance(value, tuple)):
        return format_path(value)
    if name in ('cls', 'module_cls'):
        return _name_of(value)
    if name in ('value_shape', 'init_shape'):
        return str(tuple(value))
    return str(value)


# --- base class --------------------------------------------------------------


class NNError(Exception):
    """Base class of every catalogue error.

    Subclasses set their attributes, then call ``_init(args, kwargs,
    message)``, which puts the seed's wording (``SEED`` formatted with those
    attributes) in front of ``message``. The original constructor arguments
    are kept so that the error pickles (e.g. across processes) and rebuilds
    with the same message.
    """

    SEED = ''  # the seed's message template; '' for classes the seed lacks

    def _init(self, args, kwargs, message):
        self._ctor_args = args
        self._ctor_kwargs = kwargs
        names = {f for _, f, _, _ in string.Formatter().parse(self.SEED) if f}
        self.seed_message = self.SEED.format(**{n: _seed_text(n, getattr(self, n)) for n in names})
        if self.seed_message:
            sep = ' ' if self.seed_message.endswith('.') else '. '
            message = f'{self.seed_message}{sep}{message}'
        super().__init__(message)

    @property
    def message(self):
        return self.args[0] if self.args else ''

    def __reduce__(self):
        return _construct, (type(self), self._ctor_args, self._ctor_kwargs)


#: The seed's name for the base class: handlers written against it keep working.
FlaxError = NNError


# --- the catalogue, alphabetical as in the seed ------------------------------


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


class ApplyModuleInvalidMethodError(NNError):
    """``apply(..., method=m)`` got something that is not a method of the module."""

    SEED = 'Cannot call apply(): {method} is not a valid function for apply().'

    def __init__(self, method):
        self.method = method
        self._init(
            (method,),
            {},
            f'apply() got method={_short_repr(method)}, which is neither a '
            'method of the module nor a function taking the module as its '
            'first argument. Fix: pass a method (Model.encode), its name as '
            "a string ('encode'), or a function f(module, *args).",
        )


class ApplyScopeInvalidVariablesStructureError(NNError):
    """The variables given to ``apply`` nest ``'params'`` inside ``'params'``."""

    SEED = (
        'Expect the `variables` (first argument) passed to apply() '
        'to be a dict with the structure {{"params": ...}}, but got a dict '
        'with an extra params layer, i.e.  {{"params": {{"params": ... }} }}. '
        'You should instead pass in your dict\'s ["params"].'
    )

    def __init__(self, variables):
        self.variables = variables
        keys = list(variables) if hasattr(variables, 'keys') else None
        self._init(
            (variables,),
            {},
            "The variables passed to apply() have an extra 'params' level: "
            "{'params': {'params': ...}} (top-level collections: "
            f'{keys}). Fix: pass the dict that init() returned, or '
            "{'params': params} where params = variables['params'].",
        )


class ApplyScopeInvalidVariablesTypeError(NNError):
    """The first argument of ``apply`` is not a dict of collections."""

    SEED = (
        'The first argument passed to an apply function should be a '
        'dictionary of collections. Each collection should be a dictionary '
        'with string keys.'
    )

    def __init__(self, *, got_type=None):
        self.got_type = got_type
        got = f', got {_name_of(got_type, "?")}' if got_type is not None else ''
        self._init(
            (),
            {'got_type': got_type},
            'The first argument of apply() must be a dict of variable '
            f"collections such as {{'params': ...}}{got}. Fix: pass the "
            'variables returned by init(), not a Module, array or list.',
        )


class AssignSubModuleError(NNError):
    """A submodule was created outside ``setup`` and outside a ``@compact`` method."""

    SEED = 'Submodule {cls} must be defined in `setup()` or in a method wrapped in `@compact`'

    def __init__(self, cls, *, parent_path=None):
        self.cls = cls
        self.parent_path = parent_path
        where = _at(parent_path) if parent_path is not None else ''
        self._init(
            (cls,),
            {'parent_path': parent_path},
            f'Submodule {_name_of(cls)} was created in a method that is '
            f'neither setup() nor marked @compact{where}. Fix: create '
            'submodules in setup() (assign them to self) or decorate the '
            'method that creates them with @compact.',
        )


class CallCompactUnboundModuleError(NNError):
    """A module method was called directly, without ``init``/``apply``/``bind``."""

    SEED = "Can't call compact methods on unbound modules"

    def __init__(self, *, module_cls=None, method=None):
        self.module_cls = module_cls
        self.method = method
        meth = _name_of(method, '__call__')
        cls = _name_of(module_cls)
        self._init(
            (),
            {'module_cls': module_cls, 'method': method},
            f'{cls}.{meth}() was called on an unbound module, which has no '
            'variables. Fix: go through init()/apply(): variables = '
            'model.init(key, x); y = model.apply(variables, x); or use '
            'model.bind(variables) for interactive work.',
        )


class CallSetupUnboundModuleError(NNError):
    """``setup()`` was called by hand on an unbound module."""

    SEED = "Can't call compact methods on unbound modules"

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'{_name_of(module_cls)}.setup() was called directly on an '
            'unbound module. Fix: never call setup() yourself; it runs '
            'lazily once the module is bound. To reach a setup-defined '
            'attribute use nn.apply(lambda m: m.sub.clone(), model)(variables).',
        )


class CallShareScopeOnUnboundModuleError(NNError):
    """``nn.share_scope(module, other)`` was called where ``module`` is not bound."""

    SEED = "Can't call `share_scope` on unbound modules"

    def __init__(self):
        self._init(
            (),
            {},
            'Fix: call nn.share_scope where both modules are bound, e.g. in '
            'setup() or a @compact method of a module run by init()/apply().',
        )


class CallUnbindOnUnboundModuleError(NNError):
    """``unbind()`` was called on a module that is not bound."""

    SEED = "Can't call `unbind()` on unbound modules"

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'unbind() was called on {_name_of(module_cls)}, which is not '
            'bound to any variables. Fix: unbind only a module returned by '
            'bind(): bound = model.bind(variables); model, variables = '
            'bound.unbind().',
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


class DescriptorAttributeError(NNError):
    """A property of a module read an attribute that does not exist.

    Raised instead of ``AttributeError`` so that the missing attribute is not
    mistaken for the property itself being absent.
    """

    SEED = 'Trying to access a property that is accessing a non-existent attribute.'

    def __init__(self, *, module_cls=None, attr_name=None):
        self.module_cls = module_cls
        self.attr_name = attr_name
        what = f"'{attr_name}'" if attr_name is not None else 'an attribute'
        self._init(
            (),
            {'module_cls': module_cls, 'attr_name': attr_name},
            f'A property or other descriptor of {_name_of(module_cls)} '
            f'raised AttributeError while reading {what}. Fix: check the '
            "property's body for a misspelt or missing attribute (fields "
            'and setup() attributes are the only ones that exist).',
        )


class IncorrectPostInitOverrideError(NNError):
    """``__post_init__`` was overridden without calling ``super().__post_init__()``."""

    SEED = 'Overrode `.__post_init__()` without calling `super().__post_init__()`'

    def __init__(self, *, module_cls=None):
        self.module_cls = module_cls
        self._init(
            (),
            {'module_cls': module_cls},
            f'{_name_of(module_cls)}.__post_init__ does not call '
            'super().__post_init__(), so the module was never registered '
            'with its parent. Fix: call super().__post_init__() in the '
            'override.',
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


class InvalidInstanceModuleError(NNError):
    """``init``/``apply``/``bind`` was called on the Module class, not an instance."""

    SEED = (
        'Can only call init, init_with_output or apply methods on an '
        'instance of the Module class, not the Module class itself'
    )

    def __init__(self, *, module_cls=None, method=None):
        self.module_cls = module_cls
        self.method = method
        cls = _name_of(module_cls)
        meth = _name_of(method, 'init/apply')
        self._init(
            (),
            {'module_cls': module_cls, 'method': method},
            f'{meth}() was called on the class {cls}, not on an instance. '
            f'Fix: construct the module first: {cls}(...).{meth.split("/")[0]}(...).',
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


class MultipleMethodsCompactError(NNError):
    """More than one method of a module is marked ``@compact``."""

    SEED = 'Only one method per class can be @compact'

    def __init__(self, *, module_cls=None, methods=None):
        self.module_cls = module_cls
        self.methods = methods
        listed = f' ({", ".join(map(str, methods))})' if methods else ''
        self._init(
            (),
            {'module_cls': module_cls, 'methods': methods},
            f'{_name_of(module_cls)} marks more than one method with '
            f'@compact{listed}. Fix: keep @compact on one method and define '
            'shared submodules in setup(), or split the module in two.',
        )


class NameInUseError(NNError):
    """A param, variable or submodule name is already taken in this module."""

    SEED = 'Could not create {key_type} "{value}" in Module {module_name}: Name in use.'

    def __init__(self, key_type, value, module_name):
        self.key_type = key_type
        self.value = value
        self.module_name = module_name
        where = format_path(module_name) if isinstance(module_name, tuple) else module_name
        self._init(
            (key_type, value, module_name),
            {},
            f"Cannot create {key_type} '{value}' in module {where}: the name "
            'is in use (params, variables and submodules share one '
            'namespace). Fix: choose another name, or reuse the existing '
            'submodule instance to share it.',
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


class ReservedModuleAttributeError(NNError):
    """A Module subclass declares the reserved fields ``parent`` or ``name``."""

    SEED = 'properties `parent` and `name` are reserved: {annotations}'

    RESERVED = ('parent', 'name')

    def __init__(self, annotations):
        self.annotations = annotations
        names = [n for n in annotations if n in self.RESERVED] or list(annotations)
        self._init(
            (annotations,),
            {},
            f'A Module declares reserved attribute(s) {names}: '
            "'parent' and 'name' are set by the module system. Fix: rename "
            'these fields.',
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


class SetAttributeFrozenModuleError(NNError):
    """An attribute was assigned on a module outside ``setup``."""

    SEED = (
        "Can't set {attr_name}={attr_val} for Module of type {module_cls}: "
        'Module instance is frozen outside of setup method.'
    )

    def __init__(self, module_cls, attr_name, attr_val):
        self.module_cls = module_cls
        self.attr_name = attr_name
        self.attr_val = attr_val
        cls = _name_of(module_cls)
        self._init(
            (module_cls, attr_name, attr_val),
            {},
            f"Cannot set {cls}.{attr_name} = {_short_repr(attr_val)}: modules "
            'are frozen outside setup(). Fix: pass it when constructing '
            f'({cls}({attr_name}=...)), or assign it in setup().',
        )


class SetAttributeInModuleSetupError(NNError):
    """``setup`` assigned to one of the module's dataclass fields."""

    SEED = 'Module construction attributes are frozen.'

    def __init__(self, *, module_cls=None, attr_name=None):
        self.module_cls = module_cls
        self.attr_name = attr_name
        cls = _name_of(module_cls)
        field = f"'{attr_name}'" if attr_name is not None else 'a field'
        self._init(
            (),
            {'module_cls': module_cls, 'attr_name': attr_name},
            f'{cls}.setup() assigns to dataclass field {field}; fields are '
            'fixed when the module is constructed. Fix: pass the value to '
            f'the constructor ({cls}({attr_name or "field"}=...)), or store '
            'derived values under another attribute name.',
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


# --- the catalogue as data ---------------------------------------------------

#: Where in the system each error is raised; tests use it to find a misuse
#: that triggers each one.
AREAS = ('module', 'scope', 'rng', 'apply', 'filter', 'transform', 'lazy_init', 'checkpoint')


class CatalogueEntry(NamedTuple):
    """One catalogue record: the error class and the area that raises it."""

    error: type
    area: str


CATALOGUE = tuple(
    CatalogueEntry(cls, area)
    for cls, area in (
        (AlreadyExistsError, 'checkpoint'),
        (ApplyModuleInvalidMethodError, 'apply'),
        (ApplyScopeInvalidVariablesStructureError, 'apply'),
        (ApplyScopeInvalidVariablesTypeError, 'apply'),
        (AssignSubModuleError, 'module'),
        (CallCompactUnboundModuleError, 'module'),
        (CallSetupUnboundModuleError, 'module'),
        (CallShareScopeOnUnboundModuleError, 'module'),
        (CallUnbindOnUnboundModuleError, 'module'),
        (CheckpointMismatchError, 'checkpoint'),
        (CorruptCheckpointError, 'checkpoint'),
        (DescriptorAttributeError, 'module'),
        (IncorrectPostInitOverrideError, 'module'),
        (InvalidCheckpointError, 'checkpoint'),
        (InvalidFilterError, 'filter'),
        (InvalidInstanceModuleError, 'apply'),
        (InvalidRngError, 'rng'),
        (InvalidScopeError, 'scope'),
        (JaxTransformError, 'transform'),
        (LazyInitError, 'lazy_init'),
        (ModifyScopeVariableError, 'scope'),
        (MultipleMethodsCompactError, 'module'),
        (NameInUseError, 'module'),
        (PartitioningUnspecifiedError, 'transform'),
        (ReservedModuleAttributeError, 'module'),
        (ScopeCollectionNotFound, 'scope'),
        (ScopeParamNotFoundError, 'scope'),
        (ScopeParamShapeError, 'scope'),
        (ScopeVariableNotFoundError, 'scope'),
        (SetAttributeFrozenModuleError, 'module'),
        (SetAttributeInModuleSetupError, 'module'),
        (TransformTargetError, 'transform'),
        (TransformedMethodReturnValueError, 'transform'),
    )
)

#: Classes of the seed system's ``flax.errors`` (0.12.8) that seed 003's API reference
#: (5.8.3) does not document: newer than that text.
SEED_UNDOCUMENTED = (CallShareScopeOnUnboundModuleError,)

#: Catalogue classes the seed system does not have (see the module docstring).
EXTENSIONS = (CheckpointMismatchError, CorruptCheckpointError)
