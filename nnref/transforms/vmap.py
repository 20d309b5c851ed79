"""``nn.vmap`` in nnref: the module run once per index of the mapped axis, results stacked.

``jax.vmap`` runs a function on a whole batch at once; nnref spells the
batch out as a Python loop over the ``n`` indices of the mapped axis. For
each index ``i``:

1. **arguments**: each argument with an int axis in ``in_axes`` is cut at
   index ``i`` of that axis; one with axis ``None`` is passed whole;
2. **variables**: a collection with an int axis in ``variable_axes`` is
   cut the same way (its per-index slice is what the module sees); one with
   axis ``None`` is shared by every index. ``In(axis)`` cuts a collection
   but never stacks it back (read-only inside), ``Out(axis)`` starts
   without it and only stacks what the module made (see
   ``shared_spec.in_out_axes``);
3. **random streams**: a stream with ``split_rngs`` true is split once into
   ``n`` keys and index ``i`` gets key ``i``; an unsplit stream gives every
   index the same key;
4. **counters**: before each index the ``make_rng`` counters are put back
   where they were before the loop. ``jax.vmap`` traces the body once, so
   every index derives its keys from the *same* counter values; without the
   reset, index 1 would see counters already advanced by index 0;
5. **run** the module on the slices and keep its output and writes.

After the loop, outputs and written collections are stacked along their
axis (``out_axes`` / ``variable_axes``). An output or collection with axis
``None`` must be the same at every index, which ``jax.vmap`` demands too
(nnref checks equal values, JAX checks that nothing mapped flowed in).

>>> import nnref as nn
>>> import numpy as np
>>> PerRowDense = nn.vmap(nn.Dense, variable_axes={'params': 0}, split_rngs={'params': True})
>>> rows = np.ones((3, 4), np.float32)  # 3 independent rows of 4 features
>>> variables = PerRowDense(2).init(nn.random.PRNGKey(1), rows)
>>> variables['params']['kernel'].shape  # a separate (4, 2) kernel per row
(3, 4, 2)
>>> PerRowDense(2).apply(variables, rows).shape
(3, 2)
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


def _batch_size(sizes: set, axis_size) -> int:
    """``n``: the one size shared by every mapped axis, or ``axis_size`` when given (then all must match it)."""
    if axis_size is not None:
        if sizes - {axis_size}:
            raise ValueError(
                f"nn.vmap: axis_size={axis_size} but the mapped axes of the inputs and variables have sizes "
                f"{sorted(sizes)}; they must all be equal."
            )
        return axis_size
    if not sizes:
        raise ValueError("nn.vmap: no input or variable is mapped, so the axis size is unknown; pass axis_size=.")
    if len(sizes) > 1:
        raise ValueError(
            f"nn.vmap: inconsistent sizes {sorted(sizes)} of the mapped axes of the inputs and variables; they "
            "must all be equal."
        )
    return next(iter(sizes))


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
    """The scope-level vmap: the returned ``run(scopes, *args)`` does the loop of the module docstring."""
    sides = split_in_out(variable_axes)  # In(axis)/Out(axis) give different in and out filters
    stream_filters = tuple(split_rngs)
    splits = tuple(bool(split) for split in split_rngs.values())

    def run(scopes, *args, **kwargs):
        if kwargs:
            raise TypeError(
                f"nn.vmap passes positional arguments only (got keyword arguments {sorted(kwargs)}); pass them "
                "positionally and give their axes in in_axes."
            )
        lift = Lift(scopes, sides.in_filters, sides.out_filters, stream_filters)
        path = scopes[-1].path
        check_length("vmap", "in_axes", in_axes, args, path)
        arg_axes = per_arg(in_axes, args)
        var_sizes = axis_sizes(sides.in_axes, lift.variable_groups, what="nn.vmap(variable_axes=...)", path=path)
        arg_sizes = axis_sizes(arg_axes, args, what="nn.vmap(in_axes=...)", path=path)
        n = _batch_size(var_sizes | arg_sizes, axis_size)
        check_not_empty("vmap", n, path)

        # Step 3, done once: n keys per split stream.
        n_keys = []
        for group, split in zip(lift.rng_groups, splits):
            n_keys.append(
                tuple({name: nrandom.split(key, n) for name, key in streams.items()} for streams in group)
                if split
                else None
            )
        # The mapped axis is not part of a variable's own shape (metadata such as
        # partitioning names is told so).
        unbatched = []
        for group, axis in zip(lift.variable_groups, sides.in_axes):
            unbatched.append(group if axis is None else meta.remove_axis(group, axis, metadata_params))

        def slice_variables(i):
            return tuple(g if axis is None else take(g, axis, i) for g, axis in zip(unbatched, sides.in_axes))

        def keys_for(i):
            return tuple(
                take_keys(keys, i) if split else group for keys, group, split in zip(n_keys, lift.rng_groups, splits)
            )

        def slice_arguments(i):
            return map_prefix(lambda axis, x: x if axis is None else take(x, axis, i), arg_axes, args)

        counters_before = lift.snapshot_counters()
        outputs, writes = [], []
        for i in range(n):
            lift.restore_counters(counters_before)  # step 4
            index_scopes = lift.scopes(slice_variables(i), keys_for(i))
            outputs.append(fn(index_scopes, *slice_arguments(i)))
            writes.append(lift.repack(index_scopes))
        # The counters now stand where the single trace would leave them.
        try:
            result = _stack_outputs(out_axes, outputs)
            stacked = []
            for g, axis in enumerate(sides.out_axes):
                per_index = [w[g] for w in writes]
                if axis is None:
                    stacked.append(_unmapped(per_index))
                else:
                    stacked.append(meta.add_axis(stack(per_index, axis), axis, metadata_params))
        except (ValueError, IndexError, KeyError, TypeError) as error:  # numpy's AxisError is both
            raise ValueError(
                f"nn.vmap(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module {path_text(path)}: "
                f"an output or variable axis does not fit the value it describes ({error}); expected axes in "
                "[-ndim-1, ndim] of each output (one per output, or a single int/None for all)."
            ) from None
        lift.publish(tuple(stacked))
        return result

    return run


def _stack_outputs(axes, outputs: list):
    """Stack the per-index outputs: ``axes`` is a prefix of the output tree, one axis (or ``None``) per part."""
    if isinstance(axes, (tuple, list)) and not hasattr(axes, "_fields"):  # a namedtuple is one leaf
        parts = [_stack_outputs(axis, [out[k] for out in outputs]) for k, axis in enumerate(axes)]
        return type(outputs[0])(parts)
    if isinstance(axes, dict):
        return {key: _stack_outputs(axes[key], [out[key] for out in outputs]) for key in outputs[0]}
    return _unmapped(outputs) if axes is None else stack(outputs, axes)


def _unmapped(values: list):
    """The value every index agreed on, for an output or collection with axis ``None``.

    JAX rejects an unmapped result that *depends* on mapped inputs. nnref
    cannot see dependencies, only values, so it rejects results that
    *differ* between indices; a dependency that happens to give equal
    values at every index is not caught.
    """
    reference_leaves, reference_tree = tree_flatten(values[0])
    for i in range(1, len(values)):
        leaves, tree = tree_flatten(values[i])
        same = tree == reference_tree and all(_equal(a, b) for a, b in zip(reference_leaves, leaves))
        if not same:
            raise ValueError(
                f"axis None (unmapped) was given for a value that differs between index 0 and index {i} of the "
                "mapped axis; map it (an int axis) or make it independent of the mapped values"
            )
    return values[0]


def _equal(a, b) -> bool:
    """Same shape and values; NaN equals NaN when both arrays are floating (a NaN output is still 'the same')."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    both_inexact = np.issubdtype(a.dtype, np.inexact) and np.issubdtype(b.dtype, np.inexact)
    return bool(np.array_equal(a, b, equal_nan=both_inexact))


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
    """Map a Module class (or a function whose first argument is a module) over a new leading-or-given axis.

    ``in_axes``/``out_axes`` place the mapped axis in the arguments and
    outputs, ``variable_axes`` in each collection, ``split_rngs`` chooses
    per stream between one key per index and one shared key; ``axis_size``
    fixes ``n`` when nothing mapped tells it. ``axis_name`` and
    ``spmd_axis_name`` are accepted for compatibility: nnref has no
    collective operations that would use them.
    """
    options = dict(variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes)
    options["axis_size"] = axis_size
    validate_options("vmap", options)
    options.update(axis_name=axis_name, spmd_axis_name=spmd_axis_name, metadata_params=metadata_params)
    return lift_transform("vmap", vmap_core, target, methods=methods, **options)
