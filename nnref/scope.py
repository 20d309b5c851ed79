"""Scopes: a module's window onto the variables and random streams of one apply.

One ``init``/``apply``/``bind`` creates a root :class:`Scope`; every bound
submodule gets a child scope at its path. All scopes of one call share a
:class:`RootState` that owns the variable dict (``collection -> nested dict
following the module tree``), the mutability filter and the flags. A scope
only ever reads and writes below its own path.

The rules enforced here are the seed system's:

* a name is reserved once per scope per call: a submodule name clashes with
  anything, a variable name only with the same collection or a submodule;
* writing a collection the caller did not make mutable is an error, and so
  is creating a variable in it;
* ``make_rng`` advances a counter that belongs to the scope's *path*, so a
  submodule created again under the same name (a second call of a compact
  parent) continues where it left off instead of repeating its keys.
"""

from __future__ import annotations

import copy as _copy
import weakref
from typing import Any, Callable

import numpy as np

from nnref import tree_util
from nnref.initializers import output_shapes_fn
from nnref.meta import unbox as meta_unbox
from nnref.rng_streams import RngStream
from nnref.variables import Variable
from shared_spec import errors
from shared_spec.collection_filters import in_filter

SUBMODULE = None  # the "collection" of a reservation made by a child scope


def path_text(path: tuple) -> str:
    return "/" + "/".join(path)


class RootState:
    """What all scopes of one call share."""

    def __init__(self, variables: dict, mutable, flags: dict | None = None):
        self.variables = variables
        self.mutable = mutable
        self.flags = dict(flags or {})
        self.valid = True
        self.adopted: dict = {}  # id of a module passed in from outside -> its clone in this call


