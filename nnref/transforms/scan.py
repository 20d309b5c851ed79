"""``nn.scan`` in nnref: a Python loop over the scanned axis.

The steps follow the production backend's ``lax.scan`` exactly:

1. a first pass runs the body on step 0 to create the *broadcast* variables
   (``variable_broadcast``), which then stay fixed for the whole loop
   (writes to them inside the loop are dropped);
2. every step then starts from the same ``make_rng`` counters (JAX traces
   the body once), with its own keys for split streams (row ``i`` of
   ``split(key, length)``), its slice of the scanned variables and inputs,
   and the carry and carry variables of the previous step (a collection
   scanned ``In(axis)`` is read-only in the steps; one scanned ``Out(axis)``
   starts absent in every step);
3. scanned outputs and variables are stacked along their axes.

nnref cannot see data flow. With ``check_constancy_invariants=True`` it
detects a broadcast variable (or broadcast output) computed from the loop's
values by running the first pass a second time on other values (another
step's slices, floats of the carry and slices shifted by one) and comparing:
a dependency that changes nothing there (``0 * carry``) goes unnoticed,
which the production backend, following the data flow, would report.

>>> import nnref as nn
>>> import numpy as np
>>> LSTM = nn.scan(nn.LSTMCell, variable_broadcast='params', split_rngs={'params': False},
...                in_axes=1, out_axes=1)
>>> xs = np.ones((2, 5, 3), np.float32)
>>> carry = nn.LSTMCell(4).initialize_carry(nn.random.PRNGKey(0), xs[:, 0].shape)
>>> variables = LSTM(4).init(nn.random.PRNGKey(1), carry, xs)
>>> (c, h), ys = LSTM(4).apply(variables, carry, xs)
>>> ys.shape
(2, 5, 4)
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from nnref import meta
from nnref import random as nrandom
from nnref.interception import trace_only_pass
from nnref.lift import Lift
from nnref.transforms._axes import (
    axis_sizes,
    check_carry,
    check_length,
    check_not_empty,
    map_prefix,
    per_arg,
    stack,
    take,
    take_keys,
)
from nnref.transforms.lifting import lift_transform, validate_options
from nnref.tree_util import tree_flatten, tree_map
from shared_spec.errors import format_path as path_text
from shared_spec.in_out_axes import split_in_out


class _Broadcast:
    """The ``in_axes``/``out_axes`` marker for a value that is not scanned."""

    def __repr__(self) -> str:
        return "nn.broadcast"


#: Marks an argument (``in_axes``) or output (``out_axes``) of ``nn.scan`` as passed whole to every step.
broadcast = _Broadcast()


def scan_core(
    fn: Callable,
    variable_axes: Mapping = {},
    variable_broadcast=False,
    variable_carry=False,
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    length=None,
    reverse=False,
    unroll=1,
    data_transform=None,
    metadata_params: Mapping = {},
    _split_transpose=False,
    check_constancy_invariants=True,
):
    # In(axis) / Out(axis) put a collection on one side only (shared_spec.in_out_axes)
    sides = split_in_out(variable_axes)
    scan_axes, out_scan_axes = sides.in_axes, sides.out_axes
    in_filters = (variable_broadcast, variable_carry) + sides.in_filters
    out_filters = (variable_broadcast, variable_carry) + sides.out_filters
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init, *args):
        lift = Lift(scopes, in_filters, out_filters, rng_filters)
        path = scopes[-1].path
        check_length("scan", "in_axes", in_axes, args, path)
        if not check_constancy_invariants and _has_broadcast(out_axes):
            raise ValueError(
                f"nn.scan run with check_constancy_invariants=False does not support broadcast non-carry function "
                f"outputs. out_axes was given as {out_axes!r} (module {path_text(path)}); mark no output "
                "nn.broadcast, or pass check_constancy_invariants=True."
            )
        arg_axes = per_arg(in_axes, args)
        lengths = axis_sizes(arg_axes, args, skip=(broadcast,), what="nn.scan(in_axes=...)", path=path)
        if length is not None:
            if lengths - {length}:  # lax.scan's check
                raise ValueError(
                    f"nn.scan: length={length} disagrees with the lengths {sorted(lengths)} of the "
                    "scanned axes of the inputs."
                )
            n = length
        elif len(lengths) == 1:
            (n,) = lengths
        elif lengths:
            raise ValueError(f"nn.scan: inconsistent lengths {sorted(lengths)} of the scanned axes of the inputs.")
        else:
            raise ValueError("nn.scan: nothing is scanned over, so the number of steps is unknown; pass length=.")
        check_not_empty("scan", n, path)
        broadcast_vars, carry_vars = lift.variable_groups[:2]
        scan_vars = tuple(meta.remove_axis(g, a, metadata_params) for g, a in zip(lift.variable_groups[2:], scan_axes))
        split_keys = tuple(
            tuple({s: nrandom.split(k, n) for s, k in streams.items()} for streams in group) if split else None
            for group, split in zip(lift.rng_groups, rng_splits)
        )

        def step(i, broadcast_in, carry_vars, c, shift=False):
            rngs = tuple(
                take_keys(keys, i) if split else group
                for keys, group, split in zip(split_keys, lift.rng_groups, rng_splits)
            )
            try:
                groups = (broadcast_in, carry_vars) + tuple(take(g, a, i) for g, a in zip(scan_vars, scan_axes))
            except np.exceptions.AxisError as error:
                raise ValueError(
                    f"nn.scan(variable_axes={dict(variable_axes)!r}) at module {path_text(path)}: an "
                    f"axis does not fit the variables it describes ({error}); expected an axis in "
                    "[-ndim, ndim) of each variable of the collection."
                ) from None
            if data_transform is not None:
                groups, rngs = data_transform(groups, rngs)
            step_args = map_prefix(lambda a, x: x if a is broadcast else take(x, a, i), arg_axes, args)
            if shift:  # the probe of the constancy check: other values for everything the loop varies
                groups = (groups[0],) + _shifted(groups[1:])
                c = _shifted(c)
                step_args = map_prefix(lambda a, x: x if a is broadcast else _shifted(x), arg_axes, step_args)
            inner = lift.scopes(groups, rngs)
            c, y = fn(inner, c, *step_args)
            out = lift.repack(inner)
            merged = tuple({**g_in, **g_out} for g_in, g_out in zip(broadcast_in, out[0]))
            return merged, out[1], c, y, out[2:]

        # 1. the broadcast pass (its make_rng draws count, as the production backend's first trace does)
        first = n - 1 if reverse else 0
        y_first = None
        if check_constancy_invariants:
            before = lift.counts()
            with trace_only_pass():
                new_broadcast, _, _, y_first, _ = step(first, broadcast_vars, carry_vars, init)
            after = lift.counts()
            lift.set_counts(before)  # the probe draws the same keys
            try:
                with trace_only_pass():
                    probe = step((first + 1) % n, broadcast_vars, carry_vars, init, shift=True)
            except Exception:  # the shifted values broke the body (not the user's inputs): no verdict
                probe = None
            lift.set_counts(after)
            if probe is not None and not (
                _same(new_broadcast, probe[0])
                and _same(_broadcast_part(out_axes, y_first), _broadcast_part(out_axes, probe[3]))
            ):
                raise ValueError(
                    "broadcasted variable has a data dependency on the scan body. nn.scan: a broadcast variable "
                    "(variable_broadcast) or broadcast output has a data dependency on the loop (the carry or "
                    "the scanned inputs). Broadcast variables are created once for all steps; make them "
                    "independent of the loop's values, or scan them with variable_axes instead."
                )
            broadcast_vars = new_broadcast
        # (without the check, the loop reads the broadcast variables as given and drops what it writes to them)
        # 2. the loop, every step from the same counters
        counts = lift.counts()
        c = init
        ys, scanned = [None] * n, [None] * n
        for i in reversed(range(n)) if reverse else range(n):
            lift.set_counts(counts)
            before = (carry_vars, c)
            _, carry_vars, c, ys[i], scanned[i] = step(i, broadcast_vars, carry_vars, c)
            check_carry(before, (carry_vars, c), "nn.scan: the carry and the variable_carry collections")
        try:
            ys = _stack_outputs(out_axes, ys, y_first if y_first is not None else ys[first])
            scan_out = tuple(
                meta.add_axis(stack([s[g] for s in scanned], a), a, metadata_params)
                for g, a in enumerate(out_scan_axes)
            )
        except (ValueError, IndexError, KeyError, TypeError) as error:  # numpy's AxisError is both
            raise ValueError(
                f"nn.scan(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module "
                f"{path_text(path)}: an output or variable axis does not fit the value it describes "
                f"({error}); expected axes in [-ndim-1, ndim] of each stacked output (one per "
                "output, or a single int/nn.broadcast for all)."
            ) from None
        lift.publish((broadcast_vars, carry_vars) + scan_out)
        return c, ys

    return lifted


def _shifted(tree):
    return tree_map(lambda x: np.asarray(x) + 1 if np.issubdtype(np.asarray(x).dtype, np.floating) else x, tree)


def _same(a, b) -> bool:
    """Bitwise-equal trees (NaN equals NaN)."""
    a_leaves, a_def = tree_flatten(a)
    b_leaves, b_def = tree_flatten(b)
    if a_def != b_def:
        return False
    for x, y in zip(a_leaves, b_leaves):
        x, y = np.asarray(x), np.asarray(y)
        nan = np.issubdtype(x.dtype, np.inexact) and np.issubdtype(y.dtype, np.inexact)
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=nan):
            return False
    return True


def _has_broadcast(axes) -> bool:
    if isinstance(axes, (tuple, list)):
        return any(_has_broadcast(a) for a in axes)
    if isinstance(axes, dict):
        return any(_has_broadcast(a) for a in axes.values())
    return axes is broadcast


def _broadcast_part(axes, y):
    """The outputs marked ``nn.broadcast`` in ``axes`` (None elsewhere)."""
    if isinstance(axes, (tuple, list)) and not hasattr(axes, "_fields"):
        return tuple(_broadcast_part(a, y[i]) for i, a in enumerate(axes))
    if isinstance(axes, dict):
        return {k: _broadcast_part(axes[k], y[k]) for k in axes}
    return y if axes is broadcast else None


def _stack_outputs(axes, ys: list, y_first):
    if isinstance(axes, (tuple, list)) and not hasattr(axes, "_fields"):
        return type(y_first)(_stack_outputs(a, [y[i] for y in ys], y_first[i]) for i, a in enumerate(axes))
    if isinstance(axes, dict):
        return {k: _stack_outputs(axes[k], [y[k] for y in ys], y_first[k]) for k in y_first}
    if axes is broadcast:
        return y_first  # computed once, in the broadcast pass
    if y_first is None:
        return None
    return stack(ys, axes)


def scan(
    target,
    variable_axes: Mapping = {},
    variable_broadcast=False,
    variable_carry=False,
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    length=None,
    reverse=False,
    unroll=1,
    data_transform=None,
    metadata_params: Mapping = {},
    methods=None,
    _split_transpose=False,
    check_constancy_invariants: bool = True,
):
    """A lifted scan of a Module class or of a function ``body(module, carry, *xs)``.

    Same arguments and semantics as the production backend's ``nn.scan``
    (``unroll`` changes nothing in a Python loop).
    """
    validate_options(
        "scan",
        dict(variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes, length=length),
        axis_markers=(broadcast,),
    )
    return lift_transform(
        "scan",
        scan_core,
        target,
        methods=methods,
        variable_axes=variable_axes,
        variable_broadcast=variable_broadcast,
        variable_carry=variable_carry,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        length=length,
        reverse=reverse,
        unroll=unroll,
        data_transform=data_transform,
        metadata_params=metadata_params,
        check_constancy_invariants=check_constancy_invariants,
    )
