"""Known-answer runners of the linear_general family (``DenseGeneral``), as backend-neutral code.

``RUNNERS[name](nn, case)`` builds the layer the case text describes with
backend ``nn`` (``nnref`` or ``nnjax``), initializes and applies it, and
returns a :class:`~conformance.kat_models.KatRun`.
"""

from __future__ import annotations

import importlib

from conformance.kat_models import KatRun


def layers(nn):
    """The backend's ``linear_general`` layer module (``nnref.layers.linear_general`` or nnjax's)."""
    return importlib.import_module(f"{nn.__name__}.layers.linear_general")


def dense_general(nn, case):
    # DenseGeneral(features=(2,3), axis=-1) on (2,5); init(PRNGKey(1))
    x = nn.numpy.asarray(case.inputs[0])
    model = layers(nn).DenseGeneral(features=(2, 3), axis=-1)
    variables = model.init(nn.random.PRNGKey(1), x)
    return KatRun(variables, [model.apply(variables, x)])


RUNNERS = {
    "dense_general": dense_general,
}
