"""The attention known-answer cases reproduce on both backends (``conformance/kat_layers_attention.py``)."""

import pytest

from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_attention import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_attention_kat(nn, name):
    case, run = run_case(RUNNERS, name, nn)
    # Parameters are normal draws: compared with the PRNG-normal tolerance.
    assert_matches_kat(run, case, f"{nn.__name__} {name}", variables="prng_normal", outputs="attention")
