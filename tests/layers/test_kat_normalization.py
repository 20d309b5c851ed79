"""The normalization known answers, on both backends (runners: conformance/kat_layers_normalization.py)."""

import pytest

from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_normalization import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_normalization_reproduces_the_known_answer(nn, name):
    case, run = run_case(RUNNERS, name, nn)
    # scale/bias are ones/zeros and batch_stats zeros/ones: exact.
    assert_matches_kat(
        run, case, f"{nn.__name__} {name}", variables="exact", outputs="normalization", mutated="normalization"
    )
    if name == "batchnorm_train":
        assert set(run.mutated) == {"batch_stats"}
