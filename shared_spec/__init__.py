"""What both backends agree on: errors, tolerances, known answers, the API table, FrozenDict.

Only the standard library and NumPy are imported here; the Module/scope
machinery lives in each backend. Submodules hold one concept each
(``frozen_dict``, ``dict_paths``, ``collection_filters``, ``errors``,
``tolerances``, ``kat``, ``api_table``); the names below are the ones
backends and tests reach for most.

>>> from shared_spec import freeze, flatten_dict
>>> flatten_dict(freeze({'a': {'b': 1}}), sep='/')
{'a/b': 1}
"""

from shared_spec import errors
from shared_spec.collection_filters import DenyList, in_filter
from shared_spec.dict_paths import empty_node, flatten_dict, unflatten_dict
from shared_spec.errors import NNError
from shared_spec.frozen_dict import FrozenDict, freeze, unfreeze
from shared_spec.tolerances import assert_close, assert_trees_close, tolerance

__all__ = [
    'errors',
    'NNError',
    'FrozenDict',
    'freeze',
    'unfreeze',
    'flatten_dict',
    'unflatten_dict',
    'empty_node',
    'DenyList',
    'in_filter',
    'tolerance',
    'assert_close',
    'assert_trees_close',
]
