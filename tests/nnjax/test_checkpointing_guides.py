"""The seed's checkpointing guides (``003_ed3e6eab6dbd452e.txt``) run on nnjax.

Issue 13 asks that "Save and load checkpoints" (with its "Asynchronous
checkpointing" and "Multi-host/multi-process checkpointing" sections) and
"Migrate checkpointing to Orbax" run on nnjax with only their imports
changed. ``tests/nnjax/checkpointing_guides.py`` reads their code cells from
the seed, applies a short table of listed repairs (OCR typos, ``jax.tree_map``,
absolute paths for pure-Orbax calls, the ``jax.distributed.initialize`` call
moved before the first computation), rewrites the imports with the table in
``tests/seed_code.py`` (``import flax`` becomes ``import nnjax as flax``,
``from flax.training import checkpoints`` imports nnjax's) and runs them in
order, like a notebook, in a fresh interpreter in an empty directory: the
save guide sets ``XLA_FLAGS`` for 8 CPU devices before JAX starts and starts a
single-process ``jax.distributed`` runtime, and both guides flip the global
``flax_use_orbax_checkpointing`` flag. The interpreter reports each cell as
JSON (error, printed text, displayed value, names it bound, files under
``tmp/``) and the tests below judge those reports.

The checks assert what the guides print: restored values equal the saved
ones, restored dataclasses have the saved types, ``os.listdir`` and the
returned paths are the printed ones (read from the seed's own output blocks),
steps and ``batch_stats`` are the printed ones. They do not compare reprs
(the PRNG values and the printed module reprs of the seed system differ).

Cells that cannot run as written are listed in
``checkpointing_guides.FAILS_AS_DOCUMENTED`` with the reason; each is run
anyway and a strict test below shows the reason holds, so the list cannot go
stale.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared_spec.tolerances import assert_close
from tests.nnjax import checkpointing_guides as guides

ROOT = Path(__file__).resolve().parents[2]
GUIDE_TIMEOUT_S = 300  # each guide takes a few seconds; this only stops a hung child

if not guides.SEED_PATH.is_file():
    pytest.skip(f'seed not found at {guides.SEED_PATH}', allow_module_level=True)

SEED_TEXT = guides.SEED_PATH.read_text(encoding='utf-8')


def _run_guide(guide, workdir):
    """{run: {key: report}} from a fresh interpreter running the guide in ``workdir``."""
    out = workdir / 'reports.json'
    env = dict(
        os.environ,
        XLA_FLAGS='--xla_force_host_platform_device_count=8',
        JAX_PLATFORMS='cpu',
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
    )
    try:
        child = subprocess.run(
            [sys.executable, '-m', 'tests.nnjax.checkpointing_guides', guide, str(out)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=GUIDE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed the child
        pytest.fail(f'the {guide} guide did not finish in {GUIDE_TIMEOUT_S} s:\n{e.stderr}')
    if child.returncode != 0 or not out.is_file():
        pytest.fail(f'the {guide} guide runner failed ({child.returncode}):\n{child.stderr[-6000:]}')
    return json.loads(out.read_text(encoding='utf-8'))


_REPORTS = {}


def reports(guide, tmp_path_factory):
    if guide not in _REPORTS:
        _REPORTS[guide] = _run_guide(guide, tmp_path_factory.mktemp(guide))
    return _REPORTS[guide]


# --- reading the reports -----------------------------------------------------------


class Obj:
    """A described dataclass: its class name, base class names and fields."""

    def __init__(self, d):
        self.type, self.mro = d['type'], d['mro']
        self.fields = {k: plain(v) for k, v in d['fields'].items()}

    def __getattr__(self, name):
        try:
            return self.__dict__['fields'][name]
        except KeyError:
            raise AttributeError(name) from None


def plain(d):
    """A report's value description as Python values (NumPy arrays, dicts, lists, Obj)."""
    if not isinstance(d, dict) or 'kind' not in d:
        return d
    kind = d['kind']
    if kind == 'array':
        return np.asarray(d['values'], dtype=d['dtype'])
    if kind == 'dict':
        return {k: plain(v) for k, v in d['items'].items()}
    if kind == 'list':
        return [plain(v) for v in d['items']]
    if kind == 'tuple':
        return tuple(plain(v) for v in d['items'])
    if kind == 'dataclass':
        return Obj(d)
    return d


