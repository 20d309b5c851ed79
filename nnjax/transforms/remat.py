"""``nn.remat`` / ``nn.checkpoint``: recompute a module's activations in the backward pass.

``jax.checkpoint`` around the lifted call: the forward values inside are
not kept for the gradient but recomputed from the inputs, trading compute
for memory. (``nn.remat_scan``, in :mod:`nnjax.transforms.remat_scan`,
nests ``nn.scan`` loops with ``nn.remat`` around each level.)

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class MLP(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     CheckpointDense = nn.checkpoint(nn.Dense)
...     return CheckpointDense(1)(nn.relu(CheckpointDense(8)(x)))
>>> x = jnp.ones((2, 4))
>>> variables = MLP().init(jax.random.PRNGKey(0), x)
>>> grads = jax.grad(lambda v: MLP().apply(v, x).sum())(variables)
>>> grads['params']['CheckpointDense_1']['kernel'].shape  # construction order: the outer call is _0
(4, 8)
"""

from __future__ import annotations

from typing import Callable

import jax

from nnjax.lift import Lift
from nnjax.transforms.module_forms import lift_transform
from shared_spec import remat_args
from shared_spec.transform_args import _argnums, check_argnums_in_range


def remat_core(
    fn: Callable, variables=True, rngs=True, concrete=False, prevent_cse=True, static_argnums=(), policy=None
):
    """Scope-level remat: ``lifted(scopes, *args)`` runs ``fn(inner_scopes, *args)`` under ``jax.checkpoint``."""
    remat_args.check_concrete(concrete)
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def lifted(scopes, *args, **kwargs):
        if static_argnums:
            check_argnums_in_range("checkpoint", "static_argnums", static_argnums, len(args), scopes[-1].path)
        lift = Lift(scopes, (variables,), (variables,), (rngs,))

        def rematted(variable_groups, rng_groups, *args):
            inner = lift.scopes(variable_groups, rng_groups)
            y = fn(inner, *args, **kwargs)
            return y, lift.repack(inner)

        checkpointed = jax.checkpoint(
            rematted, prevent_cse=prevent_cse, policy=policy, static_argnums=tuple(i + 2 for i in static_argnums)
        )
        y, out_groups = checkpointed(lift.variable_groups, lift.rng_groups, *args)
        lift.publish(out_groups)
        return y

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
    """A lifted ``jax.checkpoint`` (alias ``nn.remat``) of a Module class or a function of a module.

    ``variables``/``rngs``: the collections and streams lifted (default
    all); ``prevent_cse``, ``policy`` as in ``jax.checkpoint``;
    ``static_argnums`` counts the module as argument 0 when ``target`` is a
    method or function of a module (as in the seed system), so the first
    array argument after it is 1; ``methods``: the methods of a Module class
    to checkpoint (default ``__call__``).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class Block(nn.Module):
    ...   @nn.remat
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return nn.Dense(3)(x)
    >>> Block().init(jax.random.PRNGKey(0), jnp.ones((1, 2)))['params']['Dense_0']['kernel'].shape
    (2, 3)
    """
    static_argnums = tuple(i - 1 for i in _argnums("checkpoint", "static_argnums", static_argnums))
    return lift_transform(
        "checkpoint",
        remat_core,
        target,
        methods=methods,
        variables=variables,
        rngs=rngs,
        concrete=concrete,
        prevent_cse=prevent_cse,
        static_argnums=static_argnums,
        policy=policy,
    )


remat = checkpoint
