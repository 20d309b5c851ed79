"""How a lifted transform reaches modules: the class, method/function and direct forms.

Each transform file (``vmap.py``, ``scan.py``, ...) writes a *core* that
knows only scopes: ``core(fn, **options)`` gives ``lifted(scopes, *args)``,
which runs ``fn(inner_scopes, *args)`` on copies of the scopes' state (the
stages of that copy are in :mod:`nnref.lift`). A user, though, holds
modules. This file is the bridge, in three forms:

* the **class** form, ``nn.vmap(nn.Dense, ...)``: a subclass ``VmapDense``
  whose methods lift the instance and run the *original* ``Dense`` method
  on a clone bound to the lifted scope;
* the **method/function** form, ``@nn.remat`` or ``nn.scan(body_fn, ...)``:
  ``body_fn(module, *args)`` with the module to lift first;
* the **direct** form, ``nn.cond(pred, f, g, module, x)``: the core runs once,
  right now, with one body per branch.

A module rarely crosses alone. Whatever carries variables must cross with
it, or writes made inside would be lost: bound modules and ``Variable``
objects passed as arguments, and bound modules kept in the module's fields.
Every call follows the same five steps (the order of the scopes is the
contract in :mod:`shared_spec.module_forms`, which both backends follow):

1. find the scopes: arguments first, then field modules, then the module;
2. replace the objects in the arguments by placeholders (the core copies
   arguments, it cannot copy a module);
3. run the transform's core on the scopes;
4. inside, rebuild the same objects over the inner scopes and call the
   method on a clone of the module bound there;
5. carry the naming state (auto-name counters, compact flags) back out, so
   the next ``Dense(...)`` after the transform is numbered on from there.

nnref runs every body eagerly, each time; there is nothing to compile, so
no body carries a cache key.

>>> import numpy as np
>>> import nnref as nn
>>> Twice = lift_transform('vmap', lambda fn, **options: lambda scopes, x: fn(scopes, x) * 2, nn.Dense)
>>> Twice.__name__
'VmapDense'
>>> y, variables = Twice(1).init_with_output(nn.random.PRNGKey(0), np.ones((1, 2)))
>>> bool(np.allclose(y, 2 * nn.Dense(1).apply(variables, np.ones((1, 2)))))
True
"""

from __future__ import annotations

import dataclasses
import functools
import inspect

from nnref.module import Module
from nnref.module_class import wrap_method
from nnref.tree_util import tree_leaves
from nnref.variables import Variable
from shared_spec import errors
from shared_spec.attribute_names import map_modules
from shared_spec.module_forms import method_options, single_scope
from shared_spec.transform_args import _explain_hidden, _method_of

__all__ = ["lift_transform", "single_scope", "transform_direct"]


# -- step 2's placeholders ----------------------------------------------------------------


class _ModuleStandIn:
    """What an argument module leaves behind: enough to build it again (class, fields, name)."""

    def __init__(self, module: Module):
        self.cls = type(module)
        self.fields = {f: module.__dict__[f] for f in _clone_fields(module)}
        self.name = module.name

    def bind(self, scope) -> Module:
        return self.cls(parent=scope, name=self.name, **self.fields)


class _VariableStandIn:
    """What an argument ``Variable`` leaves behind: its collection and name (its scope crosses apart)."""

    def __init__(self, variable: Variable):
        self.collection = variable.collection
        self.name = variable.name

    def bind(self, scope) -> Variable:
        return Variable(scope, self.collection, self.name)


def _clone_fields(module: Module) -> list:
    """The dataclass fields a clone is built from: every ``__init__`` field but ``parent`` and ``name``."""
    return [f.name for f in dataclasses.fields(module) if f.init and f.name not in ("parent", "name")]


def _is_bound(x) -> bool:
    return isinstance(x, Module) and x.scope is not None


def _may_hold_modules(value) -> bool:
    """A field worth searching for modules: a module itself or a container (list, tuple, dict, mapping)."""
    return isinstance(value, (Module, list, tuple, dict)) or hasattr(value, "items")


