"""How a summary table shows values: array shapes, YAML-like blocks, sizes and bytes.

``Module.tabulate`` shows the inputs, outputs and variables of each module
call. A backend first turns those values into a *described tree*, which
holds no arrays and so outlives the trace or the computation that made
them (:func:`describe_value`):

- an array (anything with ``.shape`` and ``.dtype``: a NumPy array, a JAX
  array or tracer, a ``ShapeDtypeStruct``) becomes an :class:`ArraySpec`;
- a partitioning box becomes a :class:`BoxedArraySpec` (the array plus its
  axis names); other metadata boxes are shown by their value;
- dicts stay dicts (keys sorted, as JAX sorts them when it flattens a
  dict), lists and tuples become lists, and any other leaf becomes the text
  of its ``repr``.

Cells are then text with a small markup, the one ``rich`` reads:
``[dim]...[/dim]`` and ``[bold]...[/bold]``; a literal ``[`` that would
look like a tag is escaped as ``\\[``. :func:`strip_markup` gives the plain
text.

>>> import numpy as np
>>> tree = describe_value({'kernel': np.zeros((9, 4), np.float32), 'bias': np.zeros(4, np.float32)})
>>> print(strip_markup(yaml_block(tree)))
bias: float32[4]
kernel: float32[9,4]
>>> size_and_bytes_repr(*size_and_bytes(tree))
'40 (160 B)'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, Callable, Optional

__all__ = [
    'ArraySpec',
    'BoxedArraySpec',
    'describe_value',
    'render_leaf',
    'yaml_block',
    'size_and_bytes',
    'bytes_repr',
    'size_and_bytes_repr',
    'escape_markup',
    'strip_markup',
]


@dataclasses.dataclass(frozen=True)
class ArraySpec:
    """An array described by its shape, dtype name and item size in bytes.

    >>> spec = ArraySpec((16, 9), 'float32', 4)
    >>> strip_markup(spec.render()), spec.size, spec.nbytes
    ('float32[16,9]', 144, 576)
    """

    shape: tuple
    dtype: str
    itemsize: int

    @classmethod
    def of(cls, x: Any) -> 'ArraySpec':
        """The description of array-like ``x`` (it has ``.shape`` and ``.dtype``).

        >>> import numpy as np
        >>> ArraySpec.of(np.ones((2, 3), np.int8))
        ArraySpec(shape=(2, 3), dtype='int8', itemsize=1)
        """
        dtype = x.dtype
        return cls(tuple(int(d) for d in x.shape), str(dtype), int(getattr(dtype, 'itemsize', 0) or 0))

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """The number of bytes (elements times item size)."""
        return self.size * self.itemsize

    def render(self) -> str:
        """``dtype[d0,d1,...]``, the dtype dimmed.

        >>> ArraySpec((), 'int32', 4).render()
        '[dim]int32[/dim][]'
        """
        return f"[dim]{escape_markup(self.dtype)}[/dim][{','.join(str(d) for d in self.shape)}]"


@dataclasses.dataclass(frozen=True)
class BoxedArraySpec:
    """A partitioned array: its :class:`ArraySpec` and its axis names.

    >>> spec = BoxedArraySpec(ArraySpec((4, 8), 'float32', 4), (None, 'model'))
    >>> strip_markup(spec.render())
    'float32[4,8] P(None, model)'
    """

    array: Any
    names: tuple

    def render(self) -> str:
        """The array, then ``P(...)`` with the axis names, unquoted."""
        names = ', '.join(_unquoted(repr(n)) for n in self.names)
        return f'{render_leaf(self.array)} [dim]P[/dim]({escape_markup(names)})'


def _unquoted(text: str) -> str:
    # The seed system's YAML output drops every single quote; so does this.
    return text.replace("'", '')


def _sorted_items(mapping: Mapping) -> list:
    items = list(mapping.items())
    try:
        return sorted(items, key=lambda kv: kv[0])
    except TypeError:  # keys of mixed types: keep their order
        return items


def _has_attribute(x: Any, name: str) -> bool:
    # Looks at the class and the instance dict only: plain getattr on a
    # bound module may run its setup.
    return hasattr(type(x), name) or name in getattr(x, '__dict__', ())


def _is_array_like(x: Any) -> bool:
    return not isinstance(x, type) and _has_attribute(x, 'shape') and _has_attribute(x, 'dtype')


def describe_value(x: Any, box: Optional[Callable[[Any], Any]] = None) -> Any:
    """A described tree of ``x``: no arrays left, only specs, dicts, lists and text.

    ``box(leaf)`` tells the backend's metadata boxes apart: it returns
    ``None`` for a value that is not a box, ``(value, names)`` for a
    partitioning box and ``(value, None)`` for any other box.

    >>> import numpy as np
    >>> describe_value((np.ones(3, np.float32), {'train': True, 'b': None}))
    [ArraySpec(shape=(3,), dtype='float32', itemsize=4), {'b': 'None', 'train': 'True'}]
    >>> describe_value('name'), describe_value(describe_value(np.ones(2)))
    ('name', ArraySpec(shape=(2,), dtype='float64', itemsize=8))
    """
    if isinstance(x, (ArraySpec, BoxedArraySpec)):
        return x
    if box is not None:
        boxed = box(x)
        if boxed is not None:
            value, names = boxed
            inner = describe_value(value, box)
            if names is None or not isinstance(inner, ArraySpec):
                return inner
            return BoxedArraySpec(inner, tuple(names))
    if isinstance(x, Mapping):
        return {k: describe_value(v, box) for k, v in _sorted_items(x)}
    if isinstance(x, (list, tuple)):
        return [describe_value(v, box) for v in x]
    if _is_array_like(x):
        return ArraySpec.of(x)
    return _unquoted(x if isinstance(x, str) else repr(x))


def render_leaf(leaf: Any) -> str:
    """The markup text of one leaf of a described tree.

    >>> render_leaf(ArraySpec((2,), 'float32', 4)), render_leaf('a[b]')
    ('[dim]float32[/dim][2]', 'a\\\\[b]')
    """
    if isinstance(leaf, (ArraySpec, BoxedArraySpec)):
        return leaf.render()
    return escape_markup(str(leaf))


def yaml_block(tree: Any) -> str:
    """A described tree as YAML-like block text (no quotes); ``''`` when empty.

    Mappings are ``key: value`` lines, nested mappings indented two spaces;
    sequences are ``- item`` lines, not indented under their key (as PyYAML
    writes them); a lone leaf is its own text.

    >>> print(yaml_block({'a': {'b': '1'}, 'c': ['2', {'d': '3', 'e': '4'}], 'f': []}))
    a:
      b: 1
    c:
    - 2
    - d: 3
      e: 4
    f: []
    >>> print(yaml_block([['1', '2'], '3']))
    - - 1
      - 2
    - 3
    >>> yaml_block({}), yaml_block(None), yaml_block(ArraySpec((1,), 'int8', 1))
    ('', '', '[dim]int8[/dim][1]')
    """
    if tree is None or (isinstance(tree, (dict, list)) and not tree):
        return ''
    if isinstance(tree, dict):
        return '\n'.join(_mapping_lines(tree, 0))
    if isinstance(tree, list):
        return '\n'.join(_sequence_lines(tree, 0))
    return render_leaf(tree)


def _is_empty_container(v: Any) -> bool:
    return isinstance(v, (dict, list)) and not v


def _empty_text(v: Any) -> str:
    return '{}' if isinstance(v, dict) else '[]'


def _mapping_lines(mapping: dict, indent: int) -> list:
    pad = ' ' * indent
    lines = []
    for key, value in mapping.items():
        key_text = escape_markup(_unquoted(str(key)))
        if _is_empty_container(value):
            lines.append(f'{pad}{key_text}: {_empty_text(value)}')
        elif isinstance(value, dict):
            lines.append(f'{pad}{key_text}:')
            lines.extend(_mapping_lines(value, indent + 2))
        elif isinstance(value, list):
            lines.append(f'{pad}{key_text}:')
            lines.extend(_sequence_lines(value, indent))
        else:
            lines.append(f'{pad}{key_text}: {render_leaf(value)}')
    return lines


def _sequence_lines(items: list, indent: int) -> list:
    pad = ' ' * indent
    lines = []
    for item in items:
        if _is_empty_container(item):
            lines.append(f'{pad}- {_empty_text(item)}')
        elif isinstance(item, (dict, list)):
            inner = _mapping_lines(item, indent + 2) if isinstance(item, dict) else _sequence_lines(item, indent + 2)
            lines.append(f'{pad}- {inner[0][indent + 2 :]}')
            lines.extend(inner[1:])
        else:
            lines.append(f'{pad}- {render_leaf(item)}')
    return lines


def size_and_bytes(tree: Any) -> tuple:
    """``(number of elements, number of bytes)`` of the arrays in a described tree.

    Leaves that are not arrays (Python numbers, text) count for nothing.

    >>> size_and_bytes({'a': ArraySpec((2, 3), 'float32', 4), 'n': '7'})
    (6, 24)
    """
    if isinstance(tree, ArraySpec):
        return tree.size, tree.nbytes
    if isinstance(tree, BoxedArraySpec):
        return size_and_bytes(tree.array)
    children = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else ()
    size = nbytes = 0
    for child in children:
        s, b = size_and_bytes(child)
        size, nbytes = size + s, nbytes + b
    return size, nbytes


def bytes_repr(num_bytes: int) -> str:
    """A byte count in decimal units: above 1e9 GB, above 1e6 MB, above 1e3 KB, else B.

    >>> bytes_repr(1000), bytes_repr(1001), bytes_repr(1_300_000), bytes_repr(3_200_000_000)
    ('1,000 B', '1.0 KB', '1.3 MB', '3.2 GB')
    """
    if num_bytes > 1e9:
        return f'{num_bytes / 1e9:,.1f} GB'
    if num_bytes > 1e6:
        return f'{num_bytes / 1e6:,.1f} MB'
    if num_bytes > 1e3:
        return f'{num_bytes / 1e3:,.1f} KB'
    return f'{num_bytes:,} B'


def size_and_bytes_repr(size: int, num_bytes: int) -> str:
    """``'{size:,} ({bytes})'``, or ``''`` when there are no elements.

    >>> size_and_bytes_repr(824458, 3297832), size_and_bytes_repr(0, 0)
    ('824,458 (3.3 MB)', '')
    """
    if not size:
        return ''
    return f'{size:,} ({bytes_repr(num_bytes)})'


# rich's markup: a tag is '[' then a lowercase letter, '#', '/' or '@', up to ']'.
_TAG = re.compile(r'(\\*)\[([a-z#/@][^[]*?)]')


def escape_markup(text: str) -> str:
    """``text`` with every ``[`` that would start a markup tag escaped.

    >>> escape_markup('x[bold]'), escape_markup('float32[16,9]')
    ('x\\\\[bold]', 'float32[16,9]')
    """
    return _TAG.sub(lambda m: f'{m.group(1)}{m.group(1)}\\[{m.group(2)}]', text)


def strip_markup(text: str) -> str:
    """The plain text of markup: tags dropped, escaped brackets restored.

    >>> strip_markup('[bold]40 (160 B)[/bold]'), strip_markup(escape_markup('a[b]'))
    ('40 (160 B)', 'a[b]')
    """

    def replace(m: re.Match) -> str:
        backslashes, tag = m.group(1), m.group(2)
        kept = backslashes[: len(backslashes) // 2]
        return f'{kept}[{tag}]' if len(backslashes) % 2 else kept

    return _TAG.sub(replace, text)
