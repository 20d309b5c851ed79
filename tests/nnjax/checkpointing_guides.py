"""The seed's checkpointing guides, read from ``003_ed3e6eab6dbd452e.txt`` and run as scripts.

Two guides of seed 003 are used: "Save and load checkpoints" (with its
"Asynchronous checkpointing" and "Multi-host/multi-process checkpointing"
sections) and "Migrate checkpointing to Orbax". The seed is an OCR'd PDF, so
this module

* cuts each guide out of the seed between two headings (:data:`GUIDES`);
* splits it into fenced blocks, joins the blocks a page break split (only
  "(continues on next page)" / "(continued from previous page)" between
  them), undoes the typesetter's line wraps (a line starting with ``↳`` or
  ``↪``, plus the space after it, continues the line above) and tells the
  code cells from the printed outputs (:func:`guide_cells`);
* checks that the code cells are the ones :data:`CELLS` names (by first line,
  in order), so a changed seed fails loudly;
* applies a short table of repairs (:data:`REPAIRS`: OCR typos, a name JAX
  has since removed, absolute paths for the pure-Orbax calls, one call JAX
  now wants earlier), each with its reason and asserted to occur in the
  seed's cell, and rewrites the imports with ``tests/seed_code.py``'s nnjax
  table; nothing else changes. The migrate guide's imports are not printed
  in the seed: :data:`PREAMBLES` supplies them.

Run as ``python -m tests.nnjax.checkpointing_guides GUIDE OUT.json`` in an
empty working directory (the guides write to relative ``tmp/...`` paths), it
executes the guide's cells in order in one namespace per run
(:data:`RUNS`), like a notebook, plus a few :data:`PROBES` (sources that show
why a repair or a listed failure is needed), and writes a JSON report per
cell: the error if any, the printed text, the displayed value of a trailing
expression, the names the cell bound, and the files under ``tmp/``. Values
are described as JSON (:func:`describe`); this module imports no JAX itself,
so the guide's own first cell can still set ``XLA_FLAGS`` before JAX
starts.

>>> [key for key, _ in CELLS['migrate']][:3]
['setup', 'manager_legacy', 'manager_orbax']
>>> _unwrap('f(a,\\n↳ b)')
'f(a,b)'
"""

import ast
import contextlib
import dataclasses
import io
import json
import os
import re
import socket
import sys
import textwrap
from pathlib import Path

SEED_PATH = Path(__file__).resolve().parents[2].parent / 'shared' / 'seeds' / '003_ed3e6eab6dbd452e.txt'

#: guide -> (heading it starts at, heading of what follows it).
GUIDES = {
    'save_load': ('### Save and load checkpoints', '## 5.2.4 Parallel training'),
    'migrate': ('## Migrate checkpointing to Orbx', '### Upgrading my codebase to Optax'),
}

