"""Metadata boxes: a variable's value travelling together with facts about its axes.

An initializer may return, instead of a bare array, a *box* -- an
:class:`AxisMetadata` -- holding the array plus something about each of its
dimensions. The one used in practice is :class:`Partitioned`: for dimension
``i``, the mesh axis the array is split over on many devices.

What makes a box useful is that the rest of the library treats it as a
container with exactly one child, the value:

* ``tree_util.tree_map(f, box)`` applies ``f`` to the value and rebuilds the
  box with the same metadata (a box defines ``_tree_children`` and
  ``_tree_rebuild``, the two hooks :mod:`nnref.tree_util` asks for);
* module code normally sees the plain value: ``self.param`` unboxes it
  (:func:`unbox`), and :func:`replace_boxed` puts a new value back in;
* when a lifted ``vmap``/``scan`` stacks a variable along a new axis, the
  metadata must grow with it: the transform calls :func:`add_axis` (and
  :func:`remove_axis` on the way back) on every box of the collection.

The rules for editing a ``Partitioned`` box's names are shared with
``nnjax`` (:mod:`shared_spec.partition_names`). nnref has no devices: specs
are computed and reported, never applied.

>>> import numpy as np
>>> from nnref import meta, tree_util
>>> box = meta.Partitioned(np.zeros((3, 5)), ('data', 'model'))
>>> shifted = tree_util.tree_map(lambda v: v + 1, box)        # maps the value...
>>> type(shifted).__name__, shifted.names, shifted.value.sum()  # ...keeps the box
('Partitioned', ('data', 'model'), np.float64(15.0))
>>> meta.add_axis({'w': box}, 0, {meta.PARTITION_NAME: None})['w'].names
(None, 'data', 'model')
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from typing import Any, Callable

from nnref import tree_util
from nnref.initializers import declare_output_shapes, output_shapes_fn
from shared_spec import partition_names
from shared_spec.partition_names import PARTITION_NAME

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


# --- PartitionSpec ----------------------------------------------------------------


class _Unconstrained:
    """``PartitionSpec.UNCONSTRAINED``: the dimension's sharding is left to the compiler."""

    def __repr__(self):
        return 'UNCONSTRAINED'

    def __reduce__(self):
        return (_unconstrained, ())  # unpickles to the one marker, so `is` keeps working


def _unconstrained():
    return PartitionSpec.UNCONSTRAINED


def _canonical_entry(entry):
    # JAX's normal form: a list of mesh axes is a tuple; () means None and (a,) means a.
    if not isinstance(entry, (list, tuple)):
        return entry
    entry = tuple(entry)
    return None if not entry else entry[0] if len(entry) == 1 else entry


class PartitionSpec(tuple):
    """One entry per array dimension: the mesh axis (or axes, or ``None``) it is split over.

    nnref's version of ``jax.sharding.PartitionSpec``. It is a tuple, so it
    compares equal to the plain tuple of its entries, but it is a *leaf* for
    :mod:`nnref.tree_util` (``_tree_leaf``), because a spec describes one
    array rather than containing several.

    >>> spec = PartitionSpec(('data', 'fsdp'), None, ['model'])
    >>> spec, spec == (('data', 'fsdp'), None, 'model')
    (PartitionSpec(('data', 'fsdp'), None, 'model'), True)
    >>> from nnref import tree_util
    >>> tree_util.tree_map(len, {'w': PartitionSpec('a', 'b'), 'b': PartitionSpec()})
    {'b': 0, 'w': 2}
    """

    _tree_leaf = True
    UNCONSTRAINED = _Unconstrained()

    def __new__(cls, *entries):
        return super().__new__(cls, tuple(_canonical_entry(e) for e in entries))

    def __repr__(self):
        return 'PartitionSpec' + tuple.__repr__(self)

    def __getnewargs__(self):
        return tuple(self)


# --- the box protocol ---------------------------------------------------------------


