"""``add_metadata_axis``: a lifted transform that adds an axis to boxed metadata only.

A lifted ``vmap``/``scan`` that stacks a collection also inserts the new
axis into the names of its boxed variables (``nn.Partitioned`` ...). Code
that stacks the *values* by other means (a ``jax.vmap`` of its own, or
values built already stacked) uses this transform to make the *metadata*
agree: on the way out of ``target`` each box of the given collections gets
``add_axis(axis, metadata_params)``, on the way in ``remove_axis``. The
values are not touched. Built on ``nn.map_variables``.

>>> import numpy as np
>>> import nnref as nn
>>> class Layer(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     init = nn.with_partitioning(nn.initializers.ones_init(), ('embed', 'mlp'))
...     return x @ self.param('w', init, (3, 4))
>>> Tagged = nn.add_metadata_axis(Layer, variable_axes={'params': 0},
...                               metadata_params={nn.PARTITION_NAME: 'layers'})
>>> v = Tagged().init(nn.random.PRNGKey(0), np.ones((2, 3)))
>>> v['params']['w'].names, v['params']['w'].value.shape
(('layers', 'embed', 'mlp'), (3, 4))
"""

from __future__ import annotations

from typing import Any, Mapping

from nnref import meta
from nnref.transforms.map_variables import map_variables
from shared_spec.frozen_dict import FrozenDict

__all__ = ['add_metadata_axis']


def add_metadata_axis(target, variable_axes: Mapping = FrozenDict(), metadata_params: dict[Any, Any] = {}):  # noqa: B006 (the seed's default; never mutated)
    """``target`` (a Module class or a function of a module) with an axis added to the metadata of
    each collection of ``variable_axes`` (collection -> axis index) on the way out.

    ``metadata_params`` is passed to every box's ``add_axis``/``remove_axis``
    (``nn.Partitioned`` needs ``{nn.PARTITION_NAME: name}``). The collections
    are mutable inside the transform.

    >>> import numpy as np
    >>> import nnref as nn
    >>> box = nn.Partitioned(np.ones(2), ('mlp',))
    >>> class Holder(nn.Module):
    ...   @nn.compact
    ...   def __call__(self):
    ...     return self.variable('state', 'x', lambda: box).value
    >>> Tagged = nn.add_metadata_axis(Holder, {'state': 1}, {nn.PARTITION_NAME: 'heads'})
    >>> nn.init(lambda m: m(), Tagged())(nn.random.PRNGKey(0))['state']['x'].names
    ('mlp', 'heads')
    """

    def add(axis):
        return lambda tree: meta.add_axis(tree, axis, metadata_params)

    def remove(axis):
        return lambda tree: meta.remove_axis(tree, axis, metadata_params)

    for collection, axis in variable_axes.items():
        target = map_variables(target, collection, trans_in_fn=remove(axis), trans_out_fn=add(axis), mutable=True)
    return target
