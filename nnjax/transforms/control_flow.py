"""``nn.while_loop``, ``nn.cond`` and ``nn.switch``: ``lax`` control flow over a module.

The branches (or loop body) receive the module bound to lifted scopes. As in
``lax``, both branches of ``cond`` (every branch of ``switch``) are traced,
so variables they create or update must have the same structure in each;
``while_loop`` cannot create variables in its body (its carry variables
must keep their shapes), so run the body once first at init.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class CondExample(nn.Module):
...   @nn.compact
...   def __call__(self, x, pred):
...     self.variable('state', 'true_count', lambda: 0)
...     self.variable('state', 'false_count', lambda: 0)
...     def true_fn(mdl, x):
...       mdl.variable('state', 'true_count').value += 1
...       return nn.Dense(2, name='dense')(x)
...     def false_fn(mdl, x):
...       mdl.variable('state', 'false_count').value += 1
...       return -nn.Dense(2, name='dense')(x)
...     return nn.cond(pred, true_fn, false_fn, self, x)
>>> x = jnp.ones((1, 3))
>>> variables = CondExample().init(jax.random.PRNGKey(0), x, True)
>>> _, state = CondExample().apply(variables, x, False, mutable=['state'])
>>> int(state['state']['true_count']), int(state['state']['false_count'])
(1, 1)
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from nnjax.lift import Lift
from nnjax.transforms.module_forms import transform_direct
from shared_spec.transform_args import branch_mismatch_error, check_loop_condition, check_predicate


def while_loop_core(
    cond_body: Callable, loop_body: Callable, carry_variables=False, broadcast_variables=True, split_rngs: Mapping = {}
):
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, init):
        lift = Lift(scopes, (carry_variables, broadcast_variables), (carry_variables,), rng_filters)
        carry_vars, broadcast_vars = lift.variable_groups

        def step_rngs(i):
            return tuple(
                tuple({s: jax.random.fold_in(k, i) for s, k in streams.items()} for streams in group)
                if split
                else group
                for group, split in zip(lift.rng_groups, rng_splits)
            )

        def cond(state):
            i, carry_vars, carry = state
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(-i), mutable_filter=False)
            go = cond_body(inner, carry)
            check_loop_condition(type(go).__name__, jnp.shape(go), jnp.result_type(go), scopes[-1].path)
            return go

        def body(state):
            i, carry_vars, carry = state
            inner = lift.scopes((carry_vars, broadcast_vars), step_rngs(i))
            carry = loop_body(inner, carry)
            (carry_vars,) = lift.repack(inner)
            return i + 1, carry_vars, carry

        _, carry_vars, carry = lax.while_loop(cond, body, (0, carry_vars, init))
        lift.publish((carry_vars,))
        return carry

    return lifted


def _checked_select(select, transform: str, path, bodies, *operands):
    """``select(*bodies_traced, *operands)`` with a clear error when the branches' outputs differ."""
    shapes = []

    def recording(body):
        def run(*args):
            out = body(*args)
            shapes.append(jax.tree_util.tree_map(lambda x: (jnp.shape(x), jnp.result_type(x)), out))
            return out

        return run

    try:
        return select([recording(b) for b in bodies], *operands)
    except TypeError:
        if len(shapes) < 2 or all(s == shapes[0] for s in shapes):
            raise
        raise branch_mismatch_error(transform, path, shapes) from None


def while_loop(
    cond_fn: Callable,
    body_fn: Callable,
    mdl,
    init,
    carry_variables=False,
    broadcast_variables=True,
    split_rngs: Mapping = {},
):
    """``lax.while_loop`` with ``cond_fn(mdl, carry)`` and ``body_fn(mdl, carry) -> carry``.

    ``carry_variables``: collections the body may update (same shapes);
    ``broadcast_variables``: read-only collections (default all);
    ``split_rngs``: stream filter -> whether each iteration gets its own
    keys (iteration ``i`` folds ``i`` into the stream's key).
    """
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


def _branch(lift: Lift, body: Callable, *operands):
    inner = lift.scopes(lift.variable_groups, lift.rng_groups)
    y = body(inner, *operands)
    return y, lift.repack(inner)


def switch_core(*bodies: Callable, index=None, variables=True, rngs=True):
    def lifted(scopes, *operands):
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        check_predicate("switch", "index", jnp.shape(index), scopes[-1].path)
        y, out_groups = _checked_select(
            lambda fns, *ops: lax.switch(index, fns, *ops),
            "switch",
            scopes[-1].path,
            [functools.partial(_branch, lift, b) for b in bodies],
            *operands,
        )
        lift.publish(out_groups)
        return y

    return lifted


def cond(pred, true_fun: Callable, false_fun: Callable, mdl, *operands, variables=True, rngs=True):
    """``true_fun(mdl, *operands)`` if ``pred`` else ``false_fun(mdl, *operands)``, as ``lax.cond``."""
    return transform_direct(
        _cond_core,
        (true_fun, false_fun),
        mdl,
        *operands,
        pred=pred,
        variables=variables,
        rngs=rngs,
        transform_name="cond",
    )


def _cond_core(true_body: Callable, false_body: Callable, pred=None, variables=True, rngs=True):
    def lifted(scopes, *operands):
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        check_predicate("cond", "pred", jnp.shape(pred), scopes[-1].path)
        y, out_groups = _checked_select(
            lambda fns, *ops: lax.cond(pred, *fns, *ops),
            "cond",
            scopes[-1].path,
            [functools.partial(_branch, lift, true_body), functools.partial(_branch, lift, false_body)],
            *operands,
        )
        lift.publish(out_groups)
        return y

    return lifted


def switch(index, branches: Sequence[Callable], mdl, *operands, variables=True, rngs=True):
    """``branches[index](mdl, *operands)``, as ``lax.switch`` (index clamped to the valid range)."""
    return transform_direct(
        switch_core,
        tuple(branches),
        mdl,
        *operands,
        index=index,
        variables=variables,
        rngs=rngs,
        transform_name="switch",
    )
