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

import inspect
from collections.abc import Mapping
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nnjax.config import config
from nnjax.scope import NON_NUMERIC_KINDS, Scope
from shared_spec import errors
from shared_spec.collection_filters import DenyList, in_filter, union_filters
from shared_spec.frozen_dict import freeze

# The capture_intermediates filter of each apply in progress, innermost last.
capture_stack: list = []


def should_capture(module, method_name: str) -> bool:
    capture = capture_stack[-1]
    return bool(capture and capture(module, method_name))


def _capture_filter(capture_intermediates):
    if capture_intermediates is True:
        return lambda _module, method_name: method_name == "__call__"
    if capture_intermediates is False or capture_intermediates is None:
        return None
    if callable(capture_intermediates):
        return capture_intermediates
    raise TypeError(
        "capture_intermediates must be a bool or a function (module, method_name) -> bool, "
        f"got {capture_intermediates!r}."
    )


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


def validated_variables(variables) -> dict:
    """A private copy of the variable dict's structure, after checking its shape."""
    if not isinstance(variables, Mapping):
        raise errors.ApplyScopeInvalidVariablesTypeError(got_type=type(variables).__name__)
    params = variables.get("params")
    if isinstance(params, Mapping) and "params" in params:
        raise errors.ApplyScopeInvalidVariablesStructureError(variables)
    out = {}
    for col, tree in variables.items():
        if not isinstance(tree, Mapping):
            raise errors.ApplyScopeInvalidVariablesTypeError(got_type=f"{type(tree).__name__} in collection '{col}'")
        try:
            out[col] = _copy_checked(tree, col == "params")
        except _BadLeaf:
            raise _bad_leaf_error(col, tree) from None
    return out


class _BadLeaf(Exception):
    """Raised inside the copy; the error that names the leaf is built by a second, slower walk."""


def _bad_leaf(leaf, is_params: bool) -> bool:
    """Text, bytes or object NumPy arrays anywhere; ``None`` or a Python string as a parameter."""
    if isinstance(leaf, np.ndarray):
        return leaf.dtype.kind in NON_NUMERIC_KINDS
    return is_params and (leaf is None or isinstance(leaf, (str, bytes)))


def _copy_checked(tree, is_params: bool):
    """``_copy_collections`` that also checks each leaf (in the walk apply makes anyway: no extra pass)."""
    if isinstance(tree, Mapping):
        return {key: _copy_checked(value, is_params) for key, value in tree.items()}
    if isinstance(tree, np.ndarray):
        if tree.dtype.kind in NON_NUMERIC_KINDS:
            raise _BadLeaf
    elif is_params and (tree is None or isinstance(tree, (str, bytes))):
        raise _BadLeaf
    return tree


def _bad_leaf_error(col: str, tree) -> TypeError:
    def find(node, path):
        if isinstance(node, Mapping):
            for key, value in node.items():
                found = find(value, path + (str(key),))
                if found is not None:
                    return found
        elif _bad_leaf(node, col == "params"):
            return path, node
        return None

    path, leaf = find(tree, ())
    where = "/" + "/".join(path[:-1])
    if isinstance(leaf, np.ndarray):
        what = f"has dtype {leaf.dtype} (shape {leaf.shape}); variables must hold numbers (bool, int, float or complex)"
    else:
        what = f"is {leaf!r} ({type(leaf).__name__}); a parameter must be an array of numbers"
    return TypeError(
        f"Variable '{path[-1]}' in collection '{col}' at module path '{where}' {what}. "
        "Fix: apply() the variables that init() returned (or that a checkpoint restored)."
    )


def validated_rngs(rngs) -> dict:
    """``None`` -> no streams; one key -> the 'params' stream; a dict -> checked per stream."""
    if rngs is None:
        return {}
    if is_prng_key(rngs):
        return {"params": rngs}
    if not isinstance(rngs, Mapping):
        raise errors.InvalidRngError(
            f"rngs must be one PRNG key or a dict mapping stream names to keys, got {describe_key(rngs)}; "
            f"{KEY_FORMS}. Pass e.g. rngs={{'params': jax.random.PRNGKey(0), 'dropout': jax.random.PRNGKey(1)}}."
        )
    for stream, key in rngs.items():
        if not is_prng_key(key):
            raise errors.InvalidRngError(f"rngs['{stream}'] is not a PRNG key: got {describe_key(key)}; {KEY_FORMS}.")
    return dict(rngs)


# What a key must look like, in every message about a bad key (nnref says the same of nn.random).
KEY_FORMS = (
    "a key is jax.random.key(0) (a typed key of shape ()) or jax.random.PRNGKey(0) "
    "(a uint32 array of shape (2,)), one per stream"
)


def describe_key(x) -> str:
    """What was given where a key belongs: its dtype and shape, or its type and value."""
    dtype, shape = getattr(x, "dtype", None), getattr(x, "shape", None)
    if dtype is not None and shape is not None:
        return f"{type(x).__name__} of dtype {dtype} and shape {tuple(shape)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def root_scope(variables, rngs, mutable, flags=None) -> Scope:
    in_filter(mutable, "params")  # reject a malformed filter before anything runs
    return Scope.root(validated_variables(variables), validated_rngs(rngs), mutable, flags)


def _run(fn, module, variables, rngs, mutable, capture_intermediates, flags, args, kwargs):
    capture = _capture_filter(capture_intermediates)
    if capture is not None:
        mutable = union_filters(mutable, "intermediates")  # capturing means storing the captures
    scope = root_scope(variables, rngs, mutable, flags)
    bound = module.clone(parent=scope, _deep_clone=True)
    capture_stack.append(capture)
    try:
        y = fn(bound, *args, **kwargs)
    finally:
        capture_stack.pop()
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


def _init_rngs(rngs) -> dict:
    if is_prng_key(rngs):
        return {"params": rngs}
    if isinstance(rngs, Mapping):
        return rngs
    raise errors.InvalidRngError(
        f"init needs one PRNG key or a dict of keys per stream, got {describe_key(rngs)}; {KEY_FORMS}. "
        "Pass e.g. jax.random.PRNGKey(0), or {'params': key, 'dropout': key2}."
    )


_INITIALIZING = {"initializing": True}


def init_with_output(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as ``(rngs, *args, **kwargs) -> (output, variables)``."""

    def init_fn(rngs, *args, **kwargs):
        return _run(fn, module, {}, _init_rngs(rngs), mutable, capture_intermediates, _INITIALIZING, args, kwargs)

    return init_fn


def init(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as ``(rngs, *args, **kwargs) -> variables``."""
    with_output = init_with_output(fn, module, mutable, capture_intermediates)

    def init_fn(rngs, *args, **kwargs):
        return with_output(rngs, *args, **kwargs)[1]

    return init_fn


def resolve_method(module, method) -> Callable:
    """The function ``apply`` calls with the bound module first."""
    if method is None:
        method = "__call__"
    if isinstance(method, str):
        name = method
        attr = getattr(type(module), name, None)
        if callable(attr):
            return attr
        if name not in module._field_names:
            raise errors.ApplyModuleInvalidMethodError(name)
        return lambda bound, *args, **kwargs: getattr(bound, name)(*args, **kwargs)
    if inspect.ismethod(method):
        return method.__func__
    if callable(method) and _takes_a_positional_argument(method):
        return method
    raise errors.ApplyModuleInvalidMethodError(method)


def _takes_a_positional_argument(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in kinds for p in params)


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
