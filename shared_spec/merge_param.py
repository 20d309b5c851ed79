"""``merge_param``: the contract for a setting given as a module field or as a call argument, never both.

Layers such as Dropout take ``deterministic`` in the constructor (handy
when a parent builds a preconfigured template) or at call time (handy when it
depends on a ``train`` flag); exactly one of the two must be set, so that no
silent default decides between training and evaluation behaviour. Both
backends call this one function, so the rule and its messages are the same.

>>> merge_param('deterministic', None, True)
True
>>> merge_param('deterministic', False, None)
False
>>> merge_param('deterministic', None, None)
Traceback (most recent call last):
...
ValueError: Parameter "deterministic" must be passed to the constructor or at call time. Fix: set it once, e.g. Layer(deterministic=...) or layer(x, deterministic=...).
"""

from __future__ import annotations

from typing import Any

__all__ = ['merge_param']


def merge_param(name: str, a: Any, b: Any, *, layer: str | None = None) -> Any:
    """The one of ``a`` (the field) and ``b`` (the call argument) that is not ``None``.

    Raises ``ValueError`` when both or neither are set; the message starts
    with ``layer`` when given, so that it names the layer at fault.

    >>> merge_param('einsum_str', 'ab,bc->ac', None, layer='Einsum')
    'ab,bc->ac'
    >>> merge_param('rate', 0.1, 0.2, layer='Dropout')
    Traceback (most recent call last):
    ...
    ValueError: Dropout: Parameter "rate" was passed to the constructor and at call time. Should be passed just once. Fix: set it once, e.g. Layer(rate=...) or layer(x, rate=...).
    """
    where = f"{layer}: " if layer else ""
    fix = f" Fix: set it once, e.g. Layer({name}=...) or layer(x, {name}=...)."
    if a is None and b is None:
        raise ValueError(f'{where}Parameter "{name}" must be passed to the constructor or at call time.{fix}')
    if a is not None and b is not None:
        raise ValueError(
            f'{where}Parameter "{name}" was passed to the constructor and at call time. Should be passed just once.{fix}'
        )
    return b if a is None else a
