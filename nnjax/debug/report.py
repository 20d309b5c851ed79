"""What :func:`nnjax.debug.compare` found: one row per submodule call, the first divergence marked.

Each :class:`Row` carries two kinds of error:

* **global** (``input_abs``/``input_rel``/``output_abs``/``output_rel``):
  nnjax against nnref run on its own from the same variables and inputs.
  Read down the table, they show how error grows through the model.
* **local** (``local``, in tolerance units: above 1 is beyond tolerance):
  nnref run on nnjax's own inputs to this call, with every submodule inside
  it returning nnjax's own outputs. It measures only the code of this call
  (``glue`` is the same for the arrays this call hands to its submodules),
  which is what makes the blame local.

A call *diverges* when its local error, its glue error, or its structure
(different arrays, a call missing on one side) is off. The first divergence,
in execution order, is the submodule to look at.
"""

from __future__ import annotations

import dataclasses
import io


@dataclasses.dataclass(frozen=True)
class Row:
    """One submodule call, nnjax against the float64 reference."""

    path: str
    method: str
    kind: str
    index: int
    dtype: str
    family: str
    input_abs: float
    input_rel: float
    output_abs: float
    output_rel: float
    local: float
    glue: float = 0.0
    note: str = ''

    @property
    def diverges(self) -> bool:
        return self.local > 1.0 or self.glue > 1.0 or bool(self.note)

    @property
    def where(self) -> str:
        """``'/Block_1/LayerNorm_0'``, with the method and call number when they are not the plain first call."""
        text = self.path
        if self.method != '__call__':
            text += f'.{self.method}'
        if self.index:
            text += f' #{self.index}'
        return text


@dataclasses.dataclass(frozen=True)
class StateRow:
    """One variable of a mutated collection (BatchNorm statistics, caches), nnjax against nnref."""

    collection: str
    path: str  # '/BatchNorm_0/mean'
    dtype: str
    abs: float
    rel: float
    local: float  # the update computed from nnjax's own inputs, in tolerance units
    note: str = ''

    @property
    def diverges(self) -> bool:
        return self.local > 1.0 or bool(self.note)

    @property
    def module_path(self) -> str:
        return self.path.rsplit('/', 1)[0] or '/'


@dataclasses.dataclass(frozen=True)
class DivergenceReport:
    """Rows in execution order; ``first_divergence`` is the path to look at, or ``None``."""

    rows: tuple
    state: tuple = ()
    reference_dtype: str = 'float64'

    @property
    def first(self):
        """The first diverging :class:`Row` (or :class:`StateRow` when only a mutated variable is off)."""
        for row in self.rows:
            if row.diverges:
                return row
        for row in self.state:
            if row.diverges:
                return row
        return None

    @property
    def first_divergence(self) -> str | None:
        first = self.first
        if first is None:
            return None
        return first.path if isinstance(first, Row) else first.module_path

    @property
    def diverged(self) -> bool:
        return self.first is not None

    def _summary(self) -> str:
        first = self.first
        if first is None:
            return (
                f'No divergence: every call agrees with the {self.reference_dtype} reference within '
                f'shared_spec tolerances ({len(self.rows)} calls compared).'
            )
        if isinstance(first, Row):
            why = first.note or (
                f'its own computation is {max(first.local, first.glue):.3g}x the '
                f'{first.family} tolerance for {first.dtype}, on its own inputs'
            )
            return f'First divergence: {first.where} ({first.kind}): {why}.'
        why = first.note or f'the update is {first.local:.3g}x the tolerance'
        return f'First divergence: {first.collection} variable {first.path}: {why}.'

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        first = self.first
        table = Table(title=f'nnjax vs nnref ({self.reference_dtype})', title_justify='left')
        for header, justify in [
            ('', 'left'),
            ('call', 'left'),
            ('module', 'left'),
            ('dtype', 'left'),
            ('in abs', 'right'),
            ('in rel', 'right'),
            ('out abs', 'right'),
            ('out rel', 'right'),
            ('local/tol', 'right'),
        ]:
            table.add_column(
                header, justify=justify, no_wrap=True, overflow='ellipsis', max_width=24 if header == 'module' else None
            )
        depth0 = min((r.path.count('/') for r in self.rows), default=0)
        for row in self.rows:
            mark = '>>' if row is first else ('!' if row.diverges else '')
            indent = '  ' * (row.path.count('/') - depth0) if row.path != '/' else ''
            style = 'bold red' if row is first else ('red' if row.diverges else None)
            local = max(row.local, row.glue)
            table.add_row(
                mark,
                indent + row.where,
                row.kind,
                _short(row.dtype),
                _num(row.input_abs),
                _num(row.input_rel),
                _num(row.output_abs),
                _num(row.output_rel),
                row.note[:30] if row.note else f'{local:.2f}',
                style=style,
            )
        parts = [table]
        if self.state:
            state = Table(title='mutated collections', title_justify='left')
            for header in ('', 'collection', 'variable', 'dtype', 'abs', 'rel', 'local/tol'):
                state.add_column(header, no_wrap=True)
            for row in self.state:
                mark = '>>' if row is first else ('!' if row.diverges else '')
                state.add_row(
                    mark,
                    row.collection,
                    row.path,
                    row.dtype,
                    _num(row.abs),
                    _num(row.rel),
                    row.note[:30] if row.note else f'{row.local:.2f}',
                    style='red' if row.diverges else None,
                )
            parts.append(state)
        parts.append(Text(self._summary()))
        return Group(*parts)

    def __str__(self) -> str:
        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, width=150, color_system=None, force_terminal=False).print(self)
        return '\n'.join(line.rstrip() for line in buffer.getvalue().splitlines())

    def __repr__(self) -> str:
        return f'DivergenceReport(first_divergence={self.first_divergence!r}, calls={len(self.rows)})'


def _short(dtype: str) -> str:
    """'bfloat16' -> 'bf16', 'float32' -> 'f32', 'int32' -> 'i32'."""
    return dtype.replace('bfloat', 'bf').replace('float', 'f').replace('uint', 'u').replace('int', 'i')


def _num(x: float) -> str:
    return '-' if x != x else f'{x:.1e}'
