"""The arguments of ``init`` / ``apply`` / ``bind``: how both backends read and check them.

``model.apply(variables, *args, rngs=..., method=..., capture_intermediates=...)``
and ``model.init(rngs, ...)`` accept the same argument forms in both
backends and reject the same mistakes with the same messages:

* ``method=``: ``None`` (``__call__``), a method name, a bound or unbound
  method, or any callable that takes the module as its first argument;
* ``capture_intermediates=``: ``True`` (every ``__call__``), ``False``/``None``
  or a filter ``(module, method_name) -> bool``;
* the variables: a mapping of collections, each a mapping (nested), with no
  ``{'params': {'params': ...}}`` double wrapping and no text or object
  leaves;
* ``rngs=``: one key (the 'params' stream) or a mapping of stream names to
  keys. What a key is differs per backend (the caller passes ``is_key``),
  and so does the module that makes keys, named in the messages (``key_api``).

The backends copy the variables their own way (the copy is also where a bad
leaf is found); the decisions and the texts are here.

>>> capture_filter(True)(None, '__call__'), capture_filter(False)
(True, None)
>>> validated_rngs({'dropout': 1}, is_key=lambda k: k == 1, key_api='jax.random')
{'dropout': 1}
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from shared_spec import errors
from shared_spec.variable_rules import NON_NUMERIC_KINDS

__all__ = [
    'BadLeaf',
    'bad_leaf',
    'bad_leaf_error',
    'capture_filter',
    'describe_key',
    'init_rngs',
    'key_forms',
    'resolve_method',
    'takes_a_positional_argument',
    'validated_rngs',
    'validated_variables',
]


def capture_filter(capture_intermediates) -> Callable | None:
    """The filter ``(module, method_name) -> bool`` that ``capture_intermediates=`` stands for (``None``: none).

    >>> capture_filter(lambda m, name: name == 'encode')(None, 'encode')
    True
    >>> capture_filter('all')
    Traceback (most recent call last):
    ...
    TypeError: capture_intermediates must be a bool or a function (module, method_name) -> bool, got 'all'.
    """
    if capture_intermediates is True:
        return _every_call
    if capture_intermediates is False or capture_intermediates is None:
        return None
    if callable(capture_intermediates):
        return capture_intermediates
    raise TypeError(
        "capture_intermediates must be a bool or a function (module, method_name) -> bool, "
        f"got {capture_intermediates!r}."
    )


def _every_call(_module, method_name: str) -> bool:
    return method_name == "__call__"


def resolve_method(module, method) -> Callable:
    """The function that ``apply(..., method=method)`` calls with the bound module as its first argument.

    A name resolves on the module's class; the name of a field holding a
    callable resolves on the bound module (the field's value is called).

    >>> class Model:
    ...   _field_names = frozenset({'act'})
    ...   def encode(self, x):
    ...     return x
    >>> resolve_method(Model(), 'encode') is Model.encode
    True
    >>> resolve_method(Model(), 'decode')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_spec.errors.ApplyModuleInvalidMethodError: Cannot call apply()...
    """
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
    if callable(method) and takes_a_positional_argument(method):
        return method
    raise errors.ApplyModuleInvalidMethodError(method)


def takes_a_positional_argument(fn) -> bool:
    """Whether ``fn`` can take the module positionally (builtins without a signature: assumed so).

    >>> takes_a_positional_argument(lambda m, x: x), takes_a_positional_argument(lambda *, x: x)
    (True, False)
    """
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True  # let the call itself decide
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in kinds for p in params)


# -- variables -----------------------------------------------------------------------------


class BadLeaf(Exception):
    """Raised by a backend's copy of a collection when a leaf is not an array of numbers."""


def bad_leaf(leaf, is_params: bool) -> bool:
    """A leaf no variable may hold: a text, bytes or object NumPy array; as a parameter also ``None`` or a string.

    >>> bad_leaf(np.array(['a']), False), bad_leaf(None, True), bad_leaf(None, False)
    (True, True, False)
    """
    if isinstance(leaf, np.ndarray):
        return leaf.dtype.kind in NON_NUMERIC_KINDS
    return is_params and (leaf is None or isinstance(leaf, (str, bytes)))


def validated_variables(variables, copy_collection: Callable, is_bad_leaf: Callable, is_node: Callable) -> dict:
    """``{collection: copy_collection(tree, is_params)}`` after checking the variables' structure.

    ``copy_collection`` raises :class:`BadLeaf` on a leaf the backend refuses;
    the error then names that leaf (found again by :func:`bad_leaf_error`).

    >>> validated_variables({'params': {'w': 1}}, lambda t, p: dict(t), None, None)
    {'params': {'w': 1}}
    >>> validated_variables([1], None, None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_spec.errors.ApplyScopeInvalidVariablesTypeError: ... got list. Fix: ...
    """
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
            out[col] = copy_collection(tree, col == "params")
        except BadLeaf:
            raise bad_leaf_error(col, tree, is_bad_leaf, is_node) from None
    return out


def bad_leaf_error(col: str, tree, is_bad_leaf: Callable, is_node: Callable) -> TypeError:
    """The error naming the first leaf of ``tree`` (collection ``col``) with ``is_bad_leaf(leaf, is_params)``.

    >>> bad_leaf_error('params', {'Dense_0': {'kernel': None}}, lambda x, p: x is None, lambda n: isinstance(n, dict))
    TypeError("Variable 'kernel' in collection 'params' at module path '/Dense_0' is None (NoneType); a parameter must be an array of numbers. Fix: apply() the variables that init() returned (or that a checkpoint restored).")
    """

    def find(node, path):
        if is_node(node):
            for key, value in node.items():
                found = find(value, path + (str(key),))
                if found is not None:
                    return found
        elif is_bad_leaf(node, col == "params"):
            return path, node
        return None

    path, leaf = find(tree, ())
    where = "/" + "/".join(path[:-1])
    if hasattr(leaf, "dtype") and hasattr(leaf, "shape"):
        what = f"has dtype {leaf.dtype} (shape {leaf.shape}); variables must hold numbers (bool, int, float or complex)"
    else:
        what = f"is {leaf!r} ({type(leaf).__name__}); a parameter must be an array of numbers"
    return TypeError(
        f"Variable '{path[-1]}' in collection '{col}' at module path '{where}' {what}. "
        "Fix: apply() the variables that init() returned (or that a checkpoint restored)."
    )


# -- rngs ----------------------------------------------------------------------------------


def key_forms(key_api: str) -> str:
    """What a key must look like, in every message about a bad key; ``key_api`` makes keys.

    >>> key_forms('nn.random')
    'a key is nn.random.key(0) (a typed key of shape ()) or nn.random.PRNGKey(0) (a uint32 array of shape (2,)), one per stream'
    """
    return (
        f"a key is {key_api}.key(0) (a typed key of shape ()) or {key_api}.PRNGKey(0) "
        "(a uint32 array of shape (2,)), one per stream"
    )


def describe_key(x) -> str:
    """What was given where a key belongs: its dtype and shape, or its type and (shortened) value.

    >>> describe_key(42), describe_key('k' * 50)
    ('int 42', "str 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...")
    """
    dtype, shape = getattr(x, "dtype", None), getattr(x, "shape", None)
    if dtype is not None and shape is not None:
        return f"{type(x).__name__} of dtype {dtype} and shape {tuple(shape)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def validated_rngs(rngs, is_key: Callable[[Any], bool], key_api: str) -> dict:
    """``apply``'s ``rngs=``: ``None`` -> no streams; one key -> the 'params' stream; a mapping -> checked per stream.

    >>> validated_rngs(None, is_key=lambda k: False, key_api='jax.random')
    {}
    >>> validated_rngs({'dropout': 0}, is_key=lambda k: False, key_api='jax.random')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_spec.errors.InvalidRngError: rngs['dropout'] is not a PRNG key: got int 0; a key is ...
    """
    if rngs is None:
        return {}
    if is_key(rngs):
        return {"params": rngs}
    forms = key_forms(key_api)
    if not isinstance(rngs, Mapping):
        raise errors.InvalidRngError(
            f"rngs must be one PRNG key or a dict mapping stream names to keys, got {describe_key(rngs)}; "
            f"{forms}. Pass e.g. rngs={{'params': {key_api}.PRNGKey(0), 'dropout': {key_api}.PRNGKey(1)}}."
        )
    for stream, key in rngs.items():
        if not is_key(key):
            raise errors.InvalidRngError(f"rngs['{stream}'] is not a PRNG key: got {describe_key(key)}; {forms}.")
    return dict(rngs)


def init_rngs(rngs, is_key: Callable[[Any], bool], key_api: str):
    """``init``'s first argument: one key -> the 'params' stream; a mapping passes on (checked when bound).

    >>> init_rngs('key', is_key=lambda k: k == 'key', key_api='jax.random')
    {'params': 'key'}
    """
    if is_key(rngs):
        return {"params": rngs}
    if isinstance(rngs, Mapping):
        return rngs
    raise errors.InvalidRngError(
        f"init needs one PRNG key or a dict of keys per stream, got {describe_key(rngs)}; {key_forms(key_api)}. "
        f"Pass e.g. {key_api}.PRNGKey(0), or {{'params': key, 'dropout': key2}}."
    )
