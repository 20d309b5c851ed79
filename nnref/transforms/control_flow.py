"""``nn.while_loop``, ``nn.cond`` and ``nn.switch`` in nnref: plain Python ``while`` and ``if``.

The production backend hands these to ``lax``, and ``lax`` *traces* code
before running it: every branch of a ``cond``/``switch`` is traced, and a
``while_loop`` body is traced once even when the loop never iterates.
Tracing runs the Python code, so it creates variables and draws keys. To
end with the same variables and the same ``make_rng`` counters, nnref
repeats what the traces do:

``cond`` / ``switch``
    1. run every branch, in order, each on its own fresh lifted scopes
       (the ``make_rng`` counters are shared, so draws add up as they do
       across the traces);
    2. check that all branches returned the same structure and shapes;
    3. keep the return value and the variable writes of the chosen branch
       only.

``while_loop``
    1. evaluate the condition on read-only scopes; the keys of split streams
       are ``fold_in(key, -i)`` at iteration ``i``;
    2. run the body with keys ``fold_in(key, i)``; only ``carry_variables``
       may change, and never in structure or shape;
    3. every evaluation of the condition starts from the counters the loop
       started with (a trace is evaluated from the same state each time);
    4. a loop that stops at once still runs its body one time for its key
       draws and carry check, and throws the results away.

>>> import numpy as np
>>> import nnref as nn
>>> class SignedScale(nn.Module):
...   @nn.compact
...   def __call__(self, v, flip):
...     return nn.cond(flip, lambda m, v: -3 * v, lambda m, v: 3 * v, self, v)
>>> SignedScale().apply({}, np.array([1.0, -2.0]), False)
array([ 3., -6.])
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

_CARRY_NAME = "nn.while_loop: the carry and the carry_variables collections"


def _keys_at(rng_groups: tuple, folds: tuple, step: int) -> tuple:
    """The stream groups for one evaluation: a split group has its keys folded with ``step``, others unchanged."""
    data = np.uint32(step % 2**32)  # fold_in takes an unsigned 32-bit number; -i wraps around
    at_step = []
    for group, fold in zip(rng_groups, folds):
        if fold:
            group = tuple({name: nrandom.fold_in(key, data) for name, key in streams.items()} for streams in group)
        at_step.append(group)
    return tuple(at_step)


def while_loop_core(
    cond_body: Callable, loop_body: Callable, carry_variables=False, broadcast_variables=True, split_rngs: Mapping = {}
):
    """The scope-level loop: the returned ``run(scopes, init)`` follows the ``while_loop`` steps of the module docstring."""
    stream_filters = tuple(split_rngs)
    folds = tuple(bool(split) for split in split_rngs.values())

    def run(scopes, init):
        # Group 0 is carried (and written back), group 1 only read.
        lift = Lift(scopes, (carry_variables, broadcast_variables), (carry_variables,), stream_filters)
        loop_state, read_only = lift.variable_groups

        def condition_holds(loop_state, carry, i) -> bool:
            lift.restore_counters(counters_at_start)  # step 3
            cond_scopes = lift.scopes(
                (loop_state, read_only), _keys_at(lift.rng_groups, folds, -i), mutable_filter=False
            )
            answer = cond_body(cond_scopes, carry)
            check_loop_condition(type(answer).__name__, np.shape(answer), np.asarray(answer).dtype, scopes[-1].path)
            return bool(answer)

        def one_pass(loop_state, carry, i):
            body_scopes = lift.scopes((loop_state, read_only), _keys_at(lift.rng_groups, folds, i))
            next_carry = loop_body(body_scopes, carry)
            (next_state,) = lift.repack(body_scopes)
            check_carry((loop_state, carry), (next_state, next_carry), _CARRY_NAME)
            return next_state, next_carry

        counters_at_start = lift.snapshot_counters()
        counters_after_body = None
        carry = init
        i = 0
        while condition_holds(loop_state, carry, i):
            loop_state, carry = one_pass(loop_state, carry, i)
            counters_after_body = lift.snapshot_counters()
            i += 1
        if counters_after_body is None:  # step 4
            one_pass(loop_state, carry, 0)
            counters_after_body = lift.snapshot_counters()
        # The counters end where the last body left them, as after lax's loop.
        lift.restore_counters(counters_after_body)
        lift.publish((loop_state,))
        return carry

    return run


def while_loop(
    cond_fn: Callable,
    body_fn: Callable,
    mdl,
    init,
    carry_variables=False,
    broadcast_variables=True,
    split_rngs: Mapping = {},
):
    """Loop ``carry = body_fn(mdl, carry)`` while ``cond_fn(mdl, carry)``, starting from ``init``.

    ``carry_variables`` are the collections the body may update (carried
    from pass to pass), ``broadcast_variables`` those it only reads, and
    ``split_rngs`` says per stream filter whether each pass gets its own
    keys. The steps are in the module docstring.
    """
    options = dict(carry_variables=carry_variables, broadcast_variables=broadcast_variables, split_rngs=split_rngs)
    return transform_direct(while_loop_core, (cond_fn, body_fn), mdl, init, transform_name="while_loop", **options)


def _structure(result):
    """What must agree between branches: the tree structure and each leaf's shape."""
    leaves, treedef = tree_flatten(result)
    return treedef, [np.shape(leaf) for leaf in leaves]


