"""The digits demo's training script, on a small synthetic stand-in for the digits.

``make demo`` runs the real thing (scikit-learn's digits, which the test
environment does not install); here the same ``main`` trains two epochs on
ten noisy 8x8 prototypes, which a CNN separates at once, and is run again to
show that it resumes from its checkpoint instead of training anew, and
that a run with other options is refused rather than overwritten.
"""

import numpy as np
import pytest

pytest.importorskip('optax')

from examples import train_digits  # noqa: E402
from examples.digits.data import Split  # noqa: E402
from nnjax.training import checkpoints  # noqa: E402


def _prototypes(n_train=320, n_test=80, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(10, 8, 8, 1)).astype(np.float32)

    def split(n):
        labels = rng.integers(0, 10, size=n).astype(np.int32)
        images = prototypes[labels] + 0.3 * rng.normal(size=(n, 8, 8, 1)).astype(np.float32)
        return Split(images, labels)

    return split(n_train), split(n_test)


def test_trains_checkpoints_each_epoch_resumes_and_refuses_a_mismatched_run(tmp_path, capsys):
    dataset = _prototypes()
    args = ['--epochs', '2', '--workdir', str(tmp_path), '--no-plot', '--min-accuracy', '0.9']
    assert train_digits.main(args, dataset=dataset) == 0
    first = capsys.readouterr().out
    assert 'CNN Summary' in first and 'Total Parameters' in first  # the model table
    assert first.count('epoch  1  train loss') == 1 and first.count('epoch  2  train loss') == 1
    assert 'largest |logit difference| from nnjax' in first and 'within' in first
    assert 'nnjax.debug.compare on the same images' in first and 'no submodule diverges' in first
    ckpt_dir = tmp_path / 'checkpoints'
    assert checkpoints.latest_checkpoint(ckpt_dir).endswith('checkpoint_2')
    saved = checkpoints.restore_checkpoint(ckpt_dir, target=None)
    assert int(saved['epoch']) == 2 and not np.isnan(saved['history']['test_accuracy']).any()

    # Run again: everything is done, so nothing trains and the result is the same.
    assert train_digits.main(args, dataset=dataset) == 0
    second = capsys.readouterr().out
    assert 'resumed from' in second and 'epoch 2 of 2 done' in second
    assert 'train loss' not in second
    assert first.splitlines()[-1].split(';')[0] == second.splitlines()[-1].split(';')[0]  # same accuracy

    # Asking for more epochs than the saved run's curves hold: the script says
    # so and how to start over, and leaves the checkpoint alone.
    with pytest.raises(SystemExit, match='--fresh'):
        train_digits.main(['--epochs', '3'] + args[2:], dataset=dataset)
    assert checkpoints.latest_checkpoint(ckpt_dir).endswith('checkpoint_2')
