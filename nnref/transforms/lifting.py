"""From scope-level lifted transforms to Module classes, methods and functions (nnref).

Every transform in this package has a *core*: ``core(fn, **options)``
returns ``lifted(scopes, *args, **kwargs)``, which runs ``fn(inner_scopes,
*args, **kwargs)`` under a JAX transform (see :mod:`nnref.lift`). This
module turns such a core into the three forms the seed system offers:

* a transformed **class** (``nn.vmap(nn.Dense, ...)``): a subclass named
  ``{Transform}{Class}`` (``VmapDense``) whose methods run a clone of the
  instance, of the original class, bound to the lifted scope;
* a transformed **method or function** (``@nn.remat`` on ``__call__``, or
  ``nn.scan(body_fn, ...)`` where ``body_fn(module, ...)``), whose first
  argument is the module to lift;
* a **direct** call (``nn.cond(pred, f, g, module, x)``).

Besides the module itself, bound modules passed as arguments or held in
fields, and :class:`~nnref.variables.Variable` arguments, are lifted too.
"""

from __future__ import annotations

import dataclasses
import copy
import functools
import inspect
from typing import Any, Callable


from shared_spec import errors
from shared_spec.attribute_names import map_modules

from nnref import module as _module
from nnref.module import Module
from nnref.tree_util import tree_leaves
from nnref.variables import Variable


# -- collecting and re-binding scopes ----------------------------------------------------


class _ModuleArg:
    """Stands for a bound module passed as an argument while it crosses the transform."""

    def __init__(self, cls, attrs: dict, name):
        self.cls, self.attrs, self.name = cls, attrs, name


class _VariableArg:
    def __init__(self, collection: str, name: str):
        self.collection, self.name = collection, name


def _is_module(x) -> bool:
    return isinstance(x, Module)


def _field_names(m) -> tuple:
    return tuple(f.name for f in dataclasses.fields(m) if f.init and f.name not in ("parent", "name"))


def _container(value) -> bool:
    return isinstance(value, (list, tuple, dict)) or hasattr(value, "items")


def _bound_module(x) -> bool:
    return isinstance(x, Module) and x.scope is not None


def _map_args(fn, tree):
    """``fn`` applied to every module/variable inside nested lists, tuples and dicts."""
    if isinstance(tree, (Module, Variable)):
        return fn(tree)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map_args(fn, x) for x in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map_args(fn, x) for x in tree)
    if isinstance(tree, dict):
        return {k: _map_args(fn, v) for k, v in tree.items()}
    return tree


def module_scopes(module: Module, args: tuple, kwargs: dict):
    """The scopes to lift for calling ``module`` with ``args``: ``(scopes, args, kwargs)``.

    Bound modules and variables in the arguments are replaced by placeholders
    (JAX cannot carry them); their scopes come first, then those of bound
    modules held in fields, then the module's own.
    """
    scopes = []

    def take_arg(x):
        if isinstance(x, Variable):
            scopes.append(x.scope)
            return _VariableArg(x.collection, x.name)
        if _bound_module(x):
            scopes.append(x.scope)
            return _ModuleArg(type(x), {f: x.__dict__[f] for f in _field_names(x)}, x.name)
        return x

    args, kwargs = _map_args(take_arg, (args, kwargs))
    seen = set()

    def take_fields(m: Module):
        if id(m) in seen:
            return
        seen.add(id(m))
        for field in _field_names(m):
            value = m.__dict__[field]
            if isinstance(value, Module) or _container(value):
                map_modules(lambda _s, sub: take_fields(sub) if _bound_module(sub) and sub.parent is not m else sub,
                            value, _is_module)
        scopes.append(m.scope)

    if module.scope is None:
        raise errors.CallCompactUnboundModuleError(module_cls=type(module).__name__, method="a lifted transform")
    take_fields(module)
    return scopes, args, kwargs