def assert_same(got, want, path='value'):
    """Same tree, same array shapes, dtypes and values (a checkpoint round trip is exact)."""
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f'{path}: {got!r} is not an array'
        assert got.dtype == want.dtype and got.shape == want.shape, (
            f'{path}: {got.dtype}{got.shape} != {want.dtype}{want.shape}'
        )
        np.testing.assert_array_equal(got, want, err_msg=path)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f'{path}: {got!r} vs {want!r}'
        for k in want:
            assert_same(got[k], want[k], f'{path}/{k}')
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f'{path}: {got!r} vs {want!r}'
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f'{path}/{i}')
    else:
        assert got == want, f'{path}: {got!r} != {want!r}'


def printed(guide, key, index=-1):
    """The value the guide printed for cell ``key`` (its output block, a Python literal)."""
    outputs = {k: outs for k, _, outs in guides.guide_cells(guide, SEED_TEXT)}[key]
    return ast.literal_eval(outputs[index])


def entries(report, directory):
    """The names directly inside ``directory`` after the cell ran."""
    prefix = directory.rstrip('/') + '/'
    return sorted(p[len(prefix) :] for p in report['files'] if p.startswith(prefix) and '/' not in p[len(prefix) :])


# --- "Save and load checkpoints" -------------------------------------------------------


def _saved(nb):
    """What the guide saved: the ckpt pytree and its parts, from the cell that built it."""
    names = nb['make_ckpt']['names']
    return {k: plain(names[k]) for k in ('ckpt', 'state', 'x1', 'config', 'variables')}


def _check_train_state(got, saved, cls='TrainState', step=1):
    assert isinstance(got, Obj) and got.type == cls and 'TrainState' in got.mro
    assert got.step == step
    assert_same(got.params, saved['state'].params, 'params')
    assert len(got.opt_state) == len(saved['state'].opt_state)


def _check_raw_model(got, saved):
    """A TrainState restored without a target: a dict of its fields' state."""
    assert isinstance(got, dict) and got['step'] == 1
    assert_same(got['params'], saved['state'].params, 'params')


def check_xla_flags(r, nb):
    pass  # its effect, 8 devices, shows in the mesh cell


def check_imports(r, nb):
    modules = {k: v['name'] for k, v in r['names'].items() if isinstance(v, dict) and v.get('kind') == 'module'}
    assert modules['flax'] == 'nnjax' and modules['nn'] == 'nnjax'
    assert modules['checkpoints'] == 'nnjax.training.checkpoints'
    assert modules['train_state'] == 'nnjax.training.train_state'
    assert modules['struct'] == 'nnjax.struct' and modules['serialization'] == 'nnjax.serialization'
    assert modules['orbax'] == 'orbax' and modules['jax'] == 'jax'


def check_clean_tmp(r, nb):
    assert r['names']['ckpt_dir'] == 'tmp' and r['files'] == {}


def check_make_ckpt(r, nb):
    saved = _saved(nb)
    shown = plain(r['displayed'])
    assert sorted(shown) == ['config', 'data', 'model']
    state = shown['model']
    assert state.type == 'TrainState' and state.step == 1
    # one SGD step (learning_rate=0.001) on gradients of ones
    init = saved['variables']['params']
    for name in ('bias', 'kernel'):
        assert_close(state.params[name], init[name] - np.float32(0.001), family='elementwise', dtype='float32')
    assert_same(shown['config'], {'dimensions': np.array([5, 3]), 'name': 'dense'})
    assert_same(shown['data'], [saved['x1']])


def check_orbax_save(r, nb):
    assert r['files']['tmp/orbax/single_save'] == 'dir'


def check_orbax_manager_save(r, nb):
    assert sorted(plain(r['displayed'])) == printed('save_load', 'orbax_manager_save')


def check_legacy_save(r, nb):
    path = printed('save_load', 'legacy_save')
    assert r['displayed'] == path
    assert r['files'][path] == 'file'  # the flag is off: one msgpack file


def check_orbax_restore_raw(r, nb):
    saved = _saved(nb)
    shown = plain(r['displayed'])
    _check_raw_model(shown['model'], saved)
    assert_same(shown['config'], saved['config'])
    assert_same(shown['data'], [saved['x1']])


def check_orbax_manager_restore_raw(r, nb):
    assert r['names']['step'] == 4  # latest_step() after steps 0..4 with max_to_keep=2
    check_orbax_restore_raw(r, nb)


def check_legacy_restore_raw(r, nb):
    saved = _saved(nb)
    shown = plain(r['displayed'])
    # the legacy state dict: lists and tuples become {'0': ...}, empty optimizer states {}
    _check_raw_model(shown['model'], saved)
    assert shown['model']['opt_state'] == {str(i): {} for i in range(len(saved['state'].opt_state))}
    assert_same(shown['config'], saved['config'])
    assert_same(shown['data'], {'0': saved['x1']})
    assert r['displayed']['items']['data']['items']['0']['type'] == 'numpy'  # host arrays