#: guide -> [(key, how the code cell's first line starts)], in seed order.
CELLS = {
    'save_load': [
        ('pip_install', '# replace with `pip install -U flax` after release 0.6.9.'),
        ('xla_flags', 'import os'),
        ('imports', 'from typing import Optional, Any'),
        ('clean_tmp', "ckpt_dir = 'tmp'"),
        ('make_ckpt', '# A simple model with one linear layer.'),
        ('orbax_save', 'from flax.training import orbax_utils'),
        ('orbax_manager_save', 'options = orbax.checkpoint.CheckpointManagerOptions(max_to_keep=2, create=True)'),
        ('legacy_save', '# Import Flax Checkpoints.'),
        ('orbax_restore_raw', "raw_restored = orbax_checkpointer.restore('tmp/orbax/single_save')"),
        ('orbax_manager_restore_raw', 'step = checkpoint_manager.latest_step() # step = 4'),
        (
            'legacy_restore_raw',
            "raw_restored = checkpoints.restore_checkpoint(ckpt_dir='tmp/flax-checkpointing',target=None)",
        ),
        ('orbax_restore_target', 'empty_state = train_state.TrainState.create('),
        ('orbax_manager_restore_target', 'checkpoint_manager.restore(4, items=target)'),
        ('legacy_restore_target', "checkpoints.restore_checkpoint(ckpt_dir='tmp/flax-checkpointing', target=target)"),
        ('custom_state_save', 'class CustomTrainState(train_state.TrainState):'),
        ('partial_target', 'restored = checkpoint_manager.restore(5, items=target)'),
        ('partial_checkpoint_orbax', 'try:'),
        ('partial_checkpoint_flax_orbax', '# Save in the "Flax-with-Orbx" backend.'),
        ('partial_checkpoint_legacy', '# Save using the legacy Flax `checkpoints` API.'),
        ('async_save', '# `orbax.checkpoint.AsyncCheckpointer` needs some multi-process initialization'),
        ('async_manager', 'async_checkpoint_manager = orbax.checkpoint.CheckpointManager('),
        ('mp_array', 'from jax.sharding import PartitionSpec, NamedSharding'),
        ('mp_manager_save', 'async_checkpoint_manager.save(0, mp_ckpt)'),
        ('mp_orbax_restore', "# The reference doesn't need to be as large as your checkpoint!"),
        (
            'mp_legacy_save',
            'async_checkpointer = orbx.checkpoint.AsyncCheckpointer(orbx.checkpoint.PyTreeCheckpointHandler(), timeout_secs=50)',
        ),
        ('mp_legacy_restore', 'mp_restored = checkpoints.restore_checkpoint(ckpt_dir,'),
        ('host0_only_pattern', 'if jax.process_index() == 0:'),
        ('all_hosts_pattern', 'flax.training.checkpoints.save_checkpoint_multiprocess(...)'),
    ],
    'migrate': [
        ('setup', '# Create some dummy variables for this example.'),
        ('manager_legacy', "CKPT_DIR = './tmp/'"),
        ('manager_orbax', "CKPT_DIR = './tmp/orbax'"),
        ('pure_legacy', "PURE_CKPT_DIR = './tmp/pure'"),
        ('pure_orbax', "PURE_CKPT_DIR = './tmp/pure'"),
        ('no_target_legacy', "NOTARGET_CKPT_DIR = './tmp/no_target'"),
        ('no_target_orbax', "NOTARGET_CKPT_DIR = './tmp/no_target'"),
        ('array_legacy', "ARR_CKPT_DIR = './tmp/singleton'"),
        ('array_orbax', "ARR_CKPT_DIR = './tmp/singleton'"),
    ],
}

#: Stands for a free TCP port, chosen when the guide runs.
FREE_PORT = '<free port>'

_TREE_MAP = (
    'jax.tree_map no longer exists in JAX (deprecated in 0.4.26, since removed); '
    'jax.tree_util.tree_map is the same function'
)
_ABSOLUTE = (
    'orbax-checkpoint 0.12.8 refuses relative checkpoint paths ("Checkpoint path '
    'should be absolute"); the guide\'s pure-Orbax calls get os.path.abspath of the '
    'same path'
)

