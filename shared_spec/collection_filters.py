"""Collection filters: which variable collections a ``mutable=`` (etc.) selects.

``init``, ``apply`` and the lifted transforms take a *filter* to pick
collections by name:

- ``True`` / ``False``: every collection / none;
- a string: that one collection;
- a list, tuple, set or frozenset of strings: those collections;
- ``DenyList(deny=f)``: every collection that filter ``f`` does not select
  (``f`` is itself any filter, so DenyLists nest).

Anything else is an :class:`~shared_spec.errors.InvalidFilterError`; a filter
is checked when it is used, so a bad one fails at the call that passes it.

>>> in_filter(['params', 'batch_stats'], 'batch_stats')
True
>>> default_init_mutable = DenyList(deny='intermediates')
>>> in_filter(default_init_mutable, 'params'), in_filter(default_init_mutable, 'intermediates')
(True, False)
"""

import dataclasses

from shared_spec.errors import InvalidFilterError

__all__ = ['DenyList', 'in_filter', 'union_filters']


@dataclasses.dataclass(frozen=True)
class DenyList:
    """Selects every collection except those its ``deny`` filter selects.

    >>> DenyList(deny='intermediates')
    DenyList(deny='intermediates')
    >>> in_filter(DenyList(deny=DenyList(deny='cache')), 'cache')
    True
    """
    deny: object


def in_filter(filter_like, col):
    """Whether collection name ``col`` is selected by ``filter_like``.

    >>> in_filter(True, 'params'), in_filter(False, 'params'), in_filter('params', 'cache')
    (True, False, False)
    >>> in_filter(3, 'params')
    Traceback (most recent call last):
    ...
    shared_spec.errors.InvalidFilterError: Invalid collection filter 3 (int). Fix: use True/False (all/none), a collection name ('params'), a list/tuple/set of names, or DenyList(deny=...).
    """
    # bool before anything else: True/False are the "all"/"none" filters.
    if isinstance(filter_like, bool):
        return filter_like
    # str before containers: a str is a container of characters too.
    if isinstance(filter_like, str):
        return col == filter_like
    if isinstance(filter_like, DenyList):
        return not in_filter(filter_like.deny, col)
    if isinstance(filter_like, (list, tuple, set, frozenset)):
        if not all(isinstance(name, str) for name in filter_like):
            raise InvalidFilterError(filter_like)
        return col in filter_like
    raise InvalidFilterError(filter_like)


def _names(filter_like):
    """A str/list/tuple/set filter as a frozenset of names (other filters: InvalidFilterError)."""
    if isinstance(filter_like, str):
        return frozenset([filter_like])
    if isinstance(filter_like, (list, tuple, set, frozenset)) and all(isinstance(n, str) for n in filter_like):
        return frozenset(filter_like)
    raise InvalidFilterError(filter_like)


def union_filters(a, b):
    """A filter selecting what ``a`` or ``b`` selects.

    ``apply(..., capture_intermediates=True)`` uses it to make
    'intermediates' mutable whatever ``mutable`` says.

    >>> union_filters(False, 'intermediates')
    'intermediates'
    >>> sorted(union_filters(['params', 'cache'], 'intermediates'))
    ['cache', 'intermediates', 'params']
    >>> union_filters(DenyList(deny=['intermediates', 'cache']), 'intermediates')
    DenyList(deny=frozenset({'cache'}))
    """
    if a is True or b is True:
        return True
    if a is False:
        return b
    if b is False:
        return a
    if isinstance(b, DenyList):
        a, b = b, a
    if isinstance(a, DenyList):
        if isinstance(b, DenyList):  # everything but what both deny
            return DenyList(deny=_intersection(a.deny, b.deny))
        if isinstance(a.deny, DenyList):  # DenyList(DenyList(f)) is f
            return union_filters(a.deny.deny, b)
        if isinstance(a.deny, bool):
            return True if a.deny is False else b
        return DenyList(deny=_names(a.deny) - _names(b))
    return _names(a) | _names(b)


def _intersection(a, b):
    if a is True:
        return b
    if b is True:
        return a
    if a is False or b is False:
        return False
    if isinstance(a, DenyList) or isinstance(b, DenyList):
        raise InvalidFilterError(DenyList(deny=a) if isinstance(a, DenyList) else DenyList(deny=b))
    return _names(a) & _names(b)
