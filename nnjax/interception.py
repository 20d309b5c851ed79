"""Method interceptors: ``intercept_methods`` wraps every module method call.

An interceptor is ``interceptor(next_fun, args, kwargs, context)``. Several
run in the order their ``with`` blocks were entered; ``context.orig_method``
calls the method itself, skipping the interceptors further in.

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

_stack: list[Callable] = []
active = False  # read on every method call: cheaper than testing the list


class InterceptorContext(NamedTuple):
    """What an interceptor is told about the call it intercepts."""

    module: Any
    method_name: str
    orig_method: Callable


@contextlib.contextmanager
def intercept_methods(interceptor: Callable):
    """Registers ``interceptor`` for every module method called inside the ``with`` block."""
    global active
    _stack.append(interceptor)
    active = True
    try:
        yield
    finally:
        _stack.pop()
        active = bool(_stack)


def run(method: Callable, module, method_name: str, args: tuple, kwargs: dict) -> Any:
    """Call ``method`` (bound to ``module``) through the active interceptors, outermost first."""
    context = InterceptorContext(module, method_name, method)
    interceptors = tuple(_stack)

    def call(level: int, *a, **kw):
        if level == len(interceptors):
            return method(*a, **kw)
        return interceptors[level](lambda *a2, **kw2: call(level + 1, *a2, **kw2), a, kw, context)

    return call(0, *args, **kwargs)
