"""The module system's per-thread context: the state that module calls in progress share.

Most of what the module system knows lives on a module itself: its fields,
its scope, its lifecycle flags. A few things belong to the *calls in
progress* instead, and live here:

* ``module_stack``: the modules whose methods are running, innermost last,
  on top of a ``None`` that stands for "top level". A module constructed
  without ``parent=`` takes the top of this stack as its parent: writing
  ``nn.Dense(3)`` inside ``MLP.__call__`` makes the Dense a child of the MLP
  because the MLP's method is the one running at that moment.
* ``pending_attach``: adopted submodules waiting to be attached (see
  ``Module._register_submodules``), or ``None`` when no attach loop runs.
* ``capture``: the ``capture_intermediates`` filter of the innermost
  ``apply`` (``None``: capture nothing).
* ``interceptors``: the functions entered with ``intercept_methods``,
  outermost first.
* ``trace_only_depth``: how many ``trace_only_pass`` blocks are open.

Why per thread: two threads may initialize or apply models at the same
time. If they shared one stack, a module built on thread A could be given a
parent that is running on thread B. A ``threading.local`` gives every
thread its own attributes, made by ``__init__`` the first time that thread
reads one (the seed system keeps the same state the same way).

A module built inside a running method takes that module as its parent;
one built at top level has none:

>>> import nnref as nn
>>> class Outer(nn.Module):
...   @nn.compact
...   def __call__(self):
...     inner = nn.Dense(1)
...     return inner.parent is self and current_module() is self
>>> Outer().apply({}), nn.Dense(1).parent is None, current_module() is None
(True, True, True)
"""

from __future__ import annotations

import threading
from typing import Any


class ModuleContext(threading.local):
    """The calling thread's module-system state (the attributes are listed in the module docstring)."""

    def __init__(self):
        self.module_stack = [None]
        self.pending_attach = None
        self.capture = None
        self.interceptors = ()  # a tuple: a call in progress keeps the interceptors it started with
        self.trace_only_depth = 0


context = ModuleContext()


def current_module() -> Any:
    """The module whose method is running on this thread, or ``None`` at top level."""
    return context.module_stack[-1]
