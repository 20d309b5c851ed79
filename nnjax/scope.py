"""Scopes: a module's view of the variables and random streams of one call.

One ``init``/``apply``/``bind`` makes a root :class:`Scope` over a
:class:`Frame` (the variable dict, mutability filter and flags of that
call); each bound submodule gets a child scope at its path. The rules are
the seed system's (the same as nnref's, written for speed here):

* one namespace per scope per call: a submodule name clashes with
  anything, a variable name only with the same collection or a submodule;
* only collections the caller made mutable may be written or created;
* ``make_rng`` counts per path, so a compact submodule made again under the
  same name continues its counter.

Lifted transforms need to move a scope's state across a JAX transform
boundary as plain pytrees: :meth:`Scope.export_variables` and
:meth:`Scope.export_rngs` take it out, :meth:`Scope.functional` builds a
scope from such pytrees, and :meth:`Scope.import_variables` writes results
back.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np
from jax.extend.core import get_opaque_trace_state

from nnjax.rng_streams import RngCounters, RngStream
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
    """What every scope of one call shares."""

    __slots__ = ("variables", "mutable", "flags", "valid", "adopted", "_mutable_cache", "trace")

    def __init__(self, variables: dict, mutable, flags: dict | None = None):
        self.variables = variables
        # the JAX trace the call runs in: writing from inside another one (a raw
        # jax.jit/vmap/grad around a bound module) would leak tracers into the variables
        self.trace = _trace_state()
        self.mutable = mutable
        self.flags = flags or {}
        self.valid = True
        self.adopted: dict = {}  # id of a module passed in from outside -> its clone in this call
        self._mutable_cache: dict[str, bool] = {}

    def is_mutable(self, col: str) -> bool:
        try:
            return self._mutable_cache[col]
        except KeyError:
            result = self._mutable_cache[col] = in_filter(self.mutable, col)
            return result


def _trace_state():
    return get_opaque_trace_state(convention="flax")


class Scope:
    """Variables and RNG streams at one path of the module tree."""

    __slots__ = ("frame", "path", "rngs", "rng_counters", "reservations", "_nodes", "path_text")

    def __init__(self, frame: Frame, path: tuple, rngs: dict, rng_counters: RngCounters):
        self.frame = frame
        self.path = path
        self.path_text = format_path(path)
        self.rngs = rngs
        # kept by the parent's node, so a child scope made again at this path continues its counts
        self.rng_counters = rng_counters
        self.reservations: dict[str, set] = {}
        self._nodes: dict[str, dict] = {}  # collection -> this scope's dict in it (once it exists)

    @classmethod
    def root(cls, variables: dict, rngs: dict, mutable, flags=None) -> "Scope":
        streams = {name: RngStream(key) for name, key in rngs.items()}
        return cls(Frame(variables, mutable, flags), (), streams, RngCounters())

    @property
    def name(self) -> str | None:
        return self.path[-1] if self.path else None

    def push(self, name: str, reuse: bool = False) -> "Scope":
        """The child scope ``name``, reserving the name (unless ``reuse`` and already reserved)."""
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

    # -- names --------------------------------------------------------------------

    def name_reserved(self, name: str, col: str | None = SUBMODULE) -> bool:
        cols = self.reservations.get(name)
        if cols is None:
            return False
        return col is SUBMODULE or SUBMODULE in cols or col in cols

    def reserve(self, name: str, col: str | None = SUBMODULE) -> None:
        if not isinstance(name, str) or not name or ("/" in name and col is SUBMODULE):
            raise bad_name_error(name, col, self.path_text)
        cols = self.reservations.get(name)
        if cols is None:
            self.reservations[name] = {col}
            return
        if col is SUBMODULE or SUBMODULE in cols or col in cols:
            kind = "submodule" if col is SUBMODULE else f"variable in collection '{col}'"
            raise errors.NameInUseError(kind, name, self.path_text)
        cols.add(col)

    # -- collections ----------------------------------------------------------------

    def is_mutable_collection(self, col: str) -> bool:
        return self.frame.is_mutable(col)

    def is_collection_empty(self, col: str) -> bool:
        return not self.frame.variables.get(col)

    def _node(self, col: str) -> dict | None:
        node = self._nodes.get(col)
        if node is not None:
            return node
        node = self.frame.variables.get(col)
        for part in self.path:
            if node is None:
                return None
            node = node.get(part)
        if node is not None:
            self._nodes[col] = node
        return node

    def _node_for_write(self, col: str) -> dict:
        node = self._node(col)
        if node is not None:
            return node
        node = self.frame.variables.setdefault(col, {})
        for part in self.path:
            node = node.setdefault(part, {})
        self._nodes[col] = node
        return node

    def has_variable(self, col: str, name: str) -> bool:
        self._check_valid()
        node = self._node(col)
        return node is not None and name in node

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        self._check_valid()
        node = self._node(col)
        if node is None:
            return default
        return node.get(name, default)

    def put_variable(self, col: str, name: str, value: Any) -> None:
        self._check_valid()
        if not self.frame.is_mutable(col):
            raise errors.ModifyScopeVariableError(col, name, self.path_text)
        if _trace_state() != self.frame.trace:
            raise errors.JaxTransformError()
        self._node_for_write(col)[name] = value

    def variables(self) -> dict:
        """Every collection's subtree at this path (the dict structure copied)."""
        self._check_valid()
        out = {}
        for col in self.frame.variables:
            node = self._node(col)
            if node:
                out[col] = copy_structure(node)
        return out

    # -- declaring variables --------------------------------------------------------

    def param(self, name: str, init_fn: Callable, init_args: tuple, init_kwargs: dict) -> Any:
        self.reserve(name, "params")
        node = self._node("params")
        if node is not None and name in node:
            self._check_valid()
            value = node[name]
            check_param_shape(name, self.path_text, value, init_fn, init_args, init_kwargs)
            return value
        if not self.frame.is_mutable("params"):
            if self.is_collection_empty("params"):
                raise errors.ScopeCollectionNotFound("params", name, self.path_text)
            raise errors.ScopeParamNotFoundError(name, self.path_text)
        fused = _fused_init(init_fn, init_args, init_kwargs)
        if fused is None:
            if not callable(init_fn):
                raise init_not_callable_error(name, self.path_text, init_fn)
            value = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
            check_init_output(name, self.path_text, value, init_args)
        else:  # JAX's own initializers: they make what they are asked for
            rng, counter = self._next_rng("params")
            value = fused(rng.root_key, rng.data(counter))
        self.put_variable("params", name, value)
        return value

    def variable(self, col: str, name: str, init_fn, init_args: tuple, init_kwargs: dict) -> None:
        """Declares ``col/name``, creating it with ``init_fn`` if missing and allowed."""
        self.reserve(name, col)
        if not self.has_variable(col, name):
            if not self.frame.is_mutable(col) or init_fn is None:
                if self.is_collection_empty(col):
                    raise errors.ScopeCollectionNotFound(col, name, self.path_text)
                raise errors.ScopeVariableNotFoundError(name, col, self.path_text)
            self.put_variable(col, name, init_fn(*init_args, **init_kwargs))

    def check_variable_shape(self, col: str, name: str, shape: tuple) -> None:
        """The stored ``col/name`` must be an array of ``shape`` (see ``Variable.check_shape``)."""
        node = self._node(col)
        value = node.get(name) if node is not None else None
        if not isinstance(value, jax.Array):
            value = _unbox(value)
        check_state_value(col, name, self.path_text, value, shape)

    # -- randomness -----------------------------------------------------------------

    def has_rng(self, stream: str) -> bool:
        return stream in self.rngs

    def make_rng(self, stream: str = "params"):
        rng, counter = self._next_rng(stream)
        return rng.key(counter)

    def _next_rng(self, stream: str):
        """The stream ``make_rng(stream)`` draws from and its counter, advanced."""
        self._check_valid()
        if stream not in self.rngs:
            if "params" not in self.rngs:
                raise errors.missing_rng_error(self.path, stream)
            stream = "params"
        return self.rngs[stream], self.rng_counters.next(stream)

    def get_flag(self, name: str, default: Any = None) -> Any:
        return self.frame.flags.get(name, default)

    # -- functionalization (for lifted transforms) ------------------------------------

    def export_variables(self, col_filter=True) -> dict:
        """This scope's variables in the collections ``col_filter`` selects, as a plain pytree."""
        return {col: tree for col, tree in self.variables().items() if in_filter(col_filter, col)}

    def export_rngs(self) -> dict:
        """Per stream, the key the next ``make_rng`` would derive from: ``(root_key, suffix)``."""
        return {stream: (rng.root_key, rng.suffix) for stream, rng in self.rngs.items()}

    @classmethod
    def functional(cls, variables: dict, rngs: dict, mutable, path: tuple = (), flags=None) -> "Scope":
        """A scope at ``path`` over ``variables`` (collection -> this scope's subtree)."""
        nested = {}
        for col, tree in variables.items():
            node = nested.setdefault(col, {})
            for part in path[:-1]:
                node = node.setdefault(part, {})
            if path:
                node[path[-1]] = copy_structure(tree)
            else:
                nested[col] = copy_structure(tree)
        streams = {name: RngStream(key, suffix) for name, (key, suffix) in rngs.items()}
        return cls(Frame(nested, mutable, flags), path, streams, RngCounters())

    def import_variables(self, variables: dict) -> None:
        """Write collections returned from a transform back at this path."""
        for col, tree in variables.items():
            node = self._node_for_write(col)
            for name, value in tree.items():
                if node.get(name) is not value:
                    if not self.frame.is_mutable(col):
                        raise errors.ModifyScopeVariableError(col, name, self.path_text)
                    node[name] = value