#: (guide, cell key, seed text, repaired text, reason). Each seed text must occur in that
#: cell; every occurrence in the cell is replaced.
REPAIRS = [
    (
        'save_load',
        'imports',
        'import orbx.checkpoint',
        'import orbax.checkpoint',
        "OCR typo: the package is 'orbax' (every later cell says orbax.checkpoint)",
    ),
    # JAX now refuses jax.distributed.initialize once its backend is up, and the
    # guide calls it after computing: the call moves to the end of the imports
    # cell, before any computation, so the single-process runtime the guide
    # wants exists. A probe shows the call where the guide has it raising.
    (
        'save_load',
        'imports',
        'import optax',
        f'import optax\njax.distributed.initialize("localhost:{FREE_PORT}", num_processes=1, process_id=0)',
        'moved here from the async cell (JAX must initialise the distributed runtime before any '
        'computation), on a free port instead of 8889',
    ),
    ('save_load', 'make_ckpt', 'jax.tree_map(', 'jax.tree_util.tree_map(', _TREE_MAP),
    (
        'save_load',
        'orbax_save',
        "'tmp/orbox/single_save'",
        "os.path.abspath('tmp/orbax/single_save')",
        "OCR typo 'orbox' (every cell that reads this checkpoint says 'tmp/orbax/single_save'); " + _ABSOLUTE,
    ),
    (
        'save_load',
        'orbax_manager_save',
        "'tmp/orbox/managed', orbax_checkpointer",
        "os.path.abspath('tmp/orbox/managed'), orbax_checkpointer",
        _ABSOLUTE,
    ),
    (
        'save_load',
        'orbax_restore_raw',
        "restore('tmp/orbax/single_save')",
        "restore(os.path.abspath('tmp/orbax/single_save'))",
        _ABSOLUTE,
    ),
    ('save_load', 'orbax_restore_target', 'jax.tree_map(', 'jax.tree_util.tree_map(', _TREE_MAP),
    (
        'save_load',
        'orbax_restore_target',
        "restore('tmp/orbax/single_save',",
        "restore(os.path.abspath('tmp/orbax/single_save'),",
        _ABSOLUTE,
    ),
    (
        'save_load',
        'partial_checkpoint_flax_orbax',
        "'flax_use_orbx_checkpointing'",
        "'flax_use_orbax_checkpointing'",
        "OCR typo: the flag is flax_use_orbax_checkpointing (as the next cell spells it)",
    ),
    (
        'save_load',
        'async_save',
        'jax.distributed.initialize("localhost:8889", num_processes=1, process_id=0)',
        '',
        'moved to the imports cell (see there)',
    ),
    (
        'save_load',
        'async_save',
        "'tmp/orbax/single_save_async'",
        "os.path.abspath('tmp/orbax/single_save_async')",
        _ABSOLUTE,
    ),
    (
        'save_load',
        'async_manager',
        "'tmp/orbax/managed_async', async_checkpoint, options",
        "os.path.abspath('tmp/orbax/managed_async'), async_checkpointer, options",
        'typo in the guide: the checkpointer the previous cell made is async_checkpointer; ' + _ABSOLUTE,
    ),
    (
        'save_load',
        'mp_array',
        "NamedSharding(mesh, PartitionSpec('x', 'y'))\n",
        "NamedSharding(mesh, PartitionSpec('x', 'y')))\n",
        'OCR lost the closing parenthesis of jax.device_put( at the page break',
    ),
    (
        'save_load',
        'mp_orbax_restore',
        'orbx_utils.restore_args_from_target',
        'orbax_utils.restore_args_from_target',
        "OCR typo: the module imported in an earlier cell is orbax_utils",
    ),
    (
        'save_load',
        'mp_legacy_save',
        'orbx.checkpoint.',
        'orbax.checkpoint.',
        "OCR typo: the package is 'orbax' (twice in the cell)",
    ),
    ('migrate', 'manager_orbax', "CKPT_DIR = './tmp/orbax'", "CKPT_DIR = os.path.abspath('./tmp/orbax')", _ABSOLUTE),
    (
        'migrate',
        'pure_orbax',
        "PURE_CKPT_DIR = './tmp/pure'",
        "PURE_CKPT_DIR = os.path.abspath('./tmp/pure')",
        _ABSOLUTE,
    ),
    (
        'migrate',
        'no_target_orbax',
        "NOTARGET_CKPT_DIR = './tmp/no_target'",
        "NOTARGET_CKPT_DIR = os.path.abspath('./tmp/no_target')",
        _ABSOLUTE,
    ),
    (
        'migrate',
        'array_orbax',
        "ARR_CKPT_DIR = './tmp/singleton'",
        "ARR_CKPT_DIR = os.path.abspath('./tmp/singleton')",
        _ABSOLUTE,
    ),
]

#: Code run before a guide's first cell: guide -> (source, reason).
PREAMBLES = {
    'migrate': (
        'import os\n'
        'import numpy as np\n'
        'import jax.numpy as jnp\n'
        'import flax\n'
        'from flax.training import checkpoints, orbax_utils\n'
        'import orbax.checkpoint',
        "the guide's imports sit in a setup block the PDF does not print; these are the names "
        'its cells use (np, jnp, flax.config, flax.training.orbax_utils, checkpoints, orbax; '
        'os for the absolute-path repairs)',
    ),
}

