"""``nnref.core``: the seed's ``core`` import path on the NumPy backend.

The immutable-dict helpers (``FrozenDict``, ``freeze``, ``unfreeze``,
``copy``, ``pop``, ``pretty_repr``) are the very objects nnjax uses, from
``shared_spec``. The package also holds :mod:`~nnref.core.frozen_dict`,
:mod:`~nnref.core.scope` (the variable-dict and filter types, ``Scope``,
``Variable``) and :mod:`~nnref.core.meta` (boxed metadata), and re-exports
``AxisMetadata``, ``Scope``, ``unbox`` and the ``Array`` type.

>>> variables = freeze({'params': {'w': 1.0}})
>>> unfreeze(copy(variables, {'batch_stats': {}}))
{'params': {'w': 1.0}, 'batch_stats': {}}
"""

from nnref.core import frozen_dict, meta, scope  # noqa: F401
from nnref.core.meta import AxisMetadata, unbox
from nnref.core.scope import Scope
from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict, copy, freeze, pop, pretty_repr, unfreeze
from shared_spec.type_aliases import Array

__all__ = [
    "Array",
    "AxisMetadata",
    "DenyList",
    "FrozenDict",
    "Scope",
    "copy",
    "freeze",
    "pop",
    "pretty_repr",
    "unbox",
    "unfreeze",
]
