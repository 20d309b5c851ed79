"""API parity: both backends provide what the shared API table says, as the same kind.

For every row of :data:`shared_spec.api_table.API_TABLE` that is 'yes' for
both backends, the name must exist in both backends' modules (found through
:func:`~shared_spec.api_table.backend_module_name`) and be the same kind of
object (module, exception, class, callable or constant), matching the row's
kind. Catalogue errors must be the very same class objects. Rows that are
'yes' for one backend only are checked on that backend alone.
"""

import importlib
import inspect

import pytest

from shared_spec import api_table
from shared_spec import errors as catalogue

BOTH = [e for e in api_table.API_TABLE if all(e.providers[b] == "yes" for b in api_table.BACKENDS)]
ONE = [
    (b, e)
    for e in api_table.API_TABLE
    for b in api_table.BACKENDS
    if e.providers[b] == "yes" and any(e.providers[o] != "yes" for o in api_table.BACKENDS if o != b)
]

# The table's kinds, as what an object can be told apart by.
EXPECTED = {
    "module": "module",
    "exception": "exception",
    "class": "class",
    "function": "callable",
    "decorator": "callable",
    "constant": "constant",
}


def kind_of(obj):
    if inspect.ismodule(obj):
        return "module"
    if isinstance(obj, type):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "callable"
    return "constant"


def _resolve(backend, entry):
    module_name = api_table.backend_module_name(backend, entry.namespace)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        pytest.fail(f"{backend}: cannot import {module_name} for {entry.name!r}: {e}")
    assert hasattr(module, entry.name), f"{backend}: {module_name}.{entry.name} is missing (API table says 'yes')"
    return getattr(module, entry.name)


def _id(entry):
    return f"{entry.namespace or 'top'}.{entry.name}"


@pytest.mark.parametrize("entry", BOTH, ids=[_id(e) for e in BOTH])
def test_name_in_both_backends_same_kind(entry):
    objs = {b: _resolve(b, entry) for b in api_table.BACKENDS}
    kinds = {b: kind_of(o) for b, o in objs.items()}
    assert len(set(kinds.values())) == 1, f"{_id(entry)}: kinds differ: {kinds}"
    assert kinds["nnref"] == EXPECTED[entry.kind], (
        f"{_id(entry)}: table says {entry.kind}, backends provide a {kinds['nnref']}"
    )
    if entry.namespace == "errors":
        assert objs["nnref"] is objs["nnjax"] is getattr(catalogue, entry.name), (
            f"{entry.name}: not the shared catalogue class on both backends"
        )


@pytest.mark.parametrize("backend, entry", ONE, ids=[f"{b}:{_id(e)}" for b, e in ONE])
def test_name_in_its_only_backend(backend, entry):
    obj = _resolve(backend, entry)
    assert kind_of(obj) == EXPECTED[entry.kind], (
        f"{backend}: {_id(entry)}: table says {entry.kind}, found a {kind_of(obj)}"
    )


def test_table_has_rows_for_both():
    assert BOTH, "no API table row is provided by both backends"
