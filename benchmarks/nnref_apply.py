"""nnref's eager ``apply`` against the same computation written directly in NumPy.

``nnjax.debug.compare`` runs a user's model on nnref (in float64), so what
nnref adds on top of the arithmetic decides whether that takes seconds or
minutes. Here the peer is not the seed system but plain NumPy in the same
run: the same layers, the same variables, the same operations (matrix
products through BLAS, im2col convolutions), with no module system around
them. The figures:

``MLP``
    ``model.apply(variables, x)`` of 8 ``Dense(512)`` + ``relu`` layers on a
    batch of 64 (the issue's example); the peer is ``relu(x @ W + b)`` per layer.
``CNN``
    ``model.apply(variables, x, train=False)`` of the digits CNN of
    ``make demo`` (``examples/digits/model.py``: Conv-BatchNorm-relu x2,
    2x2 average pool, Dense-relu-Dropout, Dense) on 64 8x8 images; the peer
    is the same inference written out (3x3 'SAME' convolutions as im2col
    plus a matrix product, BatchNorm from the running statistics).

Each in float32 (the dtype ``init`` gives) and float64 (the variables and
input cast up: what ``compare`` runs). The outputs of the two are checked to
agree before timing. Needs only nnref and NumPy (no JAX, no flax).
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.timing import best_times
from shared_spec.tolerances import assert_close

BATCH = 64
DEPTH = 8
WIDTH = 512
TARGET = 1.5  # the issue's bound on nnref / plain NumPy

FIGURES = {
    "mlp_f32": f"MLP {DEPTH}xDense({WIDTH}), b{BATCH}, f32",
    "mlp_f64": f"MLP {DEPTH}xDense({WIDTH}), b{BATCH}, f64",
    "cnn_f32": f"digits CNN, b{BATCH}, f32",
    "cnn_f64": f"digits CNN, b{BATCH}, f64",
}

CAPTION = f"eager apply against plain NumPy, best of interleaved runs; target nnref/numpy <= {TARGET}x"


def mlp(nn):
    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(DEPTH):
                x = nn.relu(nn.Dense(WIDTH)(x))
            return x

    return MLP()


def numpy_mlp(variables, x):
    params = variables["params"]
    for i in range(DEPTH):
        layer = params[f"Dense_{i}"]
        x = np.maximum(x @ layer["kernel"] + layer["bias"], 0)
    return x


def _conv_same(x, kernel, bias):
    """A stride-1 'SAME' convolution of an odd-sized kernel: im2col, then one matrix product."""
    n, h, w, c = x.shape
    kh, kw = kernel.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    cols = np.stack([padded[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-2)
    return np.tensordot(cols, kernel.reshape(kh * kw, c, -1), axes=([-2, -1], [0, 1])) + bias


def _batch_norm(x, params, stats, epsilon=1e-5):
    """Inference BatchNorm: the running statistics, then scale and shift."""
    return (x - stats["mean"]) * (params["scale"] / np.sqrt(stats["var"] + epsilon)) + params["bias"]


def numpy_cnn(variables, x):
    p, s = variables["params"], variables["batch_stats"]
    x = np.maximum(_batch_norm(_conv_same(x, **p["Conv_0"]), p["BatchNorm_0"], s["BatchNorm_0"]), 0)
    x = np.maximum(_batch_norm(_conv_same(x, **p["Conv_1"]), p["BatchNorm_1"], s["BatchNorm_1"]), 0)
    n, h, w, c = x.shape
    x = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).reshape(n, -1)
    x = np.maximum(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], 0)
    return x @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]


def _cast(tree, dtype):
    if isinstance(tree, dict):
        return {key: _cast(value, dtype) for key, value in tree.items()}
    return np.asarray(tree, dtype)


def _cases(nn) -> dict:
    """figure key -> {"nnref": callable, "numpy": callable}, outputs checked to agree."""
    from examples.digits.model import make_cnn

    rng = np.random.default_rng(0)
    key = nn.random.PRNGKey(0)
    cases = {}
    for dtype, suffix in ((np.float32, "f32"), (np.float64, "f64")):
        model = mlp(nn)
        x = rng.normal(size=(BATCH, WIDTH)).astype(dtype)
        variables = _cast(model.init(key, x[:1].astype(np.float32)), dtype)
        cases[f"mlp_{suffix}"] = (
            lambda m=model, v=variables, x=x: m.apply(v, x),
            lambda v=variables, x=x: numpy_mlp(v, x),
        )

        cnn = make_cnn(nn)
        images = rng.normal(size=(BATCH, 8, 8, 1)).astype(dtype)
        variables = cnn.init(key, images[:1].astype(np.float32), train=False)
        # Running statistics that are not the initial zeros and ones, so BatchNorm does arithmetic.
        variables["batch_stats"] = {
            name: {"mean": rng.normal(size=stats["mean"].shape), "var": rng.uniform(0.5, 2.0, size=stats["var"].shape)}
            for name, stats in variables["batch_stats"].items()
        }
        variables = _cast(variables, dtype)
        cases[f"cnn_{suffix}"] = (
            lambda m=cnn, v=variables, x=images: m.apply(v, x, train=False),
            lambda v=variables, x=images: numpy_cnn(v, x),
        )

    for key_, (on_nnref, on_numpy) in cases.items():
        family = "conv" if key_.startswith("cnn") else "matmul"
        assert_close(on_nnref(), on_numpy(), family=family, err_msg=f"{key_}: nnref and the NumPy peer disagree")
    return {key_: {"nnref": on_nnref, "numpy": on_numpy} for key_, (on_nnref, on_numpy) in cases.items()}


def run(backends: dict, repeat: int = 20, min_seconds: float = 1.0) -> list[dict]:
    """Rows ``{"backend", "figure", "key", "seconds"}`` for nnref and plain NumPy, taking turns."""
    cases = _cases(backends["nnref"])
    rows = []
    for key, figure in FIGURES.items():
        print(f"  timing: {figure}", file=sys.stderr, flush=True)
        best = best_times(cases[key], repeat=repeat, min_seconds=min_seconds)
        rows += [{"backend": name, "figure": figure, "key": key, "seconds": seconds} for name, seconds in best.items()]
    return rows


def _format_time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def table(rows: list[dict]) -> list[str]:
    """One line per figure: nnref's time, plain NumPy's, and their ratio against the target."""
    times = {(row["key"], row["backend"]): row["seconds"] for row in rows}
    lines = [f"  {'figure':<34}{'nnref':>12}{'numpy':>12}{'nnref/numpy':>13}"]
    for key, figure in FIGURES.items():
        if (key, "nnref") not in times:
            continue
        ratio = times[key, "nnref"] / times[key, "numpy"]
        mark = "" if ratio <= TARGET else f"  (over the {TARGET}x target)"
        lines.append(
            f"  {figure:<34}{_format_time(times[key, 'nnref']):>12}"
            f"{_format_time(times[key, 'numpy']):>12}{ratio:>12.2f}x{mark}"
        )
    return lines
