"""nnjax.training.checkpoints through Orbax: format choice, restore into targets, async, crashes.

The multi-device and multi-process cases (resharding between meshes, two
processes writing their own shards) run in subprocesses with simulated CPU
devices: ``test_checkpoints_resharding.py`` and ``tests/nnjax/scale/``.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from nnjax import errors
from nnjax.config import config
from nnjax.training import checkpoint_orbax, checkpoints, orbax_utils, train_state

ROOT = Path(__file__).resolve().parents[3]


def _names(d):
    return sorted(os.listdir(d))


def _state(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        'Dense_0': {
            'kernel': jax.numpy.asarray(rng.normal(size=(5, 3)), np.float32),
            'bias': jax.numpy.zeros(3, np.float32),
        }
    }
    return train_state.TrainState.create(apply_fn=None, params=params, tx=optax.adam(1e-2))


def _assert_same(a, b):
    """Same type, same leaf paths, bit-identical leaves (optimizer objects may differ)."""
    assert type(a) is type(b)
    la, _ = jax.tree_util.tree_flatten_with_path(a)
    lb, _ = jax.tree_util.tree_flatten_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    for (_, x), (_, y) in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture
def orbax_flag():
    with config.override('flax_use_orbax_checkpointing', True):
        yield


def test_flag_chooses_the_format_and_restore_reads_both(tmp_path, orbax_flag):
    state = _state()
    path = checkpoints.save_checkpoint(tmp_path, state, 1)
    assert checkpoint_orbax.is_orbax_checkpoint(path)
    with config.override('nnjax_use_orbax_checkpointing', False):
        file_path = checkpoints.save_checkpoint(tmp_path, _state(1), 2, keep=2)
    assert os.path.isfile(file_path)
    # Restoring ignores the flag: each checkpoint is read in its own format.
    _assert_same(checkpoints.restore_checkpoint(tmp_path, state, step=1), state)
    _assert_same(checkpoints.restore_checkpoint(tmp_path, state), _state(1))


def test_restore_gives_what_the_target_holds(tmp_path):
    state = _state()
    checkpoints.save_checkpoint(tmp_path, state, 3, orbax_checkpointer=ocp.PyTreeCheckpointer())
    restored = checkpoints.restore_checkpoint(tmp_path, state)
    assert type(restored) is train_state.TrainState and restored.step == 0
    assert isinstance(restored.params['Dense_0']['kernel'], jax.Array)
    _assert_same(restored, state)
    # A NumPy target gives NumPy arrays; no target gives the raw state dict of host arrays.
    host = jax.tree_util.tree_map(np.asarray, state)
    assert isinstance(checkpoints.restore_checkpoint(tmp_path, host).params['Dense_0']['kernel'], np.ndarray)
    raw = checkpoints.restore_checkpoint(tmp_path, None)
    assert sorted(raw) == ['opt_state', 'params', 'step']
    assert isinstance(raw['params']['Dense_0']['kernel'], np.ndarray)
    np.testing.assert_array_equal(raw['params']['Dense_0']['kernel'], np.asarray(state.params['Dense_0']['kernel']))
    # An abstract target (shapes, dtypes, shardings) restores as well.
    abstract = jax.eval_shape(lambda: state)
    device = jax.devices()[0]
    abstract = jax.tree_util.tree_map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=jax.sharding.SingleDeviceSharding(device)), abstract
    )
    from_abstract = checkpoints.restore_checkpoint(tmp_path, abstract)
    _assert_same(from_abstract.params, state.params)
    _assert_same(from_abstract.opt_state, state.opt_state)
    # The saved Python int step comes back as the target asks: a 0-d int32 array.
    assert from_abstract.step.dtype == abstract.step.dtype and int(from_abstract.step) == 0


def test_mismatched_target_names_the_leaf_and_leaves_files(tmp_path, orbax_flag):
    checkpoints.save_checkpoint(tmp_path, {'w': np.zeros((2, 3), np.float32), 'step': 1}, 1)
    before = _names(tmp_path / 'checkpoint_1')
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros((2, 3), np.float32)})
    assert info.value.what == 'keys'
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros((3, 2), np.float32), 'step': 0}, strict=True)
    assert (info.value.key_path, info.value.what) == ('/w', 'shape')
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros((2, 3), np.int32), 'step': 0}, strict=True)
    assert info.value.what == 'dtype'
    assert _names(tmp_path / 'checkpoint_1') == before
    # Without strict, the saved shape and dtype come back, as in the seed system.
    restored = checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros(1, np.int32), 'step': 0})
    assert restored['w'].shape == (2, 3) and restored['w'].dtype == np.float32


def test_damaged_orbax_checkpoint_is_reported_as_corrupt(tmp_path, orbax_flag):
    checkpoints.save_checkpoint(tmp_path, {'w': np.arange(10000.0)}, 1)
    ckpt = tmp_path / 'checkpoint_1'
    data = [p for p in ckpt.rglob('*') if p.is_file() and p.parent.name == 'd']
    biggest = max(data, key=lambda p: p.stat().st_size)
    with open(biggest, 'r+b') as f:
        f.truncate(100)
    with pytest.raises(errors.CorruptCheckpointError, match='could not read its data'):
        checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros(10000)})
    with pytest.raises(errors.CorruptCheckpointError, match='could not read its data'):
        checkpoints.restore_checkpoint(tmp_path, None)
    (ckpt / '_METADATA').unlink()
    with pytest.raises(errors.CorruptCheckpointError, match='metadata'):
        checkpoints.restore_checkpoint(tmp_path, {'w': np.zeros(10000)})


def test_orbax_transforms_fill_what_the_checkpoint_lacks(tmp_path, orbax_flag):
    class CustomTrainState(train_state.TrainState):
        batch_stats: object = None

    state = _state()
    checkpoints.save_checkpoint(tmp_path, state, 4)
    custom = CustomTrainState.create(apply_fn=None, params=state.params, tx=optax.adam(1e-2), batch_stats=np.arange(10))
    with pytest.raises(errors.CheckpointMismatchError, match='batch_stats'):
        checkpoints.restore_checkpoint(tmp_path, custom)
    restored = checkpoints.restore_checkpoint(tmp_path, custom, step=4, orbax_transforms={})
    assert type(restored) is CustomTrainState
    np.testing.assert_array_equal(restored.batch_stats, np.arange(10))
    _assert_same(restored.params, state.params)


def test_keep_and_overwrite_apply_to_directories(tmp_path, orbax_flag):
    for step in range(4):
        checkpoints.save_checkpoint(tmp_path, {'v': np.full(2, step)}, step, keep=2)
    assert _names(tmp_path) == ['checkpoint_2', 'checkpoint_3']
    with pytest.raises(errors.InvalidCheckpointError):
        checkpoints.save_checkpoint(tmp_path, {'v': np.zeros(2, int)}, 3)
    checkpoints.save_checkpoint(tmp_path, {'v': np.full(2, 9)}, 2, keep=2, overwrite=True)
    assert _names(tmp_path) == ['checkpoint_2']
    np.testing.assert_array_equal(checkpoints.restore_checkpoint(tmp_path, None)['v'], [9, 9])


class _Gate:
    """Holds a background write at one point until released, and says when it got there."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()

    def wrap(self, fn):
        def gated(*args, **kwargs):
            self.reached.set()
            assert self.release.wait(60), 'the test never released the save'
            return fn(*args, **kwargs)

        return gated


