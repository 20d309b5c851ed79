"""``add_metadata_axis``: make boxed metadata describe an axis that the values got elsewhere.

Normally an axis is added to a variable and to its metadata together: a
lifted ``vmap``/``scan`` stacks the values of a collection *and* calls
``add_axis`` on each metadata box (``nn.Partitioned`` ...), so the box's
names stay one per dimension. Code that stacks the values by some other
route (a vectorising map of its own, or values created already stacked)
leaves the boxes one name short. This transform repairs only that half:

* leaving ``target``, every box in the chosen collections gets
  ``add_axis(axis, metadata_params)``;
* entering ``target`` again (e.g. in ``apply``), ``remove_axis``, so the
  code inside sees the boxes it created.

The values themselves are never reshaped. It is ``nn.map_variables``
with those two functions, once per collection.

>>> import numpy as np
>>> import nnref as nn
>>> class Proj(nn.Module):
...     @nn.compact
...     def __call__(self, x):
...         init = nn.with_partitioning(nn.initializers.zeros_init(), ('embed', None))
...         return x @ self.param('w', init, (x.shape[-1], 2))
>>> Marked = nn.add_metadata_axis(Proj, variable_axes={'params': 1},
...                               metadata_params={nn.PARTITION_NAME: 'model'})
>>> w = Marked().init(nn.random.PRNGKey(0), np.ones((1, 6)))['params']['w']
>>> w.value.shape, w.names                 # values unchanged, one more name
((6, 2), ('embed', 'model', None))
"""

from __future__ import annotations

from typing import Any, Mapping

from nnref import meta
from nnref.transforms.map_variables import map_variables
from shared_spec.frozen_dict import FrozenDict

__all__ = ['add_metadata_axis']


def add_metadata_axis(target, variable_axes: Mapping = FrozenDict(), metadata_params: dict[Any, Any] = {}):  # noqa: B006 (the seed's default; never mutated)
    """Wrap ``target`` (a Module class, or a function of a module) as the module docstring describes.

    ``variable_axes`` maps each collection to the position of the axis to
    add to its boxes' metadata; ``metadata_params`` is handed to every
    ``add_axis`` / ``remove_axis`` call (a ``Partitioned`` box reads the new
    axis's name from ``{nn.PARTITION_NAME: name}``). Inside the transform
    the collections are mutable.

    >>> import numpy as np
    >>> import nnref as nn
    >>> class Cache(nn.Module):
    ...     @nn.compact
    ...     def __call__(self):
    ...         make = lambda: nn.Partitioned(np.zeros((4, 8)), ('batch', 'kv'))
    ...         return self.variable('cache', 'k', make).value.shape
    >>> Stacked = nn.add_metadata_axis(Cache, {'cache': 0}, {nn.PARTITION_NAME: None})
    >>> nn.init(lambda m: m(), Stacked())(nn.random.PRNGKey(0))['cache']['k'].names
    (None, 'batch', 'kv')
    """
    for collection, axis in variable_axes.items():

        def on_exit(tree, axis=axis):
            return meta.add_axis(tree, axis, metadata_params)

        def on_entry(tree, axis=axis):
            return meta.remove_axis(tree, axis, metadata_params)

        target = map_variables(target, collection, trans_in_fn=on_entry, trans_out_fn=on_exit, mutable=True)
    return target