def _select_core(*bodies: Callable, index=None, variables=True, rngs=True, transform="cond"):
    """Scope-level ``cond``/``switch``: steps 1-3 of the module docstring, keeping branch ``index``."""

    def run(scopes, *operands):
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        outcomes = []  # (return value, variable writes) of each branch
        for body in bodies:
            branch_scopes = lift.scopes(lift.variable_groups, lift.rng_groups)
            value = body(branch_scopes, *operands)
            outcomes.append((value, lift.repack(branch_scopes)))
        first = _structure(outcomes[0])
        if any(_structure(outcome) != first for outcome in outcomes[1:]):
            raise branch_mismatch_error(transform, scopes[-1].path, [tree_map(np.shape, o) for o in outcomes])
        chosen_value, chosen_writes = outcomes[index]
        lift.publish(chosen_writes)
        return chosen_value

    return run


def _path_of(mdl) -> tuple:
    """Where ``mdl`` sits, for error messages; ``()`` when it is not bound."""
    return getattr(mdl.scope, "path", ()) if hasattr(mdl, "scope") else ()


def _run_one_of(name: str, branches: tuple, chosen: int, mdl, operands: tuple, variables, rngs):
    options = dict(index=chosen, variables=variables, rngs=rngs, transform=name)
    return transform_direct(_select_core, branches, mdl, *operands, transform_name=name, **options)


def cond(pred, true_fun: Callable, false_fun: Callable, mdl, *operands, variables=True, rngs=True):
    """Return ``true_fun(mdl, *operands)`` when ``pred`` holds, else ``false_fun(mdl, *operands)``.

    ``pred`` must be a scalar. Both functions run (see the module
    docstring); only the chosen one's variable writes are kept.
    """
    check_predicate("cond", "pred", np.shape(pred), _path_of(mdl))
    chosen = 0 if bool(np.asarray(pred)) else 1
    return _run_one_of("cond", (true_fun, false_fun), chosen, mdl, operands, variables, rngs)


def switch(index, branches: Sequence[Callable], mdl, *operands, variables=True, rngs=True):
    """Return ``branches[index](mdl, *operands)``; an ``index`` out of range picks the nearest end branch.

    As with ``cond``, every branch runs and only the chosen one's writes
    are kept.
    """
    check_predicate("switch", "index", np.shape(index), _path_of(mdl))
    chosen = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
    return _run_one_of("switch", tuple(branches), chosen, mdl, operands, variables, rngs)
