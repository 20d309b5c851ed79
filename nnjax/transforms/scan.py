"""``nn.scan``: a module applied step by step along an axis, as one ``lax.scan``.

Each collection is one of three kinds inside the loop:

* **broadcast** (``variable_broadcast``): the same variables at every step,
  read-only in the loop. They may be *created* in the body (e.g. an LSTM
  cell's parameters at init) if they do not depend on the loop's values: a
  first pass over one step computes them (following the jaxpr's data flow
  to check that independence), then the loop runs with them fixed;
* **carry** (``variable_carry``): threaded through the steps like the carry;
* **scanned** (``variable_axes``): one slice per step, stacked along an axis;
  ``In(axis)`` scans a collection in only (read-only in the loop, nothing
  written there comes back), ``Out(axis)`` out only (every step starts
  without it; what the steps make is stacked and returned).

``split_rngs`` gives every step its own keys for a stream (split) or the
same ones. Arguments after the carry are scanned along ``in_axes`` (or
passed whole with ``nn.broadcast``); outputs are stacked along ``out_axes``.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Block(nn.Module):
...   @nn.compact
...   def __call__(self, x, _):
...     return x + nn.relu(nn.Dense(2)(x)), None
>>> Stack = nn.scan(Block, variable_axes={'params': 0}, split_rngs={'params': True}, length=4)
>>> variables = Stack().init(jax.random.PRNGKey(0), jnp.ones((1, 2)), None)
>>> variables['params']['Dense_0']['kernel'].shape  # one layer per step
(4, 2, 2)
"""

from __future__ import annotations

from typing import Callable, Mapping

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend import core as jax_core

from nnjax import meta
from nnjax.lift import Lift
from nnjax.transforms.module_forms import lift_transform
from shared_spec import errors, scan_args
from shared_spec.in_out_axes import split_in_out
from shared_spec.transform_args import validate_options


class _Broadcast:
    """The ``in_axes``/``out_axes`` marker for a value that is not scanned."""

    def __repr__(self) -> str:
        return "nn.broadcast"

    def __reduce__(self):
        return "broadcast"


#: Marks an argument (``in_axes``) or output (``out_axes``) of ``nn.scan`` as passed whole to every step.
broadcast = _Broadcast()


def _is_axis_leaf(x) -> bool:
    return x is None or x is broadcast or isinstance(x, int)


def _per_arg(axes, args: tuple) -> tuple:
    return tuple(axes) if isinstance(axes, (list, tuple)) else (axes,) * len(args)


def _map_axes(fn, axes, *trees):
    """``fn(axis, *subtrees)`` for each leaf of the prefix tree ``axes``."""
    return jax.tree_util.tree_map(fn, axes, *trees, is_leaf=_is_axis_leaf)


def _to_front(axis, subtree):
    if axis is broadcast:
        return None
    return jax.tree_util.tree_map(lambda x: jnp.moveaxis(x, axis, 0), subtree)


def _from_front(axis, subtree):
    return jax.tree_util.tree_map(lambda x: jnp.moveaxis(x, 0, axis), subtree)


def _scan_length(axes, args, path) -> set:
    lengths = set()

    def visit(axis, subtree):
        if axis is not broadcast:
            for leaf in jax.tree_util.tree_leaves(subtree):
                shape = jnp.shape(leaf)
                if axis is None or not -len(shape) <= axis < len(shape):
                    raise ValueError(
                        f"nn.scan(in_axes=...) at module {errors.format_path(path)}: axis {axis!r} does not fit "
                        f"an input of shape {tuple(shape)}; expected an axis in [{-len(shape)}, {len(shape)}) "
                        "or nn.broadcast (passed whole to every step)."
                    )
                lengths.add(shape[axis])

    try:
        _map_axes(visit, axes, args)
    except ValueError as error:
        if "nn.scan(" in str(error):
            raise
        raise ValueError(
            f"nn.scan(in_axes={axes!r}) at module {errors.format_path(path)}: the axes do not match "
            f"the structure of the inputs after the carry ({error}); expected one entry per input "
            "(or a single int for all)."
        ) from None
    return lengths