#: guide -> {run: [cell keys]}. Each run is a fresh namespace in a fresh working
#: directory. The migrate guide shows each step twice, side by side, the legacy
#: way and the Orbax way; a reader runs one or the other, so each side runs on
#: its own (run in one directory, the Orbax side would find the legacy side's
#: files where it saves).
RUNS = {
    'save_load': {'notebook': [key for key, _ in CELLS['save_load']]},
    'migrate': {
        'legacy': ['setup'] + [key for key, _ in CELLS['migrate'] if key.endswith('_legacy')],
        'orbax': ['setup'] + [key for key, _ in CELLS['migrate'] if key.endswith('_orbax')],
    },
}

#: Cells that cannot run as written: (guide, key) -> reason. They run anyway (in
#: order, like the rest) and the tests show the reason holds.
FAILS_AS_DOCUMENTED = {
    ('save_load', 'pip_install'): 'an IPython shell cell (`! pip install` of the seed system from GitHub): not Python',
    ('save_load', 'partial_target'): 'pure Orbax: the guide restores a checkpoint into a target that lacks one of its '
    'fields (batch_stats) and expects the field ignored; orbax-checkpoint 0.12.8 raises '
    'ValueError "... tree structures do not match ... pass `partial_restore=True`" (so '
    'does the seed system)',
    (
        'save_load',
        'partial_checkpoint_orbax',
    ): 'pure Orbax: restoring a partial checkpoint into a target with an extra field is '
    "meant to raise KeyError('batch_stats'); orbax-checkpoint 0.12.8 raises ValueError "
    'instead (while formatting its own message), and the transforms={} restore that '
    'follows raises ValueError "If providing `transforms`, must provide `restore_args`"',
    (
        'save_load',
        'mp_orbax_restore',
    ): 'pure Orbax with restore_args_from_target: orbax-checkpoint 0.12.8 restores each array '
    "at the reference's shape and refuses the guide's smaller (4, 2) reference for the "
    "saved (8, 2) array (ValueError \"... not compatible with the stored shape\"); the "
    "seed system's restore_args_from_target fails the same way",
    ('save_load', 'host0_only_pattern'): 'a pattern sketch whose arguments are a literal `...`: not meant to run',
    ('save_load', 'all_hosts_pattern'): 'a pattern sketch whose arguments are a literal `...`: not meant to run',
}

#: Extra sources run in a copy of a run's namespace after a cell:
#: name -> (guide, run, after key, source). ``{cell_from:TEXT}`` stands for that
#: cell's (repaired) source from TEXT on, ``{seed_cell}`` for the cell as the seed has it.
PROBES = {
    # A pure-Orbax cell with the seed's relative path: why the absolute-path repairs.
    'relative_path': ('save_load', 'notebook', 'orbax_restore_raw', '{seed_cell}'),
    # The second half of the partial-checkpoint cell on its own: its own Orbax failure.
    'partial_checkpoint_transforms': (
        'save_load',
        'notebook',
        'partial_checkpoint_orbax',
        '{cell_from:# Step 4 is an original}',
    ),
    # The save guide's jax.distributed.initialize call, made after JAX has computed,
    # in a run that computes and never initialises the runtime.
    'distributed_initialize_late': (
        'migrate',
        'orbax',
        'array_orbax',
        f'import jax\njax.distributed.initialize("localhost:{FREE_PORT}", num_processes=1, process_id=0)',
    ),
}

_CONTINUED = re.compile(r'\n\s*\(continues on next page\)\s*\n\s*\(continued from previous page\)\s*\n')
_OUTPUT_START = re.compile(r"(\{|\[|'|\d|WARNING|KeyError|True|False)")


def _unwrap(code):
    """Undo the typesetter's wraps: a line starting with ↳/↪ (and one space) continues the line above."""
    lines = []
    for line in code.split('\n'):
        stripped = line.lstrip()
        if stripped[:1] in ('↳', '↪') and lines:
            rest = stripped[1:]
            lines[-1] += rest[1:] if rest.startswith(' ') else rest
        else:
            lines.append(line)
    return '\n'.join(lines)


