"""``nn.remat_scan`` in nnref: nested scans, one per entry of ``lengths``.

>>> import nnref as nn
>>> import numpy as np
>>> DenseStack = nn.remat_scan(nn.Dense, lengths=(2, 3))
>>> variables = DenseStack(4).init(nn.random.PRNGKey(0), np.ones((1, 4), np.float32))
>>> variables['params']['kernel'].shape
(2, 3, 4, 4)
"""

from __future__ import annotations

from typing import Callable, Sequence

from nnref.transforms.jit import remat_core
from nnref.transforms.lifting import lift_transform
from nnref.transforms.scan import scan_core


def remat_scan_core(
    body_fn: Callable,
    lengths: Sequence[int] = (),
    policy=None,
    variable_broadcast=False,
    variable_carry=False,
    variable_axes={True: 0},  # noqa: B006 (the seed's default; never mutated)
    split_rngs={True: True},  # noqa: B006
):
    if not lengths:
        raise ValueError("nn.remat_scan needs at least one loop length, e.g. lengths=(10,).")
    options = dict(
        variable_broadcast=variable_broadcast,
        variable_carry=variable_carry,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
    )
    if len(lengths) == 1:

        def step(scopes, carry):
            return body_fn(scopes, carry), ()
    else:
        inner_loop = remat_scan_core(body_fn, lengths[1:], policy, **options)
        step = remat_core(lambda scopes, carry: (inner_loop(scopes, carry), ()), policy=policy, prevent_cse=False)
    loop = scan_core(step, length=lengths[0], **options)

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
    """Applies a ``(x) -> x`` module ``prod(lengths)`` times as nested scans (see the production backend)."""
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
