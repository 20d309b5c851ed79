"""The launcher never leaves a worker behind.

A hung run is killed at its deadline; when one process fails, its peers
(which would wait for it in a collective forever) are killed at once.
"""

import os

import pytest

from tests.nnjax.scale import launcher


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hung_run_is_killed_at_its_deadline(tmp_path):
    with pytest.raises(launcher.WorkerError) as info:
        launcher.run_workers('hang', processes=2, devices=1, workdir=tmp_path, timeout=2)
    assert 'still running after 2 s' in str(info.value)
    assert len(info.value.pids) == 2
    assert not any(_alive(pid) for pid in info.value.pids)


def test_a_failed_process_ends_the_run_and_its_peers(tmp_path):
    # The deadline is far off: the run must end because process 0 failed,
    # with process 1 still running (exit code None) until it was killed.
    with pytest.raises(launcher.WorkerError) as info:
        launcher.run_workers('hang', processes=2, devices=1, workdir=tmp_path, timeout=300, args=['--fail-first'])
    message = str(info.value)
    assert 'exit codes [1, None]' in message
    assert 'fails on purpose' in message  # the failing process's log is shown
    assert not any(_alive(pid) for pid in info.value.pids)