def bind_scopes(module: Module, args: tuple, kwargs: dict, scopes: list, cls=None):
    """``module`` (as ``cls``), its field modules and the argument placeholders bound to ``scopes``."""
    scopes = list(scopes)
    position = [0]

    def next_scope():
        scope = scopes[position[0]]
        position[0] += 1
        return scope

    def put_arg(x):
        if isinstance(x, _VariableArg):
            return Variable(next_scope(), x.collection, x.name)
        if isinstance(x, _ModuleArg):
            return x.cls(parent=next_scope(), name=x.name, **x.attrs)
        return x

    def map_placeholders(tree):
        if isinstance(tree, (_VariableArg, _ModuleArg)):
            return put_arg(tree)
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):
            return type(tree)(*(map_placeholders(x) for x in tree))
        if isinstance(tree, (list, tuple)):
            return type(tree)(map_placeholders(x) for x in tree)
        if isinstance(tree, dict):
            return {k: map_placeholders(v) for k, v in tree.items()}
        return tree

    args, kwargs = map_placeholders((args, kwargs))
    rebound: dict = {}

    def rebind(m: Module, as_cls=None) -> Module:
        if id(m) in rebound:
            return rebound[id(m)]
        attrs = {}
        for field in _field_names(m):
            value = m.__dict__[field]
            if isinstance(value, Module) or _container(value):
                value = map_modules(lambda _s, sub: _rebind_field(m, sub), value, _is_module)
            attrs[field] = value
        new = (as_cls or type(m))(parent=next_scope(), name=m.name, **attrs)
        rebound[id(m)] = new
        return new

    def _rebind_field(owner: Module, sub: Module) -> Module:
        if not _bound_module(sub):
            return sub
        if sub.parent is owner:  # adopted child: lifted with the owner, adopted again inside
            return sub.clone(parent=None)
        return rebind(sub)

    return rebind(module, cls), args, kwargs


# -- module state across the boundary ----------------------------------------------------


def _snapshot_state(outer: Module) -> tuple:
    """What crosses into the transform, taken once per transformed call, before any body runs.

    A body may run more than once (``cond``/``switch`` trace every branch,
    nnref loops over ``while_loop`` iterations): each run starts from this
    snapshot, as one trace does, so auto-names (``Dense_0``) are the same in
    every run instead of counting on from the previous run's reimported cursor.
    """
    return outer._state.in_compact_method, dict(outer._state.autoname_cursor)


def _export_state(start: tuple, inner: Module) -> None:
    in_compact_method, autoname_cursor = start
    dst = inner._state
    dst.in_compact_method = in_compact_method
    dst.autoname_cursor = dict(autoname_cursor)


def _reimport_state(outer: Module, inner: Module) -> None:
    src, dst = inner._state, outer._state
    dst.in_compact_method = src.in_compact_method
    dst.in_setup = src.in_setup
    dst.autoname_cursor = dict(src.autoname_cursor)


def _check_return(value, method_name) -> None:
    leaves = tree_leaves(value, is_leaf=lambda x: isinstance(x, (Module, Variable)))
    if any(isinstance(x, (Module, Variable)) for x in leaves):
        raise errors.TransformedMethodReturnValueError(method_name)


def _run_inner(outer: Module, fn: Callable, method_name: str, scopes, args, kwargs, cls=None, start=None,
               transform=("lifted transform", {})):
    inner, args, kwargs = bind_scopes(outer, args, kwargs, scopes, cls)
    _export_state(_snapshot_state(outer) if start is None else start, inner)
    try:
        y = fn(inner, *args, **kwargs)
    except errors.NNError as error:
        better = _explain_hidden(error, transform[0], transform[1], outer.scope, inner.scope)
        if better is None:
            raise
        raise better from error
    _reimport_state(outer, inner)
    _check_return(y, method_name)
    return y


class _Identity:
    """A key equal only to itself (for a module whose fields cannot be hashed)."""


def _module_key(module: Module):
    """A hashable key equal for modules of one class with equal fields (compiled code may be reused)."""
    items = tuple((f, module.__dict__[f]) for f in _field_names(module)) + (("name", module.name),)
    try:
        hash(items)
    except TypeError:
        return _Identity()
    return items


