"""A two-process job preempted in the middle of an asynchronous sharded save.

Two processes x 4 CPU devices (``jax.distributed``, gloo) hold a state
sharded over a 2x4 mesh that spans them. They save step 1 with Orbax, then
start an asynchronous save of step 2 whose commit is held back, and both are
killed with SIGKILL, as a preempted job is. The previous checkpoint must be
the latest and restore exactly, in one process as host arrays and in two new
processes into the sharded state, which then save step 2 over the leftovers.
The single-process form of this check is in
``tests/nnjax/training/test_checkpoints_orbax.py``.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from nnjax.training import checkpoints
from tests.nnjax.scale.launcher import free_port, worker_env

DEADLINE_S = 240

_JOB = textwrap.dedent('''
    import os, sys, time
    import jax
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    port, pid, phase, ckpt_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    jax.distributed.initialize(f'127.0.0.1:{port}', num_processes=2, process_id=pid)
    import numpy as np
    import orbax.checkpoint as ocp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from nnjax.training import checkpoints

    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ('data', 'model'))
    sharding = NamedSharding(mesh, P('data', 'model'))

    def state(scale):
        host = {'w': scale * np.arange(64 * 32, dtype=np.float32).reshape(64, 32),
                'b': scale * np.arange(8, dtype=np.float32).reshape(2, 4)}
        return {k: jax.make_array_from_callback(v.shape, sharding, lambda i, v=v: v[i])
                for k, v in host.items()}

    if phase == 'preempted':
        checkpoints.save_checkpoint_multiprocess(ckpt_dir, state(1.0), 1,
                                                 orbax_checkpointer=ocp.PyTreeCheckpointer())

        def held(self, directory):
            open(os.path.join(os.path.dirname(ckpt_dir), f'held_{pid}'), 'w').close()
            time.sleep(600)

        ocp.PyTreeCheckpointHandler.finalize = held
        saver = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
        checkpoints.save_checkpoint_multiprocess(ckpt_dir, state(-1.0), 2, orbax_checkpointer=saver)
        time.sleep(600)
    else:  # resumed: restore into the sharded state, check it, save the next step
        restored = checkpoints.restore_checkpoint(ckpt_dir, state(0.0))
        expected = state(1.0)
        for k in expected:
            assert restored[k].sharding == sharding, k
            for got, want in zip(restored[k].addressable_shards, expected[k].addressable_shards):
                np.testing.assert_array_equal(np.asarray(got.data), np.asarray(want.data))
        checkpoints.save_checkpoint_multiprocess(ckpt_dir, state(2.0), 2,
                                                 orbax_checkpointer=ocp.PyTreeCheckpointer())
        print('resumed', flush=True)
''')


def _start(phase, ckpt_dir, logs):
    port = free_port()
    procs = []
    for pid in range(2):
        log = open(logs / f'{phase}_{pid}.log', 'w')
        procs.append(
            subprocess.Popen(
                [sys.executable, '-c', _JOB, str(port), str(pid), phase, str(ckpt_dir)],
                env=worker_env(4),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def _kill(procs):
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _log(logs, phase):
    return '\n'.join(p.read_text()[-2000:] for p in sorted(logs.glob(f'{phase}_*.log')))


def test_preempted_async_save_leaves_the_previous_checkpoint(tmp_path):
    ckpt_dir = tmp_path / 'ckpt'
    procs = _start('preempted', ckpt_dir, tmp_path)
    try:
        deadline = time.monotonic() + DEADLINE_S
        # The primary process holds the commit; the job is preempted there.
        while not (tmp_path / 'held_0').exists():
            assert all(p.poll() is None for p in procs), _log(tmp_path, 'preempted')
            assert time.monotonic() < deadline, _log(tmp_path, 'preempted')
            time.sleep(0.2)
    finally:
        _kill(procs)
    names = sorted(os.listdir(ckpt_dir))
    assert 'checkpoint_1' in names and 'checkpoint_2' not in names, names
    assert os.path.basename(checkpoints.latest_checkpoint(ckpt_dir)) == 'checkpoint_1'
    raw = checkpoints.restore_checkpoint(ckpt_dir, None)
    np.testing.assert_array_equal(raw['w'], np.arange(64 * 32, dtype=np.float32).reshape(64, 32))

    procs = _start('resumed', ckpt_dir, tmp_path)
    try:
        for proc in procs:
            assert proc.wait(DEADLINE_S) == 0, _log(tmp_path, 'resumed')
    finally:
        _kill(procs)
    assert sorted(os.listdir(ckpt_dir)) == ['checkpoint_2']
    np.testing.assert_array_equal(
        checkpoints.restore_checkpoint(ckpt_dir, None)['b'], 2 * np.arange(8, dtype=np.float32).reshape(2, 4)
    )
