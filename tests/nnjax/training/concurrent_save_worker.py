"""Worker of ``test_concurrent_saves.py``: one process saving 20 checkpoints into a shared directory.

Usage: ``python concurrent_save_worker.py CKPT_DIR PARITY BARRIER_DIR``. The
worker announces itself in ``BARRIER_DIR``, waits until both workers have (so
that their saves overlap rather than run one after the other), then saves the
steps ``2 * i + PARITY`` for ``i`` in ``range(20)`` with ``keep=3`` and
``overwrite=True``. It exits 0 if every save returned, 1 with the traceback
otherwise.
"""

import os
import sys
import time
import traceback

import numpy as np

SAVES = 20


def state_at(step):
    return {'w': np.full(64, step, np.float32), 'step': step}


def main(ckpt_dir, parity, barrier_dir):
    from nnjax.training import checkpoints  # noqa: PLC0415 - after argv parsing

    open(os.path.join(barrier_dir, f'ready_{parity}'), 'w').close()
    deadline = time.monotonic() + 60
    while len(os.listdir(barrier_dir)) < 2:
        if time.monotonic() > deadline:
            print('the other worker never started', file=sys.stderr)
            return 1
        time.sleep(0.001)
    try:
        for i in range(SAVES):
            step = 2 * i + parity
            checkpoints.save_checkpoint(ckpt_dir, state_at(step), step, keep=3, overwrite=True)
    except BaseException:  # noqa: BLE001 - report whatever failed
        traceback.print_exc()
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
