"""Simulated CPU devices, and one process per simulated host under ``jax.distributed``.

JAX reads ``XLA_FLAGS`` once, when it first creates its CPU backend, so
:func:`simulate_cpu_devices` must run before anything imports ``jax``; this
module does not import it at the top for that reason.

``--processes N`` turns the script into a launcher: :func:`run_processes`
starts N copies of it on this machine, each with its share of the devices,
tells them where process 0 coordinates (``127.0.0.1`` and a free port) and
waits. Process 0's output is the run's output; the others write to
``<workdir>/logs/process_<i>.log``. If one copy fails, or the time limit
passes, the launcher stops the others instead of leaving them blocked in a
collective that will never complete.

>>> free_port() > 0
True
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

_DEVICE_FLAG = '--xla_force_host_platform_device_count'


def simulate_cpu_devices(count: int) -> None:
    """Make JAX (not yet imported) see ``count`` CPU devices in this process."""
    if 'jax' in sys.modules:
        import jax

        if jax.device_count() != count:  # pragma: no cover - a usage error, not a code path
            raise SystemExit(
                f'JAX was imported before train_lm could ask for {count} devices; '
                f'it has {jax.device_count()}. Run the script in a fresh process.'
            )
        return
    flags = [f for f in os.environ.get('XLA_FLAGS', '').split() if not f.startswith(_DEVICE_FLAG)]
    os.environ['XLA_FLAGS'] = ' '.join(flags + [f'{_DEVICE_FLAG}={count}'])
    os.environ['JAX_PLATFORMS'] = 'cpu'


def initialize_distributed(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join the run as ``process_id`` of ``num_processes`` (gloo collectives on CPU)."""
    import jax

    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_processes(script: str, argv: list[str], processes: int, logs: pathlib.Path, timeout: float | None) -> int:
    """Run ``script argv`` as ``processes`` cooperating processes; the first non-zero exit status.

    Each copy gets ``--process-id``, ``--num-processes`` and ``--coordinator``
    appended to ``argv``. Raises ``SystemExit`` (after stopping every copy)
    when ``timeout`` seconds pass first.
    """
    logs.mkdir(parents=True, exist_ok=True)
    coordinator = f'127.0.0.1:{free_port()}'
    children, log_files = [], []
    previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        for i in range(processes):
            cmd = [
                sys.executable,
                script,
                *argv,
                '--process-id',
                str(i),
                '--num-processes',
                str(processes),
                '--coordinator',
                coordinator,
            ]
            if i == 0:
                out = None  # process 0 speaks for the run
            else:
                out = open(logs / f'process_{i}.log', 'w')
                log_files.append(out)
            children.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            codes = [c.poll() for c in children]
            failed = [code for code in codes if code not in (None, 0)]
            if failed:
                return failed[0]
            if all(code == 0 for code in codes):
                return 0
            if deadline is not None and time.monotonic() > deadline:
                raise SystemExit(f'the {processes} processes did not finish in {timeout:.0f} s; stopped them.')
            time.sleep(0.1)
    finally:
        for child in children:  # only those still running: a failure or a timeout
            if child.poll() is None:
                child.kill()
                child.wait()
        for f in log_files:
            f.close()
        signal.signal(signal.SIGTERM, previous_sigterm)


def divert_native_stdout(log_path: pathlib.Path):
    """Send what native code prints (gloo's connection notices) to ``log_path``.

    Returns a text stream on the original standard output, for the run's own
    messages (a terminal stays a terminal, so the progress bar still shows).
    """
    sys.stdout.flush()
    original = os.fdopen(os.dup(1), 'w', buffering=1)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w') as log:
        os.dup2(log.fileno(), 1)
    return original


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # runs the launcher's cleanup, which stops the copies
