"""The ``nn`` fixture: every test here runs once per backend (``import nnref as nn`` / ``import nnjax as nn``)."""

import importlib

import pytest

BACKENDS = ['nnref', 'nnjax']


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def nn(request):
    return importlib.import_module(request.param)
