"""The ``nn`` fixture: a test that takes ``nn`` runs once per backend.

``nn`` is the backend package itself (``import nnref as nn`` /
``import nnjax as nn``), so a test body reads like user code. nnjax needs the
optional ``jax`` extra; where jax is not installed its half is skipped (an
import error inside nnjax itself still fails loudly).

A test module that parametrizes ``nn`` itself (``@pytest.mark.parametrize("nn", ...)``)
overrides this fixture, as pytest does for any fixture.
"""

import importlib

import pytest

BACKENDS = ["nnref", "nnjax"]


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def nn(request):
    if request.param == "nnjax":
        pytest.importorskip("jax")
    return importlib.import_module(request.param)
