"""Known-answer runner for the embedding layer (case ``embed``).

The layer is reached through :func:`layers`, which imports it from the
backend's own ``layers.embedding`` module.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from conformance.kat_models import KatRun


def layers(nn):
    """This family's layer classes of backend ``nn``."""
    module = importlib.import_module(f"{nn.__name__}.layers.embedding")
    return SimpleNamespace(Embed=module.Embed)


def embed(nn, case):
    tokens = case.inputs[0]
    model = layers(nn).Embed(num_embeddings=10, features=4)
    variables = model.init(nn.random.PRNGKey(4), tokens)
    return KatRun(variables, [model.apply(variables, tokens)])


RUNNERS = {"embed": embed}
