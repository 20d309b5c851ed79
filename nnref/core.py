"""``nnref.core``: the immutable-dict helpers of the seed's ``flax.core`` (shared with nnjax)."""

from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict, copy, freeze, pop, pretty_repr, unfreeze

__all__ = ["DenyList", "FrozenDict", "copy", "freeze", "pop", "pretty_repr", "unfreeze"]
