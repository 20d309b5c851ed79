"""``Module``: dataclass modules with the seed system's lifecycle, on JAX.

A module instance is a frozen description (its dataclass fields); binding
gives it a :class:`~nnjax.scope.Scope`. ``init``/``apply``/``bind`` clone the
root module onto a fresh scope; a submodule binds when it is created inside
a ``@compact`` method (auto-named ``{ClassName}_{i}``), when it is assigned
to an attribute in ``setup`` (named after the attribute), or when it was
passed in as a field (adopted under the field's name). ``setup`` runs
lazily, once per bound instance.

Every user method is wrapped. The wrapper is the hot path of the whole
library (it runs once per submodule call, eagerly and while tracing), so
it does only what the semantics need: run ``setup`` if due, mark compact
calls, keep the stack of running modules, and consult interceptors and
the intermediates filter only when some are active. That state is per
thread (:mod:`nnjax.module_context`); class creation and method wrapping
are :mod:`nnjax.module_class`.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class MLP(nn.Module):
...   features: tuple = (4, 2)
...   @nn.compact
...   def __call__(self, x):
...     for f in self.features[:-1]:
...       x = nn.relu(nn.Dense(f)(x))
...     return nn.Dense(self.features[-1])(x)
>>> variables = MLP().init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
>>> jax.tree_util.tree_map(jnp.shape, variables)
{'params': {'Dense_0': {'bias': (4,), 'kernel': (3, 4)}, 'Dense_1': {'bias': (2,), 'kernel': (4, 2)}}}
"""

from __future__ import annotations

import functools
import inspect
import itertools
from types import MappingProxyType
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp

from nnjax import config as _config
from nnjax import init_apply as _entry
from nnjax import interception, meta, named_call
from nnjax.module_class import compact, nowrap, prepare_subclass, unspecified_parent  # noqa: F401 (nn.compact, nn.nowrap)
from nnjax.module_context import per_thread
from nnjax.scope import Scope
from nnjax.variables import Variable
from shared_spec import errors, module_graph
from shared_spec.attribute_names import freeze_attr, map_modules
from shared_spec.collection_filters import DenyList
from shared_spec.init_apply_args import resolve_method
from shared_spec.module_fields import bad_parent_error, missing_attribute_error, preserves_adopted_names

_module_ids = itertools.count()


def _append(xs: tuple, x) -> tuple:
    return xs + (x,)


def _empty_tuple() -> tuple:
    return ()


def _is_module(x) -> bool:
    return isinstance(x, Module)


class _ModuleState:
    """Per-instance lifecycle bookkeeping (kept out of the dataclass fields)."""

    __slots__ = (
        "in_compact_method",
        "in_setup",
        "setup_called",
        "is_initialized",
        "autoname_cursor",
        "children",
        "shares_scope",
    )

    def __init__(self):
        self.in_compact_method = False
        self.in_setup = False
        self.setup_called = False
        self.is_initialized = False
        self.autoname_cursor: dict[str, int] = {}
        self.children: dict[str, Any] = {}
        self.shares_scope = False  # nn.share_scope: the scope is another module's too

    def end_of_call(self) -> None:
        self.in_compact_method = False
        self.in_setup = False
        self.autoname_cursor = {}


