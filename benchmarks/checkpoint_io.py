"""Checkpoint save/restore bandwidth, and how long a training step waits for an asynchronous save.

The state is a dict of float32 ``jax.Array``s of about 100 MB: the
parameters of a wide MLP (``LAYERS`` x ``Dense(WIDTH)``) and one momentum
buffer of the same shapes, plus an int32 step. Four ways of writing it,
each restoring into the same state as target:

``nnjax msgpack``  ``nnjax.training.checkpoints.save_checkpoint`` /
                   ``restore_checkpoint``: one msgpack file, written to a
                   temporary file, fsynced, renamed (crash-safe).
``nnjax orbax``    the same functions with
                   ``orbax_checkpointer=orbax.checkpoint.PyTreeCheckpointer()``
                   (and the ``nnjax_use_orbax_checkpointing`` flag on): an
                   Orbax directory written by tensorstore.
``seed msgpack``   ``flax.training.checkpoints`` with
                   ``flax_use_orbax_checkpointing`` off (its legacy files).
``seed orbax``     the same with the flag on and the same kind of
                   checkpointer passed.

Every checkpoint goes to a new step in its own directory with ``keep=1``
(so each save also deletes the previous one, as in training), in a
temporary directory on local disk. The four take turns in every round, so
drift of the machine hits all alike. Bandwidth is the state's bytes
(``MB`` = 10^6 bytes) over the wall time of the call; a restore reads a
file that was just written, so it mostly comes from the page cache. Every
timed operation starts after an untimed ``os.sync()``, so a saver that
fsyncs (nnjax's msgpack path and Orbax do, the seed's msgpack path does
not) pays for its own writes only, not for what the previous saver left
in the page cache.

Asynchronous saving: ``step`` is a jitted SGD-with-momentum step on the
same state (a forward and backward pass of the MLP on a small batch, then
an update of every buffer). In each round, for each asynchronous saver,
the step is timed alone, then a save is launched (``async_manager=
checkpoints.AsyncManager()`` on the msgpack paths, ``orbax_checkpointer=
orbax.checkpoint.AsyncCheckpointer(PyTreeCheckpointHandler())`` on the Orbax
paths) and timed until the call returns (``call``), the step is run and
timed right after (``step after``), then the rest of the save is waited for
(``rest``). What a training step waits is ``call + step after - step
alone``, to be read against the synchronous save of the same format.

``nnref`` writes no checkpoints here and is skipped; the seed rows need
flax; the ``nnjax orbax`` rows need nnjax's Orbax path (they are skipped,
with a note, where ``save_checkpoint`` takes no ``orbax_checkpointer``).
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

LAYERS = 12
WIDTH = 1024
BATCH = 64
ROUNDS = 10  # at most this many rounds (each writes ~1 GB): the harness's --repeat is capped here
MB = 1e6


def make_state(layers: int = LAYERS, width: int = WIDTH, seed: int = 0) -> dict:
    """``{'params': {'layers_i': {'kernel', 'bias'}}, 'momentum': (same shapes), 'step'}`` as jax.Arrays."""
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)

    def tree(scale):
        return {
            f"layers_{i}": {
                "kernel": jnp.asarray(
                    rng.standard_normal((width, width), dtype=np.float32) * np.float32(scale / np.sqrt(width))
                ),
                "bias": jnp.asarray(rng.standard_normal((width,), dtype=np.float32) * np.float32(scale * 0.1)),
            }
            for i in range(layers)
        }

    return {"params": tree(1.0), "momentum": tree(0.01), "step": jnp.asarray(0, jnp.int32)}


def state_bytes(state) -> int:
    import jax

    return int(sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(state)))


def make_step(layers: int = LAYERS, lr: float = 1e-3, beta: float = 0.9):
    """A jitted SGD-with-momentum step ``state, x, y -> state`` on :func:`make_state`'s tree."""
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        for i in range(layers):
            layer = params[f"layers_{i}"]
            x = jnp.tanh(x @ layer["kernel"] + layer["bias"])
        return jnp.mean((x - y) ** 2)

    def step(state, x, y):
        grads = jax.grad(loss_fn)(state["params"], x, y)
        momentum = jax.tree_util.tree_map(lambda m, g: beta * m + g, state["momentum"], grads)
        params = jax.tree_util.tree_map(lambda p, m: p - lr * m, state["params"], momentum)
        return {"params": params, "momentum": momentum, "step": state["step"] + 1}

    return jax.jit(step)


