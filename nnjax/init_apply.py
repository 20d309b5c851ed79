"""``init`` and ``apply``: a function of a bound module as a pure function of its variables.

``apply(fn, module)(variables, *args, rngs=...)`` binds a clone of
``module`` to a fresh root scope over a copy of the variable dict's
structure, calls ``fn(bound_module, *args)`` and returns the output (and the
mutable collections). ``init`` is ``apply`` on ``{}`` with a 'params' key
and every collection but 'intermediates' mutable. Both are pure, so they
compose with ``jax.jit``, ``jax.grad``, ``jax.vmap`` and ``jax.eval_shape``.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> model = nn.Dense(2)
>>> def double_then_dense(m, x):
...   return m(2 * x)
>>> x = jnp.ones((1, 3))
>>> variables = jax.jit(nn.init(double_then_dense, model))(jax.random.PRNGKey(0), x)
>>> nn.apply(double_then_dense, model)(variables, x).shape
(1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nnjax.config import config
from nnjax.module_context import per_thread
from nnjax.scope import Scope
from shared_spec import errors
from shared_spec.collection_filters import DenyList, in_filter, union_filters
from shared_spec.frozen_dict import freeze
from shared_spec.init_apply_args import (
    BadLeaf,
    bad_leaf,
    capture_filter,
    init_rngs,
    validated_rngs,
    validated_variables,
)
from shared_spec.variable_rules import NON_NUMERIC_KINDS


def is_prng_key(x) -> bool:
    """True for one key: a raw ``uint32[2]`` array or a scalar typed key (``jax.random.key``)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "shape"):
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return x.shape == ()
    return x.shape == (2,) and dtype == np.uint32


def _copy_collections(tree):
    if isinstance(tree, Mapping):
        return {key: _copy_collections(value) for key, value in tree.items()}
    return tree


def _copy_checked(tree, is_params: bool):
    """``_copy_collections`` that also checks each leaf (in the walk apply makes anyway: no extra pass)."""
    if isinstance(tree, Mapping):
        return {key: _copy_checked(value, is_params) for key, value in tree.items()}
    if isinstance(tree, np.ndarray):
        if tree.dtype.kind in NON_NUMERIC_KINDS:
            raise BadLeaf
    elif is_params and (tree is None or isinstance(tree, (str, bytes))):
        raise BadLeaf
    return tree


def _is_mapping(node) -> bool:
    return isinstance(node, Mapping)


def root_scope(variables, rngs, mutable, flags=None) -> Scope:
    in_filter(mutable, "params")  # reject a malformed filter before anything runs
    variables = validated_variables(variables, _copy_checked, bad_leaf, _is_mapping)
    return Scope.root(variables, validated_rngs(rngs, is_prng_key, "jax.random"), mutable, flags)


def _run(fn, module, variables, rngs, mutable, capture_intermediates, flags, args, kwargs):
    capture = capture_filter(capture_intermediates)
    if capture is not None:
        mutable = union_filters(mutable, "intermediates")  # capturing means storing the captures
    scope = root_scope(variables, rngs, mutable, flags)
    bound = module.clone(parent=scope, _deep_clone=True)
    ctx = per_thread.context
    outer_capture, ctx.capture = ctx.capture, capture  # the innermost apply's filter decides
    try:
        y = fn(bound, *args, **kwargs)
    finally:
        ctx.capture = outer_capture
        scope.invalidate()  # a module leaked out of this call can no longer touch its variables
    frame = scope.frame
    mutated = {col: _copy_collections(tree) for col, tree in frame.variables.items() if frame.is_mutable(col)}
    if config.nnjax_return_frozendict:  # the seed's flag: hand back FrozenDicts, as older releases did
        mutated = freeze(mutated)
    return y, mutated


def apply(fn: Callable, module, mutable=False, capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as a function of ``(variables, *args, rngs=None, **kwargs)``.

    Returns the output, or ``(output, mutated_collections)`` when ``mutable``
    is not False.
    """

    def apply_fn(variables, *args, rngs=None, **kwargs):
        y, mutated = _run(fn, module, variables, rngs, mutable, capture_intermediates, None, args, kwargs)
        return y if mutable is False and not capture_intermediates else (y, mutated)

    return apply_fn


_INITIALIZING = {"initializing": True}


def init_with_output(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as ``(rngs, *args, **kwargs) -> (output, variables)``."""

    def init_fn(rngs, *args, **kwargs):
        return _run(
            fn,
            module,
            {},
            init_rngs(rngs, is_prng_key, "jax.random"),
            mutable,
            capture_intermediates,
            _INITIALIZING,
            args,
            kwargs,
        )

    return init_fn


def init(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as ``(rngs, *args, **kwargs) -> variables``."""
    with_output = init_with_output(fn, module, mutable, capture_intermediates)

    def init_fn(rngs, *args, **kwargs):
        return with_output(rngs, *args, **kwargs)[1]

    return init_fn


# -- lazy init -------------------------------------------------------------------------


def _is_array(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic))


def lazy_init(fn, module, mutable, rngs, args, kwargs) -> dict:
    """``init`` where ``jax.ShapeDtypeStruct`` arguments stand for arrays.

    The init function is traced with the abstract arguments as inputs; a
    variable whose value depends on them (found by following the jaxpr's data
    flow) raises ``LazyInitError``. The rest runs under ``jax.jit``, which
    drops the forward computation the variables do not need; the abstract
    arguments are never materialized outside the compiled program.
    """
    run = init(fn, module, mutable)
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    abstract_at = [i for i, x in enumerate(leaves) if isinstance(x, jax.ShapeDtypeStruct)]
    array_at = [i for i, x in enumerate(leaves) if _is_array(x)]

    def call(rngs, arrays, abstract):
        filled = list(leaves)
        for i, x in zip(array_at, arrays):
            filled[i] = x
        for i, x in zip(abstract_at, abstract):
            filled[i] = x
        call_args, call_kwargs = jax.tree_util.tree_unflatten(treedef, filled)
        return run(rngs, *call_args, **call_kwargs)

    arrays = [leaves[i] for i in array_at]
    abstract = [leaves[i] for i in abstract_at]
    closed = jax.make_jaxpr(call)(rngs, arrays, abstract)
    n_in = len(jax.tree_util.tree_leaves((rngs, arrays)))
    dependent = _outputs_depending_on(closed.jaxpr, first_unknown_input=n_in)
    if dependent:
        raise errors.LazyInitError(abstract[0] if len(abstract) == 1 else abstract)

    def materialized(rngs, arrays):
        return call(rngs, arrays, [jnp.zeros(a.shape, a.dtype) for a in abstract])

    return jax.jit(materialized)(rngs, arrays)


def _outputs_depending_on(jaxpr, first_unknown_input: int) -> list:
    """Indices of outputs that data-depend on inputs ``first_unknown_input`` and later.

    Conservative: any equation with an unknown input has all outputs unknown.
    """
    unknown = set(jaxpr.invars[first_unknown_input:])
    for eqn in jaxpr.eqns:
        if any(_is_var(v) and v in unknown for v in eqn.invars):
            unknown.update(eqn.outvars)
    return [i for i, v in enumerate(jaxpr.outvars) if _is_var(v) and v in unknown]


def _is_var(v) -> bool:
    return not hasattr(v, "val")  # Literals carry a value; Vars do not
