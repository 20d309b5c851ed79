"""Sharded training as a user writes it, in one process and across processes.

Three subprocess runs, shared by every test here (see ``worker.py``):

* ``two``: 2 processes x 4 CPU devices joined by ``jax.distributed`` (gloo)
  train on one 2x4 ('data', 'model') mesh, 'data' spanning the processes,
  and save the trained state with ``save_checkpoint_multiprocess``;
* ``one``: 1 process x 8 devices, no ``jax.distributed``, as a user on one
  host runs it: initialises under each rule set, trains the same way, and
  restores the two processes' checkpoint onto other meshes;
* ``one_gloo``: 1 process x 8 devices that does call
  ``jax.distributed.initialize`` (one process), so its collectives are
  gloo's, as the two processes' are.

Why three: XLA's in-process CPU collectives (one process, no
``jax.distributed``) add the terms of an all-reduce in another order than
gloo does (two processes; gloo then also serves the devices inside each
process). Two terms add up the same either way, four need not: a step that
all-reduces over the 4-device 'model' axis can differ in the last bits
between ``one`` and ``two`` (it does for some shapes of this model).
Data-parallel training (2-way sums only) is bitwise equal between them;
with the same collectives (``one_gloo``) every layout is.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from shared_spec.tolerances import assert_close
from tests.nnjax.scale import launcher, worker

# A safety net for hung workers (a collective waiting on a dead peer), far
# above what a run takes (~10 s); the launcher kills the processes then.
TIMEOUT_S = 300
TRAINED = ['fsdp_tp', 'data_parallel']  # the first is the one saved
MESH_SIZES = {'data': 2, 'model': 4}

# The mesh spec each rule set in workload.RULE_SETS implies for each
# parameter, written out by hand from the rules (trailing Nones dropped).
# Logical names, for reference: Dense_0 kernel (embed, classes), bias
# (classes); LayerNorm (embed); ScanBlock_0 adds a leading 'layer' to
# Dense_0 kernel (embed, mlp) / bias (mlp), Dense_1 kernel (mlp, embed) /
# bias (embed), heads_in (embed, heads, kv), heads_out (heads, kv, embed).
EXPECTED_SPECS = {
    # parameter                   data_parallel  fsdp                        tensor_parallel         fsdp_tp
    'Dense_0/bias': ((), (), (), ()),
    'Dense_0/kernel': ((), ('data',), (), ('data',)),
    'LayerNorm_0/bias': ((), ('data',), (), ('data',)),
    'LayerNorm_0/scale': ((), ('data',), (), ('data',)),
    'ScanBlock_0/Dense_0/bias': ((), (), (None, 'model'), (None, 'model')),
    'ScanBlock_0/Dense_0/kernel': ((), (None, 'data'), (None, None, 'model'), (None, 'data', 'model')),
    'ScanBlock_0/Dense_1/bias': ((), (None, 'data'), (), (None, 'data')),
    'ScanBlock_0/Dense_1/kernel': ((), (None, None, 'data'), (None, 'model'), (None, 'model', 'data')),
    'ScanBlock_0/heads_in': ((), (None, 'data'), (None, None, 'model'), (None, 'data', 'model')),
    'ScanBlock_0/heads_out': ((), (None, None, None, 'data'), (None, 'model'), (None, 'model', None, 'data')),
}
RULE_SET_COLUMNS = ('data_parallel', 'fsdp', 'tensor_parallel', 'fsdp_tp')


def expected_leaf_specs(rule_set):
    """Leaf name -> spec for the whole TrainState: params, adam's mu and nu, counters."""
    column = RULE_SET_COLUMNS.index(rule_set)
    specs = {'step': (), 'opt_state/0/count': ()}
    for name, row in EXPECTED_SPECS.items():
        for prefix in ('params', 'opt_state/0/mu', 'opt_state/0/nu'):
            specs[f'{prefix}/{name}/value'] = row[column]
    return specs


def _as_spec(entries):
    return tuple(tuple(e) if isinstance(e, list) else e for e in entries)


def _shards(spec):
    """How many pieces a spec cuts an array into on the 2x4 mesh."""
    axes = [a for entry in spec if entry is not None for a in (entry if isinstance(entry, tuple) else (entry,))]
    return math.prod(MESH_SIZES[a] for a in axes)


# --- the runs ------------------------------------------------------------------


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp('scale')


@pytest.fixture(scope='module')
def ckpt_dir(workdir):
    return workdir / 'ckpt'


@pytest.fixture(scope='module')
def two(workdir, ckpt_dir):
    return launcher.run_workers(
        'multi',
        processes=2,
        devices=4,
        workdir=workdir,
        timeout=TIMEOUT_S,
        tag='two',
        args=['--ckpt-dir', ckpt_dir, '--rules', *TRAINED],
    )


@pytest.fixture(scope='module')
def one(request, workdir, ckpt_dir):
    args = ['--rules', *TRAINED]
    try:  # the restore needs the two processes' checkpoint; the rest does not
        request.getfixturevalue('two')
        args += ['--ckpt-dir', ckpt_dir, '--saved-by', 2]
    except launcher.WorkerError:
        pass
    return launcher.run_workers(
        'single', processes=1, devices=8, workdir=workdir, timeout=TIMEOUT_S, tag='one', args=args
    )[0]


@pytest.fixture(scope='module')
def one_gloo(workdir):
    return launcher.run_workers(
        'multi',
        processes=1,
        devices=8,
        workdir=workdir,
        timeout=TIMEOUT_S,
        tag='one_gloo',
        args=['--rules', TRAINED[0]],
    )[0]


