"""The seed system's known answers for Conv and ConvTranspose, on both backends."""

import pytest

from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_conv import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces(nn, name):
    case, run = run_case(RUNNERS, name, nn)
    # Parameters are initializer draws (normal family); outputs are convolutions; nothing is mutated.
    assert_matches_kat(run, case, f"{nn.__name__} {name}", variables="prng_normal", outputs="conv")
