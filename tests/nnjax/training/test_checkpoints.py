"""nnjax.training.checkpoints: files, ordering, retention, crash safety, errors."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import msgpack
import numpy as np
import pytest

from nnjax import errors, serialization
from nnjax.training import checkpoints
from shared_spec.frozen_dict import FrozenDict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _state(scale=1.0):
    return {
        'params': {
            'Dense_0': {
                'kernel': np.arange(6, dtype=np.float32).reshape(2, 3) * scale,
                'bias': np.zeros(3, np.float32) + scale,
            }
        },
        'step': 3,
        'opt': (np.int32(7), {'mu': np.ones(2, np.float64) * scale}),
    }


def _names(d):
    return sorted(os.listdir(d))


def _assert_same_tree(actual, expected):
    a = serialization.to_state_dict(actual)
    e = serialization.to_state_dict(expected)
    assert serialization.to_bytes(a) == serialization.to_bytes(e)


# --- saving and restoring ----------------------------------------------------


def test_save_writes_the_seed_layout_under_prefix_step(tmp_path):
    path = checkpoints.save_checkpoint(tmp_path, _state(), step=3)
    assert path == os.path.join(str(tmp_path), 'checkpoint_3')
    assert _names(tmp_path) == ['checkpoint_3']
    with open(path, 'rb') as f:
        assert f.read() == serialization.to_bytes(_state())


def test_restore_into_target_and_as_raw_state_dict(tmp_path):
    checkpoints.save_checkpoint(tmp_path, _state(2.0), step=1)
    target = _state(0.0)
    restored = checkpoints.restore_checkpoint(tmp_path, target)
    _assert_same_tree(restored, _state(2.0))
    assert isinstance(restored['opt'], tuple)
    raw = checkpoints.restore_checkpoint(tmp_path, None)
    assert sorted(raw['opt']) == ['0', '1']
    np.testing.assert_array_equal(raw['params']['Dense_0']['bias'], np.full(3, 2.0, np.float32))
    # The target itself is untouched.
    _assert_same_tree(target, _state(0.0))


def test_file_written_by_hand_in_the_seed_format_restores(tmp_path):
    # What the seed system writes: to_bytes of the target, named prefix+step.
    (tmp_path / 'checkpoint_7').write_bytes(serialization.to_bytes(_state(5.0)))
    _assert_same_tree(checkpoints.restore_checkpoint(tmp_path, _state()), _state(5.0))


def test_restore_without_checkpoints_returns_the_target_unchanged(tmp_path):
    target = _state()
    assert checkpoints.restore_checkpoint(tmp_path / 'missing', target) is target
    assert checkpoints.restore_checkpoint(tmp_path, target) is target
    assert checkpoints.restore_checkpoint(tmp_path / 'no_file', target) is target


def test_restore_from_a_file_path_and_a_given_step(tmp_path):
    for step in (1, 2, 3):
        checkpoints.save_checkpoint(tmp_path, {'v': step}, step, keep=3)
    assert checkpoints.restore_checkpoint(tmp_path / 'checkpoint_1', None) == {'v': 1}
    assert checkpoints.restore_checkpoint(tmp_path, None, step=2) == {'v': 2}
    assert checkpoints.restore_checkpoint(tmp_path, None) == {'v': 3}
    with pytest.raises(ValueError, match='Matching checkpoint not found.*checkpoint_4'):
        checkpoints.restore_checkpoint(tmp_path, None, step=4)


def test_frozen_dict_and_python_scalars_round_trip(tmp_path):
    target = {'params': FrozenDict({'w': np.ones(2, np.float32)}), 'lr': 0.5, 'name': 'run', 'empty': {}}
    checkpoints.save_checkpoint(tmp_path, target, 0)
    restored = checkpoints.restore_checkpoint(
        tmp_path, {'params': FrozenDict({'w': np.zeros(2, np.float32)}), 'lr': 0.0, 'name': '', 'empty': {}}
    )
    assert isinstance(restored['params'], FrozenDict)
    assert restored['lr'] == 0.5 and restored['name'] == 'run'


def test_step_types(tmp_path):
    import jax.numpy as jnp

    assert checkpoints.save_checkpoint(tmp_path, {}, jnp.int32(5)).endswith('checkpoint_5')
    assert checkpoints.save_checkpoint(tmp_path, {}, np.int64(6)).endswith('checkpoint_6')
    assert checkpoints.save_checkpoint(tmp_path, {}, 6.5).endswith('checkpoint_6.5')
    with pytest.raises(TypeError, match='bool'):
        checkpoints.save_checkpoint(tmp_path, {}, True)
    with pytest.raises(ValueError, match='finite'):
        checkpoints.save_checkpoint(tmp_path, {}, float('nan'))
    with pytest.raises(TypeError, match='int or a float'):
        checkpoints.save_checkpoint(tmp_path, {}, 'seven')


# --- ordering, retention, overwrite ------------------------------------------


@pytest.mark.parametrize(
    'names, latest',
    [
        (['ckpt_1', 'ckpt_2', 'ckpt_3'], 'ckpt_3'),
        (['ckpt_0.01', 'ckpt_0.1', 'ckpt_0.001'], 'ckpt_0.1'),
        (['ckpt_-1.0', 'ckpt_1.0', 'ckpt_1e5'], 'ckpt_1e5'),
        (['ckpt_9', 'ckpt_10', 'ckpt_100', 'ckpt_final', 'ckpt_'], 'ckpt_100'),
    ],
)
def test_latest_checkpoint_sorts_naturally(tmp_path, names, latest):
    for name in names:
        (tmp_path / name).write_bytes(b'')
    assert checkpoints.latest_checkpoint(tmp_path, prefix='ckpt_') == str(tmp_path / latest)


def test_latest_checkpoint_of_missing_or_empty_dir_is_none(tmp_path):
    assert checkpoints.latest_checkpoint(tmp_path) is None
    assert checkpoints.latest_checkpoint(tmp_path / 'nope') is None


def test_float_steps_save_and_order(tmp_path):
    for step in (-1.0, 0.01, 0.1):
        checkpoints.save_checkpoint(tmp_path, {'s': step}, step, keep=10)
    checkpoints.save_checkpoint(tmp_path, {'s': 1e5}, 1e5, keep=10)
    assert checkpoints.restore_checkpoint(tmp_path, None) == {'s': 1e5}
    assert checkpoints.restore_checkpoint(tmp_path, None, step=0.01) == {'s': 0.01}


def test_keep_removes_the_oldest(tmp_path):
    for step in range(5):
        checkpoints.save_checkpoint(tmp_path, {'s': step}, step, keep=2)
    assert _names(tmp_path) == ['checkpoint_3', 'checkpoint_4']
    with pytest.raises(ValueError, match='keep must be an int >= 1'):
        checkpoints.save_checkpoint(tmp_path, {}, 9, keep=0)


def test_keep_every_n_steps_keeps_the_milestones(tmp_path):
    # The seed's rule: walking old checkpoints oldest first, keep one that is
    # at least n steps after the last kept; step 0 never counts. From 0..10
    # with n=3 that keeps 1, 4, 7, plus the newest (keep=1): 10.
    for step in range(11):
        checkpoints.save_checkpoint(tmp_path, {'s': step}, step, keep=1, keep_every_n_steps=3)
    assert _names(tmp_path) == ['checkpoint_1', 'checkpoint_10', 'checkpoint_4', 'checkpoint_7']


def test_prefixes_do_not_interfere(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {'m': 1}, 5, prefix='model_')
    checkpoints.save_checkpoint(tmp_path, {'e': 1}, 1, prefix='ema_')
    checkpoints.save_checkpoint(tmp_path, {'e': 2}, 2, prefix='ema_')
    assert _names(tmp_path) == ['ema_2', 'model_5']
    assert checkpoints.restore_checkpoint(tmp_path, None, prefix='model_') == {'m': 1}
    assert checkpoints.latest_checkpoint(tmp_path, prefix='ema_').endswith('ema_2')
    assert checkpoints.latest_checkpoint(tmp_path) is None


def test_existing_same_or_later_step_needs_overwrite(tmp_path):
    for step in (1, 2, 3):
        checkpoints.save_checkpoint(tmp_path, {'v': step}, step, keep=5)
    before = {n: (tmp_path / n).read_bytes() for n in _names(tmp_path)}
    for step in (2, 3):
        with pytest.raises(errors.InvalidCheckpointError) as info:
            checkpoints.save_checkpoint(tmp_path, {'v': -1}, step, keep=5)
        assert info.value.step == step
        assert info.value.path == str(tmp_path / f'checkpoint_{step}')
        assert 'overwrite=True' in str(info.value)
    assert {n: (tmp_path / n).read_bytes() for n in _names(tmp_path)} == before
    # overwrite=True replaces step 2 and removes the later step 3.
    checkpoints.save_checkpoint(tmp_path, {'v': 20}, 2, keep=5, overwrite=True)
    assert _names(tmp_path) == ['checkpoint_1', 'checkpoint_2']
    assert checkpoints.restore_checkpoint(tmp_path, None) == {'v': 20}


def test_ckpt_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / 'not_a_dir'
    path.write_bytes(b'precious')
    with pytest.raises(errors.AlreadyExistsError) as info:
        checkpoints.save_checkpoint(path, {'v': 1}, 1)
    assert info.value.path == str(path)
    assert path.read_bytes() == b'precious'


def test_unserializable_target_leaves_the_directory_as_it_was(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {'v': 1}, 1)
    with pytest.raises(TypeError, match='Cannot msgpack-serialize'):
        checkpoints.save_checkpoint(tmp_path, {'v': object()}, 2)
    assert _names(tmp_path) == ['checkpoint_1']


def test_refused_arguments_leave_the_directory_alone(tmp_path):
    with pytest.raises(TypeError, match='orbax_checkpointer'):
        checkpoints.save_checkpoint(tmp_path, {}, 1, orbax_checkpointers=object())
    with pytest.raises(TypeError, match='not both'):
        checkpoints.save_checkpoint(tmp_path, {}, 1, orbax_checkpointer=object(), orbax_checkpointers=object())
    with pytest.raises(ValueError, match='gda_manager'):
        checkpoints.save_checkpoint_multiprocess(tmp_path, {}, 1, gda_manager=object())
    with pytest.raises(ValueError, match='gda_manager'):
        checkpoints.restore_checkpoint(tmp_path, None, gda_manager=object())
    assert _names(tmp_path) == []
    checkpoints.save_checkpoint(tmp_path, {'w': 1.0}, 1)
    with pytest.raises(ValueError, match='orbax_transforms applies to Orbax'):
        checkpoints.restore_checkpoint(tmp_path, None, orbax_transforms={})
    assert _names(tmp_path) == ['checkpoint_1']


def test_directory_that_orbax_did_not_write_is_reported(tmp_path):
    (tmp_path / 'checkpoint_3').mkdir()
    with pytest.raises(errors.CorruptCheckpointError, match='directory without the files Orbax'):
        checkpoints.restore_checkpoint(tmp_path, None)


def test_async_manager_writes_in_order(tmp_path):
    manager = checkpoints.AsyncManager()
    for step in range(3):
        checkpoints.save_checkpoint(tmp_path, {'v': step}, step, keep=2, async_manager=manager)
    manager.wait_previous_save()
    assert _names(tmp_path) == ['checkpoint_1', 'checkpoint_2']
    with pytest.raises(errors.InvalidCheckpointError):
        checkpoints.save_checkpoint(tmp_path, {}, 1, async_manager=manager)


def test_multiprocess_save_with_one_process(tmp_path):
    import jax.numpy as jnp

    path = checkpoints.save_checkpoint_multiprocess(tmp_path, {'w': jnp.arange(3)}, 4)
    assert path.endswith('checkpoint_4')
    np.testing.assert_array_equal(checkpoints.restore_checkpoint(tmp_path, None)['w'], np.arange(3))


# --- crash safety -------------------------------------------------------------

_CHILD = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from nnjax.training import checkpoints

    ckpt_dir = sys.argv[1]
    checkpoints.save_checkpoint(ckpt_dir, {{'w': np.arange(4096, dtype=np.float32), 'step': 1}}, 1)

    class StallingFile:
        """Writes half of the data, flushes, announces it, and hangs."""
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.f.__exit__(*exc)
        def __getattr__(self, name):
            return getattr(self.f, name)
        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            print('MID-WRITE', flush=True)
            time.sleep(120)

    real_open = open
    checkpoints.open = lambda path, mode, *a, **k: StallingFile(real_open(path, mode, *a, **k))
    checkpoints.save_checkpoint(ckpt_dir, {{'w': np.arange(4096, dtype=np.float32) * 2, 'step': 2}}, 2)
    print('UNREACHABLE', flush=True)
''')


def test_a_write_killed_midway_leaves_the_previous_checkpoint(tmp_path):
    child = subprocess.Popen(
        [sys.executable, '-c', _CHILD.format(root=ROOT), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    watchdog = threading.Timer(90, child.kill)
    watchdog.start()
    try:
        line = child.stdout.readline()
        assert line.strip() == 'MID-WRITE', (line, child.stderr.read())
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        watchdog.cancel()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    # The kill landed mid-write: a partial temporary file is there ...
    temps = [n for n in os.listdir(tmp_path) if n != 'checkpoint_1']
    assert len(temps) == 1 and temps[0].startswith('.checkpoint_2.tmp-')
    partial = (tmp_path / temps[0]).read_bytes()
    full = serialization.to_bytes({'w': np.arange(4096, dtype=np.float32) * 2, 'step': 2})
    assert 0 < len(partial) < len(full)
    # ... but no checkpoint_2, and step 1 is what is found and restored.
    assert not (tmp_path / 'checkpoint_2').exists()
    assert checkpoints.latest_checkpoint(tmp_path) == str(tmp_path / 'checkpoint_1')
    target = {'w': np.zeros(4096, np.float32), 'step': 0}
    restored = checkpoints.restore_checkpoint(tmp_path, target)
    assert restored['step'] == 1
    np.testing.assert_array_equal(restored['w'], np.arange(4096, dtype=np.float32))
    # A later save of step 2 succeeds and sweeps the stale temporary file.
    checkpoints.save_checkpoint(tmp_path, {'w': np.arange(4096, dtype=np.float32) * 2, 'step': 2}, 2)
    assert _names(tmp_path) == ['checkpoint_2']
    assert (tmp_path / 'checkpoint_2').read_bytes() == full


def test_stale_temporary_files_are_ignored_then_cleaned(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {'v': 1}, 1)
    (tmp_path / '.checkpoint_9.tmp-0123abcd').write_bytes(b'\x81\xa1v')  # truncated
    (tmp_path / '.other_9.tmp-0123abcd').write_bytes(b'')  # another prefix's
    assert checkpoints.latest_checkpoint(tmp_path).endswith('checkpoint_1')
    assert checkpoints.restore_checkpoint(tmp_path, None) == {'v': 1}
    checkpoints.save_checkpoint(tmp_path, {'v': 2}, 2)
    assert _names(tmp_path) == ['.other_9.tmp-0123abcd', 'checkpoint_2']


def test_a_failed_write_removes_its_temporary_file(tmp_path, monkeypatch):
    checkpoints.save_checkpoint(tmp_path, {'v': 1}, 1)

    def failing_fsync(fd):
        raise OSError('disk full')

    monkeypatch.setattr(checkpoints.os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='disk full'):
        checkpoints.save_checkpoint(tmp_path, {'v': 2}, 2)
    monkeypatch.undo()
    assert _names(tmp_path) == ['checkpoint_1']
    assert checkpoints.restore_checkpoint(tmp_path, None) == {'v': 1}


# --- corrupt files -------------------------------------------------------------


def _corrupt_cases():
    good = serialization.to_bytes(_state())
    return {
        'truncated': (good[: len(good) // 2], 'truncated'),
        'garbage': (b'this is not a checkpoint at all', 'msgpack'),
        'invalid-type-byte': (b'\xc1\x00\x01', 'not msgpack'),
        'empty': (b'', 'empty'),
        'not-a-dict': (msgpack.packb([1, 2, 3]), 'not to a state dict'),
    }


@pytest.mark.parametrize('kind', sorted(_corrupt_cases()))
def test_corrupt_files_raise_corrupt_checkpoint_error(tmp_path, kind):
    data, reason = _corrupt_cases()[kind]
    path = tmp_path / 'checkpoint_1'
    path.write_bytes(data)
    for target in (None, _state()):
        with pytest.raises(errors.CorruptCheckpointError) as info:
            checkpoints.restore_checkpoint(tmp_path, target)
        assert info.value.path == str(path)
        assert str(path) in str(info.value)
        assert reason in info.value.reason
        assert isinstance(info.value, ValueError)
    assert path.read_bytes() == data


# --- mismatched targets ---------------------------------------------------------


def _mismatch_cases():
    missing = _state()
    del missing['params']['Dense_0']['bias']  # the file has an extra key
    extra = _state()
    extra['params']['Dense_0']['scale'] = np.ones(3, np.float32)  # the file lacks it
    shape = _state()
    shape['params']['Dense_0']['kernel'] = np.zeros((3, 2), np.float32)
    dtype = _state()
    dtype['opt'] = (np.int32(0), {'mu': np.ones(2, np.float32)})
    structure = _state()
    structure['step'] = {'count': 0}
    return {
        'missing-key': (missing, '/params/Dense_0', 'keys', ['kernel'], ['bias', 'kernel']),
        'extra-key': (extra, '/params/Dense_0', 'keys', ['bias', 'kernel', 'scale'], ['bias', 'kernel']),
        'shape': (shape, '/params/Dense_0/kernel', 'shape', (3, 2), (2, 3)),
        'dtype': (dtype, '/opt/1/mu', 'dtype', 'float32', 'float64'),
        'leaf-vs-dict': (structure, '/step', 'keys', ['count'], 'a leaf of type int'),
    }


_LEAF_CASES = ('missing-key', 'shape', 'dtype')  # the seed accepts these; strict=True refuses them


@pytest.mark.parametrize('kind', sorted(_mismatch_cases()))
def test_mismatched_targets_raise_checkpoint_mismatch_error(tmp_path, kind):
    target, key_path, what, expected, found = _mismatch_cases()[kind]
    path = checkpoints.save_checkpoint(tmp_path, _state(), 1)
    on_disk = open(path, 'rb').read()
    target_bytes = serialization.msgpack_serialize(serialization.to_state_dict(target))
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, target, strict=kind in _LEAF_CASES)
    err = info.value
    assert (err.path, err.key_path, err.what) == (path, key_path, what)
    assert (err.expected, err.found) == (expected, found)
    assert key_path in str(err) and what in str(err)
    # Neither the file nor the target changed.
    assert open(path, 'rb').read() == on_disk
    assert serialization.msgpack_serialize(serialization.to_state_dict(target)) == target_bytes


def test_the_first_mismatch_in_sorted_key_order_is_reported(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {'b': np.zeros(2), 'a': {'y': np.zeros(2), 'x': 1}}, 1)
    target = {'b': np.zeros(3), 'a': {'y': np.zeros(2, np.float32), 'x': 1}}
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, target, strict=True)
    assert (info.value.key_path, info.value.what) == ('/a/y', 'dtype')


def test_without_strict_the_checkpoint_gives_shapes_and_dtypes(tmp_path, caplog):
    # The seed's guides restore with a smaller reference: the saved values come back.
    saved = [12, {'foo': 'str', 'bar': np.array((2, 3))}, [1, 4, 10]]
    checkpoints.save_checkpoint(tmp_path, saved, 0)
    restored = checkpoints.restore_checkpoint(tmp_path, [0, {'foo': '', 'bar': np.array(0)}, [0, 0, 0]])
    assert restored[0] == 12 and restored[1]['foo'] == 'str' and restored[2] == [1, 4, 10]
    np.testing.assert_array_equal(restored[1]['bar'], [2, 3])
    assert "/1/bar has shape (2,) in the checkpoint and () in the target" in caplog.text
    dtype_case = _mismatch_cases()['dtype'][0]
    checkpoints.save_checkpoint(tmp_path, _state(), 1)
    assert checkpoints.restore_checkpoint(tmp_path, dtype_case)['opt'][1]['mu'].dtype == np.float64
    # A file holding one array (no tree) restores too.
    checkpoints.save_checkpoint(tmp_path / 'one', np.arange(10), 0)
    np.testing.assert_array_equal(checkpoints.restore_checkpoint(tmp_path / 'one', None), np.arange(10))


def test_scalars_none_and_zero_d_arrays_are_lenient(tmp_path):
    import jax.numpy as jnp

    checkpoints.save_checkpoint(tmp_path, {'step': jnp.int32(4), 'count': 2, 'config': {'depth': 3}}, 1)
    # A Python int takes a 0-d array; a 0-d array takes a Python int; None takes anything.
    restored = checkpoints.restore_checkpoint(tmp_path, {'step': 0, 'count': np.zeros((), np.int64), 'config': None})
    assert int(restored['step']) == 4 and restored['count'] == 2
    assert restored['config'] == {'depth': 3}
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(
            tmp_path, {'step': np.zeros(2, np.int32), 'count': 0, 'config': None}, strict=True
        )
    assert (info.value.key_path, info.value.what, info.value.found) == ('/step', 'shape', ())


# --- pre-Linen names -------------------------------------------------------------


def test_convert_pre_linen():
    pre = {
        'Conv_0': {'kernel': 1},
        'Dense_1': {'kernel': 2},
        'Conv_2': {'bias': 3},
        'Block_3': {'Dense_0': {'k': 4}, 'LayerNorm_1': {'s': 5}, 'Dense_2': {'k': 6}},
        'scale': 7,
    }
    assert checkpoints.convert_pre_linen(pre) == {
        'Conv_0': {'kernel': 1},
        'Dense_0': {'kernel': 2},
        'Conv_1': {'bias': 3},
        'Block_0': {'Dense_0': {'k': 4}, 'LayerNorm_0': {'s': 5}, 'Dense_1': {'k': 6}},
        'scale': 7,
    }
    linen = {'Conv_0': {}, 'Conv_1': {}, 'Dense_0': {'kernel': 1}}
    assert checkpoints.convert_pre_linen(linen) == linen
    frozen = checkpoints.convert_pre_linen(FrozenDict({'Dense_1': {'w': 1}}))
    assert isinstance(frozen, FrozenDict) and frozen['Dense_0']['w'] == 1
