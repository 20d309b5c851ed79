"""Choosing where variables live: ``nn.share_scope`` and ``@nn.compact_name_scope``.

A module's variables are stored under its *scope*, a path such as
``('Encoder_0', 'Dense_1')``; normally each module gets a scope of its own,
one level below its parent's. Two tools bend that rule.

**Sharing one scope.** ``nn.share_scope(module, other)`` points both bound
modules at a single scope, so their variables land in one dict. A wrapper
uses it to keep the wrapped layer's parameter tree unchanged (e.g. a LoRA
adapter that adds ``A`` and ``B`` next to a ``Dense``'s ``kernel``). The
steps:

1. decide who moves: if ``other`` is ``module`` or lies below it, ``other``
   moves up into ``module``'s scope; otherwise ``module`` moves into
   ``other``'s;
2. give the moved module the new scope, and walk its submodules, giving
   each the same relative path under the new scope;
3. mark both modules as sharing, so that a variable name used by both is a
   ``NameInUseError`` rather than a silent overwrite.

**A scope per method.** Decorating a method with ``@nn.compact_name_scope``
makes it behave like the ``@compact`` ``__call__`` of an invisible child
named after the method: a ``nn.Dense(3)`` created inside ``encode`` is
stored as ``encode/Dense_0``. The child (:class:`CompactNameScope`) is made
once per decorated method when the module is set up. ``self.param`` inside
the method still declares on the module itself.

The who-moves rule and the error text are shared with ``nnjax``
(:mod:`shared_spec.name_scope_rules`); the walk of step 2 is this backend's own.

>>> import numpy as np
>>> import nnref as nn
>>> class Codec(nn.Module):
...     @nn.compact_name_scope
...     def encode(self, x):
...         return nn.Dense(2)(x)
...
...     @nn.compact_name_scope
...     def decode(self, z):
...         return nn.Dense(4)(z)
...
...     def __call__(self, x):
...         return self.decode(self.encode(x))
>>> params = Codec().init(nn.random.PRNGKey(0), np.ones((1, 4)))['params']
>>> {scope: params[scope]['Dense_0']['kernel'].shape for scope in params}
{'encode': (4, 2), 'decode': (2, 4)}
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from nnref.module import Module, compact
from shared_spec import errors, name_scope_rules


class CompactNameScope(Module):
    """The invisible child behind one ``@compact_name_scope`` method.

    Its name is the method's name, so its scope is ``<parent path>/<method>``;
    its compact ``__call__`` runs the undecorated method with the *parent*
    as ``self`` (``module_fn`` returns it), which is why inline submodules
    land under the method's name while ``self.param`` still reaches the parent.
    """

    fn: Callable
    module_fn: Callable[[], Module]

    @compact
    def __call__(self, *args, **kwargs) -> Any:
        return self.fn(self.module_fn(), *args, **kwargs)


def compact_name_scope(fun: Callable) -> Callable:
    """Decorator: run method ``fun`` in a name scope of its own (see the module docstring).

    The wrapper forwards the call to the method's :class:`CompactNameScope`
    child, which exists only once the module is set up (inside
    ``init``/``apply`` or on a module from ``bind``).
    """

    @functools.wraps(fun)
    def compact_name_scope_wrapper(self, *args, **kwargs):
        self._try_setup()  # setup() is what creates the per-method children
        children = self.__dict__.get("_compact_name_scope_modules")
        if children is None:
            raise name_scope_rules.not_set_up_error(fun.__name__)
        return children[fun.__name__](*args, **kwargs)

    # Markers read by the module machinery: which methods to give a child,
    # the function to run inside it, and "do not wrap this method again"
    # (the child's own __call__ already does the per-call bookkeeping).
    compact_name_scope_wrapper.compact_name_scope = True
    compact_name_scope_wrapper.inner_fun = fun
    compact_name_scope_wrapper.nowrap = True
    return compact_name_scope_wrapper


def attach_compact_name_scopes(module: Module) -> None:
    """At the end of ``setup``: create one bound :class:`CompactNameScope` child per decorated method."""
    cls = type(module)
    children = {}
    for method_name in cls._compact_name_scope_methods:
        inner = getattr(cls, method_name).inner_fun
        children[method_name] = CompactNameScope(inner, lambda: module, parent=module, name=method_name)
    module.__dict__["_compact_name_scope_modules"] = children


def share_scope(module: Module, other: Module, /) -> None:
    """Make two bound modules keep their variables in one scope (the steps are in the module docstring).

    Here a wrapper adds a low-rank update beside the wrapped ``Dense``, and
    all three parameters end up in one dict:

    >>> import numpy as np
    >>> import nnref as nn
    >>> class WithLoRA(nn.Module):
    ...     base: nn.Module
    ...
    ...     def setup(self):
    ...         nn.share_scope(self, self.base)
    ...
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         down = self.param('A', nn.initializers.zeros_init(), (x.shape[-1], 1))
    ...         up = self.param('B', nn.initializers.zeros_init(), (1, self.base.features))
    ...         return self.base(x) + (x @ down) @ up
    >>> class Net(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         return WithLoRA(nn.Dense(2, use_bias=False))(x)
    >>> params = Net().init(nn.random.PRNGKey(0), np.ones((1, 3)))['params']
    >>> {name: sorted(tree) for name, tree in params.items()}
    {'Dense_0': ['A', 'B', 'kernel']}
    """
    if module.scope is None or other.scope is None:
        raise _unbound_error()
    moved, target_scope = name_scope_rules.moves_into(module, other)  # step 1
    previous_path = moved.scope.path
    moved.__dict__["scope"] = target_scope  # step 2, then its submodules:
    _move_submodules(moved, previous_path, target_scope)
    module._state.shares_scope = other._state.shares_scope = True  # step 3


def _move_submodules(moved: Module, previous_path: tuple, target_scope) -> None:
    """Give each submodule of ``moved`` the same name under ``target_scope``, and so on down.

    A child counts only if it is bound and was directly under ``moved``'s
    previous path (a module held in a field but living elsewhere stays put).
    A to-do list instead of recursion, so a very deep tree cannot overflow
    Python's stack.
    """
    todo = [(moved, previous_path, target_scope)]
    while todo:
        parent, parent_previous, parent_scope = todo.pop()
        for child in list(parent._state.children.values()):
            if not isinstance(child, Module) or child.scope is None:
                continue
            child_previous = child.scope.path
            if child_previous[:-1] != parent_previous:
                continue
            child.__dict__["scope"] = parent_scope.push(child_previous[-1])  # same name, new parent
            todo.append((child, child_previous, child.scope))


def _unbound_error() -> Exception:
    return errors.CallShareScopeOnUnboundModuleError()
