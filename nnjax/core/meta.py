"""``nnjax.core.meta``: the seed's ``core.meta`` import path (boxed variable metadata).

Everything ``nnjax.meta`` exports (``AxisMetadata``, ``Partitioned``,
``unbox``, ``with_partitioning`` ...), the same objects, plus the
``LogicalNames`` typing alias.

>>> import nnjax
>>> from nnjax.core.meta import Partitioned, unbox
>>> Partitioned is nnjax.Partitioned
True
>>> unbox({'w': Partitioned(1.0, names=('x',))})
{'w': 1.0}
"""

from nnjax import meta as _meta
from nnjax.meta import *  # noqa: F401,F403  (the module's whole public list)
from shared_spec.type_aliases import LogicalNames  # noqa: F401

__all__ = [*_meta.__all__, 'LogicalNames']
