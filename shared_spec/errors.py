"""The error catalogue: one exception class per misuse, shared by both backends.

The classes are written in ``error_catalogue_modules.py`` (defining and
applying modules) and ``error_catalogue_state.py`` (scopes, RNG streams,
filters, transforms, checkpoints) over the base in ``error_base.py``; this
module is where everyone imports them from, and holds the catalogue as data.

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

from typing import NamedTuple

from shared_spec.error_base import FlaxError, NNError, format_path
from shared_spec.error_catalogue_modules import (
    ApplyModuleInvalidMethodError,
    ApplyScopeInvalidVariablesStructureError,
    ApplyScopeInvalidVariablesTypeError,
    AssignSubModuleError,
    CallCompactUnboundModuleError,
    CallSetupUnboundModuleError,
    CallShareScopeOnUnboundModuleError,
    CallUnbindOnUnboundModuleError,
    DescriptorAttributeError,
    IncorrectPostInitOverrideError,
    InvalidInstanceModuleError,
    MultipleMethodsCompactError,
    NameInUseError,
    ReservedModuleAttributeError,
    SetAttributeFrozenModuleError,
    SetAttributeInModuleSetupError,
)
from shared_spec.error_catalogue_state import (
    AlreadyExistsError,
    CheckpointMismatchError,
    CorruptCheckpointError,
    InvalidCheckpointError,
    InvalidFilterError,
    InvalidRngError,
    InvalidScopeError,
    JaxTransformError,
    LazyInitError,
    ModifyScopeVariableError,
    PartitioningUnspecifiedError,
    ScopeCollectionNotFound,
    ScopeParamNotFoundError,
    ScopeParamShapeError,
    ScopeVariableNotFoundError,
    TransformedMethodReturnValueError,
    TransformTargetError,
)

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

# The classes are written in the parts imported above but belong to this module:
# tracebacks, reprs and pickles keep naming them ``shared_spec.errors.<Name>``.
for _cls in (NNError,) + tuple(globals()[_name] for _name in __all__ if _name.endswith(('Error', 'NotFound'))):
    _cls.__module__ = __name__
del _cls


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


# --- messages of generic errors, shared word for word ------------------------
#
# Two misuses raise a class that is not specific to them (InvalidRngError with a
# free-form ``msg``; a plain ValueError), yet both backends must say the same.
# These builders are the one place their text is written.


def missing_rng_error(path, stream):
    """The error of ``make_rng(stream)`` at module ``path`` when neither ``stream`` nor ``'params'`` has a key.

    >>> err = missing_rng_error(('Dropout_0',), 'dropout')
    >>> type(err).__name__, str(err).split(' but ')[0]
    ('InvalidRngError', "Module /Dropout_0 needs a PRNG key for stream 'dropout'")
    """
    return InvalidRngError(
        f"Module {format_path(path)} needs a PRNG key for stream '{stream}' "
        f"but none was given (neither '{stream}' nor the 'params' fallback). "
        f"Pass it to init/apply, e.g. rngs={{'{stream}': nn.random.PRNGKey(0)}}."
    )


def lifted_write_error(path, collections):
    """The ``ValueError`` of a lifted transform whose body wrote ``collections`` that no output filter takes back out.

    >>> str(lifted_write_error(('scan',), {'stats'})).split(';')[0]
    "Module /scan: collections ['stats'] were written inside a lifted transform that does not pass them back out"
    """
    return ValueError(
        f"Module {format_path(path)}: collections {sorted(collections)} were written inside a lifted "
        "transform that does not pass them back out; add them to the transform's variable "
        "filters (e.g. variable_axes / variable_broadcast / variables=)."
    )
