"""The summary table of a module: what ``Module.tabulate`` shows, backend-neutral.

A backend runs ``init`` while recording one :class:`CallRecord` per module
method call (in the order the calls *start*, so a parent comes before its
children), then hands the records and the initialized variables to
:func:`build_summary_table`. The result, a :class:`SummaryTable`, holds
only text: each backend draws it its own way (nnjax with ``rich``, nnref as
plain text), so the two agree on every cell by construction.

The table's rules:

- columns ``path``, ``module``, ``inputs``, ``outputs``, then ``flops`` and
  ``vjp_flops`` when asked for, then one column per variable collection;
- one row per call; ``setup`` is never a row; a path called again is shown
  again only with ``show_repeated=True``, and without variables;
- with ``depth``, rows deeper than it are dropped and a row *at* the depth
  counts everything under its path, so the rows still add up to the total;
- a collection cell lists the row's own variables (not those of a
  submodule that has its own row), a blank line, then ``count (bytes)`` in
  bold.

>>> import numpy as np
>>> f32 = lambda *shape: np.zeros(shape, np.float32)
>>> calls = [
...     CallRecord.of((), 'Foo', '__call__', (f32(16, 9),), {}, f32(16, 2)),
...     CallRecord.of(('Dense_0',), 'Dense', '__call__', (f32(16, 9),), {}, f32(16, 4)),
...     CallRecord.of(('Dense_1',), 'Dense', '__call__', (f32(16, 4),), {}, f32(16, 2)),
... ]
>>> variables = {'params': {'Dense_0': {'kernel': f32(9, 4), 'bias': f32(4)},
...                         'Dense_1': {'kernel': f32(4, 2), 'bias': f32(2)}}}
>>> table = build_summary_table('Foo', calls, variables)
>>> table.title, table.columns
('Foo Summary', ('path', 'module', 'inputs', 'outputs', 'params'))
>>> for row in table.plain_rows():
...     print(row)
('', 'Foo', 'float32[16,9]', 'float32[16,2]', '')
('Dense_0', 'Dense', 'float32[16,9]', 'float32[16,4]', 'bias: float32[4]\\nkernel: float32[9,4]\\n\\n40 (160 B)')
('Dense_1', 'Dense', 'float32[16,4]', 'float32[16,2]', 'bias: float32[2]\\nkernel: float32[4,2]\\n\\n10 (40 B)')
>>> table.footer, table.caption
(('', '', '', 'Total', '50 (200 B)'), '\\nTotal Parameters: 50 (200 B)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable, Optional

from shared_spec.summary_values import (
    describe_value,
    size_and_bytes,
    size_and_bytes_repr,
    strip_markup,
    yaml_block,
)

__all__ = ['CallRecord', 'SummaryTable', 'call_inputs', 'build_summary_table', 'box_view']

# Methods whose name the module cell leaves out.
_UNNAMED_METHODS = frozenset({'__call__', '<lambda>'})


def call_inputs(args: tuple, kwargs: dict) -> Any:
    """What the ``inputs`` cell shows for a call with ``args`` and ``kwargs``.

    One positional argument is shown as itself, several as their tuple,
    keyword arguments as a dict after them.

    >>> call_inputs((1,), {}), call_inputs((1, 2), {}), call_inputs((), {'a': 1})
    (1, (1, 2), {'a': 1})
    >>> call_inputs((1,), {'train': True}), call_inputs((), {})
    ((1, {'train': True}), ())
    """
    if args and kwargs:
        return (*args, kwargs)
    if args:
        return args[0] if len(args) == 1 else tuple(args)
    if kwargs:
        return dict(kwargs)
    return ()


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One module method call: where, which, with what, giving what.

    ``inputs`` and ``outputs`` are described trees (see
    :func:`shared_spec.summary_values.describe_value`): they hold no arrays.
    ``flops`` / ``vjp_flops`` are ``None`` unless the backend measured them.

    >>> CallRecord.of(('Dense_0',), 'Dense', '__call__', (2.0,), {}, 4.0).inputs
    '2.0'
    """

    path: tuple
    module_type: str
    method: str
    inputs: Any
    outputs: Any
    flops: Optional[int] = None
    vjp_flops: Optional[int] = None

    @classmethod
    def of(
        cls,
        path,
        module_type: str,
        method: str,
        args: tuple,
        kwargs: dict,
        outputs: Any,
        box: Optional[Callable[[Any], Any]] = None,
    ) -> 'CallRecord':
        """A record of a call, its arguments and output described at once (``box``: see ``describe_value``)."""
        return cls(
            tuple(path),
            module_type,
            method,
            describe_value(call_inputs(args, kwargs), box),
            describe_value(outputs, box),
        )


@dataclasses.dataclass(frozen=True)
class SummaryTable:
    """A summary table as text cells with ``[bold]``/``[dim]`` markup.

    ``footer`` has one cell per column: ``'Total'`` (to be right-aligned)
    in column ``total_column``, the collection totals after it.
    ``caption`` is shown in bold under the table.

    >>> t = SummaryTable('Foo Summary', ('path', 'params'), (('', '[bold]1 (4 B)[/bold]'),),
    ...                  ('Total', '1 (4 B)'), '\\nTotal Parameters: 1 (4 B)', 0)
    >>> t.plain_rows()
    (('', '1 (4 B)'),)
    """

    title: str
    columns: tuple
    rows: tuple
    footer: tuple
    caption: str
    total_column: int

    def plain_rows(self) -> tuple:
        """The rows without markup."""
        return tuple(tuple(strip_markup(cell) for cell in row) for row in self.rows)


