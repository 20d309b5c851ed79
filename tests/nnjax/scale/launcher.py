"""Start scale workers in subprocesses, with simulated devices, and collect their results.

Each worker is ``python -m tests.nnjax.scale.worker ROLE ...`` in a fresh
interpreter, so ``XLA_FLAGS`` (the simulated device count) takes effect and
``jax.distributed`` can be initialised once per process. A worker writes one
JSON object to the file named by ``--out``; its stdout and stderr go to a
log file beside it, shown when something fails.

A multi-process run is all or nothing: when one process fails, the others
would wait for it in a collective forever, so they are killed at once; when
the deadline passes, every process still running is killed. Each worker
runs in its own session (process group), and the group is killed, so no
child of a worker outlives it.

>>> port = free_port()
>>> 1024 <= port < 65536
True
>>> worker_env(4)['XLA_FLAGS'].endswith('--xla_force_host_platform_device_count=4')
True
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ['ROOT', 'WorkerError', 'free_port', 'worker_env', 'run_workers']

ROOT = Path(__file__).resolve().parents[3]
_DEVICE_FLAG = '--xla_force_host_platform_device_count'


class WorkerError(RuntimeError):
    """A worker exited with an error, wrote no result, or ran past its deadline.

    ``pids`` are the process ids of the run's workers (all ended by now).
    """

    def __init__(self, message, pids=()):
        super().__init__(message)
        self.pids = list(pids)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def worker_env(devices):
    """This process's environment, with ``devices`` simulated CPU devices per process."""
    env = dict(os.environ)
    flags = [f for f in env.get('XLA_FLAGS', '').split() if not f.startswith(_DEVICE_FLAG)]
    env['XLA_FLAGS'] = ' '.join(flags + [f'{_DEVICE_FLAG}={devices}'])
    env['JAX_PLATFORMS'] = 'cpu'
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    return env


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group
        except ProcessLookupError:
            pass
    proc.wait()


def _log_tail(path, chars=4000):
    try:
        text = Path(path).read_text(errors='replace')
    except OSError:
        return '<no log>'
    return text[-chars:]


def run_workers(role, *, processes, devices, workdir, timeout, args=(), tag=None):
    """Runs ``processes`` copies of worker ``role``; returns their results, by process id.

    Every process gets ``devices`` simulated CPU devices and the flags
    ``--process-id``, ``--num-processes``, ``--port`` (one free coordinator
    port shared by all) and ``--out``, then ``args``. Raises
    :class:`WorkerError`, with each process's log tail, if any process
    fails, writes no result, or is still running after ``timeout`` seconds;
    every process is dead by the time it returns or raises. Results and logs
    are ``{tag}_{process}.json`` / ``.log`` in ``workdir`` (``tag`` defaults
    to ``role``).
    """
    workdir = Path(workdir)
    tag = role if tag is None else tag
    port = free_port()
    env = worker_env(devices)
    procs, outs, logs = [], [], []
    try:
        for pid in range(processes):
            out = workdir / f'{tag}_{pid}.json'
            log = workdir / f'{tag}_{pid}.log'
            cmd = [
                sys.executable,
                '-m',
                'tests.nnjax.scale.worker',
                role,
                '--process-id',
                str(pid),
                '--num-processes',
                str(processes),
                '--port',
                str(port),
                '--out',
                str(out),
                *map(str, args),
            ]
            with open(log, 'wb') as log_file:
                procs.append(
                    subprocess.Popen(
                        cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
            outs.append(out)
            logs.append(log)
        deadline = time.monotonic() + timeout
        problem = None
        while problem is None:
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes):
                problem = f'exit codes {codes}'
            elif all(c == 0 for c in codes):
                break
            elif time.monotonic() > deadline:
                problem = f'still running after {timeout} s (killed)'
            else:
                time.sleep(0.1)
    finally:
        for proc in procs:
            _kill(proc)
    if problem is None and not all(out.exists() for out in outs):
        problem = 'a worker exited 0 without writing its result'
    if problem is not None:
        tails = '\n'.join(f'--- {tag} process {i} log ---\n{_log_tail(log)}' for i, log in enumerate(logs))
        raise WorkerError(f'{tag} workers failed: {problem}\n{tails}', pids=[proc.pid for proc in procs])
    return [json.loads(out.read_text()) for out in outs]
