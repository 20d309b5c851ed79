"""Flatten nested dicts to ``{path: leaf}`` and back (``traverse_util``).

Variable trees are nested dicts (collection -> module path -> name). Many
jobs are simpler on a flat view keyed by the whole path: comparing two trees,
listing parameters, writing checkpoints. ``flatten_dict`` gives that view and
``unflatten_dict`` undoes it.

>>> flat = flatten_dict({'params': {'Dense_0': {'kernel': 1, 'bias': 2}}})
>>> flat
{('params', 'Dense_0', 'kernel'): 1, ('params', 'Dense_0', 'bias'): 2}
>>> unflatten_dict(flat)
{'params': {'Dense_0': {'kernel': 1, 'bias': 2}}}
"""

from collections.abc import Mapping

from shared_spec.frozen_dict import FrozenDict

__all__ = ['empty_node', 'flatten_dict', 'unflatten_dict']


class _EmptyNode:
    """The type of :data:`empty_node`; there is exactly one instance."""

    __slots__ = ()

    def __repr__(self):
        return 'empty_node'

    def __reduce__(self):
        # Pickle/deepcopy by name, so the sentinel stays a singleton and
        # ``value is empty_node`` keeps working after a round trip.
        return 'empty_node'


#: Stands for an empty nested dict in a flat dict, so that
#: ``flatten_dict(..., keep_empty_nodes=True)`` round-trips ``{}`` values.
empty_node = _EmptyNode()


def _is_node(x):
    return isinstance(x, (dict, FrozenDict))


def flatten_dict(xs, keep_empty_nodes=False, is_leaf=None, sep=None):
    """Flatten a nested dict (or FrozenDict) into ``{path: leaf}``.

    Args:
      xs: the nested dict.
      keep_empty_nodes: map empty nested dicts to :data:`empty_node` instead
        of dropping them (an empty ``xs`` still gives ``{}``).
      is_leaf: optional ``is_leaf(path, value) -> bool``, asked for every
        nested dict below the root; ``True`` keeps that dict whole as a leaf.
      sep: if given, paths are ``sep``-joined strings instead of tuples
        (every key on the path must then be a string).

    >>> xs = {'foo': 1, 'bar': {'a': 2, 'b': {}}}
    >>> flatten_dict(xs)
    {('foo',): 1, ('bar', 'a'): 2}
    >>> flatten_dict(xs, keep_empty_nodes=True, sep='/')
    {'foo': 1, 'bar/a': 2, 'bar/b': empty_node}
    >>> flatten_dict(xs, is_leaf=lambda path, v: path == ('bar',))
    {('foo',): 1, ('bar',): {'a': 2, 'b': {}}}
    """
    if not _is_node(xs):
        raise TypeError(f'flatten_dict expects a dict or FrozenDict, got {type(xs).__name__}.')

    def key_of(path):
        if sep is None:
            return path
        bad = [k for k in path if not isinstance(k, str)]
        if bad:
            raise TypeError(
                f'flatten_dict(sep={sep!r}) needs string keys; path {path!r} '
                f'has {bad[0]!r}. Use sep=None to get tuple paths.'
            )
        return sep.join(path)

    flat = {}

    def walk(node, prefix):
        if not _is_node(node) or (prefix and is_leaf is not None and is_leaf(prefix, node)):
            flat[key_of(prefix)] = node
            return
        if not node:
            if keep_empty_nodes and prefix:
                flat[key_of(prefix)] = empty_node
            return
        for key, value in node.items():
            walk(value, prefix + (key,))

    walk(xs, ())
    return flat


def unflatten_dict(xs, sep=None):
    """Rebuild the nested dict from ``{path: leaf}``; inverse of :func:`flatten_dict`.

    :data:`empty_node` leaves become ``{}``. With ``sep``, the paths are strings
    split on ``sep``.

    >>> unflatten_dict({('foo',): 1, ('bar', 'a'): 2})
    {'foo': 1, 'bar': {'a': 2}}
    >>> unflatten_dict({'a/b': 1, 'c': empty_node}, sep='/')
    {'a': {'b': 1}, 'c': {}}
    """
    if not isinstance(xs, Mapping):
        raise TypeError(f'unflatten_dict expects a flat dict, got {type(xs).__name__}.')
    result = {}
    for path, value in xs.items():
        if sep is not None:
            path = tuple(path.split(sep))
        path = tuple(path)
        if not path:
            raise ValueError('unflatten_dict: the empty path () has no place in a nested dict.')
        if value is empty_node:
            value = {}
        cursor = result
        for depth, key in enumerate(path[:-1]):
            cursor = cursor.setdefault(key, {})
            if not isinstance(cursor, dict):
                raise ValueError(
                    f'unflatten_dict: path {path!r} passes through {path[: depth + 1]!r}, which is already a leaf.'
                )
        if path[-1] in cursor:
            raise ValueError(f'unflatten_dict: path {path!r} is a leaf but also the prefix of other paths.')
        cursor[path[-1]] = value
    return result
