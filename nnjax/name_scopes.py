"""``share_scope`` and ``compact_name_scope``: two ways to choose where variables live.

* ``nn.share_scope(module, other)`` makes two bound modules use one scope,
  so their variables sit together in one dict: a wrapper (LoRA, a
  subclass-by-composition) keeps the wrapped layer's parameter tree. If
  ``other`` is ``module`` itself or below it (e.g. a child made in
  ``setup``), ``other`` moves up into ``module``'s scope; otherwise
  ``module`` moves into ``other``'s scope. Submodules the moved module
  already has move along. Both modules then reserve names in the one scope,
  so a variable name used by both is a ``NameInUseError``. Calling it with
  an unbound module is ``CallShareScopeOnUnboundModuleError``.
* ``@nn.compact_name_scope`` on a method gives that method its own name
  scope, named after the method: submodules it makes inline (``nn.Dense(3)``)
  are named ``{method}/Dense_0``, as if the method were the ``@compact``
  ``__call__`` of a child module. The module need not be compact, several
  methods may be decorated, and ``init``/``apply`` may call one directly
  with ``method='name'``. ``self.param`` inside such a method still declares
  on the module itself (so it needs a ``@compact`` caller). Calling the method
  on an unbound module is a ``ValueError``.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Foo(nn.Module):
...   @nn.compact_name_scope
...   def up(self, x):
...     return nn.Dense(3)(x)
...   def __call__(self, x):
...     return self.up(x)
>>> params = Foo().init(jax.random.PRNGKey(0), jnp.ones((1, 2)))['params']
>>> jax.tree_util.tree_map(jnp.shape, params)
{'up': {'Dense_0': {'bias': (3,), 'kernel': (2, 3)}}}
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from nnjax.module import Module, compact
from shared_spec import errors, name_scope_rules


class CompactNameScope(Module):
    """The child that runs a ``@compact_name_scope`` method (named after it) as its compact body."""

    fn: Callable
    module_fn: Callable[[], Module]

    @compact
    def __call__(self, *args, **kwargs) -> Any:
        return self.fn(self.module_fn(), *args, **kwargs)


def compact_name_scope(fun: Callable) -> Callable:
    """Runs method ``fun`` in a name scope of its own (see the module docstring)."""

    @functools.wraps(fun)
    def compact_name_scope_wrapper(self, *args, **kwargs):
        name = fun.__name__
        self._try_setup()  # creates the scopes (after the user's setup)
        scopes = self.__dict__.get("_compact_name_scope_modules")
        if scopes is None:
            raise name_scope_rules.not_set_up_error(name)
        return scopes[name](*args, **kwargs)

    compact_name_scope_wrapper.compact_name_scope = True
    compact_name_scope_wrapper.inner_fun = fun
    compact_name_scope_wrapper.nowrap = True  # the child's __call__ does the bookkeeping
    return compact_name_scope_wrapper


def attach_compact_name_scopes(module: Module) -> None:
    """Called at the end of ``setup``: one bound ``CompactNameScope`` child per decorated method."""
    cls = type(module)
    module.__dict__["_compact_name_scope_modules"] = {
        name: CompactNameScope(getattr(cls, name).inner_fun, lambda: module, parent=module, name=name)
        for name in cls._compact_name_scope_methods
    }


def share_scope(module: Module, other: Module, /) -> None:
    """Makes ``module`` and ``other`` keep their variables in one scope (see the module docstring).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class DenseLoRA(nn.Module):
    ...   base: nn.Module
    ...   rank: int
    ...   def setup(self):
    ...     nn.share_scope(self, self.base)
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     a = self.param('A', nn.initializers.zeros_init(), (x.shape[-1], self.rank))
    ...     b = self.param('B', nn.initializers.zeros_init(), (self.rank, self.base.features))
    ...     return self.base(x) + x @ a @ b
    >>> class Model(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return DenseLoRA(nn.Dense(4), rank=2)(x)
    >>> params = Model().init(jax.random.PRNGKey(0), jnp.ones((1, 3)))['params']
    >>> list(params), list(params['Dense_0'])
    (['Dense_0'], ['A', 'B', 'kernel', 'bias'])
    """
    if module.scope is None or other.scope is None:
        raise _unbound_error()
    moved, new_scope = name_scope_rules.moves_into(module, other)
    old_path = moved.scope.path
    moved.__dict__["scope"] = new_scope
    module._state.shares_scope = other._state.shares_scope = True
    # Submodules already attached to the moved module move with it (and theirs with them).
    stack = [(moved, old_path, new_scope)]
    while stack:
        parent, parent_old_path, parent_scope = stack.pop()
        for child in list(parent._state.children.values()):
            if isinstance(child, Module) and child.scope is not None and child.scope.path[:-1] == parent_old_path:
                child_old_path = child.scope.path
                child.__dict__["scope"] = parent_scope.push(child_old_path[-1])
                stack.append((child, child_old_path, child.scope))


def _unbound_error() -> Exception:
    return errors.CallShareScopeOnUnboundModuleError()