class Module:
    """Base class of all modules; subclasses are dataclasses (see the module docstring)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        prepare_subclass(cls, Module)

    # -- construction and attachment ---------------------------------------------------

    def __post_init__(self) -> None:
        d = self.__dict__
        d["_id"] = next(_module_ids)
        state = d["_state"] = _ModuleState()
        d["scope"] = None
        parent = d["parent"]
        if parent is unspecified_parent:  # the module whose method is running on this thread
            parent = d["parent"] = per_thread.context.module_stack[-1]
        if isinstance(parent, Module):
            pstate = parent._state
            if pstate.in_setup and d["name"] is None:
                return  # named when assigned to an attribute of the parent
            if (
                pstate.is_initialized
                and not (pstate.in_setup or pstate.in_compact_method)
                and per_thread.context.pending_attach is None
            ):
                raise errors.AssignSubModuleError(type(self).__name__, parent_path=parent._path_text_or_none())
            name = d["name"]
            if name is None:
                prefix = type(self).__name__
                cursor = pstate.autoname_cursor.get(prefix, 0)
                name = d["name"] = f"{prefix}_{cursor}"
                pstate.autoname_cursor[prefix] = cursor + 1
            pscope = parent.scope
            if pscope is not None:
                if pscope.name_reserved(name):
                    raise errors.NameInUseError("submodule", name, parent._describe())
                pstate.children[name] = self
                d["scope"] = pscope.push(name)
        elif isinstance(parent, Scope):
            d["scope"] = parent
        elif parent is not None:
            raise bad_parent_error(parent)
        if d["scope"] is not None:
            for field_name in self._init_field_names:
                self._register_submodules(field_name, d[field_name])
        state.is_initialized = True

    def _register_submodules(self, attr: str, value: Any) -> None:
        """Attach the modules inside ``value`` as children named after ``attr``; store it frozen.

        An adopted module (built outside any module) is cloned once per call
        and named after the attribute, or keeps its own name when the flag
        ``flax_preserve_adopted_names`` (or the class attribute
        ``preserve_adopted_names``) is true.
        """
        adopted = self.scope.frame.adopted
        queue = []

        def adopt(suffix: str, sub: "Module") -> "Module":
            own_name = None
            if sub.parent is None:  # built outside any module: cloned once per call
                own_name = sub.__dict__["name"] if preserves_adopted_names(type(self), _config.config) else None
                if sub._id not in adopted:
                    adopted[sub._id] = sub.clone(name=None)
                sub = adopted[sub._id]
            if sub.name is None:
                sub.__dict__["parent"] = self
                sub.__dict__["name"] = own_name or f"{attr}{suffix}"
                queue.append(sub)
            return sub

        if isinstance(value, (Module, list, tuple, dict)) or hasattr(value, "items"):
            value = freeze_attr(map_modules(adopt, value, _is_module))
        self.__dict__[attr] = value
        # Attaching a child attaches its own fields' modules: done by one loop at the outermost
        # call instead of recursively, so that a chain of 500 adopted modules needs no deep stack.
        if not queue:
            return  # (most fields hold no module: skip the thread-local lookup)
        ctx = per_thread.context
        if ctx.pending_attach is not None:
            ctx.pending_attach.extend(queue)
            return
        ctx.pending_attach = queue
        try:
            i = 0
            while i < len(queue):
                queue[i].__post_init__()
                i += 1
        finally:
            ctx.pending_attach = None

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__.get("_state")
        if state is None or (not state.is_initialized and not state.in_setup):
            object.__setattr__(self, name, value)
            return
        if not state.in_setup:
            raise errors.SetAttributeFrozenModuleError(type(self).__name__, name, value)
        if name in self._field_names:
            raise errors.SetAttributeInModuleSetupError(module_cls=type(self).__name__, attr_name=name)
        self._register_submodules(name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed.
        if name.startswith("__") or name in ("_state", "scope", "_id"):
            raise AttributeError(name)
        d = self.__dict__
        state = d.get("_state")
        if state is not None and d.get("scope") is not None and not state.setup_called and not state.in_setup:
            self._try_setup()  # the attribute may be one that setup defines
            if name in d:
                return d[name]
        descriptor = inspect.getattr_static(type(self), name, None)
        if descriptor is not None and hasattr(descriptor, "__get__"):
            raise errors.DescriptorAttributeError(module_cls=type(self).__name__, attr_name=name)
        only_after_setup = d.get("scope") is None and type(self).setup is not Module.setup
        raise missing_attribute_error(type(self).__name__, name, only_after_setup)

    def __repr__(self) -> str:
        """The seed's layout: ``# attributes`` (fields) and, once bound, ``# children`` (submodules).

        >>> import nnjax as nn
        >>> print(nn.Dense(3, use_bias=False, name='out').__repr__().splitlines()[:4])
        ['Dense(', '    # attributes', '    features = 3', '    use_bias = False']
        """
        return module_graph.module_repr(self, _is_module, _repr_fields)

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return module_graph.modules_equal(self, other, _is_module, _compare_fields)

    def __hash__(self) -> int:
        return module_graph.module_hash(self, _is_module, _hash_fields)

    # -- lifecycle ---------------------------------------------------------------------

    def _try_setup(self) -> None:
        state = self._state
        if self.scope is None or state.in_setup or state.setup_called:
            return
        state.in_setup = True
        try:
            self.setup()
            if self._compact_name_scope_methods:
                from nnjax.name_scopes import attach_compact_name_scopes

                attach_compact_name_scopes(self)
        finally:
            state.in_setup = False
        state.setup_called = True

    def setup(self) -> None:
        """Define submodules and variables here; runs lazily once the module is bound."""

    def _call_setup(self, fun: Callable) -> None:
        state = self.__dict__.get("_state")
        if state is None:
            raise errors.IncorrectPostInitOverrideError(module_cls=type(self).__name__)
        if self.scope is None:
            raise errors.CallSetupUnboundModuleError(module_cls=type(self).__name__)
        recurrent = state.in_setup
        state.in_setup = True
        ctx = per_thread.context
        stack = ctx.module_stack
        stack.append(self)
        try:
            y = fun(self)
            capture = ctx.capture
            if capture is not None and capture(self, "setup"):
                self.sow("intermediates", "setup", y)
            return y
        finally:
            stack.pop()
            if not recurrent:
                state.end_of_call()

    def _call_method(self, fun: Callable, name: str, is_compact: bool, args: tuple, kwargs: dict) -> Any:
        d = self.__dict__
        state = d.get("_state")
        if state is None:
            raise errors.IncorrectPostInitOverrideError(module_cls=type(self).__name__)
        scope = d["scope"]
        if scope is not None and not state.setup_called:
            self._try_setup()
        recurrent = False
        if is_compact:
            if scope is None:
                raise errors.CallCompactUnboundModuleError(module_cls=type(self).__name__, method=name)
            recurrent = state.in_compact_method
            state.in_compact_method = True
        ctx = per_thread.context  # one thread-local lookup per call; the rest are plain attributes
        stack = ctx.module_stack
        stack.append(self)
        try:
            interceptors = ctx.interceptors
            if interceptors:
                y = interception.run_intercepted(interceptors, functools.partial(fun, self), self, name, args, kwargs)
            elif named_call.enabled and scope is not None:
                with jax.named_scope(f"{scope.name or type(self).__name__}.{name}"):
                    y = fun(self, *args, **kwargs)
            else:
                y = fun(self, *args, **kwargs)
            capture = ctx.capture
            if capture is not None and scope is not None and capture(self, name):
                self.sow("intermediates", name, y)
            return y
        finally:
            stack.pop()
            if is_compact and not recurrent:
                if state.shares_scope:  # the other module keeps this call's reservations
                    d["scope"] = d["scope"].rewound()  # (setup may have moved it: not `scope`)
                else:
                    d["scope"].rewind()
                state.end_of_call()

    # -- identity ----------------------------------------------------------------------

    @property
    def path(self) -> tuple:
        """Names from the root module to this one; ``()`` for the root."""
        self._require_scope("path")
        return self.scope.path

    def _path_text_or_none(self) -> str | None:
        return self.scope.path_text if self.scope is not None else None

    def _describe(self) -> str:
        where = self._path_text_or_none()
        return type(self).__name__ if where is None else f"{type(self).__name__} at {where}"

    def _require_scope(self, what: str) -> Scope:
        d = self.__dict__
        if "_state" not in d:
            raise errors.IncorrectPostInitOverrideError(module_cls=type(self).__name__)
        scope = d["scope"]
        if scope is None:
            raise errors.CallCompactUnboundModuleError(module_cls=type(self).__name__, method=what)
        return scope

    def clone(self, *, parent=None, _deep_clone=False, _reset_names=False, **updates) -> "Module":
        """A copy with the same fields, ``updates`` applied, attached to ``parent`` (default: none)."""
        d = self.__dict__
        attrs = {name: d[name] for name in self._init_field_names}
        attrs["name"] = d["name"]
        attrs.update(parent=parent, **updates)
        if _deep_clone is not False:
            cache = {} if _deep_clone is True else _deep_clone

            def swap(_suffix: str, sub: "Module") -> "Module":
                return cache[sub._id]

            def clone_one(m: "Module", extra: dict) -> "Module":
                fields = {name: m.__dict__[name] for name in m._init_field_names}
                for key, value in fields.items():
                    if isinstance(value, (Module, list, tuple, dict)) or hasattr(value, "items"):
                        fields[key] = map_modules(swap, value, _is_module)
                fields["name"] = m.__dict__["name"]
                fields.update(extra)
                return type(m)(**fields)

            # innermost first, each shared submodule once: no recursion per level
            reset = {"name": None} if _reset_names else {}
            module_graph.deep_clone_submodules(
                self, _is_module, _init_fields, cache, lambda m: clone_one(m, {"parent": None, **reset})
            )
            return clone_one(self, {k: v for k, v in attrs.items() if k not in self._init_field_names or k in updates})
        return type(self)(**attrs)

    def copy(self, *, parent=unspecified_parent, name: str | None = None, **updates) -> "Module":
        """A copy with updated fields; by default a child of the module whose method is running."""
        return self.clone(parent=parent, name=name, _deep_clone=True, **updates)

    # -- variables -----------------------------------------------------------------

    def _declaring_scope(self, kind: str, name: str) -> Scope:
        scope = self._require_scope(kind)
        state = self._state
        if state.is_initialized and not (state.in_setup or state.in_compact_method):
            raise errors.AssignSubModuleError(f"{kind} '{name}'", parent_path=scope.path_text)
        return scope

    def param(self, name: str, init_fn: Callable, *init_args, unbox: bool = True, **init_kwargs) -> Any:
        """Declares (at init) or reads (at apply) parameter ``name`` of collection 'params'.

        ``init_fn(key, *init_args, **init_kwargs)`` receives a key from the
        'params' stream and runs only when the parameter does not exist yet.
        """
        scope = self._declaring_scope("param", name)
        if scope.name_reserved(name, "params"):
            raise errors.NameInUseError("param", name, self._describe())
        value = scope.param(name, init_fn, init_args, init_kwargs)
        self._state.children[name] = "params"
        if unbox and not isinstance(value, jax.Array):
            value = meta.unbox(value)  # AxisMetadata boxes (nn.Partitioned, ...) hand out their value
        return value

    def variable(
        self, col: str, name: str, init_fn: Callable | None = None, *init_args, unbox: bool = True, **init_kwargs
    ) -> Variable:
        """Declares a variable of collection ``col``; read and write it through ``.value``.

        ``init_fn(*init_args, **init_kwargs)`` (no key is passed) runs only if
        the variable does not exist and ``col`` is mutable.
        """
        scope = self._declaring_scope("variable", name)
        if scope.name_reserved(name, col):
            raise errors.NameInUseError("variable", name, self._describe())
        scope.variable(col, name, init_fn, init_args, init_kwargs)
        self._state.children[name] = col
        return Variable(scope, col, name, unbox=unbox)

    def has_variable(self, col: str, name: str) -> bool:
        return self._require_scope("has_variable").has_variable(col, name)

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        return self._require_scope("get_variable").get_variable(col, name, default)

    def put_variable(self, col: str, name: str, value: Any) -> None:
        self._require_scope("put_variable").put_variable(col, name, value)

    @property
    def variables(self) -> dict:
        """This module's variables in every collection."""
        return self._require_scope("variables").variables()

    def is_mutable_collection(self, col: str) -> bool:
        return self._require_scope("is_mutable_collection").is_mutable_collection(col)

    def is_initializing(self) -> bool:
        """True inside ``init`` / ``init_with_output`` / ``nn.init``."""
        return bool(self._require_scope("is_initializing").get_flag("initializing", False))

    def sow(
        self, col: str, name: str, value: Any, reduce_fn: Callable = _append, init_fn: Callable = _empty_tuple
    ) -> bool:
        """Stores ``value`` in ``col`` if it is mutable (by default appended to a tuple); returns whether it did.

        >>> import nnjax as nn
        >>> class Foo(nn.Module):
        ...   def __call__(self, x):
        ...     self.sow('intermediates', 'h', 2 * x)
        ...     return x
        >>> Foo().apply({}, 1, mutable=['intermediates'])
        (1, {'intermediates': {'h': (2,)}})
        """
        scope = self._require_scope("sow")
        if not scope.is_mutable_collection(col):
            return False
        if scope.has_variable(col, name):
            xs = scope.get_variable(col, name)
        else:
            scope.reserve(name, col)
            self._state.children[name] = col
            xs = init_fn()
        scope.put_variable(col, name, reduce_fn(xs, value))
        return True

    def perturb(self, name: str, value: Any, collection: str = "perturbations") -> Any:
        """Adds a zero variable to ``value`` so that ``jax.grad`` can read its gradient (a no-op without it).

        >>> import jax, jax.numpy as jnp
        >>> import nnjax as nn
        >>> class Foo(nn.Module):
        ...   @nn.compact
        ...   def __call__(self, x):
        ...     return self.perturb('h', 2 * x).sum()
        >>> x = jnp.ones(3)
        >>> variables = Foo().init(jax.random.PRNGKey(0), x)
        >>> jax.grad(lambda v: Foo().apply(v, x))(variables)['perturbations']['h']
        Array([1., 1., 1.], dtype=float32)
        """
        scope = self._require_scope("perturb")
        if scope.is_mutable_collection(collection) and not scope.has_variable(collection, name):
            scope.reserve(name, collection)
            self._state.children[name] = collection
            scope.put_variable(collection, name, jax.tree_util.tree_map(jnp.zeros_like, value))
        if collection in scope.frame.variables:
            if not scope.has_variable(collection, name):
                raise errors.ScopeVariableNotFoundError(name, collection, scope.path_text)
            value = jax.tree_util.tree_map(jnp.add, value, scope.get_variable(collection, name))
        return value

    # -- randomness ---------------------------------------------------------------

    def make_rng(self, name: str = "params"):
        """A fresh key from stream ``name`` (falling back to 'params' when ``name`` was not given)."""
        return self._require_scope("make_rng").make_rng(name)

    def has_rng(self, name: str) -> bool:
        return self._require_scope("has_rng").has_rng(name)

    # -- entry points ---------------------------------------------------------------

    def init_with_output(
        self, rngs, *args, method=None, mutable=DenyList("intermediates"), capture_intermediates=False, **kwargs
    ):
        """Runs ``method`` with every collection but 'intermediates' mutable: ``(output, variables)``."""
        _check_instance(self)
        fn = resolve_method(self, method)
        return _entry.init_with_output(fn, self, mutable=mutable, capture_intermediates=capture_intermediates)(
            rngs, *args, **kwargs
        )

    def init(
        self, rngs, *args, method=None, mutable=DenyList("intermediates"), capture_intermediates=False, **kwargs
    ) -> dict:
        """The variables that running ``method`` (default ``__call__``) creates.

        ``rngs`` is one key (the 'params' stream) or a dict of keys per
        stream. Works eagerly and under ``jax.jit`` / ``jax.eval_shape``.
        """
        _check_instance(self)
        fn = resolve_method(self, method)
        return _entry.init(fn, self, mutable=mutable, capture_intermediates=capture_intermediates)(
            rngs, *args, **kwargs
        )

    def lazy_init(self, rngs, *args, method=None, mutable=DenyList("intermediates"), **kwargs) -> dict:
        """``init`` from shapes: ``jax.ShapeDtypeStruct`` arguments stand for arrays.

        Only the computation the variables need is run; variables that
        depend on the values of abstract arguments raise ``LazyInitError``.
        """
        _check_instance(self)
        fn = resolve_method(self, method)
        return _entry.lazy_init(fn, self, mutable, rngs, args, kwargs)

    def apply(self, variables, *args, rngs=None, method=None, mutable=False, capture_intermediates=False, **kwargs):
        """Runs ``method`` (default ``__call__``) with ``variables``.

        Returns the output, or ``(output, mutated_collections)`` when
        ``mutable`` is not False. ``method`` may be a function, a method name
        or any callable taking the module first.
        """
        _check_instance(self)
        fn = resolve_method(self, method)
        return _entry.apply(fn, self, mutable=mutable, capture_intermediates=capture_intermediates)(
            variables, *args, rngs=rngs, **kwargs
        )

    def bind(self, variables, *args, rngs=None, mutable=False) -> "Module":
        """An interactive copy of this module bound to ``variables`` (and ``rngs``)."""
        _check_instance(self)
        return self.clone(parent=_entry.root_scope(variables, rngs, mutable), _deep_clone=True)

    def unbind(self) -> tuple:
        """``(unbound copy, its variables)`` of a bound module."""
        if "_state" not in self.__dict__:
            raise errors.IncorrectPostInitOverrideError(module_cls=type(self).__name__)
        if self.scope is None:
            raise errors.CallUnbindOnUnboundModuleError(module_cls=type(self).__name__)
        self._try_setup()
        return self.clone(_deep_clone=True, _reset_names=True, name=None), self.variables

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
        """A table summarizing this module: one row per method call of ``init``, its shapes and variables.

        Takes ``init``'s arguments (``rngs``, the forward ``args``/``kwargs``,
        ``method=``) and runs it under ``jax.eval_shape``; see
        :func:`nnjax.summary.tabulate` for the other options.

        >>> import jax, jax.numpy as jnp
        >>> import nnjax as nn
        >>> text = nn.Dense(2).tabulate(jax.random.PRNGKey(0), jnp.ones((1, 3)),
        ...                             console_kwargs={'force_terminal': False})
        >>> 'Total Parameters: 8 (32 B)' in text
        True
        """
        from nnjax.summary import tabulate

        tabulate_fn = tabulate(
            self,
            rngs,
            depth=depth,
            show_repeated=show_repeated,
            mutable=mutable,
            console_kwargs=console_kwargs,
            table_kwargs=table_kwargs,
            column_kwargs=column_kwargs,
            compute_flops=compute_flops,
            compute_vjp_flops=compute_vjp_flops,
        )
        return tabulate_fn(*args, **kwargs)


