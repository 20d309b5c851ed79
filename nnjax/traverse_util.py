"""``nnjax.traverse_util``: walking and rewriting nested parameter trees.

Three tools, smallest first:

* :func:`flatten_dict` / :func:`unflatten_dict` (shared with nnref): a nested
  dict as ``{path tuple: leaf}`` and back.
* :func:`path_aware_map`: map over the leaves of a nested dict with the path
  in hand, e.g. to label parameters for ``optax.multi_transform``.
* Traversals: composable selectors that ``iterate`` over parts of an object
  and ``update`` them without mutating the input. :class:`ModelParamTraversal`
  selects parameters by their ``'/'``-joined name, as used to build
  ``optax.masked`` masks. Start chains from :data:`t_identity`.

>>> params = {'Dense_0': {'kernel': 1, 'bias': 2}, 'Dense_1': {'kernel': 3}}
>>> path_aware_map(lambda path, v: 'decay' if path[-1] == 'kernel' else 'none',
...                params)
{'Dense_0': {'kernel': 'decay', 'bias': 'none'}, 'Dense_1': {'kernel': 'decay'}}
>>> kernels = ModelParamTraversal(lambda name, _: 'kernel' in name)
>>> list(kernels.iterate(params))
[1, 3]
>>> kernels.update(lambda _: True, path_aware_map(lambda p, v: False, params))
{'Dense_0': {'kernel': True, 'bias': False}, 'Dense_1': {'kernel': True}}
>>> list(t_identity.each()['foo'].iterate([{'foo': 1}, {'foo': 3}]))
[1, 3]
"""

import abc
import copy
import dataclasses
from collections.abc import Mapping, MutableMapping

import jax

from shared_spec.dict_paths import empty_node, flatten_dict, unflatten_dict
from shared_spec.frozen_dict import FrozenDict

__all__ = [
    'empty_node',
    'flatten_dict',
    'unflatten_dict',
    'path_aware_map',
    'Traversal',
    'TraverseId',
    'TraverseMerge',
    'TraverseCompose',
    'TraverseFilter',
    'TraverseAttr',
    'TraverseItem',
    'TraverseEach',
    'TraverseTree',
    'ModelParamTraversal',
    't_identity',
]


def path_aware_map(f, nested_dict):
    """Map ``f(path, value)`` over the leaves of a nested dict.

    ``path`` is the tuple of keys leading to the leaf. Empty sub-dicts are
    kept. The result is a plain nested dict (``freeze`` it if needed).

    >>> params = {'a': {'x': 10, 'y': 3}, 'b': {'x': 20}}
    >>> path_aware_map(lambda path, x: x + 5 if 'x' in path else -x, params)
    {'a': {'x': 15, 'y': -3}, 'b': {'x': 25}}
    """
    flat = flatten_dict(nested_dict, keep_empty_nodes=True)
    return unflatten_dict({path: value if value is empty_node else f(path, value) for path, value in flat.items()})


class Traversal(abc.ABC):
    """A selector of parts of an object: read them with ``iterate``, rewrite with ``update``.

    Attribute access and indexing extend a traversal: ``t.foo`` selects the
    attribute ``foo`` and ``t['foo']`` the item ``'foo'`` of what ``t``
    selects.

    >>> t = t_identity['a'].each()
    >>> list(t.iterate({'a': [1, 2]})), t.update(lambda x: -x, {'a': [1, 2]})
    ([1, 2], {'a': [-1, -2]})
    """

    @abc.abstractmethod
    def iterate(self, inputs):
        """An iterator over the values this traversal selects in ``inputs``."""

    @abc.abstractmethod
    def update(self, fn, inputs):
        """A copy of ``inputs`` with every selected value ``v`` replaced by ``fn(v)``."""

    def set(self, values, inputs):
        """A copy of ``inputs`` with the selected values replaced, in order, by ``values``.

        >>> t_identity.each().set([7, 8], [1, 2])
        [7, 8]
        """
        values = list(values)
        used = 0

        def next_value(_):
            nonlocal used
            if used >= len(values):
                raise ValueError(f'Traversal.set got {len(values)} value(s), fewer than the traversal selects.')
            used += 1
            return values[used - 1]

        result = self.update(next_value, inputs)
        if used != len(values):
            raise ValueError(f'Traversal.set got {len(values)} value(s) but the traversal selects {used}.')
        return result

    def compose(self, other):
        """Apply ``other`` to each value this traversal selects."""
        return TraverseCompose(self, other)

    def merge(self, *traversals):
        """Apply each of ``traversals`` to what this one selects; chain the results."""
        return self.compose(TraverseMerge(*traversals))

    def each(self):
        """Select every item of the selected containers."""
        return self.compose(TraverseEach())

    def filter(self, fn):
        """Keep only the selected values for which ``fn(value)`` is true."""
        return self.compose(TraverseFilter(fn))

    def tree(self):
        """Select every leaf of the selected pytrees."""
        return self.compose(TraverseTree())

    def __getattr__(self, attr):
        # Private and dunder names are protocol look-ups (copy, pickle,
        # doctest), never attribute selections.
        if attr.startswith('_'):
            raise AttributeError(attr)
        return self.compose(TraverseAttr(attr))

    def __getitem__(self, key):
        return self.compose(TraverseItem(key))


