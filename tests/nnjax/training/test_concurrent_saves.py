"""Two real processes saving into one checkpoint directory do not break each other's saves.

Process A saves the even steps 0, 2, ..., 38 and process B the odd steps 1, 3,
..., 39, at the same time (they start together at a file barrier), with
``keep=3`` and ``overwrite=True``. ``overwrite`` is what the seed semantics
need here: without it a save refuses any step at or below one already on disk
(``InvalidCheckpointError``), which is exactly what interleaved writers
produce (B's step 3 after A's step 4). With it, a save may remove the other
process's later steps and both prune old checkpoints, so the runs race on
the same files: one process's clean-up meets the other's live temporary
file, and both try to remove the same old checkpoint. Both must exit 0,
leave no temporary file behind, and every checkpoint listed afterwards must
restore (strictly, into the target it was saved from) with its own step.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from nnjax.training import checkpoints

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name('concurrent_save_worker.py')
STEPS = set(range(40))


def _run_two_workers(ckpt_dir, barrier_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS='cpu')
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(ckpt_dir), str(parity), str(barrier_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for parity in (0, 1)
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def test_two_processes_saving_into_one_directory(tmp_path):
    ckpt_dir, barrier_dir = tmp_path / 'ckpt', tmp_path / 'barrier'
    barrier_dir.mkdir()
    for parity, (code, out, err) in enumerate(_run_two_workers(ckpt_dir, barrier_dir)):
        assert code == 0, f'worker {parity} failed:\n{out}\n{err}'

    names = sorted(os.listdir(ckpt_dir))
    assert not [n for n in names if n.startswith('.')], f'temporary files left: {names}'
    listed = [n for n in names if n.startswith('checkpoint_')]
    assert listed, names
    for name in listed:
        step = int(name[len('checkpoint_') :])
        assert step in STEPS
        target = {'w': np.zeros(64, np.float32), 'step': 0}
        restored = checkpoints.restore_checkpoint(ckpt_dir / name, target, strict=True)
        assert restored['step'] == step
        np.testing.assert_array_equal(restored['w'], np.full(64, step, np.float32))
    newest = max(int(n[len('checkpoint_') :]) for n in listed)
    assert checkpoints.latest_checkpoint(ckpt_dir) == str(ckpt_dir / f'checkpoint_{newest}')
    assert checkpoints.restore_checkpoint(ckpt_dir, None)['step'] == newest