def copy_structure(tree):
    """The same tree with fresh dicts (leaves, immutable JAX arrays, are shared)."""
    if isinstance(tree, dict):
        return {key: copy_structure(value) for key, value in tree.items()}
    return tree


# -- the existing-parameter shape check ----------------------------------------------


def _abstract_key():
    return jax.ShapeDtypeStruct((2,), np.uint32)


@functools.lru_cache(maxsize=4096)
def _init_shapes_cached(init_fn, init_args: tuple, init_kwargs: tuple) -> tuple:
    return _init_shapes(init_fn, init_args, dict(init_kwargs))


def _init_shapes(init_fn, init_args: tuple, init_kwargs: dict) -> tuple:
    out = jax.eval_shape(lambda key: init_fn(key, *init_args, **init_kwargs), _abstract_key())
    return tuple(tuple(leaf.shape) for leaf in jax.tree_util.tree_leaves(out))


def check_param_shape(name: str, where: str, value, init_fn, init_args: tuple, init_kwargs: dict) -> None:
    """An existing parameter must have the shape its initializer would give now.

    A mismatch means the module is applied to inputs of another shape than at
    init. The shapes come from ``jax.eval_shape`` (nothing is computed) and
    are cached per initializer and arguments, because apply checks every
    parameter on every call.
    """
    try:
        expected = _init_shapes_cached(init_fn, init_args, tuple(sorted(init_kwargs.items())))
    except TypeError:  # unhashable arguments (arrays): no caching; or an initializer that cannot be called
        if not callable(init_fn):
            raise init_not_callable_error(name, where, init_fn) from None
        expected = _init_shapes(init_fn, init_args, init_kwargs)
    got = [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(value)]
    if len(got) != len(expected):
        raise param_structure_error(name, where, value, len(expected))
    for value_shape, init_shape in zip(got, expected):
        if value_shape != init_shape:
            raise errors.ScopeParamShapeError(name, where, value_shape, init_shape)


