"""Logical axis names: shard by what a dimension means, map to the mesh later.

Model code names array dimensions by meaning (``'batch'``, ``'embed'``,
``'hidden'``, ``'layer'``); a list of *rules* -- ``(logical_name,
mesh_axes)`` pairs, in order of precedence -- decides which device-mesh axis
each one is sharded over. Changing the partitioning layout then means
changing the rules, not the model.

* :func:`with_logical_partitioning` wraps an initializer so the parameter is
  a :class:`LogicallyPartitioned` box holding the logical names;
  ``get_partition_spec`` of such a tree gives logical specs, and
  :func:`logical_to_mesh` / :func:`logical_to_mesh_sharding` map them.
* :func:`with_logical_constraint` is ``with_sharding_constraint`` in logical
  names; with no rules or no mesh it returns its input.
* Rules come from the ``rules=`` argument or else from the thread's current
  rules: :func:`logical_axis_rules` (a context manager),
  :func:`set_logical_axis_rules`, :func:`get_logical_axis_rules`.

>>> from nnjax import spmd
>>> rules = (('batch', 'data'), ('hidden', 'model'))
>>> spmd.logical_to_mesh_axes(('batch', 'embed', 'hidden'), rules)
P('data', None, 'model')
>>> with spmd.logical_axis_rules(rules):
...     spmd.logical_to_mesh_axes(('hidden', 'batch'))
P('model', 'data')
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable

import jax

from nnjax import meta, struct
from shared_spec import logical_axes, partition_names
from shared_spec.logical_axes import RulesFallback

__all__ = [*logical_axes.SPMD_API, 'logical_to_mesh_sharding']


# --- the current rules, per thread -------------------------------------------


class _RulesState(threading.local):
    rules: Any = ()


_state = _RulesState()


def set_logical_axis_rules(rules) -> None:
    """Sets this thread's logical-to-mesh rules (until set again).

    >>> from nnjax import spmd
    >>> old = spmd.get_logical_axis_rules()
    >>> spmd.set_logical_axis_rules((('batch', 'data'),))
    >>> spmd.get_logical_axis_rules()
    (('batch', 'data'),)
    >>> spmd.set_logical_axis_rules(old)
    """
    _state.rules = rules


def get_logical_axis_rules():
    """This thread's logical-to-mesh rules; ``()`` if none were set.

    >>> from nnjax import spmd
    >>> spmd.get_logical_axis_rules()
    ()
    """
    return _state.rules


@contextlib.contextmanager
def logical_axis_rules(rules):
    """Context manager: ``rules`` are the current rules inside the block.

    The previous rules come back on exit, also when the block raises.

    >>> from nnjax import spmd
    >>> with spmd.logical_axis_rules((('embed', 'model'),)):
    ...     spmd.get_logical_axis_rules()
    (('embed', 'model'),)
    >>> spmd.get_logical_axis_rules()
    ()
    """
    previous = _state.rules
    _state.rules = rules
    try:
        yield
    finally:
        _state.rules = previous


# --- rule resolution (the arithmetic is shared_spec.logical_axes, as in nnref) ---


def logical_to_mesh_axes(array_dim_names, rules=None):
    """The mesh ``PartitionSpec`` for an array with these logical dimension names.

    Rules are ``(logical_name, mesh_axes)`` pairs in order of precedence: a
    rule places its logical dimension (if present and not yet placed) on its
    mesh axes (if none of them is used by another dimension yet). Names no
    rule places, and ``None`` entries, are unsharded. A logical name may
    appear only once (``ValueError``); ``None`` names give ``None``.
    ``rules=None`` uses the current rules (:func:`logical_axis_rules`).

    >>> from nnjax import spmd
    >>> rules = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))
    >>> spmd.logical_to_mesh_axes(('batch', 'length', 'heads', 'features'), rules)
    P('X', None, 'Y', None)
    """
    if rules is None:
        rules = get_logical_axis_rules()
    result = logical_axes.mesh_axes(array_dim_names, rules)
    if result is None:
        return None
    return jax.sharding.PartitionSpec(*result)


def _is_spec(x) -> bool:
    return isinstance(x, jax.sharding.PartitionSpec)


def logical_to_mesh(tree, rules=None):
    """:func:`logical_to_mesh_axes` applied to every ``PartitionSpec`` of ``tree``.

    >>> from jax.sharding import PartitionSpec
    >>> from nnjax import spmd
    >>> spmd.logical_to_mesh({'w': PartitionSpec('layer', 'embed', 'hidden')},
    ...                      (('batch', 'data'), ('hidden', 'model')))
    {'w': P(None, None, 'model')}
    """
    return jax.tree_util.tree_map(lambda spec: logical_to_mesh_axes(spec, rules), tree, is_leaf=_is_spec)


def logical_to_mesh_sharding(tree, mesh: jax.sharding.Mesh, rules=None):
    """Like :func:`logical_to_mesh`, giving ``NamedSharding`` on ``mesh``.

    >>> import jax, numpy as np
    >>> from jax.sharding import PartitionSpec
    >>> from nnjax import spmd
    >>> mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ('model',))
    >>> spmd.logical_to_mesh_sharding({'w': PartitionSpec('embed', 'hidden')}, mesh,
    ...                               (('hidden', 'model'),))['w'].spec
    P(None, 'model')
    """
    if mesh is None:
        raise ValueError(
            'logical_to_mesh_sharding(tree, mesh) needs a '
            'jax.sharding.Mesh; got None. Fix: pass the mesh, or '
            'use logical_to_mesh(tree, rules) for specs.'
        )
    return jax.tree_util.tree_map(
        lambda spec: jax.sharding.NamedSharding(mesh, spec), logical_to_mesh(tree, rules), is_leaf=_is_spec
    )


def _is_logical_spec(x) -> bool:
    if x is None or isinstance(x, jax.sharding.PartitionSpec):
        return True
    return logical_axes.is_logical_names(x, jax.sharding.PartitionSpec.UNCONSTRAINED)


def _constrain_one(spec, x, *, rules, mesh, fallback):
    entries = logical_axes.apply_fallback(spec, rules, fallback)
    if entries is None or entries is logical_axes.UNASSIGNED:
        return x  # no names, or RulesFallback.NO_CONSTRAINT with an unmatched name
    if mesh is None and not meta.global_mesh_defined():
        return x
    pspec = jax.sharding.PartitionSpec(*entries)
    target = pspec if mesh is None else jax.sharding.NamedSharding(mesh, pspec)
    return jax.lax.with_sharding_constraint(x, target)


def with_logical_constraint(
    x, logical_axis_resources, rules=None, mesh=None, fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED
):
    """``jax.lax.with_sharding_constraint`` with logical axis names.

    ``logical_axis_resources`` is a logical spec (a tuple of names or a
    ``PartitionSpec``) for the array ``x``, or a tree of them matching a tree
    ``x``. The names are mapped with ``rules`` (default: the current rules).
    Returns ``x`` unchanged when there are no rules, when the spec is
    ``None``, or when neither ``mesh`` nor an active mesh (``jax.set_mesh``)
    is known -- so model code may call it anywhere. Rule errors (a repeated
    name; with ``RulesFallback.RAISE_ERROR``, an unmatched one) are raised
    either way.

    >>> import jax.numpy as jnp
    >>> from nnjax import spmd
    >>> x = jnp.ones((8, 4))
    >>> spmd.with_logical_constraint(x, ('batch', 'embed'), rules=(('batch', 'data'),)) is x
    True
    """
    if rules is None:
        rules = get_logical_axis_rules()
    if not rules or logical_axis_resources is None:
        return x
    constrain = functools.partial(_constrain_one, rules=rules, mesh=mesh, fallback=fallback)
    return jax.tree_util.tree_map(constrain, logical_axis_resources, x, is_leaf=_is_logical_spec)


# --- the logical box -------------------------------------------------------------


class LogicallyPartitioned(meta.Partitioned):
    """A :class:`~nnjax.meta.Partitioned` box whose names are logical.

    ``get_partition_spec()`` gives the logical names (map a tree of them
    with :func:`logical_to_mesh`); :meth:`unbox` applies
    :func:`with_logical_constraint` with ``rules`` (or the current rules)
    when a mesh is known. Usually made by :func:`with_logical_partitioning`.

    >>> import numpy as np
    >>> from nnjax import spmd
    >>> box = spmd.LogicallyPartitioned(np.ones((2, 3)), ('embed', 'hidden'))
    >>> box.get_partition_spec()
    P('embed', 'hidden')
    >>> spmd.logical_to_mesh(box.get_partition_spec(), (('hidden', 'model'),))
    P(None, 'model')
    """

    rules: Any = struct.field(pytree_node=False, default=None)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, 'rules', logical_axes.freeze_rules(self.rules))

    def unbox(self, apply_constraint: bool = True) -> Any:
        """The value, under the logical sharding constraint if a mesh is known.

        >>> import numpy as np
        >>> from nnjax import spmd
        >>> spmd.LogicallyPartitioned(np.arange(2), ('batch',)).unbox()
        array([0, 1])
        """
        if apply_constraint and (self.mesh is not None or meta.global_mesh_defined()):
            return with_logical_constraint(self.value, self.get_partition_spec(), rules=self.rules, mesh=self.mesh)
        return self.value


def with_logical_partitioning(
    fn: Callable[..., Any], names, mesh=None, rules=None
) -> Callable[..., LogicallyPartitioned]:
    """Wraps ``fn`` (typically an initializer) to return a :class:`LogicallyPartitioned`.

    >>> import jax
    >>> from nnjax import initializers, spmd
    >>> init = spmd.with_logical_partitioning(initializers.ones_init(), ('embed', 'hidden'))
    >>> box = init(jax.random.PRNGKey(0), (2, 3))
    >>> type(box).__name__, box.names, box.rules
    ('LogicallyPartitioned', ('embed', 'hidden'), None)
    """
    names = partition_names.check_names(names, 'with_logical_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return LogicallyPartitioned(fn(*args, **kwargs), names, mesh=mesh, rules=rules)

    return wrapper
