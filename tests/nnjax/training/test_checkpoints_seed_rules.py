"""Legacy (msgpack) restore follows the seed guide's rules by default; ``strict=True`` opts out.

The seed's checkpointing guide and its ``restore_checkpoint`` reference allow:
(a) a partial target -- a dict of the target may hold a subset of the
checkpoint's keys there, and ``target=None`` returns the whole raw state
dict; (b) a target whose leaves have other shapes (or dtypes): the
checkpoint's leaves come back as they are; (c) a checkpoint that is one bare
array, read back with ``target=None``. ``strict=True`` refuses (a) and (b).
A restore, accepted or refused, never changes the caller's target or the file.
"""

import logging

import numpy as np
import pytest

from nnjax import errors, serialization, struct
from nnjax.training import checkpoints
from shared_spec.frozen_dict import FrozenDict

KERNEL = np.arange(6, dtype=np.float32).reshape(2, 3)
BIAS = np.full(3, 0.5, np.float32)
MEAN = np.array([1.0, 2.0], np.float64)


def _saved():
    return {
        'params': {'Dense_0': {'kernel': KERNEL.copy(), 'bias': BIAS.copy()}},
        'batch_stats': {'BatchNorm_0': {'mean': MEAN.copy()}},
        'step': 7,
    }


def _save(tmp_path, state=None):
    path = checkpoints.save_checkpoint(tmp_path, _saved() if state is None else state, step=1)
    with open(path, 'rb') as f:
        return path, f.read()


def _unchanged(path, data, target, target_bytes):
    with open(path, 'rb') as f:
        assert f.read() == data
    assert serialization.to_bytes(target) == target_bytes


# --- (a) partial targets ---------------------------------------------------------


def test_a_dict_target_may_pick_a_part_of_the_checkpoint(tmp_path, caplog):
    path, data = _save(tmp_path)
    target = {'params': {'Dense_0': {'kernel': np.zeros((2, 3), np.float32)}}}
    target_bytes = serialization.to_bytes(target)
    with caplog.at_level(logging.INFO, logger='nnjax.training.checkpoints'):
        restored = checkpoints.restore_checkpoint(tmp_path, target)
    assert list(restored) == ['params'] and list(restored['params']['Dense_0']) == ['kernel']
    np.testing.assert_array_equal(restored['params']['Dense_0']['kernel'], KERNEL)
    for left_out in ('/params/Dense_0/bias', '/batch_stats', '/step'):
        assert left_out in caplog.text
    _unchanged(path, data, target, target_bytes)


def test_a_frozen_dict_target_may_pick_a_part_too(tmp_path):
    _save(tmp_path)
    target = FrozenDict({'batch_stats': {'BatchNorm_0': {'mean': np.zeros(2)}}, 'step': 0})
    restored = checkpoints.restore_checkpoint(tmp_path, target)
    assert isinstance(restored, FrozenDict) and sorted(restored) == ['batch_stats', 'step']
    np.testing.assert_array_equal(restored['batch_stats']['BatchNorm_0']['mean'], MEAN)
    assert restored['step'] == 7


def test_target_none_returns_the_whole_raw_state_dict(tmp_path):
    _save(tmp_path)
    raw = checkpoints.restore_checkpoint(tmp_path, None)
    assert sorted(raw) == ['batch_stats', 'params', 'step']
    np.testing.assert_array_equal(raw['params']['Dense_0']['bias'], BIAS)
    assert raw['step'] == 7


def test_a_key_the_checkpoint_lacks_is_still_refused(tmp_path):
    # The seed raises ValueError here too; ours is a ValueError subclass naming the place.
    path, data = _save(tmp_path)
    target = _saved()
    target['params']['Dense_1'] = {'kernel': np.zeros((3, 3), np.float32)}
    target_bytes = serialization.to_bytes(target)
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, target)
    assert isinstance(info.value, ValueError)
    assert (info.value.key_path, info.value.what) == ('/params', 'keys')
    assert info.value.expected == ['Dense_0', 'Dense_1'] and info.value.found == ['Dense_0']
    _unchanged(path, data, target, target_bytes)


@struct.dataclass
class _Small:
    params: dict


@struct.dataclass
class _WithStats:
    params: dict
    batch_stats: dict