def _check_restored_ckpt(r, nb):
    saved = _saved(nb)
    shown = plain(r['displayed'])
    _check_train_state(shown['model'], saved)
    assert_same(shown['config'], saved['config'])
    assert_same(shown['data'], [saved['x1']])


check_orbax_restore_target = check_orbax_manager_restore_target = _check_restored_ckpt
check_legacy_restore_target = _check_restored_ckpt


def check_custom_state_save(r, nb):
    assert r['displayed'] is printed('save_load', 'custom_state_save')
    assert entries(r, 'tmp/orbox/managed') == ['4', '5']  # max_to_keep=2


def check_partial_checkpoint_flax_orbax(r, nb):
    saved = _saved(nb)
    assert r['files']['tmp/flax-checkpointing/checkpoint_4'] == 'dir'  # the flag is on: Orbax
    shown = plain(r['displayed'])
    _check_train_state(shown['model'], saved, cls='CustomTrainState')
    # batch_stats is not in the checkpoint: orbax_transforms={} fills it from the target
    assert_same(shown['model'].batch_stats, np.arange(10))
    assert shown['config'] is None
    assert_same(shown['data'], [saved['x1']])


def check_partial_checkpoint_legacy(r, nb):
    saved = _saved(nb)
    assert r['files']['tmp/flax-checkpointing/checkpoint_5'] == 'file'  # the flag is off again
    # keep=2 counts both formats: the msgpack step 0 went, the Orbax step 4 stays
    assert entries(r, 'tmp/flax-checkpointing') == ['checkpoint_4', 'checkpoint_5']
    shown = plain(r['displayed'])
    _check_train_state(shown['model'], saved, cls='CustomTrainState')
    assert_same(shown['model'].batch_stats, np.flip(np.arange(10)))
    assert_same(shown['config'], saved['config'])  # the target's None takes the raw dict
    assert_same(shown['data'], [saved['x1']])


def check_async_save(r, nb):
    assert r['files']['tmp/orbax/single_save_async'] == 'dir'
    _check_restored_ckpt(r, nb)


def check_async_manager(r, nb):
    assert r['names']['async_checkpoint_manager']['type'] == 'CheckpointManager'


def _check_mp(array, nb):
    # the guide prints np.arange(8 * 2).reshape(8, 2) as int32 (JAX's default integer)
    assert_same(array, np.arange(8 * 2, dtype=np.int32).reshape(8, 2))


def check_mp_array(r, nb):
    names = r['names']
    assert names['devices']['shape'] == [4, 2]  # XLA_FLAGS gave 8 CPU devices
    mp = names['mp_array']
    _check_mp(plain(mp), nb)
    assert mp['sharding']['spec'] == ['x', 'y'] and mp['sharding']['mesh'] == {'x': 4, 'y': 2}


def check_mp_manager_save(r, nb):
    assert entries(r, 'tmp/orbax/managed_async') == ['0']


def check_mp_legacy_save(r, nb):
    path = printed('save_load', 'mp_legacy_save')
    assert r['displayed'] == path
    # an AsyncCheckpointer: the call may return before the directory is in place
    assert any(name.startswith('checkpoint_3') for name in entries(r, 'tmp'))
    assert nb['mp_legacy_restore']['files'][path] == 'dir'  # written by Orbax


def check_mp_legacy_restore(r, nb):
    shown = r['displayed']['items']['model']
    _check_mp(plain(shown), nb)
    # The guide's single-process run printed a NumPy array; the issue (and the seed system
    # today) restore a jax.Array with the reference's sharding, at the checkpoint's shape.
    ref = nb['mp_orbax_restore']['names']['mp_smaller']['sharding']
    assert shown['type'] == 'jaxlib'
    assert shown['sharding']['spec'] == ref['spec'] and shown['sharding']['mesh'] == ref['mesh']