class Scope:
    """The variables and RNG streams visible at one path of the module tree."""

    def __init__(self, root: RootState, path: tuple, rngs: dict, rng_node: dict):
        self.root = root
        self.path = path
        self.rngs = rngs  # stream name -> RngStream
        # {'counts': {stream: calls so far}, 'children': {name: node}}: one node per
        # path, kept by the parent, so a child scope made again shares its counts.
        self._rng_node = rng_node
        self.reservations: dict[str, set] = {}

    # -- construction -------------------------------------------------------

    @classmethod
    def create_root(cls, variables: dict, rngs: dict, mutable, flags=None) -> "Scope":
        streams = {name: RngStream(key) for name, key in rngs.items()}
        return cls(RootState(variables, mutable, flags), (), streams, _new_rng_node())

    @property
    def name(self) -> str | None:
        return self.path[-1] if self.path else None

    @property
    def path_text(self) -> str:
        return path_text(self.path)

    def push(self, name: str, reuse: bool = False) -> "Scope":
        """The child scope ``name``; reserves the name unless ``reuse`` and already reserved."""
        self._check_valid()
        if not (reuse and name in self.reservations):
            self.reserve(name, SUBMODULE)
        rngs = {stream: rng.child(name) for stream, rng in self.rngs.items()}
        node = self._rng_node["children"].setdefault(name, _new_rng_node())
        return Scope(self.root, self.path + (name,), rngs, node)

    def rewind(self) -> None:
        """Forget this call's name reservations (a compact method is about to run again)."""
        self.reservations = {}

    def rewound(self) -> "Scope":
        """A new scope at the same path without reservations (the old object keeps its own)."""
        return Scope(self.root, self.path, self.rngs, self._rng_node)

    def is_within(self, other: "Scope") -> bool:
        """Whether this scope is ``other`` or below it, in the same call."""
        return self.root is other.root and self.path[: len(other.path)] == other.path

    def invalidate(self) -> None:
        self.root.valid = False

    def _check_valid(self) -> None:
        if not self.root.valid:
            raise errors.InvalidScopeError(self.path_text)

    # -- names ----------------------------------------------------------------

    def name_reserved(self, name: str, col: str | None = SUBMODULE) -> bool:
        cols = self.reservations.get(name)
        if cols is None:
            return False
        return col is SUBMODULE or SUBMODULE in cols or col in cols

    def reserve(self, name: str, col: str | None = SUBMODULE) -> None:
        if not isinstance(name, str) or not name or ("/" in name and col is SUBMODULE):
            raise bad_name_error(name, col, self.path_text)
        if self.name_reserved(name, col):
            kind = "submodule" if col is SUBMODULE else f"variable in collection '{col}'"
            raise errors.NameInUseError(kind, name, self.path_text)
        self.reservations.setdefault(name, set()).add(col)

    # -- collections -------------------------------------------------------

    def is_mutable_collection(self, col: str) -> bool:
        return in_filter(self.root.mutable, col)

    def is_collection_empty(self, col: str) -> bool:
        return not self.root.variables.get(col)

    def _node(self, col: str, create: bool) -> dict | None:
        """This scope's dict inside collection ``col`` (created on demand when writing)."""
        node = self.root.variables.get(col)
        if node is None:
            if not create:
                return None
            node = self.root.variables[col] = {}
        for part in self.path:
            child = node.get(part)
            if child is None:
                if not create:
                    return None
                child = node[part] = {}
            node = child
        return node

    def has_variable(self, col: str, name: str) -> bool:
        self._check_valid()
        node = self._node(col, create=False)
        return node is not None and name in node

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        self._check_valid()
        node = self._node(col, create=False)
        if node is None or name not in node:
            return default
        return private_copy(node[name])

    def put_variable(self, col: str, name: str, value: Any) -> None:
        self._check_valid()
        if not self.is_mutable_collection(col):
            raise errors.ModifyScopeVariableError(col, name, self.path_text)
        self._node(col, create=True)[name] = private_copy(value)

    def variables(self) -> dict:
        """Every collection's subtree at this path (a copy of the structure)."""
        self._check_valid()
        out = {}
        for col in self.root.variables:
            node = self._node(col, create=False)
            if node:
                out[col] = private_copy(node)
        return out

    # -- declaring variables -------------------------------------------------

    def param(self, name: str, init_fn: Callable, *init_args, **init_kwargs) -> Any:
        """The parameter ``name``, made by ``init_fn(key, *init_args, **init_kwargs)`` if it does not exist.

        An existing parameter is checked against the shape its initializer
        would give now. While 'params' is immutable (a plain ``apply``) it is
        handed out as a read-only :class:`ImmutableArray` view, not copied:
        copying every parameter on every call costs as much as the forward
        pass itself, and the view protects the caller's arrays just as well.
        """
        self.reserve(name, "params")
        self._check_valid()
        node = self._node("params", create=False)
        if node is not None and name in node:
            value = node[name]
            _check_param_shape(self, name, value, init_fn, init_args, init_kwargs)
            return private_copy(value) if self.is_mutable_collection("params") else read_only(value)
        if not self.is_mutable_collection("params"):
            if self.is_collection_empty("params"):
                raise errors.ScopeCollectionNotFound("params", name, self.path_text)
            raise errors.ScopeParamNotFoundError(name, self.path_text)
        if not callable(init_fn):
            raise init_not_callable_error(name, self.path_text, init_fn)
        value = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
        check_init_output(name, self.path_text, value, init_args)
        self.put_variable("params", name, value)
        return value

    def variable(self, col: str, name: str, init_fn: Callable | None = None, *init_args, **init_kwargs) -> Variable:
        self.reserve(name, col)
        if not self.has_variable(col, name):
            if not self.is_mutable_collection(col) or init_fn is None:
                if self.is_collection_empty(col):
                    raise errors.ScopeCollectionNotFound(col, name, self.path_text)
                raise errors.ScopeVariableNotFoundError(name, col, self.path_text)
            self.put_variable(col, name, init_fn(*init_args, **init_kwargs))
        return Variable(self, col, name)

    def check_variable_shape(self, col: str, name: str, shape: tuple) -> None:
        """The stored ``col/name`` must be an array of ``shape`` (see ``Variable.check_shape``); nothing is copied."""
        node = self._node(col, create=False)
        value = node.get(name) if node is not None else None
        if not isinstance(value, np.ndarray):
            value = meta_unbox(value)
        check_state_shape(col, name, self.path_text, value, shape)

    # -- randomness ------------------------------------------------------------

    def has_rng(self, stream: str) -> bool:
        return stream in self.rngs

    def make_rng(self, stream: str = "params"):
        self._check_valid()
        if stream not in self.rngs:
            if "params" not in self.rngs:
                raise errors.InvalidRngError(
                    f"Module {self.path_text} needs a PRNG key for stream '{stream}' "
                    f"but none was given (neither '{stream}' nor the 'params' fallback). "
                    f"Pass it to init/apply, e.g. rngs={{'{stream}': nn.random.PRNGKey(0)}}."
                )
            stream = "params"
        counts = self._rng_node["counts"]
        count = counts[stream] = counts.get(stream, 0) + 1
        return self.rngs[stream].key(count)

    def get_flag(self, name: str, default: Any = None) -> Any:
        return self.root.flags.get(name, default)


def _new_rng_node() -> dict:
    return {"counts": {}, "children": {}}


