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

from shared_spec import errors
from shared_spec.collection_filters import in_filter
from shared_spec.rng_rules import suffix_hash

_SUBMODULE = None  # the "collection" of a child-scope reservation


def path_text(path: tuple) -> str:
    return "/" + "/".join(path)


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


class RngStream:
    """A root key and the path below it; ``key(n)`` is the n-th ``make_rng`` key at that path."""

    __slots__ = ("root_key", "suffix")

    def __init__(self, root_key, suffix: tuple = ()):
        self.root_key = root_key
        self.suffix = suffix

    def child(self, name: str) -> "RngStream":
        return RngStream(self.root_key, self.suffix + (name,))

    def key(self, counter: int):
        return _fold_in(self.root_key, self.data(counter))

    def data(self, counter: int):
        """What ``key(counter)`` folds into the root key."""
        return np.uint32(suffix_hash(self.suffix + (counter,)))


# One compiled call instead of the ~6 eager dispatches of ``jax.random.fold_in``
# (wrap, convert, fold, unwrap); the same bits, for raw and typed keys alike.
_fold_in = jax.jit(jax.random.fold_in)


def _trace_state():
    return get_opaque_trace_state(convention="flax")


def _new_rng_node() -> dict:
    return {"counts": {}, "children": {}}


class Scope:
    """Variables and RNG streams at one path of the module tree."""

    __slots__ = ("frame", "path", "rngs", "_rng_node", "reservations", "_nodes", "path_text")

    def __init__(self, frame: Frame, path: tuple, rngs: dict, rng_node: dict):
        self.frame = frame
        self.path = path
        self.path_text = path_text(path)
        self.rngs = rngs
        # counts per stream and per-child nodes: kept by the parent so that a
        # child scope made again at the same path continues its counts.
        self._rng_node = rng_node
        self.reservations: dict[str, set] = {}
        self._nodes: dict[str, dict] = {}  # collection -> this scope's dict in it (once it exists)

    @classmethod
    def root(cls, variables: dict, rngs: dict, mutable, flags=None) -> "Scope":
        streams = {name: RngStream(key) for name, key in rngs.items()}
        return cls(Frame(variables, mutable, flags), (), streams, _new_rng_node())

    @property
    def name(self) -> str | None:
        return self.path[-1] if self.path else None

    def push(self, name: str, reuse: bool = False) -> "Scope":
        """The child scope ``name``, reserving the name (unless ``reuse`` and already reserved)."""
        if not (reuse and name in self.reservations):
            self.reserve(name, _SUBMODULE)
        rngs = {stream: rng.child(name) for stream, rng in self.rngs.items()}
        node = self._rng_node["children"].get(name)
        if node is None:
            node = self._rng_node["children"][name] = _new_rng_node()
        return Scope(self.frame, self.path + (name,), rngs, node)

    def rewind(self) -> None:
        """Forget this call's name reservations (a compact method is about to run again)."""
        self.reservations = {}

    def rewound(self) -> "Scope":
        """A new scope at the same path without reservations (the old object keeps its own)."""
        return Scope(self.frame, self.path, self.rngs, self._rng_node)

    def is_within(self, other: "Scope") -> bool:
        """Whether this scope is ``other`` or below it, in the same call."""
        return self.frame is other.frame and self.path[: len(other.path)] == other.path

    def invalidate(self) -> None:
        self.frame.valid = False

    def _check_valid(self) -> None:
        if not self.frame.valid:
            raise errors.InvalidScopeError(self.path_text)

    # -- names --------------------------------------------------------------------

    def name_reserved(self, name: str, col: str | None = _SUBMODULE) -> bool:
        cols = self.reservations.get(name)
        if cols is None:
            return False
        return col is _SUBMODULE or _SUBMODULE in cols or col in cols

    def reserve(self, name: str, col: str | None = _SUBMODULE) -> None:
        if not isinstance(name, str) or not name or ("/" in name and col is _SUBMODULE):
            raise bad_name_error(name, col, self.path_text)
        cols = self.reservations.get(name)
        if cols is None:
            self.reservations[name] = {col}
            return
        if col is _SUBMODULE or _SUBMODULE in cols or col in cols:
            kind = "submodule" if col is _SUBMODULE else f"variable in collection '{col}'"
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
        check_state_shape(col, name, self.path_text, value, shape)

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
                raise errors.InvalidRngError(
                    f"Module {self.path_text} needs a PRNG key for stream '{stream}' "
                    f"but none was given (neither '{stream}' nor the 'params' fallback). "
                    f"Pass it to init/apply, e.g. rngs={{'{stream}': nn.random.PRNGKey(0)}}."
                )
            stream = "params"
        counts = self._rng_node["counts"]
        count = counts[stream] = counts.get(stream, 0) + 1
        return self.rngs[stream], count

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
        return cls(Frame(nested, mutable, flags), path, streams, _new_rng_node())

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


# -- what a variable must look like (the same words in nnref/scope.py) ------------------------------

# Array kinds no layer can compute with: Python objects, bytes and text.
NON_NUMERIC_KINDS = "OSU"


def _unbox(value):
    from nnjax import meta

    return meta.unbox(value)


def bad_name_error(name, col, where: str) -> Exception:
    """A name that is not a str or is empty, or a submodule (``col`` None) name that contains '/'.

    Variable names may contain '/': the seed's own SpectralNorm and
    WeightNorm name their variables after the wrapped layer's parameter
    paths (``'layer_instance/kernel/u'``).
    """
    what = "submodule" if col is _SUBMODULE else f"variable in collection '{col}'"
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


def _non_numeric(leaf) -> bool:
    return (
        leaf is None
        or isinstance(leaf, (str, bytes))
        or (isinstance(leaf, np.ndarray) and leaf.dtype.kind in NON_NUMERIC_KINDS)
    )


def check_init_output(name: str, where: str, value, init_args: tuple) -> None:
    """What ``init_fn(key, shape, dtype)`` returned must be an array of numbers of exactly ``shape``.

    The shape is only compared when the call follows the initializer
    protocol of the layers (a shape tuple, then a dtype): other ``param``
    calls may pass any arguments.
    """
    requested = (
        init_args[0] if len(init_args) >= 2 and _is_shape(init_args[0]) and _is_dtype_like(init_args[1]) else None
    )
    leaves = [value] if isinstance(value, jax.Array) else jax.tree_util.tree_leaves(value, is_leaf=_non_numeric)
    bad = [leaf for leaf in leaves if _non_numeric(leaf)]
    if bad or value is None:
        wanted = f" of shape {tuple(requested)}" if requested is not None else ""
        raise TypeError(
            f"The initializer of parameter '{name}' at module path '{where}' returned "
            f"{_describe(bad[0] if bad else value)}; expected an array of numbers{wanted}."
        )
    if requested is not None and len(leaves) == 1 and tuple(np.shape(leaves[0])) != tuple(requested):
        raise ValueError(
            f"The initializer of parameter '{name}' at module path '{where}' returned shape "
            f"{tuple(np.shape(leaves[0]))} but was asked for {tuple(requested)}. Fix: an "
            "initializer init_fn(key, shape, dtype) must return an array of exactly that shape."
        )


def check_state_shape(col: str, name: str, where: str, value, shape) -> None:
    """A variable a layer reads must be an array of the shape the layer needs."""
    shape = tuple(shape)
    if _non_numeric(value) or not hasattr(value, "shape") and not isinstance(value, (int, float, complex)):
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