def guide_text(guide, seed_text):
    start, end = GUIDES[guide]
    for heading in (start, end):
        if seed_text.count('\n' + heading + '\n') != 1:
            raise ValueError(f'heading {heading!r} is not in the seed exactly once')
    return seed_text.split('\n' + start + '\n', 1)[1].split('\n' + end + '\n', 1)[0]


def _blocks(text):
    """The guide's fenced blocks, as [(text, gap before it)], with page-broken ones joined."""
    parts = re.split(r'^```[ \t]*$', text, flags=re.M)
    if len(parts) % 2 != 1:
        raise ValueError('unbalanced ``` fences')
    blocks = []
    for i in range(1, len(parts), 2):
        gap, body = parts[i - 1], parts[i]
        if blocks and _CONTINUED.fullmatch('\n' + gap.strip(' ') + '\n') is not None:
            blocks[-1] = (blocks[-1][0].rstrip('\n') + '\n' + body.lstrip('\n'), blocks[-1][1])
        else:
            blocks.append((body, gap))
    return blocks


def _is_output(block):
    return _OUTPUT_START.match(block.strip()) is not None


def guide_cells(guide, seed_text):
    """[(key, source, [printed outputs])] of the guide's code cells, verbatim but for unwrapping.

    Raises ``ValueError`` if the cells are not the ones :data:`CELLS` names.
    """
    cells = []
    for body, _ in _blocks(guide_text(guide, seed_text)):
        if _is_output(body):
            if not cells:
                raise ValueError(f'an output block before any code: {body[:60]!r}')
            cells[-1][2].append(body.strip('\n'))
        else:
            cells.append([None, textwrap.dedent(_unwrap(body)).strip('\n') + '\n', []])
    firsts = [source.split('\n', 1)[0] for _, source, _ in cells]
    expected = [first for _, first in CELLS[guide]]
    if len(firsts) != len(expected) or not all(f.startswith(e) for f, e in zip(firsts, expected)):
        raise ValueError(f'the seed\'s {guide} cells start {firsts}, the test names {expected}')
    return [(key, source, outputs) for (key, _), (_, source, outputs) in zip(CELLS[guide], cells)]


def repaired_cells(guide, seed_text, port=8889):
    """[(key, source)] with :data:`REPAIRS` applied (``port`` for the free-port placeholder).

    Raises ``ValueError`` if a repair's seed text is not in its cell.
    """
    cells = {key: source for key, source, _ in guide_cells(guide, seed_text)}
    for g, key, old, new, _ in REPAIRS:
        if g != guide:
            continue
        if old not in cells[key]:
            raise ValueError(f'repair {old!r} does not occur in {guide}/{key}')
        cells[key] = cells[key].replace(old, new.replace(FREE_PORT, str(port)))
    return [(key, cells[key]) for key, _ in CELLS[guide]]


# --- describing values as JSON ----------------------------------------------------


def _array(value):
    import numpy as np

    values = np.asarray(value)
    out = {
        'kind': 'array',
        'type': type(value).__module__.split('.')[0],
        'dtype': str(value.dtype),
        'shape': list(np.shape(value)),
        'values': values.astype(str).tolist() if values.dtype == object else values.tolist(),
    }
    sharding = getattr(value, 'sharding', None)
    if sharding is not None:
        out['sharding'] = {
            'type': type(sharding).__name__,
            'spec': [
                None if s is None else list(s) if isinstance(s, tuple) else s for s in getattr(sharding, 'spec', ())
            ],
            'mesh': (dict(sharding.mesh.shape) if hasattr(sharding, 'mesh') else None),
            'devices': sorted(d.id for d in sharding.device_set),
        }
    return out


