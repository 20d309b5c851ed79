"""``nnref.core.scope``: the seed's ``core.scope`` import path.

The types seed code annotates variables, rngs and filters with, plus
``Scope``, ``Variable`` and the collection-filter functions. The typing
aliases are defined once in ``shared_spec.type_aliases`` (both backends
share them); ``Scope`` and ``Variable`` are nnref's own classes, the ones
modules bind to.

>>> import nnref
>>> from nnref.core.scope import VariableDict, CollectionFilter, Scope, Variable
>>> def count(variables: VariableDict, keep: CollectionFilter = 'params') -> int:
...     return sum(len(cols) for name, cols in variables.items() if in_filter(keep, name))
>>> count({'params': {'w': 1.0, 'b': 0.0}, 'batch_stats': {'mean': 0.0}})
2
>>> Scope is nnref.Scope and Variable is nnref.Variable
True
"""

from nnref.scope import Scope
from nnref.variables import Variable
from shared_spec.collection_filters import DenyList, in_filter, intersect_filters, subtract_filters, union_filters
from shared_spec.frozen_dict import FrozenDict
from shared_spec.type_aliases import (
    Array,
    Collection,
    CollectionFilter,
    Filter,
    FrozenVariableDict,
    MutableCollection,
    MutableVariableDict,
    PRNGFoldable,
    PRNGKey,
    PRNGSequenceFilter,
    RNGSequences,
    VariableDict,
)

__all__ = [
    'Array',
    'Collection',
    'CollectionFilter',
    'DenyList',
    'Filter',
    'FrozenDict',
    'FrozenVariableDict',
    'MutableCollection',
    'MutableVariableDict',
    'PRNGFoldable',
    'PRNGKey',
    'PRNGSequenceFilter',
    'RNGSequences',
    'Scope',
    'Variable',
    'VariableDict',
    'in_filter',
    'intersect_filters',
    'subtract_filters',
    'union_filters',
]
