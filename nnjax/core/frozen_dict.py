"""``nnjax.core.frozen_dict``: the seed's ``core.frozen_dict`` import path.

``FrozenDict`` and its helpers are defined once, in ``shared_spec.frozen_dict``,
so that both backends hand around the same class; this module re-exports
them under the seed's module name.

>>> from nnjax.core.frozen_dict import FrozenDict, freeze, pop
>>> rest, value = pop(freeze({'a': 1, 'b': 2}), 'a')
>>> rest, value
(FrozenDict({
    b: 2,
}), 1)
>>> isinstance(rest, FrozenDict)
True
"""

from shared_spec.frozen_dict import FrozenDict, copy, freeze, pop, pretty_repr, unfreeze

__all__ = ['FrozenDict', 'copy', 'freeze', 'pop', 'pretty_repr', 'unfreeze']