# -- checking transform arguments (once, at decoration) -----------------------------------


def _what(transform: str) -> str:
    return f"nn.{transform}"


def _check_axes_spec(transform: str, argument: str, axes, allowed: tuple, expected: str) -> None:
    """``axes`` is an int, an allowed marker (``None``, ``nn.broadcast``) or a tuple/list/dict of those."""
    stack = [axes]
    while stack:
        spec = stack.pop()
        if isinstance(spec, bool) or not (isinstance(spec, int) or any(spec is a for a in allowed)):
            if isinstance(spec, (list, tuple)):
                stack.extend(spec)
                continue
            if isinstance(spec, dict):
                stack.extend(spec.values())
                continue
            raise TypeError(f"{_what(transform)}({argument}={_short(axes)}): {_short(spec)} "
                            f"({type(spec).__name__}) is not an axis; expected {expected}.")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_mapping(transform: str, argument: str, value, values_ok, expected: str) -> None:
    if not isinstance(value, dict) and not hasattr(value, "items"):
        raise TypeError(f"{_what(transform)}({argument}={_short(value)}): expected a dict from collection or "
                        f"stream filter to {expected}; got {type(value).__name__}.")
    for key, item in value.items():
        if not values_ok(item):
            raise TypeError(f"{_what(transform)}({argument}={_short(value)}): the value for {key!r} is "
                            f"{_short(item)} ({type(item).__name__}); expected {expected}.")


def _is_axis_or_none(x) -> bool:
    return x is None or (isinstance(x, int) and not isinstance(x, bool))


def _argnums(transform: str, argument: str, value) -> tuple:
    """``static_argnums``-like options as a tuple of ints (the module counts as argument 0)."""
    items = (value,) if isinstance(value, int) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise TypeError(f"{_what(transform)}({argument}={_short(value)}): expected an int or a tuple of ints "
                        "(argument positions, the module being argument 0).")
    if any(i < 0 for i in items):
        raise ValueError(f"{_what(transform)}({argument}={_short(value)}): negative positions are not "
                         "supported; count from 0 (the module), so the first argument after it is 1.")
    return items


def check_argnums_in_range(transform: str, argument: str, argnums: tuple, n_args: int, path) -> None:
    """At a call: every position in ``argnums`` (counted after the module) names a passed argument."""
    for i in argnums:
        if i >= n_args:
            raise ValueError(
                f"{_what(transform)}({argument}={_short(tuple(j + 1 for j in argnums))}) at module "
                f"{errors.format_path(path)}: position {i + 1} is out of range; the call passes the module "
                f"(position 0) and {n_args} argument(s), so expected positions 1..{n_args}.")


def validate_options(transform: str, options: dict, axis_markers: tuple = ()) -> None:
    """Type checks of a transform's arguments, done once when the transform is made."""
    for argument in ("variable_axes", "split_rngs"):
        if argument in options:
            if argument == "variable_axes":
                _check_mapping(transform, argument, options[argument], _is_axis_or_none, "an int axis or None")
            else:
                _check_mapping(transform, argument, options[argument], lambda v: isinstance(v, (bool, int)),
                               "True (split) or False (shared)")
    for argument in ("in_axes", "out_axes"):
        if argument in options:
            markers = (None,) + tuple(axis_markers)
            _check_axes_spec(transform, argument, options[argument], markers,
                             "an int, None" + (", nn.broadcast" if len(markers) > 1 else "")
                             + " or a tuple/list/dict of those")
    for argument in ("length", "axis_size"):
        value = options.get(argument)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{_what(transform)}({argument}={_short(value)}): expected a positive int or None; "
                            f"got {type(value).__name__}.")
        if value is not None and value < 1:
            raise ValueError(f"{_what(transform)}({argument}={value}): expected a positive int (at least one "
                             "step/index) or None.")


