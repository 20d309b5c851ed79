"""Hostile input, bytes, files and train state: nnjax only (nnref has no serialization, checkpoints or TrainState).

* **Bytes**: ``nnjax.serialization.from_bytes`` / ``msgpack_restore`` /
  ``from_state_dict`` get data that cannot mean the target: another dtype, a
  dict where an array belongs (and the reverse), an unknown msgpack extension
  type, a negative or overflowing declared shape, a payload whose size does not
  fit its shape and dtype, an unknown or text dtype, and msgpack's own
  ``ExtraData`` / ``StackError`` / ``FormatError`` / truncation. Each raises
  ``ValueError`` (``TypeError`` for a non-bytes argument) saying what is wrong.
* **Files**: ``nnjax.training.checkpoints.restore_checkpoint`` meets a
  checkpoint path that is not a regular file (a FIFO, ``/dev/zero`` through a
  symlink or directly, a directory) and refuses it without reading, or a file
  holding the bad bytes above, reported as ``CorruptCheckpointError`` naming
  the file.
* **Train state**: ``TrainState.apply_gradients`` gets gradients of another
  structure, shape (no broadcasting) or kind of dtype (complex for real, float
  for int), including under ``jax.jit`` (checked at trace time), or, with
  ``check_finite=True``, non-finite values; each error names the first leaf,
  e.g. ``'Dense_0/kernel'``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import msgpack
import numpy as np

# --- helpers -----------------------------------------------------------------


def _serialization(nn):
    del nn
    from nnjax import serialization  # noqa: PLC0415 - nnjax-only cases

    return serialization


def _checkpoints(nn):
    del nn
    from nnjax.training import checkpoints  # noqa: PLC0415

    return checkpoints


def _record(shape, dtype_name, payload):
    """An array extension (type 1) as the seed writes it, with any contents."""
    return msgpack.ExtType(1, msgpack.packb((shape, dtype_name, payload), use_bin_type=True))


def _packed(tree):
    return msgpack.packb(tree, use_bin_type=True)


def _from_bytes(target, data):
    return lambda nn: _serialization(nn).from_bytes(target, data)


def _restore_raw(data):
    return lambda nn: _serialization(nn).msgpack_restore(data)


def _in_tmp(body):
    """``fn(nn)`` running ``body(nn, directory)`` in a fresh directory, removed afterwards."""

    def fn(nn):
        directory = tempfile.mkdtemp(prefix="hostile_files_")
        try:
            return body(nn, directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    return fn


def _restore_file(data, target=None, strict=False):
    """Write ``data`` as ``checkpoint_1`` and restore the directory."""

    def body(nn, directory):
        with open(os.path.join(directory, "checkpoint_1"), "wb") as f:
            f.write(data)
        return _checkpoints(nn).restore_checkpoint(directory, target, strict=strict)

    return _in_tmp(body)


def _restore_fifo(nn, directory):
    os.mkfifo(os.path.join(directory, "checkpoint_1"))
    # A blocking open of a FIFO with no writer would hang here forever.
    return _checkpoints(nn).restore_checkpoint(directory, None)


def _restore_dev_zero_symlink(nn, directory):
    os.symlink("/dev/zero", os.path.join(directory, "checkpoint_5"))
    return _checkpoints(nn).restore_checkpoint(directory, {"w": np.zeros(2)})


def _restore_dev_zero_path(nn, directory):
    del directory
    return _checkpoints(nn).restore_checkpoint("/dev/zero", None)


def _restore_directory_at_step(nn, directory):
    os.mkdir(os.path.join(directory, "checkpoint_3"))
    return _checkpoints(nn).restore_checkpoint(directory, None, step=3)


W32 = {"w": np.zeros(3, np.float32)}
GOOD = _packed({"w": _record([3], "float32", b"\0" * 12)})
# 5000 nested one-element arrays: msgpack's unpacker stops at its stack limit.
TOO_DEEP = b"\x91" * 5000 + b"\xc0"


# --- train state ---------------------------------------------------------------


def _state(nn, params):
    del nn
    import optax  # noqa: PLC0415

    from nnjax.training import train_state  # noqa: PLC0415

    return train_state.TrainState.create(apply_fn=None, params=params, tx=optax.sgd(0.1))


def _dense_params(kernel_dtype=np.float32):
    return {
        "Dense_0": {"kernel": np.ones((3, 4), kernel_dtype), "bias": np.zeros(4, np.float32)},
        "Dense_1": {"kernel": np.ones((4, 2), np.float32)},
    }


def _grads(**replace):
    grads = _dense_params()
    for path, value in replace.items():
        module, name = path.split("__")
        grads[module][name] = value
    return grads


def _apply(params, grads, jit=False, **kwargs):
    def fn(nn):
        state = _state(nn, params)
        step = lambda s, g: s.apply_gradients(grads=g, **kwargs)  # noqa: E731
        if jit:
            import jax  # noqa: PLC0415

            step = jax.jit(step)
        return step(state, grads)

    return fn


JAX_ONLY_CASES = [
    # --- bytes: from_bytes / msgpack_restore / from_state_dict ----------------
    (
        "ValueError",
        "from_bytes: float64 data into a float32 target",
        _from_bytes(W32, _packed({"w": _record([3], "float64", b"\0" * 24)})),
        ("'/w'", "float32", "float64"),
    ),
    (
        "ValueError",
        "from_bytes: int32 data into a float32 target of the same shape",
        _from_bytes(W32, _packed({"w": _record([3], "int32", b"\0" * 12)})),
        ("'/w'", "dtype", "int32"),
    ),
    (
        "ValueError",
        "from_state_dict: a dict where the target has an array",
        lambda nn: _serialization(nn).from_state_dict({"p": {"w": np.zeros(2)}}, {"p": {"w": {"a": 1}}}),
        ("'/p/w'", "dict", "array"),
    ),
    (
        "ValueError",
        "from_state_dict: an array where the target has a dict",
        lambda nn: _serialization(nn).from_state_dict({"p": {"w": {"a": 0}}}, {"p": {"w": np.zeros(2)}}),
        ("'/p/w'", "dict", "ndarray"),
    ),
    (
        "ValueError",
        "msgpack_restore: an unknown extension type",
        _restore_raw(_packed({"x": msgpack.ExtType(42, b"abc")})),
        ("extension type 42", "unknown"),
    ),
    (
        "ValueError",
        "msgpack_restore: a negative declared shape",
        _restore_raw(_packed({"x": _record([-1, 4], "float32", b"")})),
        ("negative shape", "(-1, 4)"),
    ),
    (
        "ValueError",
        "msgpack_restore: a declared shape whose size overflows int64",
        _restore_raw(_packed({"x": _record([2**40, 2**40], "float32", b"\0" * 4)})),
        ("(1099511627776, 1099511627776)", "holds 4 bytes"),
    ),
    (
        "ValueError",
        "msgpack_restore: a payload shorter than shape x dtype",
        _restore_raw(_packed({"x": _record([3], "float32", b"\0" * 8)})),
        ("shape (3,)", "float32", "12 bytes", "holds 8 bytes"),
    ),
    (
        "ValueError",
        "msgpack_restore: a payload longer than shape x dtype",
        _restore_raw(_packed({"x": _record([2, 2], "int8", b"\0" * 5)})),
        ("shape (2, 2)", "4 bytes", "holds 5 bytes"),
    ),
    (
        "ValueError",
        "msgpack_restore: an unknown dtype name",
        _restore_raw(_packed({"x": _record([1], "float33", b"\0" * 4)})),
        ("unknown dtype 'float33'",),
    ),
    (
        "ValueError",
        "msgpack_restore: a text dtype",
        _restore_raw(_packed({"x": _record([1], "<U1", b"\0" * 4)})),
        ("'<U1'", "only numeric and bool"),
    ),
    (
        "ValueError",
        "msgpack_restore: a record that is not (shape, dtype, bytes)",
        _restore_raw(_packed({"x": msgpack.ExtType(1, msgpack.packb([1, 2]))})),
        ("not (shape, dtype name, bytes)",),
    ),
    (
        "ValueError",
        "msgpack_restore: a NumPy scalar record of shape (2,)",
        _restore_raw(_packed({"x": msgpack.ExtType(3, msgpack.packb(([2], "int8", b"\0\0")))})),
        ("NumPy scalar", "(2,)"),
    ),
    (
        "ValueError",
        "msgpack_restore: trailing bytes (msgpack ExtraData)",
        _restore_raw(GOOD + b"\x00"),
        ("bytes follow the end",),
    ),
    (
        "ValueError",
        "msgpack_restore: nesting beyond msgpack's stack (StackError)",
        _restore_raw(TOO_DEEP),
        ("nests deeper",),
    ),
    ("ValueError", "msgpack_restore: an invalid type byte (FormatError)", _restore_raw(b"\xc1"), ("not msgpack data",)),
    ("ValueError", "msgpack_restore: truncated data", _restore_raw(GOOD[:-3]), ("ends early", "truncated")),
    (
        "TypeError",
        "msgpack_restore: a str instead of bytes",
        _restore_raw("not bytes"),
        ("msgpack_restore takes bytes", "str"),
    ),
    # --- files: restore_checkpoint ----------------------------------------------
    (
        "CorruptCheckpointError",
        "restore: checkpoint_1 is a FIFO (refused without blocking)",
        _in_tmp(_restore_fifo),
        ("checkpoint_1", "FIFO", "not a regular file"),
    ),
    (
        "CorruptCheckpointError",
        "restore: checkpoint_5 is a symlink to /dev/zero",
        _in_tmp(_restore_dev_zero_symlink),
        ("checkpoint_5", "character device"),
    ),
    (
        "CorruptCheckpointError",
        "restore: ckpt_dir is /dev/zero itself",
        _in_tmp(_restore_dev_zero_path),
        ("/dev/zero", "character device"),
    ),
    (
        "CorruptCheckpointError",
        "restore: the step's checkpoint is a plain directory",
        _in_tmp(_restore_directory_at_step),
        ("checkpoint_3", "directory"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a file with trailing bytes (ExtraData)",
        _restore_file(GOOD + b"junk"),
        ("checkpoint_1", "bytes follow the end"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a file nested too deep (StackError)",
        _restore_file(TOO_DEEP),
        ("checkpoint_1", "nests deeper"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a file with an unknown extension type",
        _restore_file(_packed({"w": msgpack.ExtType(9, b"")}), W32),
        ("checkpoint_1", "extension type 9"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a file whose array payload is short",
        _restore_file(_packed({"w": _record([3], "float32", b"\0" * 4)}), W32),
        ("checkpoint_1", "holds 4 bytes"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a file with a negative shape",
        _restore_file(_packed({"w": _record([-3], "float32", b"")}), W32),
        ("checkpoint_1", "negative shape"),
    ),
    (
        "CorruptCheckpointError",
        "restore: a truncated file",
        _restore_file(GOOD[:-5], W32),
        ("checkpoint_1", "truncated"),
    ),
    (
        "CheckpointMismatchError",
        "restore strict: float64 file into a float32 target",
        _restore_file(_packed({"w": _record([3], "float64", b"\0" * 24)}), W32, strict=True),
        ("checkpoint_1", "'/w'", "dtype", "float32", "float64"),
    ),
    (
        "CheckpointMismatchError",
        "restore: the file has a dict where the target has an array",
        _restore_file(_packed({"w": {"a": 1}}), W32),
        ("checkpoint_1", "'/w'", "['a']"),
    ),
    # --- train state: apply_gradients ---------------------------------------------
    (
        "ValueError",
        "apply_gradients: a grads tree of another structure",
        _apply(_dense_params(), {"Dense_0": _dense_params()["Dense_0"]}),
        ("same pytree structure", "state.params"),
    ),
    (
        "ValueError",
        "apply_gradients: a bias-shaped gradient for a kernel (no broadcasting)",
        _apply(_dense_params(), _grads(Dense_0__kernel=np.ones(4, np.float32))),
        ("'Dense_0/kernel'", "(4,)", "(3, 4)", "not broadcast"),
    ),
    (
        "ValueError",
        "apply_gradients: a scalar gradient for a vector",
        _apply(_dense_params(), _grads(Dense_0__bias=np.float32(1.0))),
        ("'Dense_0/bias'", "shape ()", "(4,)"),
    ),
    (
        "ValueError",
        "apply_gradients: a transposed kernel gradient",
        _apply(_dense_params(), _grads(Dense_1__kernel=np.ones((2, 4), np.float32))),
        ("'Dense_1/kernel'", "(2, 4)", "(4, 2)"),
    ),
    (
        "ValueError",
        "apply_gradients: complex gradients for real params",
        _apply(_dense_params(), _grads(Dense_0__kernel=np.ones((3, 4), np.complex64))),
        ("'Dense_0/kernel'", "complex64", "imaginary", "float32"),
    ),
    (
        "ValueError",
        "apply_gradients: float gradients for integer params",
        _apply({"count": np.zeros(2, np.int32)}, {"count": np.ones(2, np.float32)}),
        ("'count'", "float32", "int32"),
    ),
    (
        "ValueError",
        "apply_gradients under jit: a wrong shape is refused at trace time",
        _apply(_dense_params(), _grads(Dense_1__kernel=np.ones((4, 1), np.float32)), jit=True),
        ("'Dense_1/kernel'", "(4, 1)", "(4, 2)"),
    ),
    (
        "ValueError",
        "apply_gradients under jit: complex gradients are refused at trace time",
        _apply(_dense_params(), _grads(Dense_0__bias=np.ones(4, np.complex64)), jit=True),
        ("'Dense_0/bias'", "complex64"),
    ),
    (
        "ValueError",
        "apply_gradients(check_finite=True): a NaN gradient",
        _apply(_dense_params(), _grads(Dense_0__bias=np.array([0, np.nan, 0, 0], np.float32)), check_finite=True),
        ("'Dense_0/bias'", "not finite", "1 of 3"),
    ),
    (
        "ValueError",
        "apply_gradients(check_finite=True): an inf gradient in a list of layers",
        _apply(
            {"layers": [np.ones(2, np.float32), np.ones(3, np.float32)]},
            {"layers": [np.ones(2, np.float32), np.array([1, np.inf, 1], np.float32)]},
            check_finite=True,
        ),
        ("'layers/1'", "not finite"),
    ),
]