class TraverseId(Traversal):
    """The identity traversal: selects its input itself.

    >>> list(TraverseId().iterate(5)), TraverseId().update(lambda x: x + 1, 5)
    ([5], 6)
    """

    def iterate(self, inputs):
        yield inputs

    def update(self, fn, inputs):
        return fn(inputs)


#: The identity traversal; the usual start of a chain.
t_identity = TraverseId()


class TraverseMerge(Traversal):
    """Selects what each of several traversals selects, one after the other.

    >>> t = TraverseMerge(TraverseItem('a'), TraverseItem('b'))
    >>> list(t.iterate({'a': 1, 'b': 2, 'c': 3}))
    [1, 2]
    """

    def __init__(self, *traversals):
        self._traversals = traversals

    def iterate(self, inputs):
        for traversal in self._traversals:
            yield from traversal.iterate(inputs)

    def update(self, fn, inputs):
        for traversal in self._traversals:
            inputs = traversal.update(fn, inputs)
        return inputs


class TraverseCompose(Traversal):
    """``y`` applied to each value that ``x`` selects.

    >>> t = TraverseCompose(TraverseItem('a'), TraverseItem(0))
    >>> list(t.iterate({'a': [4, 5]})), t.update(str, {'a': [4, 5]})
    ([4], {'a': ['4', 5]})
    """

    def __init__(self, x, y):
        self._x = x
        self._y = y

    def iterate(self, inputs):
        for value in self._x.iterate(inputs):
            yield from self._y.iterate(value)

    def update(self, fn, inputs):
        return self._x.update(lambda value: self._y.update(fn, value), inputs)


class TraverseFilter(Traversal):
    """Selects its input only when ``fn(input)`` is true.

    >>> list(t_identity.each().filter(lambda x: x > 1).iterate([1, 2, 3]))
    [2, 3]
    """

    def __init__(self, fn):
        self._fn = fn

    def iterate(self, inputs):
        if self._fn(inputs):
            yield inputs

    def update(self, fn, inputs):
        return fn(inputs) if self._fn(inputs) else inputs


class TraverseAttr(Traversal):
    """Selects one attribute; updates dataclasses and namedtuples by copy.

    >>> import collections
    >>> Foo = collections.namedtuple('Foo', 'bar')
    >>> TraverseAttr('bar').update(lambda x: x + x, Foo(bar=2))
    Foo(bar=4)
    """

    def __init__(self, attr):
        self._attr = attr

    def iterate(self, inputs):
        yield getattr(inputs, self._attr)

    def update(self, fn, inputs):
        new = fn(getattr(inputs, self._attr))
        if dataclasses.is_dataclass(inputs) and not isinstance(inputs, type):
            return dataclasses.replace(inputs, **{self._attr: new})
        if isinstance(inputs, tuple) and hasattr(inputs, '_replace'):
            return inputs._replace(**{self._attr: new})
        raise TypeError(
            f'TraverseAttr({self._attr!r}) cannot update a '
            f'{type(inputs).__name__} without mutating it; only dataclasses '
            'and namedtuples can be copied with one attribute replaced.'
        )


def _rebuild_sequence(seq, items):
    """A sequence of ``seq``'s type (list, tuple or namedtuple) holding ``items``."""
    if isinstance(seq, list):
        return list(items)
    if hasattr(seq, '_make'):
        return seq._make(items)
    return tuple(items)


