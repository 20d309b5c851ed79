"""``nn.remat_scan`` in nnref: nested scans, one per entry of ``lengths``.

``remat_scan(Layer, lengths=(a, b))`` applies a ``(x) -> x`` layer
``a * b`` times. It is built by recursion on ``lengths``:

* one length ``(a,)``: a scan of ``a`` steps whose body calls the layer
  (the body returns no per-step output, only the carry ``x``);
* several ``(a, *rest)``: a scan of ``a`` steps whose body is ``nn.remat``
  of the ``remat_scan`` over ``rest``.

Every level scans the collections along a new leading axis
(``variable_axes={True: 0}`` by default), so a parameter of the layer gets
shape ``(a, b, *shape)``, and splits the random streams per step.
``remat`` saves memory only in a compiled backward pass; here it is the
plain lifted call of :mod:`nnref.transforms.remat`, kept so that the
nesting of scopes is the production backend's.

>>> import nnref as nn
>>> import numpy as np
>>> DenseStack = nn.remat_scan(nn.Dense, lengths=(2, 3))
>>> variables = DenseStack(4).init(nn.random.PRNGKey(0), np.ones((1, 4), np.float32))
>>> variables['params']['kernel'].shape
(2, 3, 4, 4)
"""

from __future__ import annotations

from typing import Callable, Sequence

from nnref.transforms.module_forms import lift_transform
from nnref.transforms.remat import remat_core
from nnref.transforms.scan import scan_core
from shared_spec import remat_args


def remat_scan_core(body_fn: Callable, lengths: Sequence[int], policy=None, **level):
    """``lifted(scopes, x)``: ``body_fn`` applied ``prod(lengths)`` times (the recursion of the module docstring).

    ``level`` holds the scan options (``variable_axes``, ``variable_broadcast``,
    ``variable_carry``, ``split_rngs``): every level shares, threads and
    slices the collections, and splits the streams, the same way.
    """
    remat_args.check_lengths(lengths)
    outer, rest = lengths[0], lengths[1:]
    if rest:
        deeper = remat_scan_core(body_fn, rest, policy, **level)
        body = remat_core(lambda scopes, x: (deeper(scopes, x), ()), policy=policy, prevent_cse=False)
    else:

        def body(scopes, x):
            return body_fn(scopes, x), ()  # (carry, no per-step output)

    loop = scan_core(body, length=outer, **level)
    return lambda scopes, x: loop(scopes, x)[0]  # keep the carry, drop the empty outputs


def remat_scan(
    target,
    lengths: Sequence[int] = (),
    policy=None,
    variable_broadcast=False,
    variable_carry=False,
    variable_axes={True: 0},  # noqa: B006 (the seed's default; never mutated)
    split_rngs={True: True},  # noqa: B006
):
    """Stack ``target`` (a ``(x) -> x`` Module class) ``prod(lengths)`` times; see the module docstring."""
    level = dict(variable_axes=variable_axes, variable_broadcast=variable_broadcast, variable_carry=variable_carry)
    level["split_rngs"] = split_rngs
    return lift_transform("remat_scan", remat_scan_core, target, lengths=tuple(lengths), policy=policy, **level)