class _Saver:
    """One way of saving and restoring: a backend's checkpoints module, in one format."""

    def __init__(self, label: str, checkpoints, set_flag, orbax: bool):
        self.label, self.checkpoints, self.set_flag, self.orbax = label, checkpoints, set_flag, orbax
        self.step = 0
        self.async_manager = None
        self.async_checkpointer = None

    def _kwargs(self, asynchronous: bool = False) -> dict:
        if not self.orbax:
            return {"async_manager": self.async_manager} if asynchronous else {}
        import orbax.checkpoint as ocp

        if asynchronous:
            if self.async_checkpointer is None:
                self.async_checkpointer = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
            return {"orbax_checkpointer": self.async_checkpointer}
        return {"orbax_checkpointer": ocp.PyTreeCheckpointer()}

    def save(self, ckpt_dir: str, state, asynchronous: bool = False):
        """Save ``state`` at the next step; with ``asynchronous``, return a function that waits for the write."""
        if asynchronous and not self.orbax and self.async_manager is None:
            self.async_manager = self.checkpoints.AsyncManager()
        kwargs = self._kwargs(asynchronous)
        self.step += 1
        self.set_flag(self.orbax)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the seed's legacy path warns on every save
            self.checkpoints.save_checkpoint(ckpt_dir, state, self.step, keep=1, **kwargs)
        if not asynchronous:
            return None
        if self.orbax:
            return self.async_checkpointer.wait_until_finished
        return self.async_manager.wait_previous_save

    def restore(self, ckpt_dir: str, target):
        self.set_flag(self.orbax)
        return self.checkpoints.restore_checkpoint(ckpt_dir, target, **self._kwargs())

    def close(self):
        if self.async_manager is not None:
            self.async_manager.wait_previous_save()
        if self.async_checkpointer is not None:
            self.async_checkpointer.close()
        self.set_flag.reset()


class _Flag:
    """A backend's boolean config flag: ``set`` it per call, ``reset`` it to where it was at the end."""

    def __init__(self, config=None, name: str = ""):
        self.config, self.name = config, name
        self.initial = getattr(config, name) if config is not None else None

    def __call__(self, value: bool):
        if self.config is not None:
            self.config.update(self.name, value)

    def reset(self):
        self(self.initial)


def savers(backends: dict) -> dict:
    """label -> :class:`_Saver` for every checkpoint path available in this run."""
    found = {}
    if "nnjax" in backends:
        import nnjax
        from nnjax.training import checkpoints

        try:
            set_flag = _Flag(nnjax.config, "nnjax_use_orbax_checkpointing")
        except AttributeError:
            set_flag = _Flag()  # an nnjax from before the flag: msgpack only
        found["nnjax msgpack"] = _Saver("nnjax msgpack", checkpoints, set_flag, orbax=False)
        if "orbax_checkpointer" in inspect.signature(checkpoints.save_checkpoint).parameters:
            found["nnjax orbax"] = _Saver("nnjax orbax", checkpoints, set_flag, orbax=True)
        else:
            print(
                "  (checkpoint_io: nnjax's save_checkpoint takes no orbax_checkpointer yet: no nnjax orbax rows)",
                file=sys.stderr,
            )
    if "seed" in backends:
        import flax
        from flax.training import checkpoints as seed_checkpoints

        set_flag = _Flag(flax.config, "flax_use_orbax_checkpointing")
        found["seed msgpack"] = _Saver("seed msgpack", seed_checkpoints, set_flag, orbax=False)
        found["seed orbax"] = _Saver("seed orbax", seed_checkpoints, set_flag, orbax=True)
    else:
        print("  (checkpoint_io: the seed system is not installed, so no flax peer in this run)", file=sys.stderr)
    return found


