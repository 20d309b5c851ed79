"""The naming rule for submodules held in attributes, which both backends follow.

``self.layers = [Dense(4), Dense(2)]`` in ``setup`` names the submodules
``layers_0`` and ``layers_1``; a dict gives ``{attr}_{key}``; nesting joins the
keys with ``_``. Lists become tuples and dicts become ``FrozenDict`` once
assigned, because a module's attributes are frozen.
"""

from __future__ import annotations

from typing import Any, Callable

from shared_spec.frozen_dict import FrozenDict


def _is_mapping(x) -> bool:
    return isinstance(x, (dict, FrozenDict))


def map_modules(fn: Callable[[str, Any], Any], value: Any, is_module: Callable[[Any], bool], suffix: str = "") -> Any:
    """Rebuild ``value`` with ``fn(name_suffix, module)`` applied to each module in it.

    >>> map_modules(lambda suffix, m: 'layers' + suffix, {'a': ['M', 'M'], 'b': 'M'}, lambda x: x == 'M')
    {'a': ['layers_a_0', 'layers_a_1'], 'b': 'layers_b'}

    Containers are walked in sorted key order (the order in which the seed
    system attaches them); ``name_suffix`` is ``''`` for a bare module and
    ``'_0'``, ``'_key'``, ``'_0_key'`` ... inside containers.
    """
    if is_module(value):
        return fn(suffix, value)
    if _is_mapping(value):
        mapped = {
            key: map_modules(fn, value[key], is_module, f"{suffix}_{key}") for key in sorted(value.keys(), key=str)
        }
        return {key: mapped[key] for key in value.keys()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = [map_modules(fn, item, is_module, f"{suffix}_{i}") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, tuple):  # namedtuple: keep its type
        return type(value)(*[map_modules(fn, item, is_module, f"{suffix}_{i}") for i, item in enumerate(value)])
    return value


def contains_module(value: Any, is_module: Callable[[Any], bool]) -> bool:
    found = []
    map_modules(lambda _, m: found.append(m) or m, value, is_module)
    return bool(found)


def freeze_attr(value: Any) -> Any:
    """Lists to tuples and dicts to ``FrozenDict``, recursively (attributes are immutable)."""
    if _is_mapping(value):
        return FrozenDict({key: freeze_attr(item) for key, item in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[freeze_attr(item) for item in value])
    if isinstance(value, (list, tuple)):
        return tuple(freeze_attr(item) for item in value)
    return value
