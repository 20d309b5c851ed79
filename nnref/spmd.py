"""Sharding by meaning: logical axis names, and the rules that turn them into mesh axes.

On many devices, a big array is split along some of its dimensions over
the axes of a device *mesh* (say ``'data'`` and ``'model'``). Writing mesh
axes into model code ties the model to one layout, so model code instead
names each dimension by what it means (``'batch'``, ``'embed'``,
``'hidden'``) and a separate list of *rules* translates:

    rules = (('batch', 'data'), ('hidden', 'model'))

Translating one array's names takes three steps (the arithmetic lives in
:mod:`shared_spec.logical_axes`, shared with ``nnjax``):

1. go through the rules in order; a rule ``(name, mesh_axes)`` places the
   dimension called ``name`` on ``mesh_axes`` -- unless that dimension is
   already placed, or one of those mesh axes is already taken by another
   dimension (an axis of the mesh can split only one dimension);
2. a dimension that no rule placed is unsharded (``None``), or, for
   :func:`with_logical_constraint`, whatever its :class:`RulesFallback` says;
3. the entries form a :class:`~nnref.meta.PartitionSpec`.

Rules come from a ``rules=`` argument, or else from the current thread's
rules (:func:`logical_axis_rules`, :func:`set_logical_axis_rules`).

This backend has one host and no mesh, so nothing is ever actually split:
the specs are computed exactly, errors in the names are raised, and arrays
pass through unchanged.

>>> from nnref import spmd
>>> rules = (('batch', 'data'), ('embed', 'data'), ('hidden', 'model'))
>>> spmd.logical_to_mesh_axes(('batch', 'embed', 'hidden'), rules)   # 'data' is taken by batch
PartitionSpec('data', None, 'model')
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from typing import Any, Callable

from nnref import tree_util
from nnref.meta import Partitioned, PartitionSpec, _declare_boxed_output, _flatten_up_to
from shared_spec import logical_axes, partition_names
from shared_spec.logical_axes import RulesFallback

__all__ = [*logical_axes.SPMD_API]


# --- where the rules come from ----------------------------------------------------


class _RulesState(threading.local):
    # One value per thread, so two threads may use different layouts; () until set.
    rules: Any = ()


_state = _RulesState()


def set_logical_axis_rules(rules) -> None:
    """Make ``rules`` this thread's current rules, until they are set again.

    >>> from nnref import spmd
    >>> spmd.set_logical_axis_rules((('vocab', 'model'),))
    >>> spmd.logical_to_mesh_axes(('vocab', 'embed'))
    PartitionSpec('model', None)
    >>> spmd.set_logical_axis_rules(())
    """
    _state.rules = rules


def get_logical_axis_rules():
    """This thread's current rules (``()``, no rules, in a thread that never set any).

    >>> from nnref import spmd
    >>> spmd.get_logical_axis_rules()
    ()
    """
    return _state.rules


@contextlib.contextmanager
def logical_axis_rules(rules):
    """Use ``rules`` as the current rules inside a ``with`` block only.

    The rules in force before the block are put back when it ends, however
    it ends (the ``finally`` below), so blocks nest.

    >>> from nnref import spmd
    >>> with spmd.logical_axis_rules((('heads', 'model'),)):
    ...     inside = spmd.logical_to_mesh_axes(('heads', 'kv'))
    >>> inside, spmd.logical_to_mesh_axes(('heads', 'kv'))
    (PartitionSpec('model', None), PartitionSpec(None, None))
    """
    outer = get_logical_axis_rules()
    set_logical_axis_rules(rules)
    try:
        yield
    finally:
        set_logical_axis_rules(outer)


# --- translating names ------------------------------------------------------------


def logical_to_mesh_axes(array_dim_names, rules=None):
    """Translate one array's logical names into its mesh :class:`~nnref.meta.PartitionSpec`.

    The three steps of the module docstring, with unplaced dimensions
    unsharded. ``None`` (no names at all) gives ``None``; a name used for two
    dimensions is a ``ValueError``. ``rules=None`` means the current rules.

    >>> from nnref import spmd
    >>> rules = (('mlp', 'model'), ('embed', 'model'), ('embed', 'data'))
    >>> spmd.logical_to_mesh_axes(('embed', 'mlp'), rules)   # embed falls through to its second rule
    PartitionSpec('data', 'model')
    """
    entries = logical_axes.mesh_axes(array_dim_names, get_logical_axis_rules() if rules is None else rules)
    return None if entries is None else PartitionSpec(*entries)


def logical_to_mesh(tree, rules=None):
    """Translate every ``PartitionSpec`` in ``tree`` (e.g. the output of ``get_partition_spec``).

    >>> from nnref import spmd
    >>> from nnref.meta import PartitionSpec
    >>> specs = {'attn': {'q': PartitionSpec('embed', 'heads')}, 'step': None}
    >>> spmd.logical_to_mesh(specs, (('heads', 'model'),))
    {'attn': {'q': PartitionSpec(None, 'model')}, 'step': None}
    """

    return tree_util.tree_map(lambda spec: logical_to_mesh_axes(spec, rules), tree, is_leaf=_is_spec)


def _is_spec(x) -> bool:
    return isinstance(x, PartitionSpec)


def _is_logical_spec(x) -> bool:
    return isinstance(x, PartitionSpec) or logical_axes.is_logical_names(x, PartitionSpec.UNCONSTRAINED)


def _constrain_one(spec, x, *, rules, fallback):
    # Resolving the names raises what nnjax raises; with no mesh, there is nothing to apply.
    logical_axes.apply_fallback(spec, rules, fallback)
    return x


def with_logical_constraint(
    x, logical_axis_resources, rules=None, mesh=None, fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED
):
    """Ask for ``x`` to be sharded by logical names; here, check the names and return ``x``.

    ``logical_axis_resources`` is the spec of ``x`` (a tuple of names), or a
    tree of specs matching a tree ``x``. Each spec is translated against
    ``rules`` (default: the current rules), so mistakes surface on one host
    as on many: a repeated name raises, and so does an unplaced name under
    ``RulesFallback.RAISE_ERROR``. With no rules there is nothing to check.

    >>> import numpy as np
    >>> from nnref import spmd
    >>> h = np.zeros((2, 16))
    >>> spmd.with_logical_constraint(h, ('batch', 'mlp'), rules=(('mlp', 'model'),)) is h
    True
    >>> spmd.with_logical_constraint(h, ('batch', 'mlp'), rules=(('mlp', 'model'),),
    ...                              fallback=spmd.RulesFallback.RAISE_ERROR)
    Traceback (most recent call last):
    ...
    ValueError: Axis names ('batch', 'mlp') did not match a rule: no rule placed ['batch'] (rules: (('mlp', 'model'),)). Fix: add a rule for each logical name, or use RulesFallback.AXIS_IS_UNSHARDED / NO_CONSTRAINT.
    """
    rules = get_logical_axis_rules() if rules is None else rules
    if not rules or logical_axis_resources is None:
        return x
    constrain = functools.partial(_constrain_one, rules=rules, fallback=fallback)
    # Pair each spec with the part of x it describes: flatten the specs (a
    # spec is a leaf), then cut x at the same places.
    specs, treedef = tree_util.tree_flatten(logical_axis_resources, is_leaf=_is_logical_spec)
    for spec, part in zip(specs, _flatten_up_to(treedef, x)):
        constrain(spec, part)
    return x


# --- the logical box --------------------------------------------------------------


@dataclass(frozen=True)
class LogicallyPartitioned(Partitioned):
    """A :class:`~nnref.meta.Partitioned` box whose names are logical, not mesh axes.

    Its ``get_partition_spec()`` is therefore a *logical* spec; translate a
    tree of them with :func:`logical_to_mesh`. ``rules``, if given, are
    stored as a tuple of tuples (nnjax applies them on ``unbox`` when a mesh
    exists; here unboxing just returns the value).

    >>> import numpy as np
    >>> from nnref import spmd
    >>> box = spmd.LogicallyPartitioned(np.zeros((4, 2)), ('vocab', 'embed'), rules=[['vocab', 'model']])
    >>> box.rules, box.get_partition_spec()
    ((('vocab', 'model'),), PartitionSpec('vocab', 'embed'))
    >>> spmd.logical_to_mesh(box.get_partition_spec(), box.rules)
    PartitionSpec('model', None)
    """

    rules: Any = None

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, 'rules', logical_axes.freeze_rules(self.rules))


def with_logical_partitioning(
    fn: Callable[..., Any], names, mesh=None, rules=None
) -> Callable[..., LogicallyPartitioned]:
    """Wrap initializer ``fn`` so that the value it makes comes boxed with logical ``names``.

    >>> from nnref import initializers, random, spmd
    >>> init = spmd.with_logical_partitioning(initializers.zeros_init(), ('embed', 'mlp'))
    >>> init(random.PRNGKey(0), (3, 5)).names
    ('embed', 'mlp')
    """
    names = partition_names.check_names(names, 'with_logical_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return LogicallyPartitioned(fn(*args, **kwargs), names, mesh=mesh, rules=rules)

    # The box's only leaf is fn's value, so apply may check its shape without running fn.
    return _declare_boxed_output(wrapper, fn)
