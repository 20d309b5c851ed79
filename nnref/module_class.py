"""Module classes: what happens when ``class Foo(nn.Module)`` is defined.

Defining a subclass runs ``Module.__init_subclass__``, which hands the new
class to :func:`prepare_subclass`. By the time the ``class`` statement is
done, the class has been changed in five ways:

1. Two keyword-only fields are appended to the user's: ``parent`` (where
   the instance attaches: a module, a scope, or ``None``) and ``name``.
   A class may not declare either itself, nor a field that would hide part
   of the Module API (rules in :mod:`shared_spec.module_fields`).
2. It becomes a dataclass, so ``Foo(features=3)`` stores its arguments as
   fields. ``==``, ``hash`` and ``repr`` stay Module's own: the generated
   ones would recurse through submodule fields.
3. At most one of its methods may be ``@compact`` (the one method allowed to
   create submodules and variables inline).
4. Each of its own methods (``__call__``, ``setup`` and the other public or
   private ones, but not other dunders, ``@nowrap`` helpers or overrides of
   the Module API) is replaced by a wrapper that runs it through
   ``Module._call_wrapped_method``: that is where ``setup`` runs lazily, the
   module becomes the parent of modules built during the call, and
   interceptors see the call.
5. The field lists that construction, cloning, ``==`` and ``repr`` use are
   computed once and kept on the class.

>>> import dataclasses
>>> import nnref as nn
>>> class Scale(nn.Module):
...   factor: float
...   def __call__(self, x):
...     return self.factor * x
>>> [f.name for f in dataclasses.fields(Scale)]          # step 1
['factor', 'parent', 'name']
>>> Scale(2.0, name='double')                              # step 2: a dataclass (with Module's repr)
Scale(
    # attributes
    factor = 2.0
)
>>> Scale.__call__.method_handler_wrapped, Scale.__call__.__name__   # step 4
(True, '__call__')
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

from shared_spec import module_fields as rules  # the naming and wrapping rules both backends follow


class _Unspecified:
    """The type of ``unspecified_parent``; its only instance prints as what it means."""

    def __repr__(self) -> str:
        return "<unspecified parent>"


# The default of ``parent``. It is not ``None`` because ``None`` means "no
# parent" (a top-level module); "unspecified" means "whichever module's
# method is running when this one is constructed" (see Module.__post_init__).
unspecified_parent = _Unspecified()


def compact(fun: Callable) -> Callable:
    """Marks the one method of a class that may create submodules and variables inline.

    Inside it, ``nn.Dense(3)(x)`` builds a submodule, names it ``Dense_0``
    (then ``Dense_1``, ...) and binds it, all at construction.
    """
    fun.compact = True  # read by the wrapper (nnref/module.py) and by rules.check_single_compact
    return fun


def nowrap(fun: Callable) -> Callable:
    """Marks a method as a plain helper: step 4 of the module docstring leaves it alone.

    Use it for methods called on unbound modules or called very often.
    """
    fun.nowrap = True  # read by rules.methods_to_wrap
    return fun


def prepare_subclass(cls, base) -> None:
    """Steps 1 to 5 of the module docstring, for ``cls``, a new subclass of ``base`` (the Module class)."""
    # Step 1. Only this class body's annotations are checked: inherited fields passed already.
    rules.check_declared_fields(cls.__name__, cls.__dict__.get("__annotations__", {}), rules.module_api_names(base))
    rules.add_parent_and_name_fields(cls, unspecified_parent)
    # Step 2. eq=False and repr=False keep Module.__eq__/__hash__/__repr__ (shared_spec/module_graph.py),
    # which walk the submodule graph once instead of recursing through every field.
    dataclasses.dataclass(cls, eq=False, repr=False)
    rules.check_single_compact(cls)  # step 3
    for name, fun in rules.methods_to_wrap(cls, base):  # step 4
        setattr(cls, name, wrap_method(fun))
    # Step 5: cls._field_names, cls._init_field_names, ... (see FieldTables), kept on the class so
    # that construction and clone() need not call dataclasses.fields again.
    for table, names in rules.field_tables(dataclasses.fields(cls))._asdict().items():
        setattr(cls, "_" + table, names)
    # Methods decorated with nn.compact_name_scope: setup gives each its own name scope.
    cls._compact_name_scope_methods = rules.marked_methods(cls, "compact_name_scope")


def wrap_method(fun: Callable) -> Callable:
    """``fun`` as a module method: every call goes through ``Module._call_wrapped_method``.

    ``functools.wraps`` keeps the name, docstring and signature visible, and
    the marker ``method_handler_wrapped`` stops a second wrapping (a method
    copied to another module class, or one a lifted transform made).
    """

    @functools.wraps(fun)
    def wrapped(self, *args, **kwargs):
        return self._call_wrapped_method(fun, args, kwargs)

    wrapped.method_handler_wrapped = True
    return wrapped
