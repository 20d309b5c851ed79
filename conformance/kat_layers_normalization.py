"""Known-answer runners for the normalization layers (cases ``layernorm``, ``batchnorm_train``, ``groupnorm``, ``rmsnorm``).

The layers are reached through :func:`layers`, which imports them from the
backend's own ``layers.normalization`` module. Each case inits with
``PRNGKey(0)`` on the recorded input and applies to the same input.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from conformance.kat_models import KatRun

_NAMES = ("BatchNorm", "LayerNorm", "RMSNorm", "GroupNorm", "InstanceNorm", "SpectralNorm", "WeightNorm")


def layers(nn):
    """This family's layer classes of backend ``nn``."""
    module = importlib.import_module(f"{nn.__name__}.layers.normalization")
    return SimpleNamespace(**{name: getattr(module, name) for name in _NAMES})


def _init_apply(nn, model, case):
    x = case.inputs[0]
    variables = model.init(nn.random.PRNGKey(0), x)
    return KatRun(variables, [model.apply(variables, x)])


def layernorm(nn, case):
    return _init_apply(nn, layers(nn).LayerNorm(), case)


def rmsnorm(nn, case):
    return _init_apply(nn, layers(nn).RMSNorm(), case)


def groupnorm(nn, case):
    return _init_apply(nn, layers(nn).GroupNorm(num_groups=2), case)


def batchnorm_train(nn, case):
    x = case.inputs[0]
    model = layers(nn).BatchNorm(use_running_average=False, momentum=0.9)
    variables = model.init(nn.random.PRNGKey(0), x)
    y, mutated = model.apply(variables, x, mutable=["batch_stats"])
    return KatRun(variables, [y], mutated)


RUNNERS = {
    "layernorm": layernorm,
    "batchnorm_train": batchnorm_train,
    "groupnorm": groupnorm,
    "rmsnorm": rmsnorm,
}
