"""One training step of the demo's digits CNN, on nnjax and on the seed system.

The model is ``examples/digits/model.py`` (Conv-BatchNorm x2, pool, Dense,
Dropout, Dense), built from each backend's namespace; the step is the same
optax Adam update with BatchNorm statistics and a dropout key, written once.
The figures:

``train step, compiled``
    A ``jax.jit``-compiled step on a batch of 32 8x8 images, results waited
    for: what a training loop pays per step once compiled. Both backends
    should hand XLA the same program, so the ratio should be near 1.
``train step, trace+lower+compile``
    ``jax.jit(step).lower(...).compile()`` of a fresh function: the one-off
    cost before the first step (the module system's tracing plus XLA).

``nnref`` has no ``jax.grad`` or ``jit``; it is skipped.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.timing import best_times, block

BATCH = 32
FIGURES = {
    "step": f"train step, compiled (batch {BATCH})",
    "compile": "train step, trace+lower+compile",
}


def _step_fn(model, tx):
    import jax
    import optax

    def step(params, batch_stats, opt_state, key, images, labels):
        def loss_fn(p):
            logits, updates = model.apply(
                {"params": p, "batch_stats": batch_stats},
                images,
                train=True,
                rngs={"dropout": key},
                mutable=["batch_stats"],
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            return loss, updates["batch_stats"]

        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    return step


def _cases(nn) -> dict:
    import jax
    import optax

    from examples.digits.model import make_cnn

    model = make_cnn(nn)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 10, size=BATCH).astype(np.int32)
    variables = model.init(jax.random.PRNGKey(0), images[:1], train=False)
    tx = optax.adam(1e-3)
    args = (
        variables["params"],
        variables["batch_stats"],
        tx.init(variables["params"]),
        jax.random.PRNGKey(1),
        images,
        labels,
    )
    step = _step_fn(model, tx)
    compiled = jax.jit(step)
    block(compiled(*args))  # compile outside the timing

    return {
        "step": lambda: block(compiled(*args)),
        "compile": lambda: jax.jit(lambda *a: step(*a)).lower(*args).compile(),
    }


def run(backends: dict, repeat: int = 20, min_seconds: float = 1.0) -> list[dict]:
    """Rows ``{"backend", "figure", "key", "seconds"}``; nnjax and the seed system take turns."""
    cases = {name: _cases(nn) for name, nn in backends.items() if name != "nnref"}
    rows = []
    for key, figure in FIGURES.items():
        print(f"  timing: {figure}", file=sys.stderr, flush=True)
        # Compiling is slow: a few repetitions are enough for a best-of figure.
        reps = repeat if key == "step" else min(repeat, 5)
        best = best_times(
            {name: fns[key] for name, fns in cases.items()},
            repeat=reps,
            min_seconds=min_seconds if key == "step" else 0.0,
        )
        rows += [{"backend": name, "figure": figure, "key": key, "seconds": best[name]} for name in cases]
    return rows
