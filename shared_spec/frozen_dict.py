"""FrozenDict: the immutable nested mapping that variable trees travel in.

Both backends hand variables around as nested mappings. A ``FrozenDict``
freezes every nested ``dict`` it is given, so a caller cannot change a
collection behind the module system's back, and it is hashable, so it can
serve as a static argument. The module-level helpers (``freeze``,
``unfreeze``, ``copy``, ``pop``, ``pretty_repr``) accept a plain ``dict``
as well, because ``init`` returns plain dicts and user code mixes both.

>>> variables = freeze({'params': {'w': 1}})
>>> variables['params']
FrozenDict({
    w: 1,
})
>>> rest, params = variables.pop('params')
>>> rest, unfreeze(params)
(FrozenDict({}), {'w': 1})
"""

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ['FrozenDict', 'freeze', 'unfreeze', 'copy', 'pop', 'pretty_repr']


def _freeze_values(mapping):
    """A new plain dict with every nested dict/FrozenDict value frozen."""
    return {
        key: (value if isinstance(value, FrozenDict) else FrozenDict(value) if isinstance(value, dict) else value)
        for key, value in mapping.items()
    }


def _sorted_keys(keys):
    """Keys in sorted order; mixed, unorderable keys fall back to a stable order.

    Pytree flattening needs one canonical order so that two FrozenDicts with
    the same items but different insertion order flatten identically.
    """
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


class FrozenDict(Mapping):
    """An immutable, hashable variant of ``dict``; nested dicts are frozen too.

    Takes the same arguments as ``dict``. ``__unsafe_skip_copy__=True`` stores
    the given mapping as is, without copying or freezing nested dicts: only
    for callers (pytree unflattening) that built the values themselves.

    >>> fd = FrozenDict({'a': {'b': 1}}, c=2)
    >>> isinstance(fd['a'], FrozenDict), fd['a']['b'], len(fd)
    (True, 1, 2)
    >>> fd == {'a': {'b': 1}, 'c': 2}
    True
    >>> hash(fd) == hash(FrozenDict(c=2, a={'b': 1}))
    True
    >>> fd | {'c': 3}
    FrozenDict({
        a: {
            b: 1,
        },
        c: 3,
    })
    """

    __slots__ = ('_dict', '_hash')

    def __init__(self, *args, __unsafe_skip_copy__=False, **kwargs):
        if __unsafe_skip_copy__:
            data = args[0] if args else kwargs
        else:
            data = _freeze_values(dict(*args, **kwargs))
        object.__setattr__(self, '_dict', data)
        object.__setattr__(self, '_hash', None)

    def __getitem__(self, key):
        return self._dict[key]

    def __contains__(self, key):
        return key in self._dict

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._dict)

    def __setitem__(self, key, value):
        raise TypeError(
            f'FrozenDict is immutable: cannot set key {key!r}. '
            'Use .copy({key: value}) to get an updated copy, or unfreeze() '
            'to get a mutable dict.'
        )

    def __delitem__(self, key):
        raise TypeError(f'FrozenDict is immutable: cannot delete key {key!r}. Use .pop(key) to get a copy without it.')

    def __setattr__(self, name, value):
        raise AttributeError('FrozenDict is immutable.')

    def __hash__(self):
        # Order-independent, like equality; cached because trees are
        # hashed repeatedly when used as static arguments.
        if self._hash is None:
            h = 0
            for item in self._dict.items():
                h ^= hash(item)
            object.__setattr__(self, '_hash', h)
        return self._hash

    def __repr__(self):
        return self.pretty_repr()

    def __reduce__(self):
        return FrozenDict, (self.unfreeze(),)

    def __or__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.copy(other)

    def copy(self, add_or_replace=MappingProxyType({})):
        """A new FrozenDict with the entries of ``add_or_replace`` added or replaced.

        >>> FrozenDict(a=1).copy({'b': 2}) == {'a': 1, 'b': 2}
        True
        """
        return type(self)({**self._dict, **unfreeze(add_or_replace)})

    def pop(self, key):
        """A pair: a new FrozenDict without ``key``, and the removed value.

        >>> FrozenDict(a=1, b=2).pop('a')
        (FrozenDict({
            b: 2,
        }), 1)
        """
        value = self._dict[key]
        rest = {k: v for k, v in self._dict.items() if k != key}
        return type(self)(rest, __unsafe_skip_copy__=True), value

    def pretty_repr(self, num_spaces=4):
        """An indented, multi-line representation of the nested mapping.

        >>> print(FrozenDict(a={'b': 1}).pretty_repr(num_spaces=2))
        FrozenDict({
          a: {
            b: 1,
          },
        })
        """
        return f'FrozenDict({_pretty_mapping(self, num_spaces)})'

    def unfreeze(self):
        """A mutable nested ``dict`` copy of this FrozenDict.

        >>> FrozenDict(a={'b': 1}).unfreeze()
        {'a': {'b': 1}}
        """
        return unfreeze(self)

    def tree_flatten(self):
        """``(values, keys)`` with keys sorted, for registering as a pytree.

        >>> FrozenDict(b=2, a=1).tree_flatten()
        ((1, 2), ('a', 'b'))
        """
        keys = tuple(_sorted_keys(self._dict))
        return tuple(self._dict[k] for k in keys), keys

    @classmethod
    def tree_unflatten(cls, keys, values):
        """Rebuild from the ``keys`` and ``values`` of :meth:`tree_flatten`.

        The values are stored as given: they were produced by a tree map over
        an already frozen tree, so copying would only cost time.

        >>> FrozenDict.tree_unflatten(('a', 'b'), (1, 2)) == {'a': 1, 'b': 2}
        True
        """
        return cls(dict(zip(keys, values)), __unsafe_skip_copy__=True)