# Primitives whose outputs depend on their inputs exactly as the outputs of their inner jaxpr do
# (JAX's partial evaluation, which the seed system uses here, looks inside them too).
_CALL_PRIMITIVES = frozenset({"jit", "pjit", "closed_call", "core_call", "remat2", "checkpoint", "custom_jvp_call"})


def _dependent_outputs(jaxpr, dependent: list) -> list:
    """For each output of ``jaxpr``: does it depend on an input marked True in ``dependent``?

    A forward walk over the data flow: an equation's outputs depend on the
    marked inputs if one of its operands does; inside jit, remat, cond,
    while and scan it follows the inner jaxprs (loops to a fixed point over
    the carry), so a value computed there from constants stays independent.
    Any other primitive with a dependent operand makes all its outputs
    dependent.
    """
    marked = {v for v, d in zip(jaxpr.invars, dependent) if d}
    for eqn in jaxpr.eqns:
        operands = [isinstance(v, jax_core.Var) and v in marked for v in eqn.invars]
        if any(operands):
            marked.update(v for v, d in zip(eqn.outvars, _equation_outputs(eqn, operands)) if d)
    return [isinstance(v, jax_core.Var) and v in marked for v in jaxpr.outvars]


def _equation_outputs(eqn, operands: list) -> list:
    """Which outputs of one equation depend on its operands marked True."""
    name, params = eqn.primitive.name, eqn.params
    if name in _CALL_PRIMITIVES:
        inner = params.get("jaxpr", params.get("call_jaxpr"))
        return _dependent_outputs(getattr(inner, "jaxpr", inner), operands)
    if name == "cond" and not operands[0]:  # a dependent branch index makes every output dependent
        per_branch = [_dependent_outputs(b.jaxpr, operands[1:]) for b in params["branches"]]
        return [any(outs) for outs in zip(*per_branch)]
    if name == "while":
        n_cond, n_body = params["cond_nconsts"], params["body_nconsts"]
        cond_consts, body_consts = operands[:n_cond], operands[n_cond : n_cond + n_body]
        carry = _fixed_point(params["body_jaxpr"].jaxpr, body_consts, operands[n_cond + n_body :], [])
        if _dependent_outputs(params["cond_jaxpr"].jaxpr, cond_consts + carry)[0]:
            return [True] * len(eqn.outvars)
        return carry
    if name == "scan":
        n_consts, n_carry = params["num_consts"], params["num_carry"]
        consts, xs = operands[:n_consts], operands[n_consts + n_carry :]
        carry = _fixed_point(params["jaxpr"].jaxpr, consts, operands[n_consts : n_consts + n_carry], xs)
        return carry + _dependent_outputs(params["jaxpr"].jaxpr, consts + carry + xs)[n_carry:]
    return [True] * len(eqn.outvars)


def _fixed_point(body, consts: list, carry: list, xs: list) -> list:
    """The carry entries of a loop that depend on the marked operands after any number of iterations."""
    while True:
        out = _dependent_outputs(body, consts + carry + xs)[: len(carry)]
        grown = [a or b for a, b in zip(carry, out)]
        if grown == carry:
            return carry
        carry = grown


