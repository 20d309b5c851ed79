"""``nn.scan`` in nnref: a Python loop over the scanned axis.

The production backend compiles the body once with ``lax.scan``; nnref runs
it once per step, arranged so that every step sees what a step of the
compiled loop sees (the list is in :func:`scan`'s docstring).

nnref cannot see data flow. With ``check_constancy_invariants=True`` it
detects a broadcast variable (or broadcast output) computed from the loop's
values by running the first pass a second time on other values (another
step's slices, floats of the carry and slices shifted by one) and comparing:
a dependency that changes nothing there (``0 * carry``) goes unnoticed,
which the production backend, following the data flow, would report.

>>> import nnref as nn
>>> import numpy as np
>>> class Accumulate(nn.Module):
...   @nn.compact
...   def __call__(self, total, x):
...     total = total + nn.Dense(2)(x)
...     return total, total
>>> Loop = nn.scan(Accumulate, variable_broadcast='params', split_rngs={'params': False})
>>> xs = np.ones((5, 3), np.float32)
>>> variables = Loop().init(nn.random.PRNGKey(0), np.zeros(2, np.float32), xs)
>>> variables['params']['Dense_0']['kernel'].shape  # one Dense, shared by the 5 steps
(3, 2)
>>> total, running = Loop().apply(variables, np.zeros(2, np.float32), xs)
>>> running.shape, bool(np.allclose(running[-1], total))
((5, 2), True)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

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
from nnref.transforms.module_forms import lift_transform
from nnref.tree_util import tree_flatten, tree_map
from shared_spec import scan_args
from shared_spec.in_out_axes import split_in_out
from shared_spec.transform_args import validate_options


class _Broadcast:
    """Marker type: a scan argument or output that every step shares whole (not sliced, not stacked)."""

    def __repr__(self) -> str:
        return "nn.broadcast"


#: Put in ``in_axes`` / ``out_axes`` of ``nn.scan``: pass this argument whole / return this output once.
broadcast = _Broadcast()


class StepResult(NamedTuple):
    """What one run of the scan body hands back to the loop."""

    broadcast: tuple  # the broadcast collections: what the step read, overlaid with what it wrote
    carry_vars: tuple  # the variable_carry collections, input of the next step
    carry: Any  # the carry, input of the next step
    y: Any  # this step's output, stacked along out_axes after the loop
    scanned: tuple  # this step's slice of each collection scanned out (variable_axes)


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
    """``lifted(scopes, init, *xs) -> (carry, ys)``: the loop of :func:`scan` over the given scopes.

    ``unroll`` and ``_split_transpose`` only shape compiled code, so a
    Python loop ignores them.
    """
    sides = split_in_out(variable_axes)  # In(axis) / Out(axis): a collection scanned on one side only
    # the Lift hands collections over in groups: broadcast, carry, then one group per scanned filter
    groups_in = (variable_broadcast, variable_carry) + sides.in_filters
    groups_out = (variable_broadcast, variable_carry) + sides.out_filters
    split_flags = tuple(bool(flag) for flag in split_rngs.values())

    def lifted(scopes, init, *args):
        lift = Lift(scopes, groups_in, groups_out, tuple(split_rngs))
        path = scopes[-1].path
        check_length("scan", "in_axes", in_axes, args, path)
        if not check_constancy_invariants and _has_broadcast(out_axes):
            raise ValueError(scan_args.unchecked_broadcast_outputs(out_axes, path))
        arg_axes = per_arg(in_axes, args)
        sizes = axis_sizes(arg_axes, args, skip=(broadcast,), what="nn.scan(in_axes=...)", path=path)
        if length is not None and sizes - {length}:  # lax.scan makes this check in the production backend
            raise ValueError(
                f"nn.scan: length={length} disagrees with the lengths {sorted(sizes)} of the "
                "scanned axes of the inputs."
            )
        n = scan_args.step_count(length, sizes)
        check_not_empty("scan", n, path)
        broadcast_vars, carry_vars = lift.variable_groups[:2]
        # the scanned axis leaves the variables' metadata (boxed variables record their axes)
        scan_vars = tuple(
            meta.remove_axis(group, axis, metadata_params)
            for group, axis in zip(lift.variable_groups[2:], sides.in_axes)
        )
        # a split stream gets n keys, row i for step i; the key of a stream that is not split is shared
        step_keys = tuple(
            tuple({name: nrandom.split(key, n) for name, key in streams.items()} for streams in group)
            if split
            else None
            for group, split in zip(lift.rng_groups, split_flags)
        )

        def run_step(i, broadcast_in, carry_vars, carry, probe=False) -> StepResult:
            """Step ``i``; ``probe`` replaces every value the loop varies (the constancy check)."""
            rngs = tuple(
                take_keys(keys, i) if split else group
                for keys, group, split in zip(step_keys, lift.rng_groups, split_flags)
            )
            try:
                slices = tuple(take(group, axis, i) for group, axis in zip(scan_vars, sides.in_axes))
            except np.exceptions.AxisError as error:
                raise ValueError(scan_args.variable_axes_misfit(variable_axes, path, error)) from None
            groups = (broadcast_in, carry_vars) + slices
            if data_transform is not None:
                groups, rngs = data_transform(groups, rngs)
            xs = map_prefix(lambda axis, x: x if axis is broadcast else take(x, axis, i), arg_axes, args)
            if probe:  # everything but the broadcast collections gets other values
                groups = (groups[0],) + _shifted(groups[1:])
                carry = _shifted(carry)
                xs = map_prefix(lambda axis, x: x if axis is broadcast else _shifted(x), arg_axes, xs)
            inner = lift.scopes(groups, rngs)
            carry, y = fn(inner, carry, *xs)
            written = lift.repack(inner)
            # variables the body created in a broadcast collection join the ones it read
            broadcast_out = tuple({**read, **wrote} for read, wrote in zip(broadcast_in, written[0]))
            return StepResult(broadcast_out, written[1], carry, y, written[2:])

        # Pass 1 (the production backend's first trace): the first step creates the broadcast variables.
        # Its make_rng draws count, as that trace's do.
        first = n - 1 if reverse else 0
        first_y = None
        if check_constancy_invariants:
            counts_before = lift.snapshot_counters()
            with trace_only_pass():
                first_pass = run_step(first, broadcast_vars, carry_vars, init)
            counts_after = lift.snapshot_counters()
            lift.restore_counters(counts_before)  # the probe must draw the same keys as the first pass
            try:
                with trace_only_pass():
                    probe = run_step((first + 1) % n, broadcast_vars, carry_vars, init, probe=True)
            except Exception:  # the shifted values broke the body (not the user's inputs): no verdict
                probe = None
            lift.restore_counters(counts_after)
            if probe is not None and not (
                _same(first_pass.broadcast, probe.broadcast)
                and _same(_broadcast_part(out_axes, first_pass.y), _broadcast_part(out_axes, probe.y))
            ):
                raise ValueError(scan_args.DATA_DEPENDENCY)
            broadcast_vars, first_y = first_pass.broadcast, first_pass.y
        # (without pass 1 the steps read the broadcast collections as given; their writes are dropped)

        # Pass 2: the loop. lax.scan traces the body once, so every compiled step folds the same
        # make_rng counter values into its keys. Resetting the counters before each step gives each
        # step those values too (split streams still differ: their keys are different rows), and
        # leaves the counters after the loop where one traced step leaves them.
        loop_counts = lift.snapshot_counters()
        carry = init
        ys, scanned = [None] * n, [None] * n
        for i in reversed(range(n)) if reverse else range(n):
            lift.restore_counters(loop_counts)
            before = (carry_vars, carry)
            step = run_step(i, broadcast_vars, carry_vars, carry)
            carry_vars, carry, ys[i], scanned[i] = step.carry_vars, step.carry, step.y, step.scanned
            # lax.scan needs a carry of fixed structure and shapes; nnref enforces the same rule
            check_carry(before, (carry_vars, carry), "nn.scan: the carry and the variable_carry collections")

        # Stack the per-step outputs and out-scanned collections along their axes.
        try:
            ys = _stack_outputs(out_axes, ys, first_y if first_y is not None else ys[first])
            scan_out = tuple(
                meta.add_axis(stack([s[g] for s in scanned], axis), axis, metadata_params)
                for g, axis in enumerate(sides.out_axes)
            )
        except (ValueError, IndexError, KeyError, TypeError) as error:  # numpy's AxisError is both
            raise ValueError(scan_args.output_axes_misfit(out_axes, variable_axes, path, error)) from None
        lift.publish((broadcast_vars, carry_vars) + scan_out)
        return carry, ys

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
    """Run ``target`` (a Module class, or ``body(module, carry, *xs)``) once per step, threading a carry.

    The scanned method maps ``(carry, *xs)`` to ``(carry, y)``. Its
    collections are split three ways by filters: ``variable_broadcast`` (one
    copy shared by all steps), ``variable_carry`` (threaded from step to
    step like the carry) and ``variable_axes`` (one slice per step, stacked
    along an axis). A call goes like this:

    1. **Number of steps** ``n``: ``length``, or the size of the scanned
       axis (``in_axes``) of the inputs after the carry.
    2. **Keys**: a stream in ``split_rngs`` with ``True`` is split into
       ``n`` keys, row ``i`` for step ``i``; other streams give every step
       the same key.
    3. **Broadcast pass** (``check_constancy_invariants=True``): the first
       step (the last one if ``reverse``) runs once to create the broadcast
       variables; they must not depend on the loop's values (ValueError
       otherwise), and are then fixed: later writes to them are dropped.
       Outputs marked ``nn.broadcast`` in ``out_axes`` come from this pass.
    4. **The loop**: step ``i`` gets the fixed broadcast variables, the
       carry and carried collections of the step before, slice ``i`` of the
       scanned collections and inputs (``nn.broadcast`` inputs whole), and
       its keys. Its ``make_rng`` counters are reset to the same values
       before every step: the production backend traces the body once, so
       all its steps draw from one set of counters. A collection scanned
       ``In(axis)`` is read-only; one scanned ``Out(axis)`` starts absent.
    5. **Stacking**: the outputs and the scanned collections of all steps
       are stacked along ``out_axes`` / ``variable_axes``.

    ``unroll`` changes nothing in a Python loop; ``metadata_params`` goes
    to boxed variables' ``add_axis``/``remove_axis``; ``data_transform``
    may rewrite each step's collections and keys.

    A recurrent cell run backwards over 6 time steps (axis 0 of ``xs``),
    its parameters shared by all steps (step 3 creates them from step 0's
    slice, then the loop runs steps 5, 4, ..., 0):

    >>> import nnref as nn
    >>> import numpy as np
    >>> Backwards = nn.scan(nn.SimpleCell, variable_broadcast='params', split_rngs={'params': False},
    ...                     reverse=True)
    >>> xs = np.ones((6, 2, 3), np.float32)  # (time, batch, features)
    >>> h0 = np.zeros((2, 5), np.float32)
    >>> variables = Backwards(5).init(nn.random.PRNGKey(0), h0, xs)
    >>> h, hs = Backwards(5).apply(variables, h0, xs)
    >>> hs.shape, bool(np.allclose(hs[0], h))  # the last step run is step 0
    ((6, 2, 5), True)
    """
    validate_options(
        "scan",
        dict(variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes, length=length),
        axis_markers=(broadcast,),
    )
    # the options in the groups of the docstring: collections, loop, keys, and the rest
    collections = dict(
        variable_axes=variable_axes, variable_broadcast=variable_broadcast, variable_carry=variable_carry
    )
    loop = dict(in_axes=in_axes, out_axes=out_axes, length=length, reverse=reverse, unroll=unroll)
    more = dict(data_transform=data_transform, metadata_params=metadata_params)
    return lift_transform(
        "scan",
        scan_core,
        target,
        methods=methods,
        split_rngs=split_rngs,
        check_constancy_invariants=check_constancy_invariants,
        **collections,
        **loop,
        **more,
    )
