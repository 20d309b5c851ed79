"""Scopes: a module's window onto the variables and random streams of one apply.

Picture the variables of a model as one dict per collection, nested like
the module tree: ``{'params': {'Dense_0': {'kernel': ...}}}``. A scope is a
*cursor* into it: a path (``('Dense_0',)``) plus the state of the call that
all cursors share, a :class:`Frame` (the variable dict, which collections
may be written, the flags). One ``init``/``apply``/``bind`` makes the root
scope; every bound submodule gets a child scope one name further down. A
scope only ever reads and writes below its own path.

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
from nnref.rng_streams import RngCounters, RngStream
from nnref.variables import Variable
from shared_spec import errors
from shared_spec.collection_filters import in_filter
from shared_spec.errors import format_path
from shared_spec.variable_rules import (
    SUBMODULE,
    bad_name_error,
    check_state_value,
    init_not_callable_error,
    init_output_shape_error,
    init_output_type_error,
    is_non_numeric,
    param_structure_error,
    requested_shape,
)


class Frame:
    """The state of one ``init``/``apply``/``bind`` call, shared by every scope made during it.

    ``valid`` turns False when the call ends, so a module that escaped it
    (stored in a global, say) fails loudly instead of writing into a dict
    nobody reads any more.
    """

    def __init__(self, variables: dict, mutable, flags: dict | None = None):
        self.variables = variables  # collection -> nested dict following the module tree
        self.mutable = mutable  # a collection filter: what this call may write
        self.flags = dict(flags or {})
        self.valid = True
        self.adopted: dict = {}  # id of a module passed in from outside -> its clone in this call


class Scope:
    """A cursor at one path of the module tree: its variables, its random streams, its reserved names."""

    def __init__(self, frame: Frame, path: tuple, rngs: dict, rng_counters: RngCounters):
        self.frame = frame
        self.path = path
        self.rngs = rngs  # stream name -> RngStream (root key + this path as suffix)
        # Not owned by this object but by the parent's counters (under our name):
        # a second scope made for the same path must continue the same counts.
        self.rng_counters = rng_counters
        self.reservations: dict[str, set] = {}  # name -> the collections it is taken in (SUBMODULE: all)

    # -- construction -------------------------------------------------------

    @classmethod
    def root(cls, variables: dict, rngs: dict, mutable, flags=None) -> "Scope":
        """The scope of the top-level module: path ``()``, a fresh frame and fresh counters."""
        streams = {name: RngStream(key) for name, key in rngs.items()}
        return cls(Frame(variables, mutable, flags), (), streams, RngCounters())

    @property
    def name(self) -> str | None:
        return self.path[-1] if self.path else None

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    def push(self, name: str, reuse: bool = False) -> "Scope":
        """The child scope ``name``; reserves the name unless ``reuse`` and already reserved."""
        self._check_valid()
        if not (reuse and name in self.reservations):
            self.reserve(name, SUBMODULE)
        rngs = {stream: rng.child(name) for stream, rng in self.rngs.items()}
        return Scope(self.frame, self.path + (name,), rngs, self.rng_counters.child(name))

    def rewind(self) -> None:
        """Forget this call's name reservations (a compact method is about to run again)."""
        self.reservations = {}

    def rewound(self) -> "Scope":
        """A new scope at the same path without reservations (the old object keeps its own)."""
        return Scope(self.frame, self.path, self.rngs, self.rng_counters)

    def is_within(self, other: "Scope") -> bool:
        """Whether this scope is ``other`` or below it, in the same call."""
        return self.frame is other.frame and self.path[: len(other.path)] == other.path

    def invalidate(self) -> None:
        self.frame.valid = False

    def _check_valid(self) -> None:
        if not self.frame.valid:
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
        return in_filter(self.frame.mutable, col)

    def is_collection_empty(self, col: str) -> bool:
        return not self.frame.variables.get(col)

    def _node(self, col: str, create: bool) -> dict | None:
        """This scope's dict inside collection ``col`` (created on demand when writing)."""
        node = self.frame.variables.get(col)
        if node is None:
            if not create:
                return None
            node = self.frame.variables[col] = {}
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
        for col in self.frame.variables:
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
        check_state_value(col, name, self.path_text, value, shape)

    # -- randomness ------------------------------------------------------------

    def has_rng(self, stream: str) -> bool:
        return stream in self.rngs

    def make_rng(self, stream: str = "params"):
        """A new key from ``stream``, different from every other key this call hands out.

        The derivation rule (the seed system's, ``shared_spec.rng_rules``):

        1. a stream the caller did not pass falls back to ``'params'``;
        2. the counter of (this path, stream) goes up by one: ``n``;
        3. the key is ``fold_in(root_key, H(path + (n,)))`` where ``H`` is
           the first 32 bits of SHA-1 over the path names and ``n``.

        So Dense_0's first key is ``fold_in(root, H(('Dense_0', 1)))``; it
        depends on the path and the count, never on the order in which
        sibling modules ran. Known limit: ``H`` has only 2**32 values, so two
        different (path, n) can collide and then get the *same* key. With
        k draws per call the chance is about k**2 / 2**33 -- negligible for
        models, but it is a hash, not a guarantee of distinct keys.
        """
        self._check_valid()
        if stream not in self.rngs:
            if "params" not in self.rngs:
                raise errors.missing_rng_error(self.path, stream)
            stream = "params"
        n = self.rng_counters.next(stream)
        return self.rngs[stream].key(n)

    def get_flag(self, name: str, default: Any = None) -> Any:
        return self.frame.flags.get(name, default)


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


# -- what a variable must look like: the rules and words are shared_spec/variable_rules.py ------------


def check_init_output(name: str, where: str, value, init_args: tuple) -> None:
    """An initializer called as ``init_fn(key, shape, dtype)`` must return numbers, in exactly that shape.

    Every leaf of what it returned is looked at: one that is not numeric
    (None, text, an object array) is an error; so is a single array whose
    shape differs from the one asked for. An empty container passes.
    """
    requested = requested_shape(init_args)
    leaves = [value] if isinstance(value, np.ndarray) else tree_util.tree_leaves(value)
    for leaf in leaves:
        if is_non_numeric(leaf):
            raise init_output_type_error(name, where, leaf, requested)
    if not leaves and value is None:  # None itself, not an empty container
        raise init_output_type_error(name, where, None, requested)
    if requested is not None and len(leaves) == 1:
        got = tuple(np.shape(leaves[0]))
        if got != tuple(requested):
            raise init_output_shape_error(name, where, got, requested)


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
