"""The module system's per-thread context: what the module calls running on one thread share.

Four things follow the calls in progress rather than any one module: the
stack of modules whose methods are running (the innermost is the default
parent of a module constructed now), the adopted modules still waiting to
be attached, the ``capture_intermediates`` filter of the innermost
``apply``, and the method interceptors entered with ``intercept_methods``.
Each thread has its own, as in the seed system, so two threads that
initialize or apply models at the same time never see each other's.
Settings stay global, as there: the config flags and ``named_call``.

The wrapper of every module method reads this context, so it is kept cheap:
one thread-local lookup per call (``per_thread.context``), then plain
attributes.

>>> import nnjax as nn
>>> from nnjax.module_context import current_module
>>> class Probe(nn.Module):
...   @nn.compact
...   def __call__(self):
...     return current_module() is self
>>> current_module() is None, Probe().apply({})
(True, True)
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class ModuleContext:
    """One thread's module-system state (see the module docstring)."""

    __slots__ = ("module_stack", "pending_attach", "capture", "interceptors")

    def __init__(self):
        self.module_stack: list = [None]  # None at the bottom: a module built at top level has no parent
        self.pending_attach: list | None = None  # adopted modules still to attach (module._register_submodules)
        self.capture: Callable | None = None  # the innermost apply's capture_intermediates filter
        self.interceptors: tuple = ()  # outermost first; a tuple, so a running call keeps its snapshot


class _PerThread(threading.local):
    """``per_thread.context`` is the calling thread's :class:`ModuleContext`, made on first use."""

    def __init__(self):
        self.context = ModuleContext()


# Read ``per_thread.context`` once per call and keep it in a local: every read is a thread-local lookup.
per_thread = _PerThread()


def current_module() -> Any:
    """The module whose method is running on this thread, or ``None`` at top level."""
    return per_thread.context.module_stack[-1]