# --- initialising into the shardings -------------------------------------------


@pytest.mark.parametrize('rule_set', RULE_SET_COLUMNS)
def test_init_lands_in_the_shardings_the_rules_imply(one, rule_set):
    report = one['init'][rule_set]
    found = {name: _as_spec(leaf['spec']) for name, leaf in report['leaves'].items()}
    assert found == expected_leaf_specs(rule_set)
    # Sharding the init changes where values live, never the values.
    assert report['values_differ'] == []


@pytest.mark.parametrize('rule_set', RULE_SET_COLUMNS)
def test_device_holds_its_share_of_params_and_optimizer_state(one, rule_set):
    report = one['init'][rule_set]
    expected = 0
    for name, spec in expected_leaf_specs(rule_set).items():
        leaf = report['leaves'][name]
        nbytes = math.prod(leaf['shape']) * np.dtype(leaf['dtype']).itemsize
        expected += nbytes // _shards(spec)
    assert report['device0_bytes'] == expected


def test_fsdp_and_tensor_parallel_rules_shrink_the_per_device_state(one):
    held = {name: one['init'][name]['device0_bytes'] for name in RULE_SET_COLUMNS}
    replicated = held['data_parallel']
    # FSDP splits every embed-carrying leaf over the 2-way 'data' axis: about
    # half; only the few leaves without 'embed' (biases, counters) stay whole.
    assert replicated / 2 <= held['fsdp'] < 0.6 * replicated, held
    # Tensor parallelism splits MLP and head weights 4 ways over 'model'.
    assert replicated / 4 <= held['tensor_parallel'] < 0.5 * replicated, held
    assert held['fsdp_tp'] < min(held['fsdp'], held['tensor_parallel']), held


# --- the same training in one and in two processes -----------------------------


def test_two_processes_train_on_one_mesh_that_spans_them(two):
    for pid, result in enumerate(two):
        assert result['process_index'] == pid and result['process_count'] == 2
        assert result['local_devices'] == 4
        assert result['mesh_processes'] == [[0] * 4, [1] * 4]  # 'data' spans processes
    assert two[0]['losses'] == two[1]['losses']
    losses = two[0]['losses'][TRAINED[0]]
    assert len(losses) == worker.STEPS and losses[-1] < losses[0]


def test_data_parallel_losses_are_bitwise_equal_in_one_and_two_processes(one, two):
    assert one['train']['process_count'] == 1 and one['train']['local_devices'] == 8
    assert one['train']['losses']['data_parallel'] == two[0]['losses']['data_parallel']


def test_sharded_losses_are_bitwise_equal_with_the_same_collectives(one_gloo, two):
    assert one_gloo['process_count'] == 1 and one_gloo['local_devices'] == 8
    assert one_gloo['losses']['fsdp_tp'] == two[0]['losses']['fsdp_tp']


def test_sharded_losses_with_in_process_collectives_differ_by_summation_order_only(one, two):
    # 4-way all-reduces over 'model' may add in another order in XLA's
    # in-process collectives than in gloo's: at most last-bit differences.
    assert_close(
        np.float32(one['train']['losses']['fsdp_tp']), np.float32(two[0]['losses']['fsdp_tp']), family='reduction'
    )


# --- the two processes' checkpoint, restored in one ----------------------------

# Target label (see worker._restore_report) -> devices of its mesh. The
# abstract target holds only shapes, dtypes and shardings.
RESTORE_TARGETS = {'1x8': 8, '2x4': 8, '2x4 tensor_parallel': 8, '2x2 on 4 devices': 4, 'abstract 2x2 on 4 devices': 4}


@pytest.mark.parametrize('target', RESTORE_TARGETS)
def test_checkpoint_from_two_processes_restores_onto_any_mesh(two, one, target):
    restore = one['restore']
    assert restore['uncovered_saved_leaves'] == []
    entry = restore['meshes'][target]
    assert entry['mesh_devices'] == RESTORE_TARGETS[target]
    assert entry['type'] == 'TrainState'
    assert entry['missing'] == [] and entry['extra'] == []
    assert entry['sharding_mismatch'] == []  # exactly the target's shardings
    assert entry['value_mismatch'] == []  # exactly the saved values


def test_checkpoint_from_two_processes_restores_as_host_arrays_without_target(two, one):
    entry = one['restore']['meshes']['target=None']
    assert entry['type'] == 'dict'
    assert entry['missing'] == [] and entry['extra'] == []
    assert entry['not_numpy'] == [] and entry['value_mismatch'] == []


def test_each_process_writes_its_own_shards_and_gathers_nothing(two, ckpt_dir):
    path = Path(two[0]['checkpoint']['path'])
    assert path == ckpt_dir / f'checkpoint_{worker.STEPS}'
    assert all(result['checkpoint']['path'] == str(path) for result in two)
    for pid in range(2):
        shard_dir = path / f'ocdbt.process_{pid}'
        assert shard_dir.is_dir(), sorted(p.name for p in path.iterdir())
        assert any(f.is_file() and f.stat().st_size > 0 for f in shard_dir.rglob('*'))
    # Orbax agrees on a few scalars across processes; no array of the state
    # is gathered to every host.
    gathered = [size for result in two for size in result['checkpoint']['allgathered_sizes']]
    assert all(size <= 1 for size in gathered), gathered
