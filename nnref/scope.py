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
from typing import Any, Callable

import numpy as np

from shared_spec import errors
from shared_spec.collection_filters import in_filter

from nnref.rng_streams import RngStream
from nnref.variables import Variable

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
        if not isinstance(name, str):
            raise TypeError(
                f"Variable and submodule names must be str, got {name!r} "
                f"({type(name).__name__}) in module {self.path_text}."
            )
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
        self.reserve(name, "params")
        if self.has_variable("params", name):
            value = self.get_variable("params", name)
            _check_param_shape(self, name, value, init_fn, init_args, init_kwargs)
            return value
        if not self.is_mutable_collection("params"):
            if self.is_collection_empty("params"):
                raise errors.ScopeCollectionNotFound("params", name, self.path_text)
            raise errors.ScopeParamNotFoundError(name, self.path_text)
        value = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
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
    at init. The seed system checks this abstractly; an eager reference
    simply runs the initializer once with a fixed key.
    """
    from nnref import random as nrandom

    expected = init_fn(nrandom.PRNGKey(0), *init_args, **init_kwargs)
    expected_shapes = [_shape(leaf) for leaf in tree_leaves(expected)]
    value_shapes = [_shape(leaf) for leaf in tree_leaves(value)]
    for got, want in zip(value_shapes, expected_shapes):
        if got != want:
            raise errors.ScopeParamShapeError(name, scope.path_text, got, want)


def _shape(x) -> tuple:
    return tuple(getattr(x, "shape", ()))


def tree_leaves(tree) -> list:
    """Leaves of nested dicts/lists/tuples, in key-sorted order for dicts."""
    if isinstance(tree, dict) or hasattr(tree, "items") and hasattr(tree, "keys"):
        return [leaf for key in sorted(tree.keys()) for leaf in tree_leaves(tree[key])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def private_copy(tree):
    """A copy that shares no mutable array with ``tree``.

    JAX arrays are immutable, so ``v.value += 1`` makes a new array there; a
    NumPy ``+=`` writes in place. Values enter and leave a scope as copies so
    that in-place updates in model code never reach stored variables or the
    caller's arrays.
    """
    if isinstance(tree, np.ndarray):
        return tree.copy()
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
