"""Method interceptors: code that runs around every module method call.

``with intercept_methods(f):`` makes every wrapped module method called
inside the block go through ``f(next_fun, args, kwargs, context)`` instead
of running directly. ``f`` decides what happens: it may call
``next_fun(*args, **kwargs)`` (the rest of the chain) once, several times or
not at all, and change the arguments or the result on the way. ``context``
names the module and the method, and ``context.orig_method`` is the method
itself, for an interceptor that wants to skip the others.

With several interceptors the chain is built from the outside in: the one
whose ``with`` block was entered first sees the call first, and its
``next_fun`` leads to the next one, down to the method. The interceptors
are part of this thread's :mod:`nnref.module_context`, so a ``with`` block on
one thread does not reach calls on another.

Two interceptors, to see the order: the outer one (entered first) logs,
the inner one adds one to the result on its way out.

>>> import nnref as nn
>>> class Identity(nn.Module):
...   def __call__(self, x):
...     return x
>>> log = []
>>> def record(next_fun, args, kwargs, context):
...   log.append(f'{type(context.module).__name__}.{context.method_name}{args}')
...   return next_fun(*args, **kwargs)
>>> def add_one(next_fun, args, kwargs, context):
...   return next_fun(*args, **kwargs) + 1
>>> with nn.intercept_methods(record), nn.intercept_methods(add_one):
...   Identity()(3)
4
>>> log
['Identity.__call__(3,)']
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

from nnref.module_context import context as _context


@dataclass(frozen=True)
class InterceptorContext:
    """What an interceptor is told about the call it intercepts: who, which method, and the method itself."""

    module: Any
    method_name: str
    orig_method: Callable


@contextlib.contextmanager
def intercept_methods(interceptor: Callable):
    """Inside the ``with`` block, every module method call on this thread goes through ``interceptor``."""
    enclosing = _context.interceptors
    _context.interceptors = enclosing + (interceptor,)  # a new tuple: calls already running keep theirs
    try:
        yield
    finally:
        _context.interceptors = enclosing


def active_interceptors() -> tuple:
    """The interceptors in force on this thread, outermost first."""
    return _context.interceptors


@contextlib.contextmanager
def trace_only_pass():
    """Marks calls that mirror a pass JAX only traces, never runs (e.g. ``nn.scan``'s broadcast pass).

    The production backend traces such a pass to learn shapes and create
    variables; this backend has to run it. Interceptors that pair calls with
    the production backend's executed calls (``nnjax.debug``) skip these.
    """
    _context.trace_only_depth += 1
    try:
        yield
    finally:
        _context.trace_only_depth -= 1


def in_trace_only_pass() -> bool:
    """True inside :func:`trace_only_pass` (on this thread)."""
    return _context.trace_only_depth > 0


def run_intercepted(method: Callable, module, method_name: str, args: tuple, kwargs: dict) -> Any:
    """``method(*args, **kwargs)`` (``method`` already bound to ``module``), through the interceptors.

    Level ``i`` of the chain calls interceptor ``i`` with a ``next_fun`` that
    runs level ``i + 1``; the level past the last interceptor is the method.
    """
    interceptors = _context.interceptors
    if not interceptors:
        return method(*args, **kwargs)
    context = InterceptorContext(module, method_name, method)

    def level(i: int, *a, **kw):
        if i == len(interceptors):
            return method(*a, **kw)
        return interceptors[i](lambda *a2, **kw2: level(i + 1, *a2, **kw2), a, kw, context)

    return level(0, *args, **kwargs)