SAVE_LOAD_CHECKS = {
    'xla_flags': check_xla_flags,
    'imports': check_imports,
    'clean_tmp': check_clean_tmp,
    'make_ckpt': check_make_ckpt,
    'orbax_save': check_orbax_save,
    'orbax_manager_save': check_orbax_manager_save,
    'legacy_save': check_legacy_save,
    'orbax_restore_raw': check_orbax_restore_raw,
    'orbax_manager_restore_raw': check_orbax_manager_restore_raw,
    'legacy_restore_raw': check_legacy_restore_raw,
    'orbax_restore_target': check_orbax_restore_target,
    'orbax_manager_restore_target': check_orbax_manager_restore_target,
    'legacy_restore_target': check_legacy_restore_target,
    'custom_state_save': check_custom_state_save,
    'partial_checkpoint_flax_orbax': check_partial_checkpoint_flax_orbax,
    'partial_checkpoint_legacy': check_partial_checkpoint_legacy,
    'async_save': check_async_save,
    'async_manager': check_async_manager,
    'mp_array': check_mp_array,
    'mp_manager_save': check_mp_manager_save,
    'mp_legacy_save': check_mp_legacy_save,
    'mp_legacy_restore': check_mp_legacy_restore,
}


# --- "Migrate checkpointing to Orbax" ---------------------------------------------------


def _pytree(run):
    return plain(run['setup']['names']['CKPT_PYTREE'])


def _check_kept(r, directory, prefix):
    """keep=3 / max_to_keep=3 with every-2-steps retention: the 3 newest of steps 0..4 stay."""
    steps = sorted(int(name[len(prefix) :]) for name in entries(r, directory) if name.startswith(prefix))
    assert steps[-3:] == [2, 3, 4] and set(steps) <= {0, 1, 2, 3, 4}


def check_preamble(r, run):
    modules = {k: v['name'] for k, v in r['names'].items() if isinstance(v, dict) and v.get('kind') == 'module'}
    assert modules['flax'] == 'nnjax' and modules['checkpoints'] == 'nnjax.training.checkpoints'
    assert modules['orbax_utils'] == 'nnjax.training.orbax_utils'


def check_setup(r, run):
    assert r['names']['MAX_STEPS'] == 5


def check_manager_legacy(r, run):
    _check_kept(r, 'tmp', 'test_')
    assert_same(plain(r['displayed']), _pytree(run))


def check_manager_orbax(r, run):
    _check_kept(r, 'tmp/orbax', 'test__')
    assert_same(plain(r['displayed']), _pytree(run))


def check_pure_legacy(r, run):
    assert r['files']['tmp/pure/checkpoint_0'] == 'file'
    assert_same(plain(r['displayed']), _pytree(run))


def check_pure_orbax(r, run):
    assert_same(plain(r['displayed']), _pytree(run))


def check_no_target_legacy(r, run):
    pytree = _pytree(run)
    # the legacy state dict of the list: {'0': 12, '1': {...}, '2': {'0': 1, ...}}
    want = {'0': pytree[0], '1': pytree[1], '2': {str(i): v for i, v in enumerate(pytree[2])}}
    assert_same(plain(r['displayed']), want)


def check_no_target_orbax(r, run):
    assert_same(plain(r['displayed']), _pytree(run))


def check_array_legacy(r, run):
    assert_same(plain(r['displayed']), np.arange(10, dtype=np.int32))


check_array_orbax = check_array_legacy

MIGRATE_CHECKS = {
    'preamble': check_preamble,
    'setup': check_setup,
    'manager_legacy': check_manager_legacy,
    'manager_orbax': check_manager_orbax,
    'pure_legacy': check_pure_legacy,
    'pure_orbax': check_pure_orbax,
    'no_target_legacy': check_no_target_legacy,
    'no_target_orbax': check_no_target_orbax,
    'array_legacy': check_array_legacy,
    'array_orbax': check_array_orbax,
}


# --- the tests ---------------------------------------------------------------------


def _runnable():
    cases = []
    for guide, runs in guides.RUNS.items():
        for run, keys in runs.items():
            for key in (['preamble'] if guide in guides.PREAMBLES else []) + keys:
                if (guide, key) not in guides.FAILS_AS_DOCUMENTED:
                    cases.append(pytest.param(guide, run, key, id=f'{guide}/{run}/{key}'))
    return cases


def test_the_seed_has_the_cells_the_tests_name():
    for guide in guides.GUIDES:
        cells = guides.guide_cells(guide, SEED_TEXT)  # raises if the cells differ
        assert [key for key, _, _ in cells] == [key for key, _ in guides.CELLS[guide]]


def test_every_repair_occurs_in_the_seed_and_changes_its_cell():
    for guide in guides.GUIDES:
        before = {key: source for key, source, _ in guides.guide_cells(guide, SEED_TEXT)}
        after = dict(guides.repaired_cells(guide, SEED_TEXT))  # raises if a repair does not occur
        repaired = {key for g, key, _, _, _ in guides.REPAIRS if g == guide}
        assert {key for key in before if before[key] != after[key]} == repaired
    assert all(len(entry) == 5 and entry[4] for entry in guides.REPAIRS)


