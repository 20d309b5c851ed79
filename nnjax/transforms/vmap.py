"""``nn.vmap``: a module with an extra mapped axis, variables and random streams included.

``variable_axes`` says per collection whether its variables are mapped (an
axis) or shared (``None``), possibly on one side only: ``In(axis)`` lifts a
collection in only (read-only inside; nothing written there comes back),
``Out(axis)`` out only (the body starts without it; what it makes is
stacked and returned; ``shared_spec.in_out_axes``); ``split_rngs`` whether a random stream gives
every index its own keys (split) or the same ones. Mapped collections and
split streams go through ``jax.vmap`` with axis 0 for the keys.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> BatchDense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
...                      variable_axes={'params': 0}, split_rngs={'params': True})
>>> x = jnp.ones((4, 2, 5))
>>> variables = BatchDense(3).init(jax.random.PRNGKey(0), x)
>>> variables['params']['kernel'].shape  # one kernel per index of axis 0
(4, 5, 3)
>>> BatchDense(3).apply(variables, x).shape
(4, 2, 3)
"""

from __future__ import annotations

from typing import Callable, Mapping

import jax
import jax.numpy as jnp

from nnjax import meta
from nnjax.lift import Lift
from nnjax.transforms.module_forms import lift_transform
from shared_spec import errors
from shared_spec.in_out_axes import split_in_out
from shared_spec.transform_args import validate_options


def _axis_sizes(axes, tree, argument: str, path) -> set:
    """Sizes of the mapped axes of ``tree`` under the prefix tree ``axes`` (``argument`` names ``axes`` in errors)."""
    sizes = set()

    def visit(axis, subtree):
        if axis is None:
            return
        for leaf in jax.tree_util.tree_leaves(subtree):
            shape = jnp.shape(leaf)
            if not -len(shape) <= axis < len(shape):
                raise ValueError(
                    f"nn.vmap({argument}=...) at module {errors.format_path(path)}: axis {axis} is out of range "
                    f"for a value of shape {tuple(shape)}; expected an axis in [{-len(shape)}, {len(shape)}) "
                    "or None (not mapped)."
                )
            sizes.add(shape[axis])

    try:
        jax.tree_util.tree_map(visit, axes, tree, is_leaf=lambda x: x is None)
    except ValueError as error:
        if "nn.vmap(" in str(error):
            raise
        raise ValueError(
            f"nn.vmap({argument}={axes!r}) at module {errors.format_path(path)}: the axes do not "
            f"match the structure of the values they describe ({error}); expected one entry per "
            "argument (or a single int for all)."
        ) from None
    return sizes


def _split_keys(group: tuple, n: int) -> tuple:
    return tuple({stream: jax.random.split(key, n) for stream, key in streams.items()} for streams in group)