def _indent(text, num_spaces):
    pad = ' ' * num_spaces
    return ''.join(pad + line + '\n' for line in text.splitlines())


def _pretty_mapping(x, num_spaces):
    """Braces with one ``key: value,`` line per entry; nested mappings recurse."""
    if not isinstance(x, (dict, FrozenDict)):
        return repr(x)
    body = ''.join(f'{key}: {_pretty_mapping(value, num_spaces)},\n' for key, value in x.items())
    if not body:
        return '{}'
    return '{\n' + _indent(body, num_spaces) + '}'


def freeze(xs):
    """Freeze a nested dict into a :class:`FrozenDict`.

    >>> freeze({'a': {'b': 1}})['a']
    FrozenDict({
        b: 1,
    })
    """
    return FrozenDict(xs)


def unfreeze(x):
    """A mutable nested ``dict`` copy of a FrozenDict or dict; other values as is.

    Plain dicts are copied too, so the result never aliases the input's
    containers; leaves (arrays, numbers) are shared, not copied.

    >>> inner = {'b': 1}
    >>> out = unfreeze({'a': inner})
    >>> out == {'a': inner}, out['a'] is inner
    (True, False)
    >>> unfreeze(3)
    3
    """
    if isinstance(x, (FrozenDict, dict)):
        return {key: unfreeze(value) for key, value in x.items()}
    return x


def copy(x, add_or_replace=MappingProxyType({})):
    """Like :meth:`FrozenDict.copy`, for a FrozenDict or a dict (keeps the type).

    >>> copy({'a': 1}, {'b': 2})
    {'a': 1, 'b': 2}
    """
    if isinstance(x, FrozenDict):
        return x.copy(add_or_replace)
    if isinstance(x, dict):
        new = unfreeze(x)
        new.update(add_or_replace)
        return new
    raise TypeError(f'copy() expects a FrozenDict or dict, got {type(x).__name__}.')


def pop(x, key):
    """Like :meth:`FrozenDict.pop`, for a FrozenDict or a dict (keeps the type).

    The input is left untouched.

    >>> variables = {'params': 1, 'batch_stats': 2}
    >>> pop(variables, 'params'), variables
    (({'batch_stats': 2}, 1), {'params': 1, 'batch_stats': 2})
    """
    if isinstance(x, FrozenDict):
        return x.pop(key)
    if isinstance(x, dict):
        new = unfreeze(x)
        value = new.pop(key)
        return new, value
    raise TypeError(f'pop() expects a FrozenDict or dict, got {type(x).__name__}.')


def pretty_repr(x, num_spaces=4):
    """Indented representation of a FrozenDict or dict; ``repr(x)`` otherwise.

    >>> print(pretty_repr({'a': {'b': 1}}))
    {
        a: {
            b: 1,
        },
    }
    >>> pretty_repr([1])
    '[1]'
    """
    if isinstance(x, FrozenDict):
        return x.pretty_repr(num_spaces)
    return _pretty_mapping(x, num_spaces)
