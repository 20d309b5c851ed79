"""What the run leaves besides checkpoints: the loss log, the loss plot, the summary.

The loss log (``<workdir>/losses.tsv``, one ``step<TAB>loss`` line per
step, written by process 0) outlives the process, so the plot of a resumed
run shows the whole curve. A run that resumes from step ``s`` first drops
the lines after ``s``: those steps are trained again, from the checkpoint.

>>> import pathlib, tempfile
>>> log = LossLog(pathlib.Path(tempfile.mkdtemp()) / 'losses.tsv')
>>> for step, loss in [(1, 5.5), (2, 5.0), (3, 4.5)]:
...     log.append(step, loss)
>>> log.resume_at(2)
[(1, 5.5), (2, 5.0)]
>>> log.append(3, 4.25); log.resume_at(3)
[(1, 5.5), (2, 5.0), (3, 4.25)]
"""

from __future__ import annotations

import json
import pathlib


class LossLog:
    """Per-step training losses in a text file that resumed runs extend."""

    def __init__(self, path: pathlib.Path):
        self.path = pathlib.Path(path)

    def resume_at(self, step: int) -> list[tuple[int, float]]:
        """The losses of steps ``1..step``; later lines (from an interrupted run) are dropped."""
        rows = []
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                fields = line.split('\t')
                if len(fields) == 2 and int(fields[0]) <= step:  # a torn last line is skipped
                    rows.append((int(fields[0]), float(fields[1])))
        self.path.write_text(''.join(f'{s}\t{loss!r}\n' for s, loss in rows))
        return rows

    def append(self, step: int, loss: float) -> None:
        with self.path.open('a') as f:
            f.write(f'{step}\t{loss!r}\n')


def plot_losses(
    train: list[tuple[int, float]], valid: list[tuple[int, float]], path: pathlib.Path, title: str
) -> pathlib.Path | None:
    """Training loss per step (and validation loss where measured) as a PNG; None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use('Agg')  # no screen needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    if train:
        steps, losses = zip(*train)
        ax.plot(steps, losses, lw=1, label='train (per step)')
    if valid:
        steps, losses = zip(*valid)
        ax.plot(steps, losses, 'o-', label='validation')
    ax.set(title=title, xlabel='step', ylabel='cross-entropy (nats per byte)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_summary(summary: dict, path: pathlib.Path) -> None:
    """The run's summary as JSON (what ``--processes`` hands back to its launcher)."""
    path.write_text(json.dumps(summary, indent=1) + '\n')


def read_summary(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())
