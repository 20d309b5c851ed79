"""Variable metadata: boxes that carry per-axis information beside a value.

An initializer may return its array wrapped in an :class:`AxisMetadata` box;
:class:`Partitioned` records, per dimension, the mesh axis the value would be
sharded over. nnref has no devices, so here the metadata is only carried,
transformed and reported -- never applied -- but it is carried exactly as
``nnjax`` carries it:

* a box is a container of ``nnref.tree_util`` whose only child is the boxed
  value, so ``tree_map`` maps the value and keeps the metadata;
* lifted ``vmap``/``scan`` call :func:`add_axis` / :func:`remove_axis` on
  the variable collections they stack or unstack;
* :func:`get_partition_spec` reports a tree of :class:`PartitionSpec`, the
  same entries as ``jax.sharding.PartitionSpec`` in ``nnjax``.

>>> import numpy as np
>>> from nnref import meta, tree_util
>>> params = {'w': meta.Partitioned(np.ones((4, 2)), ('data', None)), 'b': np.zeros(2)}
>>> tree_util.tree_map(lambda x: x * 2, params)['w'].names
('data', None)
>>> meta.get_partition_spec(params)
{'b': PartitionSpec(), 'w': PartitionSpec('data', None)}
>>> meta.add_axis(params, 0, {meta.PARTITION_NAME: 'layers'})['w'].names
('layers', 'data', None)
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from typing import Any, Callable

from nnref import tree_util
from nnref.initializers import declare_output_shapes, output_shapes_fn
from shared_spec import errors

__all__ = [
    'PartitionSpec',
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
]

#: The key of ``metadata_params`` (the dict a lifted ``vmap``/``scan`` passes to
#: :meth:`AxisMetadata.add_axis`) that names the mesh axis of the new axis.
PARTITION_NAME = 'partition_name'


class _Unconstrained:
    """``PartitionSpec.UNCONSTRAINED``: the dimension's sharding is left to the compiler."""

    def __repr__(self):
        return 'UNCONSTRAINED'

    def __reduce__(self):
        return (_unconstrained, ())


def _unconstrained():
    return PartitionSpec.UNCONSTRAINED


def _canonical_entry(entry):
    # As in JAX: a list of mesh axes is a tuple, a 0- or 1-tuple collapses.
    if isinstance(entry, (list, tuple)):
        entry = tuple(entry)
        if len(entry) == 0:
            return None
        if len(entry) == 1:
            return entry[0]
    return entry


class PartitionSpec(tuple):
    """Per dimension of an array: the mesh axis (or axes, or ``None``) it is sharded over.

    nnref's stand-in for ``jax.sharding.PartitionSpec``: a tuple of the
    entries (so it compares equal to the plain tuple), but a leaf for
    ``nnref.tree_util``, as JAX's is for ``jax.tree_util``.

    >>> spec = PartitionSpec('data', None)
    >>> spec
    PartitionSpec('data', None)
    >>> spec == ('data', None), PartitionSpec(['x', 'y']), PartitionSpec()
    (True, PartitionSpec(('x', 'y'),), PartitionSpec())
    >>> from nnref import tree_util
    >>> tree_util.tree_leaves({'a': spec})
    [PartitionSpec('data', None)]
    """

    _tree_leaf = True
    UNCONSTRAINED = _Unconstrained()

    def __new__(cls, *entries):
        return super().__new__(cls, tuple(_canonical_entry(e) for e in entries))

    def __repr__(self):
        return 'PartitionSpec' + tuple.__repr__(self)

    def __getnewargs__(self):
        return tuple(self)


