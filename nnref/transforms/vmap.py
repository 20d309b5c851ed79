"""``nn.vmap`` in nnref: the module run once per index of the mapped axis, results stacked.

JAX traces a vmapped function once, so every index sees the same
``make_rng`` counter values; this loop resets the counters before each
index to reproduce that. Mapped collections are sliced per index and
stacked back (a collection mapped ``In(axis)`` is sliced but not stacked
back, one mapped ``Out(axis)`` only stacked back); split streams give index
``i`` row ``i`` of ``split(key, n)``. An unmapped (axis ``None``) output or
written collection must be the same at every index, as ``jax.vmap``
requires (nnref compares values; JAX follows the data flow).

>>> import nnref as nn
>>> import numpy as np
>>> BatchDense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
...                      variable_axes={'params': 0}, split_rngs={'params': True})
>>> x = np.ones((4, 2, 5), np.float32)
>>> variables = BatchDense(3).init(nn.random.PRNGKey(0), x)
>>> variables['params']['kernel'].shape
(4, 5, 3)
>>> BatchDense(3).apply(variables, x).shape
(4, 2, 3)
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from nnref import meta
from nnref import random as nrandom
from nnref.lift import Lift
from nnref.transforms._axes import (
    axis_sizes,
    check_length,
    check_not_empty,
    map_prefix,
    per_arg,
    stack,
    take,
    take_keys,
)
from nnref.transforms.module_forms import lift_transform
from nnref.tree_util import tree_flatten
from shared_spec.errors import format_path as path_text
from shared_spec.in_out_axes import split_in_out
from shared_spec.transform_args import validate_options


def vmap_core(
    fn: Callable,
    variable_axes: Mapping = {},
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    axis_size=None,
    axis_name=None,
    spmd_axis_name=None,
    metadata_params: Mapping = {},
):
    # In(axis) / Out(axis) put a collection on one side only (shared_spec.in_out_axes)
    sides = split_in_out(variable_axes)
    var_axes, out_var_axes = sides.in_axes, sides.out_axes
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, *args, **kwargs):
        if kwargs:
            raise TypeError(
                f"nn.vmap passes positional arguments only (got keyword arguments {sorted(kwargs)}); "
                "pass them positionally and give their axes in in_axes."
            )
        lift = Lift(scopes, sides.in_filters, sides.out_filters, rng_filters)
        path = scopes[-1].path
        check_length("vmap", "in_axes", in_axes, args, path)
        arg_axes = per_arg(in_axes, args)
        sizes = axis_sizes(var_axes, lift.variable_groups, what="nn.vmap(variable_axes=...)", path=path) | axis_sizes(
            arg_axes, args, what="nn.vmap(in_axes=...)", path=path
        )
        if axis_size is not None:
            if sizes - {axis_size}:  # jax.vmap's check: every mapped axis has axis_size entries
                raise ValueError(
                    f"nn.vmap: axis_size={axis_size} but the mapped axes of the inputs and "
                    f"variables have sizes {sorted(sizes)}; they must all be equal."
                )
            n = axis_size
        elif len(sizes) == 1:
            (n,) = sizes
        elif sizes:
            raise ValueError(
                f"nn.vmap: inconsistent sizes {sorted(sizes)} of the mapped axes of the "
                "inputs and variables; they must all be equal."
            )
        else:
            raise ValueError("nn.vmap: no input or variable is mapped, so the axis size is unknown; pass axis_size=.")
        check_not_empty("vmap", n, path)
        split_keys = tuple(
            tuple({s: nrandom.split(k, n) for s, k in streams.items()} for streams in group) if split else None
            for group, split in zip(lift.rng_groups, rng_splits)
        )
        var_groups = tuple(
            group if axis is None else meta.remove_axis(group, axis, metadata_params)
            for group, axis in zip(lift.variable_groups, var_axes)
        )
        # jax.vmap traces the body once, so make_rng runs once per call site and
        # every index gets keys derived from the *same* counter values (an
        # unsplit stream gives all indices the same key). Looping, nnref would
        # advance the counters at each index; resetting them before each index
        # reproduces the single trace, and leaves them where that trace ends.
        counts = lift.snapshot_counters()
        ys, outs = [], []
        for i in range(n):
            lift.restore_counters(counts)
            groups_i = tuple(g if a is None else take(g, a, i) for g, a in zip(var_groups, var_axes))
            rngs_i = tuple(
                take_keys(keys, i) if split else group
                for keys, group, split in zip(split_keys, lift.rng_groups, rng_splits)
            )
            args_i = map_prefix(lambda a, x, i=i: x if a is None else take(x, a, i), arg_axes, args)
            inner = lift.scopes(groups_i, rngs_i)
            ys.append(fn(inner, *args_i))
            outs.append(lift.repack(inner))
        try:
            y = _stack_outputs(out_axes, ys)
            out_groups = tuple(
                _unmapped([o[g] for o in outs])
                if axis is None
                else meta.add_axis(stack([o[g] for o in outs], axis), axis, metadata_params)
                for g, axis in enumerate(out_var_axes)
            )
        except (ValueError, IndexError, KeyError, TypeError) as error:  # numpy's AxisError is both
            raise ValueError(
                f"nn.vmap(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module "
                f"{path_text(path)}: an output or variable axis does not fit the value it describes "
                f"({error}); expected axes in [-ndim-1, ndim] of each output (one per output, or a "
                "single int/None for all)."
            ) from None
        lift.publish(out_groups)
        return y

    return lifted


def _stack_outputs(axes, ys: list):
    """Per-index outputs stacked along the prefix tree ``axes`` (``None``: the same for all, first kept)."""
    if isinstance(axes, (tuple, list)) and not hasattr(axes, "_fields"):
        return type(ys[0])(_stack_outputs(a, [y[i] for y in ys]) for i, a in enumerate(axes))
    if isinstance(axes, dict):
        return {k: _stack_outputs(axes[k], [y[k] for y in ys]) for k in ys[0]}
    if axes is None:
        return _unmapped(ys)
    return stack(ys, axes)


def _unmapped(values: list):
    """The one value of an unmapped (axis ``None``) output or variable group, the same at every index.

    ``jax.vmap`` refuses an unmapped output that depends on the mapped
    values; nnref, seeing no data flow, refuses one that differs between
    indices (a dependency that yields equal values goes unnoticed).
    """
    first_leaves, first_def = tree_flatten(values[0])
    for i, value in enumerate(values[1:], 1):
        leaves, treedef = tree_flatten(value)
        if treedef != first_def or not all(_equal(a, b) for a, b in zip(first_leaves, leaves)):
            raise ValueError(
                f"axis None (unmapped) was given for a value that differs between index 0 and "
                f"index {i} of the mapped axis; map it (an int axis) or make it independent of "
                "the mapped values"
            )
    return values[0]


def _equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    nan = np.issubdtype(a.dtype, np.inexact) and np.issubdtype(b.dtype, np.inexact)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=nan))


def vmap(
    target,
    variable_axes: Mapping = {},
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    axis_size=None,
    axis_name=None,
    spmd_axis_name=None,
    metadata_params: Mapping = {},
    methods=None,
):
    """A lifted vmap of a Module class or of a function whose first argument is a module.

    Same arguments and semantics as the production backend's ``nn.vmap``;
    ``axis_name`` is accepted but nnref has no collectives over it.
    """
    validate_options(
        "vmap",
        dict(
            variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes, axis_size=axis_size
        ),
    )
    return lift_transform(
        "vmap",
        vmap_core,
        target,
        methods=methods,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        axis_size=axis_size,
        axis_name=axis_name,
        spmd_axis_name=spmd_axis_name,
        metadata_params=metadata_params,
    )
