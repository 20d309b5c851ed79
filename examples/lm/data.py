"""The text: Python's own help topics, read as bytes, batched as global arrays.

``pydoc_data.topics`` ships with every CPython (it is what ``help('with')``
prints): about 0.5 MB of English prose and code from the language reference,
so nothing is downloaded. The model reads raw UTF-8 bytes (a vocabulary of
256); one topic in ten is held out for validation.

A batch is a function of ``(seed, split, step)`` alone, so a run that
resumes from a checkpoint sees the batches it would have seen without
stopping, whatever the mesh or the number of processes. Each process builds
only the rows its own devices hold (:func:`global_batch`).

>>> corpus = load()
>>> corpus.train.dtype, len(corpus.train) > 400_000, bytes(corpus.train[:10])
(dtype('uint8'), True, b'The "asser')
>>> windows(corpus.train, starts_for(corpus.train, 2, 5, seed=0, split=0, step=0), 5).shape
(2, 6)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

VOCAB_SIZE = 256  # bytes
TRAIN, VALID = 0, 1  # the ``split`` part of a batch's random key


class Corpus(NamedTuple):
    train: np.ndarray  # uint8 [n_train]
    valid: np.ndarray  # uint8 [n_valid]


def load(valid_every: int = 10) -> Corpus:
    """The help topics in sorted order, every ``valid_every``-th one held out, as byte arrays."""
    from pydoc_data.topics import topics

    names = sorted(topics)

    def join(selected):
        return np.frombuffer('\n\n'.join(topics[n] for n in selected).encode('utf-8'), dtype=np.uint8)

    held_out = set(names[valid_every // 2 :: valid_every])
    return Corpus(join(n for n in names if n not in held_out), join(n for n in names if n in held_out))


def encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode('utf-8'), dtype=np.uint8).astype(np.int32)


def decode(tokens) -> str:
    return bytes(np.asarray(tokens, dtype=np.uint8).tolist()).decode('utf-8', errors='replace')


def starts_for(tokens: np.ndarray, batch_size: int, seq_len: int, *, seed: int, split: int, step: int) -> np.ndarray:
    """Where each row of a batch starts: uniform offsets, drawn from ``(seed, split, step)``."""
    rng = np.random.default_rng([seed, split, step])
    return rng.integers(0, len(tokens) - seq_len - 1, size=batch_size)


def windows(tokens: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """Rows of ``seq_len + 1`` tokens: inputs are ``[:, :-1]``, next-token targets ``[:, 1:]``."""
    return tokens[starts[:, None] + np.arange(seq_len + 1)].astype(np.int32)


def global_batch(
    tokens: np.ndarray, batch_size: int, seq_len: int, sharding, *, seed: int, split: int, step: int
) -> jax.Array:
    """The step's ``[batch_size, seq_len + 1]`` batch as one array laid out by ``sharding``.

    Every process draws the same row offsets (cheap) but reads only the rows
    of the shards its own devices hold: ``jax.make_array_from_callback`` asks
    for exactly those.
    """
    starts = starts_for(tokens, batch_size, seq_len, seed=seed, split=split, step=step)

    def shard(index):  # index: a tuple of slices into the global shape
        rows, cols = index
        return windows(tokens, starts[rows], seq_len)[:, cols]

    return jax.make_array_from_callback((batch_size, seq_len + 1), sharding, shard)