def _evaluate_independent(closed, out_tree):
    """Values of a traced function's outputs that depend on none of its inputs.

    Raises if some output depends on an input (a broadcast variable computed
    from the loop's values cannot be hoisted out of the loop).
    """
    jaxpr = closed.jaxpr
    # every input (carry, scanned slices, split keys) varies from step to step
    if any(_dependent_outputs(jaxpr, [True] * len(jaxpr.invars))):
        raise ValueError(scan_args.DATA_DEPENDENCY)
    needed = {v for v in jaxpr.outvars if not hasattr(v, "val")}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in needed for v in eqn.outvars):
            kept.append(eqn)
            needed.update(v for v in eqn.invars if not hasattr(v, "val"))
    pruned = jaxpr.replace(eqns=list(reversed(kept)))
    dummies = [jnp.zeros(v.aval.shape, v.aval.dtype) for v in jaxpr.invars]
    return jax.tree_util.tree_unflatten(out_tree, jax.core.eval_jaxpr(pruned, closed.consts, *dummies))


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
    """Scope-level scan: ``lifted(scopes, carry, *xs)`` -> ``(carry, ys)`` with ``fn(inner_scopes, carry, *x)``."""
    # In(axis) / Out(axis) put a collection on one side only (shared_spec.in_out_axes)
    sides = split_in_out(variable_axes)
    variable_scan_axes, variable_out_axes = sides.in_axes, sides.out_axes
    in_filters = (variable_broadcast, variable_carry) + sides.in_filters
    out_filters = (variable_broadcast, variable_carry) + sides.out_filters
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init, *args):
        lift = Lift(scopes, in_filters, out_filters, rng_filters)
        path = scopes[-1].path
        arg_axes = _per_arg(in_axes, args)
        if len(arg_axes) != len(args):
            raise ValueError(
                f"nn.scan(in_axes={in_axes!r}) at module {errors.format_path(path)}: {len(arg_axes)} "
                f"axes for {len(args)} input(s) after the carry; expected one entry per input (or a "
                "single int/nn.broadcast for all)."
            )
        if not check_constancy_invariants and _has_broadcast(out_axes):
            raise ValueError(scan_args.unchecked_broadcast_outputs(out_axes, path))
        n = scan_args.step_count(length, _scan_length(arg_axes, args, path))
        if n == 0:
            raise ValueError(
                f"nn.scan at module {errors.format_path(path)}: the scanned axis has size 0 (length 0), so "
                "there is no step to run (and scanned variables would be created empty); expected "
                "at least one step."
            )

        broadcast_vars, carry_vars = lift.variable_groups[:2]
        try:
            scan_vars = tuple(
                _to_front(axis, meta.remove_axis(group, axis, metadata_params))
                for group, axis in zip(lift.variable_groups[2:], variable_scan_axes)
            )
        except ValueError as error:
            raise ValueError(scan_args.variable_axes_misfit(variable_axes, path, error)) from None
        rng_steps = tuple(
            tuple({s: jax.random.split(k, n) for s, k in streams.items()} for streams in group) if split else None
            for group, split in zip(lift.rng_groups, rng_splits)
        )
        xs = tuple(_to_front(axis, arg) for axis, arg in zip(arg_axes, args))

        def step(broadcast_in, carry, sliced):
            carry_vars, c = carry
            scan_slices, rng_slices, x_slices = sliced
            step_args = tuple(arg if axis is broadcast else x for axis, arg, x in zip(arg_axes, args, x_slices))
            rngs = tuple(s if split else full for s, full, split in zip(rng_slices, lift.rng_groups, rng_splits))
            groups = (broadcast_in, carry_vars) + tuple(scan_slices)
            if data_transform is not None:
                groups, rngs = data_transform(groups, rngs)
            inner = lift.scopes(groups, rngs)
            c, y = fn(inner, c, *step_args)
            out = lift.repack(inner)
            broadcast_out = tuple({**group_in, **group_out} for group_in, group_out in zip(broadcast_in, out[0]))
            return broadcast_out, (out[1], c), (y, out[2:])

        sliced = (scan_vars, rng_steps, xs)

        # pass 1: the broadcast variables (and broadcast outputs), hoisted out of the loop
        def broadcast_pass(carry, one_step):
            broadcast_out, _, (y, _) = step(broadcast_vars, carry, one_step)
            y_broadcast = _map_axes(lambda axis, v: v if axis is broadcast else None, out_axes, y)
            return broadcast_out, y_broadcast

        if check_constancy_invariants:
            one_step = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), sliced)
            closed, out_shape = jax.make_jaxpr(broadcast_pass, return_shape=True)((carry_vars, init), one_step)
            broadcast_consts, y_consts = _evaluate_independent(closed, jax.tree_util.tree_structure(out_shape))
        else:
            # no first pass: the loop reads the broadcast variables as given, and what the body
            # writes to them (or creates in them) is dropped, as in the seed system
            broadcast_consts, y_consts = broadcast_vars, None

        # pass 2: the loop
        def body(carry, one_step):
            _, carry, (y, scan_out) = step(broadcast_consts, carry, one_step)
            y = _map_axes(lambda axis, v: None if axis is broadcast else v, out_axes, y)
            return carry, (y, scan_out)

        (carry_vars, c), (ys, scan_out) = lax.scan(
            body, (carry_vars, init), sliced, length=n, reverse=reverse, unroll=unroll
        )
        try:
            ys = _map_axes(
                lambda axis, stacked: stacked if axis is broadcast else _from_front(axis, stacked), out_axes, ys
            )
            ys = _merge_broadcast(out_axes, ys, y_consts)
            scan_out = tuple(
                meta.add_axis(_from_front(axis, group), axis, metadata_params)
                for group, axis in zip(scan_out, variable_out_axes)
            )
        except ValueError as error:
            raise ValueError(scan_args.output_axes_misfit(out_axes, variable_axes, path, error)) from None
        lift.publish((broadcast_consts, carry_vars) + scan_out)
        return c, ys

    return lifted


