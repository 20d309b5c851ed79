"""``init`` and ``apply``: running a function of a bound module as a pure function.

``apply(fn, module)(variables, *args, rngs=...)`` copies the variable dict,
binds a clone of ``module`` to a fresh root scope over that copy, calls
``fn(bound_module, *args)`` and returns the output (and the mutable
collections). ``init`` is ``apply`` on ``{}`` with a 'params' key and every
collection but 'intermediates' mutable. The caller's dict is never written,
so a call that raises leaves it as it was.

>>> import nnref as nn
>>> model = nn.Dense(2)
>>> def double_then_dense(m, x):
...   return m(2 * x)
>>> x = nn.numpy.ones((1, 3))
>>> variables = nn.init(double_then_dense, model)(nn.random.PRNGKey(0), x)
>>> y = nn.apply(double_then_dense, model)(variables, x)
>>> y.shape
(1, 2)
"""

from __future__ import annotations

import copy as _copy
import inspect
from collections.abc import Mapping
from typing import Callable

import numpy as np

from nnref.config import config
from nnref.rng_streams import is_prng_key
from nnref.scope import NON_NUMERIC_KINDS, Scope, copy_tree
from nnref.tree_util import tree_flatten, tree_unflatten
from shared_spec import errors
from shared_spec.collection_filters import DenyList, in_filter, union_filters
from shared_spec.frozen_dict import freeze

# The capture_intermediates filter of each apply in progress, innermost last.
_capture_stack: list = []


def should_capture(module, method_name: str) -> bool:
    if not _capture_stack:
        return False
    capture = _capture_stack[-1]
    return bool(capture and capture(module, method_name))


def _capture_filter(capture_intermediates) -> Callable | None:
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


def validated_variables(variables) -> dict:
    """A private, plain-dict copy of the caller's variables, after checking their shape."""
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
    """Text, bytes or object arrays anywhere; ``None`` or a Python string as a parameter."""
    if isinstance(leaf, np.ndarray):
        return leaf.dtype.kind in NON_NUMERIC_KINDS
    return is_params and (leaf is None or isinstance(leaf, (str, bytes)))


def _copy_checked(tree, is_params: bool):
    """``copy_tree`` that also checks each leaf (in the walk apply makes anyway: no extra pass)."""
    if isinstance(tree, np.ndarray):  # the common leaf first
        if tree.dtype.kind in NON_NUMERIC_KINDS:
            raise _BadLeaf
        return tree
    if isinstance(tree, dict) or (hasattr(tree, "items") and hasattr(tree, "keys")):
        return {key: _copy_checked(value, is_params) for key, value in tree.items()}
    if is_params and (tree is None or isinstance(tree, (str, bytes))):
        raise _BadLeaf
    return _copy.copy(tree) if isinstance(tree, list) else tree


def _bad_leaf_error(col: str, tree) -> TypeError:
    def find(node, path):
        if isinstance(node, Mapping) or (hasattr(node, "items") and hasattr(node, "keys")):
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
            f"{KEY_FORMS}. Pass e.g. rngs={{'params': nn.random.PRNGKey(0), 'dropout': nn.random.PRNGKey(1)}}."
        )
    for stream, key in rngs.items():
        if not is_prng_key(key):
            raise errors.InvalidRngError(f"rngs['{stream}'] is not a PRNG key: got {describe_key(key)}; {KEY_FORMS}.")
    return dict(rngs)


