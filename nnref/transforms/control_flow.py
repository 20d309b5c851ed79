"""``nn.while_loop``, ``nn.cond`` and ``nn.switch`` in nnref: Python control flow.

To agree with ``lax``, which traces every branch, ``cond`` and ``switch``
run *every* branch (in order, each on fresh lifted scopes, sharing the
``make_rng`` counters as the traces do) and keep the result and variable
updates of the selected one. ``while_loop`` gives iteration ``i`` the keys
``fold_in(key, i)`` of split streams (``fold_in(key, -i)`` in the
condition) and starts every evaluation of the condition, and of the body,
from the same counters; a loop that never iterates still runs the body once
(results dropped), as ``lax`` traces it.

>>> import numpy as np
>>> import nnref as nn
>>> class Twice(nn.Module):
...   @nn.compact
...   def __call__(self, x, pred):
...     return nn.cond(pred, lambda m, x: 2 * x, lambda m, x: x, self, x)
>>> Twice().apply({}, np.ones(2), True)
array([2., 2.])
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from nnref import random as nrandom
from nnref.lift import Lift
from nnref.transforms._axes import check_carry
from nnref.transforms.module_forms import transform_direct
from nnref.tree_util import tree_flatten, tree_map
from shared_spec.transform_args import branch_mismatch_error, check_loop_condition, check_predicate


def while_loop_core(
    cond_body: Callable, loop_body: Callable, carry_variables=False, broadcast_variables=True, split_rngs: Mapping = {}
):
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init):
        lift = Lift(scopes, (carry_variables, broadcast_variables), (carry_variables,), rng_filters)
        carry_vars, broadcast_vars = lift.variable_groups

        def step_rngs(i: int):
            data = np.uint32(i % 2**32)
            return tuple(
                tuple({s: nrandom.fold_in(k, data) for s, k in streams.items()} for streams in group)
                if split
                else group
                for group, split in zip(lift.rng_groups, rng_splits)
            )

        def run_body(carry_vars, carry, i: int):
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(i))
            new_carry = loop_body(inner, carry)
            (new_vars,) = lift.repack(inner)
            check_carry(
                (carry_vars, carry),
                (new_vars, new_carry),
                "nn.while_loop: the carry and the carry_variables collections",
            )
            return new_vars, new_carry

        start = lift.snapshot_counters()
        after_body = None
        carry, i = init, 0
        while True:
            lift.restore_counters(start)
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(-i), mutable_filter=False)
            go = cond_body(inner, carry)
            check_loop_condition(type(go).__name__, np.shape(go), np.asarray(go).dtype, scopes[-1].path)
            if not bool(go):
                break
            carry_vars, carry = run_body(carry_vars, carry, i)
            after_body = lift.snapshot_counters()
            i += 1
        if after_body is None:
            # lax traces the body even when it never runs: its make_rng draws
            # still count and its carry is still checked; its results are dropped.
            run_body(carry_vars, carry, 0)
            after_body = lift.snapshot_counters()
        lift.restore_counters(after_body)
        lift.publish((carry_vars,))
        return carry

    return lifted


def _signature(result):
    leaves, treedef = tree_flatten(result)
    return treedef, [np.shape(x) for x in leaves]


def while_loop(
    cond_fn: Callable,
    body_fn: Callable,
    mdl,
    init,
    carry_variables=False,
    broadcast_variables=True,
    split_rngs: Mapping = {},
):
    """A while loop with ``cond_fn(mdl, carry)`` and ``body_fn(mdl, carry) -> carry`` (see the module docstring)."""
    return transform_direct(
        while_loop_core,
        (cond_fn, body_fn),
        mdl,
        init,
        carry_variables=carry_variables,
        broadcast_variables=broadcast_variables,
        split_rngs=split_rngs,
        transform_name="while_loop",
    )


def _select_core(*bodies: Callable, index=None, variables=True, rngs=True, transform="cond"):
    def lifted(scopes, *operands):
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        results = []
        for body in bodies:  # every branch runs, as every branch is traced by lax
            inner = lift.scopes(lift.variable_groups, lift.rng_groups)
            y = body(inner, *operands)
            results.append((y, lift.repack(inner)))
        signatures = [_signature(r) for r in results]
        if any(s != signatures[0] for s in signatures[1:]):
            shapes = [tree_map(np.shape, r) for r in results]
            raise branch_mismatch_error(transform, scopes[-1].path, shapes)
        y, out_groups = results[index]
        lift.publish(out_groups)
        return y

    return lifted


def cond(pred, true_fun: Callable, false_fun: Callable, mdl, *operands, variables=True, rngs=True):
    """``true_fun(mdl, *operands)`` if ``pred`` else ``false_fun(mdl, *operands)``."""
    check_predicate("cond", "pred", np.shape(pred), getattr(mdl.scope, "path", ()) if hasattr(mdl, "scope") else ())
    return transform_direct(
        _select_core,
        (true_fun, false_fun),
        mdl,
        *operands,
        index=0 if bool(np.asarray(pred)) else 1,
        variables=variables,
        rngs=rngs,
        transform="cond",
        transform_name="cond",
    )


def switch(index, branches: Sequence[Callable], mdl, *operands, variables=True, rngs=True):
    """``branches[index](mdl, *operands)``, ``index`` clamped to the valid range like ``lax.switch``."""
    check_predicate("switch", "index", np.shape(index), getattr(mdl.scope, "path", ()) if hasattr(mdl, "scope") else ())
    chosen = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
    return transform_direct(
        _select_core,
        tuple(branches),
        mdl,
        *operands,
        index=chosen,
        variables=variables,
        rngs=rngs,
        transform="switch",
        transform_name="switch",
    )
