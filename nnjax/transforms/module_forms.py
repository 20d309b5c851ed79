"""From scope-level lifted transforms to Module classes, methods and functions.

Every transform in this package has a *core*: ``core(fn, **options)``
returns ``lifted(scopes, *args, **kwargs)``, which runs ``fn(inner_scopes,
*args, **kwargs)`` under a JAX transform (see :mod:`nnjax.lift`). This
module turns such a core into the three forms the seed system offers:

* a transformed **class** (``nn.vmap(nn.Dense, ...)``): a subclass named
  ``{Transform}{Class}`` (``VmapDense``) whose methods run a clone of the
  instance, of the original class, bound to the lifted scope;
* a transformed **method or function** (``@nn.remat`` on ``__call__``, or
  ``nn.scan(body_fn, ...)`` where ``body_fn(module, ...)``), whose first
  argument is the module to lift;
* a **direct** call (``nn.cond(pred, f, g, module, x)``).

Besides the module itself, bound modules passed as arguments or held in
fields, and :class:`~nnjax.variables.Variable` arguments, are lifted too.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax

from nnjax import module as _module
from nnjax.module import Module
from nnjax.variables import Variable
from shared_spec import errors
from shared_spec import transform_args as _transform_args
from shared_spec.attribute_names import map_modules
from shared_spec.transform_args import (  # noqa: F401  (shared rules; other transform files import them from here)
    _RNG_OPTIONS,
    _VARIABLE_OPTIONS,
    _argnums,
    _check_axes_spec,
    _check_mapping,
    _is_axis_or_none,
    _method_of,
    _short,
    _what,
    check_argnums_in_range,
    validate_options,
)

# -- collecting and re-binding scopes ----------------------------------------------------


class _ModuleArg:
    """Stands for a bound module passed as an argument while it crosses the transform."""

    def __init__(self, cls, attrs: dict, name):
        self.cls, self.attrs, self.name = cls, attrs, name


class _VariableArg:
    def __init__(self, collection: str, name: str):
        self.collection, self.name = collection, name


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
            return _ModuleArg(type(x), {f: x.__dict__[f] for f in x._init_field_names}, x.name)
        return x

    args, kwargs = _map_args(take_arg, (args, kwargs))
    seen = set()

    def take_fields(m: Module):
        if id(m) in seen:
            return
        seen.add(id(m))
        for field in m._init_field_names:
            value = m.__dict__[field]
            if isinstance(value, Module) or _container(value):
                map_modules(
                    lambda _s, sub: take_fields(sub) if _bound_module(sub) and sub.parent is not m else sub,
                    value,
                    _module._is_module,
                )
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
        for field in m._init_field_names:
            value = m.__dict__[field]
            if isinstance(value, Module) or _container(value):
                value = map_modules(lambda _s, sub: _rebind_field(m, sub), value, _module._is_module)
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
    leaves = jax.tree_util.tree_leaves(value, is_leaf=lambda x: isinstance(x, (Module, Variable)))
    if any(isinstance(x, (Module, Variable)) for x in leaves):
        raise errors.TransformedMethodReturnValueError(method_name)


def _run_inner(
    outer: Module,
    fn: Callable,
    method_name: str,
    scopes,
    args,
    kwargs,
    cls=None,
    start=None,
    transform=("lifted transform", {}),
):
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
    items = tuple((f, module.__dict__[f]) for f in module._init_field_names) + (("name", module.name),)
    try:
        hash(items)
    except TypeError:
        return _Identity()
    return items


# -- checking transform arguments: the rules are shared_spec/transform_args.py -----------


def _explain_hidden(error, transform: str, options: dict, outer, inner):
    return _transform_args._explain_hidden(error, transform, options, outer, inner, _has_collection)


def _has_collection(scope, col: str) -> bool:
    return col in scope.frame.variables or scope.is_mutable_collection(col)


# -- the three forms ---------------------------------------------------------------------


def _method_options(transform: str, methods, options: dict) -> dict:
    if methods is None:
        return {"__call__": options}
    if isinstance(methods, (list, tuple)):
        return {name: options for name in methods}
    if isinstance(methods, dict):
        return {name: dict(per_method) for name, per_method in methods.items()}
    raise TypeError(
        f"{_what(transform)}(methods={_short(methods)}): expected None, a list/tuple of method names "
        f"or a dict of per-method options; got {type(methods).__name__}."
    )


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
                return _run_inner(
                    self, fn, method_name, scopes, args, kwargs, cls=cls, start=start, transform=transform
                )

            body.cache_key = (fn, cls, _module_key(self))

            lifted = core(body, **method_options)
            scopes, args, kwargs = module_scopes(self, args, kwargs)
            return lifted(scopes, *args, **kwargs)

        transformed.method_handler_wrapped = True
        return transformed

    methods_dict = {m: make(m, o) for m, o in _method_options(name, methods, options).items()}
    new_cls = type(name.capitalize() + cls.__name__, (cls,), methods_dict)
    new_cls.__module__ = cls.__module__
    # How to make this class again with another backend's transform (nnjax.debug).
    new_cls._lift_recipe = (name, cls, methods, options)
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


def transform_direct(
    core: Callable, fns: tuple, module: Module, *args, transform_name: str = "lifted transform", **options
):
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
            "fields cannot be lifted with it."
        )
    return scopes
