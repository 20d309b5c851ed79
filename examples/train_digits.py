"""The main job (``make demo``): a small CNN on handwritten digits, trained with nnjax.

nnjax + optax + TrainState under ``jax.jit``, with Dropout and BatchNorm, on
scikit-learn's bundled 8x8 digits (nothing is downloaded). It

* prints the model table once (``Module.tabulate``);
* shows a progress bar and, per epoch, train/test loss and accuracy;
* checkpoints every epoch into ``--workdir``; running it again resumes from
  the latest checkpoint (``--fresh`` starts over);
* writes the curves to ``<workdir>/curves.png``;
* evaluates the trained variables with nnref, the NumPy reference backend, and
  prints the largest difference from nnjax's logits, then runs
  ``nnjax.debug.compare`` on the same images (every submodule call against
  float64 nnref) and prints its verdict and how long it took;
* exits non-zero if the test accuracy is below ``--min-accuracy``.

Run: ``make demo``, or ``.venv/bin/python examples/train_digits.py --help``.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

import nnjax as nn  # noqa: E402
from examples.digits import data  # noqa: E402
from examples.digits.model import make_cnn  # noqa: E402
from examples.digits.report import debug_compare, nnref_logits, plot_curves  # noqa: E402
from examples.digits.training import create_state, eval_step, run_state, train_step  # noqa: E402
from nnjax.errors import CheckpointMismatchError  # noqa: E402
from nnjax.training import checkpoints  # noqa: E402
from shared_spec.tolerances import tolerance  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--learning-rate', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workdir', type=pathlib.Path, default=ROOT / 'out' / 'digits')
    p.add_argument('--fresh', action='store_true', help='delete the workdir and start over')
    p.add_argument(
        '--min-accuracy', type=float, default=0.95, help='exit with status 1 if the final test accuracy is lower'
    )
    p.add_argument('--no-plot', action='store_true', help='skip the PNG (no matplotlib needed)')
    return p.parse_args(argv)


def main(argv=None, dataset=None) -> int:
    """Train (or resume) and report; ``dataset`` replaces the digits with a (train, test) pair."""
    args = parse_args(argv)
    console = Console()
    started = time.perf_counter()
    ckpt_dir = args.workdir / 'checkpoints'
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    train, test = dataset if dataset is not None else data.load(seed=args.seed)
    console.print(
        f'data: {len(train.labels)} train / {len(test.labels)} test images of 8x8, '
        f'{jax.device_count()} {jax.default_backend()} device(s)'
    )
    model = make_cnn(nn)
    print(
        model.tabulate(jax.random.PRNGKey(0), jnp.ones((1, 8, 8, 1)), train=False, console_kwargs={'width': 120})
    )  # already rendered by rich

    fresh = run_state(
        create_state(model, jax.random.PRNGKey(args.seed), train.images[:1], args.learning_rate), args.epochs
    )
    try:
        run = checkpoints.restore_checkpoint(ckpt_dir, target=fresh, strict=True)
    except CheckpointMismatchError as err:  # e.g. another --epochs: the curves differ in length
        raise SystemExit(
            f'{ckpt_dir} holds a run that does not fit this configuration '
            f'({err.key_path}: {err.what} {err.found}, expected {err.expected}). '
            'Pass --fresh to start over, or the options of that run.'
        ) from err
    first_epoch = int(run['epoch']) + 1
    if first_epoch > 1:
        console.print(
            f'resumed from {checkpoints.latest_checkpoint(ckpt_dir)} (epoch {first_epoch - 1} of {args.epochs} done)'
        )

    state, history = run['state'], run['history']
    steps = data.steps_per_epoch(train, args.batch_size)
    columns = (
        TextColumn('epoch {task.fields[epoch]:>2}'),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn('loss {task.fields[loss]:.4f}'),
        TimeElapsedColumn(),
    )
    for epoch in range(first_epoch, args.epochs + 1):
        losses, accuracies = [], []
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task('train', total=steps, epoch=epoch, loss=float('nan'))
            for batch in data.batches(train, args.batch_size, seed=args.seed, epoch=epoch):
                state, loss, accuracy = train_step(state, batch.images, batch.labels)
                losses.append(loss)
                accuracies.append(accuracy)
                progress.update(task, advance=1, loss=float(loss))
        _, test_loss, test_accuracy = eval_step(state, test.images, test.labels)
        row = {
            'train_loss': np.mean(losses),
            'train_accuracy': np.mean(accuracies),
            'test_loss': test_loss,
            'test_accuracy': test_accuracy,
        }
        for name, value in row.items():
            history[name][epoch - 1] = float(value)
        console.print(
            f'epoch {epoch:2d}  train loss {row["train_loss"]:.4f} '
            f'acc {100 * row["train_accuracy"]:6.2f}%  |  '
            f'test loss {float(test_loss):.4f} acc {100 * float(test_accuracy):6.2f}%'
        )
        checkpoints.save_checkpoint(ckpt_dir, {'state': state, 'epoch': epoch, 'history': history}, step=epoch, keep=2)

    epochs_done = int(np.sum(~np.isnan(history['test_accuracy'])))
    if not args.no_plot:
        console.print(f"curves written to {plot_curves(history, epochs_done, args.workdir / 'curves.png')}")
    logits, _, accuracy = eval_step(state, test.images, test.labels)
    accuracy = float(accuracy)

    batch = test.images[:64]
    reference = nnref_logits(state, batch)
    diff = float(np.max(np.abs(reference - np.asarray(logits[:64], np.float64))))
    rtol, atol = tolerance('float32', 'conv')
    bound = atol + rtol * float(np.max(np.abs(reference)))
    agree = int(np.sum(reference.argmax(-1) == np.asarray(logits[:64]).argmax(-1)))

    console.print(
        f'nnref on {len(batch)} test images: largest |logit difference| from nnjax '
        f'{diff:.2e} (conformance bound {bound:.1e}: '
        f'{"within" if diff <= bound else "OUTSIDE"}); same class for {agree}/{len(batch)}'
    )
    report, seconds = debug_compare(model, state, batch)
    verdict = f'first divergence at {report.first_divergence}' if report.diverged else 'no submodule diverges'
    console.print(
        f'nnjax.debug.compare on the same images, every submodule call against float64 nnref: '
        f'{verdict} ({len(report.rows)} calls, {seconds:.2f} s)'
    )
    console.print(
        f'test accuracy {100 * accuracy:.2f}% after {epochs_done} epochs; '
        f'wall time {time.perf_counter() - started:.1f} s'
    )
    if accuracy < args.min_accuracy:
        console.print(f'[red]below the required {100 * args.min_accuracy:.0f}%[/red]')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
