"""The linear_general known-answer cases reproduce on both backends (``conformance/kat_layers_linear_general.py``)."""

import pytest

from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_linear_general import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_linear_general_kat(nn, name):
    case, run = run_case(RUNNERS, name, nn)
    # Parameters are normal draws: compared with the PRNG-normal tolerance.
    assert_matches_kat(run, case, f"{nn.__name__} {name}", variables="prng_normal")
