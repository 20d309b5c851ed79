"""Lifted transforms on Module classes, methods and functions (the forms users call).

Every transform in this package has a scope-level *core* (see
:mod:`nnjax.lift`): ``core(fn, **options)`` returns ``lifted(scopes, *args,
**kwargs)``, which runs ``fn(inner_scopes, *args, **kwargs)`` under a JAX
transform. ``lift_transform(name, core, target, ...)`` makes the class form
(``nn.vmap(nn.Dense, ...)`` is a subclass ``VmapDense``) or the
method/function form (``@nn.remat``, ``nn.scan(body_fn, ...)``);
``transform_direct`` makes the direct form (``nn.cond(pred, f, g, module,
x)``). Bound modules and :class:`~nnjax.variables.Variable` objects in the
arguments and bound modules held in fields cross with the module, in the
order :mod:`shared_spec.module_forms` states. Each class/method body carries
a ``cache_key`` so that ``nn.jit`` can reuse its compiled code.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> Twice = lift_transform('vmap', lambda fn, **options: lambda scopes, x: fn(scopes, x) * 2, nn.Dense)
>>> y, variables = Twice(1).init_with_output(jax.random.PRNGKey(0), jnp.ones((1, 2)))
>>> bool(jnp.allclose(y, 2 * nn.Dense(1).apply(variables, jnp.ones((1, 2)))))
True
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax

from nnjax.module import Module, _is_module
from nnjax.module_class import wrap_method
from nnjax.variables import Variable
from shared_spec import errors
from shared_spec.attribute_names import map_modules
from shared_spec.module_forms import method_options, single_scope
from shared_spec.transform_args import _explain_hidden, _method_of

__all__ = ["lift_transform", "single_scope", "transform_direct"]

_CROSSING = (Module, Variable)


class _ModuleArg:
    """Stands for a bound module passed as an argument while it crosses the transform."""

    __slots__ = ("cls", "attrs", "name")

    def __init__(self, cls, attrs: dict, name):
        self.cls, self.attrs, self.name = cls, attrs, name


class _VariableArg:
    """Stands for a ``Variable`` passed as an argument while it crosses the transform."""

    __slots__ = ("collection", "name")

    def __init__(self, collection: str, name: str):
        self.collection, self.name = collection, name


_PLACEHOLDERS = (_ModuleArg, _VariableArg)


def _container(value) -> bool:
    return isinstance(value, (list, tuple, dict)) or hasattr(value, "items")


def _bound_module(x) -> bool:
    return isinstance(x, Module) and x.scope is not None


def _map_tree(fn, targets: tuple, tree):
    """``tree`` with ``fn`` applied to each ``targets`` instance inside lists, tuples, namedtuples and dicts."""
    if isinstance(tree, targets):
        return fn(tree)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map_tree(fn, targets, x) for x in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map_tree(fn, targets, x) for x in tree)
    if isinstance(tree, dict):
        return {k: _map_tree(fn, targets, v) for k, v in tree.items()}
    return tree


# -- collecting and re-binding scopes ----------------------------------------------------


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
        if x.scope is not None:
            scopes.append(x.scope)
            return _ModuleArg(type(x), {f: x.__dict__[f] for f in x._init_field_names}, x.name)
        return x

    args, kwargs = _map_tree(take_arg, _CROSSING, (args, kwargs))
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
                    _is_module,
                )
        scopes.append(m.scope)

    if module.scope is None:
        raise errors.CallCompactUnboundModuleError(module_cls=type(module).__name__, method="a lifted transform")
    take_fields(module)
    return scopes, args, kwargs


def bind_scopes(module: Module, args: tuple, kwargs: dict, scopes, cls=None):
    """``module`` (as ``cls``), its field modules and the argument placeholders bound to ``scopes``."""
    remaining = iter(list(scopes))

    def put_arg(x):
        if isinstance(x, _VariableArg):
            return Variable(next(remaining), x.collection, x.name)
        return x.cls(parent=next(remaining), name=x.name, **x.attrs)

    args, kwargs = _map_tree(put_arg, _PLACEHOLDERS, (args, kwargs))
    rebound: dict = {}

    def rebind(m: Module, as_cls=None) -> Module:
        if id(m) in rebound:
            return rebound[id(m)]
        attrs = {}
        for field in m._init_field_names:
            value = m.__dict__[field]
            if isinstance(value, Module) or _container(value):
                value = map_modules(lambda _s, sub: rebind_field(m, sub), value, _is_module)
            attrs[field] = value
        new = (as_cls or type(m))(parent=next(remaining), name=m.name, **attrs)
        rebound[id(m)] = new
        return new

    def rebind_field(owner: Module, sub: Module) -> Module:
        if not _bound_module(sub):
            return sub
        if sub.parent is owner:  # adopted child: lifted with the owner, adopted again inside
            return sub.clone(parent=None)
        return rebind(sub)

    return rebind(module, cls), args, kwargs


# -- module state across the boundary ----------------------------------------------------


def _snapshot_state(outer: Module) -> tuple:
    """The naming state each body starts from (taken once per call: ``cond`` traces every branch)."""
    return outer._state.in_compact_method, dict(outer._state.autoname_cursor)


def _reimport_state(outer: Module, inner: Module) -> None:
    src, dst = inner._state, outer._state
    dst.in_compact_method = src.in_compact_method
    dst.in_setup = src.in_setup
    dst.autoname_cursor = dict(src.autoname_cursor)


def _has_collection(scope, col: str) -> bool:
    return col in scope.frame.variables or scope.is_mutable_collection(col)


def _run_inner(outer: Module, fn: Callable, method_name: str, scopes, args, kwargs, cls, start, transform):
    inner, args, kwargs = bind_scopes(outer, args, kwargs, scopes, cls)
    inner._state.in_compact_method = start[0]
    inner._state.autoname_cursor = dict(start[1])
    try:
        y = fn(inner, *args, **kwargs)
    except errors.NNError as error:
        better = _explain_hidden(error, transform[0], transform[1], outer.scope, inner.scope, _has_collection)
        if better is None:
            raise
        raise better from error
    _reimport_state(outer, inner)
    leaves = jax.tree_util.tree_leaves(y, is_leaf=lambda x: isinstance(x, _CROSSING))
    if any(isinstance(x, _CROSSING) for x in leaves):
        raise errors.TransformedMethodReturnValueError(method_name)
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


# -- the three forms ---------------------------------------------------------------------


def transform_class(name: str, core: Callable, cls, methods=None, **options):
    """A subclass of ``cls`` whose ``methods`` run under the lifted transform ``core``."""
    partial = None
    if isinstance(cls, functools.partial):
        partial, cls = cls, cls.func

    def make(method_name: str, per_method: dict):
        fn = _method_of(name, cls, method_name)
        transform = (name, per_method)

        @functools.wraps(fn)
        def transformed(self, *args, **kwargs):
            start = _snapshot_state(self)

            def body(scopes, *args, **kwargs):
                return _run_inner(self, fn, method_name, scopes, args, kwargs, cls, start, transform)

            body.cache_key = (fn, cls, _module_key(self))
            lifted = core(body, **per_method)
            scopes, args, kwargs = module_scopes(self, args, kwargs)
            return lifted(scopes, *args, **kwargs)

        transformed.method_handler_wrapped = True
        return transformed

    methods_dict = {m: make(m, o) for m, o in method_options(name, methods, options).items()}
    new_cls = type(name.capitalize() + cls.__name__, (cls,), methods_dict)
    new_cls.__module__ = cls.__module__
    new_cls._lift_recipe = (name, cls, methods, options)  # nnjax.debug rebuilds it with nnref's transform
    if partial is not None:
        return functools.partial(new_cls, *partial.args, **partial.keywords)
    return new_cls


def _prewrapped(fn: Callable) -> Callable:
    return fn if getattr(fn, "method_handler_wrapped", False) else wrap_method(fn)


def transform_method(core: Callable, fn: Callable, transform_name: str = "lifted transform", **options) -> Callable:
    """``fn(module, *args)`` (a method or a function) running under the lifted transform ``core``."""
    transform = (transform_name, options)
    prewrapped = _prewrapped(fn)
    name = getattr(fn, "__name__", "<lifted function>")

    @functools.wraps(fn)
    def transformed(self, *args, **kwargs):
        if not isinstance(self, Module):
            raise errors.TransformTargetError(fn)
        start = _snapshot_state(self)

        def body(scopes, *args, **kwargs):
            return _run_inner(self, prewrapped, name, scopes, args, kwargs, None, start, transform)

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

        def body(scopes, *call_args, _fn=_prewrapped(fn), _name=getattr(fn, "__name__", "<lifted function>"), **kw):
            return _run_inner(module, _fn, _name, scopes, call_args, kw, None, start, transform)

        bodies.append(body)
    lifted = core(*bodies, **options)
    scopes, args, _ = module_scopes(module, args, {})
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
