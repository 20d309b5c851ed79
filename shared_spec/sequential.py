"""The ``Sequential`` contract: which ``layers`` values are accepted, and how one layer's output feeds the next.

Both backends chain their layers with :func:`feed`, so the rule that spreads
a tuple as positional arguments and a dict as keyword arguments is written
once, and both refuse the same ``layers`` values with the same messages.

>>> feed(lambda a, b: a + b, (1, 2))
3
>>> feed(lambda x=0, y=0: x * y, {'x': 3, 'y': 4})
12
>>> feed(abs, -5)
5
"""

from __future__ import annotations

from collections.abc import Sequence

from shared_spec import layer_args

__all__ = ['check_layers_field', 'check_chain', 'feed']


def check_layers_field(layers) -> None:
    """Refuses a ``layers`` field that is not a list or tuple (checked before children are adopted).

    >>> check_layers_field({'a': abs})
    Traceback (most recent call last):
    ...
    ValueError: Sequential: 'layers' must be a sequence (list or tuple) of modules or functions, got 'dict'. Fix: pass Sequential([layer1, layer2, ...]).
    """
    if not isinstance(layers, Sequence) or isinstance(layers, str):
        raise ValueError(
            f"Sequential: 'layers' must be a sequence (list or tuple) of modules or functions, "
            f"got {type(layers).__name__!r}. Fix: pass Sequential([layer1, layer2, ...])."
        )


def check_chain(layers, *, module, name) -> None:
    """At call time: at least one layer, and every layer callable (``module`` names the layer in messages).

    >>> check_chain([], module='Sequential', name='body')
    Traceback (most recent call last):
    ...
    ValueError: Sequential: empty 'layers' in module 'body'. Fix: give it at least one layer.
    """
    if not layers:
        raise ValueError(f"Sequential: empty 'layers' in module {name!r}. Fix: give it at least one layer.")
    layer_args.callable_members(layers, field='layers', layer=module)


def feed(layer, outputs):
    """Calls ``layer`` on the previous output: a tuple is spread, a dict passed as keywords, anything else as is.

    >>> feed(lambda *xs: len(xs), ((1, 2), 3))
    2
    """
    if isinstance(outputs, tuple):
        return layer(*outputs)
    if isinstance(outputs, dict):
        return layer(**outputs)
    return layer(outputs)
