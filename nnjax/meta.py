"""Variable metadata: boxes that carry per-axis information beside a value.

A parameter initializer may return its array wrapped in an
:class:`AxisMetadata` box instead of a bare array. The box records something
about each axis of the value -- :class:`Partitioned` records the mesh axis
each dimension is sharded over -- and travels with the variable through
``init``, ``apply`` and the lifted transforms:

* it is a JAX pytree node whose only child is the boxed value, so
  ``jax.tree_util.tree_map`` (and ``jit``, ``grad``, optax) see the array and
  rebuild the box, metadata intact;
* lifted ``vmap``/``scan`` call :func:`add_axis` / :func:`remove_axis` on each
  variable collection they stack or unstack, so the metadata follows the
  new leading (or ``index``-th) axis;
* ``Module.param(..., unbox=True)`` (the default) hands module code the
  value, via :func:`unbox`.

Sharding helpers read the boxes of a whole tree: :func:`get_partition_spec`
gives a tree of ``jax.sharding.PartitionSpec`` and :func:`get_sharding` a
tree of ``NamedSharding`` for a given mesh.

>>> import jax, jax.numpy as jnp
>>> from nnjax import meta
>>> params = {'w': meta.Partitioned(jnp.ones((4, 2)), ('data', None)), 'b': jnp.zeros(2)}
>>> jax.tree_util.tree_map(lambda x: x * 2, params)['w'].names
('data', None)
>>> meta.get_partition_spec(params)
{'b': P(), 'w': P('data', None)}
>>> meta.add_axis(params, 0, {meta.PARTITION_NAME: 'layers'})['w'].names
('layers', 'data', None)
"""

from __future__ import annotations

import abc
import functools
from typing import Any, Callable

import jax

from nnjax import struct
from shared_spec import partition_names
from shared_spec.partition_names import PARTITION_NAME

__all__ = [
    'AxisMetadata',
    'is_axis_metadata',
    'unbox',
    'replace_boxed',
    'add_axis',
    'remove_axis',
    'PARTITION_NAME',
    'Partitioned',
    'with_partitioning',
    'get_partition_spec',
    'get_sharding',
    'global_mesh_defined',
]


class AxisMetadata(abc.ABC):
    """Abstract base of metadata boxes around a variable's value.

    A subclass wraps one value and implements four methods: :meth:`unbox`
    (the wrapped value, one level only), :meth:`replace_boxed` (the same box
    around a new value), and :meth:`add_axis` / :meth:`remove_axis`, which a
    lifted transform calls when it stacks or unstacks the value along axis
    ``index``; they must undo each other. A subclass must also be a JAX pytree
    node whose single child is the boxed value -- subclassing
    ``nnjax.struct.PyTreeNode`` and marking the metadata fields
    ``pytree_node=False`` does that.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax import meta, struct
    >>> class Units(struct.PyTreeNode, meta.AxisMetadata):
    ...     value: object
    ...     units: tuple = struct.field(pytree_node=False)
    ...     def unbox(self): return self.value
    ...     def replace_boxed(self, val): return self.replace(value=val)
    ...     def add_axis(self, index, params):
    ...         units = list(self.units); units.insert(index, 'step')
    ...         return self.replace(units=tuple(units))
    ...     def remove_axis(self, index, params):
    ...         units = list(self.units); del units[index]
    ...         return self.replace(units=tuple(units))
    >>> box = Units(jnp.ones(3), ('m',))
    >>> jax.tree_util.tree_map(jnp.shape, box)
    Units(value=(3,), units=('m',))
    >>> meta.add_axis({'x': box}, 0, {})['x'].units
    ('step', 'm')
    >>> meta.unbox({'x': box})['x'].shape
    (3,)
    """

    @abc.abstractmethod
    def unbox(self) -> Any:
        """The wrapped value, without recursing into nested boxes."""

    @abc.abstractmethod
    def replace_boxed(self, val: Any) -> 'AxisMetadata':
        """A box of the same type and metadata around ``val``."""

    @abc.abstractmethod
    def add_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """The same box, its metadata updated for a new axis at ``index``.

        ``params`` is the ``metadata_params`` dict given to the transform that
        adds the axis (e.g. ``{PARTITION_NAME: 'layers'}``).
        """

    @abc.abstractmethod
    def remove_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """The same box, its metadata updated for removing axis ``index``."""


