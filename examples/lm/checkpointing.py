"""Sharded, asynchronous checkpoints of the train state, and resuming from them.

Saving is ``checkpoints.save_checkpoint_multiprocess`` with Orbax's
``AsyncCheckpointer``: every process calls it, each writes only the shards
its own devices hold (nothing is gathered to one host), and the call returns
once the arrays are copied off the devices, so training goes on while the
files are written. The checkpoint is ``<dir>/checkpoint_<step>``.

Restoring hands ``restore_checkpoint`` the freshly initialised, sharded state
as its target: the arrays come back in the target's shardings, so a run may
resume on another mesh, other rules or another number of processes than the
one that saved.
"""

from __future__ import annotations

import pathlib

import orbax.checkpoint as ocp

from nnjax.training import checkpoints


class Checkpoints:
    """The run's checkpoint directory: ``save`` every few steps, ``restore`` the latest."""

    def __init__(self, directory: pathlib.Path, keep: int = 2):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.checkpointer = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())

    def latest(self) -> str | None:
        return checkpoints.latest_checkpoint(self.directory)

    def restore(self, target):
        """The latest checkpoint in the shardings of ``target``; ``target`` itself if there is none."""
        if self.latest() is None:
            return target
        # strict: a checkpoint of another model configuration is refused, not reshaped.
        return checkpoints.restore_checkpoint(
            self.directory, target=target, strict=True, orbax_checkpointer=self.checkpointer
        )

    def save(self, state, step: int) -> None:
        """Starts writing ``state``; returns before the files are complete (see :meth:`wait`)."""
        checkpoints.save_checkpoint_multiprocess(
            self.directory, state, step=step, keep=self.keep, orbax_checkpointer=self.checkpointer
        )

    def wait(self) -> None:
        """Blocks until the last save is complete on disk."""
        self.checkpointer.wait_until_finished()

    def close(self) -> None:
        self.wait()
        self.checkpointer.close()