def _train_step(state, x):
    def loss(params):
        return ((x @ params['Dense_0']['kernel'] + params['Dense_0']['bias']) ** 2).mean()

    return state.apply_gradients(grads=jax.grad(loss)(state.params))


@pytest.mark.parametrize('kind', ['orbax', 'msgpack'])
def test_training_steps_run_while_an_async_save_is_written(tmp_path, monkeypatch, kind):
    gate = _Gate()
    state = _state()
    step = jax.jit(_train_step)
    x = jax.numpy.ones((4, 5))
    expected_next = step(state, x)
    if kind == 'orbax':
        # Finalizing is the last thing before Orbax renames the directory into place.
        monkeypatch.setattr(ocp.PyTreeCheckpointHandler, 'finalize', gate.wrap(ocp.PyTreeCheckpointHandler.finalize))
        saver = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
        kwargs = {'orbax_checkpointer': saver}
        wait = saver.wait_until_finished
    else:
        monkeypatch.setattr(checkpoints, '_commit', gate.wrap(checkpoints._commit))
        saver = checkpoints.AsyncManager()
        kwargs = {'async_manager': saver}
        wait = saver.wait_previous_save
    checkpoints.save_checkpoint(tmp_path, state, 1, **kwargs)
    assert gate.reached.wait(60)
    # The save is held mid-write: no checkpoint is visible, and training goes on.
    assert checkpoints.latest_checkpoint(tmp_path) is None
    new_state = step(state, x)
    _assert_same(new_state, expected_next)
    gate.release.set()
    wait()
    _assert_same(checkpoints.restore_checkpoint(tmp_path, state), state)


