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

__all__ = ['DenyList', 'in_filter', 'union_filters', 'intersect_filters', 'subtract_filters', 'first_match_groups']


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
    shared_spec.errors.InvalidFilterError: Invalid Filter: "3". Invalid collection filter 3 (int). Fix: use True/False (all/none), a collection name ('params'), a list/tuple/set of names, or DenyList(deny=...).
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


# -- set algebra for the lifted transforms -------------------------------------------
#
# A filter selects either a finite set of names ("allow" form) or everything
# but a finite set ("deny" form); True is deny-nothing, False allow-nothing.
# Intersections and differences of such sets stay in that form.


def _normal_form(filter_like):
    """``(allow, names)``: the names a filter selects (allow) or rejects (deny)."""
    if isinstance(filter_like, bool):
        return (not filter_like, frozenset())
    if isinstance(filter_like, DenyList):
        allow, names = _normal_form(filter_like.deny)
        return (not allow, names)
    return (True, _names(filter_like))


def _from_normal_form(allow, names):
    if allow:
        return tuple(sorted(names)) if names else False
    return DenyList(deny=tuple(sorted(names))) if names else True


def intersect_filters(a, b):
    """A filter selecting what both ``a`` and ``b`` select.

    A lifted transform's inner scope may write only the collections the
    caller made mutable *and* the transform passes back out.

    >>> intersect_filters(True, 'params')
    ('params',)
    >>> intersect_filters(DenyList(deny='intermediates'), ['params', 'intermediates'])
    ('params',)
    >>> intersect_filters(DenyList(deny='a'), DenyList(deny='b'))
    DenyList(deny=('a', 'b'))
    """
    allow_a, names_a = _normal_form(a)
    allow_b, names_b = _normal_form(b)
    if allow_a and allow_b:
        return _from_normal_form(True, names_a & names_b)
    if allow_a:
        return _from_normal_form(True, names_a - names_b)
    if allow_b:
        return _from_normal_form(True, names_b - names_a)
    return _from_normal_form(False, names_a | names_b)


def subtract_filters(a, b):
    """A filter selecting what ``a`` selects and ``b`` does not.

    >>> subtract_filters(True, 'params')
    DenyList(deny=('params',))
    >>> subtract_filters(['params', 'cache'], DenyList(deny='cache'))
    ('cache',)
    """
    allow_b, names_b = _normal_form(b)
    return intersect_filters(a, _from_normal_form(not allow_b, names_b))


def first_match_groups(names, filters):
    """``names`` split among ``filters``: each name joins the group of the first filter that selects it.

    This is how a lifted transform hands out collections (``variable_axes``,
    ``variable_broadcast``, ...) and RNG streams (``split_rngs``): a name
    claimed by an earlier filter is not seen by later ones, and a name no
    filter selects joins no group (it stays outside the transform). Group
    ``i`` keeps the order of ``names``.

    >>> first_match_groups(['params', 'batch_stats', 'cache'], ['params', True])
    [['params'], ['batch_stats', 'cache']]
    >>> first_match_groups(['params', 'cache'], [DenyList(deny='cache')])
    [['params']]
    """
    groups = [[] for _ in filters]
    for name in names:
        for group, filter_like in zip(groups, filters):
            if in_filter(filter_like, name):
                group.append(name)
                break
    return groups
