"""Known-answer runners for the recurrent cells (``nnref``/``nnjax`` ``layers.recurrent``).

Same contract as :mod:`conformance.kat_models`: ``RUNNERS[name](nn, case)``
builds what the case text describes with backend ``nn`` and returns a
:class:`~conformance.kat_models.KatRun`. The cells are reached through
:func:`layers`, which imports the backend's own ``layers.recurrent`` module.

``scan_lstm`` is in :mod:`conformance.kat_transforms` (it needs ``nn.scan``); its
per-step LSTM arithmetic is checked by ``tests/layers/test_kat_recurrent.py``.
"""

from __future__ import annotations

import importlib

from conformance.kat_models import KatRun


def layers(nn):
    """The backend's recurrent-cell module (``nnref.layers.recurrent`` / ``nnjax.layers.recurrent``)."""
    return importlib.import_module(f"{nn.__name__}.layers.recurrent")


def gru(nn, case):
    carry, x = (nn.numpy.asarray(a) for a in case.inputs)
    cell = layers(nn).GRUCell(features=3)
    variables = cell.init(nn.random.PRNGKey(12), carry, x)
    new_carry, y = cell.apply(variables, carry, x)
    return KatRun(variables, [new_carry, y])


RUNNERS = {
    "gru": gru,
}
