"""``nn.scan`` in nnref: a Python loop over the scanned axis.

The steps follow the production backend's ``lax.scan`` exactly:

1. a first pass runs the body on step 0 to create the *broadcast* variables
   (``variable_broadcast``), which then stay fixed for the whole loop
   (writes to them inside the loop are dropped);
2. every step then starts from the same ``make_rng`` counters (JAX traces
   the body once), with its own keys for split streams (row ``i`` of
   ``split(key, length)``), its slice of the scanned variables and inputs,
   and the carry and carry variables of the previous step;
3. scanned outputs and variables are stacked along their axes.

nnref cannot see data flow, so unlike the production backend it does not
detect a broadcast variable computed from the loop's values.

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

from shared_spec.errors import format_path as path_text

from nnref import meta
from nnref import random as nrandom
from nnref.interception import trace_only_pass
from nnref.lift import Lift
from nnref.transforms._axes import (axis_sizes, check_carry, check_length, check_not_empty, map_prefix, per_arg,
                                    stack, take, take_keys)
from nnref.transforms.lifting import lift_transform, validate_options


class _Broadcast:
    """The ``in_axes``/``out_axes`` marker for a value that is not scanned."""

    def __repr__(self) -> str:
        return "nn.broadcast"


#: Marks an argument (``in_axes``) or output (``out_axes``) of ``nn.scan`` as passed whole to every step.
broadcast = _Broadcast()


def scan_core(fn: Callable, variable_axes: Mapping = {}, variable_broadcast=False, variable_carry=False,
              split_rngs: Mapping = {}, in_axes=0, out_axes=0, length=None, reverse=False, unroll=1,
              data_transform=None, metadata_params: Mapping = {}, _split_transpose=False):
    axes_filters = tuple(variable_axes.keys())
    scan_axes = tuple(variable_axes.values())
    filters = (variable_broadcast, variable_carry) + axes_filters
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init, *args):
        lift = Lift(scopes, filters, filters, rng_filters)
        path = scopes[-1].path
        check_length("scan", "in_axes", in_axes, args, path)
        arg_axes = per_arg(in_axes, args)
        lengths = axis_sizes(arg_axes, args, skip=(broadcast,), what="nn.scan(in_axes=...)", path=path)
        if length is not None:
            if lengths - {length}:  # lax.scan's check
                raise ValueError(f"nn.scan: length={length} disagrees with the lengths {sorted(lengths)} of the "
                                 "scanned axes of the inputs.")
            n = length
        elif len(lengths) == 1:
            (n,) = lengths
        elif lengths:
            raise ValueError(f"nn.scan: inconsistent lengths {sorted(lengths)} of the scanned axes of the inputs.")
        else:
            raise ValueError("nn.scan: nothing is scanned over, so the number of steps is unknown; pass length=.")
        check_not_empty("scan", n, path)
        broadcast_vars, carry_vars = lift.variable_groups[:2]
        scan_vars = tuple(meta.remove_axis(g, a, metadata_params)
                          for g, a in zip(lift.variable_groups[2:], scan_axes))
        split_keys = tuple(
            tuple({s: nrandom.split(k, n) for s, k in streams.items()} for streams in group) if split else None
            for group, split in zip(lift.rng_groups, rng_splits))

        def step(i, broadcast_in, carry_vars, c):
            rngs = tuple(take_keys(keys, i) if split else group
                         for keys, group, split in zip(split_keys, lift.rng_groups, rng_splits))
            try:
                groups = (broadcast_in, carry_vars) + tuple(take(g, a, i) for g, a in zip(scan_vars, scan_axes))
            except np.exceptions.AxisError as error:
                raise ValueError(f"nn.scan(variable_axes={dict(variable_axes)!r}) at module {path_text(path)}: an "
                                 f"axis does not fit the variables it describes ({error}); expected an axis in "
                                 "[-ndim, ndim) of each variable of the collection.") from None
            if data_transform is not None:
                groups, rngs = data_transform(groups, rngs)
            step_args = map_prefix(lambda a, x: x if a is broadcast else take(x, a, i), arg_axes, args)
            inner = lift.scopes(groups, rngs)
            c, y = fn(inner, c, *step_args)
            out = lift.repack(inner)
            merged = tuple({**g_in, **g_out} for g_in, g_out in zip(broadcast_in, out[0]))
            return merged, out[1], c, y, out[2:]

        # 1. the broadcast pass (its make_rng draws count, as the production backend's first trace does)
        first = n - 1 if reverse else 0
        with trace_only_pass():
            broadcast_vars, _, _, y_first, _ = step(first, broadcast_vars, carry_vars, init)
        # 2. the loop, every step from the same counters
        counts = lift.counts()
        c = init
        ys, scanned = [None] * n, [None] * n
        for i in (reversed(range(n)) if reverse else range(n)):
            lift.set_counts(counts)
            before = (carry_vars, c)
            _, carry_vars, c, ys[i], scanned[i] = step(i, broadcast_vars, carry_vars, c)
            check_carry(before, (carry_vars, c), "nn.scan: the carry and the variable_carry collections")
        try:
            ys = _stack_outputs(out_axes, ys, y_first)
            scan_out = tuple(meta.add_axis(stack([s[g] for s in scanned], a), a, metadata_params)
                             for g, a in enumerate(scan_axes))
        except (ValueError, IndexError, KeyError, TypeError) as error:  # numpy's AxisError is both
            raise ValueError(f"nn.scan(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module "
                             f"{path_text(path)}: an output or variable axis does not fit the value it describes "
                             f"({error}); expected axes in [-ndim-1, ndim] of each stacked output (one per "
                             "output, or a single int/nn.broadcast for all).") from None
        lift.publish((broadcast_vars, carry_vars) + scan_out)
        return c, ys

    return lifted


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


def scan(target, variable_axes: Mapping = {}, variable_broadcast=False, variable_carry=False,
         split_rngs: Mapping = {}, in_axes=0, out_axes=0, length=None, reverse=False, unroll=1,
         data_transform=None, metadata_params: Mapping = {}, methods=None, _split_transpose=False):
    """A lifted scan of a Module class or of a function ``body(module, carry, *xs)``.

    Same arguments and semantics as the production backend's ``nn.scan``
    (``unroll`` changes nothing in a Python loop).
    """
    validate_options("scan", dict(variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes,
                                  out_axes=out_axes, length=length), axis_markers=(broadcast,))
    return lift_transform("scan", scan_core, target, methods=methods, variable_axes=variable_axes,
                          variable_broadcast=variable_broadcast, variable_carry=variable_carry,
                          split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes, length=length,
                          reverse=reverse, unroll=unroll, data_transform=data_transform,
                          metadata_params=metadata_params)