def _merge_broadcast(out_axes, ys, y_consts):
    """Stacked outputs with the broadcast ones (computed once, in pass 1) put back."""
    return (
        _map_axes(lambda axis, stacked, const: const if axis is broadcast else stacked, out_axes, ys, y_consts)
        if _has_broadcast(out_axes)
        else ys
    )


def _has_broadcast(axes) -> bool:
    return any(a is broadcast for a in jax.tree_util.tree_leaves(axes, is_leaf=_is_axis_leaf))


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
    """A lifted ``jax.lax.scan`` of a Module class or of a function ``body(module, carry, *xs)``.

    The scanned method has the signature ``(carry, *xs) -> (carry, ys)``.
    ``variable_axes``: collection filter -> axis along which its variables
    are stacked (one slice per step), or ``In(axis)`` / ``Out(axis)`` for in
    only / out only; ``variable_broadcast``: collections
    shared by all steps (read-only in the loop); ``variable_carry``:
    collections threaded through the steps; ``split_rngs``: stream filter ->
    whether each step gets its own keys; ``in_axes``/``out_axes``: the
    scanned axis of each ``x`` / ``y`` (``nn.broadcast``: passed whole);
    ``length``, ``reverse``, ``unroll`` as in ``lax.scan``;
    ``metadata_params`` is passed to boxed variables' ``add_axis``.
    ``check_constancy_invariants`` (default True): a first pass over one step
    computes the broadcast variables and outputs and checks that they do not
    depend on the loop's values (ValueError otherwise); with False that pass
    is skipped (faster tracing): the loop reads the broadcast variables as
    given, drops what the body writes to them (so they cannot be created in
    the loop), and ``out_axes`` may not contain ``nn.broadcast``.

    An LSTM over the time axis of ``(batch, time, features)`` inputs:

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> LSTM = nn.scan(nn.LSTMCell, variable_broadcast='params', split_rngs={'params': False},
    ...                in_axes=1, out_axes=1)
    >>> xs = jnp.ones((2, 5, 3))
    >>> carry = nn.LSTMCell(4).initialize_carry(jax.random.PRNGKey(0), xs[:, 0].shape)
    >>> variables = LSTM(4).init(jax.random.PRNGKey(1), carry, xs)
    >>> (c, h), ys = LSTM(4).apply(variables, carry, xs)
    >>> ys.shape
    (2, 5, 4)
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