def _check_equal(restored, state, label: str):
    import jax

    got = jax.tree_util.tree_leaves(restored)
    want = jax.tree_util.tree_leaves(state)
    if len(got) != len(want) or not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(got, want)):
        raise AssertionError(f"checkpoint_io: {label} did not restore the state it saved")


def _flush():
    """Write every dirty page to disk first (untimed).

    Not every saver fsyncs (the seed's msgpack path does not), and on ext4 a
    file's fsync also commits other files' pending data, so without this a
    saver that fsyncs would pay for the writes the one before it left behind.
    """
    if hasattr(os, "sync"):
        os.sync()


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(
    backends: dict,
    repeat: int = ROUNDS,
    min_seconds: float = 0.0,
    layers: int = LAYERS,
    width: int = WIDTH,
    batch: int = BATCH,
    tmpdir: str | None = None,
    **_ignored,
) -> list[dict]:
    """Rows ``{"kind": "bandwidth" | "async", "saver", ...}`` (seconds and MB/s); see the module docstring.

    ``min(repeat, ROUNDS)`` rounds after one warm-up round (which also checks
    that every saver restores exactly what it saved); ``min_seconds`` is
    ignored. Checkpoints go to a temporary directory under ``tmpdir``
    (default: the system's), removed at the end.
    """
    import jax

    rounds = max(1, min(repeat, ROUNDS))
    found = savers(backends)
    if not found:
        return []
    state = make_state(layers, width)
    size = state_bytes(state)
    step = make_step(layers)
    rng = np.random.default_rng(1)
    x = jax.numpy.asarray(rng.standard_normal((batch, width), dtype=np.float32))
    y = jax.numpy.asarray(rng.standard_normal((batch, width), dtype=np.float32))
    jax.block_until_ready(step(state, x, y))  # compile outside the timing

    def run_step():
        return jax.block_until_ready(step(state, x, y))

    times = {label: {"save": [], "restore": [], "alone": [], "call": [], "after": [], "rest": []} for label in found}
    gc_was_enabled = gc.isenabled()
    # Orbax and the seed log warnings on every call (deprecations, waits on a
    # pending save): kept out of the benchmark's output.
    absl_logger = logging.getLogger("absl")
    absl_level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="nnjax-checkpoint-io-", dir=tmpdir) as root:
        dirs = {label: os.path.join(root, label.replace(" ", "_")) for label in found}
        async_dirs = {label: dirs[label] + "_async" for label in found}
        for path in (*dirs.values(), *async_dirs.values()):
            os.makedirs(path)  # every saver starts from an existing, empty directory
        try:
            for round_index in range(rounds + 1):
                warm_up = round_index == 0
                for label, saver in found.items():
                    print(f"  checkpoint_io: round {round_index}/{rounds} {label}", file=sys.stderr, flush=True)
                    gc.collect()
                    gc.disable()
                    _flush()
                    save_s, _ = _timed(lambda saver=saver, label=label: saver.save(dirs[label], state))
                    _flush()
                    restore_s, restored = _timed(lambda saver=saver, label=label: saver.restore(dirs[label], state))
                    _flush()
                    alone_s, _ = _timed(run_step)
                    _flush()
                    call_s, wait = _timed(
                        lambda saver=saver, label=label: saver.save(async_dirs[label], state, asynchronous=True)
                    )
                    after_s, _ = _timed(run_step)
                    rest_s, _ = _timed(wait)
                    if gc_was_enabled:
                        gc.enable()
                    if warm_up:
                        _check_equal(restored, state, label)
                        _check_equal(saver.restore(async_dirs[label], state), state, label + " (async)")
                        continue
                    del restored
                    for key, value in (
                        ("save", save_s),
                        ("restore", restore_s),
                        ("alone", alone_s),
                        ("call", call_s),
                        ("after", after_s),
                        ("rest", rest_s),
                    ):
                        times[label][key].append(value)
        finally:
            if gc_was_enabled:
                gc.enable()
            for saver in found.values():
                saver.close()
            absl_logger.setLevel(absl_level)

    rows = []
    common = {"bytes": size, "rounds": rounds, "layers": layers, "width": width, "batch": batch}
    for label, t in times.items():
        backend, fmt = label.split(" ", 1)
        save_best, restore_best = min(t["save"]), min(t["restore"])
        save_med, restore_med = statistics.median(t["save"]), statistics.median(t["restore"])
        rows.append(
            {
                "kind": "bandwidth",
                "saver": label,
                "backend": backend,
                "format": fmt,
                "save_s": save_best,
                "restore_s": restore_best,
                "save_s_median": save_med,
                "restore_s_median": restore_med,
                "save_MBps": size / MB / save_best,
                "restore_MBps": size / MB / restore_best,
                "save_MBps_median": size / MB / save_med,
                "restore_MBps_median": size / MB / restore_med,
                **common,
            }
        )
        med = {key: statistics.median(values) for key, values in t.items()}
        rows.append(
            {
                "kind": "async",
                "saver": label,
                "backend": backend,
                "format": fmt,
                "step_alone_s": med["alone"],
                "call_s": med["call"],
                "step_after_s": med["after"],
                "rest_s": med["rest"],
                "waited_s": med["call"] + med["after"] - med["alone"],
                "sync_save_s": save_med,
                **common,
            }
        )
    return rows