def describe(value, depth=0):
    """A JSON-able description of ``value``: arrays, containers, dataclasses, other objects."""
    if depth > 20:
        return {'kind': 'object', 'type': type(value).__name__}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type):
        return {'kind': 'class', 'type': value.__name__}
    if isinstance(value, type(os)):
        return {'kind': 'module', 'name': value.__name__}
    if hasattr(value, 'dtype') and isinstance(getattr(value, 'shape', None), tuple):
        return _array(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            'kind': 'dataclass',
            'type': type(value).__name__,
            'mro': [c.__name__ for c in type(value).__mro__],
            'fields': {f.name: describe(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)},
        }
    if hasattr(value, 'items') and hasattr(value, 'keys'):
        return {
            'kind': 'dict',
            'type': type(value).__name__,
            'items': {str(k): describe(v, depth + 1) for k, v in value.items()},
        }
    if isinstance(value, (list, tuple)):
        return {
            'kind': 'list' if isinstance(value, list) else 'tuple',
            'type': type(value).__name__,
            'items': [describe(v, depth + 1) for v in value],
        }
    return {'kind': 'object', 'type': type(value).__name__}


def _files(root='tmp', depth=4):
    """{relative path: 'dir' | 'file'} under ``root``, ``depth`` levels deep."""
    found = {}
    for path in sorted(Path(root).rglob('*')):
        if len(path.parts) <= depth:
            found[path.as_posix()] = 'dir' if path.is_dir() else 'file'
    return found


def _error(exc):
    return {'type': type(exc).__name__, 'mro': [c.__name__ for c in type(exc).__mro__], 'message': str(exc)}


def _execute(source, namespace):
    from tests.seed_code import rewrite_imports, run_cell

    out = io.StringIO()
    before = {k: id(v) for k, v in namespace.items()}
    report = {'error': None, 'displayed': None}
    try:
        with contextlib.redirect_stdout(out):
            report['displayed'] = describe(run_cell(rewrite_imports(source, 'nnjax'), namespace))
    except Exception as exc:  # reported, and judged by the test
        report['error'] = _error(exc)
    report['stdout'] = out.getvalue()
    bound = _bound_names(source) | {k for k, v in namespace.items() if before.get(k) != id(v)}
    report['names'] = {
        k: describe(v)
        for k, v in namespace.items()
        if k in bound and not k.startswith('__') and (isinstance(v, type(os)) or not callable(v))
    }
    report['files'] = _files()
    return report


def _bound_names(source):
    """The names a cell's code assigns or imports (empty if it is not Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split('.')[0])
    return names


def _free_port():
    with socket.socket() as s:
        s.bind(('localhost', 0))
        return s.getsockname()[1]


def _probe_source(template, cell, seed_cell):
    if template == '{seed_cell}':
        return seed_cell
    match = re.fullmatch(r'\{cell_from:(.+)\}', template)
    if match is None:
        return template
    return cell[cell.index(match.group(1)) :]


def run_guide(guide, seed_text):
    """{run: {key: report}}: each run's cells in order in one namespace, with the probes.

    Each run works in its own subdirectory of the current directory.
    """
    import copy

    cells = dict(repaired_cells(guide, seed_text, _free_port()))
    seed_cells = {key: source for key, source, _ in guide_cells(guide, seed_text)}
    home = Path.cwd()
    reports = {}
    for run, keys in RUNS[guide].items():
        (home / run).mkdir()
        os.chdir(home / run)
        namespace = {'__name__': f'guide_{guide}_{run}'}
        reports[run] = {}
        if guide in PREAMBLES:
            reports[run]['preamble'] = _execute(PREAMBLES[guide][0], namespace)
        for key in keys:
            reports[run][key] = _execute(cells[key], namespace)
            for name, (g, r, after, template) in PROBES.items():
                if (g, r, after) == (guide, run, key):
                    source = _probe_source(template, cells[key], seed_cells[key])
                    source = source.replace(FREE_PORT, str(_free_port()))
                    reports[run][f'probe:{name}'] = _execute(source, copy.copy(namespace))
    os.chdir(home)
    return reports


def main(argv):
    guide, out_path = argv
    reports = run_guide(guide, SEED_PATH.read_text(encoding='utf-8'))
    Path(out_path).write_text(json.dumps(reports), encoding='utf-8')


if __name__ == '__main__':
    main(sys.argv[1:])