def _check_param_shape(scope: Scope, name, value, init_fn, init_args, init_kwargs) -> None:
    """An existing parameter must have the shape its initializer would give now.

    A mismatch means the module was applied to inputs of another shape than
    at init. Shapes are compared leaf by leaf, through metadata boxes, as the
    seed system does. The seed learns the expected shapes by tracing the
    initializer abstractly; here they come without drawing a random number:
    nnref's initializers (and the boxes of ``with_partitioning``) declare
    them from their arguments, and any other initializer is run once per
    distinct arguments and the shapes of its output remembered.
    """
    shapes_fn = output_shapes_fn(init_fn)
    if shapes_fn is not None:
        expected = shapes_fn(*init_args, **init_kwargs)
    else:
        if not callable(init_fn):
            raise init_not_callable_error(name, scope.path_text, init_fn)
        expected = _shapes_of_a_run(init_fn, init_args, init_kwargs)
    got_shapes = _leaf_shapes(value)
    if len(got_shapes) != len(expected):
        raise param_structure_error(name, scope.path_text, value, len(expected))
    for got, want in zip(got_shapes, expected):
        if got != want:
            raise errors.ScopeParamShapeError(name, scope.path_text, got, want)


# -- what a variable must look like (the same words in nnjax/scope.py) ------------------------------

# Array kinds no layer can compute with: Python objects, bytes and text.
NON_NUMERIC_KINDS = "OSU"


def bad_name_error(name, col, where: str) -> Exception:
    """A name that is not a str or is empty, or a submodule (``col`` None) name that contains '/'.

    Variable names may contain '/': the seed's own SpectralNorm and
    WeightNorm name their variables after the wrapped layer's parameter
    paths (``'layer_instance/kernel/u'``).
    """
    what = "submodule" if col is SUBMODULE else f"variable in collection '{col}'"
    if not isinstance(name, str):
        return TypeError(
            f"The name of a {what} in module '{where}' must be a str, got {name!r} ({type(name).__name__})."
        )
    problem = "is empty" if not name else "contains '/', which separates the parts of module paths and checkpoint keys"
    return ValueError(
        f"Invalid name {name!r} for a {what} in module '{where}': the name {problem}. "
        "Fix: use a non-empty name without '/'."
    )


def init_not_callable_error(name: str, where: str, init_fn) -> TypeError:
    return TypeError(
        f"The initializer of parameter '{name}' at module path '{where}' must be callable "
        f"as init_fn(key, *args), got {_short(init_fn)} ({type(init_fn).__name__}). "
        "Fix: pass a function such as nn.initializers.zeros or nn.initializers.lecun_normal()."
    )


def param_structure_error(name: str, where: str, value, n_expected: int) -> TypeError:
    return TypeError(
        f"Parameter '{name}' in collection 'params' at module path '{where}' is {_short(value)}, "
        f"but its initializer makes {n_expected} array(s). Fix: apply() the variables init() returned."
    )


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(d, (int, np.integer)) for d in x)


def _is_dtype_like(x) -> bool:
    return isinstance(x, (type, np.dtype, str))


def check_init_output(name: str, where: str, value, init_args: tuple) -> None:
    """What ``init_fn(key, shape, dtype)`` returned must be an array of numbers of exactly ``shape``.

    The shape is only compared when the call follows the initializer
    protocol of the layers (a shape tuple, then a dtype): other ``param``
    calls may pass any arguments.
    """
    requested = (
        init_args[0] if len(init_args) >= 2 and _is_shape(init_args[0]) and _is_dtype_like(init_args[1]) else None
    )
    leaves = [value] if isinstance(value, np.ndarray) else tree_util.tree_leaves(value)
    for leaf in leaves:
        if (
            leaf is None
            or isinstance(leaf, (str, bytes))
            or getattr(getattr(leaf, "dtype", None), "kind", "f") in NON_NUMERIC_KINDS
        ):
            break
    else:
        if not leaves:
            if value is not None:
                return  # an empty container: nothing to check
            leaf = value
        elif requested is None or len(leaves) != 1 or tuple(np.shape(leaves[0])) == tuple(requested):
            return
        else:
            raise ValueError(
                f"The initializer of parameter '{name}' at module path '{where}' returned shape "
                f"{tuple(np.shape(leaves[0]))} but was asked for {tuple(requested)}. Fix: an "
                "initializer init_fn(key, shape, dtype) must return an array of exactly that shape."
            )
    wanted = f" of shape {tuple(requested)}" if requested is not None else ""
    raise TypeError(
        f"The initializer of parameter '{name}' at module path '{where}' returned {_describe(leaf)}; "
        f"expected an array of numbers{wanted}."
    )


def check_state_shape(col: str, name: str, where: str, value, shape) -> None:
    """A variable a layer reads must be an array of the shape the layer needs."""
    shape = tuple(shape)
    if (
        value is None
        or isinstance(value, (str, bytes))
        or getattr(getattr(value, "dtype", None), "kind", "f") in NON_NUMERIC_KINDS
        or not hasattr(value, "shape")
        and not isinstance(value, (int, float, complex))
    ):
        raise TypeError(
            f"Variable '{name}' in collection '{col}' at module path '{where}' is {_describe(value)}; "
            f"this layer needs an array of shape {shape}."
        )
    got = tuple(np.shape(value))
    if got != shape:
        raise ValueError(
            f"Variable '{name}' in collection '{col}' at module path '{where}' has shape {got} but "
            f"this layer needs {shape}. Fix: apply() the variables that init() made for a model of "
            "the same configuration, or init() again."
        )


