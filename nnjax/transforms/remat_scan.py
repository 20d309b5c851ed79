"""``nn.remat_scan``: a deep stack of identical layers as nested, rematerialized scans.

``lengths=(a, b, ...)`` applies a ``(x) -> x`` module ``a * b * ...`` times:
an ``nn.scan`` of length ``a`` whose body is ``nn.remat`` of a scan of
length ``b``, and so on. Compile time stays constant in the depth, and the
memory of the gradient grows like ``n ** (1 / len(lengths))`` for ``n``
layers.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> Stack = nn.remat_scan(nn.Dense, lengths=(2, 2))
>>> variables = Stack(3).init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
>>> Stack(3).apply(variables, jnp.ones((1, 3))).shape
(1, 3)
"""

from __future__ import annotations

from typing import Callable, Sequence

from nnjax.transforms.module_forms import lift_transform
from nnjax.transforms.remat import remat_core
from nnjax.transforms.scan import scan_core
from shared_spec import remat_args


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
    remat_args.check_lengths(lengths)
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
