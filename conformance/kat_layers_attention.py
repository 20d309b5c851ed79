"""Known-answer runners of the attention family (``MultiHeadDotProductAttention``), as backend-neutral code.

``RUNNERS[name](nn, case)`` builds the layer the case text describes with
backend ``nn`` (``nnref`` or ``nnjax``), initializes and applies it, and
returns a :class:`~conformance.kat_models.KatRun`.
"""

from __future__ import annotations

import importlib

from conformance.kat_models import KatRun


def layers(nn):
    """The backend's ``attention`` layer module (``nnref.layers.attention`` or nnjax's)."""
    return importlib.import_module(f"{nn.__name__}.layers.attention")


def mha(nn, case):
    # MultiHeadDotProductAttention(num_heads=2, qkv_features=8) self-attention
    # on (2,5,8) (inputs_q only); init(PRNGKey(9))
    x = nn.numpy.asarray(case.inputs[0])
    model = layers(nn).MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
    variables = model.init(nn.random.PRNGKey(9), x)
    return KatRun(variables, [model.apply(variables, x)])


RUNNERS = {
    "mha": mha,
}