def _init_fields(m) -> tuple:
    return m._init_field_names


def _compare_fields(m) -> tuple:
    return m._compare_field_names


def _hash_fields(m) -> tuple:
    return m._init_field_names


def _repr_fields(m):
    return getattr(type(m), "_repr_field_names", None)


def _check_instance(module) -> None:
    if not isinstance(module, Module):
        raise errors.InvalidInstanceModuleError(module_cls=getattr(module, "__name__", None))
    if "_state" not in module.__dict__:
        raise errors.IncorrectPostInitOverrideError(module_cls=type(module).__name__)


# The rest of the seed's ``flax.linen.module`` namespace (nothing here imports this file back at import time).
from nnjax import config  # noqa: E402,F401
from nnjax.init_apply import apply, init, init_with_output  # noqa: E402,F401
from nnjax.interception import InterceptorContext, intercept_methods  # noqa: E402,F401
from nnjax.merge_param import merge_param  # noqa: E402,F401
from nnjax.name_scopes import CompactNameScope, compact_name_scope, share_scope  # noqa: E402,F401
from nnjax.named_call import disable_named_call, enable_named_call, override_named_call  # noqa: E402,F401
from shared_spec.collection_filters import DenyList, union_filters  # noqa: E402,F401
from shared_spec.frozen_dict import FrozenDict  # noqa: E402,F401
from shared_spec.type_aliases import (  # noqa: E402,F401
    CollectionFilter,
    FrozenVariableDict,
    PRNGKey,
    RNGSequences,
    VariableDict,
)

tuple_init = _empty_tuple  # the seed's names of sow's default init_fn / reduce_fn
tuple_reduce = _append
