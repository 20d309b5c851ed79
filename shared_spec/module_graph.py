"""Hash, ``==``, ``repr`` and deep clone of modules, walking the module graph without recursion.

A module's fields may hold other modules, and one instance may be held by
many parents (a shared encoder, a chain of wrappers 500 deep). Python's
recursive ``__hash__``/``__eq__``/``__repr__`` would then go one stack frame
per level (``RecursionError`` on deep chains) and visit a shared submodule
once per path to it (exponential time on shared DAGs). Here every walk uses
an explicit stack and visits each instance once per call.

Pure Python (no array library): both backends call it with their own field lists.

The repr is the seed system's: ``Class(`` then ``# attributes`` (one
``name = value`` line per dataclass field, a named callable shown by its
``__name__``) and, on a bound module, ``# children`` (its submodules), each
block indented by four spaces; a module with neither prints ``Class()``. A
module that repeats inside one repr is printed in full each time, like the
seed, unless its text is long: then the repeats are shortened to
``Class(...)  # shared: ...`` so that a shared DAG prints in linear size.

>>> import dataclasses
>>> @dataclasses.dataclass(eq=False)
... class Node:
...   inner: object = None
...   __eq__ = lambda self, other: modules_equal(self, other, lambda x: isinstance(x, Node), ('inner',))
>>> a = b = Node()
>>> for _ in range(2000):
...   a, b = Node(a), Node(b)
>>> a == b
True
"""

from __future__ import annotations

from typing import Any, Callable

_SHORTEN_REPEATS_OVER = 4000  # characters: a repeated module longer than this is shortened


def submodules_in(value: Any, is_module: Callable) -> list:
    """The modules inside one field value: the value itself or inside (nested) tuples, lists and dicts."""
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if is_module(v):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            stack.extend(reversed(v))
        elif isinstance(v, dict) or (hasattr(v, "items") and hasattr(v, "values") and not isinstance(v, type)):
            try:
                stack.extend(reversed(list(v.values())))
            except TypeError:
                pass
    return out


def _post_order(root, deps: Callable) -> list:
    """Every module reachable from ``root`` through ``deps``, each once, dependencies first."""
    order, done, entered = [], set(), set()
    stack = [(root, False)]
    while stack:
        m, ready = stack.pop()
        if id(m) in done:
            continue
        if ready:
            done.add(id(m))
            order.append(m)
            continue
        if id(m) in entered:
            continue  # a cycle (or already queued): finished when its first entry is
        entered.add(id(m))
        stack.append((m, True))
        stack.extend((d, False) for d in reversed(deps(m)) if id(d) not in entered)
    return order


# -- hash -----------------------------------------------------------------------


def _substitute(value: Any, hashes: dict, is_module: Callable) -> Any:
    """``value`` with each module replaced by its hash (containers rebuilt only where modules are)."""
    if is_module(value):
        return ("module", hashes.get(id(value), hash(type(value))))
    if isinstance(value, (tuple, list)) and any(is_module(x) or isinstance(x, (tuple, list, dict)) for x in value):
        items = [_substitute(x, hashes, is_module) for x in value]
        return items if isinstance(value, list) else tuple(items)  # a list stays unhashable
    if isinstance(value, dict):
        return {k: _substitute(v, hashes, is_module) for k, v in value.items()}  # unhashable, as a dict is
    if hasattr(value, "items") and not isinstance(value, type) and submodules_in(value, is_module):
        return (type(value), frozenset((k, _substitute(v, hashes, is_module)) for k, v in value.items()))
    return value


def module_hash(root, is_module: Callable, field_names: Callable) -> int:
    """A hash over class and fields (``name`` included, ``parent`` not), submodules by their own hash."""

    def deps(m):
        found = []
        for f in field_names(m):
            found.extend(submodules_in(m.__dict__.get(f), is_module))
        return found

    hashes: dict = {}
    for m in _post_order(root, deps):
        values = tuple(_substitute(m.__dict__.get(f), hashes, is_module) for f in field_names(m))
        try:
            hashes[id(m)] = hash((type(m), values, m.__dict__.get("name")))
        except TypeError as error:
            raise TypeError(
                "Failed to hash Flax Module.  The module probably contains unhashable attributes.  "
                f"Module={type(m).__name__}: one of its fields {list(field_names(m))} holds an unhashable "
                "value (a list, dict or array). Fix: pass tuples / FrozenDicts, or hashable objects, "
                "to modules used as static arguments or dictionary keys."
            ) from error
    return hashes[id(root)]


# -- equality -------------------------------------------------------------------


