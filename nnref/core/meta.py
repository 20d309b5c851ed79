"""``nnref.core.meta``: the seed's ``core.meta`` import path (boxed variable metadata).

Everything ``nnref.meta`` exports (``AxisMetadata``, ``Partitioned``,
``unbox``, ``with_partitioning`` ...), the same objects, plus the
``LogicalNames`` typing alias.

>>> import nnref
>>> from nnref.core.meta import Partitioned, unbox
>>> Partitioned is nnref.Partitioned
True
>>> unbox({'w': Partitioned(1.0, names=('x',))})
{'w': 1.0}
"""

from nnref import meta as _meta
from nnref.meta import *  # noqa: F401,F403  (the module's whole public list)
from shared_spec.type_aliases import LogicalNames  # noqa: F401

__all__ = [*_meta.__all__, 'LogicalNames']
