"""``nnjax.struct``: frozen dataclasses that JAX transformations can see through.

``jit``, ``grad`` and ``vmap`` take and return pytrees. A class made with
:func:`dataclass` (or by subclassing :class:`PyTreeNode`) is a frozen
dataclass registered as a pytree node: its fields are children, except those
declared with ``field(pytree_node=False)``, which are static data (part of
the tree structure, hashed into ``jit``'s cache key, never traced). Such a
class also joins ``nnjax.serialization``: its state dict holds the pytree
fields by name. Being frozen, an instance is changed by making a new one with
``.replace(**updates)``.

The registration is JAX's own ``jax.tree_util.register_dataclass``, so key
paths name fields with ``jax.tree_util.GetAttrKey``.

>>> import jax, jax.numpy as jnp
>>> class Linear(PyTreeNode):
...     w: jax.Array
...     activation: str = field(pytree_node=False, default='relu')
>>> model = Linear(jnp.ones(2))
>>> jax.tree_util.tree_leaves(model)
[Array([1., 1.], dtype=float32)]
>>> jax.grad(lambda m: jnp.sum(m.w ** 2))(model)
Linear(w=Array([2., 2.], dtype=float32), activation='relu')
>>> model.replace(activation='tanh').activation
'tanh'
"""

import dataclasses
import functools
import typing
from collections.abc import Mapping

import jax

from nnjax import serialization

__all__ = ['dataclass', 'field', 'PyTreeNode']

# Marks a class this module has processed; looked up in the class's own
# __dict__ so that a subclass of a struct class is processed in its turn.
_MARK = '_nnjax_struct_dataclass'


def field(pytree_node=True, *, metadata=None, **kwargs):
    """A ``dataclasses.field`` that says whether it is a pytree child.

    Args:
      pytree_node: ``False`` makes the field static: not a leaf for
        ``jax.tree_util``, not traced by transformations, not in state dicts.
        Static values must be hashable (they key ``jit``'s cache).
      metadata: extra field metadata, kept alongside ``'pytree_node'``.
      **kwargs: passed to ``dataclasses.field`` (``default``,
        ``default_factory``, ``init``, ``repr``, ...).

    >>> f = field(pytree_node=False, default=None)
    >>> f.metadata['pytree_node'], f.default
    (False, None)
    """
    return dataclasses.field(metadata={**(metadata or {}), 'pytree_node': pytree_node}, **kwargs)


def _replace(self, **updates):
    """A copy of this instance with the given fields replaced.

    Fields are re-validated by ``__init__``/``__post_init__`` as for any
    dataclass; the instance itself is not changed.
    """
    return dataclasses.replace(self, **updates)


def _register_serialization(clz, data_fields):
    def to_state(x):
        return {name: serialization.to_state_dict(getattr(x, name)) for name in data_fields}

    def from_state(x, state):
        if not isinstance(state, Mapping):
            raise ValueError(
                f"from_state_dict: at '{serialization.current_path()}' the "
                f'target is an instance of {clz.__name__}, so the state must '
                f'be a dict of its fields, but it is a {type(state).__name__}.'
            )
        missing = [name for name in data_fields if name not in state]
        if missing:
            raise ValueError(
                f'from_state_dict: missing field(s) {missing} in the state '
                f'dict while restoring an instance of {clz.__name__} at '
                f"'{serialization.current_path()}'. The state has "
                f'{sorted(map(str, state))}.'
            )
        unknown = sorted(str(k) for k in state if k not in data_fields)
        if unknown:
            raise ValueError(
                f'from_state_dict: unknown field(s) {unknown} in the state '
                f'dict while restoring an instance of {clz.__name__} at '
                f"'{serialization.current_path()}'; its pytree fields are "
                f'{list(data_fields)}.'
            )
        updates = {
            name: serialization.from_state_dict(getattr(x, name), state[name], name=name) for name in data_fields
        }
        return x.replace(**updates)

    serialization.register_serialization_state(clz, to_state, from_state)


def dataclass(clz=None, *, frozen=True, kw_only=False, **kwargs):
    """Make ``clz`` a (by default frozen) dataclass registered as a pytree.

    Usable bare (``@dataclass``) or with options (``@dataclass(kw_only=True)``).
    Fields are pytree children unless made with ``field(pytree_node=False)``;
    only ``init=True`` fields are part of the tree (the others are recomputed
    by ``__init__`` when JAX rebuilds an instance). Adds ``.replace``.
    Applying it twice to the same class is harmless.

    Args:
      clz: the class to transform.
      frozen: forbid attribute assignment (the default, and what JAX needs:
        a transformation must not see a node change behind its back).
      kw_only: make every field keyword-only in ``__init__``.
      **kwargs: passed to ``dataclasses.dataclass``.

    >>> import jax
    >>> @dataclass
    ... class Point:
    ...     x: float
    ...     y: float
    >>> jax.tree_util.tree_map(lambda v: v + 1, Point(1.0, 2.0))
    Point(x=2.0, y=3.0)
    """
    if clz is None:
        return functools.partial(dataclass, frozen=frozen, kw_only=kw_only, **kwargs)
    if _MARK in clz.__dict__:
        return clz
    data_clz = dataclasses.dataclass(frozen=frozen, kw_only=kw_only, **kwargs)(clz)
    init_fields = [f for f in dataclasses.fields(data_clz) if f.init]
    data_fields = tuple(f.name for f in init_fields if f.metadata.get('pytree_node', True))
    meta_fields = tuple(f.name for f in init_fields if not f.metadata.get('pytree_node', True))
    data_clz.replace = _replace
    jax.tree_util.register_dataclass(data_clz, data_fields=data_fields, meta_fields=meta_fields)
    _register_serialization(data_clz, data_fields)
    setattr(data_clz, _MARK, True)
    return data_clz


# Tells static type checkers that subclasses are dataclasses (Python 3.11+).
_dataclass_transform = getattr(typing, 'dataclass_transform', lambda **_: lambda cls: cls)


@_dataclass_transform(field_specifiers=(field,))
class PyTreeNode:
    """Base class whose subclasses are :func:`dataclass` classes automatically.

    Class keywords go to :func:`dataclass`, e.g.
    ``class Config(PyTreeNode, kw_only=True)``.

    >>> import jax
    >>> class State(PyTreeNode, kw_only=True):
    ...     step: int
    ...     name: str = field(pytree_node=False, default='run')
    >>> State(step=1)
    State(step=1, name='run')
    >>> jax.tree_util.tree_leaves(State(step=1))
    [1]
    """

    def __init_subclass__(cls, **kwargs):
        # The keywords belong to dataclass(), not to object.__init_subclass__.
        super().__init_subclass__()
        dataclass(cls, **kwargs)

    def replace(self, **updates):
        """A copy with the given fields replaced (see :func:`dataclass`)."""
        return dataclasses.replace(self, **updates)
