"""Logical axis names and the rules that map them to mesh axes (no devices here).

Model code names array dimensions by meaning (``'batch'``, ``'embed'``,
``'hidden'``); *rules* -- ``(logical_name, mesh_axes)`` pairs in order of
precedence -- say which mesh axis each is sharded over. nnref computes the
same specs as ``nnjax`` but has no mesh, so nothing is ever sharded:
:func:`with_logical_constraint` checks its arguments as nnjax does and
returns the array unchanged, so model code that calls it runs here too.

>>> from nnref import spmd
>>> rules = (('batch', 'data'), ('hidden', 'model'))
>>> spmd.logical_to_mesh_axes(('batch', 'embed', 'hidden'), rules)
PartitionSpec('data', None, 'model')
>>> with spmd.logical_axis_rules(rules):
...     spmd.logical_to_mesh_axes(('hidden', 'batch'))
PartitionSpec('model', 'data')
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from typing import Any, Callable

from nnref import tree_util
from nnref.meta import Partitioned, PartitionSpec, _check_names, _declare_boxed_output, _flatten_up_to
from shared_spec import logical_axes
from shared_spec.logical_axes import RulesFallback

__all__ = [
    'LogicallyPartitioned',
    'with_logical_partitioning',
    'logical_axis_rules',
    'set_logical_axis_rules',
    'get_logical_axis_rules',
    'logical_to_mesh_axes',
    'logical_to_mesh',
    'with_logical_constraint',
    'RulesFallback',
]


# --- the current rules, per thread ---------------------------------------------

_current = threading.local()


def set_logical_axis_rules(rules) -> None:
    """Sets this thread's logical-to-mesh rules (until set again).

    >>> from nnref import spmd
    >>> old = spmd.get_logical_axis_rules()
    >>> spmd.set_logical_axis_rules((('batch', 'data'),))
    >>> spmd.get_logical_axis_rules()
    (('batch', 'data'),)
    >>> spmd.set_logical_axis_rules(old)
    """
    _current.rules = rules


def get_logical_axis_rules():
    """This thread's logical-to-mesh rules; ``()`` if none were set.

    >>> from nnref import spmd
    >>> spmd.get_logical_axis_rules()
    ()
    """
    return getattr(_current, 'rules', ())


@contextlib.contextmanager
def logical_axis_rules(rules):
    """Context manager: ``rules`` are the current rules inside the block.

    The previous rules come back on exit, also when the block raises.

    >>> from nnref import spmd
    >>> with spmd.logical_axis_rules((('embed', 'model'),)):
    ...     spmd.get_logical_axis_rules()
    (('embed', 'model'),)
    >>> spmd.get_logical_axis_rules()
    ()
    """
    saved = get_logical_axis_rules()
    set_logical_axis_rules(rules)
    try:
        yield
    finally:
        set_logical_axis_rules(saved)


# --- rule resolution (the arithmetic is shared_spec.logical_axes, as in nnjax) ---


def logical_to_mesh_axes(array_dim_names, rules=None):
    """The mesh :class:`~nnref.meta.PartitionSpec` for an array with these logical names.

    Rules are ``(logical_name, mesh_axes)`` pairs in order of precedence: a
    rule places its logical dimension (if present and not yet placed) on its
    mesh axes (if none of them is used by another dimension yet). Names no
    rule places, and ``None`` entries, are unsharded. A logical name may
    appear only once (``ValueError``); ``None`` names give ``None``.
    ``rules=None`` uses the current rules (:func:`logical_axis_rules`).

    >>> from nnref import spmd
    >>> rules = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))
    >>> spmd.logical_to_mesh_axes(('batch', 'length', 'heads', 'features'), rules)
    PartitionSpec('X', None, 'Y', None)
    """
    if rules is None:
        rules = get_logical_axis_rules()
    result = logical_axes.mesh_axes(array_dim_names, rules)
    if result is None:
        return None
    return PartitionSpec(*result)


def logical_to_mesh(tree, rules=None):
    """:func:`logical_to_mesh_axes` applied to every ``PartitionSpec`` of ``tree``.

    >>> from nnref import spmd
    >>> from nnref.meta import PartitionSpec
    >>> spmd.logical_to_mesh({'w': PartitionSpec('layer', 'embed', 'hidden')},
    ...                      (('batch', 'data'), ('hidden', 'model')))
    {'w': PartitionSpec(None, None, 'model')}
    """
    return tree_util.tree_map(
        lambda spec: logical_to_mesh_axes(spec, rules), tree, is_leaf=lambda x: isinstance(x, PartitionSpec)
    )


def _is_logical_spec(x) -> bool:
    if x is None or isinstance(x, PartitionSpec):
        return True
    return isinstance(x, tuple) and all(e is None or isinstance(e, str) or e is PartitionSpec.UNCONSTRAINED for e in x)


def _check_one(spec, x, *, rules, fallback):
    logical_axes.apply_fallback(spec, rules, fallback)  # raises as nnjax would; nothing to constrain
    return x


def with_logical_constraint(
    x, logical_axis_resources, rules=None, mesh=None, fallback: RulesFallback = RulesFallback.AXIS_IS_UNSHARDED
):
    """``x`` itself: nnref has no devices to shard over.

    The names are still resolved against ``rules`` (default: the current
    rules), so a repeated logical name, or with ``RulesFallback.RAISE_ERROR``
    an unmatched one, raises ``ValueError`` as it does in ``nnjax``.

    >>> import numpy as np
    >>> from nnref import spmd
    >>> x = np.ones((8, 4))
    >>> spmd.with_logical_constraint(x, ('batch', 'embed'), rules=(('batch', 'data'),)) is x
    True
    """
    if rules is None:
        rules = get_logical_axis_rules()
    if not rules or logical_axis_resources is None:
        return x
    check = functools.partial(_check_one, rules=rules, fallback=fallback)
    # Walk specs and arrays together (the arrays only up to the specs' leaves).
    specs, treedef = tree_util.tree_flatten(logical_axis_resources, is_leaf=_is_logical_spec)
    for spec, sub in zip(specs, _flatten_up_to(treedef, x)):
        check(spec, sub)
    return x


# --- the logical box -------------------------------------------------------------


@dataclass(frozen=True)
class LogicallyPartitioned(Partitioned):
    """A :class:`~nnref.meta.Partitioned` box whose names are logical.

    ``get_partition_spec()`` gives the logical names; map a tree of them with
    :func:`logical_to_mesh`. ``rules`` is kept for parity with ``nnjax``.

    >>> import numpy as np
    >>> from nnref import spmd
    >>> box = spmd.LogicallyPartitioned(np.ones((2, 3)), ('embed', 'hidden'))
    >>> box.get_partition_spec()
    PartitionSpec('embed', 'hidden')
    >>> spmd.logical_to_mesh(box.get_partition_spec(), (('hidden', 'model'),))
    PartitionSpec(None, 'model')
    """

    rules: Any = None

    def __post_init__(self):
        super().__post_init__()
        if self.rules is not None and not isinstance(self.rules, tuple):
            object.__setattr__(self, 'rules', tuple(tuple(r) for r in self.rules))


def with_logical_partitioning(
    fn: Callable[..., Any], names, mesh=None, rules=None
) -> Callable[..., LogicallyPartitioned]:
    """Wraps ``fn`` (typically an initializer) to return a :class:`LogicallyPartitioned`.

    >>> from nnref import initializers, random, spmd
    >>> init = spmd.with_logical_partitioning(initializers.ones_init(), ('embed', 'hidden'))
    >>> box = init(random.PRNGKey(0), (2, 3))
    >>> type(box).__name__, box.names, box.rules
    ('LogicallyPartitioned', ('embed', 'hidden'), None)
    """
    names = _check_names(names, 'with_logical_partitioning')

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return LogicallyPartitioned(fn(*args, **kwargs), names, mesh=mesh, rules=rules)

    return _declare_boxed_output(wrapper, fn)  # its shape is fn's: apply checks it without running fn