def _node_at(tree: Any, path: tuple) -> Any:
    """The subtree of nested dicts ``tree`` at ``path``, or ``None``."""
    for name in path:
        if not isinstance(tree, Mapping) or name not in tree:
            return None
        tree = tree[name]
    return tree


def _path_variables(path: tuple, variables: dict) -> dict:
    """Per collection, every variable under ``path`` (collections without any left out)."""
    found = {}
    for collection, tree in variables.items():
        node = _node_at(tree, path)
        if node is not None:
            found[collection] = node
    return found


def _own_variables(path: tuple, variables: dict, called_paths: set) -> dict:
    """The variables under ``path`` that belong to no called submodule."""
    own = {}
    for collection, node in _path_variables(path, variables).items():
        if isinstance(node, Mapping):
            node = {k: v for k, v in node.items() if path + (k,) not in called_paths}
        own[collection] = node
    return own


def _collection_cell(own: dict, counted: dict, collection: str) -> str:
    text = ''
    if collection in own:
        text = yaml_block(own[collection])
        if text:
            text += '\n\n'
    size_text = size_and_bytes_repr(*size_and_bytes(counted.get(collection, {})))
    if size_text:
        text += f'[bold]{size_text}[/bold]'
    return text


def _module_cell(call: CallRecord) -> str:
    if call.method in _UNNAMED_METHODS:
        return call.module_type
    return f'{call.module_type} [dim]({call.method})[/dim]'


def _flops_cell(value: Optional[int]) -> str:
    return '' if value is None else str(value)


def build_summary_table(
    module_type: str,
    calls,
    variables: Mapping,
    *,
    depth: Optional[int] = None,
    show_repeated: bool = False,
    show_flops: bool = False,
    show_vjp_flops: bool = False,
    box: Optional[Callable[[Any], Any]] = None,
) -> SummaryTable:
    """The summary table of a module of class ``module_type`` (see the module docstring).

    ``calls`` are the :class:`CallRecord` of ``init`` in the order the calls
    started; ``variables`` is what ``init`` returned (array-like leaves, or
    already described ones; ``box`` as in ``describe_value``).

    >>> import numpy as np
    >>> calls = [CallRecord.of((), 'Net', 'encode', (np.ones(2, np.int8),), {'train': False}, None)]
    >>> table = build_summary_table('Net', calls, {'params': {'w': np.ones(3, np.float32)}}, depth=0)
    >>> table.rows[0][1], table.plain_rows()[0][2:]
    ('Net [dim](encode)[/dim]', ('- int8[2]\\n- train: False', 'None', 'w: float32[3]\\n\\n3 (12 B)'))
    """
    described = describe_value(dict(variables), box)
    collections = tuple(described)
    calls = [c for c in calls if c is not None]
    called_paths = {c.path for c in calls}

    info_columns = ['path', 'module', 'inputs', 'outputs']
    if show_flops:
        info_columns.append('flops')
    if show_vjp_flops:
        info_columns.append('vjp_flops')

    rows = []
    totals = {col: (0, 0) for col in collections}
    shown_paths: set = set()
    for call in calls:
        if call.path in shown_paths:
            if not show_repeated:
                continue
            own = counted = {}
        else:
            if depth is not None and len(call.path) > depth:
                continue
            own = _own_variables(call.path, described, called_paths)
            at_limit = depth is not None and len(call.path) == depth
            counted = _path_variables(call.path, described) if at_limit else own
        shown_paths.add(call.path)

        for col in collections:
            size, nbytes = size_and_bytes(counted.get(col, {}))
            totals[col] = (totals[col][0] + size, totals[col][1] + nbytes)

        cells = ['/'.join(call.path), _module_cell(call), yaml_block(call.inputs), yaml_block(call.outputs)]
        if show_flops:
            cells.append(_flops_cell(call.flops))
        if show_vjp_flops:
            cells.append(_flops_cell(call.vjp_flops))
        cells.extend(_collection_cell(own, counted, col) for col in collections)
        rows.append(tuple(cells))

    total_column = len(info_columns) - 1
    footer = [''] * total_column + ['Total'] + [size_and_bytes_repr(*totals[col]) for col in collections]
    grand_total = (sum(s for s, _ in totals.values()), sum(b for _, b in totals.values()))
    return SummaryTable(
        title=f'{module_type} Summary',
        columns=tuple(info_columns) + collections,
        rows=tuple(rows),
        footer=tuple(footer),
        caption=f'\nTotal Parameters: {size_and_bytes_repr(*grand_total)}',
        total_column=total_column,
    )


def box_view(partitioned_type: type, box_type: type) -> Callable[[Any], Any]:
    """``describe_value``'s ``box`` argument for a backend's metadata classes.

    A ``Partitioned`` shows its value with its names; another box its
    unboxed value without names; anything else is not a box (``None``).

    >>> class Box:
    ...     def __init__(self, value): self.value, self.names = value, ('data',)
    ...     def unbox(self): return self.value
    >>> view = box_view(Box, Box)
    >>> view(Box(1.0)), view(1.0)
    ((1.0, ('data',)), None)
    """

    def box(x: Any):
        if isinstance(x, partitioned_type):
            return x.value, x.names
        if isinstance(x, box_type):
            return x.unbox(), None
        return None

    return box