def _swap(tree, kinds: tuple, swap):
    """A copy of ``tree`` (nested lists, tuples, namedtuples, dicts) in which each ``kinds`` item is ``swap(item)``.

    Items are visited left to right, so the order of ``swap`` calls is the
    order of the arguments; steps 1 and 4 rely on it.
    """
    if isinstance(tree, kinds):
        return swap(tree)
    if isinstance(tree, dict):
        return {key: _swap(value, kinds, swap) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        parts = [_swap(item, kinds, swap) for item in tree]
        if hasattr(tree, "_fields"):  # a namedtuple is rebuilt from positional fields
            return type(tree)(*parts)
        return type(tree)(parts)
    return tree


# -- steps 1 and 2: what crosses, and in which order --------------------------------------


def _collect(module: Module, args: tuple, kwargs: dict):
    """Steps 1-2: ``(scopes, args, kwargs)`` with argument modules/variables swapped for placeholders."""
    if module.scope is None:
        # Only a bound module has variables to lift.
        raise errors.CallCompactUnboundModuleError(module_cls=type(module).__name__, method="a lifted transform")
    scopes = []

    def leave_stand_in(obj):
        if isinstance(obj, Variable):
            scopes.append(obj.scope)
            return _VariableStandIn(obj)
        if obj.scope is None:  # an unbound module is plain configuration: it crosses as it is
            return obj
        scopes.append(obj.scope)
        return _ModuleStandIn(obj)

    # 1a. Arguments first, in argument order.
    args, kwargs = _swap((args, kwargs), (Module, Variable), leave_stand_in)

    # 1b. Then the modules in fields, depth first, each once, and the module itself last.
    visited = set()

    def visit(owner: Module):
        if id(owner) in visited:
            return
        visited.add(id(owner))
        for field in _clone_fields(owner):
            value = owner.__dict__[field]
            if not _may_hold_modules(value):
                continue

            def visit_field_module(_suffix, sub, owner=owner):
                # A child the owner adopted is rebuilt with it inside; it has no scope of its own to lift.
                if _is_bound(sub) and sub.parent is not owner:
                    visit(sub)
                return sub

            map_modules(visit_field_module, value, lambda x: isinstance(x, Module))
        scopes.append(owner.scope)

    visit(module)
    return scopes, args, kwargs


# -- step 4: the same objects again, over the inner scopes --------------------------------


def _rebuild(module: Module, inner_scopes, args: tuple, kwargs: dict, as_cls=None):
    """Step 4: ``(clone, args, kwargs)`` bound to ``inner_scopes``, taken in the order :func:`_collect` gave."""
    scopes = iter(inner_scopes)

    # Argument placeholders first (they took the first scopes).
    args, kwargs = _swap((args, kwargs), (_ModuleStandIn, _VariableStandIn), lambda s: s.bind(next(scopes)))

    # Then the module tree, depth first, the same walk as in _collect; a module
    # met twice (shared by two fields) is rebuilt once.
    clones = {}

    def clone(owner: Module, cls=None) -> Module:
        if id(owner) not in clones:
            fields = {}
            for field in _clone_fields(owner):
                value = owner.__dict__[field]
                if _may_hold_modules(value):
                    value = map_modules(
                        lambda _suffix, sub, owner=owner: field_module(owner, sub),
                        value,
                        lambda x: isinstance(x, Module),
                    )
                fields[field] = value
            clones[id(owner)] = (cls or type(owner))(parent=next(scopes), name=owner.name, **fields)
        return clones[id(owner)]

    def field_module(owner: Module, sub: Module) -> Module:
        if not _is_bound(sub):
            return sub
        if sub.parent is owner:
            return sub.clone(parent=None)  # adopted again by the clone of its owner
        return clone(sub)

    return clone(module, as_cls), args, kwargs


# -- steps 4 and 5 for one body --------------------------------------------------------


def _naming_state(module: Module) -> tuple:
    """The naming state a body starts from, read once per transformed call.

    ``cond`` runs every branch and ``while_loop`` runs its body many times:
    each run must start from the same counters, or ``Dense_0`` in one branch
    would be ``Dense_1`` in the next.
    """
    return module._state.in_compact_method, dict(module._state.autoname_cursor)


def _inside(outer: Module, fn, fn_name: str, start: tuple, transform: tuple, cls=None):
    """The body the core runs: rebuild (step 4), call ``fn``, carry the naming state out (step 5)."""

    def body(inner_scopes, *args, **kwargs):
        inner, args, kwargs = _rebuild(outer, inner_scopes, args, kwargs, cls)
        inner._state.in_compact_method, cursor = start
        inner._state.autoname_cursor = dict(cursor)
        try:
            result = fn(inner, *args, **kwargs)
        except errors.NNError as error:
            # An error about a collection or RNG stream the transform's filters hid
            # is re-raised naming the filter, which is where the fix belongs.
            clearer = _explain_hidden(error, transform[0], transform[1], outer.scope, inner.scope, _visible)
            if clearer is None:
                raise
            raise clearer from error
        # 5. The next submodule made outside is numbered on from the inner clone's counters.
        outer._state.in_compact_method = inner._state.in_compact_method
        outer._state.in_setup = inner._state.in_setup
        outer._state.autoname_cursor = dict(inner._state.autoname_cursor)
        # A module or variable returned would outlive its inner scope.
        if any(isinstance(leaf, (Module, Variable)) for leaf in tree_leaves(result, is_leaf=_crosses)):
            raise errors.TransformedMethodReturnValueError(fn_name)
        return result

    return body


def _crosses(x) -> bool:
    return isinstance(x, (Module, Variable))


def _visible(scope, collection: str) -> bool:
    """Whether ``collection`` exists in ``scope`` (stored, or writable there)."""
    return collection in scope.frame.variables or scope.is_mutable_collection(collection)


def _as_method(fn):
    """``fn`` wrapped as a module method (once: a method of a Module class already is)."""
    if getattr(fn, "method_handler_wrapped", False):
        return fn
    return wrap_method(fn)


# -- the three forms -------------------------------------------------------------------------


def _lift_class(name: str, core, cls, methods=None, **options):
    """The class form: a subclass of ``cls`` whose chosen methods run under ``core``."""
    partial = cls if isinstance(cls, functools.partial) else None
    if partial is not None:
        cls = partial.func

    def lifted_method(method_name: str, its_options: dict):
        original = _method_of(name, cls, method_name)

        @functools.wraps(original)
        def method(self, *args, **kwargs):
            body = _inside(self, original, method_name, _naming_state(self), (name, its_options), cls)
            run = core(body, **its_options)
            scopes, args, kwargs = _collect(self, args, kwargs)  # steps 1-2
            return run(scopes, *args, **kwargs)  # step 3

        method.method_handler_wrapped = True
        return method

    table = method_options(name, methods, options)
    subclass = type(name.capitalize() + cls.__name__, (cls,), {m: lifted_method(m, o) for m, o in table.items()})
    subclass.__module__ = cls.__module__
    if partial is None:
        return subclass
    return functools.partial(subclass, *partial.args, **partial.keywords)


def _lift_function(core, fn, transform_name: str = "lifted transform", **options):
    """The method/function form: ``fn(module, *args)`` running under ``core``."""
    as_method = _as_method(fn)
    fn_name = getattr(fn, "__name__", "<lifted function>")

    @functools.wraps(fn)
    def lifted(module, *args, **kwargs):
        if not isinstance(module, Module):
            raise errors.TransformTargetError(fn)
        body = _inside(module, as_method, fn_name, _naming_state(module), (transform_name, options))
        run = core(body, **options)
        scopes, args, kwargs = _collect(module, args, kwargs)  # steps 1-2
        return run(scopes, *args, **kwargs)  # step 3

    lifted.method_handler_wrapped = True
    if getattr(fn, "compact", False):  # keeps ``@nn.compact`` visible through the decorator
        lifted.compact = True
    return lifted


def _is_module_class(target) -> bool:
    """A Module subclass, or a ``functools.partial`` of one."""
    cls = target.func if isinstance(target, functools.partial) else target
    return inspect.isclass(cls) and issubclass(cls, Module)


def transform_direct(core, fns: tuple, module: Module, *args, transform_name: str = "lifted transform", **options):
    """The direct form: ``core(*bodies, **options)`` called once, now; body ``i`` runs ``fns[i](module, ...)``.

    Every body starts from the same naming state (see :func:`_naming_state`).
    """
    if not isinstance(module, Module):
        raise errors.TransformTargetError(module)
    start = _naming_state(module)
    bodies = []
    for fn in fns:
        if not callable(fn) or _is_module_class(fn):
            raise errors.TransformTargetError(fn)
        fn = getattr(fn, "__func__", fn)  # ``self.branch`` is called as ``branch(module, ...)``
        fn_name = getattr(fn, "__name__", "<lifted function>")
        bodies.append(_inside(module, _as_method(fn), fn_name, start, (transform_name, options)))
    run = core(*bodies, **options)  # the core checks its options before any scope is looked at
    scopes, args, _ = _collect(module, args, {})  # steps 1-2
    return run(scopes, *args)  # step 3


def lift_transform(name: str, core, target, methods=None, **options):
    """``target``, a Module class or a function whose first argument is a module, lifted through ``core``.

    ``methods`` (class form only) picks the methods to lift; see
    :func:`shared_spec.module_forms.method_options`.
    """
    if _is_module_class(target):
        return _lift_class(name, core, target, methods=methods, **options)
    if callable(target) and not isinstance(target, Module):
        return _lift_function(core, target, transform_name=name, **options)
    raise errors.TransformTargetError(target)
