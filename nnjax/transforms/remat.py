"""``nn.remat`` / ``nn.checkpoint``: recompute a module's activations in the backward pass.

``jax.checkpoint`` around the lifted call: the forward values inside are
not kept for the gradient but recomputed from the inputs, trading compute
for memory. ``nn.remat_scan`` nests ``nn.scan`` loops with ``nn.remat``
around each level, for deep stacks of identical layers with constant
compile time and memory that grows like ``n ** (1 / len(lengths))``.

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

from typing import Callable, Sequence

import jax

from nnjax.lift import Lift
from nnjax.transforms.lifting import _argnums, check_argnums_in_range, lift_transform
from nnjax.transforms.scan import scan_core


def remat_core(
    fn: Callable, variables=True, rngs=True, concrete=False, prevent_cse=True, static_argnums=(), policy=None
):
    """Scope-level remat: ``lifted(scopes, *args)`` runs ``fn(inner_scopes, *args)`` under ``jax.checkpoint``."""
    if concrete:
        raise NotImplementedError(
            "nn.remat(concrete=True) is gone from JAX's checkpoint; mark the arguments that drive Python "
            "control flow with static_argnums instead."
        )
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


def remat_scan_core(
    body_fn: Callable,
    lengths: Sequence[int] = (),
    policy=None,
    variable_broadcast=False,
    variable_carry=False,
    variable_axes={True: 0},  # noqa: B006 (the seed's default; never mutated)
    split_rngs={True: True},  # noqa: B006
):
    """Scope-level remat_scan: ``lifted(scopes, carry)`` applies ``body_fn`` ``prod(lengths)`` times."""
    if not lengths:
        raise ValueError("nn.remat_scan needs at least one loop length, e.g. lengths=(10,).")
    scan_options = dict(
        variable_broadcast=variable_broadcast,
        variable_carry=variable_carry,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
    )

    if len(lengths) == 1:

        def step(scopes, carry):
            return body_fn(scopes, carry), ()
    else:
        inner_loop = remat_scan_core(body_fn, lengths[1:], policy, **scan_options)

        def plain_step(scopes, carry):
            return inner_loop(scopes, carry), ()

        step = remat_core(plain_step, policy=policy, prevent_cse=False)
    loop = scan_core(step, length=lengths[0], **scan_options)

    def lifted(scopes, carry):
        return loop(scopes, carry)[0]

    return lifted


def remat_scan(
    target,
    lengths: Sequence[int] = (),
    policy=None,
    variable_broadcast=False,
    variable_carry=False,
    variable_axes={True: 0},  # noqa: B006 (the seed's default; never mutated)
    split_rngs={True: True},  # noqa: B006
):
    """Applies a module ``prod(lengths)`` times as nested, rematerialized scans (``(x) -> x`` modules).

    Every collection is stacked along new leading axes, one per level
    (``variable_axes={True: 0}``), with fresh keys per step.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> DenseStack = nn.remat_scan(nn.Dense, lengths=(2, 3))
    >>> variables = DenseStack(4).init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
    >>> variables['params']['kernel'].shape  # 2 x 3 = 6 layers
    (2, 3, 4, 4)
    """
    return lift_transform(
        "remat_scan",
        remat_scan_core,
        target,
        lengths=tuple(lengths),
        policy=policy,
        variable_broadcast=variable_broadcast,
        variable_carry=variable_carry,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
    )
