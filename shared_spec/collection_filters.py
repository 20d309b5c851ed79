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

__all__ = ['DenyList', 'in_filter']


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