def vmap_core(
    fn: Callable,
    variable_axes: Mapping = {},
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    axis_size=None,
    axis_name=None,
    spmd_axis_name=None,
    metadata_params: Mapping = {},
):
    """Scope-level vmap: ``lifted(scopes, *args)`` runs ``fn(inner_scopes, *args)`` under ``jax.vmap``."""
    # In(axis) / Out(axis) put a collection on one side only (shared_spec.in_out_axes)
    sides = split_in_out(variable_axes)
    variable_in_axes, variable_out_axes = sides.in_axes, sides.out_axes
    rng_filters = tuple(split_rngs.keys())
    rng_splits = tuple(bool(s) for s in split_rngs.values())

    def lifted(scopes, *args, **kwargs):
        if kwargs:
            raise TypeError(
                f"nn.vmap passes positional arguments only (got keyword arguments {sorted(kwargs)}); "
                "pass them positionally and give their axes in in_axes."
            )
        lift = Lift(scopes, sides.in_filters, sides.out_filters, rng_filters)
        path = scopes[-1].path
        arg_axes = tuple(in_axes) if isinstance(in_axes, (list, tuple)) else (in_axes,) * len(args)
        if len(arg_axes) != len(args):
            raise ValueError(
                f"nn.vmap(in_axes={in_axes!r}) at module {errors.format_path(path)}: {len(arg_axes)} "
                f"axes for {len(args)} argument(s); expected one entry per argument after the module "
                "(or a single int/None for all)."
            )
        sizes = _axis_sizes(variable_in_axes, lift.variable_groups, "variable_axes", path) | _axis_sizes(
            arg_axes, args, "in_axes", path
        )
        if axis_size is not None:
            n = axis_size
        elif len(sizes) == 1:
            (n,) = sizes
        elif sizes:
            raise ValueError(
                f"nn.vmap: inconsistent sizes {sorted(sizes)} of the mapped axes of the "
                "inputs and variables; they must all be equal."
            )
        else:
            raise ValueError("nn.vmap: no input or variable is mapped, so the axis size is unknown; pass axis_size=.")
        if n == 0:
            raise ValueError(
                f"nn.vmap at module {errors.format_path(path)}: the mapped axis has size 0, so there "
                "is nothing to map (and variables would be created empty); expected a mapped axis "
                "of size at least 1."
            )
        rng_groups = tuple(
            _split_keys(group, n) if split else group for group, split in zip(lift.rng_groups, rng_splits)
        )
        rng_axes = tuple(0 if split else None for split in rng_splits)
        variable_groups = tuple(
            group if axis is None else meta.remove_axis(group, axis, metadata_params)
            for group, axis in zip(lift.variable_groups, variable_in_axes)
        )

        def mapped(variable_groups, rng_groups, args):
            inner = lift.scopes(variable_groups, rng_groups)
            y = fn(inner, *args)
            return y, lift.repack(inner)

        try:
            y, out_groups = jax.vmap(
                mapped,
                in_axes=(variable_in_axes, rng_axes, in_axes),
                out_axes=(out_axes, variable_out_axes),
                axis_name=axis_name,
                axis_size=axis_size,
                spmd_axis_name=spmd_axis_name,
            )(variable_groups, rng_groups, args)
        except ValueError as error:
            if "out of bounds" not in str(error) and "out_axes" not in str(error):
                raise
            raise ValueError(
                f"nn.vmap(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module "
                f"{errors.format_path(path)}: an output or variable axis does not fit the value it "
                f"describes ({error}); expected axes in [-ndim-1, ndim] of each output (one per "
                "output, or a single int/None for all)."
            ) from None
        out_groups = tuple(
            group if axis is None else meta.add_axis(group, axis, metadata_params)
            for group, axis in zip(out_groups, variable_out_axes)
        )
        lift.publish(out_groups)
        return y

    return lifted


def vmap(
    target,
    variable_axes: Mapping = {},
    split_rngs: Mapping = {},
    in_axes=0,
    out_axes=0,
    axis_size=None,
    axis_name=None,
    spmd_axis_name=None,
    metadata_params: Mapping = {},
    methods=None,
):
    """A lifted ``jax.vmap`` of a Module class or of a function whose first argument is a module.

    ``variable_axes``: collection filter -> axis of its variables (``None``:
    shared across the mapped axis), or ``In(axis)`` / ``Out(axis)`` to lift it
    in only (read-only inside) / out only (created inside and returned);
    ``split_rngs``: stream filter -> whether
    each index gets its own keys; ``in_axes``/``out_axes``/``axis_size``/
    ``axis_name``/``spmd_axis_name`` as in ``jax.vmap``; ``metadata_params``
    is passed to the ``add_axis``/``remove_axis`` of boxed variables
    (``nn.Partitioned``); ``methods``: the methods of a Module class to map
    (default ``__call__``).

    Sharing parameters across the mapped axis:

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> Shared = nn.vmap(nn.Dense, variable_axes={'params': None}, split_rngs={'params': False})
    >>> variables = Shared(3).init(jax.random.PRNGKey(0), jnp.ones((4, 5)))
    >>> variables['params']['kernel'].shape
    (5, 3)
    """
    validate_options(
        "vmap",
        dict(
            variable_axes=variable_axes, split_rngs=split_rngs, in_axes=in_axes, out_axes=out_axes, axis_size=axis_size
        ),
    )
    return lift_transform(
        "vmap",
        vmap_core,
        target,
        methods=methods,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        axis_size=axis_size,
        axis_name=axis_name,
        spmd_axis_name=spmd_axis_name,
        metadata_params=metadata_params,
    )
