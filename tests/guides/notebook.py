"""Run a guide of seed 003 on nnjax like a notebook, and report each cell as JSON.

The guides (``GUIDES``: a heading to start at and one to stop before) are cut
out of ``003_ed3e6eab6dbd452e.txt`` and split into fenced blocks with the
checkpointing runner's reader (page breaks joined, typesetter wraps undone).
Every block is a cell, numbered from 0 in seed order; ``guide_table.py`` says
what happens to each one (run, or not run with a reason) and which repairs
apply. A cell that runs has only its import lines rewritten (the table in
``tests/seed_code.py`` plus :data:`KEPT_IMPORTS` for the packages
``standins.py`` replaces). Each run of a guide is a fresh namespace in a fresh
directory.

``python -m tests.guides.notebook GUIDE OUT.json`` writes ``{run: {index:
report}}``; a report holds the error (type and message, with the traceback's
last lines), the printed text, the displayed value of a trailing expression
when it is a plain Python literal, and the seconds the cell took. A fresh interpreter per guide lets a guide
set ``XLA_FLAGS`` before JAX starts, as the parallel-training guide does.

>>> cells = guide_cells('sharp', seed_text())
>>> [cell.split('\\n', 1)[0][:20] for cell in cells]
['! pip install -qq fl', '# Setup.  ', 'No GPU/TPU found, fa']
"""

import ast
import contextlib
import copy
import io
import json
import os
import re
import sys
import textwrap
import time
import traceback
from pathlib import Path

from tests.guides import guide_table as table
from tests.nnjax.checkpointing_guides import SEED_PATH, _blocks, _unwrap

#: Import lines of the stand-in packages (``standins.py``), kept as written.
KEPT_IMPORTS = [
    r'import tensorflow_datasets as tfds',
    r'import tensorflow as tf',
    r'from clu import metrics',
    r'import matplotlib\.pyplot as plt',
    r'import optax',
    r'import numpy as np',
    r'import jax(\.numpy as jnp)?',
    r'from jax import .+',
    r'import jax\.numpy as jnp',
    r'from jax\.sharding import .+',
    r'from jax\.experimental import .+',
    r'from jax\.lax import .+',
    r'from jax\.experimental\.pjit import .+',
    r'import functools',
    r'from functools import .+',
    r'from typing import .+',
    r'import typing as t',
    r'import os',
    r'import collections',
    r'import dataclasses',
    r'import time',
    r'import math',
    r'import itertools',
    r'from itertools import .+',
    r'import copy',
    r'import pprint',
    r'from pprint import .+',
    r'import orbax\.checkpoint',
]


def seed_text():
    return SEED_PATH.read_text(encoding='utf-8')


def guide_body(guide, text):
    start, end = table.GUIDES[guide]
    for heading in (start, end):
        if text.count('\n' + heading + '\n') != 1:
            raise ValueError(f'heading {heading!r} is not in the seed exactly once')
    return text.split('\n' + start + '\n', 1)[1].split('\n' + end + '\n', 1)[0]


def guide_cells(guide, text):
    """The guide's fenced blocks, unwrapped and dedented, in seed order."""
    # '↵' ends a line the typesetter wrapped: the next line continues it.
    return [
        textwrap.dedent(_unwrap(body.replace('↵\n', '').replace('↵', ''))).strip('\n') + '\n'
        for body, _ in _blocks(guide_body(guide, text))
    ]


def check_table(guide, cells):
    """Raise ``ValueError`` if the table's first lines or repairs do not match the seed."""
    listed = [
        (i, e[0])
        for kind in (table.NOT_RUN, table.FAILS_AS_DOCUMENTED, table.ISOLATED)
        for i, e in kind.get(guide, {}).items()
    ]
    for index, first in listed:
        if not cells[index].startswith(first):
            raise ValueError(f'{guide}[{index}] starts {cells[index][:60]!r}, the table says {first!r}')
    for index, old, _new, _ in table.REPAIRS.get(guide, []):
        if old not in cells[index]:
            raise ValueError(f'repair {old!r} does not occur in {guide}[{index}]')


