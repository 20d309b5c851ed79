"""The dataclass fields of a Module class: which names a class may declare and what the fields are used for.

A module class declares its configuration as dataclass fields. The module
system adds two fields of its own, ``parent`` and ``name`` (keyword-only),
so a class may not declare them; nor may it declare a field that would hide
a public attribute of the Module API (``apply``, ``param``, ``variables``,
... and ``scope``), which the module system calls on every instance. Both
backends check the same names with the same messages, derive the same
field lists from the fields, and follow the same precedence for naming an
adopted submodule.

>>> import dataclasses
>>> @dataclasses.dataclass
... class Dense:
...   features: int
...   cache: dict = dataclasses.field(default=None, repr=False)
...   parent: object = None
...   name: str = None
>>> field_tables(dataclasses.fields(Dense)).compare_field_names
('features', 'cache', 'parent', 'name')
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, NamedTuple, Optional

from shared_spec import errors

__all__ = [
    'RESERVED_FIELDS',
    'FieldTables',
    'add_parent_and_name_fields',
    'bad_parent_error',
    'check_declared_fields',
    'check_single_compact',
    'field_tables',
    'marked_methods',
    'methods_to_wrap',
    'missing_attribute_error',
    'module_api_names',
    'preserves_adopted_names',
]

#: The fields every module class gets from the module system, in this order, after its own.
RESERVED_FIELDS = ('parent', 'name')


@functools.lru_cache(maxsize=None)
def module_api_names(base: type) -> frozenset:
    """The names a field may not take: the public attributes of ``base`` (the Module class) and ``scope``.

    Computed once per base class, at the first subclass definition.

    >>> class Base:
    ...   parent = name = None
    ...   def apply(self): ...
    ...   def _private(self): ...
    >>> sorted(module_api_names(Base))
    ['apply', 'scope']
    """
    public = {n for n in dir(base) if not n.startswith('_') and n not in RESERVED_FIELDS}
    return frozenset(public) | {'scope'}


def check_declared_fields(cls_name: str, own_annotations: dict, api_names: frozenset) -> None:
    """Rejects a class body that declares ``parent``/``name`` or shadows the Module API.

    >>> check_declared_fields('Dense', {'features': int}, frozenset({'apply'}))
    >>> check_declared_fields('Dense', {'apply': int}, frozenset({'apply'}))
    Traceback (most recent call last):
    ...
    TypeError: Module Dense declares field(s) ['apply'] that shadow the Module API (Module.apply is used by the module system). Fix: rename these fields.
    """
    if any(name in own_annotations for name in RESERVED_FIELDS):
        raise errors.ReservedModuleAttributeError(dict(own_annotations))
    shadowing = [name for name in own_annotations if name in api_names]
    if shadowing:
        raise TypeError(
            f"Module {cls_name} declares field(s) {shadowing} that shadow the Module API "
            f"(Module.{shadowing[0]} is used by the module system). Fix: rename these fields."
        )


def add_parent_and_name_fields(cls: type, parent_default: Any) -> None:
    """Appends the keyword-only fields ``parent`` (default ``parent_default``, not shown by repr) and ``name``.

    Only the first module class of a hierarchy gets them; a subclass
    inherits them (adding them again would move them before its own fields).

    >>> class Dense:
    ...   features: int = 1
    >>> add_parent_and_name_fields(Dense, None)
    >>> Dense = dataclasses.dataclass(Dense)
    >>> [(f.name, f.kw_only, f.repr) for f in dataclasses.fields(Dense)]
    [('features', False, True), ('parent', True, False), ('name', True, True)]
    """
    if '__annotations__' not in cls.__dict__:
        cls.__annotations__ = {}
    inherited = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    if 'parent' not in inherited:
        cls.__annotations__['parent'] = Any
        cls.parent = dataclasses.field(default=parent_default, kw_only=True, repr=False)
    if 'name' not in inherited:
        cls.__annotations__['name'] = Optional[str]
        cls.name = dataclasses.field(default=None, kw_only=True)


def marked_methods(cls: type, marker: str) -> tuple:
    """The sorted names of the attributes of ``cls`` that carry the flag ``marker`` (e.g. ``'compact'``).

    >>> class Foo:
    ...   def f(self): ...
    ...   f.compact = True
    >>> marked_methods(Foo, 'compact')
    ('f',)
    """
    return tuple(sorted(n for n in dir(cls) if getattr(getattr(cls, n, None), marker, False)))


def check_single_compact(cls: type) -> None:
    """At most one method of a module class may be ``@compact``.

    >>> class Foo:
    ...   def f(self): ...
    ...   def g(self): ...
    ...   f.compact = g.compact = True
    >>> check_single_compact(Foo)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_spec.errors.MultipleMethodsCompactError: ...
    """
    compact_methods = list(marked_methods(cls, 'compact'))
    if len(compact_methods) > 1:
        raise errors.MultipleMethodsCompactError(module_cls=cls.__name__, methods=compact_methods)


def methods_to_wrap(cls: type, base: type) -> list:
    """``(name, function)`` of the methods defined in ``cls``'s body that the module system wraps.

    Wrapped: plain functions, ``__call__`` and ``setup`` included. Left
    alone: other dunders, overrides of the Module API (``base``'s own
    attributes, e.g. ``init``), anything that is not a plain function
    (properties, static and class methods), ``@nowrap`` helpers and
    functions already wrapped.

    >>> class Base:
    ...   def apply(self): ...
    >>> class Foo(Base):
    ...   def __call__(self): ...
    ...   def __eq__(self, other): ...
    ...   def apply(self): ...
    ...   def encode(self): ...
    ...   @property
    ...   def size(self): ...
    >>> [name for name, _ in methods_to_wrap(Foo, Base)]
    ['__call__', 'encode']
    """
    chosen = []
    for name, value in list(cls.__dict__.items()):
        if name.startswith('__') and name != '__call__':
            continue
        if name != 'setup' and name in base.__dict__:
            continue
        if not inspect.isfunction(value) or getattr(value, 'nowrap', False):
            continue
        if getattr(value, 'method_handler_wrapped', False):
            continue
        chosen.append((name, value))
    return chosen


def bad_parent_error(parent: Any) -> TypeError:
    """The error for a ``parent=`` that is none of ``None``, a module or a scope.

    >>> bad_parent_error(3)
    TypeError('parent must be None, a Module or a Scope, got int')
    """
    return TypeError(f'parent must be None, a Module or a Scope, got {type(parent).__name__}')


def missing_attribute_error(module_cls: str, attr: str, only_after_setup: bool) -> AttributeError:
    """The error for reading an attribute a module does not have.

    ``only_after_setup``: the module is unbound and its class defines
    ``setup``, so the attribute may be one setup would define once bound.

    >>> missing_attribute_error('Foo', 'dense', True)
    AttributeError('"Foo" object has no attribute "dense". Attributes assigned in setup() exist only on a bound module (inside init/apply or after bind).')
    """
    hint = ''
    if only_after_setup:
        hint = ' Attributes assigned in setup() exist only on a bound module (inside init/apply or after bind).'
    return AttributeError(f'"{module_cls}" object has no attribute "{attr}".{hint}')


class FieldTables(NamedTuple):
    """The field lists a module class keeps, computed once when the class is defined."""

    field_names: frozenset  # every field: what setup() may not assign
    init_field_names: tuple  # set by the constructor, less parent/name: cloned, hashed, searched for submodules
    compare_field_names: tuple  # init_field_names + parent + name: what == compares
    repr_field_names: tuple  # fields shown by repr, less parent/name


def field_tables(fields) -> FieldTables:
    """The :class:`FieldTables` of a class's ``dataclasses.fields``.

    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Conv:
    ...   features: int
    ...   hidden: int = dataclasses.field(default=0, init=False)
    ...   parent: object = None
    ...   name: str = None
    >>> tables = field_tables(dataclasses.fields(Conv))
    >>> sorted(tables.field_names), tables.init_field_names, tables.repr_field_names
    (['features', 'hidden', 'name', 'parent'], ('features',), ('features', 'hidden'))
    """
    init_names = tuple(f.name for f in fields if f.init and f.name not in RESERVED_FIELDS)
    return FieldTables(
        field_names=frozenset(f.name for f in fields),
        init_field_names=init_names,
        compare_field_names=init_names + RESERVED_FIELDS,
        repr_field_names=tuple(f.name for f in fields if f.repr and f.name not in RESERVED_FIELDS),
    )


def preserves_adopted_names(module_cls: type, config: Any) -> bool:
    """Whether a submodule adopted by a ``module_cls`` instance keeps its own ``name``.

    An adopted submodule is one built outside any module and passed in as a
    field. By default it is renamed after the field; the class attribute
    ``preserve_adopted_names``, when set, decides, and otherwise the flag
    ``flax_preserve_adopted_names`` of ``config``.

    >>> class Flags:
    ...   flax_preserve_adopted_names = True
    >>> class Block:
    ...   preserve_adopted_names = False
    >>> preserves_adopted_names(Block, Flags()), preserves_adopted_names(object, Flags())
    (False, True)
    """
    preserve = getattr(module_cls, 'preserve_adopted_names', None)
    if preserve is None:
        preserve = getattr(config, 'flax_preserve_adopted_names', False)
    return bool(preserve)
