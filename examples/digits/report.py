"""What the digits example shows at the end: the curves as a PNG, and nnref's verdict."""

from __future__ import annotations

import pathlib

import numpy as np

from examples.digits.model import make_cnn


def plot_curves(history: dict, epochs_done: int, path: pathlib.Path) -> pathlib.Path:
    """Loss and accuracy per epoch, train and test, side by side."""
    import matplotlib

    matplotlib.use('Agg')  # no screen needed
    import matplotlib.pyplot as plt

    epochs = np.arange(1, epochs_done + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for split in ('train', 'test'):
        ax_loss.plot(epochs, history[f'{split}_loss'][:epochs_done], marker='o', label=split)
        ax_acc.plot(epochs, 100 * history[f'{split}_accuracy'][:epochs_done], marker='o', label=split)
    ax_loss.set(title='Loss', xlabel='epoch', ylabel='cross-entropy')
    ax_acc.set(title='Accuracy', xlabel='epoch', ylabel='%')
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def nnref_logits(state, images: np.ndarray) -> np.ndarray:
    """The trained variables evaluated by the NumPy reference backend (no JAX inside)."""
    import nnref

    to_numpy = lambda tree: nnref.tree_util.tree_map(np.asarray, tree)  # noqa: E731
    variables = {'params': to_numpy(state.params), 'batch_stats': to_numpy(state.batch_stats)}
    return np.asarray(make_cnn(nnref).apply(variables, images, train=False))


def debug_compare(model, state, images: np.ndarray):
    """``nnjax.debug.compare`` of the trained model on ``images`` (eval mode), and how long it took."""
    import time

    from nnjax import debug

    variables = {'params': state.params, 'batch_stats': state.batch_stats}
    started = time.perf_counter()
    report = debug.compare(model, variables, images, train=False)
    return report, time.perf_counter() - started