def _describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        return f"an array of dtype {dtype} and shape {tuple(value.shape)}"
    return f"{_short(value)} ({type(value).__name__})" if value is not None else "None"


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _leaf_shapes(tree) -> list:
    if isinstance(tree, np.ndarray):  # the common case, without walking a tree
        return [tree.shape]
    return [tuple(getattr(leaf, "shape", ())) for leaf in tree_util.tree_leaves(tree)]


# init_fn -> {(init_args, init_kwargs): leaf shapes} for initializers that do not
# declare their shapes. The output shape is taken to depend only on the
# arguments (nnjax caches its abstract evaluations on the same assumption).
# Weak in init_fn: a closure made on every call (holding a bound module and
# its variables) is not kept alive by this cache.
_SHAPES_OF_A_RUN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shapes_of_a_run(init_fn, init_args: tuple, init_kwargs: dict) -> list:
    from nnref import random as nrandom

    def run() -> list:
        return _leaf_shapes(init_fn(nrandom.PRNGKey(0), *init_args, **init_kwargs))

    try:
        per_fn = _SHAPES_OF_A_RUN.setdefault(init_fn, {})
        arguments = (init_args, tuple(sorted(init_kwargs.items())))
        shapes = per_fn.get(arguments)
    except TypeError:  # unhashable arguments (arrays), or an init_fn that cannot be weakly referenced
        return run()
    if shapes is None:
        shapes = per_fn[arguments] = run()
    return shapes


class ImmutableArray(np.ndarray):
    """A read-only view of a stored array that behaves like an immutable JAX array.

    No data is copied and nothing can be written through it: ``w += 1``
    makes a new array (the in-place operator declines, so Python falls back
    to ``w = w + 1``, which is what the same line means in JAX) and
    ``w[0] = 1`` raises. What NumPy computes from it is a plain ``ndarray``.

    >>> w = read_only(np.zeros(2))
    >>> v = w
    >>> v += 1
    >>> w, type(v).__name__
    (ImmutableArray([0., 0.]), 'ndarray')
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # On plain views; an explicit out=w still meets the read-only flag and raises.
        return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))

    def __array_function__(self, func, types, args, kwargs):
        # ndarray's own dispatch runs the NumPy function itself, here on plain views.
        return super().__array_function__(func, types, _plain(args), _plain(kwargs))


def _declines(self, other):
    return NotImplemented


# Every in-place operator declines, so Python computes `w = w <op> other` instead: a new array.
for _op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and", "xor", "or"):
    setattr(ImmutableArray, f"__i{_op}__", _declines)


def _plain(x):
    """``x`` with every ImmutableArray in it (inside lists, tuples, dicts) viewed as a plain ndarray."""
    if isinstance(x, ImmutableArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a namedtuple
        return type(x)(*[_plain(item) for item in x])
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(item) for item in x)
    if isinstance(x, dict):
        return {key: _plain(value) for key, value in x.items()}
    return x


def read_only(tree):
    """``tree`` with every NumPy array replaced by an :class:`ImmutableArray` view of it (no data copied).

    >>> read_only({'w': np.ones(2)})['w'].flags.writeable
    False
    """
    if isinstance(tree, np.ndarray):
        view = tree.view(ImmutableArray)
        view.flags.writeable = False
        return view
    return tree_util.tree_map(lambda leaf: read_only(leaf) if isinstance(leaf, np.ndarray) else leaf, tree)


def private_copy(tree):
    """A copy that shares no mutable array with ``tree``.

    JAX arrays are immutable, so ``v.value += 1`` makes a new array there; a
    NumPy ``+=`` writes in place. Values enter and leave a scope as copies so
    that in-place updates in model code never reach stored variables or the
    caller's arrays.
    """
    if isinstance(tree, np.ndarray):
        return np.array(tree)  # a plain writable ndarray, also from an ImmutableArray view
    if hasattr(type(tree), "_tree_children"):  # a metadata box (nn.Partitioned, ...): copy what it holds
        return tree_util.tree_map(private_copy, tree)
    if isinstance(tree, dict) or (hasattr(tree, "items") and hasattr(tree, "keys")):
        return {key: private_copy(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(private_copy(item) for item in tree)
    return tree


def copy_tree(tree):
    """Copy the dict structure of a variable tree; leaves (arrays) are shared, never mutated."""
    if isinstance(tree, dict) or (hasattr(tree, "items") and hasattr(tree, "keys")):
        return {key: copy_tree(value) for key, value in tree.items()}
    return _copy.copy(tree) if isinstance(tree, list) else tree