# What a key must look like, in every message about a bad key (nnjax says the same of jax.random).
KEY_FORMS = (
    "a key is nn.random.key(0) (a typed key of shape ()) or nn.random.PRNGKey(0) "
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
    return Scope.create_root(validated_variables(variables), validated_rngs(rngs), mutable, flags)


def fresh_arrays(tree):
    """``tree`` with every NumPy array replaced by a copy; containers keep their order.

    JAX arrays are immutable, so in the seed system ``x += y`` inside a model
    rebinds ``x`` and the caller's array never changes. NumPy's ``+=`` writes
    into the array, so ``init``/``apply`` hand the model copies of the array
    arguments: the model may still write into them (``x += y`` keeps working
    and leaves ``x`` a new value), but the caller never sees it. Containers
    that hold no array are returned as they are.

    >>> x = np.ones(2, np.float32)
    >>> args = fresh_arrays((x, {'b': x, 'a': 3}))
    >>> args[0] is x, list(args[1]), args[1]['b'] is x
    (False, ['b', 'a'], False)
    """
    if isinstance(tree, np.ndarray):
        return tree.copy()
    kind = type(tree)
    if kind is dict:
        new = {k: fresh_arrays(v) for k, v in tree.items()}
        return tree if all(new[k] is tree[k] for k in tree) else new
    if kind in (list, tuple) or (isinstance(tree, tuple) and hasattr(tree, "_fields")):
        new = [fresh_arrays(v) for v in tree]
        if all(a is b for a, b in zip(new, tree)):
            return tree
        return kind(*new) if kind not in (list, tuple) else kind(new)
    leaves, treedef = tree_flatten(tree)
    if len(leaves) == 1 and leaves[0] is tree:
        return tree  # a leaf: scalars, strings, keys and other immutable values
    # FrozenDicts and registered pytree nodes: rebuilt through the tree API.
    return tree_unflatten(treedef, [fresh_arrays(leaf) for leaf in leaves])


def _run(fn, module, variables, rngs, mutable, capture_intermediates, flags, args, kwargs):
    # Copies, not the caller's arrays: see fresh_arrays.
    args, kwargs = fresh_arrays(args), fresh_arrays(kwargs)
    capture = _capture_filter(capture_intermediates)
    if capture is not None:
        mutable = union_filters(mutable, "intermediates")  # capturing means storing the captures
    scope = root_scope(variables, rngs, mutable, flags)
    bound = module.clone(parent=scope, _deep_clone=True)
    _capture_stack.append(capture)
    try:
        y = fn(bound, *args, **kwargs)
    finally:
        _capture_stack.pop()
        scope.invalidate()  # a module leaked out of this call can no longer touch its variables
    mutated = {col: copy_tree(tree) for col, tree in scope.root.variables.items() if in_filter(mutable, col)}
    if config.nnref_return_frozendict:  # the seed's flag: hand back FrozenDicts, as older releases did
        mutated = freeze(mutated)
    return y, mutated


def apply(fn: Callable, module, mutable=False, capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as a function of ``(variables, *args, rngs=None, **kwargs)``.

    Returns the output, or ``(output, mutated_collections)`` when ``mutable``
    is not False.
    """

    def apply_fn(variables, *args, rngs=None, **kwargs):
        y, mutated = _run(fn, module, variables, rngs, mutable, capture_intermediates, {}, args, kwargs)
        return y if mutable is False and not capture_intermediates else (y, mutated)

    return apply_fn


def _init_rngs(rngs) -> dict:
    if is_prng_key(rngs):
        return {"params": rngs}
    if isinstance(rngs, Mapping):
        return rngs
    raise errors.InvalidRngError(
        f"init needs one PRNG key or a dict of keys per stream, got {describe_key(rngs)}; {KEY_FORMS}. "
        "Pass e.g. nn.random.PRNGKey(0), or {'params': key, 'dropout': key2}."
    )


def init_with_output(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``fn(bound_module, *args)`` as ``(rngs, *args, **kwargs) -> (output, variables)``."""

    def init_fn(rngs, *args, **kwargs):
        return _run(
            fn, module, {}, _init_rngs(rngs), mutable, capture_intermediates, {"initializing": True}, args, kwargs
        )

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
        if not callable(getattr(type(module), name, None)) and name not in module._field_names:
            raise errors.ApplyModuleInvalidMethodError(name)
        if callable(getattr(type(module), name, None)):
            return getattr(type(module), name)
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
        return True  # builtins without a signature: let the call decide
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in kinds for p in params)


# -- lazy init ---------------------------------------------------------------------------


def _is_abstract(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.ndarray, np.generic))


def _materialize(tree, fill: str):
    from nnref.tree_util import tree_map

    def leaf(x):
        if not _is_abstract(x):
            return x
        dtype = np.dtype(x.dtype)
        if fill == "zeros":
            return np.zeros(x.shape, dtype)
        pattern = np.arange(1, int(np.prod(x.shape, dtype=np.int64)) + 1) % 7 + 1
        return pattern.reshape(x.shape).astype(dtype)

    return tree_map(leaf, tree)


def _same_tree(a, b) -> bool:
    from nnref.tree_util import tree_flatten

    leaves_a, tree_a = tree_flatten(a)
    leaves_b, tree_b = tree_flatten(b)
    if tree_a != tree_b:
        return False
    return all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(leaves_a, leaves_b))


def lazy_init(fn, module, mutable, rngs, args, kwargs) -> dict:
    """``init`` where ``ShapeDtypeStruct`` arguments stand for arrays.

    An eager reference cannot trace, so it initializes twice with two
    different fillings of the abstract arguments; the variables must not
    depend on them (``LazyInitError`` otherwise).
    """
    run = init(fn, module, mutable)
    first = run(rngs, *_materialize(args, "zeros"), **_materialize(kwargs, "zeros"))
    second = run(rngs, *_materialize(args, "pattern"), **_materialize(kwargs, "pattern"))
    if not _same_tree(first, second):
        abstract = [x for x in list(args) + list(kwargs.values()) if _is_abstract(x)]
        raise errors.LazyInitError(abstract[0] if len(abstract) == 1 else abstract)
    return first
