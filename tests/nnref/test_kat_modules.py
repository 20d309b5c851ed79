"""The seed system's known answers for the Module system, reproduced on nnref."""

import pytest

import nnref
from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_models import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces_on_nnref(name):
    case, run = run_case(RUNNERS, name, nnref)
    # Same tree paths, same values: init is a pure function of the key.
    assert_matches_kat(run, case, name)
