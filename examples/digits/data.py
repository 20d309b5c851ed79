"""The handwritten-digits dataset that ships inside scikit-learn, split and batched.

1,797 grey-scale images of 8x8 pixels (values 0..16), ten classes. The data
file is part of the scikit-learn wheel, so nothing is downloaded. The split
into train and test sets is a fixed permutation, and the per-epoch shuffle is a
function of (seed, epoch), so a run that resumes from a checkpoint sees the
same batches it would have seen without stopping.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

NUM_CLASSES = 10


class Split(NamedTuple):
    images: np.ndarray  # float32 [n, 8, 8, 1], standardized with the train set's statistics
    labels: np.ndarray  # int32 [n]


def load(test_fraction: float = 0.2, seed: int = 0) -> tuple[Split, Split]:
    """(train, test) splits of scikit-learn's digits, standardized per pixel set."""
    from sklearn.datasets import load_digits  # the data file ships in the wheel

    digits = load_digits()
    images = digits.images.astype(np.float32)[..., None] / 16.0
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    test_idx, train_idx = order[:n_test], order[n_test:]
    mean = images[train_idx].mean()
    std = images[train_idx].std()
    standardize = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    return (
        Split(standardize(images[train_idx]), labels[train_idx]),
        Split(standardize(images[test_idx]), labels[test_idx]),
    )


def batches(split: Split, batch_size: int, *, seed: int, epoch: int) -> Iterator[Split]:
    """Shuffled full batches of ``split`` for one epoch (the ragged tail is dropped)."""
    order = np.random.default_rng([seed, epoch]).permutation(len(split.labels))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[start : start + batch_size]
        yield Split(split.images[idx], split.labels[idx])


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return len(split.labels) // batch_size
