"""Module classes: what ``class Foo(nn.Module)`` does to the class it defines.

``Module.__init_subclass__`` calls :func:`prepare_subclass`, which adds the
keyword-only fields ``parent`` and ``name``, makes the class a dataclass
(with Module's own ``==``, hash and repr), checks that at most one method
is ``@compact``, wraps the user's methods so that each call goes through
``Module._call_method`` (or ``_call_setup``), and stores the field lists
the hot paths read (``_init_field_names``, ...). The naming rules are
:mod:`shared_spec.module_fields`.

>>> import nnjax as nn
>>> class Foo(nn.Module):
...   features: int
...   def __call__(self, x):
...     return x
>>> Foo._init_field_names, Foo.__call__.method_handler_wrapped
(('features',), True)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

from shared_spec.module_fields import (
    add_parent_and_name_fields,
    check_declared_fields,
    check_single_compact,
    field_tables,
    marked_methods,
    methods_to_wrap,
    module_api_names,
)


class _Unspecified:
    def __repr__(self) -> str:
        return "<unspecified parent>"


# The default of ``parent``: replaced, at construction, by the module whose method is running.
unspecified_parent = _Unspecified()


def compact(fun: Callable) -> Callable:
    """Marks the one method of a class that may define submodules and variables inline."""
    fun.compact = True
    return fun


def nowrap(fun: Callable) -> Callable:
    """Marks a method as a plain helper: no setup, naming or interception around it."""
    fun.nowrap = True
    return fun


def prepare_subclass(cls, base) -> None:
    """Turns ``cls``, a new subclass of ``base`` (the Module class), into a module class."""
    check_declared_fields(cls.__name__, cls.__dict__.get("__annotations__", {}), module_api_names(base))
    add_parent_and_name_fields(cls, unspecified_parent)
    # == and hash are Module's own (shared_spec/module_graph.py): no recursion per level or per sharing path
    dataclasses.dataclass(cls, eq=False, repr=False)
    check_single_compact(cls)
    for name, fun in methods_to_wrap(cls, base):
        setattr(cls, name, wrap_method(fun))
    tables = field_tables(dataclasses.fields(cls))
    cls._field_names = tables.field_names
    cls._init_field_names = tables.init_field_names
    cls._compare_field_names = tables.compare_field_names
    cls._repr_field_names = tables.repr_field_names
    cls._compact_name_scope_methods = marked_methods(cls, "compact_name_scope")


def wrap_method(fun: Callable) -> Callable:
    """``fun`` as a module method: ``setup`` runs through ``_call_setup``, the others through ``_call_method``."""
    name = fun.__name__
    if name == "setup":

        @functools.wraps(fun)
        def wrapped_setup(self):
            return self._call_setup(fun)

        wrapped_setup.method_handler_wrapped = True
        return wrapped_setup
    is_compact = getattr(fun, "compact", False)

    @functools.wraps(fun)
    def wrapped(self, *args, **kwargs):
        return self._call_method(fun, name, is_compact, args, kwargs)

    wrapped.method_handler_wrapped = True
    if is_compact:
        wrapped.compact = True
    return wrapped