def is_axis_metadata(x: Any) -> bool:
    """Whether ``x`` is an :class:`AxisMetadata` box.

    >>> from nnjax import meta
    >>> meta.is_axis_metadata(meta.Partitioned(1.0, ())), meta.is_axis_metadata(1.0)
    (True, False)
    """
    return isinstance(x, AxisMetadata)


def _map_boxes(fn: Callable[[AxisMetadata], Any], tree: Any) -> Any:
    """``fn`` applied to every outermost box of ``tree``; other leaves kept."""
    return jax.tree_util.tree_map(lambda x: fn(x) if isinstance(x, AxisMetadata) else x, tree, is_leaf=is_axis_metadata)


def unbox(tree: Any) -> Any:
    """``tree`` with every box replaced by its value (nested boxes too).

    >>> import numpy as np
    >>> from nnjax import meta
    >>> meta.unbox({'w': meta.Partitioned(np.arange(2), ('data',)), 'n': 3})
    {'n': 3, 'w': array([0, 1])}
    """
    return _map_boxes(lambda box: unbox(box.unbox()), tree)


def replace_boxed(tree: Any, updates: Any) -> Any:
    """``tree`` with the values of ``updates`` put inside its boxes.

    ``updates`` has the structure of ``unbox(tree)``; a box keeps its type
    and metadata and gets the new value, a plain leaf is replaced.

    >>> from nnjax import meta
    >>> new = meta.replace_boxed({'w': meta.Partitioned(1.0, ()), 'n': 3}, {'w': 2.0, 'n': 4})
    >>> new['w'], new['n']
    (Partitioned(value=2.0, names=(), mesh=None), 4)
    """

    def put(old, new):
        if isinstance(old, AxisMetadata):
            return old.replace_boxed(replace_boxed(old.unbox(), new))
        return new

    return jax.tree_util.tree_map(put, tree, updates, is_leaf=is_axis_metadata)


def add_axis(tree: Any, index: int, params: dict) -> Any:
    """Calls ``add_axis(index, params)`` on every box of ``tree``.

    Plain arrays are left alone; a lifted ``vmap``/``scan`` calls this on each
    variable collection it stacks, with its ``metadata_params`` as ``params``.

    >>> import numpy as np
    >>> from nnjax import meta
    >>> tree = {'a': {'w': meta.Partitioned(np.ones((2, 3)), ('data', None))}, 'b': np.ones(1)}
    >>> out = meta.add_axis(tree, 1, {meta.PARTITION_NAME: 'layers'})
    >>> out['a']['w'].names, out['b'].shape
    (('data', 'layers', None), (1,))
    """
    return _map_boxes(lambda box: box.add_axis(index, params), tree)


def remove_axis(tree: Any, index: int, params: dict) -> Any:
    """Calls ``remove_axis(index, params)`` on every box of ``tree``.

    >>> import numpy as np
    >>> from nnjax import meta
    >>> tree = {'w': meta.Partitioned(np.ones((2, 3)), ('layers', 'data'))}
    >>> meta.remove_axis(tree, 0, {meta.PARTITION_NAME: 'layers'})['w'].names
    ('data',)
    """
    return _map_boxes(lambda box: box.remove_axis(index, params), tree)


def global_mesh_defined() -> bool:
    """Whether a mesh is active (``with jax.set_mesh(mesh):``).

    The legacy ``with mesh:`` context is not detected, as in the seed system
    on this JAX version.

    >>> from nnjax import meta
    >>> meta.global_mesh_defined()
    False
    """
    return not jax.sharding.get_abstract_mesh().empty