def modules_equal(a, b, is_module: Callable, field_names) -> bool:
    """Same class and equal fields (``parent`` and ``name`` included), submodules compared alike.

    ``field_names`` is a tuple of names or a function of the module. Pairs
    already being compared count as equal, so shared and cyclic graphs end.
    """
    names = field_names if callable(field_names) else (lambda _m: field_names)
    seen: set = set()
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y or (id(x), id(y)) in seen:
            continue
        seen.add((id(x), id(y)))
        if type(x) is not type(y):
            return False
        dx, dy = x.__dict__, y.__dict__
        for f in names(x):
            if not _values_equal(dx.get(f), dy.get(f), stack, is_module):
                return False
    return True


def _values_equal(u, v, stack: list, is_module: Callable) -> bool:
    if u is v:
        return True
    if is_module(u) and is_module(v):
        stack.append((u, v))
        return True
    if isinstance(u, (tuple, list)) and type(u) is type(v):
        return len(u) == len(v) and all(_values_equal(p, q, stack, is_module) for p, q in zip(u, v))
    if isinstance(u, dict) and type(u) is type(v):
        return u.keys() == v.keys() and all(_values_equal(u[k], v[k], stack, is_module) for k in u)
    return bool(u == v)


# -- repr -----------------------------------------------------------------------


def _child_modules(m, is_module: Callable) -> list:
    state = m.__dict__.get("_state")
    children = getattr(state, "children", None) or {}
    return [(k, v) for k, v in children.items() if is_module(v)]


def module_repr(root, is_module: Callable, repr_fields: Callable) -> str:
    """The seed's multi-line repr of ``root`` (see the module docstring).

    Each module is described once as a list of entries (a text line, or
    ``prefix = <submodule>``); the text is written out at the end in one
    pass, so deep nesting costs no re-indenting per level.
    """

    def deps(m):
        found = [v for f in (repr_fields(m) or ()) if is_module(v := m.__dict__.get(f))]
        return found + [v for _, v in _child_modules(m, is_module)]

    entries: dict = {}  # id -> None (plain object repr) or [("text", str) | ("module", prefix, module)]
    sizes: dict = {}  # id -> about how many characters the full text has
    for m in _post_order(root, deps):
        fields = repr_fields(m)
        if fields is None:
            entries[id(m)], sizes[id(m)] = None, 0
            continue
        items, size = [], 0
        if fields:
            items.append(("text", "# attributes"))
            for f in fields:
                value = m.__dict__.get(f)
                if is_module(value) and not (callable(value) and value.__dict__.get("__name__")):
                    items.append(("module", f"{f} = ", value))
                    size += sizes.get(id(value), 0)
                    continue
                if is_module(value):
                    shown = value.__dict__["__name__"]
                elif callable(value) and getattr(value, "__name__", None):
                    shown = value.__name__
                else:
                    shown = repr(value)
                items.append(("text", f"{f} = {shown}"))
                size += len(shown)
        children = _child_modules(m, is_module)
        if children:
            items.append(("text", "# children"))
            for name, child in children:
                items.append(("module", f"{name} = ", child))
                size += sizes.get(id(child), 0)
        entries[id(m)], sizes[id(m)] = items, size + 20 * len(items)

    lines: list = []
    written: set = set()
    stack = [("module", "", root, 0)]
    while stack:
        item = stack.pop()
        if item[0] == "text":
            lines.append(item[1])
            continue
        _, prefix, m, indent = item
        cls = type(m).__name__
        if id(m) not in entries:  # a module that contains itself
            lines.append(f"{prefix}{cls}(...)")
            continue
        items = entries[id(m)]
        if items is None:
            lines.append(prefix + object.__repr__(m))
            continue
        if id(m) in written and sizes[id(m)] > _SHORTEN_REPEATS_OVER:
            lines.append(f"{prefix}{cls}(...)  # shared: the same instance is printed in full above")
            continue
        written.add(id(m))
        if not items:
            lines.append(f"{prefix}{cls}()")
            continue
        lines.append(f"{prefix}{cls}(")
        pad = " " * (indent + 4)
        todo = []
        for entry in items:
            if entry[0] == "text":
                todo.extend(("text", pad + line) for line in entry[1].split("\n"))
            else:
                todo.append(("module", pad + entry[1], entry[2], indent + 4))
        todo.append(("text", " " * indent + ")"))
        stack.extend(reversed(todo))
    return "\n".join(lines)


# -- deep clone -----------------------------------------------------------------


def deep_clone_submodules(root, is_module: Callable, field_names: Callable, cache: dict, clone_one: Callable) -> None:
    """Fill ``cache`` (module id -> clone) for every submodule below ``root``, innermost first.

    ``clone_one(module)`` makes one module's clone; its submodule fields are
    already in ``cache`` when it runs.
    """

    def deps(m):
        found = []
        for f in field_names(m):
            found.extend(s for s in submodules_in(m.__dict__.get(f), is_module) if s._id not in cache)
        return found

    for m in _post_order(root, deps):
        if m is not root and m._id not in cache:
            cache[m._id] = clone_one(m)