def test_dataclasses_and_lists_still_need_their_exact_fields(tmp_path):
    # The seed's dataclass restore refuses unknown fields and its list restore
    # another length: only plain dicts take a subset.
    big = _WithStats(params={'w': np.ones(2)}, batch_stats={'m': np.zeros(2)})
    _save(tmp_path / 'dc', big)
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path / 'dc', _Small(params={'w': np.zeros(2)}))
    assert (info.value.key_path, info.value.found) == ('/', ['batch_stats', 'params'])
    # ... while a dict inside a dataclass may still pick a part.
    restored = checkpoints.restore_checkpoint(tmp_path / 'dc', _WithStats(params={'w': np.zeros(2)}, batch_stats={}))
    assert restored.batch_stats == {} and list(restored.params) == ['w']
    _save(tmp_path / 'list', {'layers': [np.ones(1), np.ones(1), np.ones(1)]})
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path / 'list', {'layers': [np.zeros(1), np.zeros(1)]})
    assert info.value.key_path == '/layers'


# --- (b) other shapes and dtypes -------------------------------------------------


def test_a_smaller_reference_gets_the_checkpoints_leaves(tmp_path):
    big = np.arange(16, dtype=np.int32).reshape(8, 2)
    path, data = _save(tmp_path, {'model': big})
    target = {'model': np.zeros((4, 2), np.float32)}
    target_bytes = serialization.to_bytes(target)
    restored = checkpoints.restore_checkpoint(tmp_path, target)
    assert restored['model'].dtype == np.int32
    np.testing.assert_array_equal(restored['model'], big)
    _unchanged(path, data, target, target_bytes)


def test_from_state_dict_takes_any_leaf_when_not_strict():
    target = {'w': np.zeros(2, np.float32), 'opt': (0, 0)}
    state = {'w': np.ones((3, 1), np.float64), 'opt': {'0': 1, '1': 2}}
    with pytest.raises(ValueError, match="shape mismatch at '/w'"):
        serialization.from_state_dict(target, state)  # nnjax's default check
    restored = serialization.from_state_dict(target, state, strict=False)
    assert restored['w'].shape == (3, 1) and restored['opt'] == (1, 2)
    # the keyword lasts for that call only
    with pytest.raises(ValueError, match="shape mismatch at '/w'"):
        serialization.from_state_dict(target, state)


# --- (c) a bare array ------------------------------------------------------------


def test_a_bare_array_checkpoint_restores_with_target_none(tmp_path):
    array = np.linspace(0.0, 1.0, 5)
    checkpoints.save_checkpoint(tmp_path, array, step=3)
    restored = checkpoints.restore_checkpoint(tmp_path, target=None)
    assert isinstance(restored, np.ndarray) and restored.dtype == np.float64
    np.testing.assert_array_equal(restored, array)
    np.testing.assert_array_equal(checkpoints.restore_checkpoint(tmp_path, np.zeros(2)), array)


# --- strict=True -----------------------------------------------------------------


@pytest.mark.parametrize('kind', ['extra-in-file', 'shape', 'dtype'])
def test_strict_refuses_what_the_seed_lets_through(tmp_path, kind):
    path, data = _save(tmp_path)
    target = _saved()
    if kind == 'extra-in-file':
        del target['batch_stats']
        expected = ('/', 'keys', ['params', 'step'], ['batch_stats', 'params', 'step'])
    elif kind == 'shape':
        target['params']['Dense_0']['kernel'] = np.zeros((3, 2), np.float32)
        expected = ('/params/Dense_0/kernel', 'shape', (3, 2), (2, 3))
    else:
        target['batch_stats']['BatchNorm_0']['mean'] = np.zeros(2, np.float32)
        expected = ('/batch_stats/BatchNorm_0/mean', 'dtype', 'float32', 'float64')
    target_bytes = serialization.to_bytes(target)
    checkpoints.restore_checkpoint(tmp_path, target)  # the seed's rules accept it
    with pytest.raises(errors.CheckpointMismatchError) as info:
        checkpoints.restore_checkpoint(tmp_path, target, strict=True)
    err = info.value
    assert (err.key_path, err.what, err.expected, err.found) == expected
    _unchanged(path, data, target, target_bytes)


def test_strict_accepts_the_target_it_was_saved_from(tmp_path):
    _save(tmp_path)
    restored = checkpoints.restore_checkpoint(tmp_path, _saved(), strict=True)
    assert serialization.to_bytes(restored) == serialization.to_bytes(_saved())
