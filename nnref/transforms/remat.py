"""``nn.remat`` / ``nn.checkpoint`` in nnref: the lifted call, with nothing to recompute.

Rematerialization is a memory schedule for the backward pass: instead of
keeping the activations of the wrapped call, the production backend
recomputes them from its inputs when the gradient needs them. The values
are the same either way, so nnref (which differentiates numerically and
keeps nothing) simply calls the wrapped module. What it does keep is
everything remat does to *state*:

1. the wrapped call sees the lifted collections and streams
   (``variables=``, ``rngs=``), through :class:`nnref.lift.Lift`;
2. random streams pass through as they are: remat does not fork them
   on entry (``nn.jit`` does, see :mod:`nnref.transforms.jit`);
3. what the call writes to mutable collections is published back;
4. ``static_argnums`` is checked against the actual arguments (in the
   seed's numbering, the module is argument 0), though nothing is traced.

>>> import nnref as nn
>>> import numpy as np
>>> RematDense = nn.remat(nn.Dense)  # the same parameters and values as nn.Dense
>>> variables = RematDense(3).init(nn.random.PRNGKey(0), np.ones((1, 2), np.float32))
>>> sorted(variables['params']), variables['params']['kernel'].shape
(['bias', 'kernel'], (2, 3))
"""

from __future__ import annotations

from typing import Callable

from nnref.lift import Lift
from nnref.transforms.module_forms import lift_transform
from shared_spec import remat_args
from shared_spec.transform_args import _argnums, check_argnums_in_range


def remat_core(fn: Callable, variables=True, rngs=True, concrete=False, static_argnums=(), **schedule):
    """``lifted(scopes, *args)``: ``fn`` on the inner scopes.

    ``schedule`` (``prevent_cse``, ``policy``) only decides what the
    compiled backward pass keeps or recomputes, so nnref takes it and
    ignores it.
    """
    remat_args.check_concrete(concrete)  # the option left JAX; both backends refuse it

    def lifted(scopes, *args, **kwargs):
        if static_argnums:  # an out-of-range index is an error even though nnref traces nothing
            check_argnums_in_range("checkpoint", "static_argnums", static_argnums, len(args), scopes[-1].path)
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        inner = lift.scopes(lift.variable_groups, lift.rng_groups)
        out = fn(inner, *args, **kwargs)
        lift.publish(lift.repack(inner))  # writes to mutable collections leave the wrapped call
        return out

    return lifted


def checkpoint(
    target,
    variables=True,
    rngs=True,
    concrete: bool = False,
    prevent_cse: bool = True,
    static_argnums: int | tuple = (),
    policy: Callable | None = None,
    methods=None,
):
    """Rematerialize ``target`` (a Module class, or a function of a module); ``nn.remat`` is the same function.

    In nnref this is a plain lifted call (see the module docstring for what
    it keeps). ``static_argnums`` counts the module as argument 0, so it is
    shifted by one before it reaches :func:`remat_core`, whose arguments
    start after the module.
    """
    shifted = tuple(i - 1 for i in _argnums("checkpoint", "static_argnums", static_argnums))
    schedule = dict(prevent_cse=prevent_cse, policy=policy)
    lift_options = dict(variables=variables, rngs=rngs, concrete=concrete, static_argnums=shifted)
    return lift_transform("checkpoint", remat_core, target, methods=methods, **lift_options, **schedule)


remat = checkpoint