def test_every_cell_is_accounted_for():
    save_load = {key for key, _ in guides.CELLS['save_load']}
    listed = {key for g, key in guides.FAILS_AS_DOCUMENTED if g == 'save_load'}
    assert set(SAVE_LOAD_CHECKS) | listed == save_load and not set(SAVE_LOAD_CHECKS) & listed
    migrate = {key for key, _ in guides.CELLS['migrate']} | {'preamble'}
    assert set(MIGRATE_CHECKS) == migrate
    assert all(g in guides.GUIDES for g, _ in guides.FAILS_AS_DOCUMENTED)
    for guide, runs in guides.RUNS.items():
        run_keys = [key for keys in runs.values() for key in keys]
        assert set(run_keys) == {key for key, _ in guides.CELLS[guide]}


@pytest.mark.parametrize('guide,run,key', _runnable())
def test_cell(guide, run, key, tmp_path_factory):
    run_reports = reports(guide, tmp_path_factory)[run]
    report = run_reports[key]
    assert report['error'] is None, f"{guide}/{key} raised {report['error']['type']}: {report['error']['message']}"
    checks = SAVE_LOAD_CHECKS if guide == 'save_load' else MIGRATE_CHECKS
    checks[key](report, run_reports)


# Listed cells: what each one raises, shown so that the list cannot go stale.
EXPECTED_FAILURES = {
    ('save_load', 'pip_install'): (SyntaxError, ''),
    ('save_load', 'partial_target'): (ValueError, 'partial_restore=True'),
    ('save_load', 'partial_checkpoint_orbax'): (ValueError, ''),
    ('save_load', 'mp_orbax_restore'): (ValueError, 'not compatible with the stored shape'),
    ('save_load', 'host0_only_pattern'): (TypeError, 'missing 2 required positional arguments'),
    ('save_load', 'all_hosts_pattern'): (TypeError, 'missing 2 required positional arguments'),
}


def test_listed_cells_are_the_expected_failures():
    assert set(EXPECTED_FAILURES) == set(guides.FAILS_AS_DOCUMENTED)


@pytest.mark.parametrize('guide,key', sorted(EXPECTED_FAILURES), ids='/'.join)
def test_cell_fails_as_documented(guide, key, tmp_path_factory):
    (run,) = [r for r, keys in guides.RUNS[guide].items() if key in keys]
    error = reports(guide, tmp_path_factory)[run][key]['error']
    cls, fragment = EXPECTED_FAILURES[guide, key]
    assert error is not None and error['type'] == cls.__name__ and fragment in error['message'], error


def test_shell_cell_is_not_python():
    source = dict(guides.repaired_cells('save_load', SEED_TEXT))['pip_install']
    assert source.split('\n')[1].startswith('! pip install')


def test_pattern_sketches_pass_a_literal_ellipsis():
    cells = dict(guides.repaired_cells('save_load', SEED_TEXT))
    for key in ('host0_only_pattern', 'all_hosts_pattern'):
        assert '(...)' in cells[key]


def test_partial_checkpoint_cell_meets_orbax_errors_not_the_guides_key_error(tmp_path_factory):
    run = reports('save_load', tmp_path_factory)['notebook']
    # The guide prints "KeyError when target state has an unmentioned field: 'batch_stats'".
    assert (
        'KeyError when'
        in {k: o for k, _, o in guides.guide_cells('save_load', SEED_TEXT)}['partial_checkpoint_orbax'][0]
    )
    cell = run['partial_checkpoint_orbax']
    assert cell['error']['type'] == 'ValueError' and 'KeyError' not in cell['stdout']
    # its second half alone: Orbax wants restore_args along with transforms
    probe = run['probe:partial_checkpoint_transforms']['error']
    assert probe['type'] == 'ValueError' and 'must provide `restore_args`' in probe['message'], probe


def test_orbax_refuses_the_guides_relative_paths(tmp_path_factory):
    """Why the pure-Orbax cells get absolute paths: the seed's own cell fails."""
    error = reports('save_load', tmp_path_factory)['notebook']['probe:relative_path']['error']
    assert error['type'] == 'ValueError' and 'should be absolute' in error['message'], error


def test_distributed_initialize_where_the_guide_calls_it_is_too_late(tmp_path_factory):
    """Why the repairs move jax.distributed.initialize before the first computation."""
    error = reports('migrate', tmp_path_factory)['orbax']['probe:distributed_initialize_late']['error']
    assert error['type'] == 'RuntimeError' and 'must be called before' in error['message'], error
