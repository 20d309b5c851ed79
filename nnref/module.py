"""``Module``: a layer described by dataclass fields, bound to variables only while it runs.

A module goes through four stages; each explains a rule of the API.

1. **Construct.** ``nn.Dense(3)`` only stores its fields (``features=3``)
   and remembers its *parent*: by default the module whose method is running
   at that moment (:mod:`nnref.module_context`), else ``None``. It holds no
   parameters, so the same instance can serve many variable sets.
2. **Bind.** ``init``/``apply``/``bind`` clone the top module onto a root
   :class:`~nnref.scope.Scope`, the view of the variables at one path.
   A submodule is bound when it attaches to a bound parent: it gets the
   child scope ``parent_scope.push(name)``, so its variables live under
   its name: ``{'params': {'Dense_0': {'kernel': ...}}}``.
3. **Setup, lazily.** ``setup()`` runs once per bound instance, just before
   the first wrapped method call or the first lookup of an attribute that
   only setup defines. Modules assigned to ``self`` there are named after
   the attribute: ``self.out`` -> ``out``, a list -> ``layers_0``,
   ``layers_1``, a dict -> ``{attr}_{key}``.
4. **Compact naming.** Inside the ``@compact`` method, a submodule built
   without a name is named ``{ClassName}_{i}``, ``i`` counting per class
   in this parent during this call. The counts restart with every call, so
   calling the module again finds the same names, hence the same variables.

Modules passed in as fields from outside any module are *adopted* (cloned
for the call, named after the field). Class definition (fields ``parent``/
``name``, method wrapping) is :mod:`nnref.module_class`. In one model:

>>> import nnref as nn
>>> class Block(nn.Module):
...   def setup(self):
...     self.proj = nn.Dense(4)             # stage 3: named 'proj'
...   def __call__(self, x):
...     return nn.relu(self.proj(x))
>>> class Model(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     x = Block()(x)                      # stage 4: 'Block_0'
...     return nn.Dense(2)(x)               # 'Dense_0': counted per class
>>> model = Model()                         # stage 1: fields only, unbound
>>> variables = model.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))  # stage 2 inside
>>> nn.tree_util.tree_map(lambda a: a.shape, variables)['params']
{'Block_0': {'proj': {'bias': (4,), 'kernel': (3, 4)}}, 'Dense_0': {'bias': (2,), 'kernel': (4, 2)}}
>>> model.scope is None                     # the caller's instance was never bound
True
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import itertools
import operator
from types import MappingProxyType
from typing import Any, Callable, Optional

import numpy as np

from nnref import config as _config
from nnref import init_apply as _apply
from nnref import meta
from nnref.interception import run_intercepted
from nnref.module_class import compact, nowrap, prepare_subclass, unspecified_parent  # noqa: F401 (nn.compact)
from nnref.module_context import context as _context
from nnref.module_context import current_module
from nnref.scope import Scope
from nnref.variables import Variable
from shared_spec import errors, module_graph
from shared_spec import module_fields as rules  # naming rules both backends follow
from shared_spec.attribute_names import freeze_attr, map_modules
from shared_spec.collection_filters import DenyList
from shared_spec.frozen_dict import FrozenDict
from shared_spec.init_apply_args import resolve_method

_module_ids = itertools.count()


def tuple_init() -> tuple:
    """``sow``'s default first record: nothing recorded yet."""
    return tuple()


def tuple_reduce(record: tuple, value) -> tuple:
    """``sow``'s default way to add a value: append it, so a module called twice records two values."""
    return record + (value,)


def is_module(x) -> bool:
    return isinstance(x, Module)


@dataclasses.dataclass
class _ModuleState:
    """Where one module instance is in its lifecycle (kept apart from the dataclass fields)."""

    # A setup / compact call of this module is running: it may create submodules and variables.
    in_setup: bool = False
    in_compact_method: bool = False
    setup_called: bool = False  # setup runs at most once per instance
    is_initialized: bool = False  # __post_init__ is done: from now on the fields are frozen
    # The next i of {ClassName}_{i}, per class, in the current call.
    autoname_cursor: dict = dataclasses.field(default_factory=dict)
    children: dict = dataclasses.field(default_factory=dict)  # name -> submodule, or a variable's collection
    shares_scope: bool = False  # nn.share_scope made this module's scope another module's too

    def end_of_call(self) -> None:
        """The outermost setup/compact call is over: the next call names its submodules from 0 again."""
        self.in_setup = self.in_compact_method = False
        self.autoname_cursor = {}