# -- what a variable must look like: the rules and words are shared_spec/variable_rules.py ------------


def _unbox(value):
    from nnjax import meta

    return meta.unbox(value)


def check_init_output(name: str, where: str, value, init_args: tuple) -> None:
    """What ``init_fn(key, shape, dtype)`` returned must be an array of numbers (of exactly ``shape``)."""
    requested = requested_shape(init_args)
    leaves = [value] if isinstance(value, jax.Array) else jax.tree_util.tree_leaves(value, is_leaf=is_non_numeric)
    bad = [leaf for leaf in leaves if is_non_numeric(leaf)]
    if bad or value is None:
        raise init_output_type_error(name, where, bad[0] if bad else value, requested)
    if requested is not None and len(leaves) == 1 and tuple(np.shape(leaves[0])) != tuple(requested):
        raise init_output_shape_error(name, where, np.shape(leaves[0]), requested)


# -- fused parameter initialization ---------------------------------------------------

# Initializers known to be pure functions of (key, shape, dtype, ...): JAX's own.
_PURE_INIT_MODULES = frozenset({"jax._src.nn.initializers", "jax.nn.initializers"})


def _fn_identity(fn):
    """A hashable stand-in for ``fn`` that is equal for equal closures (e.g. ``normal(0.02)`` made twice)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return fn
    cells = tuple((type(v), v) for v in (c.cell_contents for c in fn.__closure__ or ()))
    return (code, cells, fn.__defaults__, tuple(sorted((fn.__kwdefaults__ or {}).items())))


_fused_inits: dict = {}  # (initializer identity, args, kwargs) -> jitted (root_key, data) -> value


def _fused_init_cached(identity, init_fn, init_args: tuple, init_kwargs: tuple):
    cache_key = (identity, init_args, init_kwargs)
    fused = _fused_inits.get(cache_key)
    if fused is None:
        if len(_fused_inits) >= 1024:
            _fused_inits.clear()
        kwargs = dict(init_kwargs)
        fused = _fused_inits[cache_key] = jax.jit(
            lambda root_key, data: init_fn(jax.random.fold_in(root_key, data), *init_args, **kwargs)
        )
    return fused


def _fused_init(init_fn, init_args: tuple, init_kwargs: dict):
    """``(root_key, data) -> init_fn(fold_in(root_key, data), *init_args)`` as one compiled call, or None.

    Only for JAX's own initializers (pure, so running them under ``jit`` is
    unobservable) with hashable arguments: one dispatch per parameter instead
    of a dozen eager ones, and under an outer ``jit`` one cached inner jaxpr
    instead of re-tracing the initializer.
    """
    if getattr(init_fn, "__module__", None) not in _PURE_INIT_MODULES:
        return None
    try:
        return _fused_init_cached(_fn_identity(init_fn), init_fn, init_args, tuple(sorted(init_kwargs.items())))
    except TypeError:  # unhashable arguments
        return None