class TraverseItem(Traversal):
    """Selects ``inputs[key]``; a slice key selects each item in the slice.

    Updates copy the container: dicts, FrozenDicts, lists, tuples and
    namedtuples keep their type.

    >>> TraverseItem(slice(1, None)).update(lambda x: 0, (1, 2, 3))
    (1, 0, 0)
    >>> TraverseItem('w').update(lambda x: x * 2, {'w': 2, 'b': 1})
    {'w': 4, 'b': 1}
    """

    def __init__(self, key):
        self._key = key

    def iterate(self, inputs):
        if isinstance(self._key, slice):
            yield from inputs[self._key]
        else:
            yield inputs[self._key]

    def update(self, fn, inputs):
        if isinstance(inputs, (list, tuple)):
            items = list(inputs)
            if isinstance(self._key, slice):
                for i in range(len(items))[self._key]:
                    items[i] = fn(items[i])
            else:
                items[self._key] = fn(items[self._key])
            return _rebuild_sequence(inputs, items)
        if isinstance(inputs, FrozenDict):
            return inputs.copy({self._key: fn(inputs[self._key])})
        if isinstance(inputs, MutableMapping):
            new = copy.copy(inputs)
            new[self._key] = fn(inputs[self._key])
            return new
        raise TypeError(
            f'TraverseItem({self._key!r}) cannot update a '
            f'{type(inputs).__name__}; supported containers are dict, '
            'FrozenDict, list, tuple and namedtuple.'
        )


class TraverseEach(Traversal):
    """Selects each item of a list or tuple, or each value of a mapping.

    >>> TraverseEach().update(lambda x: x * 10, {'a': 1, 'b': 2})
    {'a': 10, 'b': 20}
    """

    def iterate(self, inputs):
        if isinstance(inputs, Mapping):
            yield from inputs.values()
        else:
            yield from inputs

    def update(self, fn, inputs):
        if isinstance(inputs, FrozenDict):
            return FrozenDict({k: fn(v) for k, v in inputs.items()})
        if isinstance(inputs, Mapping):
            return {k: fn(v) for k, v in inputs.items()}
        if isinstance(inputs, (list, tuple)):
            return _rebuild_sequence(inputs, [fn(x) for x in inputs])
        raise TypeError(
            f'TraverseEach cannot update a {type(inputs).__name__}; supported '
            'containers are dict, FrozenDict, list, tuple and namedtuple.'
        )


class TraverseTree(Traversal):
    """Selects every leaf of a pytree (``jax.tree_util`` order).

    >>> list(TraverseTree().iterate({'b': [1, 2], 'a': 3}))
    [3, 1, 2]
    """

    def iterate(self, inputs):
        yield from jax.tree_util.tree_leaves(inputs)

    def update(self, fn, inputs):
        return jax.tree_util.tree_map(fn, inputs)


class ModelParamTraversal(Traversal):
    """Selects parameters of a nested dict whose name and value pass ``filter_fn``.

    A parameter's name is its path joined with ``'/'`` behind a leading
    ``'/'``, e.g. ``'/Dense_0/kernel'``. Parameters are visited in sorted
    path order. ``update`` returns a plain dict for a dict input and a
    FrozenDict for a FrozenDict input.

    >>> biases = ModelParamTraversal(lambda name, _: name.endswith('/bias'))
    >>> list(biases.iterate({'Dense_1': {'bias': 2}, 'Dense_0': {'bias': 1}}))
    [1, 2]
    """

    def __init__(self, filter_fn):
        self._filter_fn = filter_fn

    def _selected(self, flat):
        for path in sorted(flat, key=lambda p: tuple(map(str, p))):
            value = flat[path]
            if value is empty_node:
                continue
            if self._filter_fn('/' + '/'.join(map(str, path)), value):
                yield path

    def iterate(self, inputs):
        flat = flatten_dict(inputs, keep_empty_nodes=True)
        for path in self._selected(flat):
            yield flat[path]

    def update(self, fn, inputs):
        flat = flatten_dict(inputs, keep_empty_nodes=True)
        for path in list(self._selected(flat)):
            flat[path] = fn(flat[path])
        result = unflatten_dict(flat)
        return FrozenDict(result) if isinstance(inputs, FrozenDict) else result
