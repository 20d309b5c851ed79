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
from nnref.transforms.lifting import transform_direct


def while_loop_core(cond_body: Callable, loop_body: Callable, carry_variables=False, broadcast_variables=True,
                    split_rngs: Mapping = {}):
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init):
        lift = Lift(scopes, (carry_variables, broadcast_variables), (carry_variables,), rng_filters)
        carry_vars, broadcast_vars = lift.variable_groups

        def step_rngs(i: int):
            data = np.uint32(i % 2 ** 32)
            return tuple(
                tuple({s: nrandom.fold_in(k, data) for s, k in streams.items()} for streams in group) if split
                else group
                for group, split in zip(lift.rng_groups, rng_splits))

        def run_body(carry_vars, carry, i: int):
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(i))
            new_carry = loop_body(inner, carry)
            (new_vars,) = lift.repack(inner)
            check_carry((carry_vars, carry), (new_vars, new_carry),
                        "nn.while_loop: the carry and the carry_variables collections")
            return new_vars, new_carry

        start = lift.counts()
        after_body = None
        carry, i = init, 0
        while True:
            lift.set_counts(start)
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(-i), mutable_filter=False)
            go = bool(cond_body(inner, carry))
            if not go:
                break
            carry_vars, carry = run_body(carry_vars, carry, i)
            after_body = lift.counts()
            i += 1
        if after_body is None:
            # lax traces the body even when it never runs: its make_rng draws
            # still count and its carry is still checked; its results are dropped.
            run_body(carry_vars, carry, 0)
            after_body = lift.counts()
        lift.set_counts(after_body)
        lift.publish((carry_vars,))
        return carry

    return lifted


def while_loop(cond_fn: Callable, body_fn: Callable, mdl, init, carry_variables=False, broadcast_variables=True,
               split_rngs: Mapping = {}):
    """A while loop with ``cond_fn(mdl, carry)`` and ``body_fn(mdl, carry) -> carry`` (see the module docstring)."""
    return transform_direct(while_loop_core, (cond_fn, body_fn), mdl, init, carry_variables=carry_variables,
                            broadcast_variables=broadcast_variables, split_rngs=split_rngs)


def _select_core(*bodies: Callable, index=None, variables=True, rngs=True):
    def lifted(scopes, *operands):
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        results = []
        for body in bodies:  # every branch runs, as every branch is traced by lax
            inner = lift.scopes(lift.variable_groups, lift.rng_groups)
            y = body(inner, *operands)
            results.append((y, lift.repack(inner)))
        y, out_groups = results[index]
        lift.publish(out_groups)
        return y

    return lifted


def cond(pred, true_fun: Callable, false_fun: Callable, mdl, *operands, variables=True, rngs=True):
    """``true_fun(mdl, *operands)`` if ``pred`` else ``false_fun(mdl, *operands)``."""
    return transform_direct(_select_core, (true_fun, false_fun), mdl, *operands,
                            index=0 if bool(np.asarray(pred)) else 1, variables=variables, rngs=rngs)


def switch(index, branches: Sequence[Callable], mdl, *operands, variables=True, rngs=True):
    """``branches[index](mdl, *operands)``, ``index`` clamped to the valid range like ``lax.switch``."""
    chosen = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
    return transform_direct(_select_core, tuple(branches), mdl, *operands, index=chosen, variables=variables,
                            rngs=rngs)
