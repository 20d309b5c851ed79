"""Scopes: a module's window onto the variables and random streams of one apply.

Picture the variables of a model as one dict per collection, nested like
the module tree: ``{'params': {'Dense_0': {'kernel': ...}}}``. A scope is a
*cursor* into it: a path (``('Dense_0',)``) plus the state of the call that
all cursors share, a :class:`Frame` (the variable dict, which collections
may be written, the flags). One ``init``/``apply``/``bind`` makes the root
scope; every bound submodule gets a child scope one name further down. A
scope only ever reads and writes below its own path.

The rules enforced here are the seed system's:

* a name is reserved once per scope per call. Names live in one table per
  scope: a submodule's name blocks that name for everything, a variable's
  name blocks it for its own collection and for submodules;
* writing a collection the caller did not make mutable is an error, and so
  is creating a variable in it;
* ``make_rng`` advances a counter that belongs to the scope's *path*, so a
  submodule created again under the same name (a second call of a compact
  parent) continues where it left off instead of repeating its keys.

What a stored variable must look like (numeric leaves, the shapes its
initializer promises) and the words of those errors are shared with the
production backend in ``shared_spec.variable_rules``.
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
from shared_spec import variable_rules as rules
from shared_spec.collection_filters import in_filter
from shared_spec.errors import format_path

# The reservation that stands for "a submodule has this name" (it blocks every collection).
SUBMODULE = rules.SUBMODULE


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
        # A module passed in from outside the call is cloned once per call;
        # this maps id(original) to that clone.
        self.adopted: dict = {}


class Scope:
    """A cursor at one path of the module tree: its variables, its random streams, its reserved names."""

    def __init__(self, frame: Frame, path: tuple, rngs: dict, rng_counters: RngCounters):
        self.frame, self.path = frame, path
        self.rngs = rngs  # stream name -> RngStream (root key + this path as suffix)
        # Not owned by this object but by the parent's counters (under our name):
        # a second scope made for the same path must continue the same counts.
        self.rng_counters = rng_counters
        # name -> the collections it is taken in (SUBMODULE stands for all of them)
        self.reservations: dict[str, set] = {}

    # -- construction -------------------------------------------------------

    @classmethod
    def root(cls, variables: dict, rngs: dict, mutable, flags=None) -> "Scope":
        """The scope of the top-level module: path ``()``, a fresh frame and fresh counters."""
        frame = Frame(variables, mutable, flags)
        streams = {}
        for stream, root_key in rngs.items():
            streams[stream] = RngStream(root_key)
        return cls(frame, (), streams, RngCounters())

    @property
    def name(self) -> str | None:
        """The last name of the path (``None`` at the root)."""
        if not self.path:
            return None
        return self.path[-1]

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    def push(self, name: str, reuse: bool = False) -> "Scope":
        """The scope of submodule ``name``, one level down.

        The name is reserved here first. ``reuse=True`` lets a caller come
        back for a child it already made in this call (the name is then
        already taken by that same child, which is not a clash). The child's
        streams and counters are this scope's, extended by ``name``.
        """
        self._check_valid()
        coming_back = reuse and name in self.reservations
        if not coming_back:
            self.reserve(name, SUBMODULE)
        child_streams = {stream: rng.child(name) for stream, rng in self.rngs.items()}
        return Scope(self.frame, (*self.path, name), child_streams, self.rng_counters.child(name))

    def rewind(self) -> None:
        """Clear the name table: the compact method of this scope runs again and will re-declare its names."""
        self.reservations = {}

    def rewound(self) -> "Scope":
        """Like :meth:`rewind`, but on a new object at the same path, leaving this one's names as they are."""
        return Scope(self.frame, self.path, self.rngs, self.rng_counters)

    def is_within(self, other: "Scope") -> bool:
        """True when this scope's path starts with ``other``'s (or equals it) and both belong to one call."""
        if self.frame is not other.frame:
            return False
        depth = len(other.path)
        return self.path[:depth] == other.path

    def invalidate(self) -> None:
        """Mark the call as over (every scope of it shares the frame, so all become unusable)."""
        self.frame.valid = False

    def _check_valid(self) -> None:
        if self.frame.valid:
            return
        raise errors.InvalidScopeError(self.path_text)

    # -- names ----------------------------------------------------------------

    def name_reserved(self, name: str, col: str | None = SUBMODULE) -> bool:
        """Whether declaring ``name`` (a submodule, or a variable of ``col``) would clash."""
        taken_in = self.reservations.get(name)
        if taken_in is None:
            return False
        if col is SUBMODULE or SUBMODULE in taken_in:
            return True  # a submodule name clashes with anything
        return col in taken_in  # two variables clash only within one collection

    def reserve(self, name: str, col: str | None = SUBMODULE) -> None:
        """Take ``name`` for a submodule (``col`` = SUBMODULE) or a variable of ``col``, or raise."""
        where = self.path_text
        # Submodule names become path entries, so they may not contain '/'.
        well_formed = isinstance(name, str) and bool(name) and not ("/" in name and col is SUBMODULE)
        if not well_formed:
            raise rules.bad_name_error(name, col, where)
        if self.name_reserved(name, col):
            what = "submodule" if col is SUBMODULE else f"variable in collection '{col}'"
            raise errors.NameInUseError(what, name, where)
        self.reservations.setdefault(name, set()).add(col)

    # -- collections -------------------------------------------------------

    def is_mutable_collection(self, col: str) -> bool:
        return in_filter(self.frame.mutable, col)

    def is_collection_empty(self, col: str) -> bool:
        """True when the call has no variable at all in ``col`` (at any path)."""
        stored = self.frame.variables.get(col)
        return not stored

    def _node(self, col: str, create: bool) -> dict | None:
        """This scope's dict inside collection ``col``: walk the path from the collection's top.

        Reading (``create=False``) stops with ``None`` at the first missing
        level; writing makes the missing levels as empty dicts.
        """
        variables = self.frame.variables
        if col not in variables or variables[col] is None:
            if not create:
                return None
            variables[col] = {}
        node = variables[col]
        for part in self.path:
            if node.get(part) is None:
                if not create:
                    return None
                node[part] = {}
            node = node[part]
        return node

    def has_variable(self, col: str, name: str) -> bool:
        self._check_valid()
        here = self._node(col, create=False)
        return here is not None and name in here

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        """A private copy of ``col/name`` (see :func:`private_copy`), or ``default`` when it does not exist."""
        self._check_valid()
        here = self._node(col, create=False)
        if here is not None and name in here:
            return private_copy(here[name])
        return default

    def put_variable(self, col: str, name: str, value: Any) -> None:
        """Store a private copy of ``value`` as ``col/name``; only a mutable collection may be written."""
        self._check_valid()
        if not self.is_mutable_collection(col):
            raise errors.ModifyScopeVariableError(col, name, self.path_text)
        here = self._node(col, create=True)
        here[name] = private_copy(value)

    def variables(self) -> dict:
        """Every collection's subtree at this path (a copy of the structure)."""
        self._check_valid()
        found = {}
        for col in self.frame.variables:
            here = self._node(col, create=False)
            if here:  # collections with nothing at this path are left out
                found[col] = private_copy(here)
        return found

    # -- declaring variables -------------------------------------------------

    def param(self, name: str, init_fn: Callable, *init_args, **init_kwargs) -> Any:
        """The parameter ``name``, made by ``init_fn(key, *init_args, **init_kwargs)`` if it does not exist.

        In order: reserve the name; if the parameter is stored, check its
        shape against what the initializer would make now and return it;
        otherwise, when 'params' may not be written, say what is missing;
        otherwise draw a 'params' key, run the initializer, check what it
        returned and store it.

        While 'params' is immutable (a plain ``apply``) the stored value is
        handed out as a read-only :class:`ImmutableArray` view, not copied:
        copying every parameter on every call costs as much as the forward
        pass itself, and the view protects the caller's arrays just as well.
        """
        self.reserve(name, "params")
        self._check_valid()
        where = self.path_text
        stored = self._node("params", create=False)
        may_write = self.is_mutable_collection("params")
        if stored is not None and name in stored:
            existing = stored[name]
            _check_param_shape(self, name, existing, init_fn, init_args, init_kwargs)
            return private_copy(existing) if may_write else read_only(existing)
        if not may_write:
            if self.is_collection_empty("params"):
                raise errors.ScopeCollectionNotFound("params", name, where)
            raise errors.ScopeParamNotFoundError(name, where)
        if not callable(init_fn):
            raise rules.init_not_callable_error(name, where, init_fn)
        created = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
        check_init_output(name, where, created, init_args)
        self.put_variable("params", name, created)
        return created

    def variable(self, col: str, name: str, init_fn: Callable | None = None, *init_args, **init_kwargs) -> Variable:
        """A :class:`Variable` handle to ``col/name``, created with ``init_fn(*init_args)`` when missing.

        Creating needs both an ``init_fn`` and a mutable ``col``; a missing
        variable that cannot be created is an error naming what is missing
        (the whole collection, or this one variable).
        """
        self.reserve(name, col)
        if self.has_variable(col, name):
            return Variable(self, col, name)
        where = self.path_text
        if init_fn is None or not self.is_mutable_collection(col):
            if self.is_collection_empty(col):
                raise errors.ScopeCollectionNotFound(col, name, where)
            raise errors.ScopeVariableNotFoundError(name, col, where)
        self.put_variable(col, name, init_fn(*init_args, **init_kwargs))
        return Variable(self, col, name)

    def check_variable_shape(self, col: str, name: str, shape: tuple) -> None:
        """The stored ``col/name`` must be an array of ``shape`` (see ``Variable.check_shape``); nothing is copied."""
        here = self._node(col, create=False)
        stored = None if here is None else here.get(name)
        if not isinstance(stored, np.ndarray):
            stored = meta_unbox(stored)  # a metadata box is checked by what it holds
        rules.check_state_value(col, name, self.path_text, stored, shape)

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
        if stream not in self.rngs:  # step 1
            if "params" not in self.rngs:
                raise errors.missing_rng_error(self.path, stream)
            stream = "params"
        n = self.rng_counters.next(stream)  # step 2
        return self.rngs[stream].key(n)  # step 3

    def get_flag(self, name: str, default: Any = None) -> Any:
        """A flag of this call (``'initializing'`` during ``init``), or ``default``."""
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
            raise rules.init_not_callable_error(name, scope.path_text, init_fn)
        expected = _shapes_of_a_run(init_fn, init_args, init_kwargs)
    got_shapes = _leaf_shapes(value)
    if len(got_shapes) != len(expected):
        raise rules.param_structure_error(name, scope.path_text, value, len(expected))
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
    requested = rules.requested_shape(init_args)
    leaves = [value] if isinstance(value, np.ndarray) else tree_util.tree_leaves(value)
    for leaf in leaves:
        if rules.is_non_numeric(leaf):
            raise rules.init_output_type_error(name, where, leaf, requested)
    if not leaves and value is None:  # None itself, not an empty container
        raise rules.init_output_type_error(name, where, None, requested)
    if requested is not None and len(leaves) == 1:
        got = tuple(np.shape(leaves[0]))
        if got != tuple(requested):
            raise rules.init_output_shape_error(name, where, got, requested)


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
