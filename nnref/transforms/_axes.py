"""Slicing and stacking along mapped axes, for the loop forms of vmap and scan.

``axes`` arguments are *prefix trees* of the value they describe, as in
``jax.vmap``: an int (the mapped axis of every leaf below), ``None`` (not
mapped), or a tuple/list/dict matching the value's structure.
"""

from __future__ import annotations

import numpy as np

from nnref.tree_util import tree_flatten, tree_leaves, tree_map
from shared_spec import errors


def map_prefix(fn, axes, tree, *rest):
    """``fn(axis, subtree, *rest_subtrees)`` for every leaf of the prefix tree ``axes``."""
    if isinstance(axes, (tuple, list)) and not hasattr(axes, "_fields"):
        if not isinstance(tree, (tuple, list)) or len(tree) != len(axes):
            raise ValueError(f"axes {axes!r} do not match the structure of the value they describe")
        return type(tree)(map_prefix(fn, a, t, *(r[i] for r in rest)) for i, (a, t) in enumerate(zip(axes, tree)))
    if isinstance(axes, dict):
        return {k: map_prefix(fn, axes[k], tree[k], *(r[k] for r in rest)) for k in tree}
    return fn(axes, tree, *rest)


def per_arg(axes, args: tuple) -> tuple:
    return tuple(axes) if isinstance(axes, (list, tuple)) else (axes,) * len(args)


def take(tree, axis: int, i: int):
    """Index ``i`` along ``axis`` of every leaf."""
    return tree_map(lambda x: np.take(np.asarray(x), i, axis=axis), tree)


def stack(trees: list, axis: int):
    """The leaves of ``trees`` stacked along a new ``axis``."""
    return tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=axis), *trees)


def axis_sizes(axes, tree, skip=(None,), what: str = "nn.vmap(in_axes=...)", path=()) -> set:
    """Sizes of the mapped axes of ``tree``; ``what`` names the transform and argument in errors."""
    sizes = set()

    def visit(axis, subtree):
        if any(axis is s for s in skip):
            return subtree
        for leaf in tree_leaves(subtree):
            shape = np.shape(leaf)
            if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
                raise ValueError(
                    f"{what} at module {errors.format_path(path)}: axis {axis!r} does not fit a value of shape "
                    f"{tuple(shape)}; expected an axis in [{-len(shape)}, {len(shape)}) or "
                    f"{' or '.join(repr(s) for s in skip)} (not mapped)."
                )
            sizes.add(shape[axis])
        return subtree

    try:
        map_prefix(visit, axes, tree)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        if isinstance(error, ValueError) and " at module " in str(error):
            raise
        raise ValueError(
            f"{what} at module {errors.format_path(path)}: the axes {axes!r} do not match the "
            f"structure of the values they describe ({error!r}); expected one entry per argument "
            "(or a single int for all)."
        ) from None
    return sizes


def check_length(transform: str, argument: str, axes, args: tuple, path) -> None:
    """A tuple/list of per-argument axes has one entry per argument."""
    if isinstance(axes, (list, tuple)) and len(axes) != len(args):
        raise ValueError(
            f"nn.{transform}({argument}={axes!r}) at module {errors.format_path(path)}: {len(axes)} "
            f"axes for {len(args)} argument(s); expected one entry per argument after the module "
            "(or a single value for all)."
        )


def check_not_empty(transform: str, n: int, path) -> None:
    """Both backends refuse a mapped/scanned axis of size 0 (nothing to run; variables would be empty)."""
    if n == 0:
        raise ValueError(
            f"nn.{transform} at module {errors.format_path(path)}: the mapped/scanned axis has size 0, "
            "so there is nothing to run (and mapped variables would be created empty); expected "
            "size at least 1."
        )


def take_keys(group: tuple, i: int) -> tuple:
    """Row ``i`` of split keys, per scope and stream."""
    return tuple({s: keys[i] for s, keys in streams.items()} for streams in group)


def check_carry(before, after, what: str) -> None:
    """The loop rule of ``lax.scan``/``lax.while_loop``: a carry keeps its structure and shapes.

    ``what`` names the carry in the message. This includes the carried
    collections: variables cannot be created in the loop, and an immutable
    carried collection cannot be written (it would vanish from the carry).
    """
    leaves_in, tree_in = tree_flatten(before)
    leaves_out, tree_out = tree_flatten(after)
    if tree_in != tree_out or [np.shape(x) for x in leaves_in] != [np.shape(x) for x in leaves_out]:
        raise TypeError(
            f"{what} must keep their structure and shapes from one iteration to the next. Variables of a "
            "carried collection cannot be created inside the loop (create them before it, e.g. with a first "
            "call outside the loop), and the collection must be mutable in the call."
        )
