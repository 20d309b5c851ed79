"""Known-answer runner for dropout (case ``dropout``).

The layer is reached through :func:`layers`, which imports it from the
backend's own ``layers.stochastic`` module; the Dense before it is the
backend's top-level ``nn.Dense``.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from conformance.kat_models import KatRun


def layers(nn):
    """This family's layer classes of backend ``nn``."""
    module = importlib.import_module(f"{nn.__name__}.layers.stochastic")
    return SimpleNamespace(Dropout=module.Dropout)


def dropout(nn, case):
    Dropout = layers(nn).Dropout

    class DenseDropout(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Dropout(rate=0.5, deterministic=False)(nn.Dense(6)(x))

    x = case.inputs[0]
    model = DenseDropout()
    variables = model.init({"params": nn.random.PRNGKey(0), "dropout": nn.random.PRNGKey(1)}, x)
    y = model.apply(variables, x, rngs={"dropout": nn.random.PRNGKey(2)})
    return KatRun(variables, [y])


RUNNERS = {"dropout": dropout}
