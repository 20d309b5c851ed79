"""Named calls: label every module method call in JAX profiles with the module's path.

When enabled, each bound module's method runs inside ``jax.named_scope``
named after the module and method (``'Dense_0.__call__'``, nested under its
parent's), so the operations it emits carry the module path in compiled HLO
and in profiler traces. Off by default: the seed
system enables it only while profiling.

>>> import nnjax as nn
>>> with nn.override_named_call(True):
...     nn.named_call.enabled
True
>>> nn.named_call.enabled
False
"""

from __future__ import annotations

import contextlib

enabled = False


def enable_named_call() -> None:
    """Label module method calls from now on."""
    global enabled
    enabled = True


def disable_named_call() -> None:
    """Stop labelling module method calls."""
    global enabled
    enabled = False


@contextlib.contextmanager
def override_named_call(enable: bool = True):
    """Turn labelling on or off inside a ``with`` block."""
    global enabled
    previous = enabled
    enabled = bool(enable)
    try:
        yield
    finally:
        enabled = previous