class AxisMetadata(abc.ABC):
    """What every metadata box must do: four methods, plus being a one-child tree node.

    * :meth:`unbox` -- the wrapped value (one level: a box in a box gives the inner box);
    * :meth:`replace_boxed` -- a box of the same kind and metadata around another value;
    * :meth:`add_axis` / :meth:`remove_axis` -- the metadata after a transform
      inserts, or deletes, dimension ``index`` of the value; applying one and
      then the other must give back the original.

    For the tree hooks, this base class assumes the subclass is a dataclass
    with a field ``value``: that field is the single child and every other
    field is static metadata.

    >>> import dataclasses, numpy as np
    >>> from nnref import meta, tree_util
    >>> @dataclasses.dataclass(frozen=True)
    ... class Described(meta.AxisMetadata):
    ...     value: object
    ...     labels: tuple
    ...
    ...     def unbox(self):
    ...         return self.value
    ...
    ...     def replace_boxed(self, val):
    ...         return dataclasses.replace(self, value=val)
    ...
    ...     def add_axis(self, index, params):
    ...         return dataclasses.replace(self, labels=self.labels[:index] + ('stacked',) + self.labels[index:])
    ...
    ...     def remove_axis(self, index, params):
    ...         return dataclasses.replace(self, labels=self.labels[:index] + self.labels[index + 1:])
    >>> box = Described(np.arange(4.0), ('time',))
    >>> tree_util.tree_leaves(box)              # the value is the only leaf
    [array([0., 1., 2., 3.])]
    >>> meta.remove_axis(meta.add_axis(box, 1, {}), 1, {}) == box
    True
    """

    @abc.abstractmethod
    def unbox(self) -> Any:
        """Return the value inside this box (not recursing into a box inside it)."""

    @abc.abstractmethod
    def replace_boxed(self, val: Any) -> 'AxisMetadata':
        """Return a box with this box's type and metadata, holding ``val``."""

    @abc.abstractmethod
    def add_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """Return this box with metadata for a value that gained dimension ``index``."""

    @abc.abstractmethod
    def remove_axis(self, index: int, params: dict) -> 'AxisMetadata':
        """Return this box with metadata for a value that lost dimension ``index``."""

    def _tree_children(self):
        # children: [value]; static part: every other init field, as (name, value) pairs.
        static = tuple(
            (f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.init and f.name != 'value'
        )
        return [self.value], static

    @classmethod
    def _tree_rebuild(cls, static, children):
        (value,) = children
        return cls(value=value, **dict(static))


def is_axis_metadata(x: Any) -> bool:
    """True for a metadata box (used as ``is_leaf`` to stop tree walks at boxes).

    >>> import numpy as np
    >>> from nnref import meta
    >>> [meta.is_axis_metadata(x) for x in (meta.Partitioned(np.ones(2), ('a',)), np.ones(2))]
    [True, False]
    """
    return isinstance(x, AxisMetadata)


def _map_boxes(fn: Callable[[AxisMetadata], Any], tree: Any) -> Any:
    """``fn`` applied to every outermost box of ``tree``; other leaves kept."""

    def visit(x):
        return fn(x) if isinstance(x, AxisMetadata) else x

    return tree_util.tree_map(visit, tree, is_leaf=is_axis_metadata)


def unbox(tree: Any) -> Any:
    """Replace every box in ``tree`` by its value, opening boxes inside boxes too.

    >>> import numpy as np
    >>> from nnref import meta
    >>> nested = meta.Partitioned(meta.Partitioned(np.zeros(1), ('a',)), ('b',))
    >>> meta.unbox({'w': nested, 'count': 0})
    {'count': 0, 'w': array([0.])}
    """
    return _map_boxes(lambda box: unbox(box.unbox()), tree)


def _flatten_up_to(treedef: tree_util.TreeDef, tree: Any) -> list:
    """Cut ``tree`` at the leaf positions of ``treedef``: one subtree per leaf of ``treedef``.

    Walks ``treedef`` and ``tree`` together; where ``treedef`` has a leaf,
    whatever ``tree`` has there (a value, or a whole subtree) is taken as is.
    Where the two disagree (other dict keys, another length) it is an error.
    """
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
    pieces = []
    for child_def, child in zip(treedef.children, children):
        pieces.extend(_flatten_up_to(child_def, child))
    return pieces


def replace_boxed(tree: Any, updates: Any) -> Any:
    """The inverse of :func:`unbox`: put the values of ``updates`` back into ``tree``'s boxes.

    ``updates`` is shaped like ``unbox(tree)``. Steps: flatten ``tree``
    stopping at boxes; cut ``updates`` at the same places; where the old leaf
    was a box, keep the box and replace what is inside (recursively, for
    nested boxes); elsewhere take the update as is.

    >>> import numpy as np
    >>> from nnref import meta
    >>> boxed = {'w': meta.Partitioned(np.zeros(2), ('model',)), 'step': 0}
    >>> fresh = meta.replace_boxed(boxed, {'w': np.ones(2), 'step': 1})
    >>> fresh['w'].names, fresh['w'].value, fresh['step']
    (('model',), array([1., 1.]), 1)
    """
    olds, treedef = tree_util.tree_flatten(tree, is_leaf=is_axis_metadata)
    news = _flatten_up_to(treedef, updates)

    def put(old, new):
        if isinstance(old, AxisMetadata):
            return old.replace_boxed(replace_boxed(old.unbox(), new))
        return new

    return tree_util.tree_unflatten(treedef, [put(o, n) for o, n in zip(olds, news)])


def add_axis(tree: Any, index: int, params: dict) -> Any:
    """Tell every box in ``tree`` that its value gained dimension ``index``; plain arrays are untouched.

    ``params`` is the ``metadata_params`` of the transform that stacks (for
    ``Partitioned``: the new dimension's mesh axis, under ``PARTITION_NAME``).

    >>> import numpy as np
    >>> from nnref import meta
    >>> tree = {'w': meta.Partitioned(np.ones((5,)), ('model',)), 'step': np.int32(0)}
    >>> stacked = meta.add_axis(tree, 0, {meta.PARTITION_NAME: 'layers'})
    >>> stacked['w'].names, stacked['step']
    (('layers', 'model'), np.int32(0))
    """
    return _map_boxes(lambda box: box.add_axis(index, params), tree)


def remove_axis(tree: Any, index: int, params: dict) -> Any:
    """Tell every box in ``tree`` that its value lost dimension ``index`` (undoes :func:`add_axis`).

    >>> import numpy as np
    >>> from nnref import meta
    >>> stacked = {'w': meta.Partitioned(np.ones((4, 5)), ('layers', 'model'))}
    >>> meta.remove_axis(stacked, 0, {meta.PARTITION_NAME: 'layers'})['w'].names
    ('model',)
    """
    return _map_boxes(lambda box: box.remove_axis(index, params), tree)


# --- Partitioned ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Partitioned(AxisMetadata):
    """An array and, per dimension, the mesh axis it is split over.

    ``names`` has one entry per dimension of ``value``: a mesh axis name, a
    tuple of names (split over several mesh axes at once), or ``None`` (not
    split). ``mesh`` is carried for nnjax's sake and unused here. The box is
    frozen; make changed copies with ``.replace(**updates)``. A lifted
    ``vmap``/``scan`` that stacks a ``Partitioned`` variable must be given
    ``metadata_params={PARTITION_NAME: name}``, the new dimension's entry.

    >>> import numpy as np
    >>> from nnref import meta, tree_util
    >>> kernel = meta.Partitioned(np.ones((16, 64)), ('embed', 'mlp'))
    >>> kernel.get_partition_spec()
    PartitionSpec('embed', 'mlp')
    >>> tree_util.tree_map(lambda v: v.dtype.name, kernel)
    Partitioned(value='float64', names=('embed', 'mlp'), mesh=None)
    """

    value: Any
    names: tuple
    mesh: Any = None

    def __post_init__(self):
        # names must be hashable: it is static tree data.
        object.__setattr__(self, 'names', partition_names.check_names(self.names, type(self).__name__))

    def replace(self, **updates) -> 'Partitioned':
        """A copy with some fields changed.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, ('data',)).replace(value=1.0)
        Partitioned(value=1.0, names=('data',), mesh=None)
        """
        return dataclasses.replace(self, **updates)

    def unbox(self, apply_constraint: bool = True) -> Any:
        """The array. (With devices, this is where the sharding would be imposed; here there are none.)

        >>> from nnref import meta
        >>> meta.Partitioned([1, 2], ('data',)).unbox()
        [1, 2]
        """
        return self.value

    def replace_boxed(self, val: Any) -> 'Partitioned':
        """The same names and mesh, around ``val``.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, (None,)).replace_boxed([5.0]).value
        [5.0]
        """
        return self.replace(value=val)

    def add_axis(self, index: int, params: dict) -> 'Partitioned':
        """``names`` with ``params[PARTITION_NAME]`` inserted at ``index``.

        If ``names`` is shorter than ``index`` it is padded with ``None``
        first. Without a ``PARTITION_NAME`` key in ``params`` the transform did
        not say how to name the new axis: ``PartitioningUnspecifiedError``.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, ('embed',)).add_axis(2, {meta.PARTITION_NAME: 'stage'}).names
        ('embed', None, 'stage')
        """
        new_name = partition_names.axis_name(params, self)
        return self.replace(names=partition_names.names_with_axis(self.names, index, new_name))

    def remove_axis(self, index: int, params: dict) -> 'Partitioned':
        """``names`` without entry ``index``, after checking it is the name the transform added.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, ('embed', None, 'stage')).remove_axis(2, {meta.PARTITION_NAME: 'stage'}).names
        ('embed', None)
        """
        added_name = partition_names.axis_name(params, self)
        return self.replace(names=partition_names.names_without_axis(self.names, index, added_name))

    def get_partition_spec(self) -> PartitionSpec:
        """The names as a :class:`PartitionSpec`.

        >>> from nnref import meta
        >>> meta.Partitioned(0.0, (('data', 'fsdp'), 'model')).get_partition_spec()
        PartitionSpec(('data', 'fsdp'), 'model')
        """
        return PartitionSpec(*self.names)


def with_partitioning(fn: Callable[..., Any], names, mesh=None) -> Callable[..., Partitioned]:
    """Wrap initializer ``fn`` so that the array it makes comes boxed in a :class:`Partitioned`.

    >>> from nnref import initializers, meta, random
    >>> init = meta.with_partitioning(initializers.ones_init(), ('embed', None))
    >>> box = init(random.PRNGKey(0), (4, 2))
    >>> box.names, box.value.sum()
    (('embed', None), np.float32(8.0))
    """
    names = partition_names.check_names(names, 'with_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return Partitioned(fn(*args, **kwargs), names, mesh=mesh)

    return _declare_boxed_output(wrapper, fn)


def _declare_boxed_output(wrapper: Callable, fn: Callable) -> Callable:
    """Let ``apply`` know ``wrapper``'s output shapes without running it, when ``fn`` declares them.

    A box's only leaf is its value, so the wrapped initializer has exactly
    ``fn``'s leaf shapes (see :func:`nnref.initializers.declare_output_shapes`).

    >>> from nnref import initializers, meta
    >>> init = meta.with_partitioning(initializers.normal(), ('vocab', 'embed'))
    >>> initializers.output_shapes_fn(init)((100, 8))
    [(100, 8)]
    """
    shapes_fn = output_shapes_fn(fn)
    return wrapper if shapes_fn is None else declare_output_shapes(wrapper, shapes_fn)


def _leaf_spec(x: Any):
    # A box reports its own spec (None if it has none); an array is replicated; anything else has no spec.
    if isinstance(x, AxisMetadata):
        return x.get_partition_spec() if hasattr(x, 'get_partition_spec') else None
    return PartitionSpec() if hasattr(x, 'shape') else None


def get_partition_spec(tree: Any) -> Any:
    """A tree shaped like ``tree`` with each variable's :class:`PartitionSpec`.

    A box gives its own spec; a bare array is replicated on every device
    (``PartitionSpec()``); a leaf that is not an array (a Python number) gets ``None``.

    >>> import numpy as np
    >>> from nnref import meta
    >>> meta.get_partition_spec({'kernel': meta.Partitioned(np.ones((2, 3)), (None, 'mlp')),
    ...                          'bias': np.zeros(3), 'scale': 0.5})
    {'bias': PartitionSpec(), 'kernel': PartitionSpec(None, 'mlp'), 'scale': None}
    """
    return tree_util.tree_map(_leaf_spec, tree, is_leaf=is_axis_metadata)
