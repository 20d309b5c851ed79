"""Known-answer runners of the convolution family: ``conv`` and ``conv_transpose``.

Each runner builds the layer the case text describes (``../shared/kat/cases.json``)
with the given backend and returns what the case records; the layers come
through :func:`layers`, so the runners work before the backends export them
at top level.
"""

from __future__ import annotations

import importlib

from conformance.kat_models import KatRun


def layers(nn):
    """The backend's convolution module (``nnref.layers.conv`` or ``nnjax.layers.conv``)."""
    return importlib.import_module(f"{nn.__name__}.layers.conv")


def conv(nn, case):
    # Conv(features=4, kernel_size=(3,3), padding='SAME') on NHWC (1,6,6,2); init(PRNGKey(2))
    x = case.inputs[0]
    model = layers(nn).Conv(features=4, kernel_size=(3, 3), padding="SAME")
    variables = model.init(nn.random.PRNGKey(2), x)
    return KatRun(variables, [model.apply(variables, x)])


def conv_transpose(nn, case):
    # ConvTranspose(features=3, kernel_size=(2,2), strides=(2,2)) on (1,4,4,2); init(PRNGKey(3))
    x = case.inputs[0]
    model = layers(nn).ConvTranspose(features=3, kernel_size=(2, 2), strides=(2, 2))
    variables = model.init(nn.random.PRNGKey(3), x)
    return KatRun(variables, [model.apply(variables, x)])


RUNNERS = {
    "conv": conv,
    "conv_transpose": conv_transpose,
}
