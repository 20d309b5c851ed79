"""A :class:`~shared_spec.summary_table.SummaryTable` drawn as a plain-text box table.

The layout follows what ``rich`` draws for nnjax: the title centred above,
a heavy box around the header, a line between rows, the footer row (with
``Total`` right-aligned) and the caption centred below. Markup is dropped.
When the natural width exceeds ``width``, the widest columns give up room
first and their cells wrap.

>>> from shared_spec.summary_table import SummaryTable
>>> table = SummaryTable('Net Summary', ('path', 'params'), (('', '[bold]4 (16 B)[/bold]'),),
...                      ('Total', '4 (16 B)'), '\\nTotal Parameters: 4 (16 B)', 0)
>>> print(render_table(table))  # doctest: +NORMALIZE_WHITESPACE
<BLANKLINE>
        Net Summary
┏━━━━━━━┳━━━━━━━━━━┓
┃ path  ┃ params   ┃
┡━━━━━━━╇━━━━━━━━━━┩
│       │ 4 (16 B) │
├───────┼──────────┤
│ Total │ 4 (16 B) │
└───────┴──────────┘
<BLANKLINE>
Total Parameters: 4 (16 B)
<BLANKLINE>
<BLANKLINE>
"""

from __future__ import annotations

import textwrap

from shared_spec.summary_table import SummaryTable
from shared_spec.summary_values import strip_markup

__all__ = ['render_table']

_MIN_COLUMN_WIDTH = 6


def _column_widths(cells_by_column: list, budget: int) -> list:
    """Natural widths, the widest narrowed one step at a time until they fit ``budget``."""
    widths = [max((len(line) for cell in column for line in cell.split('\n')), default=0) for column in cells_by_column]
    while sum(widths) > budget:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= _MIN_COLUMN_WIDTH:
            break  # cannot shrink further: let the table overflow
        widths[widest] -= 1
    return widths


def _wrap(cell: str, width: int) -> list:
    lines = []
    for line in cell.split('\n'):
        if len(line) <= width:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip(' '))]
        if len(indent) >= width:
            indent = ''
        lines.extend(
            textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=True, break_on_hyphens=False)
            or ['']
        )
    return lines


def _text_rows(cells: tuple, widths: list, right_aligned: int = -1) -> list:
    wrapped = [_wrap(cell, w) for cell, w in zip(cells, widths)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for k in range(height):
        parts = []
        for i, (lines, w) in enumerate(zip(wrapped, widths)):
            text = lines[k] if k < len(lines) else ''
            parts.append(text.rjust(w) if i == right_aligned else text.ljust(w))
        out.append(parts)
    return out


def _rule(widths: list, left: str, fill: str, middle: str, right: str) -> str:
    return left + middle.join(fill * (w + 2) for w in widths) + right


def _line(parts: list, edge: str, middle: str) -> str:
    return edge + ' ' + f' {middle} '.join(parts) + ' ' + edge


def render_table(table: SummaryTable, width: int = 100) -> str:
    """``table`` as box-drawn plain text (``'\\n' + text + '\\n'``), at most about ``width`` wide.

    >>> from shared_spec.summary_table import SummaryTable
    >>> t = SummaryTable('T Summary', ('path', 'inputs'), (('a', 'x' * 30),), ('Total', ''), '\\nTotal Parameters: ', 0)
    >>> max(len(line) for line in render_table(t, width=20).splitlines())
    20
    """
    header = tuple(table.columns)
    rows = [tuple(strip_markup(cell) for cell in row) for row in table.rows]
    footer = tuple(strip_markup(cell) for cell in table.footer)
    columns = list(zip(header, *rows, footer))
    budget = width - 3 * len(header) - 1  # borders and one space of padding either side
    widths = _column_widths(columns, budget)

    lines = [_rule(widths, '┏', '━', '┳', '┓')]
    lines += [_line(parts, '┃', '┃') for parts in _text_rows(header, widths)]
    lines.append(_rule(widths, '┡', '━', '╇', '┩'))
    body = rows + [footer]
    for k, row in enumerate(body):
        if k:
            lines.append(_rule(widths, '├', '─', '┼', '┤'))
        right_aligned = table.total_column if k == len(body) - 1 else -1
        lines += [_line(parts, '│', '│') for parts in _text_rows(row, widths, right_aligned)]
    lines.append(_rule(widths, '└', '─', '┴', '┘'))

    table_width = len(lines[0])
    title = [table.title.center(table_width).rstrip()] if table.title else []
    caption = [line.center(table_width).rstrip() for line in table.caption.split('\n')]
    return '\n' + '\n'.join(title + lines + caption) + '\n\n'
