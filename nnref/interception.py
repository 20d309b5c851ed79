"""Method interceptors: ``intercept_methods`` wraps every module method call.

An interceptor is ``interceptor(next_fun, args, kwargs, context)``; it may
change the arguments, the result, or skip the method. Interceptors run in
the order their ``with`` blocks were entered; ``context.orig_method`` calls
the method itself, skipping the interceptors further in.

>>> import nnref as nn
>>> class Foo(nn.Module):
...   def __call__(self, x):
...     return x
>>> def double(next_fun, args, kwargs, context):
...   return 2 * next_fun(*args, **kwargs)
>>> with nn.intercept_methods(double):
...   Foo()(3)
6
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

_interceptor_stack: list[Callable] = []
_trace_only_depth = 0


@dataclass(frozen=True)
class InterceptorContext:
    """What an interceptor is told about the call it intercepts."""

    module: Any
    method_name: str
    orig_method: Callable


@contextlib.contextmanager
def intercept_methods(interceptor: Callable):
    """Registers ``interceptor`` for every module method called inside the ``with`` block."""
    _interceptor_stack.append(interceptor)
    try:
        yield
    finally:
        _interceptor_stack.pop()


@contextlib.contextmanager
def trace_only_pass():
    """Marks calls that mirror a pass JAX only traces, never runs (e.g. ``nn.scan``'s broadcast pass).

    The production backend traces such a pass to learn shapes and create
    variables; this backend has to run it. Interceptors that pair calls with
    the production backend's executed calls (``nnjax.debug``) skip these.
    """
    global _trace_only_depth
    _trace_only_depth += 1
    try:
        yield
    finally:
        _trace_only_depth -= 1


def in_trace_only_pass() -> bool:
    """True inside :func:`trace_only_pass`."""
    return _trace_only_depth > 0


def run_intercepted(method: Callable, module, method_name: str, args: tuple, kwargs: dict) -> Any:
    """Call ``method(*args, **kwargs)`` (already bound to ``module``) through the interceptors."""
    if not _interceptor_stack:
        return method(*args, **kwargs)
    context = InterceptorContext(module, method_name, method)
    interceptors = tuple(_interceptor_stack)

    def call(level: int, *a, **kw):
        if level == len(interceptors):
            return method(*a, **kw)
        return interceptors[level](lambda *a2, **kw2: call(level + 1, *a2, **kw2), a, kw, context)

    return call(0, *args, **kwargs)
