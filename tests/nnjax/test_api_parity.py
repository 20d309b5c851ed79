"""nnjax provides every name the shared API table says it provides."""

import importlib

import pytest

from shared_spec import api_table

NNREF_ROWS = api_table.provided_by("nnjax")


@pytest.mark.parametrize("entry", NNREF_ROWS, ids=[f"{e.namespace or 'nn'}.{e.name}" for e in NNREF_ROWS])
def test_nnjax_has_every_name_the_table_promises(entry):
    module = importlib.import_module(api_table.backend_module_name("nnjax", entry.namespace))
    assert hasattr(module, entry.name), f"nnjax lacks {entry.namespace or 'nn'}.{entry.name} ({entry.kind})"
    value = getattr(module, entry.name)
    if entry.kind in ("class", "exception"):
        assert isinstance(value, type)
    elif entry.kind in ("function", "decorator"):
        assert callable(value)