class Module:
    """The base class of every layer and model: subclass it and declare fields (stages in the module docstring)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        prepare_subclass(cls, Module)  # fields parent/name, dataclass, method wrappers (nnref/module_class.py)

    # -- construction and attachment ---------------------------------------------

    def __post_init__(self) -> None:
        """Stage 1 (construct), and stage 2 (bind) when the parent is bound.

        Runs after the dataclass ``__init__`` stored the fields; writes go
        through ``object.__setattr__`` (``Module.__setattr__`` refuses them).
        """
        object.__setattr__(self, "_id", next(_module_ids))  # identity for adoption and deep clones
        object.__setattr__(self, "_state", _ModuleState())
        object.__setattr__(self, "scope", None)
        if self.parent is unspecified_parent:
            object.__setattr__(self, "parent", current_module())
        parent = self.parent
        if isinstance(parent, Module):  # built inside a module method, or given parent=
            if parent._state.in_setup and self.name is None:
                # Stage 3: setup is building it; __setattr__ names and binds it once it is assigned
                # to an attribute. Until then it is not initialized: setup may still assign it.
                return
            self._attach_to(parent)
        elif isinstance(parent, Scope):  # the top module of init/apply/bind
            object.__setattr__(self, "scope", parent)
        elif parent is not None:
            raise rules.bad_parent_error(parent)
        if self.scope is not None:
            # A bound module binds the modules among its fields, named after the field.
            for attr in self._init_field_names:
                value = getattr(self, attr)
                # Only a module or a container can hold one (or need freezing): numbers,
                # functions and dtypes are skipped without a walk.
                if isinstance(value, (Module, dict, FrozenDict, list, tuple)):
                    self._register_submodules(attr, value)
        self._state.is_initialized = True

    def _attach_to(self, parent: "Module") -> None:
        """Takes a name in ``parent`` (stage 4 when it has none) and, if ``parent`` is bound, binds (stage 2)."""
        if not parent._initialization_allowed and _context.pending_attach is None:
            # Submodules are declared in setup or the compact method only: elsewhere a call
            # could create names the next call does not, and the variables would not match.
            # (Adopted modules are attached by the loop in _register_submodules: allowed.)
            raise errors.AssignSubModuleError(type(self).__name__, parent_path=parent._path_text_or_none())
        if self.name is None:
            object.__setattr__(self, "name", parent._next_auto_name(type(self).__name__))
        if parent.scope is None:
            return  # an unbound parent: its clone, bound in init/apply, re-creates this child
        if parent.scope.name_reserved(self.name):
            raise errors.NameInUseError("submodule", self.name, parent._describe())
        parent._state.children[self.name] = self
        object.__setattr__(self, "scope", parent.scope.push(self.name))  # variables under the name

    def _next_auto_name(self, class_name: str) -> str:
        """``{class_name}_{i}``, ``i`` counting the ``class_name`` submodules this call of ``self`` made."""
        i = self._state.autoname_cursor.get(class_name, 0)
        self._state.autoname_cursor[class_name] = i + 1
        return f"{class_name}_{i}"

    def _register_submodules(self, attr: str, value: Any) -> None:
        """Store ``value`` as attribute ``attr``, its modules bound as children named after ``attr``.

        For fields (at construction) and assignments in setup. Names follow
        the container: ``attr``, ``attr_0``/``attr_1`` in a list, ``attr_key``
        in a dict; lists and dicts are stored frozen. A module built outside
        any module is *adopted*: the call binds a clone of it (one per call,
        so the caller's instance stays unbound), named after the attribute
        unless ``preserve_adopted_names`` keeps its own name.
        """
        clones = self.scope.frame.adopted  # id of an outside module -> its clone in this call
        keep_own_names = rules.preserves_adopted_names(type(self), _config.config)
        newly_named = []

        def adopt(suffix: str, sub: "Module") -> "Module":
            given_name = None
            if sub.parent is None:  # built outside any module: use (and bind) its clone instead
                if keep_own_names:
                    given_name = sub.name
                if sub._id not in clones:
                    clones[sub._id] = sub.clone(name=None)
                sub = clones[sub._id]
            if sub.name is None:  # not attached anywhere yet: this attribute names it
                object.__setattr__(sub, "parent", self)
                object.__setattr__(sub, "name", given_name or f"{attr}{suffix}")
                newly_named.append(sub)
            return sub

        object.__setattr__(self, attr, freeze_attr(map_modules(adopt, value, is_module)))
        # Binding a child (its __post_init__ again, now that it has a parent and a name) registers
        # its own fields' modules, which may be adopted too. Instead of recursing, every child joins
        # one first-in-first-out queue run by the outermost call: a chain of 500 adopted modules
        # then needs no deep Python stack.
        if _context.pending_attach is not None:
            _context.pending_attach.extend(newly_named)  # an outer call's loop will bind them
            return
        pending = _context.pending_attach = collections.deque(newly_named)
        try:
            while pending:
                pending.popleft().__post_init__()
        finally:
            _context.pending_attach = None

    @property
    def _initialization_allowed(self) -> bool:
        """Whether this module may declare submodules and variables now: during construction, setup or compact."""
        state = self._state
        return not state.is_initialized or state.in_setup or state.in_compact_method

    def __setattr__(self, name: str, value: Any) -> None:
        # A module is frozen once constructed: the only writes allowed are setup's new attributes.
        state = self.__dict__.get("_state")
        constructing = state is None or not (state.is_initialized or state.in_setup)
        if constructing:  # the dataclass __init__ storing the fields
            object.__setattr__(self, name, value)
        elif not state.in_setup:
            raise errors.SetAttributeFrozenModuleError(type(self).__name__, name, value)
        elif name in self._field_names:  # setup adds to the description; it may not rewrite it
            raise errors.SetAttributeInModuleSetupError(module_cls=type(self).__name__, attr_name=name)
        else:
            self._register_submodules(name, value)  # stage 3: `self.proj = Dense(4)` names it 'proj'

    def __getattr__(self, name: str) -> Any:
        # Python calls this only when normal lookup failed: the attribute may be one that setup
        # defines and setup has not run yet (stage 3 is lazy).
        if name.startswith("__") or name in ("_state", "scope", "_id"):
            raise AttributeError(name)  # dunders (copy, pickle probe them) and state not yet made
        own = self.__dict__
        state = own.get("_state")
        setup_pending = state is not None and own.get("scope") is not None
        if setup_pending and not (state.setup_called or state.in_setup):
            self._try_setup()  # may define the attribute asked for
            if name in own:
                return own[name]
        descriptor = inspect.getattr_static(type(self), name, None)
        if descriptor is not None and hasattr(descriptor, "__get__"):
            # A property whose getter raised AttributeError lands here too: say so, not "no attribute".
            raise errors.DescriptorAttributeError(module_cls=type(self).__name__, attr_name=name)
        unbound_with_setup = own.get("scope") is None and type(self).setup is not Module.setup
        raise rules.missing_attribute_error(type(self).__name__, name, unbound_with_setup)

    def __repr__(self) -> str:
        """The fields under ``# attributes``; once bound and set up, the submodules under ``# children``.

        The children exist only on a bound module, after setup:

        >>> import nnref as nn
        >>> class Block(nn.Module):
        ...   def setup(self):
        ...     self.proj = nn.Dense(2)
        >>> Block()
        Block()
        >>> bound = Block().bind({})
        >>> bound.proj.features  # looking up `proj` runs setup
        2
        >>> print(repr(bound).splitlines()[:4])
        ['Block(', '    # children', '    proj = Dense(', '        # attributes']
        """
        return module_graph.module_repr(self, is_module, _repr_fields)

    # Two modules are equal when they are of one class with equal fields, parent and name included,
    # comparing submodule fields as modules; the hash agrees with it (shared_spec/module_graph.py).
    def __eq__(self, other: Any) -> bool:
        same_class = other.__class__ is self.__class__
        return module_graph.modules_equal(self, other, is_module, _compare_fields) if same_class else NotImplemented

    def __hash__(self) -> int:
        return module_graph.module_hash(self, is_module, _hash_fields)

    # -- lifecycle -------------------------------------------------------------------

    def _check_post_init(self) -> None:
        if "_state" not in self.__dict__:
            raise errors.IncorrectPostInitOverrideError(module_cls=type(self).__name__)

    def _try_setup(self) -> None:
        """Stage 3: run ``setup`` now if the module is bound and it has not run (nor is running)."""
        state = self._state
        if self.scope is None:
            return  # unbound: setup's submodules and variables would have nowhere to live
        if state.setup_called or state.in_setup:
            return  # once per instance; and an attribute lookup inside setup must not restart it
        state.in_setup = True  # setup may assign submodules and declare variables from here
        try:
            self.setup()
            if self._compact_name_scope_methods:
                from nnref.name_scopes import attach_compact_name_scopes  # (name_scopes imports this module)

                attach_compact_name_scopes(self)
        finally:
            state.in_setup = False  # even if setup raised: the module is not left half in setup
        state.setup_called = True  # not in `finally`: a setup that raised runs again on the next access

    def setup(self) -> None:
        """Override to declare submodules (assigned to ``self``) and variables; runs lazily once bound."""

    def _call_wrapped_method(self, fun: Callable, args: tuple, kwargs: dict) -> Any:
        """Every call of a user method of a module lands here (wrappers from nnref/module_class.py).

        In order: make sure setup has run; note that this module may declare
        submodules and variables (in setup or compact); push the module on
        the stack, so that modules built during the call get it as parent;
        run the method through the interceptors; store the output in
        'intermediates' if ``capture_intermediates`` asks for it; undo.
        """
        self._check_post_init()
        state = self._state
        method_name = fun.__name__
        is_setup = method_name == "setup"
        is_compact = getattr(fun, "compact", False)
        # ``outermost``: no other setup/compact call of this same module is running around this
        # one. It is False when the compact method calls itself or another method of its module,
        # or when setup calls super().setup(). Only the outermost call may end the call's
        # bookkeeping (below); an inner call resetting the name counters would make the outer
        # call name its next submodule Dense_0 a second time.
        outermost = True
        unbound = self.scope is None  # setup and compact methods declare variables: they need a scope
        if is_setup:
            if unbound:
                raise errors.CallSetupUnboundModuleError(module_cls=type(self).__name__)
            outermost = not state.in_setup
            state.in_setup = True  # (setup called by name, e.g. super().setup(); not via _try_setup)
        else:
            self._try_setup()  # stage 3, before any other method
        if is_compact:
            if unbound:
                raise errors.CallCompactUnboundModuleError(module_cls=type(self).__name__, method=method_name)
            outermost = not state.in_compact_method
            state.in_compact_method = True  # inline declarations allowed until the outermost call ends
        _context.module_stack.append(self)  # modules built during the call get self as parent
        try:
            output = run_intercepted(functools.partial(fun, self), self, method_name, args, kwargs)
            capture = _context.capture  # capture_intermediates of the innermost apply, if any
            if capture is not None and self.scope is not None and capture(self, method_name):
                self.sow("intermediates", method_name, output)
            return output
        finally:
            _context.module_stack.pop()
            if outermost and is_compact:
                # Release the names this call reserved, so that the next call may create Dense_0
                # again and, finding its variables, reuse them.
                if state.shares_scope:  # nn.share_scope: the other module keeps this call's names
                    object.__setattr__(self, "scope", self.scope.rewound())
                else:
                    self.scope.rewind()
            if outermost and (is_compact or is_setup):
                state.end_of_call()  # the next call names its submodules from 0 again

    # -- identity ----------------------------------------------------------------------

    @property
    def path(self) -> tuple:
        """The submodule names from the top module to this one: where its variables sit in each collection."""
        self._require_scope("path")
        return self.scope.path

    def _path_text_or_none(self) -> str | None:
        """The path as messages print it (``/Block_0/proj``), or None while unbound."""
        return None if self.scope is None else self.scope.path_text

    def _describe(self) -> str:
        """How messages name this module: its class, and where it sits once bound."""
        cls_name = type(self).__name__
        return cls_name if self.scope is None else f"{cls_name} at {self.scope.path_text}"

    def _require_scope(self, what: str) -> None:
        """Variables exist only for a bound module; an unbound one gets an error naming ``what`` it tried."""
        self._check_post_init()
        if self.scope is None:
            raise errors.CallCompactUnboundModuleError(module_cls=type(self).__name__, method=what)

    def clone(self, *, parent=None, _deep_clone=False, _reset_names=False, **updates) -> "Module":
        """A new instance with the same fields, ``updates`` applied, attached to ``parent`` (default: none).

        A plain clone shares its submodule fields with the original. A deep
        clone (``_deep_clone``, used by init/apply/bind) clones those too, so
        that binding the clone never binds a module the caller still holds;
        a submodule shared by several fields is cloned once and stays shared.
        """
        if _deep_clone is False:
            fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
            fields.update(parent=parent, **updates)
            return type(self)(**fields)
        clones = {} if _deep_clone is True else _deep_clone  # id of an original -> its clone

        def rebuilt(m: "Module", overrides: dict) -> "Module":
            """``m`` built anew from its fields, submodules replaced by their clones."""
            fields = {}
            for f in dataclasses.fields(m):
                if f.init:
                    value = getattr(m, f.name)
                    if f.name != "parent":
                        value = map_modules(lambda _suffix, sub: clones[sub._id], value, is_module)
                    fields[f.name] = value
            fields.update(overrides)
            return type(m)(**fields)

        # Submodules are cloned innermost first, so that each finds its own submodules' clones
        # in ``clones``; module_graph walks with a work list, not recursion, so deep chains fit.
        overrides = {"parent": None, "name": None} if _reset_names else {"parent": None}
        module_graph.deep_clone_submodules(self, is_module, _init_fields, clones, lambda m: rebuilt(m, overrides))
        return rebuilt(self, {"parent": parent, **updates})

    def copy(self, *, parent=unspecified_parent, name: str | None = None, **updates) -> "Module":
        """A deep clone with updated fields that, like a newly built module, attaches to the running module."""
        return self.clone(parent=parent, name=name, _deep_clone=True, **updates)

    # -- variables ------------------------------------------------------------------

    def _require_declaration_allowed(self, kind: str, name: str) -> None:
        # Variables, like submodules, are declared in setup or the compact method only (see __post_init__).
        self._require_scope(kind)
        if not self._initialization_allowed:
            raise errors.AssignSubModuleError(f"{kind} '{name}'", parent_path=self.scope.path_text)

    def param(self, name: str, init_fn: Callable, *init_args, unbox: bool = True, **init_kwargs) -> Any:
        """The parameter ``name`` of this module (collection 'params'), created on first use.

        The same line serves both calls: under ``init`` the parameter does
        not exist, so ``init_fn(key, *init_args, **init_kwargs)`` makes it,
        with a key drawn from the 'params' stream; under ``apply`` it exists
        and is read, and ``init_fn`` is not called.
        """
        self._require_declaration_allowed("param", name)
        if self.scope.name_reserved(name, "params"):
            raise errors.NameInUseError("param", name, self._describe())
        value = self.scope.param(name, init_fn, *init_args, **init_kwargs)
        self._state.children[name] = "params"  # everything declared is listed by name (repr shows the modules)
        if unbox and not isinstance(value, np.ndarray):
            value = meta.unbox(value)  # a value boxed with metadata (nn.Partitioned, ...) is used unboxed
        return value

    def variable(
        self, col: str, name: str, init_fn: Callable | None = None, *init_args, unbox: bool = True, **init_kwargs
    ) -> Variable:
        """A handle on variable ``name`` of collection ``col``: read and write ``.value``.

        Like :meth:`param`, created on first use: ``init_fn(*init_args,
        **init_kwargs)`` (no key: state such as batch statistics starts from
        a fixed value) runs when the variable does not exist yet. Writes
        need ``col`` to be mutable in this call.
        """
        self._require_declaration_allowed("variable", name)
        if self.scope.name_reserved(name, col):
            raise errors.NameInUseError("variable", name, self._describe())
        variable = self.scope.variable(col, name, init_fn, *init_args, **init_kwargs)
        self._state.children[name] = col  # (as in param)
        variable.unbox = unbox
        return variable

    def has_variable(self, col: str, name: str) -> bool:
        self._require_scope("has_variable")
        return self.scope.has_variable(col, name)

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        self._require_scope("get_variable")
        return self.scope.get_variable(col, name, default)

    def put_variable(self, col: str, name: str, value: Any) -> None:
        self._require_scope("put_variable")
        self.scope.put_variable(col, name, value)

    @property
    def variables(self) -> dict:
        """This module's variables in every collection, as a new dict (writing to it changes nothing)."""
        self._require_scope("variables")
        return self.scope.variables()

    def is_mutable_collection(self, col: str) -> bool:
        self._require_scope("is_mutable_collection")
        return self.scope.is_mutable_collection(col)

    def is_initializing(self) -> bool:
        """True inside ``init``: lets a module skip work that only matters once parameters exist."""
        self._require_scope("is_initializing")
        return bool(self.scope.get_flag("initializing", False))

    def sow(
        self, col: str, name: str, value: Any, reduce_fn: Callable = tuple_reduce, init_fn: Callable = tuple_init
    ) -> bool:
        """Records ``value`` in collection ``col`` if the call may write it; returns whether it did.

        The record starts as ``init_fn()`` (an empty tuple) and each call adds
        ``reduce_fn(record, value)`` (appends): a module called twice records
        two values. When ``col`` is not mutable the value is dropped, so a
        model can sow unconditionally and the caller chooses with ``mutable=``.

        >>> import nnref as nn
        >>> class Twice(nn.Module):
        ...   def __call__(self, v):
        ...     self.sow('intermediates', 'seen', v)
        ...     self.sow('intermediates', 'seen', 2 * v)
        ...     return v
        >>> Twice().apply({}, 1, mutable=['intermediates'])
        (1, {'intermediates': {'seen': (1, 2)}})
        >>> Twice().apply({}, 1)  # 'intermediates' not mutable: nothing is recorded
        1
        """
        self._require_scope("sow")
        scope = self.scope
        if not scope.is_mutable_collection(col):
            return False  # the caller did not ask for this collection: the value is dropped
        if scope.has_variable(col, name):
            record = scope.get_variable(col, name)
        else:
            scope.reserve(name, col)  # the name is now taken in this call, as a param's would be
            self._state.children[name] = col  # (as in param)
            record = init_fn()
        scope.put_variable(col, name, reduce_fn(record, value))
        return True

    def perturb(self, name: str, value: Any, collection: str = "perturbations") -> Any:
        """``value`` plus a zero variable, so that the gradient with respect to ``value`` can be read.

        Differentiating the loss with respect to the variables then gives, in
        ``grads['perturbations'][name]``, the gradient at this intermediate
        value. Where the collection was not passed in, ``value`` is returned
        unchanged.
        """
        from nnref.tree_util import tree_map

        self._require_scope("perturb")
        if self.scope.is_mutable_collection(collection) and not self.scope.has_variable(collection, name):
            self.scope.reserve(name, collection)
            self._state.children[name] = collection  # (as in param)
            self.scope.put_variable(collection, name, tree_map(np.zeros_like, value))
        if collection in self.scope.frame.variables:
            if not self.scope.has_variable(collection, name):
                raise errors.ScopeVariableNotFoundError(name, collection, self.scope.path_text)
            value = tree_map(np.add, value, self.scope.get_variable(collection, name))
        return value

    # -- randomness -----------------------------------------------------------------

    def make_rng(self, name: str = "params"):
        """A new key from stream ``name``: each call at a module path gets a different one, the same each run.

        The key is derived from the stream's root key, this module's path and
        a per-path call counter (:mod:`nnref.rng_streams`), so it does not
        depend on what other modules drew before.
        """
        self._require_scope("make_rng")
        return self.scope.make_rng(name)

    def has_rng(self, name: str) -> bool:
        self._require_scope("has_rng")
        return self.scope.has_rng(name)

    # -- entry points -----------------------------------------------------------------

    def _entry_function(self, method) -> Callable:
        """What every entry point does first: check ``self`` is a constructed module, find the function."""
        _check_instance(self)
        return resolve_method(self, method)  # the shared rule: None, a name, a method or a function

    def init_with_output(
        self, rngs, *args, method=None, mutable=DenyList("intermediates"), capture_intermediates=False, **kwargs
    ):
        """``init`` that also returns the output: ``(output, variables)``."""
        init_fn = _apply.init_with_output(self._entry_function(method), self, mutable, capture_intermediates)
        return init_fn(rngs, *args, **kwargs)

    def init(
        self, rngs, *args, method=None, mutable=DenyList("intermediates"), capture_intermediates=False, **kwargs
    ) -> dict:
        """The variables that running ``method`` (default ``__call__``) on ``args`` creates.

        Every collection but 'intermediates' may be written, so each
        ``param``/``variable`` runs its initializer. ``rngs`` is one key (the
        'params' stream) or a dict with a key per stream (e.g. 'dropout').
        """
        _check_instance(self)
        _, variables = self.init_with_output(
            rngs, *args, method=method, mutable=mutable, capture_intermediates=capture_intermediates, **kwargs
        )
        return variables

    def lazy_init(self, rngs, *args, method=None, mutable=DenyList("intermediates"), **kwargs) -> dict:
        """``init`` from shapes: ``ShapeDtypeStruct`` arguments stand for arrays (see ``init_apply.lazy_init``)."""
        return _apply.lazy_init(self._entry_function(method), self, mutable, rngs, args, kwargs)

    def apply(self, variables, *args, rngs=None, method=None, mutable=False, capture_intermediates=False, **kwargs):
        """Runs ``method`` (default ``__call__``) on ``args`` with ``variables``: the steps of nnref/init_apply.py.

        The output comes alone, or as ``(output, state)`` when ``mutable``
        names collections the call may change (e.g. ``['batch_stats']``).
        ``method`` may be a method name, a method, or any function taking
        the module first.
        """
        apply_fn = _apply.apply(self._entry_function(method), self, mutable, capture_intermediates)
        return apply_fn(variables, *args, rngs=rngs, **kwargs)

    def bind(self, variables, *args, rngs=None, mutable=False) -> "Module":
        """A clone bound to ``variables`` outside any call, to explore interactively (``bound.Dense_0.variables``).

        Unlike apply's binding, this one does not end: the scope stays valid.
        """
        _check_instance(self)
        scope = _apply.root_scope(variables, rngs, mutable)
        return self.clone(parent=scope, _deep_clone=True)

    def unbind(self) -> tuple:
        """The opposite of :meth:`bind`: ``(an unbound clone, this module's variables)``."""
        self._check_post_init()
        if self.scope is None:
            raise errors.CallUnbindOnUnboundModuleError(module_cls=type(self).__name__)
        self._try_setup()  # so that self.variables below includes what setup declares
        module = self.clone(_deep_clone=True, _reset_names=True, name=None)
        return module, self.variables

    def tabulate(
        self,
        rngs,
        *args,
        depth: Optional[int] = None,
        show_repeated: bool = False,
        mutable=DenyList("intermediates"),
        console_kwargs=None,
        table_kwargs=MappingProxyType({}),
        column_kwargs=MappingProxyType({}),
        compute_flops: bool = False,
        compute_vjp_flops: bool = False,
        **kwargs,
    ) -> str:
        """The module as a table: one row per module method called by ``init`` on ``args``.

        Each row names the module path, its class and method, the shapes of
        the inputs and outputs, and the variables the module owns; the
        bottom line sums the parameters. ``init`` runs for real (nnref has
        no abstract evaluation), and nnref counts no FLOPs. The options are
        those of :func:`nnref.summary.tabulate`.

        >>> import nnref as nn
        >>> text = nn.Dense(2).tabulate(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))
        >>> 'Total Parameters: 8 (32 B)' in text
        True
        """
        from nnref.summary import tabulate  # (summary imports this module)

        options = {  # passed on unchanged
            "depth": depth,
            "show_repeated": show_repeated,
            "mutable": mutable,
            "console_kwargs": console_kwargs,
            "table_kwargs": table_kwargs,
            "column_kwargs": column_kwargs,
            "compute_flops": compute_flops,
            "compute_vjp_flops": compute_vjp_flops,
        }
        return tabulate(self, rngs, **options)(*args, **kwargs)


# Which fields module_graph reads for clone, ==, hash and repr (lists made in nnref/module_class.py).
_init_fields = _hash_fields = operator.attrgetter("_init_field_names")
_compare_fields = operator.attrgetter("_compare_field_names")


def _repr_fields(m):
    return getattr(type(m), "_repr_field_names", None)  # None: a class that skipped prepare_subclass


def _check_instance(module) -> None:
    if not isinstance(module, Module):
        raise errors.InvalidInstanceModuleError(module_cls=getattr(module, "__name__", None))
    module._check_post_init()


# The rest of the seed's ``flax.linen.module`` namespace (nothing here imports this file back at import time).
from nnref import config  # noqa: E402,F401
from nnref.init_apply import apply, init, init_with_output  # noqa: E402,F401
from nnref.interception import InterceptorContext, intercept_methods  # noqa: E402,F401
from nnref.merge_param import merge_param  # noqa: E402,F401
from nnref.name_scopes import CompactNameScope, compact_name_scope, share_scope  # noqa: E402,F401
from shared_spec.collection_filters import DenyList, union_filters  # noqa: E402,F401
from shared_spec.type_aliases import (  # noqa: E402,F401
    CollectionFilter,
    FrozenVariableDict,
    PRNGKey,
    RNGSequences,
    VariableDict,
)
