"""End-to-end tour of the reference backend: init/apply, state, RNG, checked against the seed system.

Builds models with nnref, initializes them from the seed system's keys,
checks the results against the seed system's known answers, and shows
mutable state, intermediates and random streams. Run with
``.venv/bin/python examples/nnref_tour.py``.
"""

from __future__ import annotations

import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import nnref as nn  # noqa: E402
from conformance.kat_models import RUNNERS  # noqa: E402
from shared_spec import kat  # noqa: E402


class MLP(nn.Module):
    """A compact MLP: Dense -> relu -> ... -> Dense."""

    features: tuple = (16, 16, 3)

    @nn.compact
    def __call__(self, x):
        for width in self.features[:-1]:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.features[-1])(x)


class RunningMean(nn.Module):
    """Tracks the mean of its inputs in the 'batch_stats' collection and sows its output."""

    momentum: float = 0.9

    @nn.compact
    def __call__(self, x):
        mean = self.variable("batch_stats", "mean", lambda: np.zeros(x.shape[-1:], x.dtype))
        if not self.is_initializing() and self.is_mutable_collection("batch_stats"):
            mean.value = self.momentum * mean.value + (1 - self.momentum) * x.mean(0)
        y = x - mean.value
        self.sow("intermediates", "centered", y)
        return y


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def show_tree(variables: dict) -> None:
    flat = nn.traverse_util.flatten_dict(variables, sep="/")
    width = max(len(path) for path in flat)
    for path, value in flat.items():
        value = np.asarray(value)
        print(f"  {path:<{width}}  {str(value.shape):<10} {value.dtype}")


def main() -> int:
    started = time.perf_counter()
    section("1. init and apply an MLP")
    x = nn.random.normal(nn.random.PRNGKey(1), (8, 4))
    model = MLP()
    variables = model.init(nn.random.PRNGKey(0), x)
    show_tree(variables)
    y = model.apply(variables, x)
    print(f"  output {y.shape} {y.dtype}, first row {np.round(y[0], 4)}")

    section("2. the seed system's known answers, reproduced")
    worst = 0.0
    for name, runner in sorted(RUNNERS.items()):
        case = kat.load_case(name)
        run = runner(nn, case)
        got = nn.traverse_util.flatten_dict(run.variables)
        want = nn.traverse_util.flatten_dict(case.variables)
        same_paths = sorted(got) == sorted(want)
        diffs = [np.max(np.abs(np.asarray(got[p], np.float64) - want[p])) for p in want if p in got]
        diffs += [np.max(np.abs(np.asarray(o, np.float64) - w)) for o, w in zip(run.outputs, case.outputs)]
        diff = float(max(diffs, default=0.0))
        worst = max(worst, diff)
        print(f"  {name:<24} paths {'equal' if same_paths else 'DIFFER'}   max |diff| {diff:.1e}")
        if not same_paths:
            return 1

    section("3. mutable state and intermediates")
    state = RunningMean().init(nn.random.PRNGKey(0), x)
    for step in range(3):
        _, updates = RunningMean().apply(state, x + step, mutable=["batch_stats", "intermediates"])
        state = {"batch_stats": updates["batch_stats"]}
        centered = updates["intermediates"]["centered"][0]
        print(f"  step {step}: running mean {np.round(state['batch_stats']['mean'], 3)}  sowed {centered.shape}")

    section("4. random streams")

    class Noisy(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x + 0.1 * nn.random.normal(self.make_rng("noise"), x.shape)

    a = Noisy().apply({}, x, rngs={"noise": nn.random.PRNGKey(2)})
    b = Noisy().apply({}, x, rngs={"noise": nn.random.PRNGKey(2)})
    c = Noisy().apply({}, x, rngs={"noise": nn.random.PRNGKey(3)})
    print(f"  same key -> same noise: {np.array_equal(a, b)}; other key -> other noise: {not np.array_equal(a, c)}")

    section("done")
    print(f"  worst difference from the seed system: {worst:.1e}; took {time.perf_counter() - started:.2f} s")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
