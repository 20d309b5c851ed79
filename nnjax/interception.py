"""Method interceptors: ``intercept_methods`` wraps every module method call.

An interceptor is ``interceptor(next_fun, args, kwargs, context)``. Several
run in the order their ``with`` blocks were entered; ``context.orig_method``
calls the method itself, skipping the interceptors further in. They are
per thread (:mod:`nnjax.module_context`): a ``with`` block on one thread
does not intercept calls on another.

>>> import nnjax as nn
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
from typing import Any, Callable, NamedTuple

from nnjax.module_context import per_thread


class InterceptorContext(NamedTuple):
    """What an interceptor is told about the call it intercepts."""

    module: Any
    method_name: str
    orig_method: Callable


@contextlib.contextmanager
def intercept_methods(interceptor: Callable):
    """Registers ``interceptor`` for every module method called inside the ``with`` block."""
    ctx = per_thread.context
    outer = ctx.interceptors
    ctx.interceptors = outer + (interceptor,)
    try:
        yield
    finally:
        ctx.interceptors = outer


def active_interceptors() -> tuple:
    """The interceptors active on this thread, outermost first (``()`` when none)."""
    return per_thread.context.interceptors


def run_intercepted(interceptors: tuple, method: Callable, module, method_name: str, args: tuple, kwargs: dict) -> Any:
    """Call ``method`` (bound to ``module``) through ``interceptors``, outermost first."""
    context = InterceptorContext(module, method_name, method)
    last = len(interceptors)

    def call(level: int, *a, **kw):
        if level == last:
            return method(*a, **kw)
        return interceptors[level](lambda *a2, **kw2: call(level + 1, *a2, **kw2), a, kw, context)

    return call(0, *args, **kwargs)