def test_async_orbax_keeps_the_newest_committed_until_the_next_is(tmp_path):
    saver = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
    tmp_path = tmp_path / 'not_yet_created'
    for step in range(3):
        checkpoints.save_checkpoint(tmp_path, {'v': np.full(2, step)}, step, keep=1, orbax_checkpointer=saver)
    saver.wait_until_finished()
    # The clean-up of an asynchronous save runs at the start of the next one.
    assert _names(tmp_path) == ['checkpoint_1', 'checkpoint_2']
    raw = checkpoints.restore_checkpoint(tmp_path, None, orbax_checkpointer=saver)
    np.testing.assert_array_equal(raw['v'], [2, 2])
    checkpoints.save_checkpoint(tmp_path, {'v': np.full(2, 3)}, 3, keep=1, orbax_checkpointer=saver)
    saver.wait_until_finished()
    assert _names(tmp_path) == ['checkpoint_2', 'checkpoint_3']


_KILLED_SAVE = textwrap.dedent('''
    import sys, time
    import numpy as np
    import orbax.checkpoint as ocp
    from nnjax.training import checkpoints

    ckpt_dir = sys.argv[1]
    checkpoints.save_checkpoint(ckpt_dir, {'w': np.arange(1000.0), 'step': 1}, 1,
                                orbax_checkpointer=ocp.PyTreeCheckpointer())

    def stall(self, directory):
        print('finalizing', flush=True)
        time.sleep(600)

    ocp.PyTreeCheckpointHandler.finalize = stall
    saver = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
    checkpoints.save_checkpoint(ckpt_dir, {'w': -np.arange(1000.0), 'step': 2}, 2,
                                orbax_checkpointer=saver)
    time.sleep(600)
''')


def test_killed_orbax_save_leaves_the_previous_checkpoint_restorable(tmp_path):
    ckpt_dir = tmp_path / 'ckpt'
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, '-c', _KILLED_SAVE, str(ckpt_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == 'finalizing', 'the child never reached the second save'
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Orbax's temporary directory holds the unfinished step 2; it is not a checkpoint.
    assert any('orbax-checkpoint-tmp' in n for n in _names(ckpt_dir))
    assert os.path.basename(checkpoints.latest_checkpoint(ckpt_dir)) == 'checkpoint_1'
    restored = checkpoints.restore_checkpoint(ckpt_dir, {'w': np.zeros(1000), 'step': 0})
    np.testing.assert_array_equal(restored['w'], np.arange(1000.0))
    assert restored['step'] == 1
    # The next save succeeds and sweeps the leftover.
    checkpoints.save_checkpoint(
        ckpt_dir, {'w': np.ones(1000), 'step': 2}, 2, orbax_checkpointer=ocp.PyTreeCheckpointer()
    )
    assert _names(ckpt_dir) == ['checkpoint_2']


def test_orbax_utils_args_follow_the_target():
    sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = {
        'a': jax.numpy.zeros((2, 3)),
        'b': np.zeros(4, np.int32),
        'n': None,
        's': 'x',
        'abstract': jax.ShapeDtypeStruct((5,), np.float32, sharding=sharding),
    }
    save_args = orbax_utils.save_args_from_target(target)
    assert all(isinstance(save_args[k], ocp.SaveArgs) for k in 'abs')
    assert save_args['n'] is None
    args = orbax_utils.restore_args_from_target(target)
    assert isinstance(args['a'], ocp.ArrayRestoreArgs) and args['a'].sharding == target['a'].sharding
    assert args['abstract'].global_shape == (5,) and args['abstract'].sharding == sharding
    assert args['b'].restore_type is np.ndarray and args['b'].dtype == np.int32
    assert args['n'] is None and type(args['s']) is ocp.RestoreArgs
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ('x',))
    on_mesh = orbax_utils.restore_args_from_target(target, mesh=mesh)
    assert on_mesh['a'].sharding == jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
