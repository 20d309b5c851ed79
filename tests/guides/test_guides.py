"""The guides of seed 003 run on nnjax with only their imports changed.

Issue 15: "the whole of seed 003's guides run on nnjax with only imports
changed (data downloads replaced by small random arrays)". ``notebook.py``
runs each guide of :data:`guide_table.GUIDES` in a fresh interpreter, cell by
cell like a notebook; ``guide_table.py`` lists, with reasons, the blocks that
are not Python (shell commands, printed output, sketches with ``...``), the
OCR repairs, the cells that must fail as the guide or the seed documents, and
the stand-ins for downloads (``standins.py``). Every other cell must run
without error.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guides import guide_table as table
from tests.guides import notebook

ROOT = Path(__file__).resolve().parents[2]
#: 8 host devices, as the parallel-training guide asks; and XLA's CPU backend without its LLVM
#: optimisation passes: the guides compile many small programs and run each a few times, so
#: this cuts the run by about 40% (compilation dominates). It is a code-generation level, not
#: a numerics mode: every guide gives the same results with and without it.
XLA_FLAGS = ['--xla_force_host_platform_device_count=8', '--xla_backend_optimization_level=0']
GUIDE_TIMEOUT_S = 400  # the slowest guide takes well under a minute; this only stops a hung child

if not notebook.SEED_PATH.is_file():
    pytest.skip(f'seed not found at {notebook.SEED_PATH}', allow_module_level=True)

SEED_TEXT = notebook.seed_text()
_REPORTS = {}


def _reports(guide, tmp_path_factory):
    if guide not in _REPORTS:
        workdir = tmp_path_factory.mktemp(guide)
        out = workdir / 'reports.json'
        env = dict(
            os.environ,
            XLA_FLAGS=' '.join(XLA_FLAGS),
            JAX_PLATFORMS='cpu',
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
        )
        child = subprocess.run(
            [sys.executable, '-m', 'tests.guides.notebook', guide, str(out)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=GUIDE_TIMEOUT_S,
        )
        if child.returncode != 0 or not out.is_file():
            pytest.fail(f'the {guide} runner failed ({child.returncode}):\n{child.stderr[-6000:]}')
        _REPORTS[guide] = json.loads(out.read_text(encoding='utf-8'))
    return _REPORTS[guide]


@pytest.mark.parametrize('guide', sorted(table.GUIDES))
def test_table_matches_the_seed(guide):
    cells = notebook.guide_cells(guide, SEED_TEXT)
    notebook.check_table(guide, cells)  # raises if a listed cell or a repair is not in the seed


@pytest.mark.parametrize('guide', sorted(table.GUIDES))
def test_cells_listed_as_not_python_are_not_python(guide):
    cells = notebook.repaired(guide, notebook.guide_cells(guide, SEED_TEXT))
    for index, (_, reason) in table.NOT_RUN.get(guide, {}).items():
        if reason in (table.SHELL, table.OUTPUT):
            with pytest.raises(SyntaxError):
                ast.parse(cells[index])


@pytest.mark.parametrize('guide', sorted(table.GUIDES))
def test_cells_listed_as_printed_reprs_are_one_expression(guide):
    # A repr that parses (`PartitionSpec('data', None)`, `FrozenDict({...})`) is still output:
    # one expression statement, no assignment, definition or import.
    cells = notebook.repaired(guide, notebook.guide_cells(guide, SEED_TEXT))
    for index, (_, reason) in table.NOT_RUN.get(guide, {}).items():
        if reason == table.OUTPUT_REPR:
            body = ast.parse(cells[index]).body
            assert len(body) == 1 and isinstance(body[0], ast.Expr), (guide, index)


@pytest.mark.parametrize('guide', sorted(table.GUIDES))
def test_every_cell_runs_or_has_a_reason(guide):
    cells = notebook.guide_cells(guide, SEED_TEXT)
    ran = {i for indices in table.runs(guide, len(cells)).values() for i in indices}
    merged_away = {index + 1 for index, _, _ in table.MERGES.get(guide, [])}
    not_run = set(table.NOT_RUN.get(guide, {}))
    assert not ran & not_run, f'{guide}: cells both run and not run: {sorted(ran & not_run)}'
    missing = set(range(len(cells))) - ran - not_run - merged_away
    assert not missing, f'{guide}: cells neither run nor listed as not run: {sorted(missing)}'


def test_guides_cover_sections_5_1_to_5_2_7():
    # The guides here and the two checkpointing guides (tests/nnjax/checkpointing_guides.py)
    # tile the seed from '5.1 Quickstart' to '5.3 Examples': no code block falls between them.
    from tests.nnjax import checkpointing_guides

    ranges = sorted(
        (SEED_TEXT.index('\n' + start + '\n'), start, end)
        for start, end in [*table.GUIDES.values(), *checkpointing_guides.GUIDES.values()]
    )
    assert ranges[0][1] == '### 5.1 Quickstart'
    assert ranges[-1][2] == '## 5.3 Examples'
    for (_, _, end), (next_at, next_start, _) in zip(ranges, ranges[1:]):
        gap = SEED_TEXT[SEED_TEXT.index('\n' + end + '\n') : next_at]
        assert '```' not in gap, f'code between {end!r} and {next_start!r} belongs to no guide'


@pytest.mark.parametrize('guide', sorted(table.GUIDES))
def test_guide_runs(guide, tmp_path_factory):
    reports = _reports(guide, tmp_path_factory)
    fails = table.FAILS_AS_DOCUMENTED.get(guide, {})
    problems = []
    for run, cells in reports.items():
        for index, report in cells.items():
            error = report['error']
            expected = fails.get(int(index)) if index.isdigit() else None
            if expected is None and error is not None:
                problems.append(f"{run}[{index}] {error['type']}: {error['message'][:300]}\n{error['where']}")
            elif expected is not None and (error is None or expected[1] not in error['mro']):
                problems.append(f'{run}[{index}] should raise {expected[1]} ({expected[2]}), got {error}')
    assert not problems, '\n\n'.join(problems)


def _printed_literals(guide):
    """[(index, value)] of the guide's output cells that are plain Python literals."""
    cells = notebook.guide_cells(guide, SEED_TEXT)
    literals = []
    for index, (_, reason) in table.NOT_RUN.get(guide, {}).items():
        if reason == table.OUTPUT_REPR:
            try:
                literals.append((index, ast.literal_eval(cells[index])))
            except ValueError:  # the repr of an object (FrozenDict({...}), Mesh(...))
                pass
    return literals


@pytest.mark.parametrize('guide', [g for g in sorted(table.GUIDES) if _printed_literals(g)])
def test_displayed_literals_match_the_seed_output(guide, tmp_path_factory):
    # Where the seed prints a plain literal (`True`, a dict of shapes) after a cell, the value
    # that cell displays on nnjax must be that literal.
    reports = _reports(guide, tmp_path_factory)
    for index, expected in _printed_literals(guide):
        shown = [run[str(index - 1)] for run in reports.values() if str(index - 1) in run]
        assert shown, f'{guide}[{index}]: the cell above did not run'
        assert all(r['value'] is not None and ast.literal_eval(r['value']) == expected for r in shown), (
            guide,
            index,
            [r.get('value') for r in shown],
        )