def repaired(guide, cells):
    out = list(cells)
    for index, indent, _ in table.MERGES.get(guide, []):
        # The next block is the rest of this one, cut at a page break that lost its indent.
        out[index] = out[index].rstrip('\n') + '\n' + textwrap.indent(out[index + 1], ' ' * indent)
        out[index + 1] = ''
    for index, old, new, _ in table.REPAIRS.get(guide, []):
        out[index] = out[index].replace(old, new)
    return out


def rewrite(source):
    """Import lines mapped with ``tests/seed_code.py``'s nnjax table, or kept (stand-ins)."""
    from tests.seed_code import IMPORT_REWRITES, is_import_line

    lines = []
    for line in source.split('\n'):
        # A trailing comment ('import jax.numpy as jnp # JAX NumPy') is not part of the rule.
        stripped = re.sub(r'\s+#.*$', '', line.strip())
        if is_import_line(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            for pattern, replacement in IMPORT_REWRITES['nnjax'] + table.EXTRA_REWRITES:
                if re.fullmatch(pattern, stripped):
                    line = indent + re.sub(pattern, replacement, stripped)
                    break
            else:
                if not any(re.fullmatch(p, stripped) for p in KEPT_IMPORTS):
                    raise ValueError(f'import line with no mapping for nnjax: {stripped!r}')
        lines.append(line)
    return '\n'.join(lines)


def _literal_repr(value):
    """``repr(value)`` when it reads back as the same Python literal (what a notebook displays)."""
    if type(value) not in (bool, int, float, str, tuple, list, dict):
        return None  # arrays, modules, FrozenDicts: not literals (and their repr can be costly)
    text = repr(value)
    if len(text) > 4000:
        return None
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _execute(source, namespace, rewrite_imports=True):
    from tests.seed_code import run_cell

    out = io.StringIO()
    report = {'error': None}
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            value = run_cell(rewrite(source) if rewrite_imports else source, namespace)
        report['value'] = _literal_repr(value)
    except Exception as exc:  # reported, and judged by the test
        report['error'] = {
            'type': type(exc).__name__,
            'mro': [c.__name__ for c in type(exc).__mro__],
            'message': str(exc)[:2000],
            'where': ''.join(traceback.format_exc().splitlines(True)[-6:]),
        }
    report['stdout'] = out.getvalue()[-4000:]
    report['seconds'] = round(time.perf_counter() - start, 3)
    return report


def _isolated_copy(namespace):
    # Dicts are copied deeply: an isolated cell may assign into one (params['k'] = ...).
    return {k: copy.deepcopy(v) if isinstance(v, dict) and not k.startswith('__') else v for k, v in namespace.items()}


def run_guide(guide, text):
    """{run: {index: report}}: each run's cells in order in one namespace and directory."""
    from tests.guides import standins

    standins.install()
    cells = guide_cells(guide, text)
    check_table(guide, cells)
    cells = repaired(guide, cells)
    home = Path.cwd()
    reports = {}
    for run, indices in table.runs(guide, len(cells)).items():
        (home / run).mkdir()
        os.chdir(home / run)
        namespace = {'__name__': f'guide_{guide}_{run}'}
        reports[run] = {}
        preamble = table.PREAMBLES.get((guide, run))
        if preamble is not None:
            # Our own code (what the guide leaves out), so its imports are ours too.
            reports[run]['preamble'] = _execute(preamble[0], namespace, rewrite_imports=False)
        isolated = table.ISOLATED.get(guide, {})
        for index in indices:
            # An isolated cell runs on a copy: what it binds does not reach later cells.
            where = _isolated_copy(namespace) if index in isolated else namespace
            reports[run][str(index)] = _execute(cells[index], where)
    os.chdir(home)
    return reports


def main(argv):
    guide, out_path = argv
    Path(out_path).write_text(json.dumps(run_guide(guide, seed_text())), encoding='utf-8')


if __name__ == '__main__':
    main(sys.argv[1:])