def _method_of(transform: str, cls, method_name):
    if not isinstance(method_name, str):
        raise TypeError(f"{_what(transform)}(methods=...): method names must be strings; got "
                        f"{_short(method_name)} ({type(method_name).__name__}).")
    fn = getattr(cls, method_name, None)
    if fn is None:
        raise ValueError(f"{_what(transform)}({cls.__name__}, methods=[{method_name!r}]): {cls.__name__} has no "
                         f"method {method_name!r}; expected the name of one of its methods, e.g. '__call__'.")
    if not callable(fn):
        raise TypeError(f"{_what(transform)}({cls.__name__}, methods=[{method_name!r}]): "
                        f"{cls.__name__}.{method_name} is {_short(fn)} ({type(fn).__name__}), not a method.")
    return fn


# -- errors from inside a body that the transform's filters caused ------------------------

_VARIABLE_OPTIONS = ("variable_axes", "variable_broadcast", "variable_carry", "variables", "carry_variables",
                     "broadcast_variables", "mapped_collections")
_RNG_OPTIONS = ("split_rngs", "rngs")


def _explain_hidden(error, transform: str, options: dict, outer, inner):
    """A clearer error when ``error`` is about a collection or stream that exists outside the
    transform but that its filters did not pass through; ``None`` otherwise."""
    if getattr(error, "_lift_explained", False) or outer is None or inner is None:
        return None
    path = errors.format_path(outer.path)
    if isinstance(error, errors.InvalidRngError):
        hidden = sorted(set(outer.rngs) - set(inner.rngs))
        named = [s for s in hidden if f"'{s}'" in str(error)]
        if not named:
            return None
        stream = named[0]
        given = ", ".join(f"{k}={_short(options[k])}" for k in _RNG_OPTIONS if k in options) or "its rng filter"
        message = (f"Module {path}: random stream '{stream}' was given outside {_what(transform)} but was not "
                   f"passed through the transform: {given} selects no stream named '{stream}' (a misspelt "
                   f"stream name?). Fix: name '{stream}' there, e.g. split_rngs={{'{stream}': True}} "
                   f"(or rngs=['{stream}', ...] for jit/remat/cond).")
        better = errors.InvalidRngError(message)
        better.args = (message,)
        better._lift_explained = True
        return better
    col = getattr(error, "col", None) or getattr(error, "col_name", None)
    if isinstance(error, errors.ScopeParamNotFoundError):
        col = "params"
    if col is None:
        return None
    if not _has_collection(outer, col) or _has_collection(inner, col):
        return None
    given = ", ".join(f"{k}={_short(options[k])}" for k in _VARIABLE_OPTIONS if k in options)
    # the same catalogue class (handlers keep working), with the cause named
    better = copy.copy(error)
    better.args = (
        f"Module {path}: collection '{col}' is used inside {_what(transform)} but the transform does not pass "
        f"it through: it is selected by none of its variable filters ({given or 'none given'}). Fix: add "
        f"'{col}' to one of them, e.g. variable_axes={{'{col}': 0}} (one slice per index/step) or "
        f"variable_broadcast='{col}' (shared, read-only) for vmap/scan, variables=[..., '{col}'] for "
        "jit/remat/cond.",)
    better._lift_explained = True
    return better


def _has_collection(scope, col: str) -> bool:
    return col in scope.root.variables or scope.is_mutable_collection(col)


# -- the three forms ---------------------------------------------------------------------


def _method_options(transform: str, methods, options: dict) -> dict:
    if methods is None:
        return {"__call__": options}
    if isinstance(methods, (list, tuple)):
        return {name: options for name in methods}
    if isinstance(methods, dict):
        return {name: dict(per_method) for name, per_method in methods.items()}
    raise TypeError(f"{_what(transform)}(methods={_short(methods)}): expected None, a list/tuple of method names "
                    f"or a dict of per-method options; got {type(methods).__name__}.")