CAPTION = (
    f"~100 MB state ({LAYERS} x Dense({WIDTH}) params + momentum, float32) on local disk; "
    f"bandwidth from best and median of <= {ROUNDS} interleaved rounds; async figures are medians"
)


def table(rows: list[dict]) -> list[str]:
    """Bandwidth lines (MB/s, ratios to the seed's same format), then the async-save lines (ms)."""
    bandwidth = [row for row in rows if row["kind"] == "bandwidth"]
    asynchronous = [row for row in rows if row["kind"] == "async"]
    if not rows:
        return ["  (no checkpoint path to measure in this run)"]
    seed = {row["format"]: row for row in bandwidth if row["backend"] == "seed"}
    lines = [
        f"  state: {rows[0]['bytes'] / MB:.1f} MB; MB/s = bytes / 1e6 / seconds (best, median); "
        "ratio = nnjax's best MB/s / the seed's (> 1: faster)",
        f"  {'saver':<15}{'save MB/s':>18}{'restore MB/s':>18}{'save/seed':>11}{'restore/seed':>14}",
    ]
    for row in bandwidth:
        peer = seed.get(row["format"])
        other = row["backend"] != "seed" and peer is not None
        save_ratio = f"{row['save_MBps'] / peer['save_MBps']:.2f}x" if other else "-"
        restore_ratio = f"{row['restore_MBps'] / peer['restore_MBps']:.2f}x" if other else "-"
        lines.append(
            f"  {row['saver']:<15}{row['save_MBps']:>9.0f} ({row['save_MBps_median']:>5.0f})"
            f"{row['restore_MBps']:>10.0f} ({row['restore_MBps_median']:>5.0f})"
            f"{save_ratio:>11}{restore_ratio:>14}"
        )
    lines.append("")
    lines.append(
        f"  {'async save':<15}{'step alone':>12}{'call':>10}{'step after':>12}{'rest':>10}"
        f"{'step waits':>12}{'sync save':>11}"
    )
    for row in asynchronous:
        lines.append(
            f"  {row['saver']:<15}{row['step_alone_s'] * 1e3:>9.1f} ms{row['call_s'] * 1e3:>7.1f} ms"
            f"{row['step_after_s'] * 1e3:>9.1f} ms{row['rest_s'] * 1e3:>7.1f} ms"
            f"{row['waited_s'] * 1e3:>9.1f} ms{row['sync_save_s'] * 1e3:>8.1f} ms"
        )
    if not seed:
        lines.append("  (no seed system in this run: `pip install -e '.[bench]'` adds flax as the peer)")
    return lines