class Partitioned(struct.PyTreeNode, AxisMetadata):
    """A value and, per dimension, the mesh axis it is sharded over.

    ``names[i]`` is a mesh axis name, a tuple of them, or ``None``
    (replicated) for dimension ``i`` of ``value``. ``mesh``, if given, is
    used by :meth:`unbox` to build the sharding; otherwise the active mesh
    (``jax.set_mesh``) is used, if any. Usually made by
    :func:`with_partitioning` around an initializer. A frozen dataclass:
    change it with ``.replace(**updates)``.

    A lifted ``vmap``/``scan`` that stacks a ``Partitioned`` variable needs
    ``metadata_params={PARTITION_NAME: name}`` to name the new axis.

    >>> import jax, jax.numpy as jnp
    >>> from nnjax import meta
    >>> box = meta.Partitioned(jnp.ones((4, 8)), (None, 'model'))
    >>> box.get_partition_spec()
    P(None, 'model')
    >>> jax.tree_util.tree_map(jnp.shape, box)
    Partitioned(value=(4, 8), names=(None, 'model'), mesh=None)
    >>> box.add_axis(0, {meta.PARTITION_NAME: 'layers'}).names
    ('layers', None, 'model')
    >>> box.unbox().shape  # no mesh is active, so no constraint is applied
    (4, 8)
    """

    value: Any
    names: tuple = struct.field(pytree_node=False)
    mesh: Any = struct.field(pytree_node=False, default=None)

    def __post_init__(self):
        # Static fields must be hashable for JAX's tree definitions.
        object.__setattr__(self, 'names', partition_names.check_names(self.names, type(self).__name__))

    def unbox(self, apply_constraint: bool = True) -> Any:
        """The value, under a sharding constraint if a mesh is known.

        With ``apply_constraint`` and either ``self.mesh`` or an active mesh,
        returns ``jax.lax.with_sharding_constraint(value, ...)`` for this
        box's partition spec; otherwise the value itself.

        >>> import numpy as np
        >>> from nnjax import meta
        >>> meta.Partitioned(np.arange(3), ('data',)).unbox()
        array([0, 1, 2])
        """
        if apply_constraint and (self.mesh is not None or global_mesh_defined()):
            spec = self.get_partition_spec()
            target = spec if self.mesh is None else jax.sharding.NamedSharding(self.mesh, spec)
            return jax.lax.with_sharding_constraint(self.value, target)
        return self.value

    def replace_boxed(self, val: Any) -> 'Partitioned':
        """This box around ``val``, names and mesh unchanged.

        >>> from nnjax import meta
        >>> meta.Partitioned(1.0, (), mesh=None).replace_boxed(2.0)
        Partitioned(value=2.0, names=(), mesh=None)
        """
        return self.replace(value=val)

    def add_axis(self, index: int, params: dict) -> 'Partitioned':
        """Inserts ``params[PARTITION_NAME]`` into ``names`` at ``index``.

        ``names`` shorter than ``index`` is first padded with ``None``.
        Raises ``PartitioningUnspecifiedError`` if ``params`` has no
        ``PARTITION_NAME`` key (its value may be ``None``: not sharded).

        >>> from nnjax import meta
        >>> box = meta.Partitioned(0.0, ('a', 'b'))
        >>> box.add_axis(1, {meta.PARTITION_NAME: None}).names
        ('a', None, 'b')
        >>> box.add_axis(3, {meta.PARTITION_NAME: 'c'}).names
        ('a', 'b', None, 'c')
        """
        name = partition_names.axis_name(params, self)
        return self.replace(names=partition_names.names_with_axis(self.names, index, name))

    def remove_axis(self, index: int, params: dict) -> 'Partitioned':
        """Deletes entry ``index`` of ``names``, which must be ``params[PARTITION_NAME]``.

        >>> from nnjax import meta
        >>> meta.Partitioned(0.0, ('layers', 'data')).remove_axis(0, {meta.PARTITION_NAME: 'layers'}).names
        ('data',)
        """
        name = partition_names.axis_name(params, self)
        return self.replace(names=partition_names.names_without_axis(self.names, index, name))

    def get_partition_spec(self) -> jax.sharding.PartitionSpec:
        """``PartitionSpec(*names)``.

        >>> from nnjax import meta
        >>> meta.Partitioned(0.0, ('data', None)).get_partition_spec()
        P('data', None)
        """
        return jax.sharding.PartitionSpec(*self.names)

    def get_sharding(self, mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
        """``NamedSharding(mesh, self.get_partition_spec())``.

        >>> import jax, numpy as np
        >>> from nnjax import meta
        >>> mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ('data',))
        >>> meta.Partitioned(np.ones(2), ('data',)).get_sharding(mesh).spec
        P('data',)
        """
        return jax.sharding.NamedSharding(mesh, self.get_partition_spec())


def with_partitioning(fn: Callable[..., Any], names, mesh=None) -> Callable[..., Partitioned]:
    """Wraps ``fn`` (typically an initializer) to return a :class:`Partitioned`.

    >>> import jax
    >>> from nnjax import initializers, meta
    >>> init = meta.with_partitioning(initializers.zeros_init(), (None, 'model'))
    >>> box = init(jax.random.PRNGKey(0), (2, 3))
    >>> type(box).__name__, box.names, box.value.shape
    ('Partitioned', (None, 'model'), (2, 3))
    """
    names = partition_names.check_names(names, 'with_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return Partitioned(fn(*args, **kwargs), names, mesh=mesh)

    return wrapper


def _leaf_spec(x: Any):
    if isinstance(x, AxisMetadata):
        if hasattr(x, 'get_partition_spec'):
            return x.get_partition_spec()
        return None
    if hasattr(x, 'shape'):  # a plain array: replicated
        return jax.sharding.PartitionSpec()
    return None


def get_partition_spec(tree: Any) -> Any:
    """The tree of ``PartitionSpec`` for a tree of boxes and arrays.

    A box gives its own spec, an array (anything with a ``shape``) gives
    ``PartitionSpec()`` (replicated), other leaves give ``None``.

    >>> import numpy as np
    >>> from nnjax import meta
    >>> meta.get_partition_spec({'w': meta.Partitioned(np.ones((2, 2)), ('data', 'model')),
    ...                          'b': np.ones(2), 'step': 1})
    {'b': P(), 'step': None, 'w': P('data', 'model')}
    """
    return jax.tree_util.tree_map(_leaf_spec, tree, is_leaf=is_axis_metadata)


def get_sharding(tree: Any, mesh: jax.sharding.Mesh) -> Any:
    """The tree of ``NamedSharding`` on ``mesh`` for a tree of boxes and arrays.

    Leaves follow :func:`get_partition_spec`; ``None`` stays ``None``.

    >>> import jax, numpy as np
    >>> from nnjax import meta
    >>> mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ('data',))
    >>> shardings = meta.get_sharding({'w': meta.Partitioned(np.ones(2), ('data',)), 'b': np.ones(2)}, mesh)
    >>> shardings['w'].spec, shardings['b'].spec
    (P('data',), P())
    """
    if mesh is None:
        raise ValueError(
            'get_sharding(tree, mesh) needs a jax.sharding.Mesh; got None. '
            'Fix: pass the mesh the arrays live on, or use '
            'get_partition_spec(tree) for mesh-free specs.'
        )

    def sharding(x):
        if isinstance(x, AxisMetadata) and hasattr(x, 'get_sharding'):
            return x.get_sharding(mesh)
        spec = _leaf_spec(x)
        return None if spec is None else jax.sharding.NamedSharding(mesh, spec)

    return jax.tree_util.tree_map(sharding, tree, is_leaf=is_axis_metadata)
