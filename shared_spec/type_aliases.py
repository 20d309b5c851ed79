"""The typing aliases of the seed's public modules, defined once for both backends.

Seed code imports these names from wherever the seed happened to define or
re-export them (``PrecisionLike`` from ``linen.linear``, ``VariableDict`` from
``core.scope``, ``Carry`` from ``linen.recurrent`` ...). They only annotate:
nothing checks them at run time. So one definition, free of any array
library, serves both backends; the alias modules of each backend
(``nn.linear``, ``nn.core.scope`` ...) re-export the ones the seed's module
of that name has.

Arrays and dtypes are ``Any`` here, as in the seed, where an array type
also admits anything array-like.

>>> from typing import Optional
>>> def conv(x: Array, padding: PaddingLike = 'SAME',
...          precision: PrecisionLike = None) -> Array:
...     return x
>>> conv(1.0)
1.0
>>> VariableDict
typing.Mapping[str, typing.Mapping[str, typing.Any]]
"""

from __future__ import annotations

import typing
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, TypeVar, Union

from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict

__all__ = [
    'Array',
    'PRNGKey',
    'Dtype',
    'Shape',
    'Axes',
    'Initializer',
    'PrecisionLike',
    'DotGeneralT',
    'ConvGeneralDilatedT',
    'EinsumT',
    'PaddingLike',
    'LaxPadding',
    'PromoteDtypeFn',
    'Collection',
    'MutableCollection',
    'VariableDict',
    'FrozenVariableDict',
    'MutableVariableDict',
    'RNGSequences',
    'PRNGFoldable',
    'Filter',
    'CollectionFilter',
    'PRNGSequenceFilter',
    'LogicalNames',
    'LogicalRules',
    'ArrayPytree',
    'LogicalPartitionSpec',
    'LogicalPartitionSpecPytree',
    'PartitionSpecPytree',
    'Carry',
    'CarryHistory',
    'Output',
    'ScanAxis',
    'InOutScanAxis',
    'RNNBase',
]

# --- arrays --------------------------------------------------------------
Array = Any  # a backend array, or anything array-like
PRNGKey = Any  # a key of the backend's ``nn.random``
Dtype = Any  # a dtype, its name, or a scalar type such as ``float``
Shape = Sequence[int]
Axes = Union[int, Sequence[int]]
#: ``init(key, shape, dtype) -> Array``, as ``nn.initializers`` build them.
Initializer = Callable[..., Any]

# --- linear / conv -------------------------------------------------------
#: ``None``, a precision name (``'highest'``), a backend precision value, or
#: one per operand.
PrecisionLike = Union[None, str, Any, tuple[Any, Any]]
DotGeneralT = Callable[..., Array]
ConvGeneralDilatedT = Callable[..., Array]
EinsumT = Callable[..., Array]
#: What a layer's ``padding`` field takes: a name (``'SAME'``, ``'CIRCULAR'``
#: ...), one int for every side, or per-axis ints or ``(low, high)`` pairs.
PaddingLike = Union[str, int, Sequence[Union[int, tuple[int, int]]]]
#: What the backend's convolution takes: a name or ``(low, high)`` pairs.
LaxPadding = Union[str, Sequence[tuple[int, int]]]

_Args = TypeVar('_Args', bound=tuple)


class PromoteDtypeFn(Protocol):
    """The signature of a layer's ``promote_dtype`` field (``nn.dtypes.promote_dtype`` fits)."""

    def __call__(self, args: _Args, /, *, dtype: Any = None, inexact: bool = True) -> _Args: ...


# --- variables -----------------------------------------------------------
Collection = Mapping[str, Any]
MutableCollection = dict[str, Any]
VariableDict = Mapping[str, Collection]
FrozenVariableDict = FrozenDict[str, Collection]
MutableVariableDict = dict[str, MutableCollection]
RNGSequences = dict[str, PRNGKey]
PRNGFoldable = Union[int, str]
#: A collection (or rng stream) filter: ``True``/``False``, a name, a
#: collection of names, or a ``DenyList``.
Filter = Union[bool, str, typing.Collection[str], DenyList]
CollectionFilter = Filter
PRNGSequenceFilter = Filter
LogicalNames = tuple[Optional[str], ...]

# --- partitioning (``nn.partitioning``) ------------------------------------
LogicalRules = Any  # a sequence of (logical_name, mesh_axes) pairs
ArrayPytree = Any
LogicalPartitionSpec = Any  # a PartitionSpec (or tuple) of logical names
LogicalPartitionSpecPytree = Any
PartitionSpecPytree = Any

# --- recurrent -----------------------------------------------------------
Carry = Any
CarryHistory = Any
Output = Any
ScanAxis = int
InOutScanAxis = Any  # a scan axis, possibly marked as input-only or output-only


class RNNBase(Protocol):
    """What ``Bidirectional`` needs of its ``forward_rnn``/``backward_rnn`` (``RNN`` fits)."""

    def __call__(
        self,
        inputs: Array,
        *,
        initial_carry: Optional[Carry] = None,
        init_key: Optional[PRNGKey] = None,
        seq_lengths: Optional[Array] = None,
        return_carry: Optional[bool] = None,
        time_major: Optional[bool] = None,
        reverse: Optional[bool] = None,
        keep_order: Optional[bool] = None,
    ) -> Any: ...
