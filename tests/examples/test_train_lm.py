"""The scale example (``examples/train_lm.py``), end to end, on a tiny model.

``make demo-lm`` trains the real configuration for a minute or two; here
the same script trains a one-block model for a few steps on the default 2x4
mesh of simulated CPU devices. The script sets the device count before it
imports JAX, so every run is a fresh subprocess (in its own process group,
killed whole if it overruns). Three runs share one module fixture:

* ``first``: 6 steps from scratch, a checkpoint every 3 steps, a
  validation loss;
* ``again``: the same directory, ``--steps 8``: resumes from step 6, trains
  steps 7 and 8 only;
* ``two_processes``: a copy of the first run's directory, ``--steps 8``,
  run as 2 processes under ``jax.distributed`` (4 devices each): restores
  the one-process checkpoint into a mesh that spans both processes, trains
  the same two steps, saves its shards, generates text.
"""

import doctest
import importlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('optax')
pytest.importorskip('orbax.checkpoint')

from examples.lm.report import read_summary  # noqa: E402
from nnjax.training import checkpoints  # noqa: E402
from shared_spec.tolerances import assert_close  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'examples' / 'train_lm.py'
TINY = [
    '--d-model',
    '32',
    '--layers',
    '1',
    '--heads',
    '4',
    '--seq-len',
    '16',
    '--batch-size',
    '16',
    '--checkpoint-every',
    '3',
    '--log-every',
    '1',
    '--no-plot',
]
TIMEOUT_S = 240  # a safety net for a hung run, far above the few seconds each takes


def _start(workdir, *args):
    env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *TINY, '--workdir', str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )


def _finish(proc, workdir):
    """Wait for a run and return its summary and output; its output is shown if it fails."""
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the processes it started
        output, _ = proc.communicate()
        pytest.fail(f'{" ".join(proc.args)} ran past {TIMEOUT_S} s:\n{output}')
    assert proc.returncode == 0, output
    return read_summary(workdir / 'summary.json'), output


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    one, two = tmp_path_factory.mktemp('one_process'), tmp_path_factory.mktemp('two_processes')
    first = _finish(_start(one, '--steps', '6', '--eval-batches', '1', '--generate', '0'), one)
    shutil.copytree(one, two, dirs_exist_ok=True)
    # The two resumed runs are independent (separate directories): run them side by side.
    again = _start(one, '--steps', '8', '--eval-batches', '0', '--generate', '0')
    two_processes = _start(
        two,
        '--steps',
        '8',
        '--eval-batches',
        '0',
        '--generate',
        '8',
        '--processes',
        '2',
        '--timeout',
        str(TIMEOUT_S - 30),
    )
    try:
        return {
            'first': first,
            'again': _finish(again, one),
            'two_processes': _finish(two_processes, two),
            'dirs': (one, two),
        }
    finally:
        for proc in (again, two_processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_trains_on_the_2x4_mesh_with_a_decreasing_loss(runs):
    summary, output = runs['first']
    assert summary['mesh'] == '2x4' and summary['devices'] == 8 and summary['processes'] == 1
    assert summary['start_step'] == 0 and summary['end_step'] == 6 and summary['resumed_from'] is None
    losses = summary['run_losses']
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert np.isfinite(summary['valid_loss'])
    assert output.count(' loss ') >= 6  # the loss of every step is printed (--log-every 1)


def test_checkpoints_hold_the_whole_train_state(runs):
    one, _ = runs['dirs']
    saved = checkpoints.restore_checkpoint(one / 'checkpoints', target=None, step=6)
    assert int(saved['step']) == 6
    kernel = saved['params']['block_0']['mlp_in']['kernel']
    assert kernel.shape == (32, 128)
    assert set(saved['opt_state']) and 'embed' in saved['params']


def test_a_second_run_resumes_from_the_latest_checkpoint_without_retraining(runs):
    first, _ = runs['first']
    summary, output = runs['again']
    assert summary['start_step'] == 6 and summary['end_step'] == 8
    assert summary['resumed_from'].endswith('checkpoint_6') and 'resumed from' in output
    assert len(summary['run_losses']) == 2  # steps 7 and 8 only
    # The loss log holds the whole run: the first run's six steps as they were, then two more.
    assert summary['losses'][:6] == first['run_losses'] and summary['losses'][6:] == summary['run_losses']
    assert checkpoints.latest_checkpoint(runs['dirs'][0] / 'checkpoints').endswith('checkpoint_8')


def test_two_processes_resume_the_same_run_and_save_their_shards(runs):
    again, _ = runs['again']
    summary, output = runs['two_processes']
    assert summary['processes'] == 2 and summary['devices'] == 8
    assert summary['start_step'] == 6 and summary['end_step'] == 8
    assert summary['resumed_from'].endswith('checkpoint_6')
    # The same two steps from the same checkpoint: equal up to the order in
    # which the collectives (in-process here, gloo across processes) add up.
    assert_close(np.float32(summary['run_losses']), np.float32(again['run_losses']), family='reduction')
    assert summary['sample'].startswith(summary['prompt'])
    _, two = runs['dirs']
    assert (two / 'logs' / 'process_1.log').exists()
    saved = checkpoints.restore_checkpoint(two / 'checkpoints', target=None)
    assert int(saved['step']) == 8
    reference = checkpoints.restore_checkpoint(runs['dirs'][0] / 'checkpoints', target=None)

    def shapes(tree):
        return {k: shapes(v) if isinstance(v, dict) else np.shape(v) for k, v in tree.items()}

    assert shapes(saved['params']) == shapes(reference['params'])


def test_a_run_with_other_model_options_is_refused(runs, tmp_path):
    one, _ = runs['dirs']
    env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
    args = [*TINY, '--d-model', '64']  # the last --d-model counts
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args, '--workdir', str(one), '--steps', '9'],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=TIMEOUT_S,
    )
    assert result.returncode != 0 and '--fresh' in result.stderr and '--d-model 32' in result.stderr
    assert checkpoints.latest_checkpoint(one / 'checkpoints').endswith('checkpoint_8')


@pytest.mark.parametrize('name', ['data', 'model', 'training', 'generate', 'launch', 'report'])
def test_docstring_examples(name):
    module = importlib.import_module(f'examples.lm.{name}')
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.slow
def test_demo_configuration_trains_alike_in_one_and_two_processes(tmp_path):
    # The demo's own model size (make demo-lm), 60 steps, in 1 process x 8
    # devices and in 2 processes x 4: the same losses but for the summation
    # order of cross-process all-reduces.
    demo = [
        '--d-model',
        '128',
        '--layers',
        '2',
        '--seq-len',
        '64',
        '--batch-size',
        '64',
        '--steps',
        '60',
        '--checkpoint-every',
        '30',
        '--eval-batches',
        '0',
        '--generate',
        '0',
    ]
    one, two = tmp_path / 'one', tmp_path / 'two'
    first, _ = _finish(_start(one, *demo), one)
    second, _ = _finish(_start(two, *demo, '--processes', '2'), two)
    assert len(first['losses']) == len(second['losses']) == 60
    assert first['losses'][-1] < first['losses'][0] - 2
    assert_close(np.float32(second['losses']), np.float32(first['losses']), family='reduction')
    assert os.path.basename(second['latest_checkpoint']) == 'checkpoint_60'
