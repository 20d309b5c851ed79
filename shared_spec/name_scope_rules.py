"""Where variables live under ``nn.share_scope`` and ``@nn.compact_name_scope``: the rules both backends share.

``share_scope(module, other)`` makes two bound modules use one scope. Which
of the two moves, and how the submodules the moved one already has follow
it, decides every variable path, so ``nnjax.name_scopes`` and
``nnref.name_scopes`` call the functions here:

* :func:`moves_into` -- the module that moves and the scope it moves into:
  if ``other`` is ``module`` itself or below it, ``other`` moves up into
  ``module``'s scope; otherwise ``module`` moves into ``other``'s;
* :func:`not_set_up_error` -- the text when a ``@compact_name_scope`` method
  is called on a module that was never set up.

Each backend then moves the module and walks its submodules itself (a
submodule keeps its own name under its parent's new scope): that walk is
module machinery, written once per backend so that each checks the other.

Pure Python: modules and scopes are duck-typed (a module has ``scope``; a
scope has ``is_within(scope)``).

>>> class Scope:
...     def __init__(self, path): self.path = path
...     def is_within(self, other): return self.path[:len(other.path)] == other.path
>>> class M:
...     def __init__(self, path): self.scope = Scope(path)
>>> a, b = M(('a',)), M(('b',))
>>> moved, scope = moves_into(a, b)
>>> moved is a, scope.path
(True, ('b',))
"""

from __future__ import annotations

from typing import Any

__all__ = ['moves_into', 'not_set_up_error']


def moves_into(module: Any, other: Any) -> tuple:
    """``(moved, new_scope)`` for ``share_scope(module, other)``.

    >>> class S:
    ...     def __init__(self, path): self.path = path
    ...     def is_within(self, o): return self.path[:len(o.path)] == o.path
    >>> class M:
    ...     def __init__(self, path): self.scope = S(path)
    >>> outer, inner = M(('enc',)), M(('enc', 'Dense_0'))
    >>> moved, scope = moves_into(outer, inner)
    >>> moved is inner, scope.path
    (True, ('enc',))
    """
    if other.scope.is_within(module.scope):
        return other, module.scope
    return module, other.scope


def not_set_up_error(method_name: str) -> ValueError:
    """The error of a ``@compact_name_scope`` method called outside ``init``/``apply``/``bind``.

    >>> print(not_set_up_error('encode'))  # doctest: +NORMALIZE_WHITESPACE
    Cannot call compact_name_scope method 'encode' on a Module that has not been setup. This is likely because you
    are calling 'encode' from outside of init or apply. Fix: call it through init/apply (method='encode') or on a
    module returned by bind().
    """
    return ValueError(
        f"Cannot call compact_name_scope method {method_name!r} on a Module that has not been setup. "
        f"This is likely because you are calling {method_name!r} from outside of init or apply. Fix: call "
        f"it through init/apply (method={method_name!r}) or on a module returned by bind()."
    )