def transform_class(name: str, core: Callable, cls, methods=None, **options):
    """A subclass of ``cls`` whose ``methods`` run under the lifted transform ``core``."""
    partial = None
    if isinstance(cls, functools.partial):
        partial, cls = cls, cls.func

    def make(method_name: str, method_options: dict):
        fn = _method_of(name, cls, method_name)
        transform = (name, method_options)

        @functools.wraps(fn)
        def transformed(self, *args, **kwargs):
            start = _snapshot_state(self)

            def body(scopes, *args, **kwargs):
                return _run_inner(self, fn, method_name, scopes, args, kwargs, cls=cls, start=start,
                                  transform=transform)

            body.cache_key = (fn, cls, _module_key(self))

            lifted = core(body, **method_options)
            scopes, args, kwargs = module_scopes(self, args, kwargs)
            return lifted(scopes, *args, **kwargs)

        transformed.method_handler_wrapped = True
        return transformed

    methods_dict = {m: make(m, o) for m, o in _method_options(name, methods, options).items()}
    new_cls = type(name.capitalize() + cls.__name__, (cls,), methods_dict)
    new_cls.__module__ = cls.__module__
    if partial is not None:
        return functools.partial(new_cls, *partial.args, **partial.keywords)
    return new_cls


def transform_method(core: Callable, fn: Callable, transform_name: str = "lifted transform", **options) -> Callable:
    """``fn(module, *args)`` (a method or a function) running under the lifted transform ``core``."""
    transform = (transform_name, options)
    prewrapped = fn if getattr(fn, "method_handler_wrapped", False) else _module._wrap_method(fn)
    name = getattr(fn, "__name__", "<lifted function>")

    @functools.wraps(fn)
    def transformed(self, *args, **kwargs):
        if not isinstance(self, Module):
            raise errors.TransformTargetError(fn)

        start = _snapshot_state(self)

        def body(scopes, *args, **kwargs):
            return _run_inner(self, prewrapped, name, scopes, args, kwargs, start=start, transform=transform)

        body.cache_key = (prewrapped, type(self), _module_key(self))

        lifted = core(body, **options)
        scopes, args, kwargs = module_scopes(self, args, kwargs)
        return lifted(scopes, *args, **kwargs)

    transformed.method_handler_wrapped = True
    if getattr(fn, "compact", False):
        transformed.compact = True
    return transformed


def transform_direct(core: Callable, fns: tuple, module: Module, *args, transform_name: str = "lifted transform",
                     **options):
    """Calls ``core(*bodies, **options)`` once, where body ``i`` runs ``fns[i](module, ...)`` on lifted scopes."""
    transform = (transform_name, options)
    if not isinstance(module, Module):
        raise errors.TransformTargetError(module)
    bodies = []
    start = _snapshot_state(module)
    for fn in fns:
        if _is_module_class(fn) or not callable(fn):
            raise errors.TransformTargetError(fn)
        fn = getattr(fn, "__func__", fn)  # a bound method self.f is called as f(module, ...)
        prewrapped = fn if getattr(fn, "method_handler_wrapped", False) else _module._wrap_method(fn)
        name = getattr(fn, "__name__", "<lifted function>")

        def body(scopes, *call_args, _fn=prewrapped, _name=name, **call_kwargs):
            return _run_inner(module, _fn, _name, scopes, call_args, call_kwargs, start=start, transform=transform)

        bodies.append(body)
    lifted = core(*bodies, **options)
    scopes, args, kwargs = module_scopes(module, args, {})
    return lifted(scopes, *args)


def _is_module_class(target) -> bool:
    if isinstance(target, functools.partial):
        target = target.func
    return inspect.isclass(target) and issubclass(target, Module)


def lift_transform(name: str, core: Callable, target, methods=None, **options):
    """``target`` (a Module class or a function of a module) under the lifted transform ``core``."""
    if _is_module_class(target):
        return transform_class(name, core, target, methods=methods, **options)
    if callable(target) and not isinstance(target, Module):
        return transform_method(core, target, transform_name=name, **options)
    raise errors.TransformTargetError(target)


def single_scope(scopes):
    """The one scope of a lifted module (transforms whose options follow one scope's structure)."""
    if len(scopes) != 1:
        raise NotImplementedError(
            "This lifted transform supports one module only; modules passed as arguments or held in "
            "fields cannot be lifted with it.")
    return scopes