class AxisMetadata(abc.ABC):
    """Abstract base of metadata boxes around a variable's value.

    A subclass wraps one value and implements :meth:`unbox` (the value, one
    level only), :meth:`replace_boxed` (the same box around a new value) and
    :meth:`add_axis` / :meth:`remove_axis` (its metadata updated when a lifted
    transform stacks or unstacks the value along axis ``index``; they must
    undo each other). To be a container of ``nnref.tree_util`` it defines
    ``_tree_children()`` -> ``([value], static)`` and a classmethod
    ``_tree_rebuild(static, children)``; this base class provides both for
    subclasses that are dataclasses with a ``value`` field (the other fields
    being the static metadata).

    >>> import dataclasses, numpy as np
    >>> from nnref import meta, tree_util
    >>> @dataclasses.dataclass(frozen=True)
    ... class Units(meta.AxisMetadata):
    ...     value: object
    ...     units: tuple
    ...     def unbox(self): return self.value
    ...     def replace_boxed(self, val): return dataclasses.replace(self, value=val)
    ...     def add_axis(self, index, params):
    ...         units = list(self.units); units.insert(index, 'step')
    ...         return dataclasses.replace(self, units=tuple(units))
    ...     def remove_axis(self, index, params):
    ...         units = list(self.units); del units[index]
    ...         return dataclasses.replace(self, units=tuple(units))
    >>> box = Units(np.ones(3), ('m',))
    >>> tree_util.tree_map(np.shape, box)
    Units(value=(3,), units=('m',))
    >>> meta.add_axis({'x': box}, 0, {})['x'].units
    ('step', 'm')
    """

    @abc.abstractmethod
    def unbox(self) -> Any:
        """The wrapped value, without recursing into nested boxes."""

    @abc.abstractmethod
    def replace_boxed(self, val: Any) -> 'AxisMetadata':
        """A box of the same type and metadata around ``val``."""

    @abc.abstractmethod
    def add_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """The same box, its metadata updated for a new axis at ``index``."""

    @abc.abstractmethod
    def remove_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """The same box, its metadata updated for removing axis ``index``."""

    # nnref.tree_util hooks, for dataclass boxes with a ``value`` field.
    def _tree_children(self):
        static = tuple(
            (f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.init and f.name != 'value'
        )
        return [self.value], static

    @classmethod
    def _tree_rebuild(cls, static, children):
        (value,) = children
        return cls(value=value, **dict(static))


def is_axis_metadata(x: Any) -> bool:
    """Whether ``x`` is an :class:`AxisMetadata` box.

    >>> from nnref import meta
    >>> meta.is_axis_metadata(meta.Partitioned(1.0, ())), meta.is_axis_metadata(1.0)
    (True, False)
    """
    return isinstance(x, AxisMetadata)


def _map_boxes(fn: Callable[[AxisMetadata], Any], tree: Any) -> Any:
    """``fn`` applied to every outermost box of ``tree``; other leaves kept."""
    return tree_util.tree_map(lambda x: fn(x) if isinstance(x, AxisMetadata) else x, tree, is_leaf=is_axis_metadata)


def unbox(tree: Any) -> Any:
    """``tree`` with every box replaced by its value (nested boxes too).

    >>> import numpy as np
    >>> from nnref import meta
    >>> meta.unbox({'w': meta.Partitioned(np.arange(2), ('data',)), 'n': 3})
    {'n': 3, 'w': array([0, 1])}
    """
    return _map_boxes(lambda box: unbox(box.unbox()), tree)


def _flatten_up_to(treedef: tree_util.TreeDef, tree: Any) -> list:
    """The subtrees of ``tree`` at the leaf positions of ``treedef``."""
    if treedef.kind == 'leaf':
        return [tree]
    if treedef.kind in ('dict', 'frozendict'):
        if not hasattr(tree, 'keys') or sorted(tree.keys()) != list(treedef.meta):
            raise ValueError(
                f'replace_boxed: updates {tree!r} do not have the keys {list(treedef.meta)} of the boxed tree.'
            )
        children = [tree[k] for k in treedef.meta]
    elif treedef.kind == 'none':
        children = []
    elif treedef.kind == 'custom':
        children, _ = tree._tree_children()
    else:
        children = list(tree)
    if len(children) != len(treedef.children):
        raise ValueError(f'replace_boxed: updates {tree!r} do not match the structure of the boxed tree.')
    out = []
    for child_def, child in zip(treedef.children, children):
        out.extend(_flatten_up_to(child_def, child))
    return out


def replace_boxed(tree: Any, updates: Any) -> Any:
    """``tree`` with the values of ``updates`` put inside its boxes.

    ``updates`` has the structure of ``unbox(tree)``; a box keeps its type
    and metadata and gets the new value, a plain leaf is replaced.

    >>> from nnref import meta
    >>> new = meta.replace_boxed({'w': meta.Partitioned(1.0, ()), 'n': 3}, {'w': 2.0, 'n': 4})
    >>> new['w'], new['n']
    (Partitioned(value=2.0, names=(), mesh=None), 4)
    """
    olds, treedef = tree_util.tree_flatten(tree, is_leaf=is_axis_metadata)
    news = _flatten_up_to(treedef, updates)

    def put(old, new):
        if isinstance(old, AxisMetadata):
            return old.replace_boxed(replace_boxed(old.unbox(), new))
        return new

    return tree_util.tree_unflatten(treedef, [put(o, n) for o, n in zip(olds, news)])


def add_axis(tree: Any, index: int, params: dict) -> Any:
    """Calls ``add_axis(index, params)`` on every box of ``tree``; arrays are left alone.

    >>> import numpy as np
    >>> from nnref import meta
    >>> tree = {'a': {'w': meta.Partitioned(np.ones((2, 3)), ('data', None))}, 'b': np.ones(1)}
    >>> out = meta.add_axis(tree, 1, {meta.PARTITION_NAME: 'layers'})
    >>> out['a']['w'].names, out['b'].shape
    (('data', 'layers', None), (1,))
    """
    return _map_boxes(lambda box: box.add_axis(index, params), tree)


def remove_axis(tree: Any, index: int, params: dict) -> Any:
    """Calls ``remove_axis(index, params)`` on every box of ``tree``.

    >>> import numpy as np
    >>> from nnref import meta
    >>> tree = {'w': meta.Partitioned(np.ones((2, 3)), ('layers', 'data'))}
    >>> meta.remove_axis(tree, 0, {meta.PARTITION_NAME: 'layers'})['w'].names
    ('data',)
    """
    return _map_boxes(lambda box: box.remove_axis(index, params), tree)


def _check_names(names: Any, what: str) -> tuple:
    if isinstance(names, str):
        raise TypeError(
            f'{what}: names must be a sequence with one axis name (or None) '
            f'per dimension, got the string {names!r}. Fix: write ({names!r},) '
            'for a 1-d value.'
        )
    try:
        return tuple(names)
    except TypeError:
        raise TypeError(
            f'{what}: names must be a sequence with one axis name (or None) '
            f'per dimension, e.g. (None, "model"); got {names!r}.'
        ) from None


@dataclasses.dataclass(frozen=True)
class Partitioned(AxisMetadata):
    """A value and, per dimension, the mesh axis it would be sharded over.

    ``names[i]`` is a mesh axis name, a tuple of them, or ``None`` for
    dimension ``i``. ``mesh`` is kept for parity with ``nnjax`` and unused.
    A frozen dataclass: change it with ``.replace(**updates)``. A lifted
    ``vmap``/``scan`` that stacks a ``Partitioned`` variable needs
    ``metadata_params={PARTITION_NAME: name}`` to name the new axis.

    >>> import numpy as np
    >>> from nnref import meta, tree_util
    >>> box = meta.Partitioned(np.ones((4, 8)), (None, 'model'))
    >>> box.get_partition_spec()
    PartitionSpec(None, 'model')
    >>> tree_util.tree_map(np.shape, box)
    Partitioned(value=(4, 8), names=(None, 'model'), mesh=None)
    >>> box.add_axis(0, {meta.PARTITION_NAME: 'layers'}).names
    ('layers', None, 'model')
    """

    value: Any
    names: tuple
    mesh: Any = None

    def __post_init__(self):
        object.__setattr__(self, 'names', _check_names(self.names, type(self).__name__))

    def replace(self, **updates) -> 'Partitioned':
        """A copy with the given fields replaced.

        >>> from nnref import meta
        >>> meta.Partitioned(1.0, ('a',)).replace(names=('b',)).names
        ('b',)
        """
        return dataclasses.replace(self, **updates)

    def unbox(self, apply_constraint: bool = True) -> Any:
        """The value (nnref has no devices, so no constraint is ever applied).

        >>> import numpy as np
        >>> from nnref import meta
        >>> meta.Partitioned(np.arange(3), ('data',)).unbox()
        array([0, 1, 2])
        """
        return self.value

    def replace_boxed(self, val: Any) -> 'Partitioned':
        """This box around ``val``, names and mesh unchanged.

        >>> from nnref import meta
        >>> meta.Partitioned(1.0, ()).replace_boxed(2.0)
        Partitioned(value=2.0, names=(), mesh=None)
        """
        return self.replace(value=val)

    def _axis_name(self, params: dict) -> Any:
        if PARTITION_NAME not in params:
            raise errors.PartitioningUnspecifiedError(self)
        return params[PARTITION_NAME]

    def add_axis(self, index: int, params: dict) -> 'Partitioned':
        """Inserts ``params[PARTITION_NAME]`` into ``names`` at ``index``.

        ``names`` shorter than ``index`` is first padded with ``None``.
        Raises ``PartitioningUnspecifiedError`` if ``params`` has no
        ``PARTITION_NAME`` key (its value may be ``None``: not sharded).

        >>> from nnref import meta
        >>> box = meta.Partitioned(0.0, ('a', 'b'))
        >>> box.add_axis(1, {meta.PARTITION_NAME: None}).names
        ('a', None, 'b')
        >>> box.add_axis(3, {meta.PARTITION_NAME: 'c'}).names
        ('a', 'b', None, 'c')
        """
        name = self._axis_name(params)
        names = list(self.names)
        while len(names) < index:
            names.append(None)
        names.insert(index, name)
        return self.replace(names=tuple(names))

    def remove_axis(self, index: int, params: dict) -> 'Partitioned':
        """Deletes entry ``index`` of ``names``, which must be ``params[PARTITION_NAME]``.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, ('layers', 'data')).remove_axis(0, {meta.PARTITION_NAME: 'layers'}).names
        ('data',)
        """
        name = self._axis_name(params)
        present = -len(self.names) <= index < len(self.names)
        if not present or self.names[index] != name:
            found = repr(self.names[index]) if present else '<no such axis>'
            raise ValueError(
                f'remove_axis({index}): axis {index} of names={self.names} is '
                f'{found}, but the transform removes the axis it added as '
                f'{name!r}. Fix: pass the same metadata_params '
                f'({PARTITION_NAME}) and axis to the transform that adds and '
                'removes this axis.'
            )
        names = list(self.names)
        del names[index]
        return self.replace(names=tuple(names))

    def get_partition_spec(self) -> PartitionSpec:
        """``PartitionSpec(*names)``.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, ('data', None)).get_partition_spec()
        PartitionSpec('data', None)
        """
        return PartitionSpec(*self.names)


def with_partitioning(fn: Callable[..., Any], names, mesh=None) -> Callable[..., Partitioned]:
    """Wraps ``fn`` (typically an initializer) to return a :class:`Partitioned`.

    >>> from nnref import initializers, meta, random
    >>> init = meta.with_partitioning(initializers.zeros_init(), (None, 'model'))
    >>> box = init(random.PRNGKey(0), (2, 3))
    >>> type(box).__name__, box.names, box.value.shape
    ('Partitioned', (None, 'model'), (2, 3))
    """
    names = _check_names(names, 'with_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return Partitioned(fn(*args, **kwargs), names, mesh=mesh)

    return _declare_boxed_output(wrapper, fn)


def _declare_boxed_output(wrapper: Callable, fn: Callable) -> Callable:
    """Declares that ``wrapper`` boxes ``fn``'s output, when ``fn`` declares its output's shapes.

    A box is a container whose only child is the value, so the leaf shapes
    are ``fn``'s; ``apply`` then checks a boxed parameter's shape without
    running its initializer (see :func:`nnref.initializers.declare_output_shapes`).

    >>> from nnref import initializers, meta
    >>> init = meta.with_partitioning(initializers.lecun_normal(), (None, 'model'))
    >>> initializers.output_shapes_fn(init)((3, 4))
    [(3, 4)]
    """
    shapes_fn = output_shapes_fn(fn)
    return wrapper if shapes_fn is None else declare_output_shapes(wrapper, shapes_fn)


def _leaf_spec(x: Any):
    if isinstance(x, AxisMetadata):
        return x.get_partition_spec() if hasattr(x, 'get_partition_spec') else None
    if hasattr(x, 'shape'):  # a plain array: replicated
        return PartitionSpec()
    return None


def get_partition_spec(tree: Any) -> Any:
    """The tree of :class:`PartitionSpec` for a tree of boxes and arrays.

    A box gives its own spec, an array (anything with a ``shape``) gives
    ``PartitionSpec()`` (replicated), other leaves give ``None``.

    >>> import numpy as np
    >>> from nnref import meta
    >>> meta.get_partition_spec({'w': meta.Partitioned(np.ones((2, 2)), ('data', 'model')),
    ...                          'b': np.ones(2), 'step': 1})
    {'b': PartitionSpec(), 'step': None, 'w': PartitionSpec('data', 'model')}
    """
    return tree_util.tree_map(_leaf_spec, tree, is_leaf=is_axis_metadata)
