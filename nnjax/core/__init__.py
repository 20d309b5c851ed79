"""``nnjax.core``: FrozenDict and its helpers, registered as a JAX pytree.

This package is the seed's ``core`` import path: besides the names below it
holds :mod:`~nnjax.core.frozen_dict`, :mod:`~nnjax.core.scope` (the
variable-dict and filter types, ``Scope``, ``Variable``) and
:mod:`~nnjax.core.meta` (boxed metadata), and re-exports ``AxisMetadata``,
``Scope``, ``unbox`` and the ``Array`` type.

The container itself lives in ``shared_spec`` so that both backends hand
around the same class; this module adds what only the JAX backend needs:
``FrozenDict`` becomes a pytree node, so ``jax.tree_util.tree_map``,
``jit``, ``grad`` and ``vmap`` see through it. Children are visited in
sorted-key order (two FrozenDicts with the same items flatten identically,
whatever their insertion order), and key paths name them with
``jax.tree_util.DictKey``, as for a plain ``dict``.

>>> import jax
>>> variables = freeze({'params': {'w': 1.0, 'b': 2.0}})
>>> jax.tree_util.tree_map(lambda x: x * 10, variables)
FrozenDict({
    params: {
        b: 20.0,
        w: 10.0,
    },
})
>>> [jax.tree_util.keystr(path) for path, _ in
...  jax.tree_util.tree_flatten_with_path(variables)[0]]
["['params']['b']", "['params']['w']"]
"""

import jax

from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict, copy, freeze, pop, pretty_repr, unfreeze
from shared_spec.type_aliases import Array

__all__ = [
    'Array',
    'AxisMetadata',
    'DenyList',
    'FrozenDict',
    'Scope',
    'copy',
    'freeze',
    'pop',
    'pretty_repr',
    'unbox',
    'unfreeze',
]


def _flatten_with_keys(fd):
    """``(((DictKey(k), v), ...), keys)`` in the sorted order of ``tree_flatten``."""
    values, keys = fd.tree_flatten()
    children = tuple((jax.tree_util.DictKey(k), v) for k, v in zip(keys, values))
    return children, keys


def _is_registered():
    # An unregistered FrozenDict is a single leaf; a registered empty one
    # has no leaves at all. This keeps a module reload from registering the
    # type a second time, which JAX refuses.
    return jax.tree_util.tree_structure(FrozenDict()).num_leaves == 0


if not _is_registered():
    jax.tree_util.register_pytree_with_keys(
        FrozenDict,
        _flatten_with_keys,
        FrozenDict.tree_unflatten,
        # The key-free flatten is the hot path (every tree_map, every jit
        # call); give JAX the direct one instead of stripping keys.
        flatten_func=FrozenDict.tree_flatten,
    )


# The seed's core path also names the scope and metadata types; imported after
# the registration above, so these submodules see a FrozenDict pytree.
from nnjax.core import frozen_dict, meta, scope  # noqa: E402,F401
from nnjax.core.meta import AxisMetadata, unbox  # noqa: E402,F401
from nnjax.core.scope import Scope  # noqa: E402,F401
